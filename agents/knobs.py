"""Hyperparameter classes built at runtime from a list of knob specs.

Most agents declare their traced hyperparameters as a fixed ``pytree.dataclass`` of
:func:`~simulator.params.knob` fields.  Agents whose knobs depend on static choices (the
optimizer's options, the schedule's knobs, the exploration rule: ``ogd``,
``linear_greedy``) list them as :class:`KnobSpec` tuples instead and build the class with
:func:`hparams_class`, so every knob is still a traced, range-checked field.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from simulator import pytree
from simulator.params import knob


class KnobSpec(NamedTuple):
    """One traced hyperparameter: its field name, default and allowed range."""

    name: str
    default: float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""


@functools.cache
def hparams_class(class_name: str, specs: tuple[KnobSpec, ...]) -> type:
    """A ``pytree.dataclass`` with one :func:`~simulator.params.knob` per spec.

    Cached, so the same static structure always gives the same class (and pytree type).
    """
    annotations = {spec.name: float for spec in specs}
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "__module__": __name__,
        "__qualname__": class_name,
        "__doc__": "Traced hyperparameters: " + ", ".join(spec.name for spec in specs) + ".",
    }
    for spec in specs:
        namespace[spec.name] = knob(
            spec.default,
            low=spec.low,
            high=spec.high,
            low_open=spec.low_open,
            high_open=spec.high_open,
            doc=spec.doc,
        )
    cls = pytree.dataclass(type(class_name, (), namespace))
    # how a stored program's argument structure names it (experiments.program_cache)
    cls.__driftsim_reduce__ = (hparams_class, (class_name, specs))
    return cls
