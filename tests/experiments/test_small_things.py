"""Small things a new user hit (issue #16): paired.csv with a swept baseline, the printed
table's columns and point names, integer fields from a SPEC, --sweep on a swept key, a
window longer than the run, the Ctrl-C message, ``driftsim list``, and where a diverged run
stops."""

from __future__ import annotations

import csv
import math
import types
import warnings

import numpy as np
import pytest

from experiments import api, cli, stats
from experiments.plan import WindowWarning, plan
from experiments.schema import ConfigError
from tests.experiments.test_stats import FakeAgentResults, FakeResults, bandit_agent

SMALL = """
name = "small"
num_seeds = 2
num_steps = 30
figures = ["regret"]

[env]
name = "bernoulli"
num_arms = 3

[[agents]]
label = "sw"
name = "sliding_window_ucb"
window = 10

[[agents]]
label = "ucb"
name = "ucb"
"""


def _write(tmp_path, text=SMALL, name="small.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _build(*argv):
    return cli.build_experiment(cli.make_parser().parse_args(["run", *argv]))


# 1. paired.csv with a swept baseline -------------------------------------------------


def test_paired_rows_pair_a_swept_baseline_with_every_point_of_an_unswept_agent():
    rng = np.random.default_rng(0)
    windows = [{"agent.window": w} for w in (10, 30, 100)]
    sw = bandit_agent(rng, 3, 4, 20, points=windows)
    ucb = bandit_agent(rng, 1, 4, 20)
    results = FakeResults({"sw": sw, "ucb": ucb}, np.arange(1, 21))
    rows = stats.paired_rows(results, "sw")
    assert [r["baseline_point"] for r in rows] == [
        "agent.window=10",
        "agent.window=30",
        "agent.window=100",
    ]
    final = lambda r: np.cumsum(r.regret, -1)[..., -1]  # noqa: E731
    for j, row in enumerate(rows):
        assert row["label"] == "ucb" and row["agent.window"] is None
        assert row["diff"] == pytest.approx((final(ucb)[0] - final(sw)[j]).mean())
    # an environment sweep still pairs point by point (one baseline point each)
    rates = [{"env.rate": r} for r in (0.1, 0.2)]
    a = bandit_agent(rng, 2, 4, 20, points=rates)
    b = bandit_agent(rng, 2, 4, 20, points=[dict(p) for p in rates])
    rows = stats.paired_rows(FakeResults({"a": a, "b": b}, np.arange(1, 21)), "a")
    assert [r["baseline_point"] for r in rows] == ["env.rate=0.1", "env.rate=0.2"]


def test_paired_rows_never_compare_two_agents_own_knobs_and_warn_when_nothing_pairs():
    rng = np.random.default_rng(1)
    a = bandit_agent(rng, 2, 4, 20, points=[{"agent.window": w} for w in (10, 20)])
    b = bandit_agent(rng, 2, 4, 20, points=[{"agent.window": w} for w in (20, 40)])
    config = {"sweep": {"mode": "grid", "agents.a.window": [10, 20], "agents.b.window": [20, 40]}}
    rows = stats.paired_rows(FakeResults({"a": a, "b": b}, np.arange(1, 21), config=config), "a")
    assert len(rows) == 4  # each of b's windows against each of a's
    # a shared key (agent.window for both) is compared: only window = 20 pairs
    config = {"sweep": {"mode": "grid", "agent.window": [10, 20, 40]}}
    rows = stats.paired_rows(FakeResults({"a": a, "b": b}, np.arange(1, 21), config=config), "a")
    assert [(r["agent.window"], r["baseline_point"]) for r in rows] == [(20, "agent.window=20")]
    c = bandit_agent(rng, 1, 4, 20, points=[{"env.rate": 0.3}])
    d = bandit_agent(rng, 1, 4, 20, points=[{"env.rate": 0.1}])
    with pytest.warns(stats.PairingWarning, match="agent 'd' has no row"):
        assert stats.paired_rows(FakeResults({"c": c, "d": d}, np.arange(1, 21)), "c") == []


# 2. and 3. the printed table -----------------------------------------------------------


def _row(label, **values):
    row = {"label": label, **values}
    row.setdefault("final_regret", 1.0)
    row.setdefault("final_regret_ci_low", 0.5)
    row.setdefault("final_regret_ci_high", 1.5)
    return row


def test_the_printed_table_shows_the_metrics_of_the_environment_and_each_agents_own_keys():
    prediction = {"action": "prediction", "reward": {"kind": "real"}}
    rows = [
        _row("sgd", **{"agent.learning_rate": 0.1, "avg_reward": -1.0, "pct_optimal": 1.0}),
        _row("adam", **{"agent.learning_rate": 3.0, "avg_reward": math.nan}),
    ]
    for row in rows:
        row.setdefault("pct_optimal", math.nan)
        row["avg_loss"] = -row["avg_reward"]
        row["num_diverged"] = 2 if row["label"] == "adam" else 0
    results = types.SimpleNamespace(config={"capabilities": {"env": prediction}}, summary=rows)
    text = cli.format_summary(results)
    assert "%opt" not in text and "nan" not in text and "reward" not in text
    head, sgd, adam = text.splitlines()
    assert head.split()[-1] == "loss" and sgd.split()[-1] == "1"
    assert "learning_rate=0.1" in sgd and adam.split()[-1] == "-" and "(2 diverged)" in adam
    # a bandit: reward (ctr for clicks) and %opt; each agent shows only its own keys
    click = {"action": "arm", "reward": {"kind": "click"}}
    rows = [
        _row("sw", **{"agent.window": 100, "agent.discount": None, "env.noise": 0.5}),
        _row("d-ucb", **{"agent.window": None, "agent.discount": 0.99, "env.noise": 0.5}),
    ]
    for row in rows:
        row.update(avg_reward=0.25, pct_optimal=40.0, num_diverged=0)
    results = types.SimpleNamespace(config={"capabilities": {"env": click}}, summary=rows)
    head, sw, ducb = cli.format_summary(results).splitlines()
    assert head.split()[-2:] == ["ctr", "%opt"] and sw.split()[-2:] == ["0.25", "40.0%"]
    assert "window=100, env.noise=0.5" in sw and "discount" not in sw and "None" not in sw
    assert "discount=0.99, env.noise=0.5" in ducb and "window" not in ducb


# 4. and 5. SPEC values for integer fields; --sweep on a swept key ----------------------


def test_log_spaced_values_of_an_integer_field_are_rounded_and_whole_floats_accepted(
    tmp_path, capsys
):
    path = _write(tmp_path)
    experiment = _build(path, "--sweep", "agents.sw.window=logspace(1,2,3)")
    assert experiment.sweep.axes == {"agents.sw.window": [10, 32, 100]}
    assert "an integer field; rounded to 10, 32, 100" in capsys.readouterr().err
    experiment = _build(path, "--sweep", "agents.sw.window=linspace(1,2,3)")
    assert experiment.sweep.axes == {"agents.sw.window": [1, 2]}  # duplicates dropped
    assert "an integer field; rounded to 1, 2" in capsys.readouterr().err
    # a float field keeps its floats
    assert _build(path, "--sweep", "agent.c=logspace(0,1,2)").sweep.axes["agent.c"] == [1.0, 10.0]
    # whole floats count as integers, in a sweep, --set and the file alike
    experiment = _build(path, "--sweep", "agents.sw.window=10.0,20.0", "--set", "env.num_arms=4.0")
    (sw, _) = plan(experiment)
    assert len(sw.groups) == 1 and sw.groups[0].env.spec.num_arms == 4  # a traced window
    text = SMALL.replace("window = 10", "window = 10.0").replace("num_arms = 3", "num_arms = 3.0")
    plan(_build(_write(tmp_path, text, "floats.toml")))
    with pytest.raises(ConfigError, match="must be an integer"):
        plan(_build(path, "--set", "agents.sw.window=10.5"))


def test_a_cli_sweep_replaces_the_files_axis_of_the_same_key(tmp_path, capsys):
    path = _write(
        tmp_path, SMALL + '\n[sweep]\n"agents.sw.window" = [5, 6]\n"env.num_arms" = [3, 4]\n'
    )
    experiment = _build(path, "--sweep", "agents.sw.window=7,8,9")
    assert experiment.sweep.axes == {"agents.sw.window": [7, 8, 9], "env.num_arms": [3, 4]}
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "add a grid axis (or replace the values of an axis the experiment already sweeps)" in (
        help_text
    )


# 6. a window longer than the run ------------------------------------------------------


def test_a_window_longer_than_the_run_warns_at_plan_time(tmp_path):
    path = _write(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WindowWarning)
        plan(_build(path))  # window 10 < 30 steps
    with pytest.warns(WindowWarning, match=r"agents.sw.window = 32, 100: longer than the run"):
        plan(_build(path, "--sweep", "agents.sw.window=logspace(1,2,3)"))
    with pytest.warns(WindowWarning, match=r"agents.sw.window = 100: .*num_steps = 30"):
        plan(_build(path, "--set", "agent.window=100"))
    # the CLI prints driftsim's warnings as one line
    with cli._driftsim_warnings():
        line = warnings.formatwarning("too long", WindowWarning, "plan.py", 1)
    assert line == "driftsim: warning: too long\n"


# 7. the Ctrl-C message ------------------------------------------------------------------


def test_ctrl_c_prints_the_folder_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "run", interrupted)
    out = tmp_path / "my results"
    assert cli.main(["run", _write(tmp_path), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"resume with driftsim run --resume '{out}'" in err and "DIR" not in err
    assert cli.main(["run", "--resume", str(out), "--quiet"]) == 130
    assert f"--resume '{out}'" in capsys.readouterr().err


# 8. driftsim list -------------------------------------------------------------------------


def test_list_names_drift_processes_figures_and_wrapper_fields(capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    drifts = text.split("drift processes")[1].split("figures")[0]
    assert "random_walk: none" in drifts and "drift.rate = 0.01" in drifts
    assert "abrupt: redraw='gaussian'" in drifts and "drift.hazard" in drifts
    assert "regret_log, reward, optimal, sensitivity" in text.split("figures (")[1]
    wrappers = text.split("wrappers (")[1].split("drift processes")[0]
    assert "agent.delay.every" in wrappers and "delay: every=1, delay=0" in wrappers
    assert "Delayed and batched feedback" in wrappers
    metrics = text.split("opt-in metrics (")[1].split("presets")[0]
    assert "user_drift, homogeneity, coverage, exposure_gini" in metrics


def test_run_metrics_option_adds_opt_in_metrics_and_names_an_unknown_one():
    experiment = _build(
        "drifting-users", "--metrics", "user_drift,homogeneity", "--metrics", "utility"
    )
    assert experiment.metrics == ["user_drift", "homogeneity", "utility"]
    with pytest.raises(ConfigError, match="metrics: unknown metric 'bogus'; allowed: user_drift"):
        _build("drifting-users", "--metrics", "bogus")


# 9. a diverged run keeps its values up to its first bad step ------------------------


def test_a_diverged_run_keeps_its_values_until_it_diverged_and_stays_out_of_means():
    regret = np.array([[[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, np.inf, 0.4]]], np.float32)
    reward = np.array([[[1.0, 1.0, 1.0, 1.0], [1.0, 2e15, 1.0, 1.0]]], np.float32)
    metrics = {"regret": regret.copy(), "reward": reward.copy()}
    diverged = api.mark_diverged(metrics)
    np.testing.assert_array_equal(diverged, [[False, True]])
    np.testing.assert_array_equal(metrics["regret"][0, 0], regret[0, 0])  # healthy: as is
    # the run's first bad value (reward at step 1) blanks every metric from there on
    np.testing.assert_array_equal(
        metrics["regret"][0, 1], np.float32([0.1, np.nan, np.nan, np.nan])
    )
    np.testing.assert_array_equal(metrics["reward"][0, 1], [1.0, np.nan, np.nan, np.nan])
    # a loss blow-up stays finite, but is flagged
    loss = np.ones((1, 2, 40), np.float32)
    loss[0, 1, 30:] = 1e6
    metrics = {"loss": loss.copy(), "regret": np.zeros((1, 2, 40), np.float32)}
    np.testing.assert_array_equal(api.mark_diverged(metrics), [[False, True]])
    assert np.isfinite(metrics["loss"]).all()
    # statistics leave flagged runs out by their flag, finite or not
    ones = np.ones((1, 3, 4))
    regret = ones.copy()
    regret[0, 1] = [1.0, 5.0, np.nan, np.nan]  # diverged at step 2
    regret[0, 2] = 100.0  # a finite run flagged (a loss blow-up)
    agent = FakeAgentResults(
        {"regret": regret, "reward": ones, "optimal": ones}, [{}], diverged=[[False, True, True]]
    )
    (row,) = stats.summary_rows(FakeResults({"a": agent}, np.arange(1, 5)), num_resamples=10)
    assert row["final_regret"] == 4.0 and row["num_diverged"] == 2
    assert row["regret_auc"] == pytest.approx(2.5) and row["avg_reward"] == 1.0


# end to end: one small run through the CLI ------------------------------------------


def test_a_swept_first_agent_run_through_the_cli(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", _write(tmp_path), "--out", str(out), "--quiet"]
    with pytest.warns(WindowWarning, match="agents.sw.window = 32"):
        assert cli.main([*argv, "--sweep", "agents.sw.window=logspace(1,1.5,2)"]) == 0
    captured = capsys.readouterr()
    assert "rounded to 10, 32" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split()[-2:] == ["ctr", "%opt"]  # Bernoulli arms pay clicks
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["sw", "window=10"],
        ["sw", "window=32"],
        ["ucb", "-"],
    ]
    with open(out / "paired.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], r["baseline"], r["baseline_point"]) for r in rows] == [
        ("ucb", "sw", "agent.window=10"),
        ("ucb", "sw", "agent.window=32"),
    ]
    assert all(int(r["num_pairs"]) == 2 for r in rows)
