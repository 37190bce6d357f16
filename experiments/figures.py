"""The figures of a results folder: which to draw, from which arrays, under which names.

:func:`draw` reads a Results object (``experiments.load(DIR)`` or ``experiments.run``) and
writes the figures its experiment names (``config["figures"]``), each as PNG and PDF;
:func:`compare` overlays the regret curves of several results folders.  The drawing itself
is :mod:`experiments.plots` (its module docstring has the layout rules: legends outside the
data, colour ramps for sweeps, facets, scales from the data); the numbers come from
:mod:`experiments.stats`.

Figure names (files ``NAME.png`` and ``NAME.pdf``; the same names whatever was swept):

===================  =====================================================================
regret               mean cumulative regret with a 95% band, linear time
regret_log           the same on a log-time axis, with the Lai–Robbins asymptote ``c ln t``
                     for a ``bernoulli`` environment with fixed ``means``
reward               average reward per step
optimal              % optimal action per step
loss                 average loss per step (full-information streams), when logged
sensitivity          the final metric against each swept value, one panel per swept key
                     (a window and a discount share one panel on the effective-memory axis
                     ``1/(1-γ)``), diverged points marked; for a 2-D grid also
                     ``heatmap_<label>`` per agent
privacy              average loss against the (epsilon, delta) of each noise multiplier
normalised_regret    Riquelme, Tucker & Snoek (2018)'s table: final regret as a percentage
                     of the uniform agent's (:func:`experiments.stats.normalised_regret`)
ndcg                 NDCG@k of the slate per step (ranked slates)
ctr_by_position      click-through rate at each slate position with 95% intervals, one
                     panel per point (ranked slates)
feedback             user drift and homogeneity over time, side by side (one panel when
                     only one was logged; a row per agent when several agents are swept)
lorenz               the exposure Lorenz curve at the horizon per agent and point, the
                     diagonal of equal exposure dashed, the mean Gini ``G`` in the legend
utility_homogeneity  mean utility against the final homogeneity, a marker per agent and
                     point with Student-t intervals on both axes, an agent's points joined
                     in sweep order and labelled ``ε=0.1`` (Chaney et al. 2018)
===================  =====================================================================

The last three draw the opt-in feedback-loop metrics (``metrics = [...]``; see
:mod:`experiments.feedback_metrics` and :data:`FIGURE_METRICS`); without them the figure
is skipped with a :class:`FigureSkipped` warning naming what is missing.

What every curve figure states or shows:

* a title (``experiment: what``) and a caption line: the number of seeds, the band
  (Student-t 95% interval of the mean over seeds), the smoothing (the per-step curves are
  a trailing mean over ``max(1, T // 50)`` stored values, stated in steps), diverged runs
  left out, and the notes below;
* an agent with several points is a colour ramp with a colour bar naming the swept key;
  several such agents get a panel each; the metric's range clips the bands (click rewards
  in [0, 1], regret and loss >= 0; see :func:`metric_bounds`);
* known change points of an abrupt environment (``drift = "abrupt"`` with a fixed
  ``drift.period``: the same for every seed) are dotted vertical lines; changes at random
  times (``drift.hazard``) differ between seeds and are not drawn (the caption says so),
  nor are change points when the period itself is swept.

Files are written atomically: a temporary file in the same folder, then ``os.replace``,
so a crash never leaves a half-written figure.

Example::

    paths = draw(experiments.load("results/testbed"), "results/testbed")
    draw(results, "talk", names=["regret"], agents=["ucb", "ts"], style="talk")
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import numpy as np

from experiments import atomic, plots, stats
from experiments.schema import (  # noqa: F401 (re-exported: figures.missing_metrics)
    FIGURE_METRICS,
    FIGURES,
    check_figure_metrics,
    missing_metrics,
)
from experiments.stats import (  # noqa: F401 (re-exported: figures.normalised_regret)
    UNIFORM_AGENT,
    NormalisedRegret,
    normalised_regret,
    point_label,
    short_key,
)
from simulator.params import ConfigError

#: The delta at which the privacy figure reports each noise multiplier's epsilon.
PRIVACY_DELTA = 1e-5
DEFAULT_FIGURES = ("regret", "sensitivity")
FORMATS = ("png", "pdf")
#: Last dotted component of swept keys that are a memory length / a discount factor.
WINDOW_KEYS = ("window", "tau")
DISCOUNT_KEYS = ("discount", "gamma")

_PDF_METADATA = {"CreationDate": None}  # reproducible PDFs


class CompareWarning(UserWarning):
    """:func:`compare` was given folders that differ in horizon or seeds."""


def check_names(names: Sequence[str], key: str = "figures") -> list[str]:
    """Validate figure names: ConfigError naming the bad one and the allowed values."""
    if isinstance(names, str):
        names = [names]
    for name in names:
        if name not in FIGURES:
            raise ConfigError(f"{key} = {name!r}: unknown figure; one of {list(FIGURES)}")
    return list(names)


def save(
    fig: Any,
    out_dir: str | os.PathLike,
    name: str,
    formats: Sequence[str] = FORMATS,
    dpi: float | None = None,
):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically.

    Each file goes through :mod:`experiments.atomic` (a temporary file moved into place;
    on an error nothing else changes).  ``dpi`` overrides the style's resolution of
    raster formats (300 for paper figures).

    Returns:
      The written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    rc = plots.get_style(getattr(fig, "driftsim_style", "paper")).rc
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"

        def write(handle, fmt=fmt):
            with matplotlib.rc_context(rc):
                if fig.get_layout_engine() is not None:
                    # lay out once at the figure's size, then freeze: a second
                    # tight-cropped save must not rerun constrained layout on the crop
                    # (the same layout as canvas.draw(), without rasterising the figure)
                    fig.draw_without_rendering()
                    fig.set_layout_engine("none")
                metadata = _PDF_METADATA if fmt == "pdf" else None
                extra = {"dpi": dpi} if dpi else {}
                fig.savefig(handle, format=fmt, metadata=metadata, **extra)

        paths.append(atomic.write_with(path, write))
    return paths


def safe_name(text: str) -> str:
    """A file-name-safe version of a label or key (``agent.epsilon`` stays readable)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(text)).strip("_") or "x"


# ---------------------------------------------------------------------------------------
# A selection of agents and points
# ---------------------------------------------------------------------------------------


class _AgentView:
    """Some points of one agent's results (the same attributes as ``AgentResults``)."""

    def __init__(self, r: Any, index: Sequence[int]):
        index = list(index)
        metrics = getattr(r, "metrics", None)
        if metrics is None:
            metrics = {m: getattr(r, m) for m in ("reward", "regret", "optimal") if hasattr(r, m)}
        self.label = getattr(r, "label", "")
        self.metrics = {k: np.asarray(v)[index] for k, v in metrics.items()}
        shape = next(iter(self.metrics.values())).shape[:2]
        diverged = getattr(r, "diverged", None)
        full = (len(r.points), shape[1])
        self.diverged = (
            np.zeros(shape, bool)
            if diverged is None
            else np.broadcast_to(np.asarray(diverged, bool), full)[index]
        )
        self.points = [r.points[i] for i in index]
        self.grid = getattr(r, "grid", None) if len(index) == len(r.points) else None
        self.record_every = getattr(r, "record_every", 1)
        finals = getattr(r, "finals", None) or {}
        self.finals = {k: np.asarray(v)[index] for k, v in finals.items()}

    def __getattr__(self, name: str) -> np.ndarray:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def cumulative_regret(self) -> np.ndarray:
        return stats.cumulative_regret(self.metrics["regret"], self.record_every)


class _ResultsView:
    """Some agents and points of a Results object (what :func:`draw` reads of it)."""

    def __init__(self, results: Any, agents: dict[str, Any]):
        self._agents = agents
        self.agents = list(agents)
        self.steps = np.asarray(results.steps)
        self.record_every = int(getattr(results, "record_every", 1))
        self.config = getattr(results, "config", None) or {}
        self.path = getattr(results, "path", None)

    def __getitem__(self, label: str) -> Any:
        return self._agents[label]


def _key_matches(key: str, given: str) -> bool:
    return key == given or key.endswith("." + given)


def _same_value(value: Any, wanted: Any) -> bool:
    if plots.is_numeric([value]) and plots.is_numeric([wanted]):
        return math.isclose(float(value), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
    return stats.format_value(value) == stats.format_value(wanted)


def select(
    results: Any,
    agents: Sequence[str] | None = None,
    points: Mapping[str, Sequence[Any]] | Sequence[int] | None = None,
) -> Any:
    """A view of ``results`` restricted to some agents and points (for :func:`draw`).

    Args:
      results: a Results object.
      agents: labels to keep, in this order (None: all).
      points: ``{key: values}``, keeping the points whose value of ``key`` is one of
        ``values`` (``key`` is a swept key, ``agent.learning_rate``, or its last part,
        ``learning_rate``; a point without the key is kept), or indices into each agent's
        points (an agent with one point keeps it).

    Returns:
      An object with the Results attributes :func:`draw` reads; ``results`` itself when
      nothing is restricted.

    Raises:
      ConfigError: an unknown label, a key no agent has, or nothing left to draw.
    """
    if not agents and not points:
        return results
    labels = list(agents) if agents else list(results.agents)
    unknown = [label for label in labels if label not in results.agents]
    if unknown:
        raise ConfigError(
            f"agents = {unknown[0]!r}: not an agent of these results; one of "
            f"{', '.join(results.agents)}"
        )
    if isinstance(points, Mapping):
        every = [k for label in labels for p in results[label].points for k in p]
        for given in points:
            if not any(_key_matches(k, given) for k in every):
                raise ConfigError(
                    f"points: {given!r} is not a swept key of these agents; swept: "
                    f"{', '.join(dict.fromkeys(every)) or 'none'}"
                )
    views = {}
    for label in labels:
        r = results[label]
        keep = list(range(len(r.points)))
        if isinstance(points, Mapping):
            keep = [
                i
                for i in keep
                if all(
                    any(_same_value(v, w) for w in wanted)
                    for given, wanted in points.items()
                    for k, v in r.points[i].items()
                    if _key_matches(k, given)
                )
            ]
        elif points:
            if len(r.points) > 1:
                bad = [i for i in points if not 0 <= int(i) < len(r.points)]
                if bad:
                    raise ConfigError(
                        f"points = {bad[0]}: {label!r} has points 0..{len(r.points) - 1}"
                    )
                keep = [int(i) for i in points]
        if keep:
            views[label] = _AgentView(r, keep)
    if not views:
        raise ConfigError("points: no point of these agents matches")
    return _ResultsView(results, views)


# ---------------------------------------------------------------------------------------
# From Results to curves
# ---------------------------------------------------------------------------------------


class CurveSet(NamedTuple):
    """The curves of a figure.

    Attributes:
      curves: curve label -> ``(seeds, T)`` values, diverged seeds NaN.
      groups: agent label -> its curve labels (one per point).
      values: curve label -> the value of the one key the agent's points vary in (only
        for agents that vary in exactly one key).
      names: agent label -> that key (short form, for a colour bar).
      diverged: ``(diverged runs, runs)`` over all curves.
    """

    curves: dict[str, np.ndarray]
    groups: dict[str, list[str]]
    values: dict[str, Any]
    names: dict[str, str]
    diverged: tuple[int, int]


def _metric(r: Any, name: str) -> np.ndarray | None:
    metrics = getattr(r, "metrics", None)
    if metrics is not None and name in metrics:
        return np.asarray(metrics[name], dtype=np.float64)
    value = getattr(r, name, None)
    return None if value is None or callable(value) else np.asarray(value, dtype=np.float64)


def _diverged(r: Any, shape: tuple[int, ...]) -> np.ndarray:
    d = getattr(r, "diverged", None)
    if d is None:
        return np.zeros(shape, dtype=bool)
    return np.broadcast_to(np.asarray(d, dtype=bool), shape)


def _cumulative_regret(results: Any, r: Any) -> np.ndarray | None:
    regret = _metric(r, "regret")
    if regret is None:
        return None
    return stats.cumulative_regret(regret, int(getattr(results, "record_every", 1)))


def agent_curves(results: Any, values_of, prefix: str = "") -> CurveSet:
    """Per-point ``(seeds, T)`` curves of every agent, diverged seeds set to NaN.

    Args:
      results: a Results object.
      values_of: ``(results, agent_results) -> (points, seeds, T)`` array or None.
      prefix: put before every label (``"folder/"`` in :func:`compare`).

    Returns:
      A :class:`CurveSet`.  Curve labels are ``label (key=value, ...)`` with the keys that
      vary across the agent's points (``agent.`` dropped), plus ``[k/n diverged]`` when
      ``k`` of its ``n`` seeds diverged.
    """
    curves: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    num_bad = num_runs = 0
    for label in results.agents:
        r = results[label]
        array = values_of(results, r)
        if array is None:
            continue
        bad = _diverged(r, array.shape[:2]) | ~np.isfinite(array).all(axis=-1)
        array = np.where(bad[..., None], np.nan, array)
        keys = stats.varying_keys(r.points)
        members = []
        for i, point in enumerate(r.points):
            name = point_label(prefix + label, point, keys)
            count = int(bad[i].sum())
            if count:
                name += f" [{count}/{bad.shape[1]} diverged]"
            curves[name] = array[i]
            members.append(name)
            if len(keys) == 1:
                values[name] = point.get(keys[0])
        groups[prefix + label] = members
        if len(keys) == 1:
            names[prefix + label] = short_key(keys[0], label)
        num_bad += int(bad.sum())
        num_runs += bad.size
    return CurveSet(curves, groups, values, names, (num_bad, num_runs))


def _env_spec(results: Any) -> dict[str, Any]:
    config = getattr(results, "config", None) or {}
    return (config.get("capabilities") or {}).get("env") or {}


def metric_bounds(results: Any, metric: str) -> tuple[float | None, float | None] | None:
    """The range of a per-step metric as drawn, from the environment's declared rewards.

    ``reward``: [0, 1] for clicks, ``[low, high]`` for bounded rewards, none for real
    ones; ``regret`` (and cumulative regret), ``loss``: >= 0; ``optimal``: [0, 100] %;
    the ranking metrics of slates (``ndcg``, ``precision``, ``recall``, ``click_j``): [0, 1].
    """
    if metric in ("regret", "loss", "param_error"):
        return (0.0, None)
    if metric in ("ndcg", "precision", "recall", "coverage") or re.fullmatch(r"click_\d+", metric):
        return (0.0, 1.0)
    if metric == "optimal":
        return (0.0, 100.0)
    if metric == "reward":
        reward = _env_spec(results).get("reward") or {}
        kind = stats.reward_kind(getattr(results, "config", None))
        if kind == "click":
            return (0.0, 1.0)
        if kind == "bounded":
            low, high = reward.get("low"), reward.get("high")
            return (None if low is None else float(low), None if high is None else float(high))
    return None


def _bernoulli_means(results: Any) -> list[float] | None:
    """Fixed arm means from the config where the environment declared click rewards on
    fixed arms (Bernoulli arms: the Lai–Robbins bound applies), else None."""
    config = getattr(results, "config", None) or {}
    env = config.get("env") or {}
    spec = _env_spec(results)
    clicks = (spec.get("reward") or {}).get("kind") == "click"
    if not isinstance(env, Mapping) or not (clicks and spec.get("fixed_arms")):
        return None
    if env.get("drift") not in (None, "stationary"):
        return None
    means = env.get("means")
    for section in ("static", "fields", "params"):
        if means is None and isinstance(env.get(section), Mapping):
            means = env[section].get("means")
    if means is None:
        return None
    for label in results.agents:  # a sweep over the means has no single bound
        if any(k.startswith("env.means") for p in results[label].points for k in p):
            return None
    return [float(m) for m in means]


class ChangeSchedule(NamedTuple):
    """Change points every seed shares (``steps``) and a sentence for the caption."""

    steps: list[float]
    note: str


def _env_default(config: Mapping[str, Any], field: str) -> Any:
    """The run's ``drift`` (static) or ``drift.<field>`` (knob) as ``experiments.run``
    stored it in ``config["capabilities"]`` (None for an older folder): the environment is
    never rebuilt, so a plugin need not be installed."""
    declared = config.get("capabilities") or {}
    if field == "drift":
        return (declared.get("env_static") or {}).get("drift")
    return (declared.get("env_params") or {}).get(f"drift.{field}")


def change_schedule(results: Any) -> ChangeSchedule:
    """The change points shared by all seeds, from the config: an ``abrupt`` drift with a
    fixed ``drift.period`` P changes after steps P, 2P, ... (:class:`simulator.drift.Abrupt`).

    Hazard-rate changes happen at random times that differ between seeds, and a swept
    period differs between points: neither is drawn (the note says so).  Change points
    are not a logged metric (``oracle.change_point`` stays inside the simulator), so a
    per-seed schedule cannot be recovered from a results folder.
    """
    config = getattr(results, "config", None) or {}
    env = config.get("env") or {}
    if not isinstance(env, Mapping) or not env.get("name"):
        return ChangeSchedule([], "")
    drift = env.get("drift") or _env_default(config, "drift")
    if drift != "abrupt":
        return ChangeSchedule([], "")
    swept: dict[str, set[str]] = {}
    for label in results.agents:
        for point in results[label].points:
            for key in ("env.drift.period", "env.drift.hazard"):
                if key in point:
                    swept.setdefault(key, set()).add(stats.format_value(point[key]))
    notes = []
    period = env.get("drift.period")
    period = _env_default(config, "period") if period is None else float(period)
    hazard = env.get("drift.hazard")
    hazard = _env_default(config, "hazard") if hazard is None else float(hazard)
    steps: list[float] = []
    if len(swept.get("env.drift.period", ())) > 1:
        notes.append("change points differ between points (env.drift.period swept): not drawn")
    elif period:
        if "env.drift.period" in swept:
            period = float(next(iter(swept["env.drift.period"])))
        p = int(round(period))
        horizon = float(np.asarray(results.steps)[-1]) if len(results.steps) else 0.0
        steps = [float(k * p) for k in range(1, int(horizon // p) + 1) if k * p < horizon]
        if steps:
            notes.append(f"dotted: change points every {p:,} steps")
    if (hazard or 0) > 0 or len(swept.get("env.drift.hazard", ())) > 1:
        rate = f" (hazard {stats.format_value(hazard)} per step)" if hazard else ""
        notes.append(f"random-time changes{rate} differ between seeds: not drawn")
    return ChangeSchedule(steps, "; ".join(notes))


def _reward_window(num_values: int) -> int:
    return max(1, num_values // 50)


class _Options(NamedTuple):
    style: str
    log_y: bool | None
    schedule: ChangeSchedule
    name: str


def _title(options: _Options, what: str) -> str:
    return f"{options.name}: {what}" if options.name else what


def _caption(
    cs: CurveSet, level: float = 0.95, smoothing: str = "", notes: Sequence[str] = ()
) -> str:
    seeds = [c.shape[0] for c in cs.curves.values()] or [0]
    text = plots.band_caption(seeds, level, smoothing)
    bad, runs = cs.diverged
    if bad:
        text += f"; {bad} of {runs} runs diverged, left out of the means"
    return "; ".join([text, *[n for n in notes if n]])


def _smoothing(window: int, record_every: int) -> str:
    steps = window * record_every
    if steps <= 1:
        return ""
    if window <= 1:
        return f"each value the mean of {record_every} steps"
    return f"trailing mean over {steps:,} steps"


# ---------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------


def _fig_regret(results, options: _Options, log_x: bool):
    if _several_keys(results):
        return _fig_regret_by_point(results, options, log_x)
    cs = agent_curves(results, _cumulative_regret)
    if not cs.curves:
        return None
    steps = np.asarray(results.steps)
    bound = None
    notes = [options.schedule.note]
    label = "Lai–Robbins bound"
    if log_x:
        means = _bernoulli_means(results)
        if means is not None:
            c = stats.lai_robbins_bound(means)
            bound = (steps, stats.lai_robbins_curve(means, steps))
            label = "Lai–Robbins c ln t"
            notes.append(
                f"dashed: Lai–Robbins asymptotic lower bound c ln t, c = {c:.3g}; it holds as "
                "t → ∞, so a good policy can lie below it at finite t"
            )
    fig, _ = plots.plot_regret(
        steps,
        cs.curves,
        log_x=log_x,
        log_y=options.log_y,
        lower_bound=bound,
        lower_bound_label=label,
        groups=cs.groups,
        sweep_values=cs.values,
        sweep_names=cs.names,
        bounds=metric_bounds(results, "regret"),
        change_points=options.schedule.steps,
        title=_title(options, "cumulative regret" + (", log time" if log_x else "")),
        caption=_caption(cs, notes=notes),
        style=options.style,
    )
    return fig


def _panel_name(point: dict[str, Any], keys: Sequence[str], label: str) -> str:
    """``key=value, ...`` of a point, the title of its panel."""
    return ", ".join(
        f"{short_key(k, label)}={stats.format_value(point[k])}" for k in keys if k in point
    )


def _several_keys(results) -> bool:
    """Whether some agent's points vary in two keys or more (a list sweep over rows such as
    ``(L, K, Delta)``): its curves are then drawn one panel per point."""
    return any(len(stats.varying_keys(results[label].points)) >= 2 for label in results.agents)


def _fig_regret_by_point(results, options: _Options, log_x: bool):
    """Cumulative regret with one panel per point (at most 9), the agents in each."""
    steps = np.asarray(results.steps)
    keys = stats.point_keys(results)
    panels: dict[str, dict[str, np.ndarray]] = {}
    cs = agent_curves(results, _cumulative_regret)  # diverged seeds already NaN
    for label, members in cs.groups.items():
        for point, member in zip(results[label].points, members):
            panels.setdefault(_panel_name(point, keys, label), {})[label] = cs.curves[member]
    names = list(panels)[:9]
    if not names:
        return None
    fig, axes = plots.new_panels(len(names), style=options.style, sharey=False)
    colors = plots.curve_colors({label: [label] for label in results.agents})
    log_y = options.log_y
    if log_y is None:  # a baseline far above the learners: log scale, or they flatten
        finals = [np.nanmean(c[:, -1]) for p in panels.values() for c in p.values()]
        finals = [f for f in finals if np.isfinite(f) and f > 0]
        log_y = bool(finals) and max(finals) > 10 * min(finals)
    handles = {}
    for i, (ax, name) in enumerate(zip(axes, names)):
        plots.plot_curves(
            steps,
            panels[name],
            ylabel="Cumulative regret" if i % (1 if len(names) <= 3 else 2) == 0 else "",
            log_x=log_x,
            log_y=log_y,
            colors=colors,
            bounds=metric_bounds(results, "regret"),
            change_points=options.schedule.steps,
            style=options.style,
            ax=ax,
        )
        for line in ax.get_lines():
            if line.get_label() in colors:
                handles.setdefault(line.get_label(), line)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_title(name, fontsize=plots.get_style(options.style).rc["axes.titlesize"])
    num_seeds = max(np.shape(v)[0] for p in panels.values() for v in p.values())
    caption = f"{num_seeds} seeds; line: mean, band: Student-t 95% interval of the mean; one panel per point"
    if len(panels) > len(names):
        caption += f" (the first {len(names)} of {len(panels)})"
    plots.finish(
        fig,
        [handles[label] for label in results.agents if label in handles],
        title=_title(options, "cumulative regret" + (", log time" if log_x else "")),
        caption=caption,
    )
    return fig


def _fig_metric(results, options: _Options, name: str, ylabel: str, what: str):
    cs = agent_curves(results, lambda res, r: _metric(r, name))
    if not cs.curves:
        return None
    steps = np.asarray(results.steps)
    window = _reward_window(len(steps))
    record_every = int(getattr(results, "record_every", 1))
    common = dict(
        groups=cs.groups,
        sweep_values=cs.values,
        sweep_names=cs.names,
        window=window,
        bounds=metric_bounds(results, name),
        change_points=options.schedule.steps,
        title=_title(options, what),
        caption=_caption(
            cs, smoothing=_smoothing(window, record_every), notes=[options.schedule.note]
        ),
        style=options.style,
    )
    if name == "optimal":
        fig, _ = plots.plot_optimal(steps, cs.curves, **common)
    else:
        fig, _ = plots.plot_curves(steps, cs.curves, ylabel=ylabel, log_y=options.log_y, **common)
    return fig


def _final_metric(results) -> tuple[dict[str, dict[str, np.ndarray]], str, str]:
    """Per-run final values per agent, the summary name used and its axis label: the
    average loss when every agent has a loss (streams: the U-shaped learning-rate curve),
    else the final cumulative regret."""
    runs = stats.run_summaries(results)
    if runs and all("avg_loss" in v for v in runs.values()):
        return runs, "avg_loss", "Average loss"
    if any("final_regret" in v for v in runs.values()):
        return runs, "final_regret", "Final cumulative regret"
    return runs, "", ""


def _last_part(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _is_memory_key(key: str) -> bool:
    return _last_part(key) in WINDOW_KEYS + DISCOUNT_KEYS


def _panel_keys(keys: Sequence[str]) -> list[list[str]]:
    """Swept keys grouped into sensitivity panels: windows and discounts share one panel
    (on the effective-memory axis) when a discount is among them; every other key has its
    own."""
    memory = [k for k in keys if _is_memory_key(k)]
    if not any(_last_part(k) in DISCOUNT_KEYS for k in memory):
        memory = []
    panels: list[list[str]] = []
    for key in keys:
        if key in memory:
            if memory[0] == key:
                panels.append(memory)
        else:
            panels.append([key])
    return panels


def _x_scale(values: Sequence[Any]) -> str:
    if not values or not plots.is_numeric(values):
        return "linear"
    arr = np.asarray(values, dtype=np.float64)
    if np.all(arr > 0):
        return "log" if plots.value_scale(arr) == "log" else "linear"
    positive = arr[arr > 0]
    if positive.size >= 2 and positive.max() / positive.min() >= 8:
        return "symlog"
    return "linear"


def _sensitivity_panel(results, runs, metric, panel_keys):
    """``(values, finals, diverged, groups)`` of one sensitivity panel."""
    values: dict[str, list[Any]] = {}
    finals: dict[str, np.ndarray] = {}
    diverged: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    for label in results.agents:
        r = results[label]
        if metric not in runs[label]:
            continue
        final, bad = runs[label][metric], runs[label]["diverged"]
        names: list[str] = []
        keys_here = [k for k in panel_keys if any(k in p for p in r.points)]
        if not keys_here:  # not swept here: reference line(s)
            others = stats.varying_keys(r.points)
            for i, p in enumerate(r.points):
                name = point_label(label, p, others)
                values[name], finals[name], diverged[name] = [], final[i : i + 1], bad[i : i + 1]
                names.append(name)
        else:
            key = keys_here[0]
            others = [k for k in stats.varying_keys(r.points) if k != key]
            by_rest: dict[str, list[int]] = {}
            for i, p in enumerate(r.points):
                if key in p:
                    rest = repr([stats.format_value(p.get(k)) for k in others])
                    by_rest.setdefault(rest, []).append(i)
            discount = _last_part(key) in DISCOUNT_KEYS and _discount_axis(panel_keys)
            for idx in by_rest.values():
                name = point_label(label, r.points[idx[0]], others)
                xs = [r.points[i][key] for i in idx]
                if discount:  # on the effective-memory axis
                    xs = [float(plots.effective_memory(x)) for x in xs]
                values[name] = xs
                finals[name], diverged[name] = final[idx], bad[idx]
                names.append(name)
        groups[label] = names
    return values, finals, diverged, groups


def _discount_axis(panel_keys: Sequence[str]) -> bool:
    return any(_last_part(k) in DISCOUNT_KEYS for k in panel_keys)


def _sensitivity_figures(results, options: _Options) -> list[tuple[str, Any]]:
    runs, metric, ylabel = _final_metric(results)
    if not metric:
        return []
    keys = [
        k
        for k in stats.point_keys(results)
        if len({repr(p[k]) for label in results.agents for p in results[label].points if k in p})
        > 1
    ]
    panels = [
        (panel_keys, *_sensitivity_panel(results, runs, metric, panel_keys))
        for panel_keys in _panel_keys(keys)
    ]
    panels = [p for p in panels if p[2]]
    out: list[tuple[str, Any]] = []
    if panels:
        with warnings.catch_warnings():  # a point whose every seed diverged is all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            levels = [
                float(v)
                for _, _, finals, _, _ in panels
                for f in finals.values()
                for v in np.nanmean(np.asarray(f, dtype=np.float64), axis=-1)
                if np.isfinite(v)
            ]
        log_y = options.log_y if options.log_y is not None else plots.auto_log(levels)
        all_groups: dict[str, list[str]] = {}
        for _, _, _, _, groups in panels:
            for label, names in groups.items():
                all_groups.setdefault(label, [])
                all_groups[label] += [n for n in names if n not in all_groups[label]]
        colors = plots.curve_colors(all_groups)
        fig, axes = plots.new_panels(len(panels), style=options.style, sharex=False, sharey=True)
        notes = []
        for ax, (panel_keys, values, finals, diverged, _) in zip(axes, panels):
            memory = _discount_axis(panel_keys)
            xs = [v for vs in values.values() for v in vs]
            if memory:
                xlabel = "Effective memory (steps): window w, or 1/(1 − γ)"
                if all(_last_part(k) in DISCOUNT_KEYS for k in panel_keys):
                    xlabel = "Effective memory 1/(1 − γ) (steps)"
                notes.append(
                    "a discount γ is drawn at its effective memory 1/(1 − γ) (top axis: γ)"
                )
                discounts = sorted(
                    {
                        float(p[k])
                        for label in results.agents
                        for p in results[label].points
                        for k in panel_keys
                        if k in p and _last_part(k) in DISCOUNT_KEYS
                    }
                )
                top = (
                    "discount γ",
                    lambda m: 1.0 - 1.0 / np.where(np.asarray(m) > 0, m, np.nan),
                    lambda g: plots.effective_memory(np.clip(g, None, 1 - 1e-12)),
                    discounts if len(discounts) <= 6 else discounts[:: len(discounts) // 6 + 1],
                )
                x_scale = "log" if plots.auto_log(xs, span=8) else "linear"
            else:
                xlabel, top, x_scale = panel_keys[0], None, _x_scale(xs)
            plots.plot_sensitivity(
                values,
                finals,
                diverged,
                xlabel=xlabel,
                ylabel=ylabel,
                log_y=log_y,
                colors=colors,
                bounds=(0.0, None),
                x_scale=x_scale,
                top_axis=top,
                legend=False,
                ax=ax,
            )
        any_bad = any(np.asarray(d).any() for _, _, _, ds, _ in panels for d in ds.values())
        if any_bad:
            notes.append("×: a point where a seed diverged (not drawn as a number)")
        seeds = [np.asarray(f).shape[-1] for _, _, fs, _, _ in panels for f in fs.values()]
        what = "average loss" if metric == "avg_loss" else "final regret"
        references = any(not v for _, values, _, _, _ in panels for v in values.values())
        caption = "; ".join(
            [
                plots.band_caption(seeds),
                *(["dotted: agents without the swept field"] if references else []),
                *notes,
            ]
        )
        plots.finish(
            fig,
            plots.legend_entries(axes),
            title=_title(options, f"sensitivity of the {what}"),
            caption=caption,
        )
        out.append(("sensitivity", fig))
    out.extend(_heatmaps(results, runs, metric, ylabel, options))
    return out


def _heatmaps(results, runs, metric: str, zlabel: str, options: _Options):
    out = []
    for label in results.agents:
        r = results[label]
        grid = getattr(r, "grid", None)
        if not grid or len(grid) != 2 or metric not in runs[label]:
            continue
        (ykey, yvals), (xkey, xvals) = list(grid.items())
        ny, nx = len(yvals), len(xvals)
        final, bad = runs[label][metric], runs[label]["diverged"]
        if final.shape[0] != ny * nx:
            continue
        ci = stats.mean_ci(np.where(bad, np.nan, final), axis=1)
        point_bad = bad.any(axis=1)
        z = np.where(point_bad, np.nan, ci.mean).reshape(ny, nx)
        fig, _ = plots.plot_heatmap(
            xvals,
            yvals,
            z,
            xkey,
            ykey,
            zlabel,
            diverged=point_bad.reshape(ny, nx),
            title=_title(options, label),
            caption=f"mean over {final.shape[1]} seeds; ×: a seed diverged",
            style=options.style,
        )
        out.append((f"heatmap_{safe_name(label)}", fig))
    return out


#: The adjacency the privacy figure's epsilon is for (see :mod:`agents.privacy`).
PRIVACY_ADJACENCY = "add/remove-one adjacency (replace-one doubles the sensitivity: sigma/2)"
PRIVACY_NOT_COVERED = "predictions w_t·x_t released before the noisy update are not covered"


def _example_cycle(config: Mapping[str, Any]) -> int | None:
    """``n``, the distinct examples the environment cycles through, as its spec declared it
    (``EnvSpec.example_cycle``, stored in ``config["capabilities"]``: 0 for a fresh example
    every round); None for a folder written before capabilities were stored."""
    spec = (config.get("capabilities") or {}).get("env")
    return None if spec is None else int(spec.get("example_cycle", 0))


def _privacy_passes(results) -> int:
    """``k``: the updates the most-seen example enters (:func:`agents.privacy.cycle_passes`
    for an environment that cycles through its examples, else 1)."""
    from agents.privacy import cycle_passes

    config = getattr(results, "config", None) or {}
    cycle = _example_cycle(config)
    if not cycle:
        return 1
    num_steps = config.get("num_steps")
    if num_steps is None:
        num_steps = int(np.asarray(results.steps)[-1])
    return cycle_passes(int(num_steps), cycle)


def _privacy_note(results, passes: int) -> str:
    """The sentence stating the passes behind each epsilon."""
    config = getattr(results, "config", None) or {}
    cycle = _example_cycle(config)
    if cycle:
        return (
            f"the environment cycles through {cycle:,} examples: each enters up to k = "
            f"{passes:,} noisy updates (ceil(steps / examples)), composed exactly (Gaussian "
            "DP, sigma / sqrt(k))"
        )
    fresh = "draws" if cycle == 0 else "is taken to draw"
    return f"each example enters one noisy update (k = 1: the stream {fresh} a fresh one a round)"


def _privacy_figure(results, options: _Options) -> list[tuple[str, Any]]:
    """Average loss against the (epsilon, delta = 1e-5) of each swept noise multiplier
    sigma, for one example under add/remove-one adjacency (Balle & Wang 2018), composed
    over the ``k`` updates the most-seen example enters (``k = ceil(T / n)`` on an
    environment that declares ``EnvSpec.example_cycle = n``, else 1).  The caption states the adjacency,
    ``k`` and that predictions released before the noisy update are not covered."""
    from agents.privacy import epsilon_for_delta

    runs = stats.run_summaries(results)
    values, finals, diverged = {}, {}, {}
    passes = _privacy_passes(results)
    for label in results.agents:
        r = results[label]
        if "avg_loss" not in runs[label] or not all(
            "agent.noise_multiplier" in p for p in r.points
        ):
            continue
        values[label] = []
        for point in r.points:
            sigma = float(point["agent.noise_multiplier"])
            values[label].append(epsilon_for_delta(PRIVACY_DELTA, sigma, num_passes=passes))
        finals[label] = runs[label]["avg_loss"]
        diverged[label] = runs[label]["diverged"]
    if not finals:
        return []
    seeds = [np.shape(f)[1] for f in finals.values()]
    caption = "; ".join(
        [
            plots.band_caption(seeds),
            _privacy_note(results, passes),
            PRIVACY_ADJACENCY,
            PRIVACY_NOT_COVERED,
        ]
    )
    fig, _ = plots.plot_sensitivity(
        values,
        finals,
        diverged,
        xlabel=f"privacy loss epsilon (delta = {PRIVACY_DELTA:g}, add/remove-one)",
        ylabel="Average loss",
        log_x=True,
        bounds=(0.0, None),
        title=_title(options, "privacy against loss"),
        caption=caption,
        style=options.style,
    )
    return [("privacy", fig)]


def plot_normalised_regret(
    table: NormalisedRegret, cmap: str = "RdYlGn_r", style: str = "paper", ax=None
):
    """Draw a :class:`~experiments.stats.NormalisedRegret` as a table: one row per agent,
    one column per point.

    Each cell shows the normalised regret and its interval's half-width (``7.1 ± 0.8``),
    coloured on a fixed scale from 0 (best) to 100 (the reference; above 100 saturates);
    the best agent of each column is in bold.  Missing cells are grey.

    Args:
      table: from :func:`experiments.stats.normalised_regret`.
      cmap: colormap name (low values green by default).
      style: ``"paper"`` or ``"talk"``.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_normalised_regret(stats.normalised_regret(results))
    """
    num_rows, num_cols = table.mean.shape
    st = plots.get_style(style)
    scale = st.rc["font.size"] / plots.PAPER_RC["font.size"]
    figsize = (
        max(st.width, (1.3 + 0.8 * num_cols) * scale),
        (0.6 + 0.22 * num_rows) * scale,
    )
    if ax is None:
        fig, ax = plots.new_figure(figsize, style=style)
    else:
        fig = ax.figure
    size = max(plots.MIN_FONT_PT, float(st.rc["legend.fontsize"]))
    with matplotlib.rc_context(st.rc):
        colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.9")
        values = np.ma.masked_invalid(table.mean)
        ax.imshow(values, cmap=colormap, vmin=0.0, vmax=100.0, aspect="auto", alpha=0.75)
        ax.grid(False)
        ax.set_xticks(range(num_cols), [c or "all" for c in table.columns])
        ax.xaxis.tick_top()
        ax.set_yticks(range(num_rows), table.rows)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            best = np.nanmin(np.where(np.isfinite(table.mean), table.mean, np.nan), axis=0)
        half = 0.5 * (table.ci_high - table.ci_low)
        for i in range(num_rows):
            for j in range(num_cols):
                value = table.mean[i, j]
                if not np.isfinite(value):
                    ax.text(j, i, "–", ha="center", va="center", color="0.4")
                    continue
                text = f"{value:.1f}" + (f" ± {half[i, j]:.1f}" if np.isfinite(half[i, j]) else "")
                weight = "bold" if value == best[j] else "normal"
                ax.text(j, i, text, ha="center", va="center", fontsize=size, fontweight=weight)
        ax.set_title(
            f"Cumulative regret, {table.reference} = 100 (Riquelme et al. 2018)", fontsize=size
        )
    return fig, ax


def _normalised_regret_figure(results, options: _Options) -> list[tuple[str, Any]]:
    table = normalised_regret(results)
    if table is None or not table.rows:
        return []
    return [("normalised_regret", plot_normalised_regret(table, style=options.style)[0])]


def _position_clicks(r: Any) -> list[np.ndarray]:
    """The ``click_1 .. click_k`` metrics of one agent's results, in position order."""
    found, j = [], 1
    while (values := _metric(r, f"click_{j}")) is not None:
        found.append(np.asarray(values, float))
        j += 1
    return found


def _position_ctr_figure(results, options: _Options) -> list[tuple[str, Any]]:
    """CTR by position: per run the time-average click at each position, then the mean
    over seeds with a Student-t 95% interval; one panel per point (at most 9)."""
    panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    keys = stats.point_keys(results)
    num_seeds = []
    for label in results.agents:
        r = results[label]
        clicks = _position_clicks(r)
        if not clicks:
            continue
        per_run = np.stack([c.mean(axis=-1) for c in clicks], axis=-1)  # (points, seeds, k)
        per_run[np.asarray(r.diverged, bool)] = np.nan
        for index, point in enumerate(r.points[:9]):
            logged = np.any(np.isfinite(per_run[index]), axis=0)  # positions of this point
            num_positions = int(np.max(np.nonzero(logged)[0], initial=-1)) + 1
            if num_positions == 0:
                continue
            interval = stats.mean_ci(per_run[index, :, :num_positions], axis=0)
            name = _panel_name(point, keys, label)
            panels.setdefault(name, {})[label] = (interval.mean, interval.low, interval.high)
            num_seeds.append(per_run.shape[1])
    if not panels:
        return []
    caption = (
        f"Mean over {min(num_seeds)} seeds of each run's click rate at each position, with "
        "Student-t 95% intervals."
    )
    fig, _ = plots.plot_position_ctr(
        panels, title=_title(options, "clicks by position"), caption=caption, style=options.style
    )
    return [("ctr_by_position", fig)]


# ---------------------------------------------------------------------------------------
# Feedback loops: the users and the catalog (experiments.feedback_metrics)
# ---------------------------------------------------------------------------------------


class FigureSkipped(UserWarning):
    """A figure the experiment names could not be drawn: its metrics were not logged."""


#: The time-series panels of the ``feedback`` figure: metric, y label.
FEEDBACK_PANELS = (("user_drift", "User drift"), ("homogeneity", "Homogeneity"))
#: What the ``feedback`` figure's caption says each metric is.
FEEDBACK_DEFINITIONS = {
    "user_drift": "user drift: mean ‖θ_u(t) − θ_u(0)‖",
    "homogeneity": "homogeneity: mean pairwise cosine of the users' θ_u(t)",
}
#: Greek letters for the swept keys' last parts in point labels (``ε=0.1``).
GREEK = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "eta": "η",
    "lambda": "λ",
    "mu": "μ",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
}


def _logged(results) -> set[str]:
    """The metric names some agent logged (and ``lorenz`` where a Lorenz curve was kept)."""
    names: set[str] = set()
    for label in results.agents:
        r = results[label]
        names.update(getattr(r, "metrics", None) or {})
        if "lorenz" in (getattr(r, "finals", None) or {}):
            names.add("lorenz")
    return names


def _skip(name: str, results) -> list[tuple[str, Any]]:
    """Warn that figure ``name`` is skipped, saying which metrics it lacks."""
    logged = sorted(_logged(results))
    why = missing_metrics(name, logged)
    if why is None:  # the metrics are there, what the figure reads is not
        why = "no exposure Lorenz curve kept (final:lorenz)" if name == "lorenz" else "no data"
    warnings.warn(
        f"figures: {name!r} skipped: {why} (add them to the experiment's metrics = [...]; "
        f"logged: {', '.join(logged) or 'none'})",
        FigureSkipped,
        stacklevel=4,
    )
    return []


def _snapshot_note(results) -> str:
    record_every = int(getattr(results, "record_every", 1))
    when = (
        "each value the state after its step"
        if record_every <= 1
        else (f"each value the state at the end of its {record_every:,}-step block")
    )
    return f"{when}; users: a fixed subsample of at most 256"


def _fig_feedback(results, options: _Options):
    """User drift and homogeneity over time, side by side (one panel if one was logged)."""
    columns = []
    for metric, ylabel in FEEDBACK_PANELS:
        cs = agent_curves(results, lambda res, r, m=metric: _metric(r, m))
        if cs.curves:
            columns.append((metric, ylabel, cs))
    if not columns:
        return None
    first = columns[0][2]
    fig, _ = plots.plot_curve_columns(
        np.asarray(results.steps),
        [(ylabel, cs.curves) for _, ylabel, cs in columns],
        log_y=bool(options.log_y),
        groups=first.groups,
        sweep_values=first.values,
        sweep_names=first.names,
        bounds=[(0.0, None) if m == "user_drift" else (-1.0, 1.0) for m, _, _ in columns],
        change_points=options.schedule.steps,
        title=_title(options, " and ".join(m.replace("_", " ") for m, _, _ in columns)),
        caption=_caption(
            first,
            notes=[
                *(FEEDBACK_DEFINITIONS[m] for m, _, _ in columns),
                _snapshot_note(results),
                options.schedule.note,
            ],
        ),
        style=options.style,
    )
    return fig


def _lorenz_of(results, r) -> np.ndarray | None:
    finals = getattr(r, "finals", None) or {}
    return None if "lorenz" not in finals else np.asarray(finals["lorenz"], np.float64)


def lorenz_gini(curves: np.ndarray) -> np.ndarray:
    """``1 - 2 × area`` under Lorenz curves ``(..., P)`` sampled at ``P`` even shares
    (trapezoids): the Gini coefficient (exact when the shares fall on the items)."""
    curves = np.asarray(curves, np.float64)
    width = 1.0 / (curves.shape[-1] - 1)
    area = width * (curves.sum(-1) - 0.5 * (curves[..., 0] + curves[..., -1]))
    return 1.0 - 2.0 * area


def _fig_lorenz(results, options: _Options):
    """The exposure Lorenz curve at the horizon, a curve per agent and point, the mean
    Gini in each legend entry and the diagonal of equal exposure dashed."""
    cs = agent_curves(results, _lorenz_of)
    if not cs.curves:
        return None
    runs = stats.run_summaries(results)
    curves: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    from_area = False
    for label, members in cs.groups.items():
        r = results[label]
        gini = runs[label].get("final_exposure_gini")
        if gini is None:
            gini, from_area = lorenz_gini(_lorenz_of(results, r)), True
        means = stats.mean_ci(np.where(runs[label]["diverged"], np.nan, gini), axis=1).mean
        keys = stats.varying_keys(r.points)
        groups[label] = []
        for member, point, mean in zip(members, r.points, means):
            # the compact label (ε=0.1) keeps the legend short; the diverged count stays
            name = _point_name(label, point, keys) + member[len(point_label(label, point, keys)) :]
            name += f": G = {mean:.2f}" if np.isfinite(mean) else ""
            curves[name] = cs.curves[member]
            groups[label].append(name)
    shares = np.linspace(0.0, 1.0, next(iter(curves.values())).shape[-1])
    horizon = float(np.asarray(results.steps)[-1]) if len(results.steps) else 0.0
    gini_note = "G: mean over seeds of the exposure Gini at the horizon"
    if from_area:
        gini_note += " (1 − 2 × the area under each run's curve)"
    fig, axes = plots.plot_curves(
        shares,
        curves,
        ylabel="Share of exposure",
        xlabel="Share of items, least exposed first",
        log_y=False,
        groups=groups,
        bounds=(0.0, 1.0),
        lower_bound=(shares, shares),
        lower_bound_label="equal exposure",
        title=_title(options, f"exposure Lorenz curve at T = {horizon:,.0f}"),
        caption=_caption(cs, notes=["dashed: every item shown equally often", gini_note]),
        style=options.style,
    )
    for ax in axes if isinstance(axes, list) else [axes]:
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
    return fig


def _symbols(keys: Sequence[str], label: str) -> dict[str, str]:
    """Short names of an agent's swept keys in point labels: the last part, as a Greek
    letter where it names one (``agents.eps.epsilon`` -> ``ε``); the short key where two
    keys share a last part."""
    lasts = [_last_part(k) for k in keys]
    return {
        k: GREEK.get(last, last) if lasts.count(last) == 1 else short_key(k, label)
        for k, last in zip(keys, lasts)
    }


def _point_text(point: Mapping[str, Any], keys: Sequence[str], label: str) -> str:
    """``ε=0.1, window=100``: a point's swept values, keys as :func:`_symbols` writes them."""
    symbols = _symbols(keys, label)
    return ", ".join(f"{symbols[k]}={stats.format_value(point.get(k))}" for k in keys)


def _point_name(label: str, point: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``eps (ε=0.1)``: an agent's label and its point's swept values, compactly."""
    return f"{label} ({_point_text(point, keys, label)})" if keys else label


def _sweep_paths(points: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[list[int]]:
    """Point indices joined by a line: every point in sweep order for one swept key; for
    several, the points that share the other keys' values, along the last key."""
    if len(keys) <= 1:
        return [list(range(len(points)))]
    paths: dict[tuple[str, ...], list[int]] = {}
    for i, point in enumerate(points):
        rest = tuple(stats.format_value(point.get(k)) for k in keys[:-1])
        paths.setdefault(rest, []).append(i)
    return list(paths.values())


def _fig_utility_homogeneity(results, options: _Options):
    """Mean utility against the final homogeneity, a marker per agent and point with
    Student-t intervals on both axes, an agent's points joined in sweep order."""
    runs = stats.run_summaries(results)
    series: dict[str, plots.ScatterSeries] = {}
    seeds: list[int] = []
    keys_named: dict[str, str] = {}
    bad = total = 0
    for label in results.agents:
        if not {"final_homogeneity", "avg_utility"} <= set(runs[label]):
            continue
        r = results[label]
        diverged = runs[label]["diverged"]
        x = stats.mean_ci(np.where(diverged, np.nan, runs[label]["final_homogeneity"]), axis=1)
        y = stats.mean_ci(np.where(diverged, np.nan, runs[label]["avg_utility"]), axis=1)
        keys = stats.varying_keys(r.points)
        symbols = _symbols(keys, label)
        for k in keys:
            keys_named.setdefault(symbols[k], k)
        texts = [_point_text(p, keys, label) for p in r.points]
        series[label] = plots.ScatterSeries(
            (x.mean, x.low, x.high), (y.mean, y.low, y.high), texts, _sweep_paths(r.points, keys)
        )
        seeds.append(diverged.shape[1])
        bad, total = bad + int(diverged.sum()), total + diverged.size
    if not series:
        return None
    count = f"{min(seeds)}" if min(seeds) == max(seeds) else f"{min(seeds)}–{max(seeds)}"
    horizon = float(np.asarray(results.steps)[-1]) if len(results.steps) else 0.0
    notes = [
        f"{count} seeds",
        "marker: mean, bars: Student-t 95% intervals of the mean",
        f"homogeneity at T = {horizon:,.0f}, utility averaged over the run",
    ]
    joined = [f"{s} = {k}" for s, k in keys_named.items() if s != k]
    if keys_named:
        notes.append(
            "lines join an agent's points in sweep order"
            + (f" ({', '.join(joined)})" if joined else "")
        )
    if bad:
        notes.append(f"{bad} of {total} runs diverged, left out")
    fig, _ = plots.plot_interval_scatter(
        series,
        xlabel="Homogeneity at the horizon (mean cosine)",
        ylabel="Utility (shown / best expected reward)",
        title=_title(options, "utility against homogeneity"),
        caption="; ".join(notes),
        style=options.style,
    )
    return fig


def _figures_named(results, name: str, options: _Options) -> list[tuple[str, Any]]:
    if name == "regret":
        return [(name, _fig_regret(results, options, log_x=False))]
    if name == "regret_log":
        return [(name, _fig_regret(results, options, log_x=True))]
    if name == "reward":
        kind = stats.reward_kind(getattr(results, "config", None))
        ylabel = "Click-through rate" if kind == "click" else "Average reward"
        return [(name, _fig_metric(results, options, "reward", ylabel, ylabel.lower()))]
    if name == "optimal":
        return [(name, _fig_metric(results, options, "optimal", "", "optimal actions"))]
    if name == "loss":
        return [(name, _fig_metric(results, options, "loss", "Loss", "loss per step"))]
    if name == "sensitivity":
        return _sensitivity_figures(results, options)
    if name == "privacy":
        return _privacy_figure(results, options)
    if name == "normalised_regret":
        return _normalised_regret_figure(results, options)
    if name == "ndcg":
        return [(name, _fig_metric(results, options, "ndcg", "NDCG@k", "NDCG@k of the slate"))]
    if name == "ctr_by_position":
        return _position_ctr_figure(results, options)
    if name in FIGURE_METRICS:
        draw_one = {
            "feedback": _fig_feedback,
            "lorenz": _fig_lorenz,
            "utility_homogeneity": _fig_utility_homogeneity,
        }[name]
        fig = draw_one(results, options)
        return _skip(name, results) if fig is None else [(name, fig)]
    raise ConfigError(f"figures = {name!r}: unknown figure; one of {list(FIGURES)}")


def figure_objects(
    results: Any,
    names: Sequence[str] | None = None,
    *,
    agents: Sequence[str] | None = None,
    points: Mapping[str, Sequence[Any]] | Sequence[int] | None = None,
    log_y: bool | None = None,
    style: str = "paper",
) -> list[tuple[str, Any]]:
    """The figures :func:`draw` writes, as ``(file name, Figure)`` pairs (not saved)."""
    plots.get_style(style)
    if names is None:
        names = (getattr(results, "config", None) or {}).get("figures") or DEFAULT_FIGURES
    names = check_names(names)
    view = select(results, agents, points)
    config = getattr(results, "config", None) or {}
    options = _Options(style, log_y, change_schedule(view), str(config.get("name") or ""))
    out = []
    for name in dict.fromkeys(names):
        out.extend((n, fig) for n, fig in _figures_named(view, name, options) if fig is not None)
    return out


def draw(
    results: Any,
    out_dir: str | os.PathLike,
    names: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
    *,
    agents: Sequence[str] | None = None,
    points: Mapping[str, Sequence[Any]] | Sequence[int] | None = None,
    log_y: bool | None = None,
    style: str = "paper",
) -> list[Path]:
    """Draw and save the figures of a results object.

    Args:
      results: a Results object (``experiments.load(DIR)`` or ``experiments.run(...)``).
      out_dir: folder to write into (created if missing).
      names: figure names (see :data:`FIGURES`); default ``results.config["figures"]``,
        else :data:`DEFAULT_FIGURES`.
      formats: file formats, PNG and PDF by default.
      agents: draw only these agent labels (see :func:`select`).
      points: draw only these points (``{key: values}`` or indices; see :func:`select`).
      log_y: force (True) or forbid (False) a log y-axis; None chooses from the data.
      style: ``"paper"`` (3.5 in, 8 pt) or ``"talk"`` (slides).

    Returns:
      The paths written (figures that do not apply are skipped).

    Example::

        draw(results, "out", names=["regret_log", "optimal"])
    """
    paths: list[Path] = []
    figs = figure_objects(results, names, agents=agents, points=points, log_y=log_y, style=style)
    for file_name, fig in figs:
        paths.extend(save(fig, out_dir, file_name, formats))
    return paths


def _folder_name(item: Any, index: int) -> str:
    for attr in ("path", "directory", "dir", "root"):
        value = getattr(item, attr, None)
        if value:
            return Path(value).name
    return f"run{index + 1}"


_FOLDER_STYLES = ("-", "--", ":", "-.")


def compare_figures(
    results_list: Sequence[Any] | Mapping[str, Any],
    *,
    agents: Sequence[str] | None = None,
    style: str = "paper",
) -> list[tuple[str, Any]]:
    """The figures of :func:`compare` as ``(file name, Figure)`` pairs (not saved)."""
    if isinstance(results_list, Mapping):
        items = list(results_list.items())
    else:
        items = []
        for i, item in enumerate(results_list):
            name = Path(item).name if isinstance(item, (str, os.PathLike)) else None
            items.append((name or _folder_name(item, i), item))
    loaded = []
    seen: set[str] = set()
    for name, item in items:
        if isinstance(item, (str, os.PathLike)):
            from experiments.results import load

            item = load(item)
        while name in seen:  # two folders with one name
            name += "'"
        seen.add(name)
        loaded.append((name, item))
    if agents:
        every = list(dict.fromkeys(a for _, item in loaded for a in item.agents))
        unknown = [a for a in agents if a not in every]
        if unknown:
            raise ConfigError(
                f"agents = {unknown[0]!r}: in none of the folders; one of {', '.join(every)}"
            )
        loaded = [
            (name, select(item, [a for a in agents if a in item.agents]))
            for name, item in loaded
            if any(a in item.agents for a in agents)
        ]
    horizons = {name: float(np.asarray(item.steps)[-1]) for name, item in loaded}
    common = min(horizons.values()) if horizons else 0.0
    notes = []
    if len(set(horizons.values())) > 1:
        listing = ", ".join(f"{n}: {h:,.0f}" for n, h in horizons.items())
        message = (
            f"compare: the folders have different horizons ({listing} steps); the comparison "
            f"is drawn to the common horizon T = {common:,.0f}"
        )
        warnings.warn(message, CompareWarning, stacklevel=3)
        notes.append(f"horizons differ ({listing} steps)")
    seeds = {}
    for name, item in loaded:
        config = getattr(item, "config", None) or {}
        first = item[item.agents[0]]
        count = int(np.asarray(_metric(first, "regret")).shape[1]) if item.agents else 0
        seeds[name] = (count, config.get("seed"))
    if len(set(seeds.values())) > 1:
        listing = ", ".join(
            f"{n}: {c} seeds" + (f" from seed {s}" if s is not None else "")
            for n, (c, s) in seeds.items()
        )
        warnings.warn(
            f"compare: the folders have different seeds ({listing}); their curves are "
            "independent samples, not paired",
            CompareWarning,
            stacklevel=3,
        )
        notes.append(f"seeds differ ({listing}): not paired")
    curves: dict[str, np.ndarray] = {}
    steps: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    colors: dict[str, Any] = {}
    linestyles: dict[str, Any] = {}
    agent_index: dict[str, int] = {}
    bad = runs = 0
    many = len(loaded) > 1
    for f, (name, item) in enumerate(loaded):
        keep = np.asarray(item.steps) <= common
        cs = agent_curves(item, _cumulative_regret, prefix=f"{name}/" if many else "")
        for label, members in cs.groups.items():
            agent = label.split("/", 1)[1] if many else label
            index = agent_index.setdefault(agent, len(agent_index))
            for member in members:
                curves[member] = cs.curves[member][:, keep]
                steps[member] = np.asarray(item.steps)[keep]
                linestyles[member] = _FOLDER_STYLES[f % len(_FOLDER_STYLES)]
                if len(members) == 1:
                    colors[member] = f"C{index % 10}"
        groups.update(cs.groups)
        values.update(cs.values)
        names.update(cs.names)
        bad, runs = bad + cs.diverged[0], runs + cs.diverged[1]
    if not curves:
        return []
    handles = [
        matplotlib.lines.Line2D([], [], color=f"C{i % 10}", label=a) for a, i in agent_index.items()
    ]
    if many:
        handles += [
            matplotlib.lines.Line2D([], [], color="0.3", ls=_FOLDER_STYLES[f % 4], label=name)
            for f, (name, _) in enumerate(loaded)
        ]
    if any(len(m) > 1 for m in groups.values()):
        handles = None  # sweeps: each agent its ramp and panel, the legend from the curves
    cs = CurveSet(curves, groups, values, names, (bad, runs))
    notes.append(f"compared at the common horizon T = {common:,.0f}")
    title = "cumulative regret: " + " vs ".join(name for name, _ in loaded)
    out = []
    for file_name, log_x in (("compare_regret", False), ("compare_regret_log", True)):
        fig, _ = plots.plot_regret(
            steps,
            curves,
            log_x=log_x,
            groups=groups,
            sweep_values=values,
            sweep_names=names,
            colors=colors,
            linestyles=linestyles,
            legend_handles=handles,
            title=title + (", log time" if log_x else ""),
            caption=_caption(cs, notes=notes),
            style=style,
        )
        out.append((file_name, fig))
    return out


def compare(
    results_list: Sequence[Any] | Mapping[str, Any],
    out_dir: str | os.PathLike,
    formats: Sequence[str] = FORMATS,
    *,
    agents: Sequence[str] | None = None,
    style: str = "paper",
) -> list[Path]:
    """Overlay the cumulative-regret curves of several results folders.

    Curves are drawn up to the common horizon (the shortest folder's); folders with
    different horizons or seeds give a :class:`CompareWarning` (and a caption note), never
    silence.  Each agent label keeps one colour across folders; each folder has its own
    line style (solid, dashed, dotted, dash-dot), so the legend has one entry per agent and
    one per folder.

    Args:
      results_list: Results objects or results folders (paths, loaded with
        ``experiments.load``), or a mapping name -> either.  Curves are labelled
        ``name/label``; a name is the folder's name (else ``run1``, ``run2``, ...).
      out_dir: folder to write into.
      formats: file formats.
      agents: compare only these agent labels (each must be in some folder).
      style: ``"paper"`` or ``"talk"``.

    Returns:
      The written paths: ``compare_regret`` and ``compare_regret_log``.

    Example::

        compare(["results/a", "results/b"], "results/compare", agents=["ucb"])
    """
    paths: list[Path] = []
    for file_name, fig in compare_figures(results_list, agents=agents, style=style):
        paths.extend(save(fig, out_dir, file_name, formats))
    return paths
