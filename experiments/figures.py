"""The figures of a results folder: which to draw, from which arrays, under which names.

:func:`draw` reads a Results object (``experiments.load(DIR)`` or ``experiments.run``) and
writes the figures its experiment names (``config["figures"]``), each as PNG and PDF;
:func:`compare` overlays the regret curves of several results folders.  The drawing itself
is :mod:`experiments.plots`; the numbers come from :mod:`experiments.stats`.

Figure names (files ``NAME.png`` and ``NAME.pdf``):

============  ==========================================================================
regret        mean cumulative regret with a 95% band, linear time
regret_log    the same on a log-time axis, with the Lai–Robbins bound for a ``bernoulli``
              environment with fixed ``means``
reward        average reward per step
optimal       % optimal action per step
sensitivity   final cumulative regret against each swept value (``sensitivity.png``, or
              ``sensitivity_<key>.png`` when several keys are swept), one curve per agent,
              diverged points marked; for a 2-D grid also ``heatmap_<label>.png`` per agent
loss          average loss per step (full-information streams), when the metric exists
privacy       average loss against the (epsilon, delta) of each swept noise multiplier
normalised_   the table of Riquelme, Tucker & Snoek (2018): each agent's mean final
regret        cumulative regret as a percentage of the uniform agent's at the same point
              (uniform = 100), one column per point of the reference (e.g. per delta);
              see :func:`normalised_regret` and :func:`plot_normalised_regret`
============  ==========================================================================

The per-step curves (reward, optimal, loss) are smoothed per run by a trailing mean over
``max(1, T // 100)`` stored values before the mean and band over seeds.

An agent with several points gets one curve per point, labelled ``label (key=value)`` with
the keys that vary across its points (``agent.`` dropped: ``eps (epsilon=0.1)``), in
shades of the agent's colour; diverged seeds are left out of the curves and counted in the
label.  A figure that does not apply (no sweep, no
such metric) is skipped.  Files are written atomically: a temporary file in the same folder,
then ``os.replace``, so a crash never leaves a half-written figure.

Example::

    paths = draw(experiments.load("results/testbed"), "results/testbed")
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import numpy as np

from experiments import atomic, plots, stats
from experiments.schema import FIGURES
from simulator.params import ConfigError

#: Registry name of the reference agent of :func:`normalised_regret` (uniform = 100).
UNIFORM_AGENT = "random"
#: The delta at which the privacy figure reports each noise multiplier's epsilon.
PRIVACY_DELTA = 1e-5
DEFAULT_FIGURES = ("regret", "sensitivity")
FORMATS = ("png", "pdf")

_PDF_METADATA = {"CreationDate": None}  # reproducible PDFs


def check_names(names: Sequence[str], key: str = "figures") -> list[str]:
    """Validate figure names: ConfigError naming the bad one and the allowed values."""
    if isinstance(names, str):
        names = [names]
    for name in names:
        if name not in FIGURES:
            raise ConfigError(f"{key} = {name!r}: unknown figure; one of {list(FIGURES)}")
    return list(names)


def save(fig: Any, out_dir: str | os.PathLike, name: str, formats: Sequence[str] = FORMATS):
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format, atomically.

    Each file goes through :mod:`experiments.atomic` (a temporary file moved into place;
    on an error nothing else changes).

    Returns:
      The written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"

        def write(handle, fmt=fmt):
            with matplotlib.rc_context(plots.PAPER_RC):
                if fig.get_layout_engine() is not None:
                    # lay out once at the figure's size, then freeze: a second
                    # tight-cropped save must not rerun constrained layout on the crop
                    fig.canvas.draw()
                    fig.set_layout_engine("none")
                metadata = _PDF_METADATA if fmt == "pdf" else None
                fig.savefig(handle, format=fmt, metadata=metadata)

        paths.append(atomic.write_with(path, write))
    return paths


def safe_name(text: str) -> str:
    """A file-name-safe version of a label or key (``agent.epsilon`` stays readable)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(text)).strip("_") or "x"


# ---------------------------------------------------------------------------------------
# From Results to curves
# ---------------------------------------------------------------------------------------


def _varying_keys(points: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for p in points:
        keys.update(dict.fromkeys(p))
    return [k for k in keys if len({repr(plots.format_value(p.get(k))) for p in points}) > 1]


def short_key(key: str, label: str) -> str:
    """A swept key as shown next to an agent's label: ``agent.epsilon`` -> ``epsilon``,
    ``agents.LABEL.c`` -> ``c``; environment keys keep their ``env.`` prefix."""
    for prefix in (f"agents.{label}.", "agent."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def point_label(label: str, point: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``label (key=value, ...)`` for the given keys of a point; ``label`` when none."""
    if not keys:
        return label
    inner = ", ".join(f"{short_key(k, label)}={plots.format_value(point.get(k))}" for k in keys)
    return f"{label} ({inner})"


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


def agent_curves(
    results: Any, values_of, prefix: str = ""
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Per-point ``(seeds, T)`` curves of every agent, diverged seeds set to NaN.

    Args:
      results: a Results object.
      values_of: ``(results, agent_results) -> (points, seeds, T)`` array or None.
      prefix: put before every label (``"folder/"`` in :func:`compare`).

    Returns:
      ``(curves, groups)``: curve label -> ``(seeds, T)``; agent label -> its curve labels.
    """
    curves: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    for label in results.agents:
        r = results[label]
        values = values_of(results, r)
        if values is None:
            continue
        bad = _diverged(r, values.shape[:2]) | ~np.isfinite(values).all(axis=-1)
        values = np.where(bad[..., None], np.nan, values)
        keys = _varying_keys(r.points)
        names = []
        for i, point in enumerate(r.points):
            name = point_label(prefix + label, point, keys)
            num_bad = int(bad[i].sum())
            if num_bad:
                name += f" [{num_bad}/{bad.shape[1]} diverged]"
            curves[name] = values[i]
            names.append(name)
        groups[prefix + label] = names
    return curves, groups


def _bernoulli_means(results: Any) -> list[float] | None:
    """Fixed arm means from the config where the environment declared click rewards on
    fixed arms (Bernoulli arms: the Lai–Robbins bound applies), else None."""
    config = getattr(results, "config", None) or {}
    env = config.get("env") or {}
    spec = (config.get("capabilities") or {}).get("env") or {}
    clicks = (spec.get("reward") or {}).get("kind") == "click"
    if not isinstance(env, Mapping) or not (clicks and spec.get("fixed_arms")):
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


def _reward_window(num_values: int) -> int:
    return max(1, num_values // 100)


# ---------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------


def _fig_regret(results, log_x: bool):
    curves, groups = agent_curves(results, _cumulative_regret)
    if not curves:
        return None
    steps = np.asarray(results.steps)
    bound = None
    if log_x:
        means = _bernoulli_means(results)
        if means is not None:
            bound = (steps, plots.lai_robbins_curve(means, steps))
    fig, _ = plots.plot_regret(
        steps, curves, log_x=log_x, lower_bound=bound, colors=plots.curve_colors(groups)
    )
    return fig


def _fig_metric(results, name: str, ylabel: str, optimal: bool = False):
    curves, groups = agent_curves(results, lambda res, r: _metric(r, name))
    if not curves:
        return None
    steps = np.asarray(results.steps)
    colors = plots.curve_colors(groups)
    window = _reward_window(len(steps))
    if optimal:
        fig, _ = plots.plot_optimal(steps, curves, colors=colors, window=window)
    else:
        fig, _ = plots.plot_curves(steps, curves, ylabel=ylabel, colors=colors, window=window)
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


def _sensitivity_figures(results) -> list[tuple[str, Any]]:
    runs, metric, ylabel = _final_metric(results)
    if not metric:
        return []
    keys = [
        k
        for k in stats.point_keys(results)
        if len({repr(p[k]) for label in results.agents for p in results[label].points if k in p})
        > 1
    ]
    out = []
    for key in keys:
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
            if all(key not in p for p in r.points):  # not swept here: reference line(s)
                others = _varying_keys(r.points)
                for i, p in enumerate(r.points):
                    name = point_label(label, p, others)
                    values[name], finals[name], diverged[name] = (
                        [],
                        final[i : i + 1],
                        bad[i : i + 1],
                    )
                    names.append(name)
            else:
                others = [k for k in _varying_keys(r.points) if k != key]
                by_rest: dict[str, list[int]] = {}
                for i, p in enumerate(r.points):
                    if key in p:
                        rest = repr([plots.format_value(p.get(k)) for k in others])
                        by_rest.setdefault(rest, []).append(i)
                for idx in by_rest.values():
                    name = point_label(label, r.points[idx[0]], others)
                    values[name] = [r.points[i][key] for i in idx]
                    finals[name], diverged[name] = final[idx], bad[idx]
                    names.append(name)
            groups[label] = names
        if not finals:
            continue
        all_values = [v for vs in values.values() for v in vs]
        log_x = plots.is_numeric(all_values) and _log_spaced(all_values)
        with warnings.catch_warnings():  # a point whose every seed diverged is all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            point_means = [np.nanmean(f, axis=-1) for f in finals.values() if f.size]
        positive = np.concatenate(point_means) if point_means else np.zeros(0)
        positive = positive[np.isfinite(positive) & (positive > 0)]
        log_y = metric == "avg_loss" and positive.size > 1 and positive.max() / positive.min() > 50
        fig, _ = plots.plot_sensitivity(
            values,
            finals,
            diverged,
            xlabel=key,
            ylabel=ylabel,
            log_x=log_x,
            log_y=log_y,
            colors=plots.curve_colors(groups),
        )
        name = "sensitivity" if len(keys) == 1 else f"sensitivity_{safe_name(key)}"
        out.append((name, fig))
    out.extend(_heatmaps(results, runs, metric, ylabel))
    return out


def _log_spaced(values: Sequence[float]) -> bool:
    """Log axis when the positive values span more than a factor of 20."""
    arr = np.abs(np.asarray(values, dtype=np.float64))
    arr = arr[arr > 0]
    return arr.size > 1 and arr.max() / arr.min() > 20


def _heatmaps(results, runs, metric: str, zlabel: str) -> list[tuple[str, Any]]:
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
            xvals, yvals, z, xkey, ykey, zlabel, diverged=point_bad.reshape(ny, nx)
        )
        fig.axes[0].set_title(label)
        out.append((f"heatmap_{safe_name(label)}", fig))
    return out


def _privacy_figure(results) -> list[tuple[str, Any]]:
    """Average loss against the (epsilon, delta = 1e-5) of each swept noise multiplier
    sigma: one Gaussian mechanism per example, one pass (Balle & Wang 2018)."""
    from agents.privacy import epsilon_for_delta

    runs = stats.run_summaries(results)
    values, finals, diverged = {}, {}, {}
    for label in results.agents:
        r = results[label]
        if "avg_loss" not in runs[label] or not all(
            "agent.noise_multiplier" in p for p in r.points
        ):
            continue
        sigmas = [float(p["agent.noise_multiplier"]) for p in r.points]
        values[label] = [epsilon_for_delta(PRIVACY_DELTA, sigma) for sigma in sigmas]
        finals[label] = runs[label]["avg_loss"]
        diverged[label] = runs[label]["diverged"]
    if not finals:
        return []
    fig, _ = plots.plot_sensitivity(
        values,
        finals,
        diverged,
        xlabel=f"privacy loss epsilon (delta = {PRIVACY_DELTA:g}, one pass)",
        ylabel="Average loss",
        log_x=True,
    )
    return [("privacy", fig)]


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
        if isinstance(config, Mapping) and config.get("name") == UNIFORM_AGENT:
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
    reference's point with the same values on the keys they share
    (:func:`experiments.stats.match_point`); the seeds are the experiment's common seeds.

    Args:
      results: a Results object (``experiments.run`` / ``experiments.load``).
      reference: the reference agent's label; default the agent whose registry name is
        ``"random"`` (uniform choice), as in the paper.
      level: confidence level of ``ci_low`` / ``ci_high``.

    Returns:
      A :class:`NormalisedRegret`, or None when there is no reference agent (or no regret).

    Example::

        table = normalised_regret(experiments.run("wheel"))
        fig, ax = plot_normalised_regret(table)

    Reference: C. Riquelme, G. Tucker, J. Snoek, "Deep Bayesian bandits showdown", ICLR
    2018, Table 2 (cumulative regret normalised by Uniform's).
    """
    reference = _reference_label(results, reference)
    if reference is None:
        return None
    runs = stats.run_summaries(results)
    if "final_regret" not in runs[reference]:
        return None
    ref = results[reference]
    with warnings.catch_warnings():  # a point whose every seed diverged is all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        ref_mean = np.nanmean(runs[reference]["final_regret"], axis=1)
    column_keys = _varying_keys(ref.points)
    columns = [
        ", ".join(f"{short_key(k, reference)}={plots.format_value(p.get(k))}" for k in column_keys)
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
        others = [k for k in _varying_keys(r.points) if k not in column_keys]
        by_rest: dict[str, list[int]] = {}
        for i, point in enumerate(r.points):
            rest = repr([plots.format_value(point.get(k)) for k in others])
            by_rest.setdefault(rest, []).append(i)
        for indices in by_rest.values():
            row = np.full((3, len(ref.points)), np.nan)
            candidates = [r.points[i] for i in indices]
            for j, ref_point in enumerate(ref.points):
                match = stats.match_point(ref_point, candidates)
                if match is None or not ref_mean[j] > 0:
                    continue
                per_seed = 100.0 * final[indices[match]] / ref_mean[j]
                if not np.isfinite(per_seed).any():
                    continue
                ci = stats.mean_ci(per_seed[None], axis=1, level=level)
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


def plot_normalised_regret(table: NormalisedRegret, cmap: str = "RdYlGn_r", ax=None):
    """Draw a :class:`NormalisedRegret` as a table: one row per agent, one column per point.

    Each cell shows the normalised regret and its interval's half-width (``7.1 ± 0.8``),
    coloured on a fixed scale from 0 (best) to 100 (the reference; above 100 saturates);
    the best agent of each column is in bold.  Missing cells are grey.

    Args:
      table: from :func:`normalised_regret`.
      cmap: colormap name (low values green by default).
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_normalised_regret(normalised_regret(results))
    """
    num_rows, num_cols = table.mean.shape
    figsize = (
        max(plots.COLUMN_WIDTH, 1.3 + 0.75 * num_cols),
        0.6 + 0.22 * num_rows,
    )
    if ax is None:
        fig, ax = plots.new_figure(figsize)
    else:
        fig = ax.figure
    with matplotlib.rc_context(plots.PAPER_RC):
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
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5, fontweight=weight)
        ax.set_title(
            f"Cumulative regret, {table.reference} = 100 (Riquelme et al. 2018)", fontsize=7
        )
    return fig, ax


def _normalised_regret_figure(results) -> list[tuple[str, Any]]:
    table = normalised_regret(results)
    if table is None or not table.rows:
        return []
    return [("normalised_regret", plot_normalised_regret(table)[0])]


def _figures_named(results, name: str) -> list[tuple[str, Any]]:
    if name == "regret":
        return [(name, _fig_regret(results, log_x=False))]
    if name == "regret_log":
        return [(name, _fig_regret(results, log_x=True))]
    if name == "reward":
        return [(name, _fig_metric(results, "reward", "Average reward"))]
    if name == "optimal":
        return [(name, _fig_metric(results, "optimal", "", optimal=True))]
    if name == "loss":
        return [(name, _fig_metric(results, "loss", "Loss"))]
    if name == "sensitivity":
        return _sensitivity_figures(results)
    if name == "privacy":
        return _privacy_figure(results)
    if name == "normalised_regret":
        return _normalised_regret_figure(results)
    raise ConfigError(f"figures = {name!r}: unknown figure; one of {list(FIGURES)}")


def draw(
    results: Any,
    out_dir: str | os.PathLike,
    names: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Draw and save the figures of a results object.

    Args:
      results: a Results object (``experiments.load(DIR)`` or ``experiments.run(...)``).
      out_dir: folder to write into (created if missing).
      names: figure names (see :data:`FIGURES`); default ``results.config["figures"]``,
        else :data:`DEFAULT_FIGURES`.
      formats: file formats, PNG and PDF by default.

    Returns:
      The paths written (figures that do not apply are skipped).

    Example::

        draw(results, "out", names=["regret_log", "optimal"])
    """
    if names is None:
        names = (getattr(results, "config", None) or {}).get("figures") or DEFAULT_FIGURES
    names = check_names(names)
    paths: list[Path] = []
    for name in dict.fromkeys(names):
        for file_name, fig in _figures_named(results, name):
            if fig is not None:
                paths.extend(save(fig, out_dir, file_name, formats))
    return paths


def _folder_name(item: Any, index: int) -> str:
    for attr in ("path", "directory", "dir", "root"):
        value = getattr(item, attr, None)
        if value:
            return Path(value).name
    return f"run{index + 1}"


def compare(
    results_list: Sequence[Any] | Mapping[str, Any],
    out_dir: str | os.PathLike,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Overlay the cumulative-regret curves of several results folders.

    Args:
      results_list: Results objects or results folders (paths, loaded with
        ``experiments.load``), or a mapping name -> either.  Curves are labelled
        ``name/label``; a name is the folder's name (else ``run1``, ``run2``, ...).
      out_dir: folder to write into.
      formats: file formats.

    Returns:
      The written paths: ``compare_regret`` and ``compare_regret_log`` (PNG and PDF).

    Example::

        compare(["results/a", "results/b"], "results/compare")
    """
    if isinstance(results_list, Mapping):
        items = list(results_list.items())
    else:
        items = []
        for i, item in enumerate(results_list):
            name = Path(item).name if isinstance(item, (str, os.PathLike)) else None
            items.append((name or _folder_name(item, i), item))
    curves: dict[str, np.ndarray] = {}
    steps: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for name, item in items:
        if isinstance(item, (str, os.PathLike)):
            import experiments  # the results loader lives in the package __init__

            item = experiments.load(item)
        while name in seen:  # two folders with one name
            name += "'"
        seen.add(name)
        c, g = agent_curves(item, _cumulative_regret, prefix=f"{name}/")
        curves.update(c)
        groups.update(g)
        steps.update({label: np.asarray(item.steps) for label in c})
    if not curves:
        return []
    colors = plots.curve_colors(groups)
    paths: list[Path] = []
    for file_name, log_x in (("compare_regret", False), ("compare_regret_log", True)):
        fig, _ = plots.plot_regret(steps, curves, log_x=log_x, colors=colors)
        paths.extend(save(fig, out_dir, file_name, formats))
    return paths
