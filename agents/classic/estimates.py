"""Sample-average action values shared by the index agents (UCB, KL-UCB, ETC)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.epsilon_greedy import ValueState


def empty_values(num_arms: int) -> ValueState:
    """``Q = 0``, ``N = 0`` for every arm, float32."""
    zeros = jnp.zeros((num_arms,), jnp.float32)
    return ValueState(values=zeros, counts=zeros)


def sample_average(state: ValueState, action: jax.Array, reward: jax.Array) -> ValueState:
    """``N(a) <- N(a) + 1``, ``Q(a) <- Q(a) + (r - Q(a)) / N(a)`` for the played arm ``a``."""
    count = state.counts[action] + 1.0
    value = state.values[action] + (reward - state.values[action]) / count
    return ValueState(
        values=state.values.at[action].set(value.astype(jnp.float32)),
        counts=state.counts.at[action].set(count),
    )
