"""What the figures draw, measured on the drawn objects (issue #16, "Paper-ready figures").

Every figure is laid out as ``figures.save`` lays it out, then measured with the Agg
renderer: the legend is outside every panel (its box does not meet any panel's tight box,
tick labels and titles included) and takes at most 25% of the figure's height; no two
texts overlap; no font is under 7 pt; more than 8 curves of one agent are a colour ramp
with a colour bar (no legend entry per curve); curves spanning more than 100x get a log
y-axis; bands stay inside the metric's range; change points shared by all seeds are drawn.

The same checks run on synthetic results (fast) and on the three sweeps of
``docs/figures/make_figures.py`` run at 2 seeds and 50 steps (marked slow).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import matplotlib.axis
import matplotlib.text
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

import simulator
from experiments import cli, figures, plots
from experiments.api import scalar_params
from experiments.results import AgentResults, Results
from experiments.results import save as save_results
from simulator.params import ConfigError
from tests.experiments.test_stats import FakeResults, bandit_agent

ROOT = Path(__file__).resolve().parents[2]
LRS = [float(v) for v in np.logspace(-4, 1.5, 12)]


# ---------------------------------------------------------------------------------------
# Measuring a drawn figure
# ---------------------------------------------------------------------------------------


def renderer_of(fig):
    """Lay the figure out once, as ``figures.save`` does, and return the renderer."""
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def panels_of(fig):
    return list(getattr(fig, "driftsim_panels", fig.axes))


def colorbars_of(fig):
    return [ax for ax in fig.axes if str(ax.get_gid()).startswith("colorbar:")]


def _meets(a, b, tolerance=1.0) -> bool:
    """Boxes share an area more than ``tolerance`` pixels wide and high."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > tolerance and height > tolerance


def visible_texts(fig, renderer):
    """Every text drawn: tick labels of the ticks inside the view, labels, titles,
    legend entries, the caption."""
    hidden = set()
    for axis in fig.findobj(matplotlib.axis.Axis):
        low, high = sorted(axis.get_view_interval())
        span = high - low
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            loc = tick.get_loc()
            if loc is None or not (low - 1e-9 * span <= loc <= high + 1e-9 * span):
                hidden.update({id(tick.label1), id(tick.label2)})
    out = []
    for text in fig.findobj(matplotlib.text.Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        box = text.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            out.append((text, box))
    return out


def assert_readable(fig, max_legend_fraction=0.25):
    """The measured layout rules every figure keeps."""
    renderer = renderer_of(fig)
    height = fig.bbox.height
    boxes = [ax.get_tightbbox(renderer) for ax in panels_of(fig) + colorbars_of(fig)]
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert box.height <= max_legend_fraction * height, (box.height, height)
        for panel in boxes:
            assert not _meets(box, panel), "the legend covers a panel"
        assert box.x0 >= -1 and box.x1 <= fig.bbox.width + 1, "the legend is cut"
    texts = visible_texts(fig, renderer)
    for text, _ in texts:
        assert text.get_fontsize() >= plots.MIN_FONT_PT, (text.get_text(), text.get_fontsize())
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1 :]:
            assert not _meets(box_a, box_b, 1.5), f"{a.get_text()!r} overlaps {b.get_text()!r}"
    for text, box in texts:  # nothing drawn outside the canvas
        assert box.x0 >= -2 and box.x1 <= fig.bbox.width + 2, text.get_text()
        assert box.y0 >= -2 and box.y1 <= height + 2, text.get_text()
    return renderer


def legend_labels(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def caption_of(fig):
    (caption,) = [t for t in fig.texts if t.get_gid() == "caption"]
    return caption.get_text().replace("\n", " ")


def title_of(fig):
    (title,) = [t for t in fig.texts if t.get_gid() == "title"]
    return title.get_text().replace("\n", " ")


def band_y(ax):
    """Every y of every band polygon in ``ax``."""
    ys = [c.get_paths()[0].vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection)]
    ys = np.concatenate([y for y in ys if y.size]) if ys else np.zeros(0)
    return ys[np.isfinite(ys)]


# ---------------------------------------------------------------------------------------
# Synthetic results
# ---------------------------------------------------------------------------------------


def bernoulli_spec():
    return simulator.make("bernoulli", num_arms=2).spec.as_dict()


def lr_sweep_results(num_steps=40, seeds=3):
    """SGD at 12 learning rates whose losses span decades, plus an unswept reference."""
    rng = np.random.default_rng(0)
    points = [{"agent.learning_rate": lr} for lr in LRS]
    scale = np.asarray(LRS)[:, None, None] * 1e3 + 0.1  # the worst rates dominate
    loss = scale * (1 + 0.1 * rng.random((12, seeds, num_steps)))
    sgd = bandit_agent(rng, 12, seeds, num_steps, points=points, extra={"loss": loss})
    ref = bandit_agent(rng, 1, seeds, num_steps, extra={"loss": rng.random((1, seeds, num_steps))})
    config = {"name": "lr", "figures": ["loss", "regret", "sensitivity"]}
    return FakeResults({"sgd": sgd, "ref": ref}, np.arange(1, num_steps + 1), config=config)


def test_more_than_8_curves_of_one_agent_are_a_colour_ramp_with_a_colour_bar():
    results = lr_sweep_results()
    fig = dict(figures.figure_objects(results, ["loss"]))["loss"]
    assert_readable(fig)
    (bar,) = colorbars_of(fig)
    assert bar.get_gid() == "colorbar:sgd" and "learning_rate" in bar.get_ylabel()
    # one legend entry for the reference, none per learning rate
    assert legend_labels(fig) == ["ref"]
    (ax,) = panels_of(fig)
    colors = {tuple(line.get_color()) for line in ax.get_lines() if line.get_label() != "ref"}
    assert len(colors) == 12  # every rate its own shade of the ramp
    # more than 8 curves without numeric values: a ramp with the points named on the bar
    curves = {f"x{i}": np.ones((2, 5)) * i for i in range(9)}
    fig, ax = plots.plot_curves(np.arange(5), curves, ylabel="y", groups={"x": list(curves)})
    assert_readable(fig)
    (bar,) = colorbars_of(fig)
    assert fig.legends == [] or legend_labels(fig) == []
    # several agents with several points each: a panel per agent, shared axes
    cs = {f"a{i}": np.ones((2, 5)) * (i + 1) for i in range(3)}
    cs.update({f"b{i}": np.ones((2, 5)) * (i + 1) for i in range(3)})
    fig, axes = plots.plot_curves(
        np.arange(5),
        cs,
        ylabel="y",
        groups={"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"]},
        sweep_values={"a0": 1, "a1": 2, "a2": 3, "b0": 0.9, "b1": 0.99, "b2": 0.999},
        sweep_names={"a": "window", "b": "discount"},
    )
    assert_readable(fig)
    assert [ax.get_title(loc="left") for ax in axes] == ["a", "b"]
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    assert len(colorbars_of(fig)) == 2


def test_a_curve_set_spanning_more_than_100x_gets_a_log_y_axis():
    steps = np.arange(1, 21)
    wide = {"small": np.ones((3, 20)), "large": 1000 * np.ones((3, 20))}
    fig, ax = plots.plot_curves(steps, wide, ylabel="loss")
    assert ax.get_yscale() == "log"
    assert_readable(fig)
    narrow = {"small": np.ones((3, 20)), "large": 50 * np.ones((3, 20))}
    assert plots.plot_curves(steps, narrow, ylabel="loss")[1].get_yscale() == "linear"
    assert plots.plot_curves(steps, wide, ylabel="loss", log_y=False)[1].get_yscale() == "linear"
    # through the figures: the learning-rate sweep's loss, and --logy / --no-logy
    results = lr_sweep_results()
    fig = dict(figures.figure_objects(results, ["loss"]))["loss"]
    assert panels_of(fig)[0].get_yscale() == "log"
    fig = dict(figures.figure_objects(results, ["loss"], log_y=False))["loss"]
    assert panels_of(fig)[0].get_yscale() == "linear"
    # a large linear axis names its unit in the label, never a floating 1e6 offset
    fig, ax = plots.plot_curves(steps, {"a": 3e6 + np.zeros((2, 20))}, ylabel="Loss")
    renderer_of(fig)
    assert ax.get_ylabel() == "Loss (×$10^{6}$)"
    assert not ax.yaxis.get_offset_text().get_text()


def test_bands_stay_inside_the_metric_range():
    rng = np.random.default_rng(1)
    agent = bandit_agent(rng, 1, 2, 30)  # two seeds: raw t intervals span far past [0, 1]
    agent.metrics["reward"] = (rng.random((1, 2, 30)) < 0.5).astype(float)
    config = {"capabilities": {"env": bernoulli_spec()}, "figures": ["reward", "regret"]}
    results = FakeResults({"a": agent}, np.arange(1, 31), config=config)
    figs = dict(figures.figure_objects(results))
    (reward_ax,) = panels_of(figs["reward"])
    ys = band_y(reward_ax)
    assert ys.size and ys.min() >= 0.0 and ys.max() <= 1.0
    assert 0.0 <= reward_ax.get_ylim()[0] and reward_ax.get_ylim()[1] <= 1.0
    assert reward_ax.get_ylabel() == "Click-through rate"
    (regret_ax,) = panels_of(figs["regret"])
    assert band_y(regret_ax).min() >= 0.0 and regret_ax.get_ylim()[0] >= 0.0
    # the metric ranges the figures use
    assert figures.metric_bounds(results, "reward") == (0.0, 1.0)
    assert figures.metric_bounds(results, "loss") == (0.0, None)
    assert figures.metric_bounds(FakeResults({}, [1]), "reward") is None


def abrupt_results(env, points=None, num_steps=60):
    rng = np.random.default_rng(2)
    points = points or [{}]
    agent = bandit_agent(rng, len(points), 2, num_steps, points=points)
    config = {"env": env, "figures": ["regret"]}
    if env["name"] in simulator.names():  # what experiments.run stores: static fields, knobs
        built = simulator.make(env["name"])
        config["capabilities"] = {
            "env_static": built.static_fields(),
            "env_params": scalar_params(built.default_params()),
        }
    return FakeResults({"sw": agent}, np.arange(1, num_steps + 1), config=config)


def test_change_points_shared_by_all_seeds_are_drawn():
    results = abrupt_results({"name": "piecewise_bernoulli", "drift.period": 10})
    fig = dict(figures.figure_objects(results))["regret"]
    assert_readable(fig)
    (ax,) = panels_of(fig)
    lines = [line for line in ax.get_lines() if line.get_gid() == "change_point"]
    assert sorted(line.get_xdata()[0] for line in lines) == [10, 20, 30, 40, 50]
    assert "change point" in legend_labels(fig)
    assert "change points every 10 steps" in caption_of(fig)
    # the default period of the environment (1000) when the config does not set it
    default = abrupt_results({"name": "piecewise_bernoulli"}, num_steps=2500)
    assert figures.change_schedule(default).steps == [1000.0, 2000.0]
    # random-time changes differ between seeds: not drawn, and the caption says so
    hazard = abrupt_results(
        {"name": "piecewise_bernoulli", "drift.period": 0, "drift.hazard": 0.01}
    )
    schedule = figures.change_schedule(hazard)
    assert schedule.steps == [] and "differ between seeds: not drawn" in schedule.note
    fig = dict(figures.figure_objects(hazard))["regret"]
    assert not [line for line in panels_of(fig)[0].get_lines() if line.get_gid() == "change_point"]
    assert "not drawn" in caption_of(fig)
    # a swept period differs between points: not drawn
    swept = abrupt_results(
        {"name": "piecewise_bernoulli"}, points=[{"env.drift.period": 10}, {"env.drift.period": 20}]
    )
    assert figures.change_schedule(swept).steps == []
    # a stationary environment, or an unknown one, has none
    assert figures.change_schedule(abrupt_results({"name": "bernoulli"})).steps == []
    assert figures.change_schedule(abrupt_results({"name": "no-such-env"})).steps == []


def test_titles_and_captions_state_seeds_band_and_smoothing():
    rng = np.random.default_rng(3)
    config = {
        "name": "demo",
        "env": {"name": "bernoulli", "num_arms": 2, "means": [0.5, 0.4]},
        "capabilities": {"env": bernoulli_spec()},
        "figures": ["regret_log", "reward"],
    }
    results = FakeResults(
        {"ts": bandit_agent(rng, 1, 4, 200), "ucb": bandit_agent(rng, 1, 4, 200)},
        np.arange(1, 201),
        config=config,
    )
    figs = dict(figures.figure_objects(results))
    for fig in figs.values():
        assert_readable(fig)
        assert title_of(fig).startswith("demo: ")
        assert "4 seeds" in caption_of(fig) and "Student-t 95% interval" in caption_of(fig)
    assert "trailing mean over 4 steps" in caption_of(figs["reward"])
    caption = caption_of(figs["regret_log"])
    assert "Lai–Robbins asymptotic lower bound" in caption and "finite t" in caption
    assert "Lai–Robbins c ln t" in legend_labels(figs["regret_log"])


def test_sensitivity_axes_follow_the_swept_values():
    # log-spaced learning rates: log x; one figure, named "sensitivity"
    fig = dict(figures.figure_objects(lr_sweep_results(), ["sensitivity"]))["sensitivity"]
    assert_readable(fig)
    (ax,) = panels_of(fig)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # losses span decades
    # a window and a discount share the effective-memory axis 1/(1 - γ)
    rng = np.random.default_rng(4)
    windows, discounts = [25, 50, 100, 200], [0.96, 0.98, 0.99, 0.995]
    sw = bandit_agent(rng, 4, 3, 30, points=[{"agents.sw.window": w} for w in windows])
    d = bandit_agent(rng, 4, 3, 30, points=[{"agents.d.discount": g} for g in discounts])
    ref = bandit_agent(rng, 1, 3, 30)
    results = FakeResults({"sw": sw, "d": d, "ucb": ref}, np.arange(1, 31), config={})
    fig = dict(figures.figure_objects(results, ["sensitivity"]))["sensitivity"]
    assert_readable(fig)
    (ax,) = panels_of(fig)
    assert ax.get_xscale() == "log" and "Effective memory" in ax.get_xlabel()
    (d_line,) = [line for line in ax.get_lines() if line.get_label() == "d"]
    np.testing.assert_allclose(d_line.get_xdata(), [25, 50, 100, 200])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25", "50", "100", "200"]
    (top,) = [c for c in ax.child_axes]
    assert top.get_xlabel() == "discount γ"
    assert "effective memory 1/(1 − γ)" in caption_of(fig)
    assert legend_labels(fig) == ["sw", "d", "ucb"]
    # evenly spaced values keep a linear axis
    assert plots.value_scale([0.1, 0.2, 0.3, 0.4]) == "linear"
    assert plots.value_scale([1e-3, 1e-2, 1e-1, 1.0]) == "log"
    assert plots.value_scale([0.9, 0.99, 0.999]) == "memory"


@pytest.mark.parametrize("style", ["paper", "talk"])
def test_styles_sizes_and_fonts(style):
    results = lr_sweep_results()
    for name, fig in figures.figure_objects(results, style=style):
        assert_readable(fig)
        width = fig.get_size_inches()[0]
        assert width == pytest.approx(plots.get_style(style).width), name
    with pytest.raises(ConfigError, match="style"):
        figures.figure_objects(results, style="poster")


def test_select_agents_and_points():
    results = lr_sweep_results()
    view = figures.select(results, ["sgd"], {"learning_rate": [LRS[0], LRS[3]]})
    assert view.agents == ["sgd"]
    assert [p["agent.learning_rate"] for p in view["sgd"].points] == [LRS[0], LRS[3]]
    assert view["sgd"].metrics["loss"].shape[0] == 2
    view = figures.select(results, points=[0, 2])
    assert len(view["sgd"].points) == 2 and len(view["ref"].points) == 1
    with pytest.raises(ConfigError, match="not an agent"):
        figures.select(results, ["nope"])
    with pytest.raises(ConfigError, match="not a swept key"):
        figures.select(results, points={"nope": [1]})
    with pytest.raises(ConfigError, match="has points 0..11"):
        figures.select(results, points=[12])
    fig = dict(figures.figure_objects(results, ["loss"], points=[0, 1]))["loss"]
    assert not colorbars_of(fig)  # two curves: legend entries, no ramp
    assert legend_labels(fig) == [
        f"sgd (learning_rate={plots.format_value(LRS[0])})",
        f"sgd (learning_rate={plots.format_value(LRS[1])})",
        "ref",
    ]


def test_compare_states_the_common_horizon_and_warns():
    rng = np.random.default_rng(5)
    labels = [f"agent{i}" for i in range(10)]
    first = FakeResults(
        {a: bandit_agent(rng, 1, 3, 40) for a in labels}, np.arange(1, 41), path="out/a"
    )
    second = FakeResults(
        {a: bandit_agent(rng, 1, 2, 20) for a in labels}, np.arange(1, 21), path="out/b"
    )
    with pytest.warns(figures.CompareWarning) as record:
        figs = dict(figures.compare_figures([first, second]))
    messages = " ".join(str(w.message) for w in record)
    assert "common horizon T = 20" in messages and "different seeds" in messages
    fig = figs["compare_regret"]
    assert_readable(fig)  # 20 curves: one entry per agent and per folder, not 20
    assert legend_labels(fig) == labels + ["a", "b"]
    (ax,) = panels_of(fig)
    assert max(line.get_xdata().max() for line in ax.get_lines()) == 20
    assert "compared at the common horizon T = 20" in caption_of(fig)
    # --agents
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", figures.CompareWarning)
        figs = dict(figures.compare_figures([first, second], agents=["agent3"]))
    assert legend_labels(figs["compare_regret"]) == ["agent3", "a", "b"]
    with pytest.raises(ConfigError, match="in none of the folders"):
        figures.compare_figures([first, second], agents=["nope"])
    # same horizon and seeds: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", figures.CompareWarning)
        figures.compare_figures([first, first])


def saved_folder(tmp_path, name, num_steps, seed=0):
    rng = np.random.default_rng(6)
    steps = np.arange(1, num_steps + 1)
    fake = bandit_agent(rng, 2, 2, num_steps, points=[{"agent.c": 1.0}, {"agent.c": 2.0}])
    agents = {
        label: AgentResults(label, fake.metrics, fake.diverged, fake.points, None, steps, 1)
        for label in ("ucb", "ts")
    }
    config = {"name": name, "seed": seed, "figures": ["regret", "reward"]}
    results = Results(config, agents)
    return save_results(results, tmp_path / name)


def test_cli_plot_and_compare_options(tmp_path, capsys):
    folder = saved_folder(tmp_path, "run", 30)
    argv = ["plot", str(folder), "--metrics", "regret", "--agents", "ucb", "--points",
            "agent.c=2", "--logy", "--style", "talk"]  # fmt: skip
    assert cli.main(argv) == 0
    written = sorted(p.name for p in (folder / "talk").iterdir())
    assert written == ["regret.pdf", "regret.png"]
    assert cli.main(["plot", str(folder), "--points", "0", "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == ["regret.png", "reward.png"]
    capsys.readouterr()
    assert cli.main(["plot", str(folder), "--metrics", "nope"]) == 2
    assert "--metrics = 'nope'" in capsys.readouterr().err
    assert cli.main(["plot", str(folder), "--agents", "nope"]) == 2
    assert cli.main(["plot", str(folder), "--points", "x"]) == 2
    other = saved_folder(tmp_path, "short", 20, seed=1)
    out = tmp_path / "cmp"
    argv = ["compare", str(folder), str(other), "--agents", "ts", "--out", str(out)]
    with pytest.warns(figures.CompareWarning) as record:  # printed by driftsim as a warning
        assert cli.main(argv) == 0
    messages = " ".join(str(w.message) for w in record)
    assert "compare: the folders have different horizons" in messages
    assert "different seeds" in messages
    assert sorted(p.name for p in out.glob("*.png")) == [
        "compare_regret.png",
        "compare_regret_log.png",
    ]


# ---------------------------------------------------------------------------------------
# The three sweeps of docs/figures (not presets), at 2 seeds and 50 steps
# ---------------------------------------------------------------------------------------


def _make_figures_module():
    spec = importlib.util.spec_from_file_location(
        "make_figures", ROOT / "docs" / "figures" / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sweeps():
    module = _make_figures_module()
    out = {}
    with warnings.catch_warnings():  # windows longer than a 50-step run
        warnings.simplefilter("ignore")
        for name in module.SWEEPS:
            results = module.run(name, seeds=2, steps=50)
            out[name] = dict(figures.figure_objects(results))
    return out


@pytest.mark.slow
def test_the_documented_sweeps_read_well(sweeps):
    for name, figs in sweeps.items():
        assert figs, name
        for file_name, fig in figs.items():
            try:
                assert_readable(fig)
            except AssertionError as err:
                raise AssertionError(f"{name}/{file_name}: {err}") from err
            assert title_of(fig) and "2 seeds" in caption_of(fig)
    # 12 learning rates x 2 optimizers: a panel and a ramp each, losses on a log axis
    loss = sweeps["lr"]["loss"]
    assert [ax.get_title(loc="left") for ax in panels_of(loss)] == ["sgd", "adam"]
    assert {ax.get_gid() for ax in colorbars_of(loss)} == {"colorbar:sgd", "colorbar:adam"}
    assert panels_of(loss)[0].get_yscale() == "log"
    assert panels_of(sweeps["lr"]["sensitivity"])[0].get_xscale() == "log"
    # window / discount on an abrupt bandit: change points, the effective-memory axis
    regret = sweeps["memory"]["regret"]
    for ax in panels_of(regret):
        lines = [line for line in ax.get_lines() if line.get_gid() == "change_point"]
        assert [line.get_xdata()[0] for line in lines] == [10, 20, 30, 40]
        assert band_y(ax).min() >= 0.0
    (memory,) = panels_of(sweeps["memory"]["sensitivity"])
    assert memory.get_xscale() == "log" and "Effective memory" in memory.get_xlabel()
    # four agents on drifting users: clicks in [0, 1], no ramp
    reward = sweeps["users"]["reward"]
    assert legend_labels(reward) == ["random", "linucb", "d-linucb", "sw-linucb"]
    (ax,) = panels_of(reward)
    assert band_y(ax).min() >= 0.0 and band_y(ax).max() <= 1.0
