"""Off-policy estimators of a target policy's value from a log, with intervals.

The value ``V(pi) = E_x sum_a pi(a|x) mu(x, a)`` of a target policy ``pi`` from ``n`` logged
rows ``(x_i, a_i, r_i, p_i)``, with weights ``w_i = pi(a_i|x_i) / p_i`` and a reward model
``q(x, a)`` (:mod:`experiments.offpolicy.reward_model`; Dudík, Langford & Li 2011;
Swaminathan & Joachims 2015)::

    IPS    (1/n) sum_i w_i r_i
    SNIPS  sum_i w_i r_i / sum_i w_i
    DM     (1/n) sum_i sum_a pi(a|x_i) q(x_i, a)
    DR     (1/n) sum_i [ sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) ]

IPS and DR are unbiased when the propensities are the logging policy's true probabilities
(DR for any fixed reward model), even when the logging policy learned as it went.

Intervals (``interval = "auto"``, the default), chosen per estimator by their coverage on
simulated logs (``driftsim run ope-check``, which measures it):

* **IPS, DM, DR: BCa bootstrap** (bias-corrected and accelerated; Efron 1987, Efron &
  Tibshirani 1993 ch. 14).  Each is a mean of per-row terms ``t_i``; with ``B`` resampled
  means ``theta*_b`` (resampled row counts, one matrix product for all resamples and
  estimators), the bias correction ``z0 = Phi^-1(#{theta*_b < theta} / B)`` (ties counted
  one half) and the acceleration ``a = sum_i d_i^3 / (6 (sum_i d_i^2)^(3/2))``,
  ``d_i = t_i - mean(t)`` (the empirical influence of a mean: the jackknife's value), the
  interval is the ``alpha_1``, ``alpha_2`` quantiles of the ``theta*_b`` with
  ``alpha_j = Phi(z0 + (z0 + z_j) / (1 - a (z0 + z_j)))``, ``z_j = Phi^-1((1 -+ level) / 2)``.
  Importance weights make the terms skewed (rare rows of weight ``1 / p``); each tail of
  the percentile interval then misses ``O(n^-1/2)`` off its nominal share, BCa's only
  ``O(n^-1)`` (second-order accuracy; Hall 1988).  Measured in ``ope-check`` (1000 logs,
  95%): IPS 92.4% (percentile, B = 200) -> 94.8% (BCa) with the skewed frozen logger.
  BCa needs ``B`` of 1000 or so: at ``B = 200`` its tail quantiles are noisy and it
  loses 1-2 points of coverage.
* **SNIPS: Wilson score interval at Kish's effective sample size** (Wilson 1927; Kish
  1965; Korn & Graubard 1998 for weighted proportions).  SNIPS is a weighted mean of the
  rewards, ``sum_i w_i r_i / sum_i w_i``: with rewards in ``[lo, hi]`` mapped to
  ``[0, 1]`` (``p = (SNIPS - lo) / (hi - lo)``) the interval is the set of ``theta`` with
  ``(p - theta)^2 <= z^2 theta (1 - theta) / n_eff``, ``n_eff = (sum_i w_i)^2 /
  sum_i w_i^2``, ``z = Phi^-1((1 + level) / 2)``::

      (p + z^2 / (2 n_eff)  -+  z sqrt(p (1 - p) / n_eff + z^2 / (4 n_eff^2))) / (1 + z^2 / n_eff)

  mapped back to ``[lo, hi]``.  Why not a bootstrap or the delta method: with heavy
  weights SNIPS rests on a few heavily weighted rows (``n_eff`` of 26 out of 400 rows in
  ``ope-check``'s skewed logger); when their rewards happen to agree (all clicks), every
  variance *estimated from the rows* is near zero and those intervals miss (percentile,
  delta method, BCa and bootstrap-t all cover 83-87% at a nominal 95% there; Wilson
  96-97%).  Wilson's variance ``theta (1 - theta)`` is the null hypothesis's own, not
  estimated: exact for Bernoulli rewards of one common mean, an upper bound for rewards in
  ``[lo, hi]`` of mean ``theta`` (Bhatia-Davis).  Caveat: it ignores how the mean
  reward varies between rows; where the target's value differs much between heavily and
  lightly weighted rows it can cover less than nominal.  The range is ``reward_range``
  (the environment's declared one: clicks give ``(0, 1)``), else the log's observed
  ``[min r, max r]``.
* **DM**'s interval holds the fitted reward model fixed: it measures only how the mean of
  the model's predictions varies with the contexts.  DM is biased by the model's error,
  which no interval of this kind sees; its coverage can be far below nominal (0-3% in
  ``ope-check``).  It is not a confidence interval for ``V(pi)``.

``interval = "percentile"``: the percentile bootstrap for all four (the former
behaviour, for comparison).  Every interval treats the rows as independent; with a
logging policy that learns as it logs the IPS and DR terms minus their conditional means
are martingale differences (the propensities are the policy's given the past, and DR's
reward model is fitted on earlier blocks), so the estimates stay unbiased and the
intervals are asymptotically valid when the policy settles (martingale CLT; Hall & Heyde
1980), with no finite-sample guarantee: ``ope-check`` measures what holds.  The intervals
are for ``V(pi)`` over the context distribution; ``ope-check``'s truth is the value on the
log's own contexts, for which they are slightly wide (the contexts' own spread).

References: B. Efron, "Better bootstrap confidence intervals", JASA 82 (1987); B. Efron &
R. Tibshirani, "An Introduction to the Bootstrap" (1993); E. B. Wilson, "Probable
inference, the law of succession, and statistical inference", JASA 22 (1927); L. Kish,
"Survey Sampling" (1965); E. L. Korn & B. I. Graubard, "Confidence intervals for
proportions with small expected number of positive counts estimated from survey data",
Survey Methodology 24 (1998); R. Bhatia & C. Davis, "A better bound on the variance",
Amer. Math. Monthly 107 (2000); P. Hall, "Theoretical comparison of bootstrap confidence
intervals", Ann. Statist. 16 (1988); P. Hall & C. C. Heyde, "Martingale Limit Theory and
Its Application" (1980).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from experiments.offpolicy.logs import BanditLog
from experiments.offpolicy.reward_model import RewardPredictions, fit_reward_model
from experiments.schema import LOG_INTERVALS
from simulator.params import ConfigError

Array = jax.Array

#: ``interval`` values of :func:`estimate` (``[log] interval``): ``auto`` (BCa for IPS, DM,
#: DR; Wilson at Kish's effective sample size for SNIPS) or ``percentile`` (the percentile
#: bootstrap).
INTERVALS = LOG_INTERVALS
#: The interval each estimator gets with ``interval = "auto"``.
AUTO_INTERVALS = {"ips": "bca", "snips": "wilson", "dm": "bca", "dr": "bca"}


def importance_weights(log: BanditLog, target: Array) -> Array:
    """``(n,)`` ``w_i = pi(a_i | x_i) / p_i`` for target probabilities ``target (n, K)``."""
    chosen = jnp.take_along_axis(target, log.action[:, None], axis=1)[:, 0]
    return chosen / log.propensity


def ips(log: BanditLog, target: Array) -> Array:
    """Inverse propensity scoring: ``(1/n) sum_i w_i r_i`` (Horvitz & Thompson 1952)."""
    return jnp.mean(importance_weights(log, target) * log.reward)


def snips(log: BanditLog, target: Array) -> Array:
    """Self-normalised IPS: ``sum_i w_i r_i / sum_i w_i`` (Swaminathan & Joachims 2015)."""
    w = importance_weights(log, target)
    return jnp.sum(w * log.reward) / jnp.sum(w)


def direct_method(target: Array, predictions: Array) -> Array:
    """Direct method: ``(1/n) sum_i sum_a pi(a|x_i) q(x_i, a)``."""
    return jnp.mean(jnp.sum(target * predictions, axis=-1))


def doubly_robust(log: BanditLog, target: Array, predictions: Array) -> Array:
    """Doubly robust: DM plus the IPS-weighted residual of the logged action (Dudík et al.
    2011): ``(1/n) sum_i [sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))]``."""
    return jnp.mean(_dr_terms(log, target, predictions))


def _dr_terms(log: BanditLog, target: Array, predictions: Array) -> Array:
    w = importance_weights(log, target)
    q_logged = jnp.take_along_axis(predictions, log.action[:, None], axis=1)[:, 0]
    return jnp.sum(target * predictions, axis=-1) + w * (log.reward - q_logged)


class Estimate(NamedTuple):
    """One estimate with its interval.

    Attributes:
      value: the estimate on the whole log.
      low, high: its interval (see the module docstring for which, per estimator).
      std_error: the standard deviation of the bootstrap estimates.
    """

    value: Array
    low: Array
    high: Array
    std_error: Array


class Estimates(NamedTuple):
    """The four estimators of one target policy on one log."""

    ips: Estimate
    snips: Estimate
    dm: Estimate
    dr: Estimate


ESTIMATORS = Estimates._fields


def bootstrap_counts(key: Array, num_rows: int, num_bootstrap: int) -> Array:
    """``(B, n)`` float32: how often each row is drawn in each of ``B`` resamples of ``n`` rows
    with replacement (one ``(B, n)`` draw of row indices, counted by a scatter-add)."""
    index = jax.random.randint(key, (num_bootstrap, num_rows), 0, num_rows)
    resample = jnp.arange(num_bootstrap)[:, None]
    return jnp.zeros((num_bootstrap, num_rows), jnp.float32).at[resample, index].add(1.0)


def bca_levels(terms: Array, resampled: Array, value: Array, level: float) -> Array:
    """``(2,)`` the BCa quantile levels ``alpha_1, alpha_2`` of a mean of ``terms (n,)``
    whose bootstrap means are ``resampled (B,)`` and whose estimate is ``value``.

    ``z0 = Phi^-1(#{theta*_b < value} / B)`` (ties count one half, the fraction kept in
    ``[1 / (2B), 1 - 1 / (2B)]``), ``a = sum d^3 / (6 (sum d^2)^(3/2))`` with
    ``d = terms - mean(terms)`` (0 when every term is equal), and
    ``alpha_j = Phi(z0 + (z0 + z_j) / (1 - a (z0 + z_j)))``; where ``1 - a (z0 + z_j) <= 0``
    (a huge acceleration) the level falls back to the extreme, 0 or 1.
    """
    num_bootstrap = resampled.shape[0]
    below = jnp.mean(resampled < value) + 0.5 * jnp.mean(resampled == value)
    below = jnp.clip(below, 0.5 / num_bootstrap, 1.0 - 0.5 / num_bootstrap)
    z0 = norm.ppf(below)
    d = terms - jnp.mean(terms)
    spread = jnp.sum(d * d)
    accel = jnp.where(spread > 0, jnp.sum(d**3) / (6.0 * jnp.maximum(spread, 1e-30) ** 1.5), 0.0)
    z = norm.ppf(jnp.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
    denominator = 1.0 - accel * (z0 + z)
    adjusted = norm.cdf(z0 + (z0 + z) / jnp.where(denominator > 0, denominator, 1.0))
    return jnp.where(denominator > 0, adjusted, jnp.array([0.0, 1.0]))


def wilson_snips(
    weights: Array, reward: Array, level: float, reward_range: tuple[float, float] | None = None
) -> tuple[Array, Array]:
    """SNIPS's Wilson score interval at Kish's effective sample size (module docstring).

    Args:
      weights: ``(n,)`` importance weights ``w_i``.
      reward: ``(n,)`` rewards.
      level: the interval's level.
      reward_range: ``(lo, hi)`` bounds of the rewards; None takes the log's
        ``[min r, max r]``.

    Returns:
      ``(low, high)``; NaN where ``sum_i w_i = 0`` (SNIPS is undefined).
    """
    if reward_range is None:
        lo, hi = jnp.min(reward), jnp.max(reward)
    else:
        lo, hi = (jnp.asarray(v, jnp.float32) for v in reward_range)
    span = jnp.maximum(hi - lo, 1e-30)
    total = jnp.sum(weights)
    p = jnp.clip((jnp.sum(weights * reward) / total - lo) / span, 0.0, 1.0)
    n_eff = total**2 / jnp.sum(weights**2)
    z2 = NormalDist().inv_cdf((1.0 + level) / 2.0) ** 2
    centre = (p + z2 / (2.0 * n_eff)) / (1.0 + z2 / n_eff)
    half = jnp.sqrt(z2 * p * (1.0 - p) / n_eff + z2**2 / (4.0 * n_eff**2)) / (1.0 + z2 / n_eff)
    return lo + span * (centre - half), lo + span * (centre + half)


def estimate(
    key: Array,
    log: BanditLog,
    target: Array,
    predictions: Array | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
    ridge: Any = 1.0,
    num_blocks: int = 4,
    interval: str = "auto",
    reward_range: tuple[float, float] | None = None,
) -> Estimates:
    """IPS, SNIPS, DM and DR of the target policy with their intervals.

    Args:
      key: the resampling key.
      log: the logged data (propensities of the logging policy).
      target: ``(n, K)`` the target policy's probabilities on each logged context.
      predictions: ``(n, K)`` predictions of a reward model fixed in advance (used by DM
        and DR), a :class:`RewardPredictions`, or None to fit the ridge model
        (:func:`fit_reward_model`: per action on the context features, or shared when the
        log has item features).
      num_bootstrap: B resamples (static).
      level: the interval's level in (0, 1) (a Python float).
      ridge: the reward model's penalty.
      num_blocks: blocks of the sequential fit of DR's reward model (static).
      interval: ``"auto"`` (BCa for IPS, DM and DR; Wilson at Kish's effective sample size
        for SNIPS) or ``"percentile"`` (the percentile bootstrap for all); see the module
        docstring.
      reward_range: ``(lo, hi)`` known bounds of the rewards (SNIPS's Wilson interval);
        None takes the log's observed range.

    Returns:
      :class:`Estimates`; every resample reuses the fitted reward model.  Pure and
      vmappable over logs (e.g. ``jax.vmap(estimate, in_axes=(0, 0, 0))``).

    Example::

        est = estimate(jax.random.key(0), log, jnp.full((n, K), 1 / K))
        est.dr.value, est.dr.low, est.dr.high
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level = {level!r}: must be in (0, 1)")
    if interval not in INTERVALS:
        raise ConfigError(f"interval = {interval!r}: unknown; allowed: {', '.join(INTERVALS)}")
    if predictions is None:
        predictions = fit_reward_model(log, ridge, num_blocks)
    if not isinstance(predictions, RewardPredictions):
        predictions = RewardPredictions(dm=predictions, dr=predictions)
    n = log.action.shape[0]
    w = importance_weights(log, target)
    wr = w * log.reward
    dm_terms = jnp.sum(target * predictions.dm, axis=-1)
    dr_terms = _dr_terms(log, target, predictions.dr)
    counts = bootstrap_counts(key, n, num_bootstrap)  # (B, n)
    sums = counts @ jnp.stack([wr, w, dm_terms, dr_terms], axis=1)  # (B, 4): one matmul
    resampled = jnp.stack(
        [sums[:, 0] / n, sums[:, 0] / sums[:, 1], sums[:, 2] / n, sums[:, 3] / n]
    )  # (4, B), in the order of Estimates
    values = jnp.stack(
        [jnp.mean(wr), jnp.sum(wr) / jnp.sum(w), jnp.mean(dm_terms), jnp.mean(dr_terms)]
    )
    percentile = jnp.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    if interval == "percentile":
        q = jnp.broadcast_to(percentile, (4, 2))
    else:  # BCa levels for the means; SNIPS's row is replaced by Wilson's below
        ips_q, dm_q, dr_q = (
            bca_levels(terms, resampled[i], values[i], level)
            for i, terms in ((0, wr), (2, dm_terms), (3, dr_terms))
        )
        q = jnp.stack([ips_q, percentile, dm_q, dr_q])
    bounds = jax.vmap(jnp.quantile)(resampled, q)  # (4, 2)
    low, high = bounds[:, 0], bounds[:, 1]
    if interval == "auto":
        snips_low, snips_high = wilson_snips(w, log.reward, level, reward_range)
        low, high = low.at[1].set(snips_low), high.at[1].set(snips_high)
    std_error = jnp.std(resampled, axis=1, ddof=1)
    return Estimates(*(Estimate(values[i], low[i], high[i], std_error[i]) for i in range(4)))
