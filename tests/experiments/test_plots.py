"""Plots return (fig, ax) with the right numbers drawn; figures are written atomically;
diverged points are marked, never drawn as numbers; the Lai–Robbins coefficient.

What the layout looks like (legends, ramps, scales, fonts) is measured in
test_figure_layout.py."""

from __future__ import annotations

import math
import os

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import simulator
from experiments import figures, plots, stats
from simulator.params import ConfigError
from tests.experiments.test_stats import FakeResults, bandit_agent


def _lines(ax, label):
    return [line for line in ax.get_lines() if line.get_label() == label]


def _diverged_markers(ax, label):
    return [line for line in ax.get_lines() if line.get_gid() == f"diverged:{label}"]


def _legend_texts(fig):
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


# ---------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------


def test_plot_regret_draws_mean_band_bound_and_legend_outside():
    import matplotlib.pyplot as plt  # only to check that no pyplot figure is created

    rng = np.random.default_rng(0)
    steps = np.arange(1, 3001)
    a = np.cumsum(rng.random((5, 3000)), axis=1)
    b = np.cumsum(0.5 * rng.random((5, 3000)), axis=1)
    b[2] = np.nan  # a diverged seed is left out
    bound = (steps, 3.0 * np.log(steps))
    before = plt.get_fignums()
    fig, ax = plots.plot_regret(steps, {"a": a, "b": b}, log_x=True, lower_bound=bound)
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Step"
    assert ax.get_ylabel() == "Cumulative regret"
    (line_a,), (line_b,) = _lines(ax, "a"), _lines(ax, "b")
    idx = plots.thin_index(3000, 1000, log=True)
    assert len(idx) <= 1001 and idx[-1] == 2999
    np.testing.assert_allclose(line_a.get_xdata(), steps[idx])
    np.testing.assert_allclose(line_a.get_ydata(), a[:, idx].mean(0))
    np.testing.assert_allclose(line_b.get_ydata(), np.delete(b, 2, 0)[:, idx].mean(0))
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    (bound_line,) = _lines(ax, "Lai–Robbins bound")
    assert bound_line.get_linestyle() == "--"
    assert _legend_texts(fig) == ["a", "b [1/5 diverged]", "Lai–Robbins bound"] or (
        _legend_texts(fig) == ["a", "b", "Lai–Robbins bound"]
    )
    # the legend sits above the data, not on it
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = fig.legends[0].get_window_extent(renderer)
    assert legend_box.y0 >= ax.get_tightbbox(renderer).y1 - 1
    assert fig.get_size_inches()[0] == pytest.approx(plots.COLUMN_WIDTH)


def test_plot_optimal_curves_and_smoothing():
    steps = np.arange(1, 101)
    optimal = np.zeros((4, 100))
    optimal[:, 50:] = 1.0
    fig, ax = plots.plot_optimal(steps, {"x": optimal}, window=10)
    (line,) = _lines(ax, "x")
    expected = 100 * plots.smooth(optimal, 10).mean(0)
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert ax.get_ylim() == (0, 100) and ax.get_ylabel() == "% optimal action"
    # smooth = trailing moving average, shorter windows at the start
    x = np.random.default_rng(1).random((2, 30))
    s = plots.smooth(x, 4)
    ref = np.array([[row[max(0, t - 3) : t + 1].mean() for t in range(30)] for row in x])
    np.testing.assert_allclose(s, ref, rtol=1e-12)


def test_curve_colors_are_consistent_per_agent():
    colors = plots.curve_colors({"a": ["a"], "b": ["b (x=1)", "b (x=2)", "b (x=3)"]})
    assert colors["a"] == "C0"
    shades = [matplotlib.colors.to_rgb(colors[f"b (x={i})"]) for i in (1, 2, 3)]
    assert len(set(shades)) == 3
    assert all(s[1] < s[0] for s in shades)  # Oranges: the hue of C1, light to dark
    assert sum(shades[0]) > sum(shades[2])


# ---------------------------------------------------------------------------------------
# Sensitivity, heatmap, drift
# ---------------------------------------------------------------------------------------


def test_plot_sensitivity_marks_diverged_points_and_never_draws_them():
    rng = np.random.default_rng(2)
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    finals = {
        "ogd": 10 + rng.random((4, 6)),
        "adam": 5 + rng.random((4, 6)),
        "ref": np.ones((1, 6)),
    }
    diverged = {"ogd": np.zeros((4, 6), bool), "adam": np.zeros((4, 6), bool)}
    finals["ogd"][3, :] = 1e6  # a huge finite value at a point where one seed diverged
    finals["ogd"][3, 0] = np.nan
    diverged["ogd"][3, 0] = True
    finals["adam"][2:, :] = np.nan  # every seed diverged at the two largest rates
    diverged["adam"][2:, :] = True
    fig, ax = plots.plot_sensitivity(lrs, finals, diverged, xlabel="learning rate")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate"
    (ogd,) = _lines(ax, "ogd")
    y = np.asarray(ogd.get_ydata(), dtype=float)
    np.testing.assert_allclose(y[:3], finals["ogd"][:3].mean(1))
    assert np.isnan(y[3])
    (marker,) = _diverged_markers(ax, "ogd")
    assert list(marker.get_xdata()) == [1.0]
    assert marker.get_transform().contains_branch_seperately(ax.transAxes)[1]
    (adam_marker,) = _diverged_markers(ax, "adam")
    assert list(adam_marker.get_xdata()) == [1e-1, 1.0]
    # the diverged value is nowhere as a number and does not stretch the axis
    for line in ax.get_lines():
        if line.get_gid() is None:
            assert not np.any(np.asarray(line.get_ydata(), dtype=float) > 1e5)
    assert ax.get_ylim()[1] < 1e3
    # the agent without the swept field is a horizontal reference line
    (ref,) = _lines(ax, "ref")
    assert np.allclose(ref.get_ydata(), 1.0)
    assert "diverged" in _legend_texts(fig)


def test_plot_sensitivity_categorical_and_symlog():
    finals = {"a": np.arange(6.0).reshape(3, 2)}
    fig, ax = plots.plot_sensitivity(["sgd", "adam", "rmsprop"], finals, xlabel="optimizer")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam", "rmsprop"]
    fig, ax = plots.plot_sensitivity([0.0, 0.01, 0.1], finals, xlabel="epsilon")
    assert ax.get_xscale() == "symlog"
    with pytest.raises(ConfigError):
        plots.plot_sensitivity([1, 2], finals)


def test_plot_heatmap_marks_nan_cells():
    z = np.arange(6.0).reshape(2, 3)
    diverged = np.zeros((2, 3), bool)
    diverged[1, 2] = True
    fig, ax = plots.plot_heatmap([1e-3, 1e-2, 1e-1], [0.0, 0.5], z, "lr", "rate", "regret",
                                 diverged=diverged)  # fmt: skip
    image = ax.get_images()[0]
    assert image.get_array().mask[1, 2] and not image.get_array().mask[0, 0]
    texts = {t.get_text() for t in ax.texts}
    assert "×" in texts and "5" not in texts and "4" in texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
    assert fig.axes[1].get_ylabel() == "regret"  # the colour bar
    with pytest.raises(ConfigError):
        plots.plot_heatmap([1, 2], [1, 2], z, "x", "y", "z")


def test_plot_drift():
    steps = np.arange(1, 51)
    truth = np.stack([np.sin(steps / 10), np.cos(steps / 10)], axis=1)
    fig, ax = plots.plot_drift(steps, truth, truth + 0.1)
    assert len(ax.get_lines()) == 4
    np.testing.assert_allclose(_lines(ax, "θ2")[0].get_ydata(), truth[:, 1])
    assert _legend_texts(fig) == ["θ1", "θ2", "true", "estimate"]


def test_lai_robbins_bound_against_closed_form():
    # the maths lives in experiments.stats, not in the drawing code (issue #14)
    assert not hasattr(plots, "lai_robbins_bound") and not hasattr(plots, "bernoulli_kl")
    # Chapelle & Li (2011): best arm 0.5, nine at 0.4
    kl = 0.4 * np.log(0.4 / 0.5) + 0.6 * np.log(0.6 / 0.5)
    assert stats.lai_robbins_bound([0.5] + [0.4] * 9) == pytest.approx(9 * 0.1 / kl, rel=1e-12)
    assert stats.lai_robbins_bound([0.5] + [0.4] * 9) == pytest.approx(44.69, abs=0.01)
    means = [0.9, 0.8, 0.5, 0.9, 0.0]
    expected = sum((0.9 - m) / (m * np.log(m / 0.9) + (1 - m) * np.log((1 - m) / 0.1))
                   for m in (0.8, 0.5)) + 0.9 / -np.log(0.1)  # fmt: skip
    assert stats.lai_robbins_bound(means) == pytest.approx(expected, rel=1e-12)
    assert stats.lai_robbins_bound([1.0, 0.3]) == 0.0  # kl(0.3, 1) is infinite
    with pytest.raises(ConfigError):
        stats.lai_robbins_bound([0.5, 1.5])
    steps = np.array([1, 10, 100])
    np.testing.assert_allclose(
        stats.lai_robbins_curve([0.5, 0.4], steps),
        stats.lai_robbins_bound([0.5, 0.4]) * np.log(steps),
    )


# ---------------------------------------------------------------------------------------
# figures.draw / compare
# ---------------------------------------------------------------------------------------


def _sweep_results(tmp_path):
    rng = np.random.default_rng(3)
    lrs = [0.001, 0.01, 0.1, 1.0]
    ogd = bandit_agent(rng, 4, 3, 60, points=[{"agent.learning_rate": v} for v in lrs],
                       extra={"loss": rng.random((4, 3, 60))})  # fmt: skip
    ogd.metrics["regret"][3, 1, 30:] = np.nan  # lr = 1 diverges for seed 1
    ogd.regret = ogd.metrics["regret"]
    ogd.diverged = ~np.isfinite(ogd.regret).all(-1)
    greedy = bandit_agent(rng, 1, 3, 60, extra={"loss": rng.random((1, 3, 60))})
    config = {
        "env": {"name": "bernoulli", "num_arms": 2, "means": [0.5, 0.4]},
        "figures": list(figures.FIGURES),
        # as experiments.run stores it: Bernoulli arms declare clicks on fixed arms
        "capabilities": {"env": simulator.make("bernoulli", num_arms=2).spec.as_dict()},
    }
    return FakeResults({"ogd": ogd, "greedy": greedy}, np.arange(1, 61), config=config,
                       path=tmp_path / "sweep")  # fmt: skip


def test_draw_writes_every_figure_atomically(tmp_path, monkeypatch):
    results = _sweep_results(tmp_path)
    captured = {}
    original = plots.plot_sensitivity
    monkeypatch.setattr(
        plots, "plot_sensitivity", lambda *a, **k: captured.setdefault("s", original(*a, **k))
    )
    original_regret = plots.plot_regret

    def spy_regret(*args, **kwargs):
        captured.setdefault("regret", []).append(kwargs.get("lower_bound"))
        return original_regret(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_regret", spy_regret)
    out = tmp_path / "figs"
    paths = figures.draw(results, out)
    names = sorted(p.name for p in paths)
    expected = sorted(
        f"{n}.{ext}"
        for n in ("regret", "regret_log", "reward", "optimal", "sensitivity", "loss")
        for ext in ("png", "pdf")
    )
    assert names == expected
    assert sorted(os.listdir(out)) == expected  # no temporary file left behind
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if p.suffix == ".png" else b"%PDF")
    # the Lai-Robbins bound is drawn on the log-time figure only
    no_bound, bound = captured["regret"]
    assert no_bound is None
    np.testing.assert_allclose(bound[1], stats.lai_robbins_curve([0.5, 0.4], np.arange(1, 61)))
    # the sensitivity figure: lr = 1 is marked diverged, not drawn
    fig, ax = captured["s"]
    (line,) = _lines(ax, "ogd")
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)[3])
    assert list(_diverged_markers(ax, "ogd")[0].get_xdata()) == [1.0]
    # every agent logs a loss, so the sensitivity is the average loss (a stream's U curve)
    final = results["ogd"].loss[:3].mean(-1).mean(1)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float)[:3], final, rtol=1e-6)
    assert _lines(ax, "greedy")  # the unswept agent as a reference line
    # names select figures; unknown names are a ConfigError naming the allowed ones
    again = figures.draw(results, out, names=["optimal"], formats=("png",))
    assert [p.name for p in again] == ["optimal.png"]
    with pytest.raises(ConfigError, match="regret_log"):
        figures.draw(results, out, names=["nope"])


def test_draw_grid_heatmap_and_curve_labels(tmp_path):
    rng = np.random.default_rng(4)
    grid = {"agent.epsilon": [0.0, 0.1], "env.noise": [0.5, 1.0, 2.0]}
    points = [{"agent.epsilon": e, "env.noise": n} for e in grid["agent.epsilon"]
              for n in grid["env.noise"]]  # fmt: skip
    agent = bandit_agent(rng, 6, 3, 20, points=points, grid=grid)
    results = FakeResults({"eps": agent}, np.arange(1, 21), config={"figures": ["sensitivity"]})
    paths = figures.draw(results, tmp_path, formats=("png",))
    names = {p.stem for p in paths}
    # one sensitivity figure whatever was swept: a panel per swept key
    assert names == {"sensitivity", "heatmap_eps"}
    fig = dict(figures.figure_objects(results, ["sensitivity"]))["sensitivity"]
    assert [ax.get_xlabel() for ax in fig.driftsim_panels] == ["agent.epsilon", "env.noise"]
    cs = figures.agent_curves(results, lambda res, r: r.regret)
    assert cs.groups["eps"][0] == "eps (epsilon=0, env.noise=0.5)"
    assert len(cs.curves) == 6 and cs.values == {} and cs.diverged == (0, 18)
    # a figure that does not apply is skipped: no sweep, no loss metric
    flat = FakeResults({"a": bandit_agent(rng, 1, 2, 10)}, np.arange(1, 11))
    assert figures.draw(flat, tmp_path / "flat", names=["sensitivity", "loss"]) == []


def test_save_failure_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    fig, _ = plots.plot_regret(np.arange(1, 4), {"a": np.ones((2, 3))})
    figures.save(fig, tmp_path, "regret", formats=("png",))
    before = (tmp_path / "regret.png").read_bytes()

    def broken(self, fname, **kwargs):
        fname.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        figures.save(fig, tmp_path, "regret", formats=("png",))
    assert os.listdir(tmp_path) == ["regret.png"]
    assert (tmp_path / "regret.png").read_bytes() == before


def test_compare_overlays_folders(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    first = FakeResults({"ucb": bandit_agent(rng, 1, 2, 30)}, np.arange(1, 31), path="out/a")
    second = FakeResults({"ucb": bandit_agent(rng, 1, 2, 15, gap=0.3, record_every=2)},
                         2 * np.arange(1, 16),
                         record_every=2, path="out/b")  # fmt: skip
    seen = {}
    original = plots.plot_regret
    monkeypatch.setattr(
        plots,
        "plot_regret",
        lambda steps, curves, **k: (
            seen.setdefault("c", (steps, curves)) and original(steps, curves, **k)
        ),
    )
    paths = figures.compare([first, second], tmp_path, formats=("png",))
    assert sorted(p.name for p in paths) == ["compare_regret.png", "compare_regret_log.png"]
    steps, curves = seen["c"]
    assert list(curves) == ["a/ucb", "b/ucb"]
    np.testing.assert_array_equal(steps["b/ucb"], 2 * np.arange(1, 16))
    np.testing.assert_allclose(curves["b/ucb"], np.cumsum(second["ucb"].regret[0] * 2, -1))


def test_summary_of_fake_sweep_is_consistent_with_figures(tmp_path):
    results = _sweep_results(tmp_path)
    rows = stats.summary_rows(results, num_resamples=100)
    assert [r["agent.learning_rate"] for r in rows] == [0.001, 0.01, 0.1, 1.0, None]
    assert rows[3]["num_diverged"] == 1 and rows[3]["num_seeds"] == 3
    assert "avg_loss" in rows[0]


def test_real_results_objects(tmp_path):
    # the lead's in-memory Results (experiments.results) drive the same functions
    from experiments.results import AgentResults, Results

    rng = np.random.default_rng(6)
    fake = bandit_agent(rng, 2, 3, 10, points=[{"agent.c": 1.0}, {"agent.c": 2.0}])
    steps = np.arange(1, 11)
    agent = AgentResults("ucb", fake.metrics, fake.diverged, fake.points, None, steps, 1)
    results = Results({"figures": ["regret", "sensitivity"]}, {"ucb": agent})
    rows = stats.summary_rows(results, num_resamples=50)
    assert [r["agent.c"] for r in rows] == [1.0, 2.0]
    assert rows[0]["final_regret"] == pytest.approx(fake.cumulative_regret()[0, :, -1].mean())
    paths = figures.draw(results, tmp_path, formats=("png",))
    assert {p.name for p in paths} == {"regret.png", "sensitivity.png"}


# ---------------------------------------------------------------------------------------
# The privacy figure: adjacency, passes, what is not covered
# ---------------------------------------------------------------------------------------


def _numpy_epsilon(delta: float, sigmas: np.ndarray, num_passes: int) -> np.ndarray:
    """epsilon of mu-Gaussian DP, mu = sqrt(k) / sigma (Dong, Roth & Su 2022, Cor. 2.13):
    delta(eps) = Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu), inverted by bisection."""
    phi = np.vectorize(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)))
    mu = math.sqrt(num_passes) / np.asarray(sigmas, float)
    low, high = np.zeros_like(mu), np.full_like(mu, 200.0)  # every epsilon here < 100
    for _ in range(200):
        mid = 0.5 * (low + high)
        tail = phi(-mu / 2 - mid / mu)
        value = phi(mu / 2 - mid / mu) - np.exp(mid) * tail
        low, high = np.where(value > delta, mid, low), np.where(value > delta, high, mid)
    return high


def _privacy_results(tmp_path, env: dict, capabilities: dict, sigmas):
    rng = np.random.default_rng(8)
    points = [{"agent.noise_multiplier": s} for s in sigmas]
    dp = bandit_agent(rng, len(sigmas), 3, 30, points=points,
                      extra={"loss": rng.random((len(sigmas), 3, 30))})  # fmt: skip
    config = {"env": env, "num_steps": 3000, "figures": ["privacy"], "capabilities": capabilities}
    return FakeResults({"dp-sgd": dp}, np.arange(1, 31), config=config, path=tmp_path / "dp")


def _privacy_figure_drawn(results, tmp_path, monkeypatch):
    captured = {}
    original = plots.plot_sensitivity

    def spy(*args, **kwargs):
        captured["values"] = args[0]
        captured["out"] = original(*args, **kwargs)
        return captured["out"]

    monkeypatch.setattr(plots, "plot_sensitivity", spy)
    figures.draw(results, tmp_path / "figs", names=["privacy"], formats=("png",))
    fig, ax = captured["out"]
    (caption,) = [t.get_text().replace("\n", " ") for t in fig.texts if t.get_gid() == "caption"]
    return captured["values"]["dp-sgd"], ax.get_xlabel() + " " + caption


def test_privacy_figure_composes_the_passes_of_a_revisiting_stream(tmp_path, monkeypatch):
    """seed_example cycles through 5 points: over T = 3000 rounds each example enters
    600 noisy updates, so epsilon is that of sigma / sqrt(600) (numpy), not one pass."""
    from agents import privacy

    sigmas = [4.0, 16.0, 64.0]
    results = _privacy_results(
        tmp_path,
        {"name": "seed_example"},
        {"env": simulator.make("seed_example").spec.as_dict()},  # example_cycle = 5
        sigmas,
    )
    epsilons, text = _privacy_figure_drawn(results, tmp_path, monkeypatch)
    expected = _numpy_epsilon(1e-5, np.asarray(sigmas), num_passes=3000 // 5)
    assert np.all(expected < 100)
    np.testing.assert_allclose(epsilons, expected, rtol=1e-6)
    one_pass = [privacy.epsilon_for_delta(1e-5, s) for s in sigmas]
    assert all(e > 10 * o for e, o in zip(epsilons, one_pass))
    assert "add/remove-one adjacency" in text
    assert "k = 600" in text and "cycles through 5 examples" in text
    assert "not covered" in text and "before the noisy update" in text


def test_privacy_figure_states_one_pass_for_a_fresh_stream(tmp_path, monkeypatch):
    from agents import privacy

    sigmas = [0.5, 2.0]
    spec = simulator.make("regression_stream").spec.as_dict()  # example_cycle = 0
    results = _privacy_results(tmp_path, {"name": "regression_stream"}, {"env": spec}, sigmas)
    epsilons, text = _privacy_figure_drawn(results, tmp_path, monkeypatch)
    np.testing.assert_allclose(epsilons, [privacy.epsilon_for_delta(1e-5, s) for s in sigmas])
    np.testing.assert_allclose(epsilons, _numpy_epsilon(1e-5, np.asarray(sigmas), 1), rtol=1e-6)
    assert "k = 1" in text and "add/remove-one adjacency" in text and "not covered" in text
