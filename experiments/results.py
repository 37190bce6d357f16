"""Results in memory and on disk (a public, stable API).

A results folder holds:

- ``config.json``: the resolved experiment (reruns as it is), ``format_version``, package
  versions, git revision, which steps each stored value stands for, ``"complete": true``;
- ``metrics.npz``: arrays named ``LABEL/METRIC`` with axes (point, seed, step) -- for
  logged-data experiments (``kind = "replay"`` / ``"ope"``) per-run values with axes
  (point, seed) or (point, seed, estimator), named in ``config["metric_axes"]`` -- and
  ``LABEL/diverged`` and ``LABEL/invalid_actions`` (point, seed), ``LABEL/final:NAME``
  per-run values at the horizon (``final:lorenz``, (point, seed, 101): the exposure
  Lorenz curve, where ``exposure_gini`` was logged), plus ``steps``; loads without pickle;
- ``summary.csv``: one row per agent and point (logged data: the experiment's table);
- ``paired.csv`` (online runs of two agents or more): per agent and point, the paired difference of final
  regret against the baseline agent (``config["baseline"]``, by default the first agent),
  seed by seed, with its interval (:func:`experiments.stats.paired_rows`);
- figures (PNG and PDF).

Every file is written to a temporary name and renamed into place; ``config.json`` is written
last, so a folder without it (or without ``"complete": true``) is an interrupted run and
:func:`load` refuses it.

Example::

    results = experiments.load("results/testbed")
    results.agents                  # ["greedy", "eps-0.01", ...]
    r = results["greedy"]
    r.reward.shape                  # (points, seeds, steps)
    r.cumulative_regret().mean(1)   # (points, steps)
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from experiments import atomic
from simulator.params import ConfigError

FORMAT_VERSION = 1
AXES = ("point", "seed", "step")
#: Prefix of the per-run values at the horizon in ``metrics.npz`` (``LABEL/final:lorenz``).
FINAL = "final:"


class AgentResults:
    """The metrics of one agent label: arrays of shape (points, seeds, steps).

    Attributes:
      label: the agent label.
      metrics: ``{name: array}``; each is also an attribute (``reward``, ``regret``,
        ``optimal``, and environment-specific ones such as ``loss``).
      diverged: bool (points, seeds): runs that produced NaN/inf; their metrics are NaN.
      invalid_actions: int32 (points, seeds): actions outside the environment's action
        space per run (such runs' metrics are NaN too); zeros when none.
      points: one dict per point, keys the swept fields (``agent.epsilon``, ``env.noise``).
      grid: for grid sweeps, ``{key: values}`` (points are the row-major product).
      steps: ``(num_recorded,)`` the number of steps done at each stored value.
      record_every: each stored value is the mean over this many consecutive steps.
      axes: ``{name: axis names}``: ``("point", "seed", "step")`` for online metrics; a
        logged-data experiment's per-run values have ``("point", "seed")`` or ``("point",
        "seed", "estimator")`` (see :mod:`experiments.offpolicy.experiment`).
      finals: ``{name: (points, seeds, ...)}`` per-run values at the horizon: ``lorenz``
        (the exposure Lorenz curve at shares 0, 0.01, ..., 1 of the items, least exposed
        first; :func:`experiments.feedback_metrics.lorenz_curve`) where ``exposure_gini``
        was logged; NaN for runs left out.
    """

    def __init__(
        self,
        label,
        metrics,
        diverged,
        points,
        grid,
        steps,
        record_every,
        invalid_actions=None,
        axes=None,
        finals=None,
    ):
        self.label = label
        self.finals = dict(finals or {})
        self.metrics = dict(metrics)
        self.axes = {name: tuple((axes or {}).get(name, AXES)) for name in self.metrics}
        self.diverged = diverged
        if invalid_actions is None:
            invalid_actions = np.zeros(np.shape(diverged), np.int32)
        self.invalid_actions = np.asarray(invalid_actions, np.int32)
        self.points = points
        self.grid = grid
        self.steps = steps
        self.record_every = record_every

    def __getattr__(self, name: str) -> np.ndarray:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(
            f"{self.__dict__.get('label')!r} has no metric {name!r}; has {sorted(metrics)}"
        )

    def cumulative_regret(self) -> np.ndarray:
        """Cumulative pseudo-regret at each stored step, (points, seeds, steps)."""
        return np.cumsum(self.regret, axis=-1, dtype=np.float64) * self.record_every

    def __repr__(self) -> str:
        shape = next(iter(self.metrics.values())).shape if self.metrics else ()
        return f"AgentResults({self.label!r}, metrics={sorted(self.metrics)}, shape={shape})"


class Results:
    """All agents' results and the resolved experiment (``experiments.run`` / ``load``).

    Attributes:
      config: the resolved experiment as a dict (plus versions, revision).
      agents: the agent labels, in experiment order.
      steps: ``(num_recorded,)`` the number of steps done at each stored value.
      record_every: the block length each stored value averages.
      summary: the rows of ``summary.csv`` (list of dicts), computed on first use and
        kept: its bootstrap intervals cost about a second at 65,536 seeds, which a sweep
        read only for its curves need not pay.
      path: the results folder, when saved or loaded.
    """

    def __init__(
        self, config: dict, agent_results: dict[str, AgentResults], path: Path | None = None
    ):
        self.config = config
        self._agents = agent_results
        self.path = path
        first = next(iter(agent_results.values()))
        self.steps = first.steps
        self.record_every = first.record_every

    @functools.cached_property
    def summary(self) -> list[dict[str, Any]]:
        """The rows of ``summary.csv`` (:func:`summary_rows`), computed once."""
        return summary_rows(self)

    @property
    def agents(self) -> list[str]:
        return list(self._agents)

    @property
    def kind(self) -> str:
        """``"simulate"`` (online runs), ``"replay"`` or ``"ope"`` (logged data)."""
        return self.config.get("kind", "simulate")

    def __getitem__(self, label: str) -> AgentResults:
        if label not in self._agents:
            raise KeyError(f"no agent {label!r}; agents: {', '.join(self._agents)}")
        return self._agents[label]

    def __iter__(self):
        return iter(self._agents.values())

    def paired(self, baseline: str | None = None, metric: str = "final_regret") -> list[dict]:
        """Rows of paired differences ``agent - baseline`` (default: the stored baseline)."""
        from experiments import stats

        baseline = baseline or self.config.get("baseline") or self.agents[0]
        return stats.paired_rows(self, baseline, metric=metric)

    def __repr__(self) -> str:
        return (
            f"Results({self.config.get('name')!r}, agents={self.agents}, steps={len(self.steps)})"
        )


def summary_rows(results: Results) -> list[dict[str, Any]]:
    """One row per agent and point (:func:`experiments.stats.summary_rows`), or the table of
    a logged-data experiment (:func:`experiments.offpolicy.summary.rows`)."""
    if results.kind != "simulate":
        from experiments.offpolicy import summary

        return summary.rows(results)
    from experiments import stats

    return stats.summary_rows(results)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text; the columns are every key, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def save(
    results: Results, out_dir: str | Path, draw: Callable[[Results, Path], Any] | None = None
) -> Path:
    """Write a results folder (atomically, ``config.json`` last); returns its path.

    ``draw(results, out)`` (e.g. :func:`experiments.figures.draw`) writes the figures of an
    online run before ``config.json`` marks the folder complete."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    complete = out / "config.json"
    if complete.exists():  # overwriting: mark incomplete first
        complete.unlink()
    arrays: dict[str, np.ndarray] = {"steps": np.asarray(results.steps)}
    for agent in results:
        for name, value in agent.metrics.items():
            arrays[f"{agent.label}/{name}"] = np.asarray(value)
        arrays[f"{agent.label}/diverged"] = np.asarray(agent.diverged, bool)
        arrays[f"{agent.label}/invalid_actions"] = agent.invalid_actions
        for name, value in agent.finals.items():
            arrays[f"{agent.label}/{FINAL}{name}"] = np.asarray(value)
    atomic.write_npz(out / "metrics.npz", arrays)
    atomic.write_bytes(out / "summary.csv", csv_text(results.summary).encode())
    online = results.kind == "simulate"
    if online and len(results.agents) > 1:
        atomic.write_bytes(out / "paired.csv", csv_text(results.paired()).encode())
    results.path = out
    if draw is not None and online:
        draw(results, out)
    config = dict(results.config)
    config["format_version"] = FORMAT_VERSION
    config["complete"] = True
    config["axes"] = list(AXES)
    if online:  # (a logged-data experiment's file has no such key: it reruns as it is)
        config["record_every"] = int(results.record_every)
    config["agent_points"] = {a.label: a.points for a in results}
    config["agent_grids"] = {a.label: a.grid for a in results}
    config["metric_axes"] = {a.label: {k: list(v) for k, v in a.axes.items()} for a in results}
    atomic.write_bytes(
        complete, (json.dumps(config, indent=2, default=_json_default) + "\n").encode()
    )
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def read_complete_config(path: Path) -> dict:
    """``config.json`` of a finished results folder, or a ConfigError saying why not."""
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{path}: not a complete results folder (no config.json)")
    config = json.loads(config_path.read_text())
    if not config.get("complete"):
        raise ConfigError(f"{path}: the run that wrote it did not finish")
    return config


def load(path: str | Path) -> Results:
    """Read a results folder written by :func:`save` (never unpickles anything)."""
    path = Path(path)
    config = read_complete_config(path)
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ConfigError(
            f"{path}: written by a newer driftsim (format {config['format_version']})"
        )
    with np.load(path / "metrics.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    steps = arrays.pop("steps")
    record_every = int(config.get("record_every", 1))
    agent_results = {}
    for label in config["agent_points"]:
        prefix = f"{label}/"
        metrics = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        finals = {k[len(FINAL) :]: metrics.pop(k) for k in list(metrics) if k.startswith(FINAL)}
        diverged = metrics.pop("diverged")
        invalid = metrics.pop("invalid_actions", None)  # absent in older folders
        agent_results[label] = AgentResults(
            label,
            metrics,
            diverged,
            config["agent_points"][label],
            config["agent_grids"].get(label),
            steps,
            record_every,
            invalid_actions=invalid,
            axes=config.get("metric_axes", {}).get(label),
            finals=finals,
        )
    return Results(config, agent_results, path)
