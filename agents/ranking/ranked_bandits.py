"""Ranked bandits (Radlinski, Kleinberg & Joachims 2008) with a KL-UCB learner per position:
Kveton et al.'s (2015) ``RankedKL-UCB`` baseline, and the uniformly random ranker.

Ranked bandits learn a *diverse* ranking without a click model: position ``j`` has its own
bandit over the ``L`` items; in each round the learners choose from the top down, learner
``j`` among the items not chosen above it, and learner ``j`` is rewarded by a click at
position ``j`` (1) or none (0), whether or not the user got that far.  Under the cascade a
position below a click therefore earns 0: learner ``j`` learns the value of an item *given*
the items above it, which is what makes the ranking diverse, and also why it learns slower
than a cascade-aware learner (Kveton et al. 2015, §5).

Each learner is KL-UCB with Bernoulli KL and the level ``max(log t + c log log t, 0)``
(``c = 3``), unseen items first, as :func:`agents.ranking.cascade_ucb.cascade_kl_ucb`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.kl_ucb import NUM_BISECTIONS, bernoulli_kl_upper
from agents.common import random_argmax
from agents.ranking.cascade_ucb import CascadeKLUCBHParams, kl_level, mean_estimates
from agents.ranking.slates import check_slate, display
from agents.types import Agent, Needs
from simulator import capabilities, pytree
from simulator.sampling import split_keys

Array = jax.Array


class RankedState(pytree.PyTreeNode):
    """Position ``j``'s learner: ``clicks[j] (L,)`` and ``pulls[j] (L,)`` float32 of the
    items it chose; ``t`` the rounds played."""

    clicks: Array
    pulls: Array
    t: Array


def ranked_indices(state: RankedState, hparams, num_bisections: int) -> Array:
    """``(k, L)``: row ``j`` is learner ``j``'s KL-UCB index of every item (``+inf`` for the
    items it never chose)."""
    seen = state.pulls > 0
    safe = jnp.where(seen, state.pulls, 1.0)
    level = kl_level(state.t + 1, hparams.c) / safe
    mean = mean_estimates(state.clicks, state.pulls)
    return jnp.where(seen, bernoulli_kl_upper(mean, level, num_bisections), jnp.inf)


def choose_down(key: Array, indices: Array) -> Array:
    """From the top down: position ``j`` takes the arm of largest ``indices[j]`` among the
    arms not chosen above it (ties at random); ``(k,)`` int32."""
    slate_size, num_arms = indices.shape
    keys = split_keys(key, slate_size)
    taken = jnp.zeros((num_arms,), jnp.bool_)
    slate = []
    for j in range(slate_size):  # k is small and static
        arm = random_argmax(keys[j], jnp.where(taken, -jnp.inf, indices[j]))
        taken = taken.at[arm].set(True)
        slate.append(arm)
    return jnp.stack(slate).astype(jnp.int32)


def ranked_kl_ucb(
    num_arms: int = 16,
    slate_size: int = 2,
    order: str = "decreasing",
    num_bisections: int = NUM_BISECTIONS,
) -> Agent:
    """RankedKL-UCB: ranked bandits with a KL-UCB learner per position (Kveton et al. 2015's
    baseline; Radlinski et al. 2008).

    Args:
      num_arms: L.
      slate_size: k (one learner per position).
      order: ``"decreasing"`` shows learner 1's item first; ``"increasing"`` reverses the
        slate (learner ``j`` is still rewarded by the click on *its* item).
      num_bisections: static bisection steps of the KL bound.

    References: F. Radlinski, R. Kleinberg & T. Joachims, "Learning diverse rankings with
    multi-armed bandits", ICML 2008; Kveton et al., ICML 2015, §5.
    """
    check_slate("ranked_kl_ucb", num_arms, slate_size, order)

    def init(key, hparams):
        zeros = jnp.zeros((slate_size, num_arms), jnp.float32)
        return RankedState(clicks=zeros, pulls=zeros, t=jnp.zeros((), jnp.int32))

    def act(key, state, context, hparams):
        chosen = choose_down(key, ranked_indices(state, hparams, num_bisections))
        return display(chosen, order)

    def update(key, state, transition, hparams):
        chosen = display(transition.action, order)  # learner j's arm
        clicks = display(transition.positions.clicks, order)
        rows = jnp.arange(slate_size)
        return RankedState(
            clicks=state.clicks.at[rows, chosen].add(clicks),
            pulls=state.pulls.at[rows, chosen].add(1.0),
            t=state.t + 1,
        )

    return Agent(
        "ranked_kl_ucb",
        init,
        act,
        update,
        CascadeKLUCBHParams,
        {
            "num_arms": num_arms,
            "slate_size": slate_size,
            "order": order,
            "num_bisections": num_bisections,
        },
        needs=Needs(action=capabilities.SLATE, num_arms=num_arms, slate_size=slate_size),
    )


@pytree.dataclass
class RandomSlateHParams:
    pass


class RandomSlateState(pytree.PyTreeNode):
    step: Array  # () int32, kept so the state is a non-empty scan carry


def random_slate(num_arms: int = 16, slate_size: int = 2) -> Agent:
    """A uniformly random ranked slate every round: ``k`` distinct items, every ordered
    ``k``-subset equally likely (the ``k`` largest of ``L`` uniforms, in decreasing order).
    The baseline of every ranking regret curve."""
    check_slate("random_slate", num_arms, slate_size)

    def init(key, hparams):
        return RandomSlateState(step=jnp.zeros((), jnp.int32))

    def act(key, state, context, hparams):
        u = jax.random.uniform(key, (num_arms,), jnp.float32)
        return jax.lax.top_k(u, slate_size)[1].astype(jnp.int32)

    def update(key, state, transition, hparams):
        return RandomSlateState(step=state.step + 1)

    return Agent(
        "random_slate",
        init,
        act,
        update,
        RandomSlateHParams,
        {"num_arms": num_arms, "slate_size": slate_size},
        needs=Needs(action=capabilities.SLATE, num_arms=num_arms, slate_size=slate_size),
    )
