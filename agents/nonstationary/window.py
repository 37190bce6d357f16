"""A sliding window traced below a static bound: one compiled program for every window.

An agent that remembers its last ``tau`` rounds keeps them in a ring buffer of a static
length ``M = max_window``; ``tau`` itself is a traced hyperparameter (``hparams.window``),
so a sweep over windows up to ``M`` compiles one program.  Round ``t`` (1-based) is written
to slot ``(t - 1) mod M`` and round ``t - tau`` leaves the window when round ``t`` enters:
it sits in slot ``(t - 1 - tau) mod M``.  Before round ``tau + 1`` nothing leaves, and that
slot has never been written (it lies in ``[t - 1, M)``), so an agent whose empty slots hold
zeros (or an "empty" marker) subtracts nothing, exactly as a ring of length ``tau`` does.

The write slot depends only on the round count, which is the same in every run of a sweep,
so it stays unbatched under ``vmap`` (a ``dynamic_update_slice``, not a scatter, and no
``select`` over the buffer); only the read of the leaving round uses the traced window (a
gather of one row per run).  The running sums are updated by the same exact add/subtract
as with a static window, so the numbers are bit-identical for every ``M >= tau``.

The bound: in Python, ``max_window`` defaults to the window given at construction; in an
experiment, the planner sets it to the largest window the experiment gives the agent, and a
window above an explicit ``max_window`` is a :class:`~simulator.params.ConfigError` before
anything compiles.  A traced window above ``max_window`` that only appears at run time
(``hparams.replace(window=...)`` in your own code) acts as ``max_window``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from simulator.params import knob
from simulator.types import require

#: The window of ``sw_linucb`` and ``sliding_window_ucb`` when none is given.
DEFAULT_WINDOW = 100


def window_knob(default: int = DEFAULT_WINDOW):
    """The traced ``window`` knob: an integer default, so a ``logspace`` sweep rounds it."""
    return knob(
        default,
        low=1.0,
        doc="tau, the rounds remembered (traced; at most the static max_window)",
    )


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def resolve_window(
    window: int | None, max_window: int | None, default: int = DEFAULT_WINDOW
) -> tuple[int, int]:
    """``(default window, max_window)`` from the static arguments of a factory.

    ``window`` sets the default of the traced knob (``default`` when None) and, when
    ``max_window`` is None, the buffer length; a ``max_window`` given alone lowers the
    default window to it where needed.  A window above an explicit ``max_window`` is a
    ConfigError.
    """
    if window is not None:
        require(_is_count(window), f"agent.window = {window!r}: must be an integer >= 1")
    if max_window is not None:
        require(
            _is_count(max_window), f"agent.max_window = {max_window!r}: must be an integer >= 1"
        )
    if max_window is None:
        max_window = default if window is None else window
    if window is None:
        return min(default, max_window), max_window
    require(
        window <= max_window,
        f"agent.window = {window}: larger than agent.max_window = {max_window}, the length "
        "of the ring buffer (static); raise max_window or leave it unset",
    )
    return window, max_window


def traced_window(hparams, max_window: int) -> jax.Array:
    """``tau``: ``hparams.window`` rounded to an integer in ``[1, max_window]`` (int32)."""
    window = jnp.asarray(hparams.window, jnp.float32)
    return jnp.clip(jnp.round(window), 1.0, float(max_window)).astype(jnp.int32)


def leaving_slot(position: jax.Array, tau: jax.Array, max_window: int) -> jax.Array:
    """The slot of the round that leaves a window of ``tau`` when the next round is written
    to ``position``: ``(position - tau) mod max_window`` (an unwritten slot until ``tau``
    rounds were seen)."""
    return jnp.mod(position - tau, max_window)


__all__ = ["DEFAULT_WINDOW", "leaving_slot", "resolve_window", "traced_window", "window_knob"]
