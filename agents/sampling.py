"""Fast Gamma and Beta samplers, exact in distribution, for Thompson sampling under ``vmap``.

``jax.random.beta`` draws each Gamma variate with its own rejection ``while_loop`` (with a
nested loop for the normal proposal) and splits keys lane by lane; under ``vmap`` every
lane then iterates until the slowest lane is done.  Here the rejection sampler of
Marsaglia & Tsang (2000) works on whole arrays:

1. every lane gets ``num_proposals`` proposals at once and keeps its *first* accepted one;
2. lanes whose proposals were all rejected (the acceptance probability is above 95 % per
   proposal for every shape, so at most 0.25 % of lanes with two proposals) draw more
   rounds of proposals in a ``lax.while_loop`` that runs only while some lane is still
   missing.

Keeping the first accepted proposal of an i.i.d. sequence is exactly what the sequential
rejection sampler does, so the samples are **exact in distribution** whatever
``num_proposals`` is; it only trades vectorised work against fallback rounds.

The maths, for ``G ~ Gamma(alpha)`` with ``alpha >= 1``: ``d = alpha - 1/3``,
``c = 1/sqrt(9 d)``; draw ``x ~ N(0, 1)``, ``u ~ U(0, 1)``, put ``y = c x``; accept
``G = d (1 + y)^3`` iff ``y > -1`` and ``log u < x^2/2 + d - d v + d log v`` with
``v = (1 + y)^3``.  Since ``x^2/2 = 9 d y^2 / 2``, the right-hand side equals exactly

    h(y) = 3 d (log(1 + y) - y + y^2/2 - y^3/3),

which is how it is computed here: one ``log1p`` per proposal, no cube, and the
``x^2/2`` term that cancels against ``d (1 - v + log v)`` removed analytically (the
absolute error of ``h`` stays near ``6e-8 sqrt(d) |x|``, so counts in the millions are
fine).  ``log G = log d + 3 log(1 + y)`` is returned, so ``G`` never overflows.
Shapes below one are boosted, ``Gamma(alpha) = Gamma(alpha + 1) U^(1/alpha)``, in log
space so that tiny shapes do not underflow, and
``Beta(a, b) = G_a / (G_a + G_b) = sigmoid(log G_a - log G_b)``.

Random numbers.  Words are the Threefry-2x32 cipher (the hash behind ``jax.random``, bit
for bit) of the counter pairs ``(lane, stream)`` under the key, written as unrolled array
operations: on a CPU each ``jax.random`` call lowers to a small ``while`` loop of its
own, and those loops, not the arithmetic, dominated the cost.  Each cipher evaluation
gives two words; normals come in pairs from Box–Muller, ``sqrt(-2 log u1) (cos, sin)(2 pi
u2)``, exact in real arithmetic; uniforms keep 23 random mantissa bits, as in
``jax.random`` (so normals are truncated near 5.6 standard deviations, probability 2e-8).
Every proposal, lane and round is its own array (no slicing or concatenation), which
lets XLA emit simple vectorised loops.  Other key implementations use ``jax.random.bits``.

How agents use it (Thompson sampling, discounted Thompson sampling, ...)::

    from agents.sampling import beta

    theta = beta(key, alpha0 + successes, beta0 + failures)   # (K,) float32

Reference: G. Marsaglia & W. W. Tsang, "A simple method for generating gamma variables",
ACM Transactions on Mathematical Software 26(3), 2000 (the boost for alpha < 1: §6);
G. E. P. Box & M. E. Muller, "A note on the generation of random normal deviates",
Annals of Mathematical Statistics 29, 1958; J. K. Salmon et al., "Parallel random
numbers: as easy as 1, 2, 3", SC 2011 (Threefry).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

NUM_PROPOSALS = 2
"""Default number of vectorised Marsaglia–Tsang proposals per lane and round."""

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(key_data: jax.Array, x0: jax.Array, x1: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block cipher (20 rounds) of the counter pairs ``(x0, x1)``.

    Bit for bit the hash behind ``jax.random`` (``jax.extend.random.threefry_2x32``),
    written as plain, unrolled array operations that XLA fuses with their consumers.

    Args:
      key_data: ``uint32[2]``, ``jax.random.key_data`` of a threefry key.
      x0, x1: ``uint32`` counters of one shape.

    Returns:
      Two ``uint32`` arrays of the counters' shape.
    """
    k0, k1 = key_data[0], key_data[1]
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = (x1 << jnp.uint32(r)) | (x1 >> jnp.uint32(32 - r))
            x1 = x0 ^ x1
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + jnp.uint32(block + 1)
    return x0, x1


def random_word_pairs(
    key: jax.Array, shape: tuple[int, ...], stream: jax.Array | int, lane_offset: int = 0
) -> tuple[jax.Array, jax.Array]:
    """Two independent ``uint32`` word arrays of ``shape`` for one key and stream.

    For threefry keys they are the cipher of the counter pairs ``(lane, stream)`` with
    ``lane = lane_offset + 0 .. size - 1``: every ``(lane, stream)`` pair is drawn once,
    so distinct lanes and streams of one key are independent without splitting the key.
    Other key implementations use ``jax.random.bits`` of the key folded with
    ``lane_offset`` and ``stream``.

    Args:
      key: one ``jax.random.key``.
      shape: static shape of each word array.
      stream: ``uint32`` scalar stream number (may be traced).
      lane_offset: static first lane number.
    """
    stream = jnp.asarray(stream, jnp.uint32)
    if "threefry2x32" not in str(jax.random.key_impl(key)):
        key = jax.random.fold_in(jax.random.fold_in(key, lane_offset), stream)
        words = jax.random.bits(key, (2,) + tuple(shape), jnp.uint32)
        return words[0], words[1]
    size = math.prod(shape)
    lanes = (jnp.arange(size, dtype=jnp.uint32) + jnp.uint32(lane_offset)).reshape(shape)
    return threefry2x32(jax.random.key_data(key), lanes, jnp.broadcast_to(stream, lanes.shape))


def unit_uniform(words: jax.Array) -> jax.Array:
    """``uint32`` words to float32 uniforms in ``[0, 1)`` (23 random mantissa bits)."""
    one_to_two = jax.lax.bitcast_convert_type((words >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    return one_to_two - 1.0


def box_muller(words_radius: jax.Array, words_angle: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two independent float32 standard normal arrays from two word arrays (Box–Muller)."""
    radius = jnp.sqrt(-2.0 * jnp.log1p(-unit_uniform(words_radius)))  # log of U in (0, 1]
    angle = (2.0 * math.pi) * unit_uniform(words_angle)
    return radius * jnp.cos(angle), radius * jnp.sin(angle)


def _accept(x, u, d, c):
    """Marsaglia–Tsang test in the cancellation-free form; returns ``(accepted, log(1+y))``."""
    y = c * x
    inside = y > -1.0
    log1p_y = jnp.log1p(jnp.where(inside, y, 0.0))
    h = 3.0 * d * (log1p_y - y + y * y * (0.5 - y / 3.0))
    return inside & (jnp.log(u) < h), log1p_y


def _round(key, lane_offset: int, stream_base, d, c, num_proposals: int):
    """One round of ``num_proposals`` proposals per lane: ``(any accepted, log(1+y) of the
    first accepted)``, using streams ``stream_base .. stream_base + 2 ceil(P/2) - 1``."""
    proposals = []
    for pair in range((num_proposals + 1) // 2):
        normals = box_muller(*random_word_pairs(key, d.shape, stream_base + 2 * pair, lane_offset))
        uniforms = random_word_pairs(key, d.shape, stream_base + 2 * pair + 1, lane_offset)
        for x, words in zip(normals, uniforms):
            proposals.append((x, unit_uniform(words)))
    found, chosen = None, None
    for x, u in reversed(proposals[:num_proposals]):  # the first accepted wins
        accepted, log1p_y = _accept(x, u, d, c)
        if chosen is None:
            found, chosen = accepted, log1p_y
        else:
            found, chosen = found | accepted, jnp.where(accepted, log1p_y, chosen)
    return found, chosen


def _log_gamma(key, alpha, lane_offset: int, num_proposals: int) -> jax.Array:
    if not (
        isinstance(num_proposals, int)
        and not isinstance(num_proposals, bool)
        and num_proposals >= 1
    ):
        raise ValueError(f"num_proposals = {num_proposals!r}: must be an integer >= 1")
    boost = alpha < 1.0
    d = jnp.where(boost, alpha + 1.0, alpha) - 1.0 / 3.0
    # A shape that is negative, infinite or NaN would never be accepted: such lanes are
    # marked done at once and return NaN (as jax.random.gamma does), never hang the loop.
    invalid = ~((alpha >= 0.0) & (d < jnp.inf))
    d = jnp.where(invalid, 1.0, d)
    c = jax.lax.rsqrt(9.0 * d)
    # Streams: 0 the boost uniform; round r uses 1 + r S .. S + r S, S = 2 ceil(P / 2).
    per_round = 2 * ((num_proposals + 1) // 2)
    found, log1p_y = _round(key, lane_offset, 1, d, c, num_proposals)
    found = found | invalid

    def missing(carry):
        _, found, _ = carry
        return ~jnp.all(found)

    def retry(carry):
        r, found, log1p_y = carry
        stream_base = 1 + r.astype(jnp.uint32) * per_round
        found_more, log1p_y_more = _round(key, lane_offset, stream_base, d, c, num_proposals)
        return r + 1, found | found_more, jnp.where(found, log1p_y, log1p_y_more)

    carry = (jnp.ones((), jnp.int32), found, log1p_y)
    _, _, log1p_y = jax.lax.while_loop(missing, retry, carry)
    boost_words, _ = random_word_pairs(key, alpha.shape, 0, lane_offset)
    log_u = jnp.log1p(-unit_uniform(boost_words))  # log of U in (0, 1]: finite
    log_boost = jnp.where(boost, log_u / jnp.where(boost, alpha, 1.0), 0.0)
    return jnp.where(invalid, jnp.nan, jnp.log(d) + 3.0 * log1p_y + log_boost)


def log_gamma(key: jax.Array, alpha: jax.Array, num_proposals: int = NUM_PROPOSALS) -> jax.Array:
    """``log G`` with ``G ~ Gamma(alpha, 1)`` elementwise, exact in distribution.

    Args:
      key: one ``jax.random.key``.
      alpha: shape parameters ``> 0``, any array shape (float32); ``0`` gives ``-inf``,
        negative, infinite or NaN shapes give NaN.
      num_proposals: static number of vectorised proposals per lane and round (any value
        >= 1 gives the same distribution).

    Returns:
      float32 array of ``alpha``'s shape.

    Example::

        log_g = log_gamma(jax.random.key(0), jnp.array([0.5, 2.0, 300.0]))
    """
    alpha = jnp.asarray(alpha, jnp.float32)
    return _log_gamma(key, alpha, 0, num_proposals)


def gamma(key: jax.Array, alpha: jax.Array, num_proposals: int = NUM_PROPOSALS) -> jax.Array:
    """``G ~ Gamma(alpha, 1)`` elementwise (``exp`` of :func:`log_gamma`), float32."""
    return jnp.exp(log_gamma(key, alpha, num_proposals))


def beta(
    key: jax.Array, a: jax.Array, b: jax.Array, num_proposals: int = NUM_PROPOSALS
) -> jax.Array:
    """``theta ~ Beta(a, b)`` elementwise, exact in distribution: a fast ``jax.random.beta``.

    ``theta = G_a / (G_a + G_b) = sigmoid(log G_a - log G_b)`` with independent
    ``G_a ~ Gamma(a)`` and ``G_b ~ Gamma(b)`` from :func:`log_gamma` (lanes
    ``0 .. n - 1`` and ``n .. 2n - 1`` of the key).

    Args:
      key: one ``jax.random.key``.
      a, b: shape parameters ``> 0``, broadcastable; e.g. ``(K,)`` posterior counts.
      num_proposals: static number of vectorised proposals per lane and round.

    Returns:
      float32 array of the broadcast shape of ``a`` and ``b``, values in ``[0, 1]``.

    Example::

        theta = beta(jax.random.key(0), 1.0 + successes, 1.0 + failures)
    """
    shape = jnp.broadcast_shapes(jnp.shape(a), jnp.shape(b))
    a = jnp.broadcast_to(jnp.asarray(a, jnp.float32), shape)
    b = jnp.broadcast_to(jnp.asarray(b, jnp.float32), shape)
    log_g_a = _log_gamma(key, a, 0, num_proposals)
    log_g_b = _log_gamma(key, b, math.prod(shape), num_proposals)
    return jax.nn.sigmoid(log_g_a - log_g_b)
