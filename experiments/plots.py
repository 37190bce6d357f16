"""Paper-style figures from arrays: every function returns ``(fig, ax)`` and shows nothing.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
``pyplot``: no global state, no window, nothing to close, safe in worker processes.  In a
notebook a figure displays as a PNG when it is a cell's value (``fig`` on the cell's last
line) or is passed to ``display(fig)`` / :func:`show`: the figures are
:class:`NotebookFigure` objects, whose ``_repr_png_`` IPython calls whatever the matplotlib
backend (``MPLBACKEND=Agg`` included, e.g. a headless ``nbclient`` / ``nbconvert`` run);
no ``%matplotlib inline`` needed.  Drawing returns ``(fig, ax)``, so end a cell with
``fig`` (a tuple displays as text).

Layout rules (what a reader of the figure can rely on):

* **Size and style.**  ``style="paper"`` (default) is one column of a two-column paper:
  3.5 in wide, 8 pt text, no font under 7 pt; ``style="talk"`` is a slide (6.4 in, 14 pt).
  A figure grows taller by its title, legend and caption, so the data area keeps its size.
* **Legends never cover the data.**  The legend sits above the axes, outside them, in as
  many columns as the width allows (measured, not guessed).  An agent drawn at more than
  :data:`RAMP_MIN` numeric values of one swept key (or at more than
  :data:`MAX_LEGEND_CURVES` points of any kind) is a colour ramp (viridis) with a colour
  bar naming the key, not one legend entry per curve.  When several agents each have
  several points, each gets its own panel (small multiples with shared axes); agents with
  a single curve are drawn, dashed, in every panel as references.
* **Scales from the data.**  ``log_y=None`` chooses a log y-axis when the curves' levels
  span more than :data:`LOG_SPAN` (a learning-rate sweep whose worst rates would flatten
  the good ones at 0); large linear values are written in units of ``10^k`` named in the
  axis label (never a floating ``1e6`` offset), steps as ``20k`` / ``1M``.
* **Bands stay in range.**  ``bounds=(low, high)`` clips the bands (and the axis) to the
  metric's range: rewards of click environments in [0, 1], regret and loss >= 0.
* **A caption line** at the bottom states the seeds, the band (Student-t interval of the
  mean over seeds, :func:`experiments.stats.mean_ci`) and the smoothing.
* **Change points** (``change_points``) are dotted vertical lines in every panel.

* :func:`plot_regret` / :func:`plot_curves` / :func:`plot_optimal` -- a metric over time;
* :func:`plot_sensitivity` -- a final metric against a swept value, diverged points
  marked with an ``x`` at the top of the axes (never drawn as a number);
* :func:`plot_heatmap` -- a metric over two swept values;
* :func:`plot_drift` -- the true preference over time and the agent's estimate.

Example::

    fig, ax = plot_regret(results.steps, {"ucb": cum_ucb[0], "ts": cum_ts[0]}, log_x=True,
                          lower_bound=(steps, stats.lai_robbins_curve(means, steps)))
    fig.savefig("regret.pdf")

Non-finite (diverged) runs are left out of the means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import FuncNorm, ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, ScalarFormatter
from matplotlib.transforms import Bbox, blended_transform_factory

from experiments.stats import format_value, mean_ci
from simulator.params import ConfigError

COLUMN_WIDTH = 3.5  # inches: one column of a two-column paper
FIGSIZE = (COLUMN_WIDTH, 2.6)
#: Smallest font size (points) any figure uses.
MIN_FONT_PT = 7.0
#: An agent with more curves than this (at numeric values of one swept key) is a ramp.
RAMP_MIN = 4
#: An agent with more curves than this is a colour ramp whatever its points.
MAX_LEGEND_CURVES = 8
#: Curves whose levels span more than this factor get a log y-axis (``log_y=None``).
LOG_SPAN = 100.0
#: More change points than this in a panel are not drawn (the caption says so).
MAX_CHANGE_LINES = 60

#: rcParams of paper figures (text sizes for a 3.5 in column, TrueType fonts in PDF).
PAPER_RC: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "figure.titlesize": 8,
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
    "legend.borderpad": 0.2,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
}

#: rcParams of slides: the same look at 14 pt on a 6.4 in wide figure.
TALK_RC: dict[str, Any] = {
    **PAPER_RC,
    "font.size": 14,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "figure.titlesize": 15,
    "legend.fontsize": 12,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "lines.linewidth": 2.2,
    "lines.markersize": 6.0,
    "axes.linewidth": 1.0,
    "grid.linewidth": 0.6,
    "legend.handlelength": 2.2,
    "savefig.dpi": 200,
}


class Style(NamedTuple):
    """A figure style: its rcParams and sizes in inches.

    Attributes:
      name: ``"paper"`` or ``"talk"``.
      rc: the rcParams every artist is drawn under.
      width: width of a one-column figure.
      height: height of a single-axes figure (its data area grows no smaller).
      wide: width of a figure with two columns of panels.
    """

    name: str
    rc: dict[str, Any]
    width: float
    height: float
    wide: float


STYLES: dict[str, Style] = {
    "paper": Style("paper", PAPER_RC, COLUMN_WIDTH, 2.6, 7.0),
    "talk": Style("talk", TALK_RC, 6.4, 4.2, 11.0),
}


def get_style(style: str | Style = "paper") -> Style:
    """The :class:`Style` named ``style`` (ConfigError naming the allowed ones)."""
    if isinstance(style, Style):
        return style
    if style not in STYLES:
        raise ConfigError(f"style = {style!r}: one of {', '.join(STYLES)}")
    return STYLES[style]


_BASE_COLORS = [f"C{i}" for i in range(10)]
# sequential maps whose hue matches the tab10 colour of the same index
_SHADES = ["Blues", "Oranges", "Greens", "Reds", "Purples", "YlOrBr", "RdPu", "Greys", "YlGn",
           "GnBu"]  # fmt: skip
#: The colour ramp of a sweep: viridis without its lightest yellow (visible on white).
RAMP_CMAP = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.88, 256)), "ramp")
BAND_ALPHA = 0.2

Curves = Mapping[str, np.ndarray]


# ---------------------------------------------------------------------------------------
# Figures, styles and layout
# ---------------------------------------------------------------------------------------


#: Resolution (dots per inch) of the PNG a figure displays as in a notebook.
DISPLAY_DPI = 150


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that displays itself in Jupyter as a PNG.

    IPython asks an object for ``_repr_png_`` when it is a cell's value or given to
    ``display``; the image is rendered here with the figure's own Agg canvas, so it appears
    without pyplot, without an inline backend and under ``MPLBACKEND=Agg``.  Where an
    inline backend is active, IPython's own figure formatter draws it instead (one image
    either way).  Everything else is a plain ``Figure``.
    """

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def figure_png(fig: Figure, dpi: float = DISPLAY_DPI) -> bytes:
    """``fig`` as PNG bytes at ``dpi``, cropped to its artists, under its style's rcParams
    (what a notebook shows)."""
    import io

    buffer = io.BytesIO()
    with _rc(fig):
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def show(fig: Any) -> None:
    """Display ``fig`` (or the figure of a ``(fig, ax)`` pair) in a notebook.

    For a figure drawn inside a loop, or anywhere other than a cell's last line.  Outside
    IPython (a script) it does nothing: save the figure instead.
    """
    if isinstance(fig, tuple):
        fig = fig[0]
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # no IPython: nothing to display into
        return
    if get_ipython() is None:
        return
    display(fig if isinstance(fig, NotebookFigure) else _Png(figure_png(fig)))


class _Png:
    """PNG bytes that IPython displays (for a plain ``Figure`` given to :func:`show`)."""

    def __init__(self, data: bytes):
        self.data = data

    def _repr_png_(self) -> bytes:
        return self.data


def _style_of(fig: Figure) -> Style:
    return get_style(getattr(fig, "driftsim_style", "paper"))


def _rc(fig: Figure):
    return matplotlib.rc_context(_style_of(fig).rc)


def new_figure(
    figsize: tuple[float, float] | None = None, style: str | Style = "paper"
) -> tuple[Figure, Any]:
    """A ``Figure`` with an Agg canvas and one axes, laid out with constrained layout."""
    fig, axes = new_panels(1, style=style, figsize=figsize)
    return fig, axes[0]


def new_panels(
    num: int,
    style: str | Style = "paper",
    sharex: bool = True,
    sharey: bool = True,
    figsize: tuple[float, float] | None = None,
    ncols: int | None = None,
) -> tuple[Figure, list[Any]]:
    """A figure of ``num`` panels (small multiples) with shared axes.

    Up to three panels are stacked in one column of the style's width; four or more fill
    two columns of the style's ``wide`` width.  ``ncols`` sets the columns instead (two
    or more: the ``wide`` width; one row keeps the full panel height).  Only the outer
    panels keep their tick labels.  Returns ``(fig, axes)`` with ``len(axes) == num``.
    """
    st = get_style(style)
    if ncols is None:
        ncols = 1 if num <= 3 else 2
    ncols = max(1, min(int(ncols), num))
    nrows = math.ceil(num / ncols)
    if figsize is None:
        width = st.width if ncols == 1 else st.wide
        panel = st.height if nrows == 1 else 0.62 * st.height
        figsize = (width, panel * nrows)
    with matplotlib.rc_context(st.rc):
        fig = NotebookFigure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
        axes = list(grid.ravel())
        for ax in axes[num:]:  # an odd panel count: the panel above shows its x ticks
            above = grid[-2, -1] if nrows > 1 else None
            ax.remove()
            if above is not None:
                above.xaxis.set_tick_params(labelbottom=True)
    fig.driftsim_style = st.name
    fig.driftsim_panels = axes[:num]
    fig.driftsim_base_height = figsize[1]
    return fig, axes[:num]


def _axes(ax, figsize, style):
    """``(fig, ax, owned)``: a new figure unless ``ax`` is given (then never resized)."""
    if ax is None:
        return (*new_figure(figsize, style), True)
    return ax.figure, ax, False


def _text_size(fig: Figure, text: str, size: float) -> tuple[float, float]:
    """Width and height in inches of ``text`` at ``size`` points."""
    renderer = fig.canvas.get_renderer()
    props = matplotlib.font_manager.FontProperties(size=size)
    width, height, _ = renderer.get_text_width_height_descent(text, props, ismath=False)
    return width / fig.dpi, height / fig.dpi


def _wrap(fig: Figure, text: str, size: float, width: float) -> str:
    """``text`` broken at its ``; `` separators (then spaces) into lines of at most
    ``width`` inches."""
    lines: list[str] = []
    for sep in ("; ", " "):
        parts = text.split(sep)
        if len(parts) > 1:
            break
    current = ""
    for part in parts:
        candidate = f"{current}{sep}{part}" if current else part
        if current and _text_size(fig, candidate, size)[0] > width:
            lines.append(current + (sep.rstrip() if sep != " " else ""))
            current = part
        else:
            current = candidate
    lines.append(current)
    out = []
    for line in lines:  # a single part too long on its own: break it at spaces
        if _text_size(fig, line, size)[0] > width and " " in line and sep != " ":
            out.append(_wrap(fig, line, size, width))
        else:
            out.append(line)
    return "\n".join(out)


def _legend_columns(fig: Figure, labels: Sequence[str], width: float) -> int:
    """The most columns whose widest entry fits ``width`` inches, rows balanced."""
    rc = _style_of(fig).rc
    size = float(rc["legend.fontsize"])
    em = size / 72.0
    entry = max(_text_size(fig, label, size)[0] for label in labels)
    entry += (rc["legend.handlelength"] + 0.8 + rc["legend.columnspacing"]) * em
    ncol = max(1, min(len(labels), int(width // entry)))
    rows = math.ceil(len(labels) / ncol)
    return math.ceil(len(labels) / rows)


def finish(
    fig: Figure,
    handles: Sequence[Any] = (),
    labels: Sequence[str] | None = None,
    title: str | None = None,
    caption: str | None = None,
) -> Figure:
    """Title, legend and caption outside the panels; the figure grows to hold them.

    The title and the legend (columns measured to fit the width) go above the panels,
    the caption (wrapped, :data:`MIN_FONT_PT` or more) below them; the figure grows by
    their heights, so the panels keep the size they were created with, and constrained
    layout keeps the panels, their labels and colour bars in the space left.  Large
    linear values get a ``×10^k`` unit in their axis label (:func:`tidy_numbers`).
    """
    st = _style_of(fig)
    if labels is None:
        labels = [h.get_label() for h in handles]
    with matplotlib.rc_context(st.rc):
        for ax in getattr(fig, "driftsim_panels", fig.axes):
            tidy_numbers(ax)
        width, height = fig.get_size_inches()
        pad = 0.04
        gap = 0.05
        header: list[tuple[Any, float]] = []  # (artist, height in inches), top to bottom
        if title:
            size = float(st.rc["figure.titlesize"])
            text = fig.text(
                0.5,
                1.0,
                _wrap(fig, title, size, width - 2 * pad),
                ha="center",
                va="top",
                fontsize=size,
                gid="title",
            )
            header.append((text, _extent(fig, text)[1]))
        if handles:
            ncol = _legend_columns(fig, labels, width - 2 * pad)
            while True:
                legend = fig.legend(
                    handles,
                    labels,
                    loc="upper center",
                    ncol=ncol,
                    bbox_to_anchor=(0.5, 1.0),
                    borderaxespad=0.0,
                )
                legend.set_gid("legend")
                if ncol == 1 or _extent(fig, legend)[0] <= width - pad:
                    break
                legend.remove()
                ncol -= 1
            header.append((legend, _extent(fig, legend)[1]))
        foot = 0.0
        if caption:
            size = max(MIN_FONT_PT, float(st.rc["legend.fontsize"]))
            text = fig.text(
                pad / width,
                0.0,
                _wrap(fig, caption, size, width - 2 * pad),
                ha="left",
                va="bottom",
                fontsize=size,
                color="0.3",
                gid="caption",
                linespacing=1.2,
            )
            foot = _extent(fig, text)[1] + gap
        top = pad + sum(h for _, h in header) + gap * len(header)
        base = getattr(fig, "driftsim_base_height", height)
        total = base + top + foot
        fig.set_size_inches(width, total)
        y = 1.0 - pad / total
        for artist, h in header:
            if isinstance(artist, matplotlib.legend.Legend):
                artist.set_bbox_to_anchor((0.5, y), transform=fig.transFigure)
            else:
                artist.set_y(y)
            y -= (h + gap) / total
        if caption:
            text.set_y(pad / 2 / total)
        engine = fig.get_layout_engine()
        if engine is not None and hasattr(engine, "set"):
            bottom = foot / total
            engine.set(rect=(0.0, bottom, 1.0, 1.0 - bottom - top / total))
    return fig


def _extent(fig: Figure, artist: Any) -> tuple[float, float]:
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.width / fig.dpi, box.height / fig.dpi


def _steps_formatter(value: float, _pos: Any = None) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def tidy_numbers(ax: Any) -> None:
    """Readable tick labels on linear axes: a ``y`` spanning ``>= 10^4`` (or ``< 10^-2``)
    is written in units of ``10^k`` named in the axis label (``Loss (×10^6)``), an ``x``
    reaching ``10^4`` as ``20k`` / ``1M``; never a detached offset such as ``1e6``."""
    ax.autoscale_view()
    numbers = (ScalarFormatter, FuncFormatter)  # not the names of a categorical axis
    if ax.get_xscale() == "linear" and isinstance(ax.xaxis.get_major_formatter(), numbers):
        if max(abs(v) for v in ax.get_xlim()) >= 1e4:
            ax.xaxis.set_major_formatter(FuncFormatter(_steps_formatter))
        else:
            _no_offset(ax.xaxis)
    if ax.get_yscale() != "linear" or getattr(ax, "driftsim_scaled", False):
        return
    top = max(abs(v) for v in ax.get_ylim())
    if not isinstance(ax.yaxis.get_major_formatter(), ScalarFormatter):
        return
    if top >= 1e4 or 0 < top < 1e-2:
        power = int(3 * math.floor(math.log10(top) / 3))
        factor = 10.0**power
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p, f=factor: f"{v / f:g}"))
        label = ax.get_ylabel()
        if label:
            ax.set_ylabel(f"{label} (×$10^{{{power}}}$)")
        ax.driftsim_scaled = True
    else:
        _no_offset(ax.yaxis)


def _no_offset(axis: Any) -> None:
    formatter = axis.get_major_formatter()
    if hasattr(formatter, "set_useOffset"):
        formatter.set_useOffset(False)


def _legend(ax, extra_handles: Sequence[Any] = ()) -> None:
    """Legend above the axes (outside the data) of axes the caller laid out."""
    handles, _ = ax.get_legend_handles_labels()
    _legend_from(ax, _unique(list(handles) + list(extra_handles)))


def _legend_from(ax, handles: Sequence[Any]) -> None:
    """Legend above the axes the caller laid out, with the given handles."""
    if not handles:
        return
    labels = [h.get_label() for h in handles]
    width = ax.get_position().width * ax.figure.get_size_inches()[0]
    ncol = _legend_columns(ax.figure, labels, width)
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02, 1.0, 0.1),
        mode="expand" if ncol > 1 else None,
        ncol=ncol,
        borderaxespad=0.0,
    )


def curve_colors(groups: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """A colour per curve: each agent its own hue, its points shades of that hue.

    Args:
      groups: agent label -> the labels of its curves (one per point), in order.

    Returns:
      curve label -> colour.  Agent ``i`` with one curve gets tab10 colour ``Ci``; with
      several, a light-to-dark ramp of the matching sequential colormap.

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


def value_scale(values: Sequence[Any]) -> str:
    """How swept numbers are best spaced: ``"memory"`` for discounts crowded near 1
    (all in (0, 1), spaced evenly in ``log 1/(1-γ)`` rather than in γ), ``"log"`` for
    positive values spread geometrically over a factor of 8 or more, else ``"linear"``."""
    arr = np.sort(np.unique(np.asarray(values, dtype=np.float64)))
    if arr.size < 2:
        return "linear"
    if np.all((arr > 0) & (arr < 1)) and arr[-1] >= 0.9:
        memory = -np.log1p(-arr)
        if _more_even(np.diff(memory), np.diff(arr)):
            return "memory"
    if np.all(arr > 0) and arr[-1] / arr[0] >= 8:
        if arr.size == 2 or _more_even(np.diff(np.log(arr)), np.diff(arr)):
            return "log"
    return "linear"


def _more_even(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the gaps ``a`` are more even (smaller coefficient of variation) than ``b``."""

    def cv(x):
        return float(np.std(x) / np.mean(x)) if np.mean(x) > 0 else math.inf

    return cv(a) <= cv(b) + 1e-9


def effective_memory(discount: Any) -> np.ndarray:
    """``1 / (1 - γ)``: the number of past steps a discount γ effectively averages (a
    window of that many steps has the same weight of the present), for comparing a
    discount with a window on one axis."""
    g = np.asarray(discount, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 - g)


def ramp_norm(values: Sequence[float]) -> Normalize:
    """The colour normalisation of a sweep: log, effective memory (discounts) or linear,
    as :func:`value_scale` chooses."""
    arr = np.asarray(values, dtype=np.float64)
    low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
    scale = value_scale(arr)
    if scale == "log":
        return LogNorm(low, high)
    if scale == "memory":
        return FuncNorm((lambda g: -np.log1p(-g), lambda y: -np.expm1(-y)), low, high)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return Normalize(low, high)


def auto_log(levels: Sequence[float], span: float = LOG_SPAN) -> bool:
    """True when positive ``levels`` span more than ``span`` (a log axis reads them);
    False when any is <= 0 (nothing to take a log of)."""
    arr = np.asarray(levels, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size < 2 or np.any(arr <= 0):
        return False
    return bool(arr.max() / arr.min() > span)


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


def is_numeric(values: Sequence[Any]) -> bool:
    return all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    )


def band_caption(num_seeds: Sequence[int] | int, level: float = 0.95, smoothing: str = "") -> str:
    """``"8 seeds; line: mean, band: Student-t 95% interval of the mean"`` (+ smoothing)."""
    seeds = sorted({int(n) for n in np.atleast_1d(num_seeds)})
    count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    text = f"{count} seed{'s' if seeds[-1] != 1 else ''}; line: mean, band: Student-t "
    text += f"{level:.0%} interval of the mean"
    return text + (f"; {smoothing}" if smoothing else "")


def _steps_of(steps: Any, label: str) -> np.ndarray:
    if isinstance(steps, Mapping):
        return np.asarray(steps[label])
    return np.asarray(steps)


# ---------------------------------------------------------------------------------------
# Curves over time
# ---------------------------------------------------------------------------------------


class _Curve(NamedTuple):
    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    seeds: int


def _curve_stats(x, values, scale, window, level, log_x, bounds, max_points) -> _Curve:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None]
    values = smooth(values, window) * scale
    idx = thin_index(len(x), max_points, log=log_x)
    ci = mean_ci(values[:, idx], axis=0, level=level)
    low, high = ci.low, ci.high
    if bounds is not None:
        lo = -np.inf if bounds[0] is None else bounds[0]
        hi = np.inf if bounds[1] is None else bounds[1]
        low, high = np.clip(low, lo, hi), np.clip(high, lo, hi)
    finite = np.isfinite(values).all(axis=-1)
    return _Curve(np.asarray(x)[idx], ci.mean, low, high, int(finite.sum()))


def _level(curve: _Curve) -> float:
    """A curve's typical level: the mean of its second half."""
    half = curve.mean[len(curve.mean) // 2 :]
    half = half[np.isfinite(half)]
    return float(half.mean()) if half.size else math.nan


def _ramp_groups(groups, sweep_values, forced: bool = False) -> dict[str, tuple[Any, Any]]:
    """Group -> ``(norm, values)`` for the groups drawn as a colour ramp."""
    out = {}
    for name, labels in groups.items():
        if len(labels) < 2:
            continue
        values = [sweep_values.get(label) for label in labels] if sweep_values else []
        numeric = bool(values) and is_numeric(values)
        if numeric and (len(labels) > RAMP_MIN or forced):
            out[name] = (ramp_norm(values), values)
        elif len(labels) > MAX_LEGEND_CURVES:
            index = list(range(len(labels)))
            out[name] = (Normalize(0, len(labels) - 1), index)
    return out


def plot_curves(
    steps: np.ndarray | Mapping[str, np.ndarray],
    curves: Curves,
    *,
    ylabel: str,
    xlabel: str = "Step",
    log_x: bool = False,
    log_y: bool | None = None,
    scale: float = 1.0,
    window: int = 1,
    level: float = 0.95,
    colors: Mapping[str, Any] | None = None,
    linestyles: Mapping[str, Any] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    sweep_values: Mapping[str, Any] | None = None,
    sweep_names: Mapping[str, str] | None = None,
    bounds: tuple[float | None, float | None] | None = None,
    change_points: Sequence[float] | None = None,
    lower_bound: tuple[np.ndarray, np.ndarray] | None = None,
    lower_bound_label: str = "Lai–Robbins bound",
    legend_handles: Sequence[Any] | None = None,
    title: str | None = None,
    caption: str | bool | None = None,
    facets: bool | None = None,
    max_points: int = 1000,
    style: str | Style = "paper",
    figsize: tuple[float, float] | None = None,
    ax=None,
    force_ramps: bool = False,
    colorbar: bool = True,
):
    """Mean of each curve over seeds with its confidence band, against time.

    Args:
      steps: ``(T,)`` time index of each value (or one array per curve label).
      curves: label -> ``(seeds, T)`` values (a ``(T,)`` array is one seed); NaN (diverged)
        values are left out of the mean.
      ylabel, xlabel: axis labels.
      log_x: log-time axis.
      log_y: log y-axis; None chooses it when the curves' levels (mean of their second
        half) span more than :data:`LOG_SPAN`.
      scale: multiply the values (100 for percentages).
      window: trailing moving-average window (in stored values) applied per seed.
      level: confidence level of the band.
      colors, linestyles: curve label -> colour / line style, overriding the defaults
        (agent ``i``: tab10 colour ``Ci``; a ramp: viridis; references in a ramp's panel
        dashed).
      groups: agent label -> its curve labels (default: every curve its own agent).
      sweep_values: curve label -> the swept value it was run at; an agent with more than
        :data:`RAMP_MIN` numeric values becomes a colour ramp with a colour bar.
      sweep_names: agent label -> the colour bar's label (the swept key).
      bounds: ``(low, high)`` range of the metric (after ``scale``; None for no bound):
        bands are clipped to it and the axis does not extend past it.
      change_points: x positions of known change points, dotted vertical lines.
      lower_bound: ``(steps, values)`` of a reference curve drawn as a black dashed line.
      lower_bound_label: its legend entry.
      legend_handles: the legend's entries instead of one per curve (change points and
        the lower bound are added).
      title: a title above the legend.
      caption: the caption line; None writes :func:`band_caption`, False none.
      facets: one panel per agent with several curves (None: when two agents or more
        have several curves); single-curve agents are drawn in every panel.
      max_points: curves are thinned to about this many points (in log-time when log_x).
      style: ``"paper"`` or ``"talk"``.
      figsize: inches of the data area (default from the style).
      ax: draw into these axes instead of a new figure (no facets, title or caption).
      force_ramps: draw every agent with several numeric swept values as a ramp (as the
        panels of facets do; for one panel of :func:`plot_curve_columns`).
      colorbar: draw the ramps' colour bars (False: another panel of the row has them).

    Returns:
      ``(fig, ax)``; with facets ``ax`` is the list of panels.
    """
    labels = list(curves)
    groups = {k: list(v) for k, v in (groups or {label: [label] for label in labels}).items()}
    grouped = {label for members in groups.values() for label in members}
    for label in labels:
        if label not in grouped:
            groups[label] = [label]
    groups = {k: [m for m in v if m in curves] for k, v in groups.items()}
    groups = {k: v for k, v in groups.items() if v}
    multi = [k for k, v in groups.items() if len(v) > 1]
    singles = [k for k, v in groups.items() if len(v) == 1]
    if facets is None:
        facets = len(multi) >= 2
    facets = bool(facets) and ax is None and len(multi) >= 1
    ramps = _ramp_groups(groups, sweep_values, forced=facets or force_ramps)
    owned = ax is None
    if facets:
        fig, panels = new_panels(len(multi), style=style, sharex=True, sharey=True)
        panel_groups = [[name, *singles] for name in multi]
    else:
        fig, ax, owned = _axes(ax, figsize, style)
        panels, panel_groups = [ax], [list(groups)]
    stats_of = {
        label: _curve_stats(
            _steps_of(steps, label), curves[label], scale, window, level, log_x, bounds, max_points
        )
        for label in labels
    }
    # colours: agent i -> Ci, its points shades of Ci, a ramp -> viridis
    palette = curve_colors(groups)
    ramp_cmaps = {}
    for name, (norm, values) in ramps.items():
        if facets or len(ramps) == 1:
            ramp_cmaps[name] = RAMP_CMAP
        else:  # several ramps in one panel: each in the shades of its agent's colour
            ramp_cmaps[name] = matplotlib.colormaps[_SHADES[list(groups).index(name) % 10]]
        for label, value in zip(groups[name], values):
            palette[label] = ramp_cmaps[name](norm(value))
    if colors:
        palette.update({k: v for k, v in colors.items() if k in palette})
    dashed = {label for name in singles for label in groups[name]} if ramps else set()
    styles = {label: "--" if label in dashed else "-" for label in labels}
    if linestyles:
        styles.update({k: v for k, v in linestyles.items() if k in styles})
    handles: list[Any] = []
    with _rc(fig):
        if log_y is None:
            log_y = auto_log([_level(c) for c in stats_of.values()])
        notes: list[str] = []
        if log_y:
            mirrored = False
            for label, c in stats_of.items():
                low, flag = _log_band_low(c)
                stats_of[label] = c._replace(low=low)
                mirrored |= flag
            if mirrored:
                notes.append("log axis: bands symmetric in log scale (lower edge mean²/upper)")
        cp_drawn = False
        for panel, names in zip(panels, panel_groups):
            # many overlapping bands fade, so the lines stay readable
            alpha = BAND_ALPHA * min(1.0, 4.0 / sum(len(groups[name]) for name in names))
            for name in names:
                for label in groups[name]:
                    c = stats_of[label]
                    color, ls = palette[label], styles[label]
                    panel.plot(c.x, c.mean, color=color, ls=ls, label=label)
                    panel.fill_between(
                        c.x, c.low, c.high, color=color, alpha=alpha, lw=0, label="_nolegend_"
                    )
                    if name not in ramps:
                        handles.append(Line2D([], [], color=color, ls=ls, label=label))
            if lower_bound is not None:
                bx, by = (np.asarray(a, dtype=np.float64) for a in lower_bound)
                idx = thin_index(len(bx), max_points, log=log_x)
                panel.plot(
                    bx[idx],
                    by[idx],
                    color="black",
                    ls="--",
                    lw=1.0,
                    label=lower_bound_label,
                    gid="lower_bound",
                )
            if facets:
                panel.set_title(names[0], loc="left", fontsize=_style_of(fig).rc["axes.titlesize"])
            for name in names:
                if name in ramps and colorbar:
                    norm, values = ramps[name]
                    dead = [v for m, v in zip(groups[name], values) if stats_of[m].seeds == 0]
                    _colorbar(
                        fig,
                        panel,
                        name,
                        groups[name],
                        norm,
                        values,
                        facets,
                        sweep_names,
                        ramp_cmaps[name],
                        dead,
                    )
                    if dead:
                        notes.append("× on a colour bar: every seed diverged at that value")
        if lower_bound is not None:
            handles.append(Line2D([], [], color="black", ls="--", lw=1.0, label=lower_bound_label))
        whole = all(np.all(np.mod(c.x, 1) == 0) for c in stats_of.values())
        for panel in panels:
            if log_x:
                panel.set_xscale("log")
            elif whole:  # steps are whole numbers
                panel.xaxis.set_major_locator(
                    MaxNLocator("auto", steps=[1, 2, 2.5, 5, 10], integer=True)
                )
            if log_y:
                panel.set_yscale("log")
        if change_points is not None and len(change_points):
            xmin = min(float(np.nanmin(c.x)) for c in stats_of.values())
            xmax = max(float(np.nanmax(c.x)) for c in stats_of.values())
            inside = [float(t) for t in change_points if xmin <= t <= xmax]
            if 0 < len(inside) <= MAX_CHANGE_LINES:
                for panel in panels:
                    for t in inside:
                        panel.axvline(
                            t, color="0.35", ls=":", lw=0.8, zorder=0.5, gid="change_point"
                        )
                cp_drawn = True
        if cp_drawn:
            handles.append(Line2D([], [], color="0.35", ls=":", lw=0.8, label="change point"))
        _set_ylim(panels, stats_of, log_y, bounds)
        for panel in panels:
            if not facets or _bottom(panel):
                panel.set_xlabel(xlabel)
            if not facets or _left(panel):
                panel.set_ylabel(ylabel)
        if legend_handles is not None:
            extra = [h for h in handles if h.get_label() in ("change point", lower_bound_label)]
            handles = list(legend_handles) + extra
        handles = _unique(handles)
        if owned:
            if caption is None:
                caption = band_caption(
                    [c.seeds for c in stats_of.values()],
                    level,
                    f"trailing mean over {window} values" if window > 1 else "",
                )
            if caption:
                caption = "; ".join([caption, *dict.fromkeys(notes)])
            finish(fig, handles, title=title, caption=caption or None)
        else:
            ax.legend_ = None
            _legend_from(ax, handles)
    return fig, (panels if facets else panels[0])


def _bottom(ax) -> bool:
    spec = ax.get_subplotspec()
    if spec is None:
        return True
    grid = spec.get_gridspec()
    below = [
        other
        for other in ax.figure.axes
        if other is not ax
        and other.get_subplotspec() is not None
        and other.get_subplotspec().get_gridspec() is grid
        and other.get_subplotspec().colspan.start == spec.colspan.start
        and other.get_subplotspec().rowspan.start > spec.rowspan.start
    ]
    return not below


def _left(ax) -> bool:
    spec = ax.get_subplotspec()
    return spec is None or spec.colspan.start == 0


def _unique(handles: Sequence[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for h in handles:
        label = h.get_label()
        if label.startswith("_") or label in seen:
            continue
        seen.add(label)
        out.append(h)
    return out


def _log_band_low(c: _Curve) -> tuple[np.ndarray, bool]:
    """On a log axis the band is drawn symmetric in log scale: its lower edge is the
    mirror of the upper one, ``mean² / high`` (never below ``mean - (high - mean)``, the
    interval's own lower end), so a lower end near 0 does not run decades off the axis."""
    ok = (c.mean > 0) & (c.high > c.mean)
    if not ok.any():
        return c.low, False
    with np.errstate(divide="ignore", invalid="ignore"):
        mirror = np.square(c.mean) / c.high
    return np.where(ok, mirror, c.low), True


def tick_labels(values: Sequence[float]) -> list[str]:
    """The shortest ``%g`` labels (3 to 6 significant digits) that write every value
    exactly (``0.9975``, not ``0.998``)."""
    for digits in range(3, 7):
        labels = [f"{float(v):.{digits}g}" for v in values]
        if all(math.isclose(float(t), float(v), rel_tol=1e-9) for t, v in zip(labels, values)):
            return labels
    return [f"{float(v):.6g}" for v in values]


def distinct_values(values: Sequence[float]) -> np.ndarray:
    """Sorted distinct values, equal up to 10 significant digits counted once
    (``1/(1 - 0.96)`` and ``25``)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    rounded = np.array([float(f"{v:.10g}") for v in arr])
    return np.unique(rounded)


def _colorbar(fig, ax, name, labels, norm, values, facets, sweep_names, cmap, dead=()) -> None:
    """The colour bar of a ramp next to ``ax``: ticks at the swept values (at most 7,
    else the norm's own), labelled with the swept key (and the agent unless in facets);
    an ``×`` at each value where every seed diverged (``dead``)."""
    key = (sweep_names or {}).get(name, "")
    numeric = is_numeric(values) and not (len(values) and values == list(range(len(values))))
    if not numeric and not key:
        key = "point"
    label = key if facets else (f"{name}: {key}" if key else name)
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, pad=0.02, aspect=18, fraction=0.06)
    bar.set_label(label)
    bar.ax.set_gid(f"colorbar:{name}")
    bar.outline.set_linewidth(0.4)
    distinct = sorted(set(values))
    if not numeric:
        names = [_point_text(label_, name) for label_ in labels]
        step = max(1, math.ceil(len(names) / 7))
        bar.set_ticks(list(range(0, len(names), step)), labels=names[::step])
    elif len(distinct) <= 7 or isinstance(norm, FuncNorm):
        shown = distinct if len(distinct) <= 7 else distinct[:: math.ceil(len(distinct) / 7)]
        length = ax.get_position().height * fig.get_size_inches()[1]
        size = 1.15 * float(_style_of(fig).rc["ytick.labelsize"]) / 72.0
        shown = _spread_ticks(shown, norm, length, size)
        bar.set_ticks(shown, labels=tick_labels(shown))
        bar.ax.minorticks_off()
    if dead:
        across = blended_transform_factory(bar.ax.transAxes, bar.ax.transData)
        bar.ax.plot(
            [0.5] * len(dead),
            list(dead),
            ls="none",
            marker="x",
            color="C3",
            markersize=4,
            markeredgewidth=1.2,
            transform=across,
            clip_on=False,
            gid=f"diverged:{name}",
        )


def _spread_ticks(values: Sequence[float], norm: Normalize, length: float, size: float) -> list:
    """The sorted ``values`` whose labels do not overlap on a colour bar ``length`` inches
    long (labels ``size`` inches tall): both ends kept, a value too close to the one kept
    before it left out (``0, 0.02, 0.05, 0.2`` on a linear bar: ``0, 0.2``)."""
    values = list(values)
    if len(values) <= 2:
        return values
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = [float(norm(v)) * length for v in values]
    if not all(math.isfinite(p) for p in pos):
        return values
    keep = [0]
    for i in range(1, len(values) - 1):
        if pos[i] - pos[keep[-1]] >= size:
            keep.append(i)
    last = len(values) - 1
    while len(keep) > 1 and pos[last] - pos[keep[-1]] < size:
        keep.pop()
    return [values[i] for i in keep] + [values[last]]


def _point_text(label: str, name: str) -> str:
    inner = label[len(name) :].strip()
    return inner[1:-1] if inner.startswith("(") and inner.endswith(")") else inner or label


def _set_ylim(panels, stats_of, log_y, bounds) -> None:
    panel = panels[0]
    means = [c.mean[np.isfinite(c.mean)] for c in stats_of.values()]
    means = np.concatenate(means) if means else np.zeros(0)
    if log_y:
        positive = means[means > 0]
        highs = [c.high[np.isfinite(c.high)] for c in stats_of.values()]
        highs = np.concatenate(highs) if highs else np.zeros(0)
        if positive.size:
            top = max(float(positive.max()), float(highs.max()) if highs.size else 0.0)
            panel.set_ylim(float(positive.min()) / 1.5, top * 1.5)
        return
    panel.autoscale_view()
    low, high = panel.get_ylim()
    if bounds is not None:
        if bounds[0] is not None and low < bounds[0]:
            low = bounds[0]
        if bounds[1] is not None and high > bounds[1]:
            high = bounds[1]
        if high > low:
            panel.set_ylim(low, high)


def plot_regret(
    steps: np.ndarray | Mapping[str, np.ndarray],
    curves: Curves,
    log_x: bool = False,
    lower_bound: tuple[np.ndarray, np.ndarray] | None = None,
    ylabel: str = "Cumulative regret",
    **kwargs: Any,
):
    """Mean cumulative regret per curve with a 95% band over seeds (bands kept >= 0).

    Args:
      steps: ``(T,)`` time index (1-based count of steps done) of each stored value.
      curves: label -> ``(seeds, T)`` cumulative regret.
      log_x: log-time axis (regret of a good bandit algorithm is then a straight line).
      lower_bound: ``(steps, values)``, e.g. the Lai–Robbins bound
        ``experiments.stats.lai_robbins_curve(means, steps)``.
      ylabel: y-axis label.
      **kwargs: passed to :func:`plot_curves` (``groups``, ``change_points``, ``ax``, ...).

    Returns:
      ``(fig, ax)``.

    Example::

        fig, ax = plot_regret(steps, {"ucb": np.cumsum(regret, -1)}, log_x=True)
    """
    kwargs.setdefault("bounds", (0.0, None))
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
      **kwargs: passed to :func:`plot_curves` (``window`` to smooth, ``groups``, ...).

    Returns:
      ``(fig, ax)`` with the y-axis in percent, from 0 to 100.

    Example::

        fig, ax = plot_optimal(steps, {"ε=0.1": optimal})   # Sutton & Barto (2018), Fig. 2.2
    """
    kwargs.setdefault("bounds", (0.0, 100.0))
    kwargs["log_y"] = False
    fig, ax = plot_curves(steps, curves, ylabel=ylabel, scale=100.0, **kwargs)
    (ax[0] if isinstance(ax, list) else ax).set_ylim(0, 100)
    return fig, ax


def plot_curve_columns(
    steps: np.ndarray | Mapping[str, np.ndarray],
    columns: Sequence[tuple[str, Curves]],
    *,
    xlabel: str = "Step",
    log_y: bool | None = False,
    window: int = 1,
    level: float = 0.95,
    groups: Mapping[str, Sequence[str]] | None = None,
    sweep_values: Mapping[str, Any] | None = None,
    sweep_names: Mapping[str, str] | None = None,
    bounds: Sequence[tuple[float | None, float | None] | None] | None = None,
    change_points: Sequence[float] | None = None,
    title: str | None = None,
    caption: str | None = None,
    facets: bool | None = None,
    style: str | Style = "paper",
):
    """Several metrics of the same curves side by side: one column of panels per metric.

    Each panel is drawn as :func:`plot_curves` draws one (mean over seeds, band, an agent's
    points shades of its colour or a colour ramp), with the same colour for a curve in
    every panel.  When two agents or more have several curves, each gets a row (its ramp,
    with the single-curve agents dashed as references, as in :func:`plot_curves`' facets);
    a column's panels share their y-range.  One legend above and one caption below.

    Args:
      steps: ``(T,)`` time index (or one array per curve label).
      columns: ``(y label, curves)`` per column; ``curves`` as in :func:`plot_curves`
        (label -> ``(seeds, T)``), the same labels in every column.
      xlabel: x-axis label of the bottom row.
      log_y: log y-axis (one value for every column, or one per column).
      window, level, groups, sweep_values, sweep_names, change_points: as in
        :func:`plot_curves`.
      bounds: each column's metric range (or None).
      title, caption: above and below the panels.
      facets: one row per agent with several curves (None: when two or more have them).
      style: ``"paper"`` or ``"talk"``.

    Returns:
      ``(fig, rows)``: ``rows[r][c]`` the panel of row ``r``, column ``c``.

    Example::

        fig, rows = plot_curve_columns(steps, [("User drift", drift), ("Homogeneity", hom)])
    """
    columns = [(ylabel, dict(curves)) for ylabel, curves in columns]
    if not columns:
        raise ConfigError("plot_curve_columns: no columns to draw")
    labels = list(dict.fromkeys(label for _, curves in columns for label in curves))
    groups = {k: [m for m in v if m in labels] for k, v in (groups or {}).items()}
    grouped = {m for members in groups.values() for m in members}
    groups.update({label: [label] for label in labels if label not in grouped})
    groups = {k: v for k, v in groups.items() if v}
    multi = [k for k, v in groups.items() if len(v) > 1]
    singles = [k for k, v in groups.items() if len(v) == 1]
    facets = len(multi) >= 2 if facets is None else bool(facets) and len(multi) >= 1
    rows = [[name, *singles] for name in multi] if facets else [list(groups)]
    ramped = _ramp_groups(groups, sweep_values, forced=facets)
    palette = curve_colors(groups)  # a curve's colour in every panel (ramps: their own)
    fixed = {
        m: palette[m] for name, members in groups.items() if name not in ramped for m in members
    }
    ncols = len(columns)
    log_ys = list(log_y) if isinstance(log_y, (list, tuple)) else [log_y] * ncols
    bounds = list(bounds) if bounds is not None else [None] * ncols
    fig, axes = new_panels(len(rows) * ncols, style=style, sharex=True, sharey=False, ncols=ncols)
    grid = [axes[r * ncols : (r + 1) * ncols] for r in range(len(rows))]
    handles: list[Any] = []
    with _rc(fig):
        for r, names in enumerate(rows):
            for c, (ylabel, curves) in enumerate(columns):
                ax = grid[r][c]
                members = {n: [m for m in groups[n] if m in curves] for n in names}
                row_curves = {m: curves[m] for ms in members.values() for m in ms}
                if not row_curves:
                    ax.set_visible(False)
                    continue
                plot_curves(
                    steps,
                    row_curves,
                    ylabel=ylabel,
                    xlabel=xlabel if r == len(rows) - 1 else "",
                    log_y=log_ys[c],
                    window=window,
                    level=level,
                    colors=fixed,
                    groups=members,
                    sweep_values=sweep_values,
                    sweep_names=sweep_names,
                    bounds=bounds[c],
                    change_points=change_points,
                    force_ramps=facets,
                    colorbar=c == ncols - 1,
                    style=style,
                    ax=ax,
                )
                legend = ax.get_legend()
                if legend is not None:
                    handles.extend(legend.legend_handles)
                    for handle, text in zip(legend.legend_handles, legend.get_texts()):
                        handle.set_label(text.get_text())
                    legend.remove()
                if facets and c == 0:
                    ax.set_title(names[0], loc="left", fontsize=_style_of(fig).rc["axes.titlesize"])
        for c in range(ncols):  # one y-range per metric
            shown = [row[c] for row in grid if row[c].get_visible()]
            if len(shown) > 1 and shown[0].get_yscale() == "linear":
                low = min(ax.get_ylim()[0] for ax in shown)
                high = max(ax.get_ylim()[1] for ax in shown)
                for ax in shown:
                    ax.set_ylim(low, high)
    finish(fig, _unique(handles), title=title, caption=caption)
    return fig, grid


# ---------------------------------------------------------------------------------------
# Clicks by position (ranked slates)
# ---------------------------------------------------------------------------------------


def plot_position_ctr(
    panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]],
    ylabel: str = "Click-through rate",
    title: str | None = None,
    caption: str | None = None,
    style: str | Style = "paper",
):
    """Click-through rate at each slate position: grouped bars (one colour per agent) with
    their confidence intervals, one panel per point of a sweep.

    Args:
      panels: panel title (a point, or ``""``) -> agent label -> ``(mean, low, high)``,
        each ``(k,)`` over positions 1..k.
      ylabel: y-axis label.
      title, caption: above and below the panels.
      style: ``"paper"`` or ``"talk"``.

    Returns:
      ``(fig, axes)``.

    Example::

        fig, ax = plot_position_ctr({"": {"pbm-ucb": (mean, low, high)}})
    """
    names = list(panels)
    fig, axes = new_panels(len(names), style=style, sharey=True)
    labels = list(dict.fromkeys(label for panel in panels.values() for label in panel))
    colors = curve_colors({label: [label] for label in labels})
    handles = {}
    with matplotlib.rc_context(_style_of(fig).rc):
        for ax, name in zip(axes, names):
            bars = panels[name]
            width = 0.8 / max(len(bars), 1)
            for i, label in enumerate(labels):
                if label not in bars:
                    continue
                mean, low, high = (np.asarray(v, float) for v in bars[label])
                x = np.arange(1, len(mean) + 1) + (i - (len(labels) - 1) / 2) * width
                err = np.vstack([mean - low, high - mean])
                err = np.where(np.isfinite(err), np.maximum(err, 0.0), 0.0)
                handles[label] = ax.bar(
                    x, mean, width, yerr=err, color=colors[label], label=label,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "0.25"},
                )  # fmt: skip
            k = max(len(np.asarray(v[0])) for v in bars.values()) if bars else 1
            ax.set_xticks(np.arange(1, k + 1))
            ax.set_ylim(bottom=0.0)
            if name:
                ax.set_title(name, fontsize=_style_of(fig).rc["axes.titlesize"])
            if _bottom(ax):
                ax.set_xlabel("Position")
            if _left(ax):
                ax.set_ylabel(ylabel)
    finish(
        fig, [handles[label] for label in labels if label in handles], title=title, caption=caption
    )
    return fig, axes


# ---------------------------------------------------------------------------------------
# Two final metrics against each other across a sweep
# ---------------------------------------------------------------------------------------


class ScatterSeries(NamedTuple):
    """The points of one agent in :func:`plot_interval_scatter`.

    Attributes:
      x, y: ``(mean, low, high)``, each ``(n,)``: the points and their intervals on each
        axis (NaN: a point not drawn).
      texts: ``n`` labels written next to the points (``"ε=0.1"``); empty for none.
      paths: lists of point indices joined by a line, in order (None: every point, in
        order; ``[]``: none).
    """

    x: tuple[Any, Any, Any]
    y: tuple[Any, Any, Any]
    texts: Sequence[str] = ()
    paths: Sequence[Sequence[int]] | None = None


#: Where a point's label may go, tried in order: (dx, dy) in points, ha, va.
_LABEL_SPOTS = (
    (4, 3, "left", "bottom"),
    (4, -3, "left", "top"),
    (-4, 3, "right", "bottom"),
    (-4, -3, "right", "top"),
    (0, 6, "center", "bottom"),
    (0, -6, "center", "top"),
    (7, 0, "left", "center"),
    (-7, 0, "right", "center"),
)


def _place_labels(fig, ax, labels, points) -> int:
    """Write each ``(x, y, text, colour)`` next to its point where it meets no other label,
    no marker (``points``: every ``(x, y)`` drawn) and stays inside the axes (the first of
    :data:`_LABEL_SPOTS` that fits); a label that fits nowhere is left out.  Returns how
    many were left out."""
    if not labels:
        return 0
    size = max(MIN_FONT_PT, float(_style_of(fig).rc["legend.fontsize"]))
    fig.draw_without_rendering()  # lay out: the data-to-pixel transform as it will be
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    radius = (float(matplotlib.rcParams["lines.markersize"]) / 2 + 1.5) * fig.dpi / 72.0
    markers = [ax.transData.transform(point) for point in points]
    taken = [
        Bbox.from_extents(px - radius, py - radius, px + radius, py + radius) for px, py in markers
    ]
    left_out = 0
    for x, y, text, color in labels:
        artist = ax.annotate(
            text,
            (x, y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=size,
            color=color,
            annotation_clip=False,
            gid="point_label",
            zorder=3,  # over the error bars and joins, on a light ground that keeps them seen
            bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.6},
        )
        artist.set_in_layout(False)
        for dx, dy, ha, va in _LABEL_SPOTS:
            artist.set_position((dx, dy))
            artist.set_ha(ha)
            artist.set_va(va)
            box = artist.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
            inside = inside and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                break
        else:
            artist.remove()
            left_out += 1
    return left_out


def _error_bars(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``(2, n)`` distances below and above each mean (0 where the interval is unknown)."""
    bars = np.vstack([mean - low, high - mean])
    return np.where(np.isfinite(bars), np.maximum(bars, 0.0), 0.0)


def plot_interval_scatter(
    series: Mapping[str, ScatterSeries],
    *,
    xlabel: str,
    ylabel: str,
    colors: Mapping[str, Any] | None = None,
    title: str | None = None,
    caption: str | None = None,
    style: str | Style = "paper",
    figsize: tuple[float, float] | None = None,
    ax=None,
):
    """One final metric against another: a marker per point with its interval on both
    axes (error bars), an agent's points joined in sweep order and labelled with their
    swept value (Chaney et al. 2018's utility against homogeneity).

    Labels are placed where they cover no other label or marker (a label that fits
    nowhere is left out, and the caption says how many).

    Args:
      series: agent label -> :class:`ScatterSeries`.
      xlabel, ylabel: axis labels.
      colors: agent label -> colour (default: agent ``i`` tab10 ``Ci``).
      title, caption: above and below the axes (new figure only).
      style: ``"paper"`` or ``"talk"``.
      figsize: inches of the data area.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``; the point labels are annotations with ``gid`` ``"point_label"``.

    Example::

        fig, ax = plot_interval_scatter(
            {"eps": ScatterSeries((hx, hx_lo, hx_hi), (u, u_lo, u_hi), ["ε=0", "ε=0.1"])},
            xlabel="Homogeneity", ylabel="Utility")
    """
    fig, ax, owned = _axes(ax, figsize, style)
    palette = curve_colors({label: [label] for label in series})
    if colors:
        palette.update({k: v for k, v in colors.items() if k in palette})
    handles: list[Any] = []
    labels: list[tuple[float, float, str, Any]] = []
    points: list[tuple[float, float]] = []
    with _rc(fig):
        for label, s in series.items():
            xm, xl, xh = (np.atleast_1d(np.asarray(v, np.float64)) for v in s.x)
            ym, yl, yh = (np.atleast_1d(np.asarray(v, np.float64)) for v in s.y)
            ok = np.isfinite(xm) & np.isfinite(ym)
            color = palette[label]
            paths = [list(range(len(xm)))] if s.paths is None else [list(p) for p in s.paths]
            joined = False
            for path in paths:
                index = [i for i in path if ok[i]]
                if len(index) > 1:
                    ax.plot(xm[index], ym[index], color=color, lw=0.8, alpha=0.8, zorder=1.5)
                    joined = True
            if ok.any():
                ax.errorbar(
                    xm[ok],
                    ym[ok],
                    xerr=_error_bars(xm, xl, xh)[:, ok],
                    yerr=_error_bars(ym, yl, yh)[:, ok],
                    fmt="o",
                    color=color,
                    elinewidth=0.6,
                    capsize=1.5,
                    capthick=0.6,
                    zorder=2,
                    gid=f"points:{label}",
                )
            handles.append(
                Line2D([], [], color=color, marker="o", ls="-" if joined else "none", label=label)
            )
            for i in np.nonzero(ok)[0]:
                points.append((float(xm[i]), float(ym[i])))
                if i < len(s.texts) and s.texts[i]:
                    labels.append((float(xm[i]), float(ym[i]), s.texts[i], color))
        ax.margins(0.08)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.driftsim_panels = [ax] if owned else getattr(fig, "driftsim_panels", [ax])
        tidy_numbers(ax)
        left_out = _place_labels(fig, ax, labels, points)
        if left_out:
            note = f"{left_out} of {len(labels)} point labels left out (no room)"
            caption = f"{caption}; {note}" if caption else note
        if owned:
            finish(fig, handles, title=title, caption=caption)
        else:
            _legend_from(ax, handles)
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
    log_y: bool | None = False,
    level: float = 0.95,
    colors: Mapping[str, Any] | None = None,
    bounds: tuple[float | None, float | None] | None = None,
    x_scale: str | None = None,
    top_axis: tuple[Any, ...] | None = None,
    legend: bool = True,
    title: str | None = None,
    caption: str | bool | None = None,
    style: str | Style = "paper",
    figsize: tuple[float, float] | None = None,
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
        label (empty for a horizontal reference line); numbers or names (categorical axis).
      finals: label -> ``(points, seeds)`` final values (e.g. final cumulative regret).
      diverged: label -> ``(points, seeds)`` bool, True where a run diverged.
      xlabel, ylabel: axis labels.
      log_x: log x-axis for numbers (symlog if some are <= 0); ``x_scale`` overrides.
      log_y: log y-axis; None chooses it when the means span more than :data:`LOG_SPAN`.
      level: confidence level of the band.
      colors: label -> colour.
      bounds: ``(low, high)`` range of the metric; bands are clipped to it.
      x_scale: ``"log"``, ``"symlog"``, ``"linear"`` or None (from ``log_x``).
      top_axis: ``(label, forward, inverse[, ticks])``: a second x-axis on top, in other
        units (e.g. the discount γ of an effective-memory axis), ticks in its units.
      legend: add the legend (for a new figure: above the axes, outside them).
      title, caption: for a new figure, above and below it (caption None: the seeds and
        the band; False: none).
      style: ``"paper"`` or ``"talk"``.
      figsize: inches.
      ax: draw into these axes instead of a new figure.

    Returns:
      ``(fig, ax)``.  The diverged markers are ``Line2D`` artists with ``gid`` equal to
      ``"diverged:" + label``.

    Example::

        fig, ax = plot_sensitivity(lrs, {"ogd": final}, {"ogd": final_diverged},
                                   xlabel="learning rate")
    """
    fig, ax, owned = _axes(ax, figsize, style)
    palette = curve_colors({label: [label] for label in finals})
    if colors:
        palette.update({k: v for k, v in colors.items() if k in palette})
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
    seeds: list[int] = []
    levels: list[float] = []
    with _rc(fig):
        for label, final in finals.items():
            final = np.asarray(final, dtype=np.float64)
            if final.ndim == 1:
                final = final[:, None]
            bad = ~np.isfinite(final)
            if diverged is not None and label in diverged:
                bad |= np.broadcast_to(np.asarray(diverged[label], dtype=bool), final.shape)
            point_bad = bad.any(axis=1)
            seeds.append(final.shape[1])
            ci = mean_ci(np.where(bad, np.nan, final), axis=1, level=level)
            mean = np.where(point_bad, np.nan, ci.mean)
            low = np.where(point_bad, np.nan, ci.low)
            high = np.where(point_bad, np.nan, ci.high)
            if bounds is not None:
                lo = -np.inf if bounds[0] is None else bounds[0]
                hi = np.inf if bounds[1] is None else bounds[1]
                low, high = np.clip(low, lo, hi), np.clip(high, lo, hi)
            levels.extend(mean[np.isfinite(mean)].tolist())
            color = palette[label]
            xs = xs_of[label]
            if final.shape[0] == 1 and len(xs) != 1:  # no swept value: a reference level
                if point_bad[0]:
                    ax.plot([], [], color=color, ls=":", label=f"{label} (diverged)")
                    continue
                ax.axhline(mean[0], color=color, ls=":", label=label)
                if np.isfinite(low[0]):
                    ax.axhspan(low[0], high[0], color=color, alpha=0.6 * BAND_ALPHA, lw=0)
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
        if x_scale is None:
            x_scale = "log" if log_x else "linear"
        if numeric and all_values:
            arr = np.asarray(all_values, dtype=np.float64)
            if x_scale == "log" and np.all(arr > 0):
                ax.set_xscale("log")
            elif x_scale in ("log", "symlog"):
                positive = np.abs(arr[arr != 0])
                ax.set_xscale("symlog", linthresh=float(positive.min()) if positive.size else 1.0)
            _pad_xlim(ax, arr.min(), arr.max())
            distinct = distinct_values(arr)
            if distinct.size <= 8 and ax.get_xscale() != "linear":
                ax.set_xticks(distinct, tick_labels(distinct))
                ax.xaxis.set_minor_formatter(NullFormatter())
            if top_axis is not None:
                name, forward, inverse = top_axis[:3]
                second = ax.secondary_xaxis("top", functions=(forward, inverse))
                second.set_xlabel(name)
                if len(top_axis) > 3 and len(top_axis[3]):
                    second.set_xticks(list(top_axis[3]), tick_labels(top_axis[3]))
                second.xaxis.set_minor_formatter(NullFormatter())
        if not numeric:
            ax.set_xticks(range(len(categories)), [format_value(c) for c in categories])
            if len(categories) > 4:
                ax.tick_params(axis="x", labelrotation=30)
        if log_y is None:
            log_y = auto_log(levels)
        if log_y:
            ax.set_yscale("log")
        elif bounds is not None:
            ax.autoscale_view()
            low_lim, high_lim = ax.get_ylim()
            if bounds[0] is not None and low_lim < bounds[0]:
                ax.set_ylim(bottom=bounds[0])
            if bounds[1] is not None and high_lim > bounds[1]:
                ax.set_ylim(top=bounds[1])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        extra = [_diverged_handle()] if any_diverged else []
        if legend and owned:
            handles, _ = ax.get_legend_handles_labels()
            if caption is None:
                caption = band_caption(seeds, level)
            fig.driftsim_panels = [ax]
            finish(fig, _unique(list(handles) + extra), title=title, caption=caption or None)
        elif legend:
            _legend(ax, extra)
        elif owned:
            finish(fig, title=title, caption=caption or None)
    return fig, ax


def _diverged_handle() -> Line2D:
    return Line2D([], [], ls="none", marker="x", color="0.2", markeredgewidth=1.5, label="diverged")


def legend_entries(axes: Sequence[Any]) -> list[Any]:
    """The legend handles of several panels, each label once (a ``diverged`` entry when
    any panel marks a diverged point)."""
    handles: list[Any] = []
    diverged = False
    for ax in axes:
        h, _ = ax.get_legend_handles_labels()
        handles.extend(h)
        diverged |= any(str(line.get_gid()).startswith("diverged:") for line in ax.get_lines())
    if diverged:
        handles.append(_diverged_handle())
    return _unique(handles)


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
    title: str | None = None,
    caption: str | None = None,
    style: str | Style = "paper",
    figsize: tuple[float, float] | None = None,
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
      title, caption: for a new figure, above and below it.
      style: ``"paper"`` or ``"talk"``.
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
    fig, ax, owned = _axes(ax, figsize, style)
    with _rc(fig):
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
        size = max(MIN_FONT_PT, float(_style_of(fig).rc["legend.fontsize"]))
        for j in range(ny):
            for i in range(nx):
                if bad[j, i]:
                    ax.text(i, j, "×", ha="center", va="center", color="0.2", gid="diverged")
                elif annotate:
                    color = "white" if z[j, i] < middle else "black"
                    ax.text(
                        i, j, f"{z[j, i]:.3g}", ha="center", va="center", fontsize=size, color=color
                    )
        if owned and (title or caption):
            finish(fig, title=title, caption=caption)
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
    style: str | Style = "paper",
    figsize: tuple[float, float] | None = None,
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
      style: ``"paper"`` or ``"talk"``.
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
    fig, ax, owned = _axes(ax, figsize, style)
    with _rc(fig):
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
        if owned:
            handles, _ = ax.get_legend_handles_labels()
            finish(fig, list(handles) + extra)
        else:
            _legend(ax, extra)
    return fig, ax


__all__ = [
    "COLUMN_WIDTH",
    "FIGSIZE",
    "LOG_SPAN",
    "MAX_LEGEND_CURVES",
    "DISPLAY_DPI",
    "MIN_FONT_PT",
    "PAPER_RC",
    "RAMP_MIN",
    "STYLES",
    "TALK_RC",
    "NotebookFigure",
    "Style",
    "auto_log",
    "band_caption",
    "curve_colors",
    "effective_memory",
    "finish",
    "figure_png",
    "format_value",
    "get_style",
    "is_numeric",
    "legend_entries",
    "new_figure",
    "new_panels",
    "plot_curves",
    "plot_drift",
    "plot_heatmap",
    "plot_optimal",
    "plot_regret",
    "plot_sensitivity",
    "ramp_norm",
    "show",
    "smooth",
    "thin_index",
    "tidy_numbers",
    "value_scale",
]
