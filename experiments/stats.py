"""Statistics over seeds: confidence intervals, paired differences, the summary table.

Every function here is a pure function on numpy arrays (no JAX, no scipy).  The seeds axis
is reduced; a non-finite value (NaN or inf: a diverged run) is left out, so ``n`` counts the
finite runs behind each mean.

* :func:`mean_ci` -- mean with a Student-t (or normal) confidence interval,

      x̄ ± t_{1-(1-level)/2, n-1} · s / √n,    s² = Σ (x_i - x̄)² / (n - 1).

* :func:`bootstrap_ci` -- percentile bootstrap interval of the mean (Efron & Tibshirani
  1993, ch. 13): resample the n seeds with replacement B times, take the (1-level)/2 and
  1-(1-level)/2 quantiles of the B resampled means.
* :func:`paired_difference` -- per-seed differences ``a_i - b_i`` of two agents that shared
  their seeds (common random numbers), with their t interval: the seed noise common to both
  agents cancels, so the interval is much narrower than the two marginal ones.
* :func:`summary_rows` / :func:`paired_rows` -- the rows of ``summary.csv``.

The Student-t quantile is Hill's (1970) approximation (Algorithm 396) polished by Newton
steps on the exact t distribution function for integer degrees of freedom (Abramowitz &
Stegun 1964, 26.7.3-4), so it is accurate to machine precision for the integer ``n - 1``
an interval needs.

Example::

    ci = mean_ci(results["ucb"].cumulative_regret()[:, :, -1], axis=1)   # per point
    ci.mean, ci.low, ci.high, ci.n

References: G. W. Hill, "Algorithm 396: Student's t-quantiles", CACM 13(10), 1970;
B. Efron & R. Tibshirani, *An Introduction to the Bootstrap*, 1993.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import warnings
from typing import Any, NamedTuple

import numpy as np

from simulator.params import ConfigError

# ---------------------------------------------------------------------------------------
# Quantiles
# ---------------------------------------------------------------------------------------

# Acklam's rational approximation of the normal quantile (relative error < 1.2e-9),
# refined below by Halley steps on math.erfc.
_A = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
      -30.66479806614716, 2.506628277459239)  # fmt: skip
_B = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
      -13.28068155288572)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def _check_probability(p: float, name: str = "p") -> float:
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ConfigError(f"{name} = {p!r}: must be in (0, 1)")
    return p


def _check_level(level: float) -> float:
    return _check_probability(level, "level")


@functools.lru_cache(maxsize=1024)
def normal_quantile(p: float) -> float:
    """The standard normal quantile ``Φ⁻¹(p)`` for ``0 < p < 1`` (to about 1e-15).

    Example::

        normal_quantile(0.975)   # 1.959963984540054
    """
    p = _check_probability(p)
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        x = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        )
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    for _ in range(2):  # Halley refinement on the exact distribution function
        e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
        u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
        x = x - u / (1.0 + 0.5 * x * u)
    return x


def t_cdf(t: float, df: int) -> float:
    """The Student-t distribution function ``P(T <= t)`` for an integer ``df >= 1``.

    Exact finite series (Abramowitz & Stegun 1964, 26.7.3-4) with ``θ = atan(t / √df)``:
    ``A = (2/π)(θ + sinθ Σ cos^{2k+1}θ ...)`` for odd df, ``A = sinθ Σ cos^{2k}θ ...`` for
    even df, where ``A = P(|T| < |t|)``.
    """
    df = int(df)
    if df < 1:
        raise ConfigError(f"df = {df}: must be an integer >= 1")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    c2 = c * c
    if df % 2:  # odd: (2/π)[θ + sinθ (cosθ + 2/3 cos³θ + 2·4/(3·5) cos⁵θ + ...)]
        total, term = 0.0, c
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        a = (2.0 / math.pi) * (theta + s * total) if df > 1 else (2.0 / math.pi) * theta
    else:  # even: sinθ [1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + ...]
        total, term = 0.0, 1.0
        for k in range(1, df // 2 + 1):
            total += term
            term *= c2 * (2 * k - 1) / (2 * k)
        a = s * total
    return 0.5 + 0.5 * math.copysign(min(a, 1.0), t)


def _t_pdf(t: float, df: float) -> float:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))


def _hill_quantile(p: float, df: float) -> float:
    """Hill (1970), Algorithm 396: the upper quantile for a two-sided tail probability."""
    tail = 2.0 * min(p, 1.0 - p)  # P(|T| > t)
    if df == 1:
        t = 1.0 / math.tan(tail * math.pi / 2)
    elif df == 2:
        t = math.sqrt(2.0 / (tail * (2.0 - tail)) - 2.0)
    else:
        a = 1.0 / (df - 0.5)
        b = 48.0 / (a * a)
        c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36
        d = ((94.5 / (b + c) - 3.0) / b + 1.0) * math.sqrt(a * math.pi / 2) * df
        y = (d * tail) ** (2.0 / df)
        if y > 0.05 + a:  # asymptotic inverse expansion about the normal
            x = normal_quantile(0.5 * tail)
            y = x * x
            if df < 5:
                c += 0.3 * (df - 4.5) * (x + 0.6)
            c = (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b + c
            y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x
            y = math.expm1(a * y * y)
        else:
            y = (
                (1.0 / (((df + 6.0) / (df * y) - 0.089 * d - 0.822) * (df + 2.0) * 3.0)
                 + 0.5 / (df + 4.0)) * y - 1.0
            ) * (df + 1.0) / (df + 2.0) + 1.0 / y  # fmt: skip
        t = math.sqrt(df * y)
    return t if p >= 0.5 else -t


@functools.lru_cache(maxsize=4096)
def _t_quantile_scalar(p: float, df: float) -> float:
    if math.isinf(df):
        return normal_quantile(p)
    t = _hill_quantile(p, df)
    if float(df).is_integer():  # polish on the exact distribution function
        for _ in range(4):
            step = (t_cdf(t, int(df)) - p) / _t_pdf(t, df)
            t -= step
            if abs(step) <= 1e-14 * max(1.0, abs(t)):
                break
    return t


def t_quantile(p: float, df: Any) -> Any:
    """The Student-t quantile ``t_{p, df}``: ``P(T <= t) = p``.

    Args:
      p: probability in (0, 1).
      df: degrees of freedom > 0, a scalar or an array (``inf`` gives the normal quantile).
        Integer df are exact to about 1e-13; other df use Hill's approximation (~1e-6).

    Returns:
      A float for a scalar ``df``, else an array of ``df``'s shape (NaN where df <= 0 or NaN).

    Example::

        t_quantile(0.975, 9)   # 2.2621571627...
    """
    p = _check_probability(p)
    df_arr = np.asarray(df, dtype=np.float64)
    if df_arr.ndim == 0:
        d = float(df_arr)
        return _t_quantile_scalar(p, d) if d > 0 else math.nan
    out = np.full(df_arr.shape, np.nan)
    for d in np.unique(df_arr[df_arr > 0]):  # few distinct df: one scalar solve each
        out[df_arr == d] = _t_quantile_scalar(p, float(d))
    return out


# ---------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------


class Interval(NamedTuple):
    """A mean over seeds with a confidence interval.

    Attributes:
      mean: mean of the finite values (NaN where there are none).
      low, high: interval bounds (NaN where fewer than 2 finite values).
      n: number of finite values behind each mean (int).
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray


def _finite_stats(x: np.ndarray, axis: int):
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    n = finite.sum(axis=axis)
    values = np.where(finite, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=axis) / n
        centred = np.where(finite, x - np.expand_dims(mean, axis), 0.0)
        var = (centred**2).sum(axis=axis) / (n - 1)
    var = np.where(n >= 2, var, np.nan)
    return mean, var, n


def mean_ci(x: Any, axis: int = 0, level: float = 0.95, method: str = "t") -> Interval:
    """Mean over ``axis`` (the seeds) with a confidence interval, ignoring non-finite runs.

    ``mean ± q · s / √n`` with ``q = t_{(1+level)/2, n-1}`` (``method="t"``, exact for
    normal data) or ``q = z_{(1+level)/2}`` (``method="normal"``, too narrow for few seeds).

    Args:
      x: array with the seeds along ``axis``, e.g. ``(points, seeds, steps)`` with ``axis=1``
        or ``(seeds, steps)`` with ``axis=0``.  NaN / inf (diverged runs) are left out.
      axis: the seeds axis.
      level: confidence level in (0, 1).
      method: ``"t"`` (Student) or ``"normal"``.

    Returns:
      :class:`Interval` of arrays with ``axis`` removed.

    Example::

        ci = mean_ci(np.array([1.0, 2.0, 3.0]))   # mean 2, t_{0.975,2} = 4.303 -> [-0.48, 4.48]
    """
    level = _check_level(level)
    mean, var, n = _finite_stats(x, axis)
    p = 0.5 + level / 2
    if method == "t":
        q = t_quantile(p, n - 1)
    elif method == "normal":
        q = normal_quantile(p)
    else:
        raise ConfigError(f"method = {method!r}: must be one of 't', 'normal'")
    with np.errstate(invalid="ignore"):
        half = q * np.sqrt(var / n)
    return Interval(mean=mean, low=mean - half, high=mean + half, n=n)


def wilson_interval(successes: Any, n: Any, level: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a binomial proportion (Wilson 1927), numpy or jax arrays.

    With ``p = successes / n`` and ``z`` the normal quantile of ``(1 + level) / 2``::

        centre = (p + z² / 2n) / (1 + z² / n)
        half   = z / (1 + z² / n) · sqrt(p (1 - p) / n + z² / 4n²)

    It stays inside [0, 1] and keeps a width when there are no successes (a click-through
    rate from a few dozen clicks), where the normal interval ``p ± z sqrt(p(1-p)/n)``
    collapses to a point or crosses zero.

    Returns: ``(low, high)``.

    Example::

        wilson_interval(0, 120)   # (0.0, 0.031): no click in 120 shows
    """
    z = normal_quantile(0.5 + _check_level(level) / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z / denominator * (p * (1 - p) / n + z**2 / (4 * n**2)) ** 0.5
    return centre - half, centre + half


def bootstrap_ci(
    x: Any,
    level: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
    *,
    axis: int = 0,
    max_elements: int = 2**24,
) -> Interval:
    """Percentile bootstrap interval of the mean over ``axis`` (the seeds).

    For each cell, the ``n`` finite values are resampled with replacement
    ``num_resamples`` times; the interval is the ``(1-level)/2`` and ``(1+level)/2``
    quantiles of the resampled means.  The same uniform draws ``u (B, n_max)`` serve every
    cell (index ``floor(u · n_cell)``), so results do not depend on how cells are batched.

    Args:
      x: array with the seeds along ``axis``; non-finite values are left out.
      level: confidence level in (0, 1).
      num_resamples: B.
      seed: seed of the resampling (numpy ``default_rng``).
      axis: the seeds axis (keyword only).
      max_elements: cells are processed in batches of at most this many resampled values.

    Returns:
      :class:`Interval` with ``axis`` removed (``low = high = mean`` for one finite value).

    Example::

        ci = bootstrap_ci(final_regret, axis=1, num_resamples=2000, seed=0)
    """
    level = _check_level(level)
    if int(num_resamples) < 1:
        raise ConfigError(f"num_resamples = {num_resamples!r}: must be an integer >= 1")
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    shape, num_seeds = x.shape[:-1], x.shape[-1]
    cells = x.reshape(-1, num_seeds)
    finite = np.isfinite(cells)
    n = finite.sum(axis=1)
    # finite values first in each row (stable), so indices < n_cell hit finite values only
    order = np.argsort(~finite, axis=1, kind="stable")
    packed = np.take_along_axis(np.where(finite, cells, 0.0), order, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = packed.sum(axis=1) / n
    low = np.full(len(cells), np.nan)
    high = np.full(len(cells), np.nan)
    if num_seeds and len(cells):
        means = _resampled_means(packed, n, int(num_resamples), seed, int(max_elements))
        ok = n >= 1
        lo, hi = np.quantile(means[ok], [(1 - level) / 2, (1 + level) / 2], axis=1)
        low[ok], high[ok] = lo, hi
    return Interval(
        mean=mean.reshape(shape),
        low=low.reshape(shape),
        high=high.reshape(shape),
        n=n.reshape(shape),
    )


#: Resampled values (``B · S``) above which :func:`bootstrap_ci` spreads its blocks over
#: threads; below it a thread costs more than it saves.
_THREADED_RESAMPLES = 2**22


def _resampled_means(
    packed: np.ndarray,
    n: np.ndarray,
    num_resamples: int,
    seed: int,
    max_elements: int,
    workers: int | None = None,
) -> np.ndarray:
    """The ``(cells, B)`` bootstrap means behind :func:`bootstrap_ci`.

    ``packed (cells, S)`` holds each cell's ``n`` finite values first.  Resample ``b`` of a
    cell draws the indices ``min(floor(u_bj · n), n - 1)`` for ``j < S`` from one row of
    uniforms ``u (B, S)`` of ``default_rng(seed)`` and averages the first ``n`` draws (the
    sum runs over all ``S`` positions with zeros past ``n``, so the rounding does not
    depend on the batching).  Cells with the same ``n`` share their indices.

    The rows come in blocks of ``max_elements // (S · workers)``.  Block ``k`` is drawn by
    its own PCG64 advanced to its first number (``advance(first_row · S)``: one 64-bit
    output per double), so the blocks can run in parallel threads (numpy releases the GIL
    while it fills, gathers and sums) and still give the numbers of one sequential
    ``rng.random((B, S))``.  Memory stays near ``max_elements`` values per array.
    """
    num_cells, num_seeds = packed.shape
    if workers is None:
        workers = 1
        if num_resamples * num_seeds >= _THREADED_RESAMPLES:
            workers = min(
                8,
                len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1,
            )
    rows = max(1, min(num_resamples, max_elements // (num_seeds * workers)))
    batch = max(1, max_elements // (rows * num_seeds * workers))
    groups = [(int(count), np.flatnonzero(n == count)) for count in np.unique(n[n >= 1])]
    start_state = np.random.default_rng(seed).bit_generator.state
    means = np.full((num_cells, num_resamples), np.nan)

    def block(first: int) -> None:
        generator = np.random.PCG64()
        generator.state = start_state
        generator.advance(first * num_seeds)
        u = np.random.Generator(generator).random((min(rows, num_resamples - first), num_seeds))
        last = first + len(u)
        scaled = np.empty_like(u)
        for count, members in groups:
            index = np.floor(np.multiply(u, count, out=scaled), out=scaled).astype(np.intp)
            np.minimum(index, count - 1, out=index)
            for begin in range(0, len(members), batch):
                chosen = members[begin : begin + batch]
                draws = np.take(packed[chosen], index, axis=1)  # (c, b, S)
                draws[..., count:] = 0.0
                means[chosen, first:last] = draws.sum(axis=2) / count

    firsts = range(0, num_resamples, rows)
    if workers == 1 or len(firsts) == 1:
        for first in firsts:
            block(first)
    else:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(block, firsts))
    return means


def paired_difference(a: Any, b: Any, axis: int = 0, level: float = 0.95) -> Interval:
    """Mean per-seed difference ``a_i - b_i`` with its t interval (common random numbers).

    Seed ``i`` of ``a`` and of ``b`` saw the same world, so the difference removes the
    noise they share.  A pair where either value is non-finite (diverged) is left out.

    Args:
      a, b: arrays of the same shape with the seeds along ``axis``.
      axis: the seeds axis.
      level: confidence level.

    Returns:
      :class:`Interval` of ``mean(a - b)``; ``n`` counts the finite pairs.

    Example::

        d = paired_difference(final_ts, final_ucb)   # d.high < 0: TS has less regret
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ConfigError(f"paired_difference: shapes {a.shape} and {b.shape} must be equal")
    with np.errstate(invalid="ignore"):
        d = a - b
    return mean_ci(d, axis=axis, level=level)


# ---------------------------------------------------------------------------------------
# Per-run summaries of a Results object
# ---------------------------------------------------------------------------------------

_CORE_METRICS = ("reward", "regret", "optimal")
#: Metrics of a state (the users', the catalog's) whose value at the horizon is reported
#: too (``final_<name>``): the feedback-loop snapshots and coverage.
FINAL_METRICS = ("user_drift", "homogeneity", "coverage", "exposure_gini", "popularity_bias")


def cumulative_regret(regret: Any, record_every: int = 1) -> np.ndarray:
    """``cumsum(regret · record_every)`` along the last axis, accumulated in float64.

    Same definition as ``AgentResults.cumulative_regret()``; float64 keeps long float32
    runs exact enough (a float32 running sum over 10⁷ steps drifts visibly).
    """
    return np.cumsum(np.asarray(regret, dtype=np.float64), axis=-1) * record_every


def _diverged_mask(r: Any, shape: tuple[int, int]) -> np.ndarray:
    diverged = getattr(r, "diverged", None)
    if diverged is None:
        return np.zeros(shape, dtype=bool)
    return np.broadcast_to(np.asarray(diverged, dtype=bool), shape)


def _metrics(r: Any) -> dict[str, np.ndarray]:
    metrics = getattr(r, "metrics", None)
    if metrics is None:
        metrics = {m: getattr(r, m) for m in _CORE_METRICS if hasattr(r, m)}
    return {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}


def _time_mean(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Per-run time average ``(points, seeds)``; NaN for diverged runs."""
    with np.errstate(invalid="ignore"):
        per_run = values.mean(axis=-1)
    return np.where(bad, np.nan, per_run)


def _seed_mean(x: np.ndarray) -> np.ndarray:
    return mean_ci(x, axis=1).mean


def point_keys(results: Any) -> list[str]:
    """Every swept key over all agents, in order of first appearance."""
    keys: dict[str, None] = {}
    for label in results.agents:
        for point in results[label].points:
            keys.update(dict.fromkeys(point))
    return list(keys)


def reward_kind(config: dict | None) -> str:
    """The kind of the experiment's rewards (``"click"``, ``"bounded"`` or ``"real"``), as
    its environment declared it (``config["capabilities"]["env"]["reward"]``, stored by
    :func:`experiments.run`); ``"real"`` for a folder written before capabilities were
    stored.  Never rebuilds the environment."""
    spec = ((config or {}).get("capabilities") or {}).get("env") or {}
    kind = (spec.get("reward") or {}).get("kind", "real")
    return kind if isinstance(kind, str) else "real"


def run_summaries(results: Any) -> dict[str, dict[str, np.ndarray]]:
    """Per-run scalars of every agent: ``{label: {name: (points, seeds) array}}``.

    Names: ``final_regret`` (cumulative regret at the horizon), ``avg_regret`` (final / T),
    ``regret_auc`` (area under the cumulative-regret curve over ``[0, T]`` divided by T, a
    right Riemann sum over the recorded values), ``avg_reward``, ``ctr`` (the same mean
    reward, named the click-through rate, when the environment pays clicks: see
    :func:`reward_kind`), ``pct_optimal`` (100 × mean of ``optimal``),
    ``final_hindsight_regret`` (where ``hindsight_regret`` was logged: the cumulative regret
    against the best fixed arm in hindsight at the horizon), ``avg_<metric>`` for every
    other metric (e.g. ``avg_loss``, ``avg_param_error``), and ``final_<metric>`` (the last
    stored value) for the metrics of state in :data:`FINAL_METRICS` (``user_drift``,
    ``homogeneity``, ``coverage``, ``exposure_gini``, ``popularity_bias``).  A diverged run (``diverged`` or
    a non-finite value) is NaN in every entry; a metric other than reward, regret and
    optimal that is NaN throughout a run is one its point does not log (``click_3`` of a
    two-position slate), not a divergence.
    """
    steps = np.asarray(results.steps, dtype=np.float64)
    record_every = int(getattr(results, "record_every", 1))
    horizon = float(steps[-1]) if steps.size else math.nan
    widths = np.diff(steps, prepend=0.0)
    clicks = reward_kind(getattr(results, "config", None)) == "click"
    out: dict[str, dict[str, np.ndarray]] = {}
    for label in results.agents:
        r = results[label]
        metrics = _metrics(r)
        any_metric = next(iter(metrics.values()))
        shape = any_metric.shape[:2]
        bad = _diverged_mask(r, shape).copy()
        for name, values in metrics.items():
            finite = np.isfinite(values)
            if name not in _CORE_METRICS:  # wholly NaN: a metric this point does not log
                finite |= ~finite.any(axis=-1, keepdims=True)
            bad |= ~finite.all(axis=-1)
        rows: dict[str, np.ndarray] = {}
        if "regret" in metrics:
            cum = cumulative_regret(metrics["regret"], record_every)
            final = np.where(bad, np.nan, cum[..., -1])
            rows["final_regret"] = final
            rows["avg_regret"] = final / horizon
            with np.errstate(invalid="ignore"):
                auc = (cum * widths).sum(axis=-1) / horizon
            rows["regret_auc"] = np.where(bad, np.nan, auc)
        if "reward" in metrics:
            rows["avg_reward"] = _time_mean(metrics["reward"], bad)
            if clicks:
                rows["ctr"] = rows["avg_reward"]
        if "optimal" in metrics:
            rows["pct_optimal"] = 100.0 * _time_mean(metrics["optimal"], bad)
        if "hindsight_regret" in metrics:
            cum = cumulative_regret(metrics["hindsight_regret"], record_every)
            rows["final_hindsight_regret"] = np.where(bad, np.nan, cum[..., -1])
        for name, values in metrics.items():
            if name not in _CORE_METRICS:
                rows[f"avg_{name}"] = _time_mean(values, bad)
            if name in FINAL_METRICS:
                rows[f"final_{name}"] = np.where(bad, np.nan, values[..., -1])
        rows["diverged"] = bad
        out[label] = rows
    return out


def summary_rows(
    results: Any, level: float = 0.95, num_resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per agent and point: the table of ``summary.csv``.

    Columns (every row has them all, in this order; a swept key an agent does not have is
    None; a value that cannot be computed is NaN):

    * ``label``, then every swept key (``agent.epsilon``, ``env.drift.rate``, ...);
    * ``final_regret``, ``final_regret_ci_low``, ``final_regret_ci_high`` -- mean final
      cumulative regret over the finite seeds with its Student-t interval;
    * ``final_regret_boot_low``, ``final_regret_boot_high`` -- percentile bootstrap interval;
    * ``avg_regret`` (final regret / T), ``regret_auc`` (area under the cumulative-regret
      curve / T), ``avg_reward``, ``ctr`` (click environments), ``pct_optimal``,
      ``final_hindsight_regret`` (fixed-arm environments: regret against the best fixed arm
      in hindsight), ``avg_<metric>`` for other metrics;
    * ``num_diverged``, ``num_seeds``.

    Args:
      results: a Results object (``experiments.load`` / ``experiments.run``).
      level: confidence level of both intervals.
      num_resamples, seed: of the bootstrap.

    Returns:
      A list of dicts of Python scalars (ready for ``csv.DictWriter``).

    Example::

        rows = summary_rows(experiments.load("results/testbed"))
    """
    keys = point_keys(results)
    per_run = run_summaries(results)
    columns: list[str] = []
    table: list[dict[str, Any]] = []
    for label in results.agents:
        r = results[label]
        runs = per_run[label]
        if "final_regret" in runs:
            t_ci = mean_ci(runs["final_regret"], axis=1, level=level)
            boot = bootstrap_ci(
                runs["final_regret"], axis=1, level=level, num_resamples=num_resamples, seed=seed
            )
        means = {
            name: _seed_mean(values)
            for name, values in runs.items()
            if name not in ("final_regret", "diverged")
        }
        for i, point in enumerate(r.points):
            row: dict[str, Any] = {"label": label}
            row.update({k: _scalar(point.get(k)) for k in keys})
            if "final_regret" in runs:
                row["final_regret"] = float(t_ci.mean[i])
                row["final_regret_ci_low"] = float(t_ci.low[i])
                row["final_regret_ci_high"] = float(t_ci.high[i])
                row["final_regret_boot_low"] = float(boot.low[i])
                row["final_regret_boot_high"] = float(boot.high[i])
            for name, mean in means.items():
                row[name] = float(mean[i])
            row["num_diverged"] = int(runs["diverged"][i].sum())
            row["num_seeds"] = int(runs["diverged"].shape[1])
            for name in row:
                if name not in columns:
                    columns.append(name)
            table.append(row)
    tail = ["num_diverged", "num_seeds"]
    order = [c for c in columns if c not in tail] + tail
    return [{c: row.get(c, math.nan) for c in order} for row in table]


def _scalar(value: Any) -> Any:
    """A JSON/CSV-friendly scalar (numpy scalars to Python, sequences to str)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return str(list(np.asarray(value).tolist()))
    return value


def _same(u: Any, v: Any) -> bool:
    try:
        return bool(np.all(np.asarray(u) == np.asarray(v)))
    except (TypeError, ValueError):
        return u == v


def _agree(point: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """Same values on every key both set (None, a field the agent lacks, agrees)."""
    return all(
        _same(point[k], candidate[k])
        for k in point.keys() & candidate.keys()
        if point[k] is not None and candidate[k] is not None
    )


def match_point(point: dict[str, Any], candidates: list[dict[str, Any]]) -> int | None:
    """Index of the candidate point that matches ``point`` (None when none or ambiguous).

    A candidate matches when every key the two share has the same value (None, a field
    the agent does not have, matches anything); among several, the one with exactly the
    same keys and values wins.
    """
    shared = [i for i, c in enumerate(candidates) if _agree(point, c)]
    if len(shared) == 1:
        return shared[0]
    exact = [
        i
        for i in shared
        if candidates[i].keys() == point.keys()
        and all(_same(point[k], candidates[i][k]) for k in point)
    ]
    return exact[0] if len(exact) == 1 else None


class PairingWarning(UserWarning):
    """An agent has no point to pair with the baseline's (see :func:`paired_rows`)."""


def own_keys(config: dict | None, label: str, labels: list[str]) -> set[str]:
    """The point keys (``agent.FIELD``) that ``label`` sweeps under its own spelling
    ``agents.LABEL.FIELD`` (and that no ``agent.FIELD`` key sweeps), read from the stored
    sweep ``config["sweep"]``: each agent's own knob, never compared with another's."""
    sweep = (config or {}).get("sweep") or {}
    if sweep.get("mode") == "list":
        keys = {k for point in sweep.get("points", []) for k in point}
    else:
        keys = {k for k in sweep if k != "mode"}
    own = set()
    for key in keys:
        if key.startswith("agents."):
            rest = key[len("agents.") :]
            owner = max((x for x in labels if rest.startswith(x + ".")), key=len, default=None)
            if owner == label:
                own.add("agent." + rest[len(label) + 1 :])
    return own - keys


def baseline_matches(
    point: dict[str, Any], candidates: list[dict[str, Any]], ignore: Any = ()
) -> list[int]:
    """Indices of the baseline points paired with ``point`` (the rule of
    :func:`paired_rows`); the keys in ``ignore`` are not compared."""
    point = {k: v for k, v in point.items() if k not in ignore}
    candidates = [{k: v for k, v in c.items() if k not in ignore} for c in candidates]
    j = match_point(point, candidates)
    if j is not None:
        return [j]
    return [i for i, c in enumerate(candidates) if _agree(point, c)]


def _point_text(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_scalar(v)}" for k, v in point.items() if v is not None)


def paired_rows(
    results: Any, baseline_label: str, level: float = 0.95, metric: str = "final_regret"
) -> list[dict[str, Any]]:
    """Paired differences ``agent - baseline`` of final cumulative regret, per seed.

    Every other agent's point is paired seed by seed with the baseline's points that have
    the same values on the swept keys both set (a key swept for one agent alone,
    ``agents.LABEL.FIELD``, is that agent's own knob and never compared):

    * the one such point (an environment sweep pairs point by point; a baseline that is
      not swept has a single point, paired with every point);
    * when several agree (the baseline is swept on fields the other agent lacks, e.g. the
      default baseline, the first agent, swept with ``--sweep agents.sw.window=...``), the
      one with exactly the same keys and values if there is one, else each of them: one row
      per baseline point, named in ``baseline_point``.

    An agent with no agreeing baseline point gets no row, with a :class:`PairingWarning`
    that says why.  Negative differences mean less regret than the baseline.

    Columns: ``label``, ``baseline``, ``baseline_point`` (the baseline point's swept values,
    ``agent.window=100``; empty when it has none), every swept key, ``diff`` (mean
    difference), ``diff_ci_low``, ``diff_ci_high`` (Student-t), ``num_pairs`` (finite
    pairs), ``frac_better`` (share of those pairs with a smaller value than the baseline).

    Args:
      results: a Results object.
      baseline_label: the agent every other one is compared with.
      level: confidence level.
      metric: a per-run summary name from :func:`run_summaries` (default final regret).

    Example::

        rows = paired_rows(results, "ucb")   # rows for "thompson - ucb" at each point
    """
    if baseline_label not in results.agents:
        raise ConfigError(
            f"baseline = {baseline_label!r}: unknown agent label; one of {list(results.agents)}"
        )
    keys = point_keys(results)
    per_run = run_summaries(results)
    if metric not in per_run[baseline_label]:
        allowed = sorted(k for k in per_run[baseline_label] if k != "diverged")
        raise ConfigError(f"metric = {metric!r}: must be one of {allowed}")
    base_points = results[baseline_label].points
    base = per_run[baseline_label][metric]
    config = getattr(results, "config", None)
    base_own = own_keys(config, baseline_label, results.agents)
    rows = []
    for label in results.agents:
        if label == baseline_label:
            continue
        values = per_run[label].get(metric)
        if values is None:
            continue
        if values.shape[1] != base.shape[1]:
            raise ConfigError(
                f"paired_rows: agent {label!r} has {values.shape[1]} seeds, baseline "
                f"{baseline_label!r} has {base.shape[1]}: pairs need the same seeds"
            )
        ignore = base_own | own_keys(config, label, results.agents)
        paired = False
        for i, point in enumerate(results[label].points):
            for j in baseline_matches(point, base_points, ignore):
                paired = True
                d = paired_difference(values[i], base[j], axis=0, level=level)
                with np.errstate(invalid="ignore"):
                    diff = values[i] - base[j]
                finite = np.isfinite(diff)
                row: dict[str, Any] = {
                    "label": label,
                    "baseline": baseline_label,
                    "baseline_point": _point_text(base_points[j]),
                }
                row.update({k: _scalar(point.get(k)) for k in keys})
                row.update(
                    diff=float(d.mean),
                    diff_ci_low=float(d.low),
                    diff_ci_high=float(d.high),
                    num_pairs=int(d.n),
                    frac_better=float((diff[finite] < 0).mean()) if finite.any() else math.nan,
                )
                rows.append(row)
        if not paired:
            warnings.warn(
                f"paired.csv: agent {label!r} has no row: none of its points has the same "
                f"swept values as a point of the baseline {baseline_label!r}; choose another "
                "baseline (--baseline LABEL, Results.paired(baseline))",
                PairingWarning,
                stacklevel=2,
            )
    return rows


# ---------------------------------------------------------------------------------------
# Reference curves and normalised tables (the numbers behind some figures)
# ---------------------------------------------------------------------------------------


def bernoulli_kl(p: Any, q: Any) -> np.ndarray:
    """KL divergence ``kl(p, q)`` between Bernoulli(p) and Bernoulli(q), with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return a + b


def lai_robbins_bound(means: Any) -> float:
    """The Lai–Robbins coefficient ``c`` of Bernoulli arms: regret ≥ (c + o(1)) ln t.

    ``c = Σ_{a: μ_a < μ*} (μ* − μ_a) / kl(μ_a, μ*)``, the asymptotic lower bound on the
    regret of any uniformly good policy; draw it as ``c · ln t``.  Arms tied with the best
    add nothing; an arm against ``μ* = 1`` has infinite kl and adds 0.  The bound is
    asymptotic: at a finite horizon a good policy (Thompson sampling, KL-UCB) can lie below
    ``c · ln t`` throughout, since the ``o(1)`` term is negative early on.

    Args:
      means: ``(K,)`` arm means in [0, 1].

    Returns:
      The coefficient ``c`` (float).

    Example::

        c = lai_robbins_bound([0.5] + [0.4] * 9)   # ≈ 44.7 (Chapelle & Li 2011, Fig. 1)

    Reference: T. L. Lai & H. Robbins, "Asymptotically efficient adaptive allocation
    rules", Advances in Applied Mathematics 6, 1985.
    """
    mu = np.asarray(means, dtype=np.float64).ravel()
    if mu.size < 2 or np.any((mu < 0) | (mu > 1)) or not np.all(np.isfinite(mu)):
        raise ConfigError(f"means = {mu.tolist()}: need at least 2 Bernoulli means in [0, 1]")
    best = mu.max()
    sub = mu[mu < best]
    kl = bernoulli_kl(sub, best)
    with np.errstate(divide="ignore"):
        terms = np.where(np.isfinite(kl), (best - sub) / kl, 0.0)
    return float(terms.sum())


def lai_robbins_curve(means: Any, steps: Any) -> np.ndarray:
    """``lai_robbins_bound(means) · ln t`` at each of ``steps`` (t ≥ 1)."""
    steps = np.asarray(steps, dtype=np.float64)
    return lai_robbins_bound(means) * np.log(np.maximum(steps, 1.0))


def format_value(value: Any) -> str:
    """A short label for a swept value (``0.001``, ``1e-05``, ``adam``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


def varying_keys(points: list[dict[str, Any]]) -> list[str]:
    """The keys whose (formatted) value differs between some of ``points``, in order."""
    keys: dict[str, None] = {}
    for p in points:
        keys.update(dict.fromkeys(p))
    return [k for k in keys if len({repr(format_value(p.get(k))) for p in points}) > 1]


def short_key(key: str, label: str) -> str:
    """A swept key as shown next to an agent's label: ``agent.epsilon`` -> ``epsilon``,
    ``agents.LABEL.c`` -> ``c``; environment keys keep their ``env.`` prefix."""
    for prefix in (f"agents.{label}.", "agent."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def point_label(label: str, point: dict[str, Any], keys: list[str]) -> str:
    """``label (key=value, ...)`` for the given keys of a point; ``label`` when none."""
    if not keys:
        return label
    inner = ", ".join(f"{short_key(k, label)}={format_value(point.get(k))}" for k in keys)
    return f"{label} ({inner})"


#: Registry name of the reference agent of :func:`normalised_regret` (uniform = 100).
UNIFORM_AGENT = "random"


class NormalisedRegret(NamedTuple):
    """Final cumulative regret as a percentage of a reference agent's (uniform = 100).

    Attributes:
      rows: one name per agent point (``label``, or ``label (key=value)`` for an agent
        with several points at one column), the reference's rows first.
      columns: one name per point of the reference (``delta=0.5``; ``""`` for one point).
      points: the reference's points (dicts of swept environment keys), one per column.
      mean: ``(rows, columns)`` ``100 * mean_s R_a(s) / mean_s R_ref(s)``, with ``R(s)``
        the final cumulative regret of seed ``s``; NaN where the agent has no such point.
      ci_low, ci_high: ``(rows, columns)`` 95% Student-t interval over seeds of
        ``100 * R_a(s) / mean_s R_ref(s)`` (the reference's mean is taken as exact).
      reference: label of the reference agent.
    """

    rows: list[str]
    columns: list[str]
    points: list[dict[str, Any]]
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    reference: str

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per row: ``{"agent": row, column: mean, ...}`` (for printing or CSV)."""
        return [
            {"agent": row, **{c or "all": float(v) for c, v in zip(self.columns, values)}}
            for row, values in zip(self.rows, self.mean)
        ]


def _reference_label(results: Any, reference: str | None) -> str | None:
    if reference is not None:
        if reference not in results.agents:
            raise ConfigError(
                f"normalised_regret: reference = {reference!r} is not an agent of these "
                f"results; allowed: {', '.join(results.agents)}"
            )
        return reference
    configs = (getattr(results, "config", None) or {}).get("agents") or []
    for config in configs:
        if isinstance(config, dict) and config.get("name") == UNIFORM_AGENT:
            if config.get("label") in results.agents:
                return config["label"]
    return None


def normalised_regret(
    results: Any, reference: str | None = None, level: float = 0.95
) -> NormalisedRegret | None:
    """Riquelme, Tucker & Snoek (2018)'s table: regret relative to the uniform agent.

    For every agent ``a`` and every point ``p`` of the reference (its swept environment
    values, e.g. the wheel's delta), with ``R_a(p, s)`` the final cumulative regret of seed
    ``s`` (diverged seeds left out)::

        normalised_a(p) = 100 * mean_s R_a(p, s) / mean_s R_ref(p, s)

    so the reference scores 100 and smaller is better.  An agent's point is matched to the
    reference's point with the same values on the keys they share (:func:`match_point`);
    the seeds are the experiment's common seeds.

    Args:
      results: a Results object (``experiments.run`` / ``experiments.load``).
      reference: the reference agent's label; default the agent whose registry name is
        ``"random"`` (uniform choice), as in the paper.
      level: confidence level of ``ci_low`` / ``ci_high``.

    Returns:
      A :class:`NormalisedRegret`, or None when there is no reference agent (or no regret).

    Example::

        table = normalised_regret(experiments.run("wheel"))
        fig, ax = experiments.figures.plot_normalised_regret(table)

    Reference: C. Riquelme, G. Tucker, J. Snoek, "Deep Bayesian bandits showdown", ICLR
    2018, Table 2 (cumulative regret normalised by Uniform's).
    """
    import warnings

    reference = _reference_label(results, reference)
    if reference is None:
        return None
    runs = run_summaries(results)
    if "final_regret" not in runs[reference]:
        return None
    ref = results[reference]
    with warnings.catch_warnings():  # a point whose every seed diverged is all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        ref_mean = np.nanmean(runs[reference]["final_regret"], axis=1)
    column_keys = varying_keys(ref.points)
    columns = [
        ", ".join(f"{short_key(k, reference)}={format_value(p.get(k))}" for k in column_keys)
        for p in ref.points
    ]
    labels = [reference] + [label for label in results.agents if label != reference]
    rows: list[str] = []
    means, lows, highs = [], [], []
    for label in labels:
        r = results[label]
        if "final_regret" not in runs[label]:
            continue
        final = runs[label]["final_regret"]
        others = [k for k in varying_keys(r.points) if k not in column_keys]
        by_rest: dict[str, list[int]] = {}
        for i, point in enumerate(r.points):
            rest = repr([format_value(point.get(k)) for k in others])
            by_rest.setdefault(rest, []).append(i)
        for indices in by_rest.values():
            row = np.full((3, len(ref.points)), np.nan)
            candidates = [r.points[i] for i in indices]
            for j, ref_point in enumerate(ref.points):
                match = match_point(ref_point, candidates)
                if match is None or not ref_mean[j] > 0:
                    continue
                per_seed = 100.0 * final[indices[match]] / ref_mean[j]
                if not np.isfinite(per_seed).any():
                    continue
                ci = mean_ci(per_seed[None], axis=1, level=level)
                row[:, j] = (ci.mean[0], ci.low[0], ci.high[0])
            rows.append(point_label(label, r.points[indices[0]], others))
            means.append(row[0])
            lows.append(row[1])
            highs.append(row[2])
    return NormalisedRegret(
        rows,
        columns,
        [dict(p) for p in ref.points],
        np.asarray(means),
        np.asarray(lows),
        np.asarray(highs),
        reference,
    )
