"""Which CPU lowering of JAX's Threefry hash driftsim uses (same random bits either way).

On the CPU, JAX lowers ``threefry2x32`` as a rolled loop of five iterations to keep compile
times small.  Inside a simulation step every random call then becomes a nested XLA while
loop of tiny kernels, which dominates small steps.  The unrolled lowering (the one JAX uses
on GPUs) computes the very same bits: the benchmarks measured 2× (UCB1) to 4× (online
regression) more steps per second and shorter compiles.

driftsim changes nothing in the process on import.  It compiles its own programs inside
:func:`driftsim_lowering` (``experiments.run`` and the off-policy runner do; the rule is
restored when they return, so a user's programs compiled afterwards keep JAX's lowering);
the ``driftsim`` command, which *is* the process, selects it for the whole process with
:func:`use_default`.  ``DRIFTSIM_ROLLED_THREEFRY=1`` keeps JAX's rolled lowering
everywhere.  Code that jits :func:`experiments.make_run` itself may opt in with
``with experiments.threefry.lowering(True): ...`` around the first call (the compiled
program keeps the lowering it was compiled with).  The switch uses a private JAX module
and is skipped (JAX's default stays) if it moved.
"""

from __future__ import annotations

import contextlib
import os

_state = {"unrolled": False}


def _rules():
    """``(primitive, unrolled rule, rolled rule, register)`` or None if unavailable."""
    try:
        from jax._src.random import threefry2x32 as threefry
        from jax.extend.random import threefry2x32_p
        from jax.interpreters import mlir

        return (
            threefry2x32_p,
            threefry._threefry2x32_lowering_rule,
            threefry._threefry2x32_cpu_lowering_rule,
            mlir.register_lowering,
        )
    except (ImportError, AttributeError):
        return None


def available() -> bool:
    """Whether this JAX lets driftsim choose the lowering."""
    return _rules() is not None


def set_unrolled(unrolled: bool) -> bool:
    """Use the unrolled (True) or JAX's rolled (False) CPU lowering; returns the previous
    choice.  Programs compiled before keep the lowering they were compiled with."""
    previous = _state["unrolled"]
    rules = _rules()
    if rules is not None:
        primitive, unrolled_rule, rolled_rule, register = rules
        register(primitive, unrolled_rule if unrolled else rolled_rule, platform="cpu")
        _state["unrolled"] = unrolled
    return previous


def is_unrolled() -> bool:
    return _state["unrolled"]


@contextlib.contextmanager
def lowering(unrolled: bool):
    """Temporarily choose the lowering (benchmarks compare both)."""
    previous = set_unrolled(unrolled)
    try:
        yield
    finally:
        set_unrolled(previous)


def default_unrolled() -> bool:
    """driftsim's choice: unrolled unless ``DRIFTSIM_ROLLED_THREEFRY=1``."""
    return os.environ.get("DRIFTSIM_ROLLED_THREEFRY", "") not in ("1", "true", "yes")


def driftsim_lowering():
    """A context in which programs compile with driftsim's choice of lowering (then the
    previous rule is restored)."""
    return lowering(default_unrolled())


def use_default() -> None:
    """Select driftsim's choice for the whole process (the ``driftsim`` command only)."""
    set_unrolled(default_unrolled())
