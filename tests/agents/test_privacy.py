"""The Gaussian-mechanism accountant against integration, Monte Carlo and known values."""

import math

import numpy as np
import pytest

from agents import privacy
from simulator.params import ConfigError


def delta_by_integration(epsilon, sigma, num_passes=1):
    """delta(eps) = E[(1 - e^(eps - L))_+] with the privacy loss L ~ N(mu^2/2, mu^2),
    mu = sqrt(k)/sigma, integrated on a fine grid (independent of the closed form)."""
    mu = math.sqrt(num_passes) / sigma
    mean, std = mu * mu / 2, mu
    grid = np.linspace(mean - 14 * std, mean + 14 * std, 400_001)
    density = np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    integrand = np.clip(1.0 - np.exp(np.minimum(epsilon - grid, 50.0)), 0.0, None) * density
    return float(np.sum((integrand[1:] + integrand[:-1]) * 0.5 * np.diff(grid)))


@pytest.mark.parametrize(
    "sigma, epsilon", [(0.5, 1.0), (1.0, 0.5), (1.0, 3.0), (2.0, 0.2), (4.0, 1.0)]
)
def test_delta_matches_integral_of_privacy_loss(sigma, epsilon):
    expected = delta_by_integration(epsilon, sigma)
    assert privacy.delta_for_epsilon(epsilon, sigma) == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_delta_known_value():
    # sigma = 1, epsilon = 1: Phi(-1/2) - e Phi(-3/2), from printed normal tables
    expected = 0.3085375387 - math.e * 0.0668072013
    assert privacy.delta_for_epsilon(1.0, 1.0) == pytest.approx(expected, rel=1e-8)


def test_composition_matches_monte_carlo_of_the_mechanism():
    # k releases of o_i ~ N(1, sigma^2) (dataset D) vs N(0, sigma^2) (neighbour D');
    # privacy loss of the composed release: sum_i (2 o_i - 1) / (2 sigma^2).
    rng = np.random.default_rng(0)
    sigma, num_passes, epsilon, n = 2.0, 4, 0.5, 400_000
    outputs = 1.0 + sigma * rng.standard_normal((n, num_passes))
    loss = np.sum((2 * outputs - 1) / (2 * sigma**2), axis=1)
    samples = np.clip(1.0 - np.exp(epsilon - loss), 0.0, None)
    estimate, stderr = samples.mean(), samples.std() / math.sqrt(n)
    exact = privacy.delta_for_epsilon(epsilon, sigma, num_passes=num_passes)
    assert abs(estimate - exact) < 4 * stderr
    # and it is the single mechanism with sigma / sqrt(k)
    assert exact == pytest.approx(privacy.delta_for_epsilon(epsilon, sigma / 2.0), rel=1e-12)


def test_epsilon_inverts_delta_and_grows_with_passes():
    for sigma in (0.7, 1.0, 3.0):
        epsilon = privacy.epsilon_for_delta(1e-5, sigma)
        assert privacy.delta_for_epsilon(epsilon, sigma) == pytest.approx(1e-5, rel=1e-6)
    one, four = (privacy.epsilon_for_delta(1e-5, 1.0, num_passes=k) for k in (1, 4))
    assert 4.37 < one < 4.39 and 9.98 < four < 10.02 and four > one


def test_calibration_beats_the_classical_gaussian_mechanism():
    # Dwork & Roth (2014, Thm A.1): sigma = sqrt(2 ln(1.25/delta)) / epsilon is (eps, delta)-DP
    # for epsilon < 1; the analytic calibration needs less noise (Balle & Wang 2018: 3.73).
    classical = math.sqrt(2 * math.log(1.25 / 1e-5)) / 1.0
    assert privacy.delta_for_epsilon(1.0, classical) <= 1e-5
    analytic = privacy.noise_multiplier_for(1.0, 1e-5)
    assert 3.72 < analytic < 3.74 < classical
    assert privacy.delta_for_epsilon(1.0, analytic) == pytest.approx(1e-5, rel=1e-6)


def test_limits_and_bad_input():
    assert privacy.epsilon_for_delta(1e-5, 0.0) == math.inf
    assert privacy.delta_for_epsilon(0.0, 1e6) < 1e-6
    assert privacy.delta_for_epsilon(200.0, 0.3) == 0.0  # deep tail, no overflow
    guarantee = privacy.privacy_of(2.0, 1e-5, num_passes=9)
    assert guarantee.mu == pytest.approx(1.5) and guarantee.num_passes == 9
    with pytest.raises(ConfigError, match="delta"):
        privacy.epsilon_for_delta(1.5, 1.0)
    with pytest.raises(ConfigError, match="num_passes"):
        privacy.delta_for_epsilon(1.0, 1.0, num_passes=0)
    with pytest.raises(ConfigError, match="noise_multiplier"):
        privacy.delta_for_epsilon(1.0, -1.0)


def test_cycle_passes_counts_the_most_seen_example():
    # seed_example: x = 1..5 cycling; T = 3000 rounds show each point 600 times
    assert privacy.cycle_passes(3000, 5) == 600
    assert privacy.cycle_passes(3001, 5) == 601  # the first point is seen once more
    assert privacy.cycle_passes(4, 5) == 1
    counts = np.bincount(np.arange(3001) % 5)
    assert counts.max() == privacy.cycle_passes(3001, 5)
    with pytest.raises(ConfigError, match="num_examples"):
        privacy.cycle_passes(10, 0)
