"""Traced parameters with declared ranges, and the error every bad input raises.

Environment parameters and agent hyperparameters are frozen dataclasses registered as
pytrees (``pytree.dataclass``): every numeric knob is a traced leaf, so a sweep can
``vmap`` over it and one compiled program serves a whole grid.  Each knob declares its
allowed range with :func:`knob`, and :func:`check` validates concrete values in plain
Python, before anything is compiled.

Example::

    @pytree.dataclass
    class Params:
        noise: float = knob(1.0, low=0.0, doc="reward noise standard deviation")

    check(Params(noise=-1.0), prefix="env")   # ConfigError: env.noise = -1.0: must be >= 0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A bad experiment, field or value; the message names the key and what is allowed."""


def knob(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    doc: str = "",
) -> Any:
    """A traced parameter field with an allowed range ``[low, high]`` (ends optionally open).

    Args:
      default: the default value (a Python scalar, or an array for vector knobs).
      low, high: bounds, ``None`` for unbounded.
      low_open, high_open: exclude the bound itself.
      doc: one line shown by ``driftsim list``.
    """
    meta = {
        "pytree_node": True,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "doc": doc,
    }
    if isinstance(default, (list, tuple, np.ndarray)):
        value = np.asarray(default, dtype=np.float32)
        return dataclasses.field(default_factory=lambda: value.copy(), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def data_field(doc: str = "") -> Any:
    """A traced leaf holding environment data (a catalog, a dataset): never swept, never
    range-checked, and passed unbatched so every point and seed shares one copy."""
    return dataclasses.field(default=None, metadata={"pytree_node": True, "data": True, "doc": doc})


def describe_range(meta: dict) -> str:
    """Human-readable allowed range of a knob, e.g. ``in [0, 1]`` or ``> 0``."""
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        left = "(" if meta.get("low_open") else "["
        right = ")" if meta.get("high_open") else "]"
        return f"in {left}{low:g}, {high:g}{right}"
    if low is not None:
        return f"{'>' if meta.get('low_open') else '>='} {low:g}"
    if high is not None:
        return f"{'<' if meta.get('high_open') else '<='} {high:g}"
    return "any real number"


def _in_range(value: float, meta: dict) -> bool:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value <= low if meta.get("low_open") else value < low):
        return False
    if high is not None and (value >= high if meta.get("high_open") else value > high):
        return False
    return True


def check_value(name: str, value: Any, meta: dict) -> None:
    """Raise :class:`ConfigError` unless every entry of ``value`` is a finite number in range."""
    if meta.get("data"):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.ndarray, np.generic)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{name} = {value!r}: must be a number {describe_range(meta)}"
            ) from None
    else:
        array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} = {value!r}: must be finite")
    for entry in array.reshape(-1):
        if not _in_range(float(entry), meta):
            raise ConfigError(f"{name} = {value!r}: must be {describe_range(meta)}")


def fields(params_type: Any) -> dict[str, dataclasses.Field]:
    """The traced fields of a params dataclass (type or instance), by name."""
    return {
        f.name: f for f in dataclasses.fields(params_type) if f.metadata.get("pytree_node", True)
    }


def check(params: Any, prefix: str) -> None:
    """Validate every knob of a params instance, recursing into nested params (e.g. a drift)."""
    for name, field in fields(params).items():
        value = getattr(params, name)
        key = f"{prefix}.{name}"
        if dataclasses.is_dataclass(value):
            check(value, key)
        elif value is not None:
            check_value(key, value, field.metadata)


def replace_path(params: Any, path: Sequence[str], value: Any, prefix: str) -> Any:
    """Return ``params`` with the field at ``path`` (e.g. ``("drift", "rate")``) replaced.

    Raises ConfigError naming ``prefix.path`` and the allowed fields when a name is unknown.
    """
    name, rest = path[0], path[1:]
    known = fields(params)
    if name not in known:
        allowed = ", ".join(sorted(known)) or "none"
        raise ConfigError(f"{prefix}.{name}: unknown field; allowed: {allowed}")
    current = getattr(params, name)
    key = f"{prefix}.{name}"
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"{key} has no sub-fields (got {'.'.join(rest)!r})")
        return params.replace(**{name: replace_path(current, rest, value, key)})
    if dataclasses.is_dataclass(current):
        raise ConfigError(f"{key} is a group of fields; set one of its fields instead")
    check_value(key, value, known[name].metadata)
    _check_shape(key, current, value)
    if isinstance(current, np.ndarray) and np.ndim(value) == 0:
        value = np.full_like(current, value)
    return params.replace(**{name: value})


def _check_shape(key: str, current: Any, value: Any) -> None:
    """A scalar field takes one number, an array field a scalar or an array of its shape."""
    if current is None or isinstance(value, str) or np.ndim(value) == 0:
        return
    if np.ndim(current) == 0:
        raise ConfigError(
            f"{key}: must be a single value, got {np.size(value)} values; to compare "
            "several, sweep the field instead (a [sweep] table or --sweep)"
        )
    if np.shape(value) != np.shape(current):
        raise ConfigError(
            f"{key}: shape {np.shape(value)} does not match the field's shape {np.shape(current)}"
        )


def flat_knobs(params: Any, prefix: str = "") -> dict[str, Any]:
    """``{"drift.rate": 0.1, ...}``: every knob of ``params`` by dotted path (for listings)."""
    out: dict[str, Any] = {}
    for name in fields(params):
        value = getattr(params, name)
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(value):
            out.update(flat_knobs(value, key + "."))
        elif not fields(params)[name].metadata.get("data"):
            out[key] = value
    return out


def to_python(value: Any) -> Any:
    """A JSON-friendly copy of a knob value (arrays become lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
