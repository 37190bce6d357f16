"""Paper-style figures from arrays: every function returns ``(fig, ax)`` and shows nothing.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
``pyplot``: no global state, no window, nothing to close, safe in worker processes and in
notebooks (a returned figure displays inline).  They are sized for one column of a
two-column paper (3.5 in wide, 8 pt text), the legend sits above the axes (outside the
data) and each curve keeps its colour across figures when the caller passes the same
``colors`` mapping (see :func:`curve_colors`).

* :func:`plot_regret` -- mean cumulative regret with a 95% band over seeds, optionally on
  a log-time axis with a reference lower bound (:func:`lai_robbins_bound`);
* :func:`plot_curves` / :func:`plot_optimal` -- any per-step metric (average reward,
  % optimal action, loss) with bands, optionally smoothed;
* :func:`plot_sensitivity` -- final regret against a swept value, diverged points marked
  with an ``x`` at the top of the axes (never drawn as a number);
* :func:`plot_heatmap` -- a metric over two swept values;
* :func:`plot_drift` -- the true preference over time and the agent's estimate.

Example::

    fig, ax = plot_regret(results.steps, {"ucb": cum_ucb[0], "ts": cum_ts[0]}, log_x=True,
                          lower_bound=(results.steps, lai_robbins_bound(means) * np.log(steps)))
    fig.savefig("regret.pdf")

The bands are Student-t intervals of the mean over seeds (:func:`experiments.stats.mean_ci`);
non-finite (diverged) runs are left out of the mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from experiments.stats import mean_ci
from simulator.params import ConfigError

COLUMN_WIDTH = 3.5  # inches: one column of a two-column paper
FIGSIZE = (COLUMN_WIDTH, 2.6)

#: rcParams of every figure (text sizes for a 3.5 in column, TrueType fonts in PDF).
PAPER_RC: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.columnspacing": 1.0,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
}

_BASE_COLORS = [f"C{i}" for i in range(10)]
# sequential maps whose hue matches the tab10 colour of the same index
_SHADES = ["Blues", "Oranges", "Greens", "Reds", "Purples", "YlOrBr", "RdPu", "Greys", "YlGn",
           "GnBu"]  # fmt: skip
BAND_ALPHA = 0.2

Curves = Mapping[str, np.ndarray]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def new_figure(figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Any]:
    """A ``Figure`` with an Agg canvas and one axes, laid out with constrained layout."""
    with matplotlib.rc_context(PAPER_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    return fig, ax


def _axes(ax, figsize):
    """``(fig, ax, owned)``: a new figure unless ``ax`` is given (then never resized)."""
    if ax is None:
        return (*new_figure(figsize), True)
    return ax.figure, ax, False


def curve_colors(groups: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A colour per curve: each agent its own hue, its points shades of that hue.

    Args:
      groups: agent label -> the labels of its curves (one per point), in order.

    Returns:
      curve label -> colour.  An agent with one curve gets its tab10 colour; an agent with
      several gets a light-to-dark ramp of the matching sequential colormap.

    Example::

        colors = curve_colors({"ucb": ["ucb"], "eps": ["eps (agent.epsilon=0.01)", ...]})
    """
    colors: dict[str, Any] = {}
    for i, labels in enumerate(groups.values()):
        labels = list(labels)
        if len(labels) <= 1:
            for label in labels:
                colors[label] = _BASE_COLORS[i % 10]
            continue
        cmap = matplotlib.colormaps[_SHADES[i % len(_SHADES)]]
        for label, level in zip(labels, np.linspace(0.45, 0.95, len(labels))):
            colors[label] = cmap(level)
    return colors


def _colors_for(labels: Sequence[str], colors: Mapping[str, Any] | None) -> dict[str, Any]:
    base = curve_colors({label: [label] for label in labels})
    if colors:
        base.update({k: v for k, v in colors.items() if k in base})
    return base


def _legend(ax, extra_handles: Sequence[Any] = (), grow: bool = False) -> None:
    """Legend above the axes, outside the data, in as many columns as fit a column width.

    With ``grow`` the figure gets taller by the legend's height, so the data area keeps
    its size however many entries there are.
    """
    handles, labels = ax.get_legend_handles_labels()
    handles = list(handles) + list(extra_handles)
    labels = list(labels) + [h.get_label() for h in extra_handles]
    if not handles:
        return
    longest = max(len(label) for label in labels)
    ncol = 1 if longest > 26 else 2 if longest > 12 else 3
    ncol = min(ncol, len(handles))
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02, 1.0, 0.1),
        mode="expand" if ncol > 1 else None,
        ncol=ncol,
        borderaxespad=0.0,
    )
    if grow:
        rows = math.ceil(len(handles) / ncol)
        line = 1.4 * matplotlib.rcParams["legend.fontsize"] / 72  # inches per legend row
        width, height = ax.figure.get_size_inches()
        ax.figure.set_size_inches(width, height + rows * line + 0.05)


def thin_index(num: int, max_points: int = 1000, log: bool = False) -> np.ndarray:
    """At most about ``max_points`` sorted indices into ``range(num)``, always the last one.

    Evenly spaced in time (``log=False``) or in log-time (``log=True``), so a long curve
    stays light in a PDF without changing its look.
    """
    if num <= max_points:
        return np.arange(num)
    if log:
        idx = np.geomspace(1, num, max_points) - 1
    else:
        idx = np.linspace(0, num - 1, max_points)
    return np.unique(np.append(np.round(idx).astype(np.int64), num - 1))


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the last axis (shorter windows at the start).

    ``y_t = mean(x_{t-w+1}, ..., x_t)``; a NaN spreads over the windows that contain it.
    """
    x = np.asarray(x, dtype=np.float64)
    window = int(window)
    if window <= 1:
        return x
    c = np.cumsum(x, axis=-1)
    out = np.empty_like(c)
    out[..., :window] = c[..., :window] / np.arange(1, min(window, x.shape[-1]) + 1)
    out[..., window:] = (c[..., window:] - c[..., :-window]) / window
    return out


def format_value(value: Any) -> str:
    """A short label for a swept value (``0.001``, ``1e-05``, ``adam``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


def is_numeric(values: Sequence[Any]) -> bool:
    return all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    )


def _steps_of(steps: Any, label: str) -> np.ndarray:
    if isinstance(steps, Mapping):
        return np.asarray(steps[label])
    return np.asarray(steps)


# ---------------------------------------------------------------------------------------
# Curves over time
# ---------------------------------------------------------------------------------------


def plot_curves(
    steps: np.ndarray | Mapping[str, np.ndarray],
    curves: Curves,
    *,
    ylabel: str,
    xlabel: str = "Step",
    log_x: bool = False,
    scale: float = 1.0,
    window: int = 1,
    level: float = 0.95,
    colors: Mapping[str, Any] | None = None,
    lower_bound: tuple[np.ndarray, np.ndarray] | None = None,
    lower_bound_label: str = "Lai–Robbins bound",
    max_points: int = 1000,
    figsize: tuple[float, float] = FIGSIZE,
    ax=None,
):
    """Mean of each curve over seeds with its confidence band, against time.

    Args:
      steps: ``(T,)`` time index of each value (or one array per curve label).
      curves: label -> ``(seeds, T)`` values (a ``(T,)`` array is one seed); NaN (diverged)
        values are left out of the mean.
      ylabel, xlabel: axis labels.
      log_x: log-time axis.
      scale: multiply the values (100 for percentages).
      window: trailing moving-average window (in stored values) applied per seed.
      level: confidence level of the band.
      colors: label -> colour (see :func:`curve_colors`); missing labels get tab10 colours.
      lower_bound: ``(steps, values)`` of a reference curve drawn as a black dashed line.
      lower_bound_label: its legend entry.
      max_points: curves are thinned to about this many points (in log-time when log_x).
      figsize: inches.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.
    """
    fig, ax, owned = _axes(ax, figsize)
    palette = _colors_for(list(curves), colors)
    with matplotlib.rc_context(PAPER_RC):
        for label, values in curves.items():
            values = np.asarray(values, dtype=np.float64)
            if values.ndim == 1:
                values = values[None]
            x = _steps_of(steps, label)
            values = smooth(values, window) * scale
            idx = thin_index(len(x), max_points, log=log_x)
            ci = mean_ci(values[:, idx], axis=0, level=level)
            color = palette[label]
            ax.plot(x[idx], ci.mean, color=color, label=label)
            ax.fill_between(x[idx], ci.low, ci.high, color=color, alpha=BAND_ALPHA, lw=0)
        if lower_bound is not None:
            bx, by = (np.asarray(a, dtype=np.float64) for a in lower_bound)
            idx = thin_index(len(bx), max_points, log=log_x)
            ax.plot(bx[idx], by[idx], color="black", ls="--", lw=1.0, label=lower_bound_label)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        _legend(ax, grow=owned)
    return fig, ax


def plot_regret(
    steps: np.ndarray | Mapping[str, np.ndarray],
    curves: Curves,
    log_x: bool = False,
    lower_bound: tuple[np.ndarray, np.ndarray] | None = None,
    ylabel: str = "Cumulative regret",
    **kwargs: Any,
):
    """Mean cumulative regret per curve with a 95% band over seeds.

    Args:
      steps: ``(T,)`` time index (1-based count of steps done) of each stored value.
      curves: label -> ``(seeds, T)`` cumulative regret.
      log_x: log-time axis (regret of a good bandit algorithm is then a straight line).
      lower_bound: ``(steps, values)``, e.g. the Lai–Robbins bound
        ``lai_robbins_bound(means) * log(steps)``.
      ylabel: y-axis label.
      **kwargs: passed to :func:`plot_curves` (``colors``, ``level``, ``ax``, ...).

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_regret(steps, {"ucb": np.cumsum(regret, -1)}, log_x=True)
    """
    return plot_curves(steps, curves, ylabel=ylabel, log_x=log_x, lower_bound=lower_bound, **kwargs)


def plot_optimal(
    steps: np.ndarray | Mapping[str, np.ndarray],
    curves: Curves,
    ylabel: str = "% optimal action",
    **kwargs: Any,
):
    """Percentage of optimal actions per step (mean over seeds with a 95% band).

    Args:
      steps: ``(T,)`` time index.
      curves: label -> ``(seeds, T)`` of 0/1 optimality (or block means of it).
      ylabel: y-axis label.
      **kwargs: passed to :func:`plot_curves` (``window`` to smooth, ``colors``, ...).

    Returns:
      ``(fig, ax)`` with the y-axis in percent.

    Example::

        fig, ax = plot_optimal(steps, {"ε=0.1": optimal})   # Sutton & Barto (2018), Fig. 2.2
    """
    fig, ax = plot_curves(steps, curves, ylabel=ylabel, scale=100.0, **kwargs)
    ax.set_ylim(0, 100)
    return fig, ax


# ---------------------------------------------------------------------------------------
# Sensitivity to a swept value
# ---------------------------------------------------------------------------------------


def plot_sensitivity(
    values: Sequence[Any] | Mapping[str, Sequence[Any]],
    finals: Mapping[str, np.ndarray],
    diverged: Mapping[str, np.ndarray] | None = None,
    xlabel: str = "",
    log_x: bool = True,
    ylabel: str = "Final cumulative regret",
    log_y: bool = False,
    level: float = 0.95,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] = FIGSIZE,
    ax=None,
):
    """A final metric against a swept value: one curve per label, diverged points marked.

    A point where any seed diverged (flagged in ``diverged`` or non-finite in ``finals``)
    is not drawn as a number: its value is left out of the line (the line breaks there)
    and an ``x`` in the curve's colour marks it at the top of the axes.  A label with a
    single point and no value of its own (an agent that does not have the swept field) is
    drawn as a dotted horizontal line with its band across the whole range.

    Args:
      values: the swept values ``(points,)`` shared by every curve, or one sequence per
        label (empty for a horizontal reference line); numbers (log axis when ``log_x``,
        symlog if some are <= 0) or names (categorical axis).
      finals: label -> ``(points, seeds)`` final values (e.g. final cumulative regret).
      diverged: label -> ``(points, seeds)`` bool, True where a run diverged.
      xlabel, ylabel: axis labels.
      log_x, log_y: log axes.
      level: confidence level of the band.
      colors: label -> colour.
      figsize: inches.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.  The diverged markers are ``Line2D`` artists with ``gid`` equal to
      ``"diverged:" + label``.

    Example::

        fig, ax = plot_sensitivity(lrs, {"ogd": final}, {"ogd": final_diverged},
                                   xlabel="learning rate")
    """
    fig, ax, owned = _axes(ax, figsize)
    palette = _colors_for(list(finals), colors)
    if isinstance(values, Mapping):
        xs_of = {label: list(values.get(label) or []) for label in finals}
    else:
        xs_of = {label: list(values) for label in finals}
    all_values = [v for xs in xs_of.values() for v in xs]
    numeric = is_numeric(all_values)
    categories: list[Any] = []
    if not numeric:
        for v in all_values:
            if not any(v == c for c in categories):
                categories.append(v)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    any_diverged = False
    with matplotlib.rc_context(PAPER_RC):
        for label, final in finals.items():
            final = np.asarray(final, dtype=np.float64)
            if final.ndim == 1:
                final = final[:, None]
            bad = ~np.isfinite(final)
            if diverged is not None and label in diverged:
                bad |= np.broadcast_to(np.asarray(diverged[label], dtype=bool), final.shape)
            point_bad = bad.any(axis=1)
            ci = mean_ci(np.where(bad, np.nan, final), axis=1, level=level)
            mean = np.where(point_bad, np.nan, ci.mean)
            low = np.where(point_bad, np.nan, ci.low)
            high = np.where(point_bad, np.nan, ci.high)
            color = palette[label]
            xs = xs_of[label]
            if final.shape[0] == 1 and len(xs) != 1:  # no swept value: a reference level
                if point_bad[0]:
                    ax.plot([], [], color=color, ls=":", label=f"{label} (diverged)")
                    continue
                ax.axhline(mean[0], color=color, ls=":", label=label)
                if np.isfinite(low[0]):
                    ax.axhspan(low[0], high[0], color=color, alpha=BAND_ALPHA, lw=0)
                continue
            if len(xs) != final.shape[0]:
                raise ConfigError(
                    f"plot_sensitivity: {label!r} has {final.shape[0]} points and {len(xs)} values"
                )
            if numeric:
                pos = np.asarray(xs, dtype=np.float64)
            else:
                pos = np.asarray([next(i for i, c in enumerate(categories) if c == v) for v in xs])
            order = np.argsort(pos, kind="stable")
            pos, mean, low, high = pos[order], mean[order], low[order], high[order]
            ax.plot(pos, mean, color=color, marker="o", label=label)
            ax.fill_between(pos, low, high, color=color, alpha=BAND_ALPHA, lw=0)
            bad_pos = pos[point_bad[order]]
            if bad_pos.size:
                any_diverged = True
                ax.plot(
                    bad_pos,
                    np.full(bad_pos.shape, 0.97),
                    ls="none",
                    marker="x",
                    markersize=6,
                    markeredgewidth=1.5,
                    color=color,
                    transform=top,
                    clip_on=False,
                    gid=f"diverged:{label}",
                    label="_nolegend_",
                )
        if numeric and all_values:
            arr = np.asarray(all_values, dtype=np.float64)
            if log_x and np.all(arr > 0):
                ax.set_xscale("log")
            elif log_x:
                positive = np.abs(arr[arr != 0])
                ax.set_xscale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
            _pad_xlim(ax, arr.min(), arr.max())
        if not numeric:
            ax.set_xticks(range(len(categories)), [format_value(c) for c in categories])
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        extra = []
        if any_diverged:
            extra.append(
                Line2D(
                    [],
                    [],
                    ls="none",
                    marker="x",
                    color="0.2",
                    markeredgewidth=1.5,
                    label="diverged",
                )  # fmt: skip
            )
        _legend(ax, extra, grow=owned)
    return fig, ax


def _pad_xlim(ax, low: float, high: float, fraction: float = 0.05) -> None:
    """x-limits ``[low, high]`` padded by ``fraction`` of the span in the axis' own scale
    (linear, log or symlog), so end points and their markers are never cut."""
    scale = ax.xaxis.get_transform()
    a, b = scale.transform([low, high])
    pad = fraction * (b - a) if b > a else 0.5
    ax.set_xlim(*scale.inverted().transform([a - pad, b + pad]))


def plot_heatmap(
    x_values: Sequence[Any],
    y_values: Sequence[Any],
    z: np.ndarray,
    xlabel: str,
    ylabel: str,
    zlabel: str,
    diverged: np.ndarray | None = None,
    annotate: bool | None = None,
    cmap: str = "viridis",
    figsize: tuple[float, float] = FIGSIZE,
    ax=None,
):
    """A metric over two swept values: cell ``z[j, i]`` at ``(x_values[i], y_values[j])``.

    Cells are evenly spaced whatever the values (ticks name the values), so log-spaced
    grids read naturally.  NaN cells and cells flagged in ``diverged`` are grey with an
    ``×``; they never get a colour from the scale.

    Args:
      x_values: ``(nx,)`` values of the horizontal axis.
      y_values: ``(ny,)`` values of the vertical axis.
      z: ``(ny, nx)`` values (e.g. mean final regret).
      xlabel, ylabel: axis labels; zlabel: colour-bar label.
      diverged: ``(ny, nx)`` bool, cells to mark as diverged.
      annotate: write each value in its cell (default: when there are at most 64 cells).
      cmap: colormap name.
      figsize: inches.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_heatmap(lrs, rates, z, "learning rate", "drift rate", "final regret")
    """
    z = np.asarray(z, dtype=np.float64)
    ny, nx = len(y_values), len(x_values)
    if z.shape != (ny, nx):
        raise ConfigError(f"plot_heatmap: z has shape {z.shape}, expected (ny, nx) = {(ny, nx)}")
    bad = ~np.isfinite(z)
    if diverged is not None:
        bad |= np.asarray(diverged, dtype=bool)
    if annotate is None:
        annotate = nx * ny <= 64
    fig, ax, owned = _axes(ax, figsize)
    with matplotlib.rc_context(PAPER_RC):
        colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.85")
        masked = np.ma.masked_array(z, mask=bad)
        image = ax.imshow(masked, origin="lower", aspect="auto", cmap=colormap)
        ax.grid(False)
        ax.set_xticks(range(nx), [format_value(v) for v in x_values])
        ax.set_yticks(range(ny), [format_value(v) for v in y_values])
        if nx > 4:
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        colorbar = fig.colorbar(image, ax=ax)
        colorbar.set_label(zlabel)
        finite = z[~bad]
        middle = 0.5 * (finite.min() + finite.max()) if finite.size else 0.0
        for j in range(ny):
            for i in range(nx):
                if bad[j, i]:
                    ax.text(i, j, "×", ha="center", va="center", color="0.2", gid="diverged")
                elif annotate:
                    color = "white" if z[j, i] < middle else "black"
                    ax.text(i, j, f"{z[j, i]:.3g}", ha="center", va="center", fontsize=6,
                            color=color)  # fmt: skip
    return fig, ax


# ---------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------


def plot_drift(
    steps: np.ndarray,
    true_param: np.ndarray,
    estimate: np.ndarray | None = None,
    ylabel: str = "Preference",
    xlabel: str = "Step",
    names: Sequence[str] | None = None,
    max_dims: int = 6,
    max_points: int = 1000,
    figsize: tuple[float, float] = FIGSIZE,
    ax=None,
):
    """The true preference over time (solid) and the agent's estimate (dashed).

    Args:
      steps: ``(T,)`` time index.
      true_param: ``(T, d)`` true parameter (``(T,)`` for one dimension).
      estimate: ``(T, d)`` the agent's estimate of it, or None.
      ylabel, xlabel: axis labels.
      names: a name per dimension (default ``θ1, θ2, ...``).
      max_dims: draw the first ``max_dims`` dimensions only.
      max_points: curves are thinned to about this many points.
      figsize: inches.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_drift(steps, oracle_means[0, 0], q_values[0, 0])
    """
    steps = np.asarray(steps)
    truth = np.asarray(true_param, dtype=np.float64)
    truth = truth[:, None] if truth.ndim == 1 else truth
    est = None
    if estimate is not None:
        est = np.asarray(estimate, dtype=np.float64)
        est = est[:, None] if est.ndim == 1 else est
        if est.shape != truth.shape:
            raise ConfigError(
                f"plot_drift: estimate has shape {est.shape}, true_param {truth.shape}"
            )
    num_dims = min(truth.shape[1], max_dims)
    names = list(names) if names is not None else [f"θ{i + 1}" for i in range(truth.shape[1])]
    idx = thin_index(len(steps), max_points)
    fig, ax, owned = _axes(ax, figsize)
    with matplotlib.rc_context(PAPER_RC):
        for i in range(num_dims):
            color = _BASE_COLORS[i % 10]
            ax.plot(steps[idx], truth[idx, i], color=color, label=names[i])
            if est is not None:
                ax.plot(steps[idx], est[idx, i], color=color, ls="--", lw=1.0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        extra = []
        if est is not None:
            extra = [
                Line2D([], [], color="0.3", label="true"),
                Line2D([], [], color="0.3", ls="--", lw=1.0, label="estimate"),
            ]
        _legend(ax, extra, grow=owned)
    return fig, ax


# ---------------------------------------------------------------------------------------
# Reference lines
# ---------------------------------------------------------------------------------------


def bernoulli_kl(p: Any, q: Any) -> np.ndarray:
    """KL divergence ``kl(p, q)`` between Bernoulli(p) and Bernoulli(q), with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return a + b


def lai_robbins_bound(means: Sequence[float]) -> float:
    """The Lai–Robbins coefficient ``c`` of Bernoulli arms: regret ≥ (c + o(1)) ln t.

    ``c = Σ_{a: μ_a < μ*} (μ* − μ_a) / kl(μ_a, μ*)``, the asymptotic lower bound on the
    regret of any uniformly good policy; draw it as ``c · ln t``.  Arms tied with the best
    add nothing; an arm against ``μ* = 1`` has infinite kl and adds 0.

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


def lai_robbins_curve(means: Sequence[float], steps: np.ndarray) -> np.ndarray:
    """``lai_robbins_bound(means) · ln t`` at each of ``steps`` (t ≥ 1)."""
    steps = np.asarray(steps, dtype=np.float64)
    return lai_robbins_bound(means) * np.log(np.maximum(steps, 1.0))


__all__ = [
    "COLUMN_WIDTH",
    "FIGSIZE",
    "PAPER_RC",
    "bernoulli_kl",
    "curve_colors",
    "format_value",
    "is_numeric",
    "lai_robbins_bound",
    "lai_robbins_curve",
    "new_figure",
    "plot_curves",
    "plot_drift",
    "plot_heatmap",
    "plot_optimal",
    "plot_regret",
    "plot_sensitivity",
    "smooth",
    "thin_index",
]
