"""Time to first result: a cold and a warm ``driftsim run``, the way a user runs them.

``driftsim bench --only first_result``: ``Sizes.first_result_pairs`` times, in a fresh
cache folder (``XDG_CACHE_HOME`` of its own), the command ``driftsim run PRESET --seeds S
--steps T`` (``Sizes.first_result_run``; figures included) runs twice in fresh processes:
cold (an empty cache: everything is traced and compiled) then warm (the programs of the
first run are loaded: :mod:`experiments.compilation_cache`, :mod:`experiments.program_cache`).
Issue 15's target: the warm run within 40% of the cold run's wall time, with identical
metrics.  The record's ``seconds`` is the median warm run and its ``compile_s`` the median
cold run minus that; its note gives every pair.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.bench.core import Record

LABEL = "driftsim run (warm)"
#: issue 15: a warm second run within this share of the cold run's wall time
TARGET = 0.4


def _driftsim_run(arguments: list[str], out: Path, cache: Path) -> float:
    """Wall seconds of ``driftsim run ARGUMENTS --out OUT --quiet`` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "DRIFTSIM_NO_CACHE"}
    env["XDG_CACHE_HOME"] = str(cache)
    env.setdefault("MPLBACKEND", "Agg")
    command = [sys.executable, "-m", "experiments", "run", *arguments, "--out", str(out)]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "--quiet"], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(tail[0][:200])
    return seconds


def _same_results(a: Path, b: Path) -> bool:
    """Every array of ``metrics.npz`` and ``summary.csv``, bit for bit."""
    import numpy as np

    with np.load(a / "metrics.npz") as x, np.load(b / "metrics.npz") as y:
        same = sorted(x.files) == sorted(y.files) and all(
            x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes() for k in x.files
        )
    return same and (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


def records(sizes, repeats: int) -> list[Record]:
    """One record: the median warm run, every cold/warm pair in its note."""
    preset, seeds, steps = sizes.first_result_run
    arguments = [preset, "--seeds", str(seeds), "--steps", str(steps)]
    pairs = []
    with tempfile.TemporaryDirectory(prefix="driftsim-first-result-") as tmp:
        for i in range(sizes.first_result_pairs):
            root = Path(tmp) / f"pair{i}"
            cold = _driftsim_run(arguments, root / "cold", root / "cache")
            warm = _driftsim_run(arguments, root / "warm", root / "cache")
            pairs.append((cold, warm, _same_results(root / "cold", root / "warm")))
    cold_s = statistics.median(c for c, _, _ in pairs)
    warm_s = statistics.median(w for _, w, _ in pairs)
    identical = all(same for _, _, same in pairs)
    each = ", ".join(f"{c:.2f} s / {w:.2f} s ({w / c:.0%})" for c, w, _ in pairs)
    return [
        Record(
            workload=f"first result {preset} {seeds} seeds x {steps} steps",
            implementation=LABEL,
            runs=seeds,
            steps=steps,
            steps_per_s=seeds * steps / warm_s,
            seconds=warm_s,
            compile_s=cold_s - warm_s,  # what the cold run spent that the warm one did not
            note=(
                f"cold {cold_s:.2f} s, warm {warm_s:.2f} s: {warm_s / cold_s:.0%} of cold "
                f"(medians of {len(pairs)} pairs, each in a fresh cache: {each}); "
                f"metrics and summary.csv {'identical' if identical else 'DIFFER'}; "
                "figures included"
            ),
        )
    ]


def warm_share(records_: list[Record]) -> float | None:
    """Warm over cold wall time (``seconds / (seconds + compile_s)``), or None when the
    workload did not run."""
    for r in records_:
        if r.workload.startswith("first result") and r.implementation == LABEL:
            return r.seconds / (r.seconds + r.compile_s)
    return None
