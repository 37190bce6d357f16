"""The uniform random agent: the baseline every regret curve is measured against."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import check_num_arms, uniform_probabilities
from agents.types import Agent, Needs
from simulator import pytree


@pytree.dataclass
class RandomHParams:
    pass


class RandomState(pytree.PyTreeNode):
    step: jax.Array  # () int32, kept so the state is a non-empty scan carry


def random_agent(num_arms: int = 10) -> Agent:
    """Choose an arm uniformly at random every round: ``a_t ~ U{0, ..., K-1}``.

    Its expected per-step regret is ``max(mu) - mean(mu)``; its ``action_probabilities``
    are ``1 / K`` for every arm.
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return RandomState(step=jnp.zeros((), jnp.int32))

    def act(key, state, context, hparams):
        return jax.random.randint(key, (), 0, num_arms, dtype=jnp.int32)

    def update(key, state, transition, hparams):
        return RandomState(step=state.step + 1)

    def action_probabilities(state, context, hparams):
        return uniform_probabilities(num_arms)

    return Agent(
        "random",
        init,
        act,
        update,
        RandomHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
