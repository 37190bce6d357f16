"""Smoke tests of ``driftsim bench``: record schema, JSON file, and that the numpy baselines
run driftsim's algorithms (replayed step by step, or fed the same random draws)."""

from __future__ import annotations

import dataclasses
import json
import types

import jax
import numpy as np
import pytest

import agents
import simulator
from experiments.bench import numpy_baselines as nb
from experiments.bench import parse_only
from experiments.bench.core import Record, compiled_runs, unrolled_threefry
from experiments.bench.envs import DisjointLinearBandit, RecordingEnv
from experiments.bench.report import add_ratios, targets
from experiments.bench.workloads import Sizes
from experiments.cli import main as cli_main
from simulator.params import ConfigError

REQUIRED = {"workload", "implementation", "steps_per_s", "compile_s", "runs", "regret"}

TINY = Sizes(
    w1_arms=4,
    w1_steps=60,
    w1_runs=4,
    w1_loop_runs=2,
    w1_policies=("ucb1",),
    w1_samplers=False,
    peers=False,
    rolled_threefry=False,
    one_core=False,
)


def _replay(env, agent, num_steps, seed=0, env_params=None):
    """One driftsim run through :class:`RecordingEnv`: contexts, actions, rewards, labels."""
    recording = RecordingEnv(inner=env)
    program = compiled_runs(recording, agent, num_steps)
    params = env.default_params() if env_params is None else env_params
    keys = jax.random.split(jax.random.key(seed), 1)
    out = program(keys, params, agent.default_hparams())
    return jax.tree.map(lambda x: np.asarray(x[0], np.float64), out)


def test_cli_bench_writes_json_records_with_the_schema(tmp_path, monkeypatch, capsys):
    import experiments.bench as bench

    original = bench.run_suite
    monkeypatch.setattr(
        bench, "run_suite", lambda names, repeats: original(names, repeats, sizes=TINY, figure=None)
    )
    path = tmp_path / "bench.json"
    assert cli_main(["bench", "--only", "w1", "--json", str(path), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "targets" in out and "W1 ucb1" in out
    payload = json.loads(path.read_text())
    assert {"machine", "versions", "git_revision", "records", "targets"} <= set(payload)
    assert payload["versions"]["jax"] == jax.__version__
    assert {"platform", "cpu_count", "jax_devices"} <= set(payload["machine"])
    records = payload["records"]
    assert {r["implementation"] for r in records} == {"driftsim", "numpy loop", "numpy vectorized"}
    for record in records:
        assert REQUIRED <= set(record)
        assert record["workload"] == "W1 ucb1"
        assert record["steps_per_s"] > 0 and record["regret"] >= 0
    driftsim = next(r for r in records if r["implementation"] == "driftsim")
    assert driftsim["compile_s"] >= 0 and driftsim["ratio"] > 0
    # The three implementations of one algorithm reach comparable regret (loose at this
    # tiny size: 4 arms, 60 steps, a handful of runs).
    regrets = [r["regret"] for r in records]
    assert max(regrets) < 3 * min(regrets) + 5
    assert any(t["name"].startswith("W1 UCB1") for t in payload["targets"])
    assert cli_main(["bench", "--only", "W9"]) == 2


def test_parse_only():
    assert parse_only("w2, W1") == ["W1", "W2"]
    assert parse_only(None)[-1] == "scaling"
    assert parse_only("W3, FULL") == ["W3", "full"]
    assert parse_only("full") == [*parse_only(None), "full"]
    with pytest.raises(ConfigError, match="allowed: W1, W2"):
        parse_only("W1,nope")


def test_ratios_and_targets_from_records():
    records = [
        Record("W1 ucb1", "numpy loop", 1, 10, steps_per_s=100.0),
        Record("W1 ucb1", "driftsim", 10, 10, steps_per_s=20_000.0, compile_s=1.0),
        Record("W1 ucb1", "River", 1, 10, steps_per_s=50.0),
    ]
    add_ratios(records)
    assert records[1].ratio == pytest.approx(200.0)
    by_name = {t.name: t for t in targets(records)}
    assert by_name["W1 UCB1 vs numpy loop"].met is True
    assert by_name["W1 UCB1 vs peers"].met is True  # 400x River
    assert by_name["W3 SGD vs numpy loop"].met is None


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorized_baselines_equal_the_loops_on_the_same_draws(seed):
    # With one run both versions consume the generator in the same order.
    np.testing.assert_allclose(nb.ucb1_vectorized(seed, 1, 5, 300), nb.ucb1_loop(seed, 1, 5, 300))
    np.testing.assert_allclose(
        nb.thompson_vectorized(seed, 1, 5, 300), nb.thompson_loop(seed, 1, 5, 300)
    )
    np.testing.assert_allclose(
        nb.linucb_vectorized(seed, 1, 6, 4, 150), nb.linucb_loop(seed, 1, 6, 4, 150), rtol=1e-9
    )
    for optimizer in ("sgd", "adam"):
        np.testing.assert_allclose(
            nb.regression_vectorized(seed, 1, 4, 300, optimizer),
            nb.regression_loop(seed, 1, 4, 300, optimizer),
            rtol=1e-9,
        )


def test_numpy_ucb1_plays_what_driftsim_plays():
    """Replay a driftsim UCB1 run through the numpy UCB1: every driftsim action maximises
    the numpy index (ties allowed), and the regrets agree."""
    if "ucb" not in agents.names():
        pytest.skip("agent ucb not registered")
    env = simulator.make("bernoulli", num_arms=6)
    agent = agents.make("ucb", num_arms=6)
    rec = _replay(env, agent, 400)
    policy = nb.UCB1(6)
    for t in range(400):
        index = policy.indices()
        action = int(rec.action[t])
        best = np.max(index)
        assert index[action] == best or index[action] >= best - 1e-5 * (1 + abs(best)), t
        policy.update(action, rec.reward[t])
    assert policy.counts.sum() == 400 and policy.counts.min() >= 1


def test_numpy_linucb_plays_what_driftsim_plays():
    """Replay a driftsim disjoint LinUCB run (W2's environment, small) through the numpy
    Sherman–Morrison LinUCB: same index maximiser at every step."""
    env = DisjointLinearBandit(num_arms=5, context_dim=3)
    agent = agents.make("linucb", num_arms=5, context_dim=3, arm_dim=0, mode="disjoint")
    hparams = agent.default_hparams()
    assert float(hparams.alpha) == 1.0 and float(hparams.ridge) == 1.0
    rec = _replay(env, agent, 200)
    policy = nb.DisjointLinUCB(5, 3)
    for t in range(200):
        index = policy.indices(rec.features[t])
        action = int(rec.action[t])
        assert index[action] >= np.max(index) - 1e-4 * (1 + abs(np.max(index))), f"step {t}"
        policy.update(action, rec.features[t], rec.reward[t])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_numpy_online_regression_predicts_what_driftsim_predicts(optimizer):
    """Feed the numpy SGD / Adam the stream driftsim saw: identical predictions."""
    if "ogd" not in agents.names():
        pytest.skip("agent ogd not registered")
    env = simulator.make("regression_stream", context_dim=4)
    params = env.default_params().replace(noise=0.1)
    agent = agents.make("ogd", context_dim=4, optimizer=optimizer)
    rec = _replay(env, agent, 300, env_params=params)
    model = nb.OPTIMIZERS[optimizer](4, learning_rate=float(agent.default_hparams().learning_rate))
    predictions = []
    for t in range(300):
        prediction = model.predict(rec.features[t])
        predictions.append(prediction)
        model.update(rec.features[t], prediction, rec.label[t])
    np.testing.assert_allclose(predictions, rec.action, rtol=1e-3, atol=1e-4)


def test_thompson_numpy_loop_and_driftsim_reach_similar_regret():
    """Thompson draws differ between numpy and JAX; the mean regret over runs must agree
    within 4 standard errors (20 runs of 300 steps on 4 arms)."""
    if "thompson" not in agents.names():
        pytest.skip("agent thompson not registered")
    runs, steps = 20, 300
    env = simulator.make("bernoulli", num_arms=4)
    agent = agents.make("thompson", num_arms=4)
    program = compiled_runs(env, agent, steps)
    keys = jax.random.split(jax.random.key(3), runs)
    log = program(keys, env.default_params(), agent.default_hparams())
    jax_regret = np.asarray(log.regret, np.float64).sum(axis=1)
    np_regret = nb.thompson_loop(3, runs, 4, steps)
    error = np.sqrt(jax_regret.var() / runs + np_regret.var() / runs)
    assert abs(jax_regret.mean() - np_regret.mean()) < 4 * error + 0.5


def test_unknown_workload_namespace_is_not_silently_ignored():
    args = types.SimpleNamespace(only="W1,bogus", json=None, repeats=1)
    from experiments.bench import main

    with pytest.raises(ConfigError, match="bogus"):
        main(args)


def test_threefry_lowerings_give_the_same_bits():
    """driftsim's unrolled lowering changes speed only: JAX's rolled one gives identical
    random bits, and the previous choice is restored afterwards (importing driftsim selects
    neither: JAX's own rolled lowering is in force outside driftsim's scopes)."""
    from experiments import threefry

    assert not threefry.is_unrolled()

    def draw(key):
        return jax.random.uniform(jax.random.fold_in(key, 3), (5,))

    key = jax.random.key(7)
    with threefry.driftsim_lowering():
        assert threefry.is_unrolled()
        before = np.asarray(jax.jit(draw)(key))
        with unrolled_threefry(False):
            inside = np.asarray(jax.jit(draw)(key))
            assert not threefry.is_unrolled()
        assert threefry.is_unrolled()
    after = np.asarray(jax.jit(draw)(key))
    assert not threefry.is_unrolled()
    np.testing.assert_array_equal(before, inside)
    np.testing.assert_array_equal(before, after)


def test_scaling_plot_returns_figure_and_axes():
    from experiments.bench.scaling import ScalingPoint, format_points, plot

    points = [
        ScalingPoint("runs", "W1 ucb1", "vmap", r, r, 100, 1e5 * r, 1.0, 0.01 * r, 0.02 * r, 300.0)
        for r in (1, 8, 64)
    ] + [
        ScalingPoint("dim", "W2 linucb", "vmap", d, 100, 100, 1e6 / d, 1.0, d, d, 300.0)
        for d in (4, 8)
    ]
    fig, axes = plot(points)
    assert axes.shape == (2, 2)
    assert len(axes[0, 0].lines) == 1 and len(axes[0, 1].lines) == 1
    assert "W1 ucb1" in format_points(points)
    fig.clf()


def test_one_core_rows_come_from_a_pinned_child_process():
    """The ``driftsim [1 core]`` rows are measured in a child pinned to one core (the
    same program as the ``driftsim`` row, without XLA's split of kernels over cores)."""
    from experiments.bench import onecore

    if not onecore.available():
        pytest.skip("one core only: nothing to pin")
    rows = onecore.records(["W1", "compile"], TINY, 1)
    assert [r["workload"] for r in rows] == ["W1 ucb1"]
    assert rows[0]["implementation"] == onecore.LABEL and rows[0]["steps_per_s"] > 0
    assert rows[0]["runs"] == TINY.w1_runs and rows[0]["steps"] == TINY.w1_steps
    assert onecore.records(["W4"], TINY, 1) == []


RUNNER_TINY = dataclasses.replace(
    TINY,
    w3_dim=4,
    runner_ucb_steps=60,
    runner_ucb_runs=4,
    runner_sgd_steps=80,
    runner_sgd_runs=2,
    runner_repeats=1,
    gpu_runs=(4, 1_000_000),
    gpu_cpu_max_runs=4,
    gpu_w1_steps=10,
    gpu_w2_steps=5,
    gpu_users_steps=5,
)


def test_runner_workload_times_make_run_against_hand_written_scans():
    """``runner``: make_run and the hand-written scan of UCB1 and of OGD-SGD, the ratio in
    the driftsim row's note and in issue 15's targets; both reach comparable regret."""
    from experiments.bench.runner_cost import HAND
    from experiments.bench.workloads import WORKLOADS

    records = WORKLOADS["runner"](RUNNER_TINY, 1)
    assert [(r.workload, r.implementation) for r in records] == [
        ("runner ucb1", "driftsim"),
        ("runner ucb1", HAND),
        ("runner ogd-sgd", "driftsim"),
        ("runner ogd-sgd", HAND),
    ]
    for pair in (records[:2], records[2:]):
        assert all(r.steps_per_s > 0 and r.regret >= 0 for r in pair)
        assert "x hand-written" in pair[0].note
        assert max(r.regret for r in pair) < 3 * min(r.regret for r in pair) + 5
    by_name = {t.name: t for t in targets(records)}
    for name in ("make_run UCB1 vs hand-written scan", "make_run OGD-SGD vs hand-written scan"):
        assert by_name[name].met is not None and by_name[name].measured.endswith("x")
    assert "make_run UCB1 vs hand-written scan" not in {t.name for t in targets(records[:0])}


def test_hand_written_sgd_is_the_ogd_update():
    """The hand-written OGD-SGD scan makes driftsim's ``ogd`` predictions on the same data:
    one step of SGD on ``(w.x + b - y)^2 / 2`` from zero, lr 0.01."""
    from experiments.bench.runner_cost import hand_sgd

    dim, steps = 3, 40
    key = jax.random.key(5)
    regret = float(hand_sgd(dim, steps, 0.01, 0.1)(key[None])[0])
    key_w, key_b, key_data = jax.random.split(key, 3)
    w_star = np.asarray(jax.random.normal(key_w, (dim,)), np.float64) / np.sqrt(dim)
    b_star = float(jax.random.normal(key_b, ()))
    data = np.asarray(jax.random.normal(key_data, (steps, dim + 1)), np.float64)
    w, b, total = np.zeros(dim), 0.0, 0.0
    for x, z in zip(data[:, :dim], data[:, dim]):
        truth = w_star @ x + b_star
        prediction = w @ x + b
        total += 0.5 * (prediction - truth) ** 2
        error = prediction - (truth + 0.1 * z)
        w, b = w - 0.01 * error * x, b - 0.01 * error
    assert regret == pytest.approx(total, rel=1e-4)


def test_gpu_grid_caps_runs_on_a_cpu_and_batches_large_states():
    from experiments.bench.runner_cost import batch_size
    from experiments.bench.workloads import WORKLOADS

    assert parse_only("gpu") == ["gpu"] and "gpu" not in parse_only(None)
    assert batch_size(100.0, 10, 1.0) is None  # fits: a plain vmap
    assert batch_size(100.0, 10, 300 / 2**20) == 2  # 3 runs fit: the largest divisor <= 3
    if jax.default_backend() != "cpu":
        pytest.skip("the cap applies on a CPU")
    records = WORKLOADS["gpu"](RUNNER_TINY, 1)
    measured = [r for r in records if r.steps_per_s]
    assert [r.workload for r in measured] == [
        "gpu W1 ucb1 4 runs",
        "gpu W2 linucb 4 runs",
        "gpu drifting_users linucb 4 runs",
    ]
    assert all(r.runs == 4 and "plain vmap" in r.note for r in measured)
    skipped = [r for r in records if not r.steps_per_s]
    assert len(skipped) == 3 and all("1,000,000" in r.note for r in skipped)


def test_equal_work_points_are_valid_experiments_and_feed_the_flat_target():
    """``equal_work``: every workload's experiment plans (validation only, nothing runs),
    and the wall-time ratio of the most to the fewest runs is issue 15's target."""
    from experiments.api import as_experiment
    from experiments.bench import equal_work
    from experiments.plan import plan

    for workload in equal_work.WORKLOADS:
        (agent_plan,) = plan(as_experiment(equal_work.experiment(workload, 256, 64)))
        assert agent_plan.label == workload
    records = [
        Record("equal work ucb1 256 runs", equal_work.LABEL, 256, 64, seconds=10.0),
        Record("equal work ucb1 65,536 runs", equal_work.LABEL, 65_536, 1, seconds=11.0),
    ]
    assert equal_work.flat_ratio(records, "ucb1") == (1.1, 256, 65_536)
    (target,) = [t for t in targets(records) if t.name.startswith("ucb1")]
    assert target.met is True and target.measured == "1.10x"
    assert "equal_work" in parse_only("equal_work") and "equal_work" not in parse_only(None)


def test_first_result_runs_driftsim_cold_then_warm_in_a_fresh_cache():
    """``first_result``: the command a user runs, twice, in fresh processes and a fresh
    cache; identical results, the warm share feeds issue 15's target."""
    from experiments.bench import first_result

    sizes = dataclasses.replace(TINY, first_result_run=("bernoulli", 2, 20), first_result_pairs=1)
    (record,) = first_result.records(sizes, repeats=1)
    assert record.workload == "first result bernoulli 2 seeds x 20 steps"
    assert record.implementation == first_result.LABEL and record.runs == 2
    assert "metrics and summary.csv identical" in record.note
    cold = record.seconds + record.compile_s
    assert first_result.warm_share([record]) == pytest.approx(record.seconds / cold)
    (target,) = [t for t in targets([record]) if t.name.startswith("warm second")]
    assert target.met == (record.seconds / cold < first_result.TARGET)
    assert "first_result" in parse_only("first_result")
