"""Small sampling helpers shared by the environments (pure, jit- and vmap-friendly)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def unit_sphere(key: Array, shape: tuple[int, ...]) -> Array:
    """Vectors uniform on the unit sphere of the last axis: ``g / ||g||``, ``g ~ N(0, I)``."""
    g = jax.random.normal(key, shape, jnp.float32)
    return g / jnp.linalg.norm(g, axis=-1, keepdims=True)


def unit_disc(key: Array, shape: tuple[int, ...] = ()) -> Array:
    """Points uniform in the unit disc, shape ``shape + (2,)``: radius ``sqrt(u)``, angle
    ``2 pi v``."""
    key_radius, key_angle = jax.random.split(key)
    radius = jnp.sqrt(jax.random.uniform(key_radius, shape, jnp.float32))
    angle = jax.random.uniform(key_angle, shape, jnp.float32, 0.0, 2.0 * jnp.pi)
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], axis=-1)


_FLOYD_MAX_DRAWS = 64


def without_replacement(key: Array, num_items: int, num_draws: int) -> Array:
    """``num_draws`` distinct indices in ``[0, num_items)``: a uniformly random subset in a
    uniformly random order (``int32``); ``arange(num_items)`` when all items are drawn.

    Up to 64 draws: Floyd's algorithm (Bentley & Floyd 1987), O(num_draws^2) work whatever
    the catalog size, then a shuffle; more draws: the ``num_draws`` largest of
    ``num_items`` i.i.d. uniforms, O(num_items).
    """
    if num_draws == num_items:
        return jnp.arange(num_items, dtype=jnp.int32)
    key_draw, key_order = jax.random.split(key)
    if num_draws > _FLOYD_MAX_DRAWS:
        scores = jax.random.uniform(key_draw, (num_items,), jnp.float32)
        return jax.lax.top_k(scores, num_draws)[1].astype(jnp.int32)
    u = jax.random.uniform(key_draw, (num_draws,), jnp.float32)
    slots = jnp.arange(num_draws)

    def add(i, chosen):
        j = num_items - num_draws + i  # Floyd: t ~ U{0..j}; if taken, take j instead
        t = jnp.minimum(jnp.floor(u[i] * (j + 1)), j).astype(jnp.int32)
        taken = jnp.any((chosen == t) & (slots < i))
        return chosen.at[i].set(jnp.where(taken, j, t).astype(jnp.int32))

    chosen = jax.lax.fori_loop(0, num_draws, add, jnp.zeros((num_draws,), jnp.int32))
    order = jnp.argsort(jax.random.uniform(key_order, (num_draws,), jnp.float32))
    return chosen[order]


def zipf_cdf(num_users: int, exponent: Array) -> Array:
    """Cumulative distribution of a Zipf law over ranks ``1..U``: ``P(r) ∝ r^{-exponent}``
    (``exponent = 0`` is uniform); user ``i`` has rank ``i + 1``.  ``(U,)`` float32."""
    ranks = jnp.arange(1, num_users + 1, dtype=jnp.float32)
    weights = jnp.power(ranks, -jnp.asarray(exponent, jnp.float32))
    cdf = jnp.cumsum(weights)
    return cdf / cdf[-1]


def from_cdf(key: Array, cdf: Array) -> Array:
    """One index drawn from the distribution with cumulative ``cdf`` (O(log n))."""
    u = jax.random.uniform(key, (), jnp.float32)
    index = jnp.searchsorted(cdf, u, side="right")
    return jnp.minimum(index, cdf.shape[0] - 1).astype(jnp.int32)
