"""Small pieces shared by many agents: tie-breaking argmax, ε-mixing, count updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_argmax(key: jax.Array, values: jax.Array) -> jax.Array:
    """Index of a maximum of ``values`` ``(K,)``, ties broken uniformly at random.

    One uniform ``u`` picks the ``floor(u * m)``-th of the ``m`` indices attaining the
    maximum (exactly uniform among them, and one random draw instead of K).  ``+inf``
    entries (untried arms) tie with each other and beat everything else.
    """
    is_max = values >= jnp.max(values)
    count = jnp.sum(is_max, dtype=jnp.int32)
    pick = jnp.minimum((jax.random.uniform(key) * count).astype(jnp.int32), count - 1)
    rank = jnp.cumsum(is_max, dtype=jnp.int32) - 1
    return jnp.argmax(is_max & (rank == pick)).astype(jnp.int32)


def epsilon_mix(key: jax.Array, greedy_action: jax.Array, num_arms: int, epsilon) -> jax.Array:
    """With probability ``epsilon`` a uniform action, else ``greedy_action``."""
    key_explore, key_arm = jax.random.split(key)
    explore = jax.random.uniform(key_explore) < epsilon
    uniform_arm = jax.random.randint(key_arm, (), 0, num_arms, dtype=jnp.int32)
    return jnp.where(explore, uniform_arm, greedy_action).astype(jnp.int32)


def check_num_arms(num_arms: int) -> None:
    from simulator.types import require

    require(
        isinstance(num_arms, int) and num_arms >= 1,
        f"agent.num_arms = {num_arms!r}: must be an integer >= 1",
    )
