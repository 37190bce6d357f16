"""The feedback-loop figures (issue #18): ``feedback`` (user drift and homogeneity over
time), ``lorenz`` (the exposure Lorenz curve at the horizon) and ``utility_homogeneity``
(utility against homogeneity across a sweep), drawn from synthetic results (no
simulation): what each draws, their numbers against the arrays, their layout (measured as
in test_figure_layout.py), and the skip with a warning when their metrics were not logged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize

from experiments import figures, plots, stats
from experiments.results import AgentResults, Results, load
from experiments.results import save as save_results
from experiments.schema import FIGURES
from simulator.params import ConfigError
from tests.experiments.test_figure_layout import (
    assert_readable,
    caption_of,
    colorbars_of,
    legend_labels,
    panels_of,
    title_of,
)
from tests.experiments.test_stats import FakeResults, bandit_agent

NEW = ("feedback", "lorenz", "utility_homogeneity")
NUM_ITEMS = 100  # Lorenz points (101) fall on the items: 1 - 2 x area is the Gini exactly


def _gini(counts):
    """Gini of non-negative counts along the last axis (numpy, the textbook formula)."""
    x = np.sort(np.asarray(counts, np.float64), axis=-1)
    n = x.shape[-1]
    weights = 2.0 * np.arange(1, n + 1) - n - 1.0
    return (weights * x).sum(-1) / (n * x.sum(-1))


def _lorenz(counts, num_points=NUM_ITEMS + 1):
    """Lorenz curves (..., P) of counts (..., N): the share of exposure of the least
    exposed items (numpy, linear between the items)."""
    x = np.sort(np.asarray(counts, np.float64), axis=-1)
    cumulative = np.concatenate([np.zeros(x.shape[:-1] + (1,)), x.cumsum(-1)], -1)
    shares = cumulative / cumulative[..., -1:]
    items = np.linspace(0.0, 1.0, x.shape[-1] + 1)
    grid = np.linspace(0.0, 1.0, num_points)
    flat = shares.reshape(-1, shares.shape[-1])
    return np.stack([np.interp(grid, items, row) for row in flat]).reshape(x.shape[:-1] + (-1,))


def feedback_agent(rng, points, seeds=4, steps=30, skew=1.0, logged=None):
    """An agent logging the feedback-loop metrics: drift growing, homogeneity rising with
    the skew of its exposures, utility falling with it; a Lorenz curve per run."""
    num_points = max(1, len(points))
    shape = (num_points, seeds, steps)
    level = 1.0 + skew * np.arange(num_points)[:, None, None]
    t = np.linspace(0.0, 1.0, steps)
    counts = rng.gamma(1.0 / level, size=(num_points, seeds, NUM_ITEMS)) + 1e-3
    extra = {
        "user_drift": level * t * (1 + 0.1 * rng.random(shape)),
        "homogeneity": 0.2 + 0.1 * level * t + 0.02 * rng.random(shape),
        "utility": 0.9 - 0.1 * level + 0.05 * rng.random(shape),
        "exposure_gini": np.repeat(_gini(counts)[..., None], steps, axis=-1),
    }
    if logged is not None:
        extra = {k: v for k, v in extra.items() if k in logged}
    agent = bandit_agent(rng, num_points, seeds, steps, points=points or None, extra=extra)
    agent.finals = {"lorenz": _lorenz(counts)} if "exposure_gini" in extra else {}
    return agent


def sweep_results(logged=None, eps=(0.0, 0.1, 0.5), seeds=4, extra_agents=None, name="fl"):
    rng = np.random.default_rng(0)
    agents = {
        "eps": feedback_agent(rng, [{"agent.epsilon": e} for e in eps], seeds, logged=logged),
        "ucb": feedback_agent(rng, [], seeds, skew=2.0, logged=logged),
    }
    agents.update(extra_agents or {})
    config = {"name": name, "figures": list(NEW), "metrics": sorted(logged or [])}
    return FakeResults(agents, np.arange(1, 31) * 10, record_every=10, config=config)


def _draw(results, name, **kwargs):
    return dict(figures.figure_objects(results, [name], **kwargs))[name]


def _mean_lines(ax):
    return {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }


# ---------------------------------------------------------------------------------------
# feedback: user drift and homogeneity over time
# ---------------------------------------------------------------------------------------


def test_feedback_draws_drift_and_homogeneity_side_by_side_with_bands():
    results = sweep_results()
    fig = _draw(results, "feedback")
    assert_readable(fig)
    drift, homogeneity = panels_of(fig)
    assert [drift.get_ylabel(), homogeneity.get_ylabel()] == ["User drift", "Homogeneity"]
    assert drift.get_xlabel() == homogeneity.get_xlabel() == "Step"
    bottom = [ax.get_position().y0 for ax in (drift, homogeneity)]  # side by side
    assert (
        bottom[0] == pytest.approx(bottom[1])
        and drift.get_position().x1 < homogeneity.get_position().x0
    )
    labels = ["eps (epsilon=0)", "eps (epsilon=0.1)", "eps (epsilon=0.5)", "ucb"]
    assert legend_labels(fig) == labels
    for ax, metric in ((drift, "user_drift"), (homogeneity, "homogeneity")):
        lines = _mean_lines(ax)
        assert sorted(lines) == sorted(labels)
        # the mean over seeds, not smoothed (the values are snapshots)
        expected = results["eps"].metrics[metric][1].mean(0)
        np.testing.assert_allclose(lines["eps (epsilon=0.1)"].get_ydata(), expected)
        np.testing.assert_allclose(lines["ucb"].get_xdata(), results.steps)
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 4  # one band per curve
    # one colour per curve, the same in both panels
    assert {k: v.get_color() for k, v in _mean_lines(drift).items()} == {
        k: v.get_color() for k, v in _mean_lines(homogeneity).items()
    }
    assert "drift and homogeneity" in title_of(fig) and title_of(fig).startswith("fl:")
    caption = caption_of(fig)
    assert "4 seeds" in caption and "Student-t 95%" in caption
    assert "end of its 10-step block" in caption and "mean pairwise cosine" in caption


def test_feedback_with_one_metric_logged_is_one_panel():
    fig = _draw(sweep_results(logged={"user_drift"}), "feedback")
    assert_readable(fig)
    (ax,) = panels_of(fig)
    assert ax.get_ylabel() == "User drift"
    assert "homogeneity" not in title_of(fig)
    fig = _draw(sweep_results(logged={"homogeneity"}), "feedback")
    assert [ax.get_ylabel() for ax in panels_of(fig)] == ["Homogeneity"]


def test_feedback_with_two_swept_agents_is_a_row_per_agent_with_ramps():
    rng = np.random.default_rng(1)
    lin = feedback_agent(rng, [{"agent.epsilon": e} for e in (0.0, 0.02, 0.05, 0.2, 0.5, 1.0)])
    results = sweep_results(extra_agents={"lin": lin})
    fig = _draw(results, "feedback")
    assert_readable(fig)
    panels = panels_of(fig)
    assert len(panels) == 4  # rows eps, lin; columns drift, homogeneity
    assert [ax.get_title(loc="left") for ax in panels] == ["eps", "", "lin", ""]
    assert [ax.get_ylabel() for ax in panels] == ["User drift", "Homogeneity"] * 2
    assert [ax.get_xlabel() for ax in panels] == ["", "", "Step", "Step"]
    # the colour bars once per row, next to the right-hand column
    assert sorted(ax.get_gid() for ax in colorbars_of(fig)) == ["colorbar:eps", "colorbar:lin"]
    assert legend_labels(fig) == ["ucb"]  # the swept agents are ramps
    for row in (panels[:2], panels[2:]):  # ucb dashed as the reference in every panel
        for ax in row:
            assert _mean_lines(ax)["ucb"].get_linestyle() == "--"
    # a column shares its y-range across rows
    assert panels[0].get_ylim() == panels[2].get_ylim()
    assert panels[1].get_ylim() == panels[3].get_ylim()
    # crowded ramp values keep readable colour-bar labels (0, 0.02, 0.05 would overlap)
    bar = [ax for ax in colorbars_of(fig) if ax.get_gid() == "colorbar:lin"][0]
    ticks = [t.get_text() for t in bar.get_yticklabels()]
    assert ticks[0] == "0" and ticks[-1] == "1" and "0.02" not in ticks


# ---------------------------------------------------------------------------------------
# lorenz: the exposure Lorenz curve at the horizon
# ---------------------------------------------------------------------------------------


def test_lorenz_draws_the_mean_curve_the_diagonal_and_the_gini_in_the_legend():
    results = sweep_results()
    results["eps"].diverged[2, 1] = True  # a diverged run is left out of the mean
    fig = _draw(results, "lorenz")
    assert_readable(fig)
    (ax,) = panels_of(fig)
    lines = _mean_lines(ax)
    (diagonal,) = [line for line in ax.get_lines() if line.get_gid() == "lower_bound"]
    assert diagonal.get_linestyle() == "--" and diagonal.get_label() == "equal exposure"
    np.testing.assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    runs = stats.run_summaries(results)
    gini = np.nanmean(
        np.where(runs["eps"]["diverged"], np.nan, runs["eps"]["final_exposure_gini"]), 1
    )
    expected = [
        f"eps (ε=0): G = {gini[0]:.2f}",
        f"eps (ε=0.1): G = {gini[1]:.2f}",
        f"eps (ε=0.5) [1/4 diverged]: G = {gini[2]:.2f}",
        f"ucb: G = {runs['ucb']['final_exposure_gini'].mean():.2f}",
    ]
    assert legend_labels(fig) == [*expected, "equal exposure"]
    assert sorted(lines) == sorted([*expected, "equal exposure"])
    lorenz = results["eps"].finals["lorenz"]
    np.testing.assert_allclose(lines[expected[0]].get_ydata(), lorenz[0].mean(0))
    np.testing.assert_allclose(lines[expected[2]].get_ydata(), lorenz[2][[0, 2, 3]].mean(0))
    np.testing.assert_allclose(lines[expected[0]].get_xdata(), np.linspace(0, 1, NUM_ITEMS + 1))
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    assert "least exposed first" in ax.get_xlabel() and ax.get_ylabel() == "Share of exposure"
    assert "T = 300" in title_of(fig)
    assert "G: mean over seeds" in caption_of(fig) and "1 of 16 runs diverged" in caption_of(fig)


def test_lorenz_gini_is_one_minus_twice_the_area():
    rng = np.random.default_rng(2)
    counts = rng.gamma(0.5, size=(3, NUM_ITEMS))
    np.testing.assert_allclose(figures.lorenz_gini(_lorenz(counts)), _gini(counts), atol=1e-12)
    assert figures.lorenz_gini(np.linspace(0, 1, 11)) == pytest.approx(0.0)
    # without the exposure_gini column the legend's G comes from the curves' area
    results = sweep_results()
    for label in results.agents:
        del results[label].metrics["exposure_gini"]
    fig = _draw(results, "lorenz")
    g = figures.lorenz_gini(results["ucb"].finals["lorenz"]).mean()
    assert f"ucb: G = {g:.2f}" in legend_labels(fig)
    assert "1 − 2 × the area" in caption_of(fig)


def test_lorenz_facets_two_swept_agents_and_keeps_the_legend_short():
    rng = np.random.default_rng(3)
    lin = feedback_agent(rng, [{"agent.epsilon": e} for e in (0.0, 0.02, 0.05, 0.2, 0.5, 1.0)])
    fig = _draw(sweep_results(extra_agents={"lin": lin}), "lorenz")
    assert_readable(fig)
    assert [ax.get_title(loc="left") for ax in panels_of(fig)] == ["eps", "lin"]
    assert len(legend_labels(fig)) == 3 + 1 + 6 + 1
    assert fig.legends[0]._ncols >= 2  # compact labels: two columns in one paper column


# ---------------------------------------------------------------------------------------
# utility_homogeneity: the scatter across a sweep
# ---------------------------------------------------------------------------------------


def test_utility_homogeneity_scatter_with_intervals_joined_in_sweep_order():
    results = sweep_results(eps=(0.0, 0.1, 0.5, 1.0))
    fig = _draw(results, "utility_homogeneity")
    assert_readable(fig)
    (ax,) = panels_of(fig)
    assert legend_labels(fig) == ["eps", "ucb"]
    assert "Homogeneity" in ax.get_xlabel() and "Utility" in ax.get_ylabel()
    runs = stats.run_summaries(results)
    x = stats.mean_ci(runs["eps"]["final_homogeneity"], axis=1)
    y = stats.mean_ci(runs["eps"]["avg_utility"], axis=1)
    containers = {c.lines[0].get_gid(): c for c in ax.containers}
    assert sorted(containers) == ["points:eps", "points:ucb"]
    container = containers["points:eps"]
    markers = container.lines[0]
    np.testing.assert_allclose(markers.get_xdata(), x.mean)
    np.testing.assert_allclose(markers.get_ydata(), y.mean)
    # error bars: the Student-t intervals on both axes
    xbars, ybars = container.lines[2]
    x_segments = np.array([seg[:, 0] for seg in xbars.get_segments()])
    y_segments = np.array([seg[:, 1] for seg in ybars.get_segments()])
    np.testing.assert_allclose(np.sort(x_segments, 1), np.stack([x.low, x.high], 1))
    np.testing.assert_allclose(np.sort(y_segments, 1), np.stack([y.low, y.high], 1))
    # the eps points joined in sweep order; ucb one marker, no line
    joins = [
        line for line in ax.get_lines() if line.get_gid() is None and len(line.get_xdata()) > 1
    ]
    (join,) = joins
    np.testing.assert_allclose(join.get_xdata(), x.mean)
    assert len(containers["points:ucb"].lines[0].get_xdata()) == 1
    # each point labelled with its swept value, where a label fits
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "point_label"]
    assert texts and set(texts) <= {"ε=0", "ε=0.1", "ε=0.5", "ε=1"}
    left_out = 4 - len(texts)
    assert (f"{left_out} of 4 point labels left out" in caption_of(fig)) == bool(left_out)
    assert "ε = agent.epsilon" in caption_of(fig)
    assert "4 seeds" in caption_of(fig) and "Student-t 95%" in caption_of(fig)


def test_point_labels_never_overlap_and_stay_inside_the_axes():
    # ten points on one spot (labels fit around it in 8 places at most), two apart
    xs = np.array([0.5] * 10 + [0.1, 0.9])
    names = [f"p{i}" for i in range(12)]
    series = {"a": plots.ScatterSeries((xs,) * 3, (xs,) * 3, names, paths=[])}
    fig, ax = plots.plot_interval_scatter(series, xlabel="x", ylabel="y", caption="c")
    assert_readable(fig)  # no two labels overlap, none leaves the canvas
    texts = [t for t in ax.texts if t.get_gid() == "point_label"]
    assert {"p10", "p11"} <= {t.get_text() for t in texts} and len(texts) <= 10
    left_out = 12 - len(texts)
    assert f"{left_out} of 12 point labels left out (no room)" in caption_of(fig)
    frame = ax.get_window_extent()
    for text in texts:
        box = text.get_window_extent()
        assert (
            frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 <= box.y1 <= frame.y1
        )
    assert not [line for line in ax.get_lines() if line.get_gid() is None]  # paths=[]: no line


def test_sweep_paths_join_points_along_the_last_key():
    points = [{"a": a, "b": b} for a in (1, 2) for b in (10, 20, 30)]
    assert figures._sweep_paths(points, ["a", "b"]) == [[0, 1, 2], [3, 4, 5]]
    assert figures._sweep_paths(points[:3], ["b"]) == [[0, 1, 2]]
    keys = ["agents.x.epsilon", "env.drift.rate", "agents.x.rate"]
    assert figures._symbols(keys, "x") == {
        "agents.x.epsilon": "ε",
        "env.drift.rate": "env.drift.rate",
        "agents.x.rate": "rate",
    }


# ---------------------------------------------------------------------------------------
# Names, skipping and validation
# ---------------------------------------------------------------------------------------


def test_the_names_are_figures_and_a_figure_without_its_metrics_is_skipped_with_a_warning(
    tmp_path,
):
    assert set(NEW) <= set(FIGURES)
    rng = np.random.default_rng(4)
    plain = FakeResults({"a": bandit_agent(rng, 1, 2, 10)}, np.arange(1, 11))
    for name in NEW:
        with pytest.warns(figures.FigureSkipped, match=rf"'{name}' skipped: needs .*metrics"):
            assert figures.draw(plain, tmp_path, names=[name]) == []
    with pytest.warns(figures.FigureSkipped, match="not logged: utility"):
        figures.draw(sweep_results(logged={"homogeneity"}), tmp_path, names=["utility_homogeneity"])
    # drawn when logged: PNG and PDF, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", figures.FigureSkipped)
        paths = figures.draw(sweep_results(), tmp_path / "out", names=list(NEW))
    assert sorted(p.name for p in paths) == sorted(f"{n}.{e}" for n in NEW for e in ("png", "pdf"))
    assert all(p.stat().st_size > 0 for p in paths)


def test_check_figure_metrics_names_what_is_missing():
    every = ["user_drift", "homogeneity", "exposure_gini", "utility"]
    figures.check_figure_metrics([*NEW, "regret", "ndcg"], every)
    figures.check_figure_metrics(["feedback"], ["homogeneity"])  # one of the two is enough
    with pytest.raises(ConfigError, match="'feedback'.*'user_drift', 'homogeneity'"):
        figures.check_figure_metrics(["feedback"], ["utility"])
    with pytest.raises(ConfigError, match="'lorenz'.*exposure_gini"):
        figures.check_figure_metrics(["lorenz"], ["user_drift"])
    with pytest.raises(ConfigError, match="not logged: utility"):
        figures.check_figure_metrics(["utility_homogeneity"], ["homogeneity"])
    assert figures.missing_metrics("regret", []) is None


def test_select_points_and_a_saved_folder_keep_the_lorenz_curves(tmp_path):
    results = sweep_results()
    view = figures.select(results, points=[0, 2])
    np.testing.assert_array_equal(
        view["eps"].finals["lorenz"], results["eps"].finals["lorenz"][[0, 2]]
    )
    fig = _draw(results, "lorenz", points=[0, 2])
    assert len(legend_labels(fig)) == 2 + 1 + 1
    # through a results folder: finals saved as final:lorenz and loaded back
    agents = {
        label: AgentResults(
            label,
            results[label].metrics,
            results[label].diverged,
            results[label].points,
            None,
            results.steps,
            10,
            finals=results[label].finals,
        )
        for label in results.agents
    }
    folder = save_results(Results({"name": "fl", "figures": list(NEW)}, agents), tmp_path / "run")
    loaded = load(folder)
    names = [name for name, _ in figures.figure_objects(loaded)]
    assert names == list(NEW)


@pytest.mark.parametrize("style", ["paper", "talk"])
def test_the_three_figures_read_well_in_both_styles(style):
    rng = np.random.default_rng(5)
    lin = feedback_agent(rng, [{"agent.epsilon": e} for e in (0.0, 0.05, 0.2, 0.5, 1.0)])
    for results in (sweep_results(), sweep_results(extra_agents={"lin": lin})):
        for name, fig in figures.figure_objects(results, list(NEW), style=style):
            try:
                assert_readable(fig)
            except AssertionError as err:
                raise AssertionError(f"{name}: {err}") from err


def test_spread_ticks_keeps_the_ends_and_drops_crowded_values():
    norm = Normalize(0.0, 1.0)
    assert plots._spread_ticks([0, 0.02, 0.05, 0.2, 0.5, 1], norm, 1.2, 0.11) == [0, 0.2, 0.5, 1]
    assert plots._spread_ticks([0, 0.5, 1], norm, 2.0, 0.1) == [0, 0.5, 1]
    assert plots._spread_ticks([0, 0.95, 1], norm, 1.0, 0.1) == [0, 1]
