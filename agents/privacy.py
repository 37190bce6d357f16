"""Privacy accounting for the Gaussian mechanism: exact ``(epsilon, delta)`` and composition.

A private ``ogd`` update clips one example's gradient to norm ``C`` and adds
``N(0, (sigma C)^2 I)`` noise: a Gaussian mechanism with sensitivity ``C`` and noise
multiplier ``sigma`` (under add/remove-one adjacency; for replace-one the sensitivity is
``2C``, so use ``sigma / 2``).  Its exact privacy profile is the analytic Gaussian
mechanism of Balle & Wang (2018, Theorem 8)::

    delta(epsilon) = Phi(1/(2 sigma) - epsilon sigma) - e^epsilon Phi(-1/(2 sigma) - epsilon sigma)

Composition.  The mechanism is ``mu``-Gaussian differentially private with ``mu = 1/sigma``
(Dong, Roth & Su 2022), and ``k`` Gaussian mechanisms compose *exactly* into one with
``mu = sqrt(k) / sigma``, i.e. noise multiplier ``sigma / sqrt(k)``.  An example seen once
per pass over the data, for ``k`` passes, therefore has ``delta(epsilon)`` of the formula
with ``sigma / sqrt(k)``; the other examples' updates are post-processing.  No
subsampling amplification is claimed.  A stream that cycles through ``n`` examples for
``T`` rounds (``seed_example``: five points) shows its most-seen example
``k = ceil(T / n)`` times (:func:`cycle_passes`); a stream that draws a fresh example every
round has ``k = 1``.

What is covered: the sequence of noisy parameters ``w_1, w_2, ...``.  A prediction
``w_t . x_t`` released before the update on ``x_t`` reads ``x_t`` itself without noise and
is not covered.

``Phi`` is the standard normal CDF, computed with ``math.erfc`` (accurate in the tails)
and a log-space asymptotic form where it underflows.  Plain Python: no scipy, no JAX.

Example::

    epsilon_for_delta(1e-5, noise_multiplier=1.0)                 # one pass: ~4.4
    epsilon_for_delta(1e-5, noise_multiplier=1.0, num_passes=4)   # four passes: ~10.0
    noise_multiplier_for(epsilon=1.0, delta=1e-5)                 # ~3.73 (classical: 4.84)
"""

from __future__ import annotations

import math
from typing import NamedTuple

from simulator.params import ConfigError

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def normal_cdf(x: float) -> float:
    """``Phi(x)``, accurate to relative precision in both tails."""
    return 0.5 * math.erfc(-x / _SQRT2)


def log_normal_cdf(x: float) -> float:
    """``log Phi(x)``, finite for every finite ``x`` (asymptotic series below -30)."""
    if x > -30.0:
        return math.log(normal_cdf(x))
    # Phi(x) = phi(x)/|x| (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...) for x -> -inf
    inv2 = 1.0 / (x * x)
    series = 1.0 - inv2 + 3.0 * inv2**2 - 15.0 * inv2**3
    return -0.5 * x * x - _LOG_SQRT_2PI - math.log(-x) + math.log(series)


def _check(noise_multiplier: float, num_passes: int) -> None:
    if not (isinstance(noise_multiplier, (int, float)) and noise_multiplier >= 0):
        raise ConfigError(f"noise_multiplier = {noise_multiplier!r}: must be a number >= 0")
    if isinstance(num_passes, bool) or not isinstance(num_passes, int) or num_passes < 1:
        raise ConfigError(f"num_passes = {num_passes!r}: must be an integer >= 1")


def effective_noise_multiplier(noise_multiplier: float, num_passes: int = 1) -> float:
    """The single Gaussian mechanism equal to ``num_passes`` compositions: ``sigma / sqrt(k)``."""
    _check(noise_multiplier, num_passes)
    return noise_multiplier / math.sqrt(num_passes)


def cycle_passes(num_steps: int, num_examples: int) -> int:
    """``k = ceil(T / n)``: the updates the most-seen example enters when a stream cycles
    through ``n`` examples for ``T`` rounds (the first ``T mod n`` are seen once more)."""
    for field, value in (("num_steps", num_steps), ("num_examples", num_examples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{field} = {value!r}: must be an integer >= 1")
    return -(-num_steps // num_examples)


def gaussian_dp_mu(noise_multiplier: float, num_passes: int = 1) -> float:
    """``mu = sqrt(k) / sigma`` of Gaussian differential privacy (inf when sigma = 0)."""
    sigma = effective_noise_multiplier(noise_multiplier, num_passes)
    return math.inf if sigma == 0 else 1.0 / sigma


def delta_for_epsilon(epsilon: float, noise_multiplier: float, num_passes: int = 1) -> float:
    """The smallest ``delta`` such that the mechanism is ``(epsilon, delta)``-DP.

    Args:
      epsilon: ``>= 0``.
      noise_multiplier: ``sigma`` (noise standard deviation / sensitivity).
      num_passes: ``k`` compositions of the mechanism.
    """
    if not epsilon >= 0:
        raise ConfigError(f"epsilon = {epsilon!r}: must be >= 0")
    sigma = effective_noise_multiplier(noise_multiplier, num_passes)
    if sigma == 0:
        return 1.0
    if math.isinf(sigma):
        return 0.0
    if math.isinf(epsilon):
        return 0.0
    a = 0.5 / sigma - epsilon * sigma
    b = -0.5 / sigma - epsilon * sigma
    first = normal_cdf(a)
    second = math.exp(epsilon + log_normal_cdf(b)) if epsilon + log_normal_cdf(b) > -745 else 0.0
    return min(max(first - second, 0.0), 1.0)


def epsilon_for_delta(delta: float, noise_multiplier: float, num_passes: int = 1) -> float:
    """The smallest ``epsilon`` such that the mechanism is ``(epsilon, delta)``-DP (bisection).

    Returns 0 when ``delta`` already covers ``epsilon = 0`` and ``inf`` when ``sigma = 0``.
    """
    if not 0 < delta < 1:
        raise ConfigError(f"delta = {delta!r}: must be in (0, 1)")
    sigma = effective_noise_multiplier(noise_multiplier, num_passes)
    if sigma == 0:
        return math.inf
    if delta_for_epsilon(0.0, sigma) <= delta:
        return 0.0
    low, high = 0.0, 1.0
    while delta_for_epsilon(high, sigma) > delta:
        low, high = high, 2.0 * high
        if high > 1e6:
            return math.inf
    for _ in range(200):  # delta(epsilon) is decreasing: bisect to float precision
        mid = 0.5 * (low + high)
        if delta_for_epsilon(mid, sigma) > delta:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return high


def noise_multiplier_for(epsilon: float, delta: float, num_passes: int = 1) -> float:
    """The smallest ``sigma`` whose ``num_passes`` compositions are ``(epsilon, delta)``-DP."""
    if not epsilon >= 0:
        raise ConfigError(f"epsilon = {epsilon!r}: must be >= 0")
    if not 0 < delta < 1:
        raise ConfigError(f"delta = {delta!r}: must be in (0, 1)")
    _check(1.0, num_passes)
    low, high = 0.0, 1.0
    while delta_for_epsilon(epsilon, high, num_passes) > delta:
        low, high = high, 2.0 * high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if delta_for_epsilon(epsilon, mid, num_passes) > delta:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * high:
            break
    return high


class PrivacyGuarantee(NamedTuple):
    """The ``(epsilon, delta)`` of an example seen ``num_passes`` times.

    Attributes:
      epsilon: the smallest epsilon at ``delta``.
      delta: the target delta.
      noise_multiplier: sigma of one update.
      num_passes: k.
      mu: the Gaussian-DP parameter ``sqrt(k) / sigma``.
    """

    epsilon: float
    delta: float
    noise_multiplier: float
    num_passes: int
    mu: float


def privacy_of(
    noise_multiplier: float, delta: float = 1e-5, num_passes: int = 1
) -> PrivacyGuarantee:
    """The guarantee of private ``ogd`` with noise multiplier ``sigma`` over ``k`` passes.

    Example::

        privacy_of(1.0, delta=1e-5, num_passes=1).epsilon
    """
    return PrivacyGuarantee(
        epsilon=epsilon_for_delta(delta, noise_multiplier, num_passes),
        delta=delta,
        noise_multiplier=noise_multiplier,
        num_passes=num_passes,
        mu=gaussian_dp_mu(noise_multiplier, num_passes),
    )
