"""Upper-confidence-bound action selection, UCB1 (Auer, Cesa-Bianchi & Fischer 2002)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from agents.classic.epsilon_greedy import ValueState
from agents.classic.estimates import empty_values, sample_average
from agents.common import check_num_arms, greedy_probabilities, random_argmax
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class UCBHParams:
    c: float = knob(
        math.sqrt(2.0), low=0.0, doc="exploration coefficient: Q(a) + c sqrt(ln t / N(a))"
    )


def ucb_indices(state: ValueState, hparams) -> jax.Array:
    """``Q(a) + c sqrt(ln t / N(a))`` with ``t = sum_a N(a)``; ``+inf`` where ``N(a) = 0``."""
    counts = state.counts
    played = counts > 0
    safe = jnp.where(played, counts, 1.0)
    log_t = jnp.log(jnp.maximum(jnp.sum(counts), 1.0))
    return jnp.where(played, state.values + hparams.c * jnp.sqrt(log_t / safe), jnp.inf)


def ucb(num_arms: int = 10) -> Agent:
    """UCB: play the arm with the highest upper confidence bound on its mean.

    With ``t`` the number of pulls so far, ``N(a)`` the pulls of arm ``a`` and ``Q(a)``
    its sample-average reward::

        A_t = argmax_a  Q(a) + c sqrt(ln t / N(a))        (untried arms, N(a) = 0, first)

    ties broken at random (``action_probabilities``: ``1 / |argmax|`` on the tied arms).
    ``c = sqrt(2)`` is UCB1 for rewards in ``[0, 1]``
    (logarithmic regret); Sutton & Barto (2018, §2.7, Figure 2.4) use ``c = 2`` on the
    10-armed testbed.

    Args:
      num_arms: K.

    Example::

        agent = ucb(10)
        hp = agent.default_hparams().replace(c=2.0)

    Reference: P. Auer, N. Cesa-Bianchi & P. Fischer, "Finite-time analysis of the
    multiarmed bandit problem", Machine Learning 47, 2002 (UCB1).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return empty_values(num_arms)

    def act(key, state, context, hparams):
        return random_argmax(key, ucb_indices(state, hparams))

    def update(key, state, transition, hparams):
        return sample_average(state, transition.action, transition.reward)

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(ucb_indices(state, hparams))

    return Agent(
        "ucb",
        init,
        act,
        update,
        UCBHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
