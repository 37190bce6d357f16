"""Monitored UCB: UCB with forced exploration and a windowed change detector (Cao et al. 2019)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import (
    check_num_arms,
    greedy_probabilities,
    one_hot_probabilities,
    random_argmax,
)
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob
from simulator.types import require

_MAX_PERIOD = 2**30


@pytree.dataclass
class MUCBHParams:
    exploration: float = knob(
        0.05, low=0.0, high=1.0, doc="gamma: fraction of rounds of forced round-robin exploration"
    )
    threshold: float = knob(
        25.0, low=0.0, low_open=True, doc="b: alarm when |sum second half - sum first half| > b"
    )


class MUCBState(pytree.PyTreeNode):
    """UCB statistics since the last restart, and each arm's last ``w`` rewards.

    Attributes:
      counts: ``(K,)`` int32 pulls of each arm since the last restart.
      sums: ``(K,)`` float32 their reward sums.
      recent: ``(K, w)`` float32 ring buffer per arm; the ``n``-th reward of arm ``k``
        since the restart sits in slot ``(n - 1) mod w``.
      steps: ``()`` int32 rounds since the last restart (``t - tau``).
      restarts: ``()`` int32 number of alarms so far.
    """

    counts: jax.Array
    sums: jax.Array
    recent: jax.Array
    steps: jax.Array
    restarts: jax.Array


def change_detected(recent_row: jax.Array, count, threshold) -> jax.Array:
    """The detector of M-UCB on one arm's ring buffer ``(w,)`` holding ``count`` rewards::

        alarm = count >= w  and  |sum_{i = w/2+1}^{w} Y_i - sum_{i=1}^{w/2} Y_i| > b

    with ``Y_1, ..., Y_w`` the arm's last ``w`` rewards in chronological order.
    """
    window = recent_row.shape[0]
    age = (jnp.arange(window) - count) % window  # 0 = oldest of the last w
    older = jnp.sum(jnp.where(age < window // 2, recent_row, 0.0))
    newer = jnp.sum(jnp.where(age >= window // 2, recent_row, 0.0))
    return (count >= window) & (jnp.abs(newer - older) > threshold)


def m_ucb_forced_arm(state: MUCBState, hparams, num_arms: int) -> tuple[jax.Array, jax.Array]:
    """``(forced, arm)``: ``A = (t - tau) mod floor(K/gamma)``; forced when ``A`` is in
    ``1..K`` (and ``gamma > 0``), the arm then being ``A - 1`` (0-based)."""
    gamma = hparams.exploration
    period = jnp.where(gamma > 0, jnp.floor(num_arms / jnp.maximum(gamma, 1e-30)), _MAX_PERIOD)
    period = jnp.clip(period, 1, _MAX_PERIOD).astype(jnp.int32)
    phase = (state.steps + 1) % period
    forced = (gamma > 0) & (phase >= 1) & (phase <= num_arms)
    return forced, (phase - 1).astype(jnp.int32)


def m_ucb_indices(state: MUCBState) -> jax.Array:
    """``X_bar_k + sqrt(2 log n / n_k)`` with ``n = sum_k n_k``; ``+inf`` where ``n_k = 0``."""
    counts = state.counts.astype(jnp.float32)
    played = counts > 0
    safe = jnp.where(played, counts, 1.0)
    total = jnp.maximum(jnp.sum(counts), 1.0)
    return jnp.where(played, state.sums / safe + jnp.sqrt(2.0 * jnp.log(total) / safe), jnp.inf)


def m_ucb_choice(key, state: MUCBState, hparams, num_arms: int) -> jax.Array:
    """The forced arm (:func:`m_ucb_forced_arm`) when there is one, else
    ``argmax_k`` :func:`m_ucb_indices` (ties at random)."""
    forced, arm = m_ucb_forced_arm(state, hparams, num_arms)
    return jnp.where(forced, arm, random_argmax(key, m_ucb_indices(state))).astype(jnp.int32)


def m_ucb_probabilities(state: MUCBState, hparams, num_arms: int) -> jax.Array:
    """``(K,)`` the distribution of :func:`m_ucb_choice`: one-hot on the forced arm, else
    ``1 / |argmax|`` on the tied maxima of the index."""
    forced, arm = m_ucb_forced_arm(state, hparams, num_arms)
    return jnp.where(
        forced,
        one_hot_probabilities(arm, num_arms),
        greedy_probabilities(m_ucb_indices(state)),
    )


def m_ucb(num_arms: int = 10, window: int = 100) -> Agent:
    """M-UCB: UCB1 restarted whenever a windowed two-sample test fires on the played arm.

    Round ``t`` (``tau`` the last alarm, ``n_k`` pulls of arm ``k`` since ``tau``)::

        A = (t - tau) mod floor(K / gamma)
        a_t = A            if 1 <= A <= K     (forced round-robin exploration, fraction gamma)
        a_t = argmax_k X_bar_k + sqrt(2 log n / n_k),   n = sum_k n_k,   otherwise
        after the update, if n_{a_t} >= w and
            |sum of the newer w/2 - sum of the older w/2 of a_t's last w rewards| > b:
            tau <- t, forget every arm's statistics (a global restart)

    Arms are 1-based in the formulas, 0-based in code.  The forced exploration follows
    the paper's deterministic schedule (a fraction ``gamma`` of the rounds, round robin),
    not a coin flip.  ``gamma = 0`` disables it (UCB alone; untried arms still come first,
    their index being infinite).  ``action_probabilities`` (:func:`m_ucb_probabilities`)
    is one-hot on a forced round, else ``1 / |argmax|`` on the tied maxima of the index.

    Args:
      num_arms: K.
      window: w, even and >= 2 (static: sets the buffer's shape).

    Example::

        agent = m_ucb(5, window=200)
        hp = agent.default_hparams().replace(exploration=0.02, threshold=40.0)

    Reference: Y. Cao, Z. Wen, B. Kveton & Y. Xie, "Nearly optimal adaptive procedure with
    change detection for piecewise-stationary bandit", AISTATS 2019 (M-UCB and its
    change-detection subroutine; their tuning ``b = sqrt(w/2 log(2 K T^2))``).
    """
    check_num_arms(num_arms)
    require(
        isinstance(window, int)
        and not isinstance(window, bool)
        and window >= 2
        and window % 2 == 0,
        f"agent.window = {window!r}: must be an even integer >= 2",
    )

    def init(key, hparams):
        return MUCBState(
            counts=jnp.zeros((num_arms,), jnp.int32),
            sums=jnp.zeros((num_arms,), jnp.float32),
            recent=jnp.zeros((num_arms, window), jnp.float32),
            steps=jnp.zeros((), jnp.int32),
            restarts=jnp.zeros((), jnp.int32),
        )

    def act(key, state, context, hparams):
        return m_ucb_choice(key, state, hparams, num_arms)

    def update(key, state, transition, hparams):
        action = jnp.asarray(transition.action, jnp.int32)
        reward = jnp.asarray(transition.reward, jnp.float32)
        count = state.counts[action] + 1
        recent = state.recent.at[action, (count - 1) % window].set(reward)
        alarm = change_detected(recent[action], count, hparams.threshold)
        keep = 1 - alarm.astype(jnp.int32)
        return MUCBState(
            counts=keep * state.counts.at[action].set(count),
            sums=jnp.where(alarm, 0.0, state.sums.at[action].add(reward)),
            recent=jnp.where(alarm, 0.0, recent),
            steps=keep * (state.steps + 1),
            restarts=state.restarts + alarm.astype(jnp.int32),
        )

    def action_probabilities(state, context, hparams):
        return m_ucb_probabilities(state, hparams, num_arms)

    return Agent(
        "m_ucb",
        init,
        act,
        update,
        MUCBHParams,
        {"num_arms": num_arms, "window": window},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
