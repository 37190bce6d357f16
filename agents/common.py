"""Small pieces shared by many agents: tie-breaking argmax, ε-mixing, and the exact
action distributions of the policies built from them (uniform, greedy with random ties,
ε-greedy, softmax, deterministic), which agents return as ``action_probabilities``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from simulator.sampling import split_keys


def random_argmax(key: jax.Array, values: jax.Array) -> jax.Array:
    """Index of a maximum of ``values`` ``(K,)``, ties broken uniformly at random.

    One uniform ``u`` picks the ``floor(u * m)``-th of the ``m`` indices attaining the
    maximum (exactly uniform among them, and one random draw instead of K).  ``+inf``
    entries (untried arms) tie with each other and beat everything else.
    """
    is_max = values >= jnp.max(values)
    count = jnp.sum(is_max, dtype=jnp.int32)
    pick = jnp.minimum((jax.random.uniform(key) * count).astype(jnp.int32), count - 1)
    return first_true(is_max & (maximiser_rank(is_max) == pick))


def maximiser_rank(is_max: jax.Array) -> jax.Array:
    """``cumsum(is_max) - 1`` (int32) for a boolean ``is_max (..., K)``, along the last axis: at a maximiser, how
    many maximisers come before it.

    Up to 32 arms the mask is packed into one uint32 ``m`` and the rank of arm ``i`` is
    ``popcount(m & (2^(i+1) - 1)) - 1``: elementwise work that XLA fuses with its
    neighbours, where a cumulative sum is a reduce-window kernel of its own (on a CPU
    that kernel cost a fifth of a UCB1 step).  The same integers either way.
    """
    num = is_max.shape[-1]
    if num > 32:
        return jnp.cumsum(is_max, axis=-1, dtype=jnp.int32) - 1
    bits = jnp.left_shift(jnp.uint32(1), jnp.arange(num, dtype=jnp.uint32))
    mask = jnp.sum(jnp.where(is_max, bits, jnp.uint32(0)), axis=-1, keepdims=True, dtype=jnp.uint32)
    return jax.lax.population_count(mask & (bits | (bits - 1))).astype(jnp.int32) - 1


def first_true(mask: jax.Array) -> jax.Array:
    """``jnp.argmax(mask)`` for a boolean ``mask (K,)``: the first true index, 0 when none
    is (e.g. NaN values upstream), as int32.

    The same index, but XLA lowers an argmax to a variadic (value, index) reduction that
    is several times slower on a CPU under ``vmap`` than this plain ``min`` reduction.
    """
    num = mask.shape[-1]
    first = jnp.min(jnp.where(mask, jnp.arange(num, dtype=jnp.int32), num), axis=-1)
    return jnp.where(first == num, 0, first).astype(jnp.int32)


def epsilon_mix(key: jax.Array, greedy_action: jax.Array, num_arms: int, epsilon) -> jax.Array:
    """With probability ``epsilon`` a uniform action, else ``greedy_action``."""
    key_explore, key_arm = split_keys(key)
    explore = jax.random.uniform(key_explore) < epsilon
    uniform_arm = jax.random.randint(key_arm, (), 0, num_arms, dtype=jnp.int32)
    return jnp.where(explore, uniform_arm, greedy_action).astype(jnp.int32)


# --------------------------------------------------------------------------------------
# Exact action distributions (an agent's ``action_probabilities``)
# --------------------------------------------------------------------------------------


def uniform_probabilities(num_arms: int) -> jax.Array:
    """``(K,)`` float32 ``1 / K``: the distribution of a uniform arm
    (``jax.random.randint(key, (), 0, K)``)."""
    return jnp.full((num_arms,), 1.0 / num_arms, jnp.float32)


def greedy_probabilities(values: jax.Array, epsilon=0.0) -> jax.Array:
    """``(K,)`` float32: the distribution of
    ``epsilon_mix(key, random_argmax(key', values), K, epsilon)``::

        pi(a) = epsilon / K + (1 - epsilon) 1[a in M] / |M|,    M = {a : values_a = max_b values_b}

    ``epsilon = 0`` is :func:`random_argmax` alone (uniform over the tied maxima; ``+inf``
    entries, untried arms, tie with each other and take all the mass).
    """
    values = jnp.asarray(values, jnp.float32)
    best = (values >= jnp.max(values)).astype(jnp.float32)
    num_arms = values.shape[-1]
    return (epsilon / num_arms + (1.0 - epsilon) * best / jnp.sum(best)).astype(jnp.float32)


def softmax_probabilities(preferences: jax.Array, temperature=1.0) -> jax.Array:
    """``(K,)`` float32 ``exp(h_a / tau) / sum_b exp(h_b / tau)``: the distribution of
    ``jax.random.categorical(key, h / tau)`` (the Gumbel-max draw of a softmax policy)."""
    return jax.nn.softmax(jnp.asarray(preferences, jnp.float32) / temperature).astype(jnp.float32)


def one_hot_probabilities(action: jax.Array, num_arms: int) -> jax.Array:
    """``(K,)`` float32, all the mass on ``action``: a deterministic choice."""
    return jax.nn.one_hot(action, num_arms, dtype=jnp.float32)


def check_num_arms(num_arms: int) -> None:
    from simulator.types import require

    require(
        isinstance(num_arms, int) and num_arms >= 1,
        f"agent.num_arms = {num_arms!r}: must be an integer >= 1",
    )
