"""The fast Beta/Gamma sampler (agents.sampling) is exact in distribution.

Checks: Kolmogorov–Smirnov against the Beta CDF (a numpy continued fraction, itself
checked against closed forms and numerical integration), moments of Gamma and Beta
draws, the rejection fallback (one proposal per lane, so about 5 % of lanes retry), the
power of the KS check against a slightly wrong distribution, and Thompson sampling's argmax
of the draws.  Draws are made the way Thompson sampling makes them: a jitted ``vmap`` over
keys of ``(K,)`` shape parameters.
"""

from __future__ import annotations

import math

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from agents import sampling

NUM_KEYS, NUM_ARMS = 2000, 10  # 20,000 draws per check
# Two-sided KS critical value at significance 1e-3 is 1.949 / sqrt(n) (asymptotic).
KS_CRITICAL = 1.949 / math.sqrt(NUM_KEYS * NUM_ARMS)


def _betacf(a: float, b: float, x: np.ndarray, iterations: int = 2000) -> np.ndarray:
    """Continued fraction of the incomplete beta function (modified Lentz), vectorised."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    for m in range(1, iterations + 1):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            h = h * d * c
        if np.all(np.abs(d * c - 1.0) < 1e-15):
            break
    return h


def beta_cdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """The regularised incomplete beta function ``I_x(a, b)`` in float64 (no scipy)."""
    x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
    inner = (x > 0) & (x < 1)
    xs = np.where(inner, x, 0.5)
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * np.log(xs) + b * np.log1p(-xs)
    )
    front = np.exp(log_front)
    lower = xs < (a + 1.0) / (a + b + 2.0)
    direct = front * _betacf(a, b, xs) / a
    mirrored = 1.0 - front * _betacf(b, a, 1.0 - xs) / b
    out = np.where(lower, direct, mirrored)
    return np.where(inner, out, np.where(x >= 1, 1.0, 0.0))


def gamma_cdf(x: np.ndarray, a: float, num_terms: int = 600) -> np.ndarray:
    """The regularised lower incomplete gamma function ``P(a, x)`` by its power series
    ``e^-x x^a / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))`` (float64; for
    ``x`` up to a few hundred)."""
    x = np.asarray(x, np.float64)
    term = np.ones_like(x)
    total = np.ones_like(x)
    for n in range(1, num_terms + 1):
        term = term * x / (a + n)
        total += term
    log_front = -x + a * np.log(np.maximum(x, 1e-300)) - math.lgamma(a + 1.0)
    return np.where(x > 0, np.minimum(np.exp(log_front) * total, 1.0), 0.0)


def ks_statistic(samples: np.ndarray, cdf) -> float:
    x = np.sort(np.asarray(samples, np.float64).ravel())
    n = len(x)
    f = cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


def draw_beta(a: float, b: float, num_proposals: int = sampling.NUM_PROPOSALS, seed: int = 0):
    """``NUM_KEYS x NUM_ARMS`` draws of Beta(a, b), made as Thompson sampling makes them."""
    keys = jax.random.split(jax.random.key(seed), NUM_KEYS)
    shape_a = jnp.full((NUM_ARMS,), a, jnp.float32)
    shape_b = jnp.full((NUM_ARMS,), b, jnp.float32)
    return np.asarray(_vmapped_beta(keys, shape_a, shape_b, num_proposals))


@jax.jit
def _beta_default(keys, a, b):
    return jax.vmap(sampling.beta, in_axes=(0, None, None))(keys, a, b)


@jax.jit
def _beta_p3(keys, a, b):
    return jax.vmap(lambda k, a, b: sampling.beta(k, a, b, 3), in_axes=(0, None, None))(keys, a, b)


_log_gamma = jax.jit(jax.vmap(sampling.log_gamma, in_axes=(0, None)))


def _vmapped_beta(keys, a, b, num_proposals):
    assert sampling.NUM_PROPOSALS == 1 and num_proposals in (1, 3)
    return (_beta_default if num_proposals == 1 else _beta_p3)(keys, a, b)


# --------------------------------------------------------------------------- the reference CDF


def test_reference_beta_cdf_matches_closed_forms_and_integration():
    x = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(beta_cdf(x, 1.0, 1.0), x, atol=1e-12)
    np.testing.assert_allclose(beta_cdf(x, 1.0, 3.5), 1 - (1 - x) ** 3.5, atol=1e-12)
    np.testing.assert_allclose(beta_cdf(x, 0.3, 1.0), x**0.3, atol=1e-12)
    np.testing.assert_allclose(beta_cdf(x, 2.0, 2.0), 3 * x**2 - 2 * x**3, atol=1e-12)
    np.testing.assert_allclose(beta_cdf(x, 0.5, 0.5), 2 / np.pi * np.arcsin(np.sqrt(x)), atol=1e-10)
    # Large counts: trapezoidal integration of the density on a fine grid.
    a, b = 500.0, 300.0
    grid = np.linspace(0.5, 0.75, 200_001)
    log_pdf = (
        (a - 1) * np.log(grid)
        + (b - 1) * np.log1p(-grid)
        + math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
    )
    pdf = np.exp(log_pdf)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    points = [10_000, 80_000, 100_000, 130_000, 190_000]
    np.testing.assert_allclose(beta_cdf(grid[points], a, b), cdf[points], atol=1e-8)


def test_reference_gamma_cdf_matches_closed_forms():
    x = np.linspace(0.0, 60.0, 301)
    np.testing.assert_allclose(gamma_cdf(x, 1.0), 1 - np.exp(-x), atol=1e-12)
    np.testing.assert_allclose(gamma_cdf(x, 2.0), 1 - np.exp(-x) * (1 + x), atol=1e-12)
    np.testing.assert_allclose(gamma_cdf(x, 0.5), [math.erf(math.sqrt(v)) for v in x], atol=1e-12)


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize(
    "a, b",
    [(1.0, 1.0), (0.5, 0.5), (0.2, 3.0), (2.0, 5.0), (500.0, 300.0), (3.0, 20_000.0)],
)
def test_beta_draws_pass_kolmogorov_smirnov_and_moments(a, b):
    samples = draw_beta(a, b).astype(np.float64)
    assert samples.dtype == np.float64 and np.all((samples >= 0) & (samples <= 1))
    assert ks_statistic(samples, lambda x: beta_cdf(x, a, b)) < KS_CRITICAL
    n = samples.size
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(samples.mean() - mean) < 5 * math.sqrt(var / n)
    # Var of the sample variance ~ (mu4 - var^2) / n; 6 sigma with the Beta's mu4 <= 3 var^2 * 3.
    assert abs(samples.var() - var) < 6 * var * math.sqrt(8.0 / n)


def test_the_rejection_fallback_is_exact():
    """One proposal per lane and round (the default): ~5 % of Gamma(1) lanes (and of the
    boosted Gamma(0.3 + 1)) are rejected and completed by the fallback loop, some after
    several rounds; with three proposals per round almost none are.  Both are exact."""
    for a, b, proposals in [(1.0, 1.0, 1), (0.3, 2.0, 1), (1.0, 1.0, 3), (2.0, 5.0, 3)]:
        samples = draw_beta(a, b, num_proposals=proposals, seed=3)
        assert ks_statistic(samples, lambda x, a=a, b=b: beta_cdf(x, a, b)) < KS_CRITICAL


def test_the_ks_check_has_power():
    samples = draw_beta(500.0, 300.0)
    assert ks_statistic(samples, lambda x: beta_cdf(x, 500.0, 310.0)) > 3 * KS_CRITICAL
    samples = draw_beta(0.5, 0.5)
    assert ks_statistic(samples, lambda x: beta_cdf(x, 0.55, 0.5)) > 2 * KS_CRITICAL


@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0, 2.5, 40.0, 1e4, 5e6])
def test_gamma_draws_pass_kolmogorov_smirnov_and_moments(alpha):
    """200,000 draws: KS against ``P(alpha, x)`` where the series is cheap, and the mean,
    variance and third central moment ``alpha, alpha, 2 alpha`` (large shapes are the
    counts of long Thompson-sampling runs)."""
    keys = jax.random.split(jax.random.key(4), 4000)
    log_g = np.asarray(_log_gamma(keys, jnp.full((50,), alpha, jnp.float32)), np.float64)
    g = np.exp(log_g)
    n = g.size
    if alpha <= 40:
        assert ks_statistic(g, lambda x: gamma_cdf(x, alpha)) < 1.949 / math.sqrt(n)
    assert abs(g.mean() - alpha) < 5 * math.sqrt(alpha / n)
    # Var(sample variance) = (mu4 - var^2)/n with mu4 = 3 a^2 + 6 a for Gamma(a).
    assert abs(g.var() - alpha) < 5 * math.sqrt((2 * alpha**2 + 6 * alpha) / n)
    third = np.mean((g - g.mean()) ** 3)
    # Var of the third central moment ~ mu6 / n, mu6 ~ 15 a^3 + 130 a^2 + 120 a.
    assert abs(third - 2 * alpha) < 6 * math.sqrt(
        (15 * alpha**3 + 130 * alpha**2 + 120 * alpha) / n
    )


def test_threefry_is_jax_random_s_cipher_and_normal_is_normal():
    key_data = jax.random.key_data(jax.random.key(42))
    x0 = jnp.arange(1000, dtype=jnp.uint32)
    x1 = jnp.full((1000,), 7, jnp.uint32)
    ours = jnp.concatenate(sampling.threefry2x32(key_data, x0, x1))
    theirs = jax.extend.random.threefry_2x32(key_data, jnp.concatenate([x0, x1]))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))

    words = sampling.random_word_pairs(jax.random.key(3), (50_000,), 5)
    normals = np.concatenate([np.asarray(sampling.normal(w), np.float64) for w in words])
    normal_cdf = np.vectorize(lambda v: 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))))
    assert ks_statistic(normals, normal_cdf) < 1.949 / math.sqrt(normals.size)
    assert abs(np.corrcoef(normals[:50_000], normals[50_000:])[0, 1]) < 5 / math.sqrt(50_000)
    # The quantile grid: the extreme words give finite, symmetric normals near 5.3 sd.
    extremes = np.asarray(sampling.normal(jnp.array([0, 2**32 - 1], jnp.uint32)), np.float64)
    assert np.all(np.isfinite(extremes)) and abs(extremes[0] + extremes[1]) < 1e-5
    assert 5.0 < extremes[1] < 5.6


def test_same_key_same_draws_and_shapes_broadcast():
    keys = jax.random.split(jax.random.key(1), NUM_KEYS)
    a = jnp.linspace(0.5, 5.0, NUM_ARMS)
    first = np.asarray(_beta_default(keys, a, jnp.full(NUM_ARMS, 2.0)))
    again = np.asarray(_beta_default(keys, a, jnp.full(NUM_ARMS, 2.0)))
    np.testing.assert_array_equal(first, again)
    # Every lane and key draws its own value (float32 ties by chance: about a dozen).
    assert len(np.unique(first)) > 0.998 * first.size
    out = jax.eval_shape(sampling.beta, jax.random.key(0), jnp.ones((4, 1)), jnp.ones((3,)))
    assert out.shape == (4, 3) and out.dtype == jnp.float32
    # Keys of another implementation draw their words with jax.random.bits, still one
    # independent draw per (lane offset, stream).
    rbg = jax.random.key(0, impl="rbg")
    words = [
        np.asarray(sampling.random_word_pairs(rbg, (64,), stream, offset))
        for stream, offset in [(0, 0), (1, 0), (0, 64)]
    ]
    assert all(w.shape == (2, 64) and w.dtype == np.uint32 for w in words)
    assert len(np.unique(np.concatenate([w.ravel() for w in words]))) == 3 * 2 * 64
    with pytest.raises(ValueError, match="num_proposals"):
        sampling.log_gamma(jax.random.key(0), a, num_proposals=0)


@pytest.mark.parametrize("num_arms", [3, 10, 17])
def test_beta_argmax_is_the_argmax_of_the_beta_draws(num_arms):
    """Thompson sampling's action compares the same draws as ``beta`` (same key), for
    arm counts below, between and above the 16-lane padding."""
    keys = jax.random.split(jax.random.key(2), 300)
    a = jnp.linspace(2.0, 6.0, num_arms)
    b = jnp.linspace(6.0, 2.0, num_arms)
    draws = np.asarray(jax.jit(jax.vmap(sampling.beta, in_axes=(0, None, None)))(keys, a, b))
    actions = np.asarray(
        jax.jit(jax.vmap(sampling.beta_argmax, in_axes=(0, None, None)))(keys, a, b)
    )
    assert actions.dtype == np.int32 and actions.shape == (300,)
    np.testing.assert_array_equal(actions, np.argmax(draws, axis=1))
    assert len(np.unique(actions)) > 1


def test_bad_shapes_give_nan_and_never_hang_the_fallback_loop():
    bad = jnp.array([-1.0, jnp.nan, jnp.inf, 0.0, 2.0], jnp.float32)
    keys = jax.random.split(jax.random.key(0), 4000)  # the shapes of the Gamma checks above
    log_g = np.asarray(_log_gamma(keys, jnp.resize(bad, 50)))
    assert np.all(np.isnan(log_g[:, 0::5])) and np.all(np.isnan(log_g[:, 1::5]))
    assert np.all(np.isnan(log_g[:, 2::5])) and np.all(log_g[:, 3::5] == -np.inf)
    assert np.all(np.isfinite(log_g[:, 4::5]))
