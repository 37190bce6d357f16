"""Statistics over seeds: t quantiles, interval coverage, bootstrap, paired differences,
and the summary rows, checked against closed forms, table values and plain numpy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from experiments import stats
from simulator.params import ConfigError

# ---------------------------------------------------------------------------------------
# Fake Results objects with the public Results API (experiments.load / experiments.run)
# ---------------------------------------------------------------------------------------


class FakeAgentResults:
    """``results[label]``: metric arrays (points, seeds, steps), points, grid, diverged."""

    def __init__(self, metrics, points, record_every=1, diverged=None, grid=None):
        self.metrics = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
        shape = next(iter(self.metrics.values())).shape
        self.points = points
        self.grid = grid
        self.record_every = record_every
        if diverged is None:
            diverged = ~np.isfinite(next(iter(self.metrics.values()))).all(axis=-1)
        self.diverged = np.asarray(diverged, dtype=bool).reshape(shape[:2])
        for name, value in self.metrics.items():
            setattr(self, name, value)

    def cumulative_regret(self):
        return np.cumsum(self.regret * self.record_every, axis=-1)


class FakeResults:
    def __init__(self, agents, steps, record_every=1, config=None, path=None):
        self._agents = agents
        self.agents = list(agents)
        self.steps = np.asarray(steps)
        self.record_every = record_every
        self.config = config or {}
        if path is not None:
            self.path = path

    def __getitem__(self, label):
        return self._agents[label]


def bandit_agent(rng, num_points, num_seeds, num_steps, gap=0.1, p_opt=0.8, points=None, **kw):
    """Per-step bandit metrics: optimal w.p. p_opt, else regret ``gap``."""
    optimal = (rng.random((num_points, num_seeds, num_steps)) < p_opt).astype(float)
    regret = (1.0 - optimal) * gap
    reward = rng.random((num_points, num_seeds, num_steps)) * 0.1 + 0.5 - regret
    metrics = {"reward": reward, "regret": regret, "optimal": optimal}
    metrics.update(kw.pop("extra", {}))
    if points is None:
        points = [{} for _ in range(num_points)]
    return FakeAgentResults(metrics, points, **kw)


# ---------------------------------------------------------------------------------------
# Quantiles
# ---------------------------------------------------------------------------------------

# Student-t table (e.g. Abramowitz & Stegun, Table 26.10), three decimals
T_TABLE = [
    (0.975, 1, 12.706),
    (0.975, 2, 4.303),
    (0.975, 3, 3.182),
    (0.975, 4, 2.776),
    (0.975, 5, 2.571),
    (0.975, 9, 2.262),
    (0.975, 10, 2.228),
    (0.975, 19, 2.093),
    (0.975, 29, 2.045),
    (0.975, 30, 2.042),
    (0.975, 60, 2.000),
    (0.975, 120, 1.980),
    (0.995, 1, 63.657),
    (0.995, 4, 4.604),
    (0.995, 10, 3.169),
    (0.95, 1, 6.314),
    (0.95, 10, 1.812),
    (0.9, 20, 1.325),
    (0.9995, 3, 12.924),
]


@pytest.mark.parametrize("p, df, expected", T_TABLE)
def test_t_quantile_matches_table(p, df, expected):
    assert round(stats.t_quantile(p, df), 3) == pytest.approx(expected, abs=1e-9)
    assert stats.t_quantile(1 - p, df) == pytest.approx(-stats.t_quantile(p, df), abs=1e-12)


def test_t_quantile_closed_forms_and_inverse():
    for p in (0.6, 0.9, 0.975, 0.999):
        # df = 1 (Cauchy) and df = 2 have closed forms
        assert stats.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
        two = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
        assert stats.t_quantile(p, 2) == pytest.approx(two, rel=1e-12)
        for df in (3, 7, 15, 200):
            assert stats.t_cdf(stats.t_quantile(p, df), df) == pytest.approx(p, abs=1e-13)
    assert stats.normal_quantile(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    assert stats.normal_quantile(1e-10) == pytest.approx(-6.361340902404056, abs=1e-9)
    assert stats.t_quantile(0.975, math.inf) == stats.normal_quantile(0.975)
    # t quantiles decrease towards the normal one
    dfs = np.array([1, 2, 5, 30, 1000])
    q = stats.t_quantile(0.975, dfs)
    assert np.all(np.diff(q) < 0) and q[-1] > stats.normal_quantile(0.975)
    # arrays: invalid df give NaN
    q = stats.t_quantile(0.975, np.array([[9.0, 0.0], [np.nan, -1.0]]))
    assert q[0, 0] == pytest.approx(2.262157, abs=1e-6) and np.isnan(q[0, 1:]).all()
    assert np.isnan(q[1]).all()
    # the t CDF at known points: P(T_1 <= 1) = 3/4, P(T_2 <= 0) = 1/2
    assert stats.t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-15)
    assert stats.t_cdf(0.0, 2) == 0.5
    with pytest.raises(ConfigError, match="level"):
        stats.mean_ci(np.ones(3), level=1.5)


# ---------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------


def test_mean_ci_coverage_is_nominal_and_normal_quantile_undercovers():
    # 2000 repetitions of n = 10 normal samples with known mean 3: the 95% t interval covers
    # 3 in 95% of them (binomial SE 0.5%, tolerance 3 SE); the normal quantile z = 1.96
    # covers only P(|T_9| < 1.96) = 0.918.
    rng = np.random.default_rng(0)
    x = 3.0 + 2.0 * rng.standard_normal((10, 2000))
    t_ci = stats.mean_ci(x, axis=0, level=0.95)
    z_ci = stats.mean_ci(x, axis=0, level=0.95, method="normal")
    t_cover = np.mean((t_ci.low <= 3.0) & (3.0 <= t_ci.high))
    z_cover = np.mean((z_ci.low <= 3.0) & (3.0 <= z_ci.high))
    assert abs(t_cover - 0.95) < 0.015
    expected_z = 2 * stats.t_cdf(stats.normal_quantile(0.975), 9) - 1
    assert expected_z == pytest.approx(0.918, abs=0.002)
    assert abs(z_cover - expected_z) < 0.02
    assert z_cover < t_cover - 0.015
    assert np.all(t_ci.n == 10)


def test_mean_ci_against_numpy_and_ignores_nan():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 5))  # (points, seeds, steps)
    x[0, 2, :] = np.nan  # a diverged seed
    x[1, :, 4] = np.nan  # nothing finite
    x[2, 1:, 3] = np.inf  # one finite value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = stats.mean_ci(x, axis=1)
    assert ci.mean.shape == (3, 5)
    finite = np.delete(x[0], 2, axis=0)
    m, s = finite.mean(0), finite.std(0, ddof=1)
    half = stats.t_quantile(0.975, 4) * s / np.sqrt(5)
    np.testing.assert_allclose(ci.mean[0], m, rtol=1e-12)
    np.testing.assert_allclose(ci.low[0], m - half, rtol=1e-12)
    np.testing.assert_allclose(ci.high[0], m + half, rtol=1e-12)
    assert ci.n[0].tolist() == [5] * 5
    assert np.isnan(ci.mean[1, 4]) and ci.n[1, 4] == 0
    assert ci.mean[2, 3] == x[2, 0, 3] and np.isnan(ci.low[2, 3]) and ci.n[2, 3] == 1
    # the seeds axis may be any axis
    ci_t = stats.mean_ci(np.moveaxis(x, 1, 0), axis=0)
    np.testing.assert_array_equal(ci_t.mean, ci.mean)


def _bootstrap_reference(x, level, num_resamples, seed):
    """Plain numpy, one cell: the same draws u (B, S), indices floor(u * n)."""
    finite = x[np.isfinite(x)]
    n = finite.size
    u = np.random.default_rng(seed).random((num_resamples, x.size))
    means = np.array([finite[np.floor(u[b, :n] * n).astype(int)].mean() for b in range(len(u))])
    return np.quantile(means, [(1 - level) / 2, (1 + level) / 2])


def test_bootstrap_against_numpy_reference_and_batching():
    rng = np.random.default_rng(2)
    x = rng.exponential(size=(4, 12))  # (points, seeds)
    x[1, [3, 7]] = np.nan
    ci = stats.bootstrap_ci(x, axis=1, level=0.9, num_resamples=300, seed=5)
    for i in range(4):
        low, high = _bootstrap_reference(x[i], 0.9, 300, 5)
        assert ci.low[i] == pytest.approx(low, rel=1e-12)
        assert ci.high[i] == pytest.approx(high, rel=1e-12)
    assert ci.n.tolist() == [12, 10, 12, 12]
    np.testing.assert_allclose(ci.mean, stats.mean_ci(x, axis=1).mean, rtol=1e-12)
    # batching the cells does not change anything; the seed does
    small = stats.bootstrap_ci(x, axis=1, level=0.9, num_resamples=300, seed=5, max_elements=1)
    np.testing.assert_array_equal(small.low, ci.low)
    other = stats.bootstrap_ci(x, axis=1, level=0.9, num_resamples=300, seed=6)
    assert not np.array_equal(other.low, ci.low)
    # degenerate cells
    y = np.array([[1.0, np.nan, np.nan], [np.nan] * 3])
    d = stats.bootstrap_ci(y, axis=1, num_resamples=50)
    assert d.low[0] == d.high[0] == 1.0 and np.isnan(d.low[1]) and np.isnan(d.mean[1])


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_bootstrap_blocks_and_threads_give_the_numbers_of_one_generator(workers, monkeypatch):
    # Blocks of rows drawn by advanced copies of the generator, in any number of threads,
    # give the sequential draws: every resampled mean equals the plain reference's, cells
    # with different numbers of finite seeds included, and the pooled path is taken.
    rng = np.random.default_rng(4)
    x = rng.exponential(size=(5, 23)) * 1e3
    x[1, [0, 5, 9]] = np.nan
    x[3, 2:] = np.nan
    x[4] = np.nan
    finite = np.isfinite(x)
    packed = np.take_along_axis(
        np.where(finite, x, 0.0), np.argsort(~finite, axis=1, kind="stable"), axis=1
    )
    n = finite.sum(axis=1)
    pools = []
    real_pool = stats.concurrent.futures.ThreadPoolExecutor
    monkeypatch.setattr(
        stats.concurrent.futures,
        "ThreadPoolExecutor",
        lambda k: pools.append(k) or real_pool(k),
    )
    means = stats._resampled_means(packed, n, 301, 7, max_elements=23 * 10, workers=workers)
    assert pools == ([] if workers == 1 else [workers])
    u = np.random.default_rng(7).random((301, 23))
    for cell in range(4):
        values = x[cell][np.isfinite(x[cell])]
        expected = [values[np.floor(row[: len(values)] * len(values)).astype(int)].mean()
                    for row in u]  # fmt: skip
        np.testing.assert_allclose(means[cell], expected, rtol=1e-13)
    assert np.isnan(means[4]).all()
    one_block = stats._resampled_means(packed, n, 301, 7, max_elements=2**24, workers=1)
    np.testing.assert_array_equal(means, one_block)


def test_bootstrap_coverage():
    # Percentile bootstrap of a normal mean, n = 30: its interval is about
    # mean ± z s sqrt((n-1)/n) / sqrt(n), so its coverage is P(|T_29| < z sqrt(29/30)) ≈ 0.937.
    rng = np.random.default_rng(3)
    n, reps = 30, 600
    x = 1.0 + rng.standard_normal((n, reps))
    ci = stats.bootstrap_ci(x, axis=0, level=0.95, num_resamples=400, seed=0)
    cover = np.mean((ci.low <= 1.0) & (1.0 <= ci.high))
    expected = 2 * stats.t_cdf(stats.normal_quantile(0.975) * math.sqrt((n - 1) / n), n - 1) - 1
    assert abs(cover - expected) < 0.03  # binomial SE 0.01 plus resampling noise


def test_paired_difference_against_numpy():
    rng = np.random.default_rng(4)
    shared = 5.0 * rng.standard_normal(10)  # seed noise both agents share (CRN)
    a = shared + 1.0 + 0.3 * rng.standard_normal(10)
    b = shared + 0.3 * rng.standard_normal(10)
    a[3] = np.nan  # a diverged pair is dropped
    d = stats.paired_difference(a, b)
    diff = np.delete(a - b, 3)
    half = 2.306004135 * diff.std(ddof=1) / 3.0  # t_{0.975, 8}, n = 9
    assert d.n == 9
    assert d.mean == pytest.approx(diff.mean(), rel=1e-12)
    assert d.low == pytest.approx(diff.mean() - half, rel=1e-8)
    assert d.high == pytest.approx(diff.mean() + half, rel=1e-8)
    # common random numbers: the paired interval is far narrower than the marginal ones
    ca, cb = stats.mean_ci(a), stats.mean_ci(b)
    assert d.high - d.low < 0.2 * min(ca.high - ca.low, cb.high - cb.low)
    assert d.low > 0  # the +1 offset is detected
    with pytest.raises(ConfigError):
        stats.paired_difference(np.ones(3), np.ones(4))


# ---------------------------------------------------------------------------------------
# Summary rows
# ---------------------------------------------------------------------------------------


def _two_agent_results(record_every=1):
    rng = np.random.default_rng(5)
    eps_points = [{"agent.epsilon": e} for e in (0.0, 0.1, 0.3)]
    greedy = bandit_agent(rng, 3, 6, 40, gap=0.2, p_opt=0.6, points=eps_points)
    greedy.metrics["regret"][1, 2, 20:] = np.nan  # seed 2 of point 1 diverged
    greedy.regret = greedy.metrics["regret"]
    greedy.diverged = ~np.isfinite(greedy.regret).all(-1)
    ucb = bandit_agent(rng, 1, 6, 40, gap=0.2, p_opt=0.9, extra={"loss": np.ones((1, 6, 40))})
    for r in (greedy, ucb):
        r.record_every = record_every
    steps = record_every * np.arange(1, 41)
    return FakeResults({"greedy": greedy, "ucb": ucb}, steps, record_every=record_every)


def test_summary_rows_against_numpy():
    results = _two_agent_results()
    rows = stats.summary_rows(results, num_resamples=200)
    assert len(rows) == 4
    assert [r["label"] for r in rows] == ["greedy"] * 3 + ["ucb"]
    assert all(list(r) == list(rows[0]) for r in rows)  # same columns in every row
    assert rows[0]["agent.epsilon"] == 0.0 and rows[3]["agent.epsilon"] is None
    assert list(rows[0])[-2:] == ["num_diverged", "num_seeds"]
    g = results["greedy"]
    cum = np.cumsum(g.regret, axis=-1)
    for i, row in enumerate(rows[:3]):
        ok = ~g.diverged[i]
        final = cum[i, ok, -1]
        assert row["final_regret"] == pytest.approx(final.mean())
        ci = stats.mean_ci(final)
        assert row["final_regret_ci_low"] == pytest.approx(ci.low)
        assert row["final_regret_ci_high"] == pytest.approx(ci.high)
        assert row["final_regret_boot_low"] <= row["final_regret"] <= row["final_regret_boot_high"]
        assert row["avg_regret"] == pytest.approx(final.mean() / 40)
        assert row["regret_auc"] == pytest.approx(cum[i, ok].sum(-1).mean() / 40)
        assert row["avg_reward"] == pytest.approx(g.reward[i, ok].mean())
        assert row["pct_optimal"] == pytest.approx(100 * g.optimal[i, ok].mean())
        assert row["num_diverged"] == int((~ok).sum()) and row["num_seeds"] == 6
        assert math.isnan(row["avg_loss"])  # greedy has no loss metric
    assert rows[1]["num_diverged"] == 1
    assert rows[3]["avg_loss"] == 1.0


def test_results_summary_is_computed_on_first_use_and_once(monkeypatch):
    from experiments import results as results_module

    calls = []
    monkeypatch.setattr(results_module, "summary_rows", lambda r: calls.append(r) or ["row"])
    fake = _two_agent_results()
    agents = {
        label: results_module.AgentResults(
            label, a.metrics, a.diverged, a.points, None, fake.steps, fake.record_every
        )
        for label, a in ((label, fake[label]) for label in fake.agents)
    }
    results = results_module.Results({"name": "lazy"}, agents)
    assert calls == []  # a sweep read for its curves never pays for the bootstrap
    assert results.summary == ["row"] and results.summary == ["row"]
    assert calls == [results]


def test_regret_auc_closed_form_and_stride():
    # constant regret 1 per step: cumulative regret R_t = t, area (1/T) sum_t R_t = (T+1)/2
    ones = np.ones((1, 2, 10))
    agent = FakeAgentResults({"regret": ones, "reward": ones, "optimal": 0 * ones}, [{}])
    row = stats.summary_rows(FakeResults({"a": agent}, np.arange(1, 11)), num_resamples=10)[0]
    assert row["final_regret"] == 10 and row["avg_regret"] == 1.0
    assert row["regret_auc"] == pytest.approx(5.5)
    assert row["final_regret_ci_low"] == 10 and row["pct_optimal"] == 0.0
    # block means of 5 steps: same final regret; the area is a right Riemann sum of width 5
    agent = FakeAgentResults({"regret": ones[..., :2]}, [{}], record_every=5)
    row = stats.summary_rows(FakeResults({"a": agent}, [5, 10], record_every=5))[0]
    assert row["final_regret"] == 10 and row["regret_auc"] == pytest.approx((5 + 10) * 5 / 10)


def test_paired_rows_against_numpy():
    results = _two_agent_results()
    rows = stats.paired_rows(results, "ucb")
    assert len(rows) == 3  # each greedy point against the single ucb point
    cum_g = np.cumsum(results["greedy"].regret, -1)[..., -1]
    cum_u = np.cumsum(results["ucb"].regret, -1)[0, :, -1]
    for i, row in enumerate(rows):
        diff = cum_g[i] - cum_u
        diff = diff[np.isfinite(diff)]
        assert row["label"] == "greedy" and row["baseline"] == "ucb"
        assert row["diff"] == pytest.approx(diff.mean())
        half = stats.t_quantile(0.975, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size)
        assert row["diff_ci_high"] - row["diff"] == pytest.approx(half)
        assert row["num_pairs"] == diff.size
        assert row["frac_better"] == pytest.approx(np.mean(diff < 0))
    assert rows[1]["num_pairs"] == 5
    # env sweeps pair point by point
    rng = np.random.default_rng(6)
    pts = [{"env.rate": r} for r in (0.1, 0.2)]
    a = bandit_agent(rng, 2, 4, 10, points=pts)
    b = bandit_agent(rng, 2, 4, 10, points=[dict(p) for p in pts[::-1]])
    rows = stats.paired_rows(FakeResults({"a": a, "b": b}, np.arange(1, 11)), "a")
    assert [r["env.rate"] for r in rows] == [0.2, 0.1]
    fb = np.cumsum(b.regret, -1)[..., -1]
    fa = np.cumsum(a.regret, -1)[..., -1]
    assert rows[0]["diff"] == pytest.approx((fb[0] - fa[1]).mean())
    with pytest.raises(ConfigError, match="baseline"):
        stats.paired_rows(results, "nope")
    # matching: shared keys must agree; None (a field the agent lacks) matches anything
    cands = [{"env.rate": 0.1, "agent.c": None}, {"env.rate": 0.2, "agent.c": None}]
    assert stats.match_point({"env.rate": 0.2, "agent.c": 1.0}, cands) == 1
    assert stats.match_point({"env.rate": 0.3}, cands) is None
    assert stats.match_point({"agent.c": 1.0}, cands) is None  # ambiguous


def test_wilson_interval_solves_the_score_equation_and_stays_in_0_1():
    from experiments.stats import normal_quantile, wilson_interval

    z = normal_quantile(0.975)
    for clicks, n in [(0, 120), (3, 40), (38, 10_000), (40, 40)]:
        low, high = wilson_interval(clicks, n)
        p = clicks / n
        for bound in (low, high):  # (p - pi)^2 = z^2 pi (1 - pi) / n at both ends
            assert abs((p - bound) ** 2 - z**2 * bound * (1 - bound) / n) < 1e-12
        assert -1e-15 <= low <= p + 1e-15 and p - 1e-15 <= high <= 1.0 + 1e-15
    assert abs(wilson_interval(0, 120)[0]) < 1e-15 and wilson_interval(0, 120)[1] > 0.03
