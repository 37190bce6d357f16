"""Reading data files once: read-only arrays, a per-process cache, gzip-aware text.

Shared by the dataset readers (:mod:`simulator.datasets.classification`,
:mod:`simulator.datasets.movielens`, the Open Bandit Dataset of
:mod:`experiments.offpolicy.obd`).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.params import ConfigError


def read_only(array: np.ndarray) -> np.ndarray:
    """``array``, flagged read-only (shared by every sweep point: never written)."""
    array.setflags(write=False)
    return array


def read_text(path: Path) -> str:
    """The text of ``path`` (``.gz`` files are decompressed)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as handle:
            return handle.read()
    return path.read_text()


def cached(function):
    """Cache a loader's results by its arguments (each file is read once per process)."""
    memo: dict[Any, Any] = {}

    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = function(*args, **kwargs)
        return memo[key]

    wrapper.__doc__ = function.__doc__
    wrapper.__name__ = function.__name__
    wrapper.__wrapped__ = function
    return wrapper


def check_choice(field: str, value: Any, allowed: Sequence[str]) -> None:
    """ConfigError naming ``field`` and the allowed values unless ``value`` is one."""
    if value not in allowed:
        raise ConfigError(f"{field} = {value!r}: unknown; allowed: {', '.join(allowed)}")
