"""Small sampling helpers shared by the environments (pure, jit- and vmap-friendly)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array


def split_keys(key: Array, num: int = 2) -> tuple[Array, ...]:
    """The ``num`` keys of ``jax.random.split(key, num)``, as a tuple, each derived on its
    own as ``fold_in(key, i)``.

    Under JAX's partitionable Threefry (the default since JAX 0.5) key ``i`` of a split *is*
    ``fold_in(key, i)``: both hash the counter ``(0, i)`` with ``key``, so the bits are
    the same.  Derived one by one, a key that is never used is never computed, and XLA does
    not recompute the parent key's hash for every word of a stacked ``(num, 2)`` array (in
    a simulation step that duplicated hash was the costliest kernel: 2x the steps per
    second of UCB1).  With the partitionable mode switched off, or another key
    implementation than Threefry, it is ``split`` itself.

    The keys are the same; the compiled program is not.  Each key is a hash of its own
    (a larger program: slower to compile where many are drawn once, at a reset), and XLA
    may fuse the float arithmetic downstream of the draws differently, which can move a
    result by one float32 ulp.  So the runner's per-step agent keys and the agents' own
    splits use it, and the environments keep ``split`` (with it, the drifting users'
    programs took 2 s more to compile and three presets moved by one ulp).
    """
    fold_like = jax.config.jax_threefry_partitionable and (
        str(jax.random.key_impl(key)) == "threefry2x32"
    )
    if not fold_like:
        return tuple(jax.random.split(key, num))
    return tuple(jax.random.fold_in(key, i) for i in range(num))


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

    The work never grows with the catalog while ``num_draws <= num_items / 2``:

    - up to 64 draws: Floyd's algorithm (Bentley & Floyd 1987), O(num_draws^2), then a
      shuffle;
    - more draws, at most half the catalog: :func:`first_distinct`, O(K log K) for
      ``K = num_draws``;
    - more than half the catalog: the first ``num_draws`` of a random permutation of the
      catalog, O(N log N) = O(K log K).

    Every integer is drawn with :func:`jax.random.randint` (two words of bits reduced
    modulo the range: a bias far below ``(num_items / 2^32)^2``), never by scaling a
    float32 uniform, whose 2^23 values would favour some indices of a large catalog; orders
    come from :func:`shuffle` (64 random bits per entry, so ties, which would favour the
    lower index, have probability below ``n^2 / 2^65``).
    """
    if num_draws == num_items:
        return jnp.arange(num_items, dtype=jnp.int32)
    key_draw, key_order = jax.random.split(key)
    if num_draws > _FLOYD_MAX_DRAWS:
        if 2 * num_draws > num_items:
            return shuffle(key_draw, jnp.arange(num_items, dtype=jnp.int32))[:num_draws]
        return first_distinct(key_draw, num_items, num_draws)
    # Floyd: for i = 0..K-1, j = N - K + i, t ~ U{0..j}; if t is taken, take j instead
    highs = num_items - num_draws + jnp.arange(num_draws, dtype=jnp.int32)
    picks = jax.random.randint(key_draw, (num_draws,), 0, highs + 1, jnp.int32)
    slots = jnp.arange(num_draws)

    def add(i, chosen):
        taken = jnp.any((chosen == picks[i]) & (slots < i))
        return chosen.at[i].set(jnp.where(taken, highs[i], picks[i]))

    chosen = jax.lax.fori_loop(0, num_draws, add, jnp.zeros((num_draws,), jnp.int32))
    return shuffle(key_order, chosen)


def shuffle(key: Array, x: Array) -> Array:
    """``x (n,)`` in a uniformly random order: sorted by two random
    ``uint32`` words per entry (a tie, whose order would not be random, has probability
    below ``n^2 / 2^65``).  O(n log n)."""
    n = x.shape[0]
    words = jax.random.bits(key, (2, n), jnp.uint32)
    return jax.lax.sort((words[0], words[1], x), num_keys=2)[2]


def _batch_size(num_items: int, num_draws: int) -> int:
    """Draws per round of :func:`first_distinct`: the smallest ``m`` whose number of
    distinct values falls short of ``num_draws`` with probability about 3e-5 or less
    (mean minus 4 standard deviations, occupancy moments), at least ``num_draws``."""
    n, k = float(num_items), num_draws
    step = max(1, k // 32)
    m = k
    while True:
        q1, q2 = (1.0 - 1.0 / n) ** m, (1.0 - 2.0 / n) ** m
        mean = n * (1.0 - q1)
        var = n * (n - 1.0) * q2 + n * q1 - (n * q1) ** 2
        if mean - 4.0 * math.sqrt(max(var, 0.0)) >= k + 0.5 or m >= 64 * k:
            return m
        m += step


def first_distinct(key: Array, num_items: int, num_draws: int) -> Array:
    """``num_draws`` distinct indices of ``[0, num_items)``, uniform over ordered tuples: the
    first ``num_draws`` distinct values of a sequence of i.i.d. uniform indices.

    Sampling with replacement and skipping repeats *is* sampling without replacement: given
    the values seen so far, the next new value is uniform over the unseen ones.  A round
    draws ``m`` indices at once (:func:`_batch_size`, about ``1.4 K`` for ``K = N / 2`` and
    ``K`` plus a few for ``K << N``); a stable sort by value marks each value's first
    occurrence and a cumulative count packs them in draw order.  A round with fewer than
    ``num_draws`` distinct values is thrown away and redrawn (a ``while_loop`` that runs
    only then, rarely: 3e-5 per round or less): the event "at least ``K`` distinct"
    is invariant under relabelling the items, so the kept rounds are still uniform over
    ordered ``K``-tuples.  O(m log m) = O(K log K) per round, whatever ``num_items``.

    Args:
      key: the draw's randomness.
      num_items: N, static.
      num_draws: K <= N, static.

    Returns:
      ``(num_draws,)`` int32, distinct.

    Reference: the same idea as the "sequential sampling by rejection of repeats" of
    Devroye, *Non-Uniform Random Variate Generation* (1986), §XI.2.
    """
    if not 0 < num_draws <= num_items:
        raise ValueError(f"num_draws = {num_draws}: must be in [1, num_items = {num_items}]")
    m = _batch_size(num_items, num_draws)
    positions = jnp.arange(m, dtype=jnp.int32)

    def draw(round_key):
        values = jax.random.randint(round_key, (m,), 0, num_items, jnp.int32)
        by_value, position = jax.lax.sort((values, positions), num_keys=1, is_stable=True)
        new = jnp.concatenate([jnp.ones((1,), jnp.bool_), by_value[1:] != by_value[:-1]])
        first = jnp.zeros((m,), jnp.bool_).at[position].set(new)  # first occurrences
        slot = jnp.cumsum(first.astype(jnp.int32)) - 1
        out = jnp.zeros((num_draws,), jnp.int32)
        out = out.at[jnp.where(first, slot, num_draws)].set(values, mode="drop")
        return out, slot[-1] + 1 >= num_draws

    def again(carry):
        return ~carry[1]

    def redraw(carry):
        _, _, i = carry
        out, ok = draw(jax.random.fold_in(key, i))
        return out, ok, i + 1

    out, ok = draw(jax.random.fold_in(key, 0))
    out, _, _ = jax.lax.while_loop(again, redraw, (out, ok, jnp.ones((), jnp.int32)))
    return out


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
