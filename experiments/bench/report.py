"""Ratios, the printed table, the targets of issue 7, and the JSON file.

Ratios are taken pair by pair within one suite run: each record's ``steps_per_s`` over the
``numpy loop`` record of the same workload.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NamedTuple

from experiments import atomic
from experiments.bench.core import Record

LOOP = "numpy loop"
VECTORIZED = "numpy vectorized"
DRIFTSIM = "driftsim"
NOT_PEERS = (DRIFTSIM, LOOP, VECTORIZED)
#: Agents that are not classic or linear (their compile time is reported, not targeted).
NEURAL_PREFIXES = ("neural", "two_tower")
COMPILE_TARGET_S = 5.0


def add_ratios(records: list[Record]) -> None:
    """Set ``ratio`` = steps/s over the same workload's numpy loop (in place)."""
    loops = {
        r.workload: r.steps_per_s for r in records if r.implementation == LOOP and r.steps_per_s
    }
    for record in records:
        loop = loops.get(record.workload)
        if record.implementation != LOOP and loop and record.steps_per_s:
            record.ratio = record.steps_per_s / loop


def compile_seconds(record: Record) -> float | None:
    """The compile time that counts on a shared machine: ``min(wall, CPU)`` seconds (a busy
    machine inflates wall time; several compiler threads inflate CPU time)."""
    values = [v for v in (record.compile_s, record.compile_cpu_s) if v is not None]
    return min(values) if values else None


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def format_table(records: list[Record]) -> str:
    """A fixed-width table, one line per record (notes on the right)."""
    header = (
        f"{'workload':<22} {'implementation':<26} {'runs':>5} {'steps':>7} "
        f"{'steps/s':>13} {'compile s':>9} {'cpu s':>6} {'regret':>9} {'x loop':>8}  note"
    )
    lines = [header, "-" * len(header)]
    for r in records:
        ratio = f"{r.ratio:,.1f}" if r.ratio is not None else "-"
        lines.append(
            f"{r.workload:<22} {r.implementation:<26} {r.runs or '-':>5} {r.steps or '-':>7} "
            f"{_number(r.steps_per_s):>13} {_number(r.compile_s, 2):>9} "
            f"{_number(r.compile_cpu_s, 2):>6} {_number(r.regret, 4):>9} {ratio:>8}  {r.note}"
        )
    return "\n".join(lines)


def format_markdown(records: list[Record]) -> str:
    """The same table in Markdown (for docs/benchmarks.md)."""
    lines = [
        "| workload | implementation | runs | steps | steps/s | compile s (cpu s) | regret | x numpy loop | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        ratio = f"{r.ratio:,.1f}" if r.ratio is not None else "-"
        lines.append(
            f"| {r.workload} | {r.implementation} | {r.runs or '-'} | {r.steps or '-'} | "
            f"{_number(r.steps_per_s)} | {_compile_cell(r)} | {_number(r.regret, 4)} | "
            f"{ratio} | {r.note} |"
        )
    return "\n".join(lines)


def _compile_cell(r: Record) -> str:
    if r.compile_s is None:
        return "-"
    return f"{_number(r.compile_s, 2)} ({_number(r.compile_cpu_s, 2)})"


class Target(NamedTuple):
    """One target of issue 7 and whether this run met it."""

    name: str
    required: str
    measured: str
    met: bool | None  # None: not measured


def find_record(records, workload, implementation=DRIFTSIM) -> Record | None:
    for r in records:
        if r.workload == workload and r.implementation == implementation and r.steps_per_s:
            return r
    return None


def fastest_peer(records, workload) -> Record | None:
    peers = [
        r
        for r in records
        if r.workload == workload
        and r.implementation not in NOT_PEERS
        and r.steps_per_s
        and not r.implementation.startswith(DRIFTSIM)
    ]
    return max(peers, key=lambda r: r.steps_per_s) if peers else None


UNROLLED = "driftsim [JAX rolled threefry]"
ONE_CORE = "driftsim [1 core]"
#: Variants of the driftsim row quoted beside each target, when measured.
WHAT_IFS = ((ONE_CORE, "pinned to 1 core"), (UNROLLED, "JAX's rolled threefry"))


def _what_if(records, workload, value) -> str:
    """`` (pinned to 1 core: ...; JAX's rolled threefry: ...)`` for the variants measured."""
    parts = []
    for implementation, label in WHAT_IFS:
        variant = find_record(records, workload, implementation)
        if variant is not None:
            parts.append(f"{label}: {value(variant)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _ratio_target(records, name, workload, minimum) -> Target:
    record = find_record(records, workload)
    if record is None or record.ratio is None:
        return Target(name, f">= {minimum}x numpy loop", "not measured", None)
    measured = f"{record.ratio:,.1f}x" + _what_if(
        records, workload, lambda r: f"{r.ratio:,.1f}x" if r.ratio else "-"
    )
    return Target(name, f">= {minimum}x numpy loop", measured, record.ratio >= minimum)


def _peer_target(records, name, workload, minimum) -> Target:
    record = find_record(records, workload)
    peer = fastest_peer(records, workload)
    if record is None or peer is None:
        return Target(name, f">= {minimum}x fastest peer", "not measured", None)
    ratio = record.steps_per_s / peer.steps_per_s
    measured = f"{ratio:,.0f}x ({peer.implementation})" + _what_if(
        records, workload, lambda r: f"{r.steps_per_s / peer.steps_per_s:,.0f}x"
    )
    return Target(name, f">= {minimum}x fastest peer", measured, ratio >= minimum)


def _runner_target(records, name, workload) -> Target:
    """Issue 15: make_run at >= 50% of a hand-written scan of the same algorithm."""
    from experiments.bench.runner_cost import RUNNER_TARGET, runner_ratio

    required = f">= {RUNNER_TARGET:g}x hand-written scan"
    ratio = runner_ratio(records, workload)
    if ratio is None:
        return Target(name, required, "not measured", None)
    return Target(name, required, f"{ratio:.3f}x", ratio >= RUNNER_TARGET)


def targets(records: list[Record]) -> list[Target]:
    """The targets of issues 7 and 15, evaluated on this run's records (a target whose
    workload was not run is "not measured"; issue 15's runner targets are listed only when
    the ``runner`` workload ran)."""
    out = [
        _ratio_target(records, "W1 UCB1 vs numpy loop", "W1 ucb1", 150),
        _peer_target(records, "W1 UCB1 vs peers", "W1 ucb1", 300),
        _ratio_target(records, "W1 Thompson vs numpy loop", "W1 thompson", 20),
    ]
    ts, vec = find_record(records, "W1 thompson"), find_record(records, "W1 thompson", VECTORIZED)
    if ts is None or vec is None:
        out.append(Target("W1 Thompson vs numpy vectorized", "faster", "not measured", None))
    else:
        ratio = ts.steps_per_s / vec.steps_per_s
        measured = f"{ratio:.2f}x" + _what_if(
            records, "W1 thompson", lambda r: f"{r.steps_per_s / vec.steps_per_s:.2f}x"
        )
        out.append(Target("W1 Thompson vs numpy vectorized", "faster", measured, ratio > 1.0))
    w2 = next(
        (
            r.workload
            for r in records
            if r.workload.startswith("W2") and r.workload.endswith("100 runs")
        ),
        "W2 linucb 100 runs",
    )
    out.append(_ratio_target(records, "W2 LinUCB 100 runs vs numpy SM loop", w2, 35))
    out.append(_peer_target(records, "W2 LinUCB 100 runs vs peers", w2, 500))
    out.append(_ratio_target(records, "W3 SGD vs numpy loop", "W3 sgd", 30))
    out.append(_ratio_target(records, "W3 Adam vs numpy loop", "W3 adam", 30))
    compiles = [
        r
        for r in records
        if compile_seconds(r) is not None
        and (r.workload.startswith("compile") or r.implementation == DRIFTSIM)
        and not r.workload.startswith("W5")
        and not any(p in (r.note + r.workload + r.implementation) for p in NEURAL_PREFIXES)
    ]
    if compiles:
        worst = max(compiles, key=compile_seconds)
        out.append(
            Target(
                "compile time per classic/linear agent",
                f"<= {COMPILE_TARGET_S:g} s (min of wall and CPU)",
                f"max {compile_seconds(worst):.2f} s ({worst.workload} {worst.implementation})",
                compile_seconds(worst) <= COMPILE_TARGET_S,
            )
        )
    else:
        out.append(Target("compile time per classic/linear agent", "<= 5 s", "not measured", None))
    from experiments.bench import equal_work

    for workload in equal_work.WORKLOADS:
        flat = equal_work.flat_ratio(records, workload)
        if flat is not None:
            ratio, fewest, most = flat
            out.append(
                Target(
                    f"{workload}: {most:,} runs vs {fewest:,} at equal work",
                    f"<= {equal_work.TARGET:g}x wall time",
                    f"{ratio:.2f}x",
                    ratio <= equal_work.TARGET,
                )
            )
    from experiments.bench import first_result

    share = first_result.warm_share(records)
    if share is not None:
        out.append(
            Target(
                "warm second driftsim run vs cold",
                f"< {first_result.TARGET:.0%} of the cold run's wall time",
                f"{share:.0%}",
                share < first_result.TARGET,
            )
        )
    if any(r.workload.startswith("runner") for r in records):
        out.append(_runner_target(records, "make_run UCB1 vs hand-written scan", "runner ucb1"))
        out.append(
            _runner_target(records, "make_run OGD-SGD vs hand-written scan", "runner ogd-sgd")
        )
    return out


def format_targets(items: list[Target]) -> str:
    lines = ["targets (this machine, ratios from this run):"]
    for t in items:
        status = "not measured" if t.met is None else ("met" if t.met else "NOT MET")
        lines.append(f"  [{status:>12}] {t.name}: required {t.required}, measured {t.measured}")
    return "\n".join(lines)


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON atomically (:mod:`experiments.atomic`)."""
    text = json.dumps(payload, indent=2, default=_jsonable) + "\n"
    atomic.write_bytes(path, text.encode())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "_asdict"):
        return value._asdict()
    return str(value)
