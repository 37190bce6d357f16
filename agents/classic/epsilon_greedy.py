"""ε-greedy action-value methods (Sutton & Barto 2018, §2.2–2.6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import check_num_arms, epsilon_mix, greedy_probabilities, random_argmax
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class EpsilonGreedyHParams:
    epsilon: float = knob(0.1, low=0.0, high=1.0, doc="probability of a uniform random arm")
    step_size: float = knob(
        0.0, low=0.0, high=1.0, doc="constant step size alpha; 0 means sample averages 1/N(a)"
    )
    initial_value: float = knob(0.0, doc="initial estimate Q_1(a) (optimistic if large)")


class ValueState(pytree.PyTreeNode):
    """Action-value estimates ``Q (K,)`` and pull counts ``N (K,)``, float32."""

    values: jax.Array
    counts: jax.Array


def epsilon_greedy(num_arms: int = 10) -> Agent:
    """ε-greedy over incremental action-value estimates.

    Act: with probability ε a uniform arm, else ``argmax_a Q(a)`` (ties at random).
    Update of the chosen arm ``a`` with reward ``r``::

        N(a) <- N(a) + 1
        Q(a) <- Q(a) + alpha * (r - Q(a)),   alpha = 1/N(a) (sample average) or step_size

    Its ``action_probabilities`` are exactly those of ``act``:
    ``epsilon / K + (1 - epsilon) 1[a in argmax Q] / |argmax Q|``.

    Args:
      num_arms: K.

    Example::

        agent = epsilon_greedy(10)
        hp = agent.default_hparams().replace(epsilon=0.01)

    Reference: Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed. (2018),
    §2.2–2.6 (optimistic initial values: §2.6).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return ValueState(
            values=jnp.full((num_arms,), hparams.initial_value, jnp.float32),
            counts=jnp.zeros((num_arms,), jnp.float32),
        )

    def act(key, state, context, hparams):
        key_tie, key_mix = split_keys(key)
        greedy = random_argmax(key_tie, state.values)
        return epsilon_mix(key_mix, greedy, num_arms, hparams.epsilon)

    def update(key, state, transition, hparams):
        a = transition.action
        count = state.counts[a] + 1.0
        alpha = jnp.where(hparams.step_size > 0, hparams.step_size, 1.0 / count)
        value = state.values[a] + alpha * (transition.reward - state.values[a])
        return ValueState(
            values=state.values.at[a].set(value.astype(jnp.float32)),
            counts=state.counts.at[a].set(count),
        )

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(state.values, hparams.epsilon)

    return Agent(
        "epsilon_greedy",
        init,
        act,
        update,
        EpsilonGreedyHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
