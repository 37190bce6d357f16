"""CascadeDUCB and CascadeSWUCB (Li & de Rijke 2019): CascadeUCB for attractions that
change abruptly, with discounted or sliding-window statistics (Garivier & Moulines 2011).

Both keep, per item, clicks ``S(e)`` and observations ``N(e)`` of the observed positions
(as :mod:`agents.ranking.cascade_ucb`), but forget the past:

* **CascadeDUCB** discounts every round: after round ``s``, ``N <- gamma N + 1[observed]``
  and ``S <- gamma S + click`` for every item, and in round ``t``::

      U_t(e) = S(e) / N(e) + 2 sqrt(xi log N_tot / N(e)),   N_tot = sum_e N(e)

* **CascadeSWUCB** keeps the last ``tau`` rounds only::

      U_t(e) = S_tau(e) / N_tau(e) + sqrt(xi log min(t - 1, tau) / N_tau(e))

with the logarithms taken as 0 where negative, ``B = 1`` (clicks) and ``U = +inf`` for an
item with no (remaining) observation, which is shown first.  The slate is the ``k`` largest
``U`` in decreasing order.

The forgetting is set from the theory before any run (Garivier & Moulines's choices, as Li
& de Rijke use them), from the horizon ``T`` and the number of change points ``Y_T``::

    gamma = 1 - sqrt(Y_T / T) / 4          tau = 2 sqrt(T log T / Y_T)

(the static fields ``horizon`` and ``num_changes`` give the defaults of the traced
``discount`` / ``window``; a sweep may override them).  The window is traced below a static
``max_window`` (its ring buffer; the theory ``tau`` by default), so a sweep over windows up
to it compiles one program (:mod:`agents.nonstationary.window`).  An experiment that gives
the agent windows raises an unset ``max_window`` to the largest of them, and refuses a window
above an explicit one; a larger traced window set in your own code acts as ``max_window``.

References: C. Li & M. de Rijke, "Cascading non-stationary bandits: online learning to rank
in the non-stationary cascade model", IJCAI 2019; A. Garivier & E. Moulines, "On
upper-confidence bound policies for switching bandit problems", ALT 2011.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from agents.nonstationary.window import traced_window
from agents.ranking.cascade_ucb import CascadeState, empty_stats, index_ranker, mean_estimates
from agents.ranking.slates import item_feedback
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.types import PositionFeedback, require

Array = jax.Array


def theory_discount(horizon: int, num_changes: int) -> float:
    """Garivier & Moulines's ``gamma = 1 - sqrt(Y_T / T) / 4``."""
    return 1.0 - math.sqrt(num_changes / horizon) / 4.0


def theory_window(horizon: int, num_changes: int) -> int:
    """Garivier & Moulines's ``tau = 2 sqrt(T log T / Y_T)``, rounded up."""
    return max(1, math.ceil(2.0 * math.sqrt(horizon * math.log(horizon) / num_changes)))


def _check_theory(name: str, horizon, num_changes) -> None:
    for field, value, low in (("horizon", horizon, 2), ("num_changes", num_changes, 1)):
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= low,
            f"agent.{field} = {value!r}: {name} needs an integer >= {low} (the theory sets "
            "its forgetting from the horizon and the number of change points)",
        )


@pytree.dataclass
class CascadeDUCBHParams:
    discount: float = knob(0.99, low=0.0, high=1.0, doc="gamma (default: from the theory)")
    xi: float = knob(0.5, low=0.0, doc="xi in 2 sqrt(xi log N_tot / N(e))")


@pytree.dataclass
class CascadeSWUCBHParams:
    window: float = knob(
        1000.0, low=1.0, doc="tau, the rounds remembered (default: from the theory)"
    )
    xi: float = knob(0.5, low=0.0, doc="xi in sqrt(xi log min(t - 1, tau) / N(e))")


def ducb_indices(state: CascadeState, hparams) -> Array:
    """CascadeDUCB's ``U_t(e)``; ``+inf`` where ``N(e) = 0``."""
    seen = state.observations > 0
    safe = jnp.where(seen, state.observations, 1.0)
    total = jnp.sum(state.observations)
    log_total = jnp.maximum(jnp.log(jnp.maximum(total, 1e-30)), 0.0)
    width = 2.0 * jnp.sqrt(hparams.xi * log_total / safe)
    return jnp.where(seen, mean_estimates(state.clicks, state.observations) + width, jnp.inf)


def discounted_round(state: CascadeState, slate, positions, hparams) -> CascadeState:
    clicks, observations = item_feedback(state.clicks.shape[0], slate, positions)
    gamma = hparams.discount
    return CascadeState(
        clicks=gamma * state.clicks + clicks,
        observations=gamma * state.observations + observations,
        t=state.t + 1,
    )


def cascade_ducb(
    num_arms: int = 16,
    slate_size: int = 2,
    order: str = "decreasing",
    horizon: int = 100_000,
    num_changes: int = 1,
) -> Agent:
    """CascadeDUCB (Li & de Rijke 2019): CascadeUCB with discounted statistics.

    Args:
      num_arms, slate_size, order: as :func:`agents.ranking.cascade_ucb.cascade_ucb1`.
      horizon: T, the rounds the run will last (sets the default discount).
      num_changes: Y_T, the change points expected in them.

    Example::

        agent = cascade_ducb(num_arms=10, slate_size=3, horizon=100_000, num_changes=10)
    """
    _check_theory("cascade_ducb", horizon, num_changes)
    hparams = functools.partial(CascadeDUCBHParams, discount=theory_discount(horizon, num_changes))
    return index_ranker(
        "cascade_ducb",
        num_arms,
        slate_size,
        order,
        ducb_indices,
        hparams,
        {"horizon": horizon, "num_changes": num_changes},
        update_state=discounted_round,
    )


class WindowState(pytree.PyTreeNode):
    """The window's sums (:class:`CascadeState`) and the ring of the last ``max_window``
    rounds: each round's slate ``(M, k)`` int32 and per-position clicks and observed
    positions ``(M, k)`` float32."""

    stats: CascadeState
    slates: Array
    clicks: Array
    observed: Array


def sliding_window(num_arms: int, slate_size: int, max_window: int):
    """``(init, update, indices)`` of CascadeSWUCB's window statistics."""

    def init(hparams):
        return WindowState(
            stats=empty_stats(num_arms),
            slates=jnp.zeros((max_window, slate_size), jnp.int32),
            clicks=jnp.zeros((max_window, slate_size), jnp.float32),
            observed=jnp.zeros((max_window, slate_size), jnp.float32),
        )

    def update(state: WindowState, slate, positions, hparams) -> WindowState:
        t = state.stats.t + 1  # the round just played, 1-based
        tau = traced_window(hparams, max_window)
        # Round t - tau leaves the window (when there was one); read before writing, as
        # with tau == max_window it occupies the slot round t takes.
        leaving = jnp.mod(t - tau, max_window)
        has_left = t - tau >= 1
        old = jax.tree.map(lambda x: x[leaving], (state.slates, state.clicks, state.observed))
        old_clicks, old_observations = item_feedback(
            num_arms, old[0], PositionFeedback(clicks=old[1], observed=old[2])
        )
        keep = jnp.where(has_left, 1.0, 0.0)
        clicks, observations = item_feedback(num_arms, slate, positions)
        stats = CascadeState(
            clicks=state.stats.clicks + clicks - keep * old_clicks,
            observations=state.stats.observations + observations - keep * old_observations,
            t=t,
        )
        slot = jnp.mod(t, max_window)
        observed = positions.observed.astype(jnp.float32)
        return WindowState(
            stats=stats,
            slates=state.slates.at[slot].set(slate),
            clicks=state.clicks.at[slot].set(positions.clicks * observed),
            observed=state.observed.at[slot].set(observed),
        )

    def indices(state: WindowState, hparams) -> Array:
        stats = state.stats
        seen = stats.observations > 0.5
        safe = jnp.where(seen, stats.observations, 1.0)
        played = jnp.minimum(stats.t, traced_window(hparams, max_window)).astype(jnp.float32)
        log_term = jnp.maximum(jnp.log(jnp.maximum(played, 1.0)), 0.0)
        width = jnp.sqrt(hparams.xi * log_term / safe)
        mean = mean_estimates(stats.clicks, stats.observations)
        return jnp.where(seen, mean + width, jnp.inf)

    return init, update, indices


def cascade_swucb(
    num_arms: int = 16,
    slate_size: int = 2,
    order: str = "decreasing",
    horizon: int = 100_000,
    num_changes: int = 1,
    max_window: int | None = None,
) -> Agent:
    """CascadeSWUCB (Li & de Rijke 2019): CascadeUCB over the last ``tau`` rounds.

    Args:
      num_arms, slate_size, order: as :func:`agents.ranking.cascade_ucb.cascade_ucb1`.
      horizon: T, the rounds the run will last (sets the default window).
      num_changes: Y_T, the change points expected in them.
      max_window: the ring buffer's rounds (static; default the theory window): the
        traced ``window`` is at most this.
    """
    _check_theory("cascade_swucb", horizon, num_changes)
    tau = theory_window(horizon, num_changes)
    if max_window is None:
        max_window = tau
    require(
        isinstance(max_window, int) and not isinstance(max_window, bool) and max_window >= 1,
        f"agent.max_window = {max_window!r}: must be an integer >= 1",
    )
    init, update, indices = sliding_window(num_arms, slate_size, max_window)
    hparams = functools.partial(CascadeSWUCBHParams, window=float(min(tau, max_window)))

    def estimate(state):
        return mean_estimates(state.stats.clicks, state.stats.observations)

    return index_ranker(
        "cascade_swucb",
        num_arms,
        slate_size,
        order,
        indices,
        hparams,
        {"horizon": horizon, "num_changes": num_changes, "max_window": max_window},
        init_state=init,
        update_state=update,
        estimate=estimate,
    )
