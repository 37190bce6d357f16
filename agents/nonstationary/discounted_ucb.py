"""Discounted UCB and sliding-window UCB for abruptly changing bandits (Garivier & Moulines 2011)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from agents.common import check_num_arms, greedy_probabilities, random_argmax
from agents.nonstationary.window import leaving_slot, resolve_window, traced_window, window_knob
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class DiscountedUCBHParams:
    discount: float = knob(0.99, low=0.0, high=1.0, low_open=True, doc="gamma in (0, 1]")
    bound: float = knob(1.0, low=0.0, low_open=True, doc="B, a bound on the rewards")
    xi: float = knob(0.6, low=0.0, low_open=True, doc="xi, the padding constant (> 1/2 in theory)")


@pytree.dataclass
class SlidingWindowUCBHParams:
    bound: float = knob(1.0, low=0.0, low_open=True, doc="B, a bound on the rewards")
    xi: float = knob(0.6, low=0.0, low_open=True, doc="xi, the padding constant (> 1/2 in theory)")
    window: int = window_knob()


class DiscountedState(pytree.PyTreeNode):
    """Discounted statistics ``N_t(gamma, i)`` and ``sum_s gamma^{t-s} X_s 1[I_s = i]``, ``(K,)``."""

    counts: jax.Array
    sums: jax.Array


class WindowState(pytree.PyTreeNode):
    """The last ``M = max_window`` rounds as a ring buffer, and the per-arm statistics of
    the window (its last ``tau <= M`` rounds).

    Attributes:
      actions: ``(M,)`` int32 arms played, ``-1`` for empty slots.
      rewards: ``(M,)`` float32 their rewards.
      position: ``()`` int32 slot the next round overwrites (``t mod M``).
      filled: ``()`` int32 ``min(t, M)`` (the window holds ``min(t, tau)`` rounds).
      counts: ``(K,)`` int32 ``N_t(tau, i)``.
      sums: ``(K,)`` float32 window sums of rewards per arm.
    """

    actions: jax.Array
    rewards: jax.Array
    position: jax.Array
    filled: jax.Array
    counts: jax.Array
    sums: jax.Array


def discounted_ucb_indices(state: DiscountedState, hparams) -> jax.Array:
    """``X_bar_t(gamma, i) + 2 B sqrt(xi log n_t(gamma) / N_t(gamma, i))``, ``+inf`` where
    ``N_t(gamma, i) = 0``; ``n_t(gamma) = sum_i N_t(gamma, i)``."""
    counts = state.counts
    played = counts > 0
    safe = jnp.where(played, counts, 1.0)
    total = jnp.maximum(jnp.sum(counts), 1.0)
    padding = 2.0 * hparams.bound * jnp.sqrt(hparams.xi * jnp.log(total) / safe)
    return jnp.where(played, state.sums / safe + padding, jnp.inf)


def sliding_window_ucb_indices(state: WindowState, hparams) -> jax.Array:
    """``X_bar_t(tau, i) + B sqrt(xi log min(t, tau) / N_t(tau, i))``, ``+inf`` where
    ``N_t(tau, i) = 0`` (``tau`` the traced ``hparams.window``, at most the buffer's length)."""
    counts = state.counts.astype(jnp.float32)
    played = counts > 0
    safe = jnp.where(played, counts, 1.0)
    tau = traced_window(hparams, state.actions.shape[0])
    horizon = jnp.maximum(jnp.minimum(state.filled, tau).astype(jnp.float32), 1.0)
    padding = hparams.bound * jnp.sqrt(hparams.xi * jnp.log(horizon) / safe)
    return jnp.where(played, state.sums / safe + padding, jnp.inf)


def discounted_ucb(num_arms: int = 10) -> Agent:
    """D-UCB: UCB on exponentially discounted means and counts.

    With ``gamma`` the discount, after round ``t``::

        N_t(gamma, i)  = sum_{s <= t} gamma^{t-s} 1[I_s = i],   n_t(gamma) = sum_i N_t(gamma, i)
        X_bar_t(gamma, i) = sum_{s <= t} gamma^{t-s} X_s 1[I_s = i] / N_t(gamma, i)
        I_{t+1} = argmax_i X_bar_t(gamma, i) + 2 B sqrt(xi log n_t(gamma) / N_t(gamma, i))

    kept recursively (``N <- gamma N + 1[a]``, ``S <- gamma S + r 1[a]``).  Arms never
    played have an infinite index; ties at random (``action_probabilities``: ``1 / |argmax|``
    on the tied arms).  ``gamma = 1`` is UCB1-like.

    Args:
      num_arms: K.

    Example::

        agent = discounted_ucb(3)
        hp = agent.default_hparams().replace(discount=0.9975, xi=0.6)

    Reference: A. Garivier & E. Moulines, "On upper-confidence bound policies for switching
    bandit problems", ALT 2011 (arXiv:0805.3415), Section 3, D-UCB.
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        zeros = jnp.zeros((num_arms,), jnp.float32)
        return DiscountedState(counts=zeros, sums=zeros)

    def act(key, state, context, hparams):
        return random_argmax(key, discounted_ucb_indices(state, hparams))

    def update(key, state, transition, hparams):
        chosen = jax.nn.one_hot(transition.action, num_arms, dtype=jnp.float32)
        gamma = hparams.discount
        return DiscountedState(
            counts=gamma * state.counts + chosen,
            sums=gamma * state.sums + transition.reward * chosen,
        )

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(discounted_ucb_indices(state, hparams))

    return Agent(
        "discounted_ucb",
        init,
        act,
        update,
        DiscountedUCBHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )


def sliding_window_ucb(
    num_arms: int = 10, window: int | None = None, max_window: int | None = None
) -> Agent:
    """SW-UCB: UCB on the means and counts of the last ``tau`` rounds only.

    With ``W_t`` the last ``tau = window`` rounds and ``t`` the rounds so far::

        N_t(tau, i) = sum_{s in W_t} 1[I_s = i],   X_bar_t(tau, i) = sum_{s in W_t} X_s 1[I_s = i] / N_t(tau, i)
        I_{t+1} = argmax_i X_bar_t(tau, i) + B sqrt(xi log min(t, tau) / N_t(tau, i))

    The window is a ring buffer of the last ``M = max_window`` actions and rewards (``M``
    static) and ``tau`` is the traced knob ``window <= M`` (:mod:`agents.nonstationary.window`):
    a sweep over windows compiles one program, with the same numbers as a buffer of exactly
    ``tau`` rounds.  Counts and sums are updated in ``O(1)`` (the new round in, the leaving
    round out).
    Arms absent from the window have an infinite index; ties at random
    (``action_probabilities``: ``1 / |argmax|`` on the tied arms).

    Args:
      num_arms: K.
      window: the default of the traced knob ``window`` (tau >= 1; 100 when None, or
        ``max_window`` if that is smaller).
      max_window: M, the buffer's length (static: sets its shape; default ``window``, or
        100); the traced window is at most ``M``.  An experiment sets it to the largest
        window it gives the agent unless it is set explicitly.

    Example::

        agent = sliding_window_ucb(3, window=1000)
        swept = sliding_window_ucb(3, max_window=5000)  # hparams.window <= 5000

    Reference: A. Garivier & E. Moulines, "On upper-confidence bound policies for switching
    bandit problems", ALT 2011 (arXiv:0805.3415), Section 4, SW-UCB.
    """
    check_num_arms(num_arms)
    window, max_window = resolve_window(window, max_window)

    def init(key, hparams):
        return WindowState(
            actions=jnp.full((max_window,), -1, jnp.int32),
            rewards=jnp.zeros((max_window,), jnp.float32),
            position=jnp.zeros((), jnp.int32),
            filled=jnp.zeros((), jnp.int32),
            counts=jnp.zeros((num_arms,), jnp.int32),
            sums=jnp.zeros((num_arms,), jnp.float32),
        )

    def act(key, state, context, hparams):
        return random_argmax(key, sliding_window_ucb_indices(state, hparams))

    def update(key, state, transition, hparams):
        action = jnp.asarray(transition.action, jnp.int32)
        reward = jnp.asarray(transition.reward, jnp.float32)
        # The round leaving the window (an empty slot, -1, until tau rounds were seen),
        # read before the write: with tau == M it occupies the slot the new round takes.
        leaving_at = leaving_slot(state.position, traced_window(hparams, max_window), max_window)
        old_action = state.actions[leaving_at]
        old_reward = state.rewards[leaving_at]
        leaving = (old_action >= 0).astype(jnp.int32)
        old_index = jnp.maximum(old_action, 0)
        counts = state.counts.at[old_index].add(-leaving).at[action].add(1)
        sums = state.sums.at[old_index].add(-leaving * old_reward).at[action].add(reward)
        return WindowState(
            actions=state.actions.at[state.position].set(action),
            rewards=state.rewards.at[state.position].set(reward),
            position=(state.position + 1) % max_window,
            filled=jnp.minimum(state.filled + 1, max_window),
            counts=counts,
            sums=jnp.where(counts > 0, sums, 0.0),  # no round-off residue once an arm leaves
        )

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(sliding_window_ucb_indices(state, hparams))

    static = {"num_arms": num_arms, "max_window": max_window}
    return Agent(
        "sliding_window_ucb",
        init,
        act,
        update,
        functools.partial(SlidingWindowUCBHParams, window=window),
        static,
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
