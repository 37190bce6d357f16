"""Fast Gamma and Beta samplers, exact in distribution, for Thompson sampling under ``vmap``.

``jax.random.beta`` draws each Gamma variate with its own rejection ``while_loop`` (with a
nested loop for the normal proposal) and splits keys lane by lane; under ``vmap`` every
lane then iterates until the slowest lane is done.  Here the rejection sampler of
Marsaglia & Tsang (2000) works on whole arrays:

1. every lane gets ``num_proposals`` proposals at once (one vectorised draw of random
   words) and keeps its *first* accepted one;
2. lanes whose proposals were all rejected (rare: the acceptance probability is above
   95 % per proposal for every shape, so about 1e-4 per lane with 3 proposals) draw more
   proposals in a ``lax.while_loop`` that runs only while some lane is still missing,
   so usually it runs zero times.

Keeping the first accepted proposal of an i.i.d. sequence is exactly what the sequential
rejection sampler does, so the samples are **exact in distribution** whatever
``num_proposals`` is; it only trades vectorised work against fallback iterations.

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

Random words come from the Threefry-2x32 cipher of counters under the key (the hash
behind ``jax.random``, two words per evaluation), written unrolled so that XLA fuses it
with the sampler's arithmetic: on a CPU every ``jax.random`` call is a small ``while``
loop of its own, and those loops, not the arithmetic, dominated the cost.  Other key
implementations use ``jax.random.bits``.  Uniforms keep 23 random mantissa bits and
normals are ``sqrt(2) erfinv(2u - 1)``, as in ``jax.random``.

How agents use it (Thompson sampling, discounted Thompson sampling, ...)::

    from agents.sampling import beta

    theta = beta(key, alpha0 + successes, beta0 + failures)   # (K,) float32

Reference: G. Marsaglia & W. W. Tsang, "A simple method for generating gamma variables",
ACM Transactions on Mathematical Software 26(3), 2000 (the boost for alpha < 1: §6).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

NUM_PROPOSALS = 3
"""Default number of vectorised Marsaglia–Tsang proposals per lane before the fallback."""

_SQRT2 = math.sqrt(2.0)


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(key_data: jax.Array, x0: jax.Array, x1: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 block cipher (20 rounds) of the counter pair ``(x0, x1)``.

    Bit for bit the hash behind ``jax.random`` (Salmon et al. 2011), written as plain,
    unrolled array operations: XLA fuses it with the arithmetic that consumes the words,
    whereas the CPU lowering of ``jax.random`` runs a rolled 5-step ``while`` loop per
    call.

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


def random_words(key: jax.Array, shape: tuple[int, ...], stream=0) -> jax.Array:
    """``uint32`` random words of ``shape`` from one key and a stream number.

    For threefry keys the words are the cipher of the counters ``(i, stream)``, two words
    per evaluation, so distinct streams of one key are independent without splitting the
    key; other key implementations use ``jax.random.bits`` of ``fold_in(key, stream)``.
    """
    if "threefry2x32" not in str(jax.random.key_impl(key)):
        return jax.random.bits(jax.random.fold_in(key, stream), shape, jnp.uint32)
    size = math.prod(shape)
    half = (size + 1) // 2
    counter = jnp.arange(half, dtype=jnp.uint32)
    stream = jnp.broadcast_to(jnp.asarray(stream, jnp.uint32), counter.shape)
    words = jnp.concatenate(threefry2x32(jax.random.key_data(key), counter, stream))
    return words[:size].reshape(shape)


def unit_uniform(words: jax.Array) -> jax.Array:
    """``uint32`` words to float32 uniforms in ``[0, 1)`` (23 random mantissa bits)."""
    one_to_two = jax.lax.bitcast_convert_type((words >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    return one_to_two - 1.0


def standard_normal(words: jax.Array) -> jax.Array:
    """``uint32`` words to float32 standard normals, ``sqrt(2) erfinv(2u - 1)``."""
    lowest = jnp.nextafter(jnp.float32(-1.0), jnp.float32(0.0))
    u = jnp.maximum(unit_uniform(words) * 2.0 - 1.0, lowest)
    return _SQRT2 * jax.lax.erf_inv(u)


def _accept(x, u, d, c):
    """Marsaglia–Tsang test in the cancellation-free form; returns ``(accepted, log(1+y))``."""
    y = c * x
    inside = y > -1.0
    log1p_y = jnp.log1p(jnp.where(inside, y, 0.0))
    h = 3.0 * d * (log1p_y - y + y * y * (0.5 - y / 3.0))
    return inside & (jnp.log(u) < h), log1p_y


def _first_accepted(accepted: jax.Array, log1p_y: jax.Array):
    """``(any accepted, log(1+y) of the first accepted proposal)`` along axis 0."""
    found = accepted[-1]
    chosen = log1p_y[-1]
    for i in range(accepted.shape[0] - 2, -1, -1):
        chosen = jnp.where(accepted[i], log1p_y[i], chosen)
        found = found | accepted[i]
    return found, chosen


def _proposals(words: jax.Array, d: jax.Array, c: jax.Array):
    """Test the proposals held in ``words (2, P, ...)``; first accepted per lane."""
    accepted, log1p_y = _accept(standard_normal(words[0]), unit_uniform(words[1]), d, c)
    return _first_accepted(accepted, log1p_y)


def log_gamma(key: jax.Array, alpha: jax.Array, num_proposals: int = NUM_PROPOSALS) -> jax.Array:
    """``log G`` with ``G ~ Gamma(alpha, 1)`` elementwise, exact in distribution.

    Args:
      key: one ``jax.random.key``.
      alpha: shape parameters ``> 0``, any array shape (float32).
      num_proposals: static number of vectorised proposals per lane before the exact
        fallback loop (any value >= 1 gives the same distribution).

    Returns:
      float32 array of ``alpha``'s shape.

    Example::

        log_g = log_gamma(jax.random.key(0), jnp.array([0.5, 2.0, 300.0]))
    """
    if not (isinstance(num_proposals, int) and num_proposals >= 1):
        raise ValueError(f"num_proposals = {num_proposals!r}: must be an integer >= 1")
    alpha = jnp.asarray(alpha, jnp.float32)
    boost = alpha < 1.0
    d = jnp.where(boost, alpha + 1.0, alpha) - 1.0 / 3.0
    c = jax.lax.rsqrt(9.0 * d)
    # Stream 0: num_proposals normals, num_proposals uniforms and the boost uniform;
    # stream i + 1: the proposals of fallback round i.
    words = random_words(key, (2 * num_proposals + 1,) + alpha.shape, stream=0)
    proposal_words = words[: 2 * num_proposals].reshape((2, num_proposals) + alpha.shape)
    found, log1p_y = _proposals(proposal_words, d, c)

    def missing(carry):
        _, found, _ = carry
        return ~jnp.all(found)

    def retry(carry):
        i, found, log1p_y = carry
        more = random_words(key, (2, num_proposals) + alpha.shape, stream=i + 1)
        found_more, log1p_y_more = _proposals(more, d, c)
        log1p_y = jnp.where(found, log1p_y, log1p_y_more)
        return i + 1, found | found_more, log1p_y

    _, _, log1p_y = jax.lax.while_loop(missing, retry, (jnp.zeros((), jnp.int32), found, log1p_y))
    # log U with U uniform in (0, 1]: log1p(-u) for u in [0, 1) is finite.
    log_u_boost = jnp.log1p(-unit_uniform(words[2 * num_proposals]))
    log_boost = jnp.where(boost, log_u_boost / jnp.where(boost, alpha, 1.0), 0.0)
    return jnp.log(d) + 3.0 * log1p_y + log_boost


def gamma(key: jax.Array, alpha: jax.Array, num_proposals: int = NUM_PROPOSALS) -> jax.Array:
    """``G ~ Gamma(alpha, 1)`` elementwise (``exp`` of :func:`log_gamma`), float32."""
    return jnp.exp(log_gamma(key, alpha, num_proposals))


def beta(
    key: jax.Array, a: jax.Array, b: jax.Array, num_proposals: int = NUM_PROPOSALS
) -> jax.Array:
    """``theta ~ Beta(a, b)`` elementwise, exact in distribution: a fast ``jax.random.beta``.

    ``theta = G_a / (G_a + G_b) = sigmoid(log G_a - log G_b)`` with independent
    ``G_a ~ Gamma(a)`` and ``G_b ~ Gamma(b)`` from :func:`log_gamma`.

    Args:
      key: one ``jax.random.key``.
      a, b: shape parameters ``> 0``, broadcastable; e.g. ``(K,)`` posterior counts.
      num_proposals: static number of vectorised proposals per lane (see :func:`log_gamma`).

    Returns:
      float32 array of the broadcast shape of ``a`` and ``b``, values in ``[0, 1]``.

    Example::

        theta = beta(jax.random.key(0), 1.0 + successes, 1.0 + failures)
    """
    a = jnp.asarray(a, jnp.float32)
    b = jnp.asarray(b, jnp.float32)
    shape = jnp.broadcast_shapes(a.shape, b.shape)
    shapes = jnp.stack([jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)])
    log_g = log_gamma(key, shapes, num_proposals)
    return jax.nn.sigmoid(log_g[0] - log_g[1])
