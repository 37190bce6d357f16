"""``experiments.run``: from an experiment (object, dict, TOML file or preset) to Results."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import subprocess
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from experiments import threefry
from experiments.checkpoint import Checkpoint
from experiments.distributed import is_main_process
from experiments.execute import (
    Progress,
    choose_chunk_size,
    choose_record_every,
    padded_seed_keys,
    run_group,
)
from experiments.offpolicy.experiment import run_logged
from experiments.plan import plan
from experiments.presets import as_experiment
from experiments.results import AgentResults, Results, save
from experiments.schema import from_dict
from experiments.tracking import TensorBoardTracker, require_tensorboardx
from simulator.params import ConfigError, to_python

#: Metric values beyond this magnitude count as a blow-up (the run diverged).
BLOW_UP = 1e15
#: A run whose late mean loss exceeds this many times its early loss diverged (a slow
#: learner on a drifting stream legitimately ends 10-100x above its start).
LOSS_BLOW_UP = 1000.0
#: Stored loss values that stand for the untrained model in the blow-up test.
EARLY_VALUES = 10


def versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in ("driftsim", "jax", "jaxlib", "optax", "flax", "numpy", "matplotlib"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str | None:
    """The git revision of the working tree driftsim runs from, if it is a checkout."""
    here = Path(__file__).resolve().parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if result.returncode == 0:
            dirty = subprocess.run(
                ["git", "status", "--porcelain"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            return result.stdout.strip() + ("+dirty" if dirty else "")
    return None


def loss_blew_up(loss: np.ndarray) -> np.ndarray:
    """Runs whose mean loss over the last 10% of the horizon exceeds ``LOSS_BLOW_UP`` times
    the median of the first ``EARLY_VALUES`` stored values (the untrained model): Adam or
    RMSprop at a too-large learning rate stay finite but blow up.  (points, seeds) bool."""
    num = loss.shape[-1]
    if num < 20:
        return np.zeros(loss.shape[:-1], bool)
    with np.errstate(invalid="ignore", over="ignore"):
        early = np.median(loss[..., :EARLY_VALUES], axis=-1)
        late = np.mean(loss[..., -max(1, num // 10) :], axis=-1, dtype=np.float64)
        return late > LOSS_BLOW_UP * np.maximum(early, 1e-6)


def mark_diverged(
    metrics: dict[str, np.ndarray], logged: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Flag runs with any non-finite or huge value, or a loss blow-up (:func:`loss_blew_up`),
    and blank their metrics to NaN from the run's first bad value on.

    Returns the bool (points, seeds) flags.  The metrics are modified in place: every
    metric of a run is NaN from the first stored step where any of them is non-finite or
    beyond ``BLOW_UP``, and keeps its values before, so one can see when the run diverged
    (a loss blow-up alone stays finite throughout).  Statistics and figures leave a flagged
    run out by its flag (``diverged``), not by its NaN.

    ``logged`` (optional): metric name -> bool (points,), the points whose program logs
    that metric (a sweep over a slate's size logs ``click_1 .. click_k`` for each ``k``);
    a metric's NaN at a point that does not log it is absence, not divergence.
    """
    diverged, first = None, None
    for name, value in metrics.items():
        bad = ~np.isfinite(value) | (np.abs(value) > BLOW_UP)
        if logged is not None and name in logged:
            bad &= logged[name].reshape((-1,) + (1,) * (value.ndim - 1))
        flags = bad.any(axis=-1)
        start = np.where(flags, bad.argmax(axis=-1), value.shape[-1])
        diverged = flags if diverged is None else diverged | flags
        first = start if first is None else np.minimum(first, start)
    if "loss" in metrics:
        diverged |= loss_blew_up(metrics["loss"])
    for name, value in metrics.items():
        after = np.arange(value.shape[-1]) >= first[..., None]
        metrics[name] = np.where(after, np.nan, value).astype(np.float32)
    return diverged


def run(
    experiment: Any,
    out: str | Path | None = None,
    *,
    progress: bool = False,
    resume: bool = False,
    figures: bool = True,
    tensorboard: bool = False,
    baseline: str | None = None,
) -> Results:
    """Run an experiment; with ``out`` write (and checkpoint) a results folder there.

    Args:
      experiment: an :class:`Experiment`, a dict, a preset name or a TOML path.
      out: results folder; checkpoints go to ``out/checkpoint`` after every chunk.
      progress: print a progress line per chunk to stderr.
      resume: continue the interrupted run whose checkpoint is in ``out``.
      figures: draw the experiment's figures into ``out``.
      tensorboard: write live TensorBoard curves to ``out/tensorboard`` (needs the
        ``tracking`` extra; see :mod:`experiments.tracking`).
      baseline: the agent label that ``paired.csv`` compares every other agent with
        (default: the first agent); see :func:`experiments.stats.paired_rows`.

    Nothing outside the run changes: ``x64`` holds for this run only (``jax.enable_x64``)
    and driftsim's choice of Threefry lowering (:mod:`experiments.threefry`) applies to the
    programs compiled here, the previous rule restored on return.

    Returns:
      :class:`Results`, the same object :func:`experiments.load` returns, for every kind
      (``kind = "replay"`` / ``"ope"``: per-run metrics with named axes, see
      :mod:`experiments.offpolicy.experiment`).
    """
    if resume:
        x64 = _resumed_x64(out)
    else:
        experiment = as_experiment(experiment)
        x64 = experiment.x64
    with contextlib.ExitStack() as scope:
        if x64:
            scope.enter_context(jax.enable_x64(True))
        scope.enter_context(threefry.driftsim_lowering())
        return _run(
            experiment,
            out,
            progress=progress,
            resume=resume,
            figures=figures,
            tensorboard=tensorboard,
            baseline=baseline,
        )


def _resumed_x64(out) -> bool:
    """The ``x64`` flag of the interrupted run whose checkpoint is in ``out``."""
    if out is None:
        raise ConfigError("resume: needs the results folder of the interrupted run")
    return bool(Checkpoint(Path(out)).experiment().get("x64", False))


def _run(experiment, out, *, progress, resume, figures, tensorboard, baseline) -> Results:
    """:func:`run` inside its scope."""
    checkpoint = Checkpoint(Path(out)) if out is not None else None
    if resume:
        experiment = from_dict(checkpoint.experiment())
    elif experiment.kind != "simulate":  # replay / off-policy evaluation on a log
        return _run_logged(experiment, out)
    plans = plan(experiment)  # every check happens here, before any compilation
    tracker = None
    if tensorboard:
        if out is None:
            raise ConfigError("tensorboard: needs a results folder (out) to write into")
        require_tensorboardx()
    labels = [p.label for p in plans]
    if baseline is not None and baseline not in labels:
        raise ConfigError(f"baseline = {baseline!r}: unknown agent label; one of {labels}")

    num_values = sum(len(p.points) for p in plans) * experiment.num_seeds
    record_every = experiment.record_every or choose_record_every(
        experiment.num_steps, num_values, 4
    )
    runs = max(len(p.points) for p in plans) * experiment.num_seeds
    chunk_size = experiment.chunk_size or choose_chunk_size(
        experiment.num_steps, record_every, runs
    )
    if chunk_size % record_every:
        raise ConfigError(
            f"chunk_size = {chunk_size}: must be a multiple of record_every = {record_every}"
        )

    resolved = experiment.to_dict()
    resolved["record_every"] = record_every
    if checkpoint is not None and not resume:
        checkpoint.start(resolved)
    if tensorboard and is_main_process():
        tracker = TensorBoardTracker(out, experiment.num_steps, record_every)

    keys, _ = padded_seed_keys(experiment.seed, experiment.num_seeds)
    total = sum(len(g.indices) for p in plans for g in p.groups) * experiment.num_steps
    ticker = Progress(total, enabled=progress and is_main_process())
    try:
        agent_results = _run_plans(
            plans, experiment, keys, chunk_size, record_every, ticker, checkpoint, tracker
        )
    finally:  # an interrupted run keeps every curve written so far
        if tracker is not None:
            tracker.close()
    config = {**resolved, **provenance()}
    config["baseline"] = baseline or labels[0]
    config["capabilities"] = capabilities_record(plans)
    results = Results(config, agent_results)
    if out is not None and is_main_process():
        from experiments.figures import draw  # matplotlib only when figures are drawn

        save(results, out, draw=draw if figures else None)
        checkpoint.remove()
    return results


def provenance() -> dict[str, Any]:
    """What produced a result: package versions, git revision, devices, processes."""
    return {
        "versions": versions(),
        "git_revision": git_revision(),
        "devices": [str(d) for d in jax.devices()],
        "processes": jax.process_count(),
    }


def _run_logged(experiment, out) -> Results:
    """A ``kind = "replay"`` / ``"ope"`` experiment on the same Results and writer."""
    logged = run_logged(experiment)
    config = {**experiment.to_dict(), **provenance()}
    config.update(title=logged.title, note=logged.note, axis_values=logged.axis_values)
    results = Results(config, logged.agents)
    if out is not None and is_main_process():
        save(results, out)
    return results


def scalar_params(params: Any) -> dict[str, float]:
    """The scalar knobs of a params pytree by dotted path (``drift.period``): the values a
    run started from (a sweep's values are in the points)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if np.size(leaf) == 1:
            name = ".".join(str(getattr(k, "name", getattr(k, "key", k))) for k in path)
            out[name] = float(np.asarray(leaf).reshape(()))
    return out


def capabilities_record(plans) -> dict[str, Any]:
    """The resolved capabilities, for ``config.json``: the environment's spec (of each
    agent's first compile group: a static sweep may change it) and each agent's declared
    needs and what it provides, so that statistics and figures of a finished folder never
    rebuild the environment or the agents (a plugin need not be installed to plot)."""
    first = plans[0].groups[0]
    return {
        "env": first.env.spec.as_dict(),
        "env_static": {k: to_python(v) for k, v in first.env.static_fields().items()},
        "env_params": scalar_params(first.env_params),
        "agents": {
            p.label: {
                "name": p.groups[0].agent.name,
                "needs": p.groups[0].agent.needs.as_dict(),
                "estimate_link": p.groups[0].agent.estimate_link
                if p.groups[0].agent.estimate is not None
                else None,
                "exact_probabilities": p.groups[0].agent.action_probabilities is not None,
            }
            for p in plans
        },
    }


def _run_plans(
    plans, experiment, keys, chunk_size, record_every, ticker, checkpoint, tracker
) -> dict[str, AgentResults]:
    """Every compile group of every agent, to the horizon; metrics gathered per agent."""
    agent_results: dict[str, AgentResults] = {}
    for agent_index, agent_plan in enumerate(plans):
        metrics: dict[str, np.ndarray] = {}
        finals: dict[str, np.ndarray] = {}
        num_points = len(agent_plan.points)
        invalid = np.zeros((num_points, experiment.num_seeds), np.int32)
        logged: dict[str, np.ndarray] = {}  # metric -> the points whose program logs it
        first_invalid = np.zeros((num_points, experiment.num_seeds), np.int32)
        for group_index, group in enumerate(agent_plan.groups):
            group_checkpoint = checkpoint.group(agent_index, group_index) if checkpoint else None
            output = run_group(
                group,
                keys,
                experiment.num_seeds,
                experiment.num_steps,
                chunk_size,
                record_every,
                _PointTicker(ticker, len(group.indices)),
                agent_plan.label,
                group_checkpoint,
                _tracking_hook(tracker, agent_plan, group),
            )
            invalid[group.indices] = output.invalid_actions
            first_invalid[group.indices] = output.first_invalid_action
            for name, value in output.metrics.items():
                if name not in metrics:
                    shape = (len(agent_plan.points),) + value.shape[1:]
                    metrics[name] = np.full(shape, np.nan, np.float32)
                    logged[name] = np.zeros(len(agent_plan.points), bool)
                metrics[name][group.indices] = value
                logged[name][group.indices] = True
            for name, value in output.finals.items():
                if name not in finals:
                    finals[name] = np.full((num_points,) + value.shape[1:], np.nan, np.float32)
                finals[name][group.indices] = value
        diverged = mark_diverged(metrics, logged)
        report_invalid_actions(agent_plan.label, invalid, first_invalid)
        for name, value in metrics.items():  # a run that left the action space is left out
            metrics[name] = np.where(invalid[..., None] > 0, np.nan, value).astype(np.float32)
        left_out = (diverged | (invalid > 0))[..., None]
        for name, value in finals.items():
            finals[name] = np.where(left_out, np.nan, value).astype(np.float32)
        steps = np.arange(record_every, experiment.num_steps + 1, record_every)
        agent_results[agent_plan.label] = AgentResults(
            agent_plan.label,
            metrics,
            diverged,
            agent_plan.points,
            agent_plan.grid,
            steps,
            record_every,
            invalid_actions=invalid,
            finals=finals,
        )
    return agent_results


def report_invalid_actions(label: str, invalid: np.ndarray, first: np.ndarray) -> None:
    """Warn (``InvalidActionWarning``) when any run of agent ``label`` acted outside the
    action space, naming the number of runs and the first bad value of the first one."""
    bad = np.argwhere(invalid > 0)
    if not len(bad):
        return
    point, seed = (int(i) for i in bad[0])
    warnings.warn(
        f"agents.{label}: {len(bad)} run(s) took actions outside the action space "
        f"({int(invalid.sum())} in all); the first, at point {point} seed {seed}, was "
        f"{int(first[point, seed])}. Their metrics are left out (NaN) like a diverged run's.",
        InvalidActionWarning,
        stacklevel=3,
    )


class InvalidActionWarning(RuntimeWarning):
    """An agent acted outside its environment's action space (see :func:`run`)."""


def _tracking_hook(tracker: TensorBoardTracker | None, agent_plan: Any, group: Any):
    if tracker is None:
        return None

    def write(steps_before: int, metrics: dict[str, np.ndarray]) -> None:
        tracker.write(agent_plan.label, agent_plan.points, group.indices, metrics, steps_before)

    return write


class _PointTicker:
    """Counts a group's progress in point-steps (points × steps) on the shared ticker."""

    def __init__(self, progress: Progress, num_points: int):
        self.progress = progress
        self.num_points = num_points

    def tick(self, label: str, steps: int, runs: int) -> None:
        self.progress.tick(label, steps * self.num_points, runs)
