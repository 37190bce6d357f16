"""KL-UCB for Bernoulli rewards (Garivier & Cappé 2011)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.epsilon_greedy import ValueState
from agents.classic.estimates import empty_values, sample_average
from agents.common import check_num_arms, greedy_probabilities, random_argmax
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob
from simulator.types import require

NUM_BISECTIONS = 24
"""Default bisection steps: the interval ``[Q, 1]`` shrinks to ``2^-24``, float32's resolution."""


@pytree.dataclass
class KLUCBHParams:
    c: float = knob(
        0.0,
        low=0.0,
        doc="c in the level ln t + c ln ln t (0 in the paper's experiments, 3 in its theorem)",
    )


def bernoulli_kl(p: jax.Array, q: jax.Array) -> jax.Array:
    """``kl(p, q) = p ln(p/q) + (1-p) ln((1-p)/(1-q))`` for ``p, q`` in ``[0, 1]``, with
    ``0 ln 0 = 0``; ``+inf`` where ``q`` is 0 or 1 and ``p`` is not."""
    first = jnp.where(p > 0.0, p * jnp.log(p / q), 0.0)
    second = jnp.where(p < 1.0, (1.0 - p) * jnp.log((1.0 - p) / (1.0 - q)), 0.0)
    return first + second


def kl_ucb_indices(state: ValueState, hparams, num_bisections: int = NUM_BISECTIONS) -> jax.Array:
    """``max{q in [Q(a), 1] : N(a) kl(Q(a), q) <= ln t + c ln ln t}``; ``+inf`` if ``N(a) = 0``.

    ``t = sum_a N(a)``; ``ln ln t`` is taken as ``ln max(ln t, 1)`` so the level is never
    below ``ln t`` (and is defined for ``t < e``).  Computed by ``num_bisections`` steps of
    bisection on every arm at once; the lower end, which always satisfies the
    constraint, is returned (within ``2^-num_bisections`` below the exact maximum).
    """
    counts = state.counts
    played = counts > 0
    safe = jnp.where(played, counts, 1.0)
    log_t = jnp.log(jnp.maximum(jnp.sum(counts), 1.0))
    level = (log_t + hparams.c * jnp.log(jnp.maximum(log_t, 1.0))) / safe
    low = bernoulli_kl_upper(state.values, level, num_bisections)
    return jnp.where(played, low, jnp.inf)


def bernoulli_kl_upper(
    mean: jax.Array, level: jax.Array, num_bisections: int = NUM_BISECTIONS
) -> jax.Array:
    """``max{q in [p, 1] : kl(p, q) <= level}`` for ``p = clip(mean, 0, 1)``, elementwise,
    by ``num_bisections`` vectorised bisection steps; the lower end of the last interval,
    which always satisfies the constraint, is returned (within ``2^-num_bisections`` below
    the exact maximum)."""
    mean = jnp.clip(mean, 0.0, 1.0)

    def bisect(_, bounds):
        low, high = bounds
        middle = 0.5 * (low + high)
        inside = bernoulli_kl(mean, middle) <= level
        return jnp.where(inside, middle, low), jnp.where(inside, high, middle)

    low, _ = jax.lax.fori_loop(0, num_bisections, bisect, (mean, jnp.ones_like(mean)), unroll=True)
    return low


def kl_ucb(num_arms: int = 10, num_bisections: int = NUM_BISECTIONS) -> Agent:
    """KL-UCB: the largest Bernoulli mean still plausible under a KL confidence level.

    With ``t`` the pulls so far, ``N(a)`` the pulls of arm ``a`` and ``Q(a)`` its
    sample-average reward (rewards in ``[0, 1]``)::

        U(a) = max{ q in [Q(a), 1] : N(a) kl(Q(a), q) <= ln t + c ln ln t }
        A_t = argmax_a U(a)                 (untried arms first, ties at random)

    with ``kl`` the Bernoulli Kullback–Leibler divergence.  KL-UCB is asymptotically
    optimal for Bernoulli arms (it matches the Lai–Robbins bound) and uniformly beats UCB1.
    ``kl(Q, q)`` is defined for means in ``[0, 1]`` only, so the agent needs rewards in
    ``[0, 1]`` (``needs.reward_range``).  ``action_probabilities``: ``1 / |argmax U|`` on
    the tied arms.

    Args:
      num_arms: K.
      num_bisections: static number of vectorised bisection steps for ``U(a)``.

    Example::

        agent = kl_ucb(10)
        hp = agent.default_hparams().replace(c=3.0)

    Reference: A. Garivier & O. Cappé, "The KL-UCB algorithm for bounded stochastic bandits
    and beyond", COLT 2011.
    """
    check_num_arms(num_arms)
    require(
        isinstance(num_bisections, int)
        and not isinstance(num_bisections, bool)
        and 1 <= num_bisections <= 64,
        f"agent.num_bisections = {num_bisections!r}: must be an integer in [1, 64]",
    )

    def init(key, hparams):
        return empty_values(num_arms)

    def act(key, state, context, hparams):
        return random_argmax(key, kl_ucb_indices(state, hparams, num_bisections))

    def update(key, state, transition, hparams):
        return sample_average(state, transition.action, transition.reward)

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(kl_ucb_indices(state, hparams, num_bisections))

    static = {"num_arms": num_arms, "num_bisections": num_bisections}
    return Agent(
        "kl_ucb",
        init,
        act,
        update,
        KLUCBHParams,
        static,
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms, reward_range=(0.0, 1.0)),
    )
