"""Scaling to 65,536 runs at equal work, the way a user runs it (``experiments.run``).

``driftsim bench --only equal_work`` (opt-in): for each workload and each number of runs
``R`` in ``Sizes.equal_work_runs`` (256 ... 65,536), one ``experiments.run`` of ``R`` seeds
× ``W / R`` steps (``W = Sizes.equal_work_run_steps`` run-steps in all, 2^22 by default),
each in a fresh child process (``python -m experiments.bench.equal_work SPEC``), which
reports the wall time of ``experiments.run`` (planning, compilation, every chunk) and its
own peak resident memory.  Issue 15's target: the wall time at 65,536 runs within 1.25× of
the time at 256 runs, with peak memory growing linearly in runs.

Workloads (issue 15): ``ucb1`` (``bernoulli``, 10 arms), ``linucb`` (``contextual_linear``
with 32 arms and d = 16, disjoint LinUCB), ``ogd`` (``regression_stream``, d = 16, SGD) and
``drifting_users`` (shared LinUCB on the default ``drifting_users``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from experiments.bench.core import Record, unavailable

LABEL = "experiments.run"
#: issue 15: wall time at the most runs within this factor of the fewest, at equal work
TARGET = 1.25

WORKLOADS: dict[str, dict[str, Any]] = {
    "ucb1": {
        "env": {"name": "bernoulli", "num_arms": 10},
        "agent": {"name": "ucb"},
    },
    "linucb": {
        "env": {"name": "contextual_linear", "num_arms": 32, "dim": 16},
        "agent": {"name": "linucb", "mode": "disjoint"},
    },
    "ogd": {
        "env": {"name": "regression_stream", "context_dim": 16, "noise": 0.1},
        "agent": {"name": "ogd", "optimizer": "sgd", "learning_rate": 0.01},
    },
    "drifting_users": {
        "env": {"name": "drifting_users"},
        "agent": {"name": "linucb", "mode": "shared"},
    },
}


def experiment(workload: str, runs: int, steps: int) -> dict[str, Any]:
    """The experiment dict of one point of the study."""
    spec = WORKLOADS[workload]
    return {
        "name": f"equal-work-{workload}",
        "num_seeds": runs,
        "num_steps": steps,
        "figures": [],
        "env": dict(spec["env"]),
        "agents": [{"label": workload, **spec["agent"]}],
    }


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from experiments import api
    from experiments.bench.core import peak_memory_mib

    # The simulation's share: experiments.run's calls of the executor's run_group
    # (compilation and every chunk), timed by wrapping the name the API calls.
    simulate = {"seconds": 0.0, "peak_mib": None}
    inner = getattr(api, "run_group", None)
    if inner is not None:

        def timed(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                simulate["seconds"] += time.perf_counter() - begin
                simulate["peak_mib"] = peak_memory_mib()

        api.run_group = timed
    start = time.perf_counter()
    results = api.run(experiment(spec["workload"], spec["runs"], spec["steps"]), figures=False)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    results.summary  # noqa: B018 - the summary table is computed on first use
    summary_s = time.perf_counter() - start
    regret = results[spec["workload"]].cumulative_regret()[..., -1]
    return {
        "seconds": seconds,
        "peak_mib": peak_memory_mib(),
        "regret": float(np.nanmean(regret)),
        "simulate_s": simulate["seconds"] if inner is not None else None,
        "simulate_peak_mib": simulate["peak_mib"],
        "summary_s": summary_s,
    }


def measure(workload: str, runs: int, steps: int) -> dict[str, Any]:
    """One point in a fresh child process: ``{"seconds", "peak_mib", "regret", "simulate_s",
    "simulate_peak_mib", "summary_s"}``: ``simulate_*`` is the executor's share
    (compilation included) and the peak resident memory at its end, the rest of ``seconds``
    is planning and gathering the results; ``summary_s`` is the summary table (its
    bootstrap intervals) computed afterwards on first use, as saving or printing does."""
    spec = {"workload": workload, "runs": runs, "steps": steps}
    result = subprocess.run(
        [sys.executable, "-m", "experiments.bench.equal_work", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DRIFTSIM_NO_CACHE": "1"},
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(tail[0][:200])
    return json.loads(result.stdout.strip().splitlines()[-1])


def records(sizes, repeats: int) -> list[Record]:
    """Every workload at every number of runs (one call each: a fresh process per point)."""
    out: list[Record] = []
    total = sizes.equal_work_run_steps
    for workload in sizes.equal_work_workloads:
        first = None
        for runs in sizes.equal_work_runs:
            steps = max(1, total // runs)
            name = f"equal work {workload} {runs:,} runs"
            try:
                point = measure(workload, runs, steps)
            except Exception as err:  # noqa: BLE001 - report it, measure the others
                out.append(unavailable(name, LABEL, f"{type(err).__name__}: {err}"))
                continue
            first = first or point
            slower = point["seconds"] / first["seconds"]
            memory = point["peak_mib"] / first["peak_mib"]
            simulation = ""
            if point.get("simulate_s") and first.get("simulate_s"):
                simulation = (
                    f"; of which simulation {point['simulate_s']:.1f} s "
                    f"({point['simulate_s'] / first['simulate_s']:.2f}x the fewest runs'), "
                    f"peak {point['simulate_peak_mib']:,.0f} MiB at its end"
                )
            if point.get("summary_s") is not None:
                simulation += (
                    f"; the summary table on first use {point['summary_s']:.2f} s more "
                    f"({first.get('summary_s') or 0:.2f} s at the fewest runs)"
                )
            out.append(
                Record(
                    workload=name,
                    implementation=LABEL,
                    runs=runs,
                    steps=steps,
                    steps_per_s=runs * steps / point["seconds"],
                    regret=point["regret"],
                    seconds=point["seconds"],
                    note=(
                        f"wall {slower:.2f}x the fewest runs' (compilation included, a fresh "
                        f"process per point), peak memory {point['peak_mib']:,.0f} MiB "
                        f"({memory:.2f}x){simulation}"
                    ),
                )
            )
    return out


def flat_ratio(records_: list[Record], workload: str) -> tuple[float, int, int] | None:
    """``(wall at the most runs / wall at the fewest, fewest, most)`` for one workload."""
    rows = [
        r
        for r in records_
        if r.workload.startswith(f"equal work {workload} ") and r.seconds is not None
    ]
    if len(rows) < 2:
        return None
    fewest, most = min(rows, key=lambda r: r.runs), max(rows, key=lambda r: r.runs)
    return most.seconds / fewest.seconds, fewest.runs, most.runs


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
