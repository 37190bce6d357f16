"""The results of ``docs/benchmarks.md`` and the README's speed table, from one bench run.

Usage::

    driftsim bench --only default,equal_work,gpu --json bench.json
    python -m experiments.bench.docs bench.json             # rewrite both blocks in place
    python -m experiments.bench.docs bench.json --check     # exit 1 when they are stale

Each document keeps its generated part between two markers (``<!-- bench:NAME:begin ...
-->`` and ``<!-- bench:NAME:end -->``); everything around them is prose that this module
never touches.  The blocks are pure functions of the JSON payload written by
``driftsim bench --json`` (:func:`experiments.bench.run_suite`), so every number in them
comes from the same run: the workload tables, the targets, the runner's per-step cost,
the runs-scaling at equal work and the accelerator grid.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments import atomic
from experiments.bench.core import Record
from experiments.bench.report import fastest_peer, find_record, format_markdown, targets

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
RESULTS_BLOCK = "results"
README_BLOCK = "speed"

#: Sections of the results, in order: (title, does this record belong to it?).
SECTIONS: tuple[tuple[str, Callable[[Record], bool]], ...] = (
    ("W1 UCB1", lambda r: r.workload == "W1 ucb1"),
    ("W1 Thompson sampling", lambda r: r.workload == "W1 thompson"),
    ("W1 Beta sampler alone", lambda r: r.workload == "W1 beta sampler"),
    ("W2 disjoint LinUCB", lambda r: r.workload.startswith("W2")),
    ("W3 SGD", lambda r: r.workload == "W3 sgd"),
    ("W3 Adam", lambda r: r.workload == "W3 adam"),
    ("W3 random numbers alone", lambda r: r.workload == "W3 rng only"),
    ("W4 drifting-users (driftsim only)", lambda r: r.workload.startswith("W4")),
    ("W5 neural", lambda r: r.workload.startswith("W5")),
    ("W6 cascade slates", lambda r: r.workload.startswith("W6")),
    ("Compile survey", lambda r: r.workload.startswith("compile")),
    (
        "The runner's per-step cost: make_run against a hand-written scan",
        lambda r: r.workload.startswith("runner"),
    ),
    (
        "Many runs at equal work (experiments.run, a fresh process per point)",
        lambda r: r.workload.startswith("equal work"),
    ),
    ("The accelerator grid", lambda r: r.workload.startswith("gpu")),
    (
        "Time to first result: a cold and a warm driftsim run (fresh processes, fresh cache)",
        lambda r: r.workload.startswith("first result"),
    ),
)

#: README rows: (label from the run's sizes, workload).
README_ROWS: tuple[tuple[Callable[[dict[str, Any]], str], str], ...] = (
    (lambda z: f"W1 UCB1, {z.get('w1_arms', 10)} arms", "W1 ucb1"),
    (lambda z: f"W1 Thompson sampling, {z.get('w1_arms', 10)} arms", "W1 thompson"),
    (
        lambda z: f"W2 disjoint LinUCB, d = {z.get('w2_dim', 16)}, {z.get('w2_arms', 32)} arms",
        "W2 linucb 100 runs",
    ),
    (lambda z: f"W3 online regression, SGD, d = {z.get('w3_dim', 16)}", "W3 sgd"),
    (lambda z: f"W3 online regression, Adam, d = {z.get('w3_dim', 16)}", "W3 adam"),
    (
        lambda z: (
            f"W6 CascadeUCB1 slates, L = {z.get('w6_items', 256)}, k = {z.get('w6_slate_size', 4)}"
        ),
        "W6 cascade_ucb1",
    ),
)


def load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def records_of(payload: dict[str, Any]) -> list[Record]:
    return [Record(**r) for r in payload["records"]]


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def provenance(payload: dict[str, Any]) -> str:
    """One paragraph: what ran, where, when and how long."""
    machine = payload.get("machine") or {}
    versions = payload.get("versions") or {}
    load = machine.get("load_average")
    text = (
        f"`driftsim bench --json` at `{payload.get('git_revision') or 'unknown'}`, "
        f"medians of {payload.get('repeats')}: {payload.get('seconds', 0):,.0f} s in all, "
        f"peak resident memory {payload.get('peak_memory_mib', 0):,.0f} MiB. "
        f"{machine.get('cpu_model') or machine.get('machine', '')}, "
        f"{machine.get('cpu_count')} cores, JAX {versions.get('jax', '?')} on "
        f"{machine.get('jax_backend', '?')}"
    )
    if load:
        text += f"; load average {load[0]:.1f} when the run ended"
    limits = payload.get("limits")
    if limits:
        text += (
            f". Machine ceilings in the same run: memory {limits['memory_gb_s']:.1f} GB/s, "
            f"L2-sized copies {limits['cache_gb_s']:.1f} GB/s, float32 matmul "
            f"{limits['gflop_s']:.0f} GFLOP/s"
        )
    return text + "."


def _targets_table(records: list[Record]) -> str:
    lines = [
        "| target | required | measured (same run) | status |",
        "|---|---|---|---|",
    ]
    for t in targets(records):
        status = "not measured" if t.met is None else ("met" if t.met else "**not met**")
        lines.append(f"| {t.name} | {t.required} | {t.measured} | {status} |")
    return "\n".join(lines)


def _scaling_table(points: list[dict[str, Any]]) -> str:
    """The scaling study's points (the data behind ``docs/scaling.png``)."""
    lines = [
        "| study | workload | variant | x | runs | steps | steps/s | compile s | state MiB "
        "| XLA program MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        lines.append(
            f"| {p['study']} | {p['workload']} | {p['variant']} | {p['x']:,} | {p['runs']:,} | "
            f"{p['steps']:,} | {p['steps_per_s']:,.0f} | {p['compile_s']:.2f} | "
            f"{p['state_mib']:,.2f} | {p['program_mib']:,.2f} |"
        )
    return "\n".join(lines)


def results_markdown(payload: dict[str, Any]) -> str:
    """The generated part of ``docs/benchmarks.md``: provenance, a table per workload
    (the suite's own Markdown rows), the targets."""
    records = records_of(payload)
    parts = [provenance(payload)]
    used: set[int] = set()
    for title, belongs in SECTIONS:
        rows = [r for r in records if belongs(r)]
        if not rows:
            continue
        used.update(id(r) for r in rows)
        parts.append(f"### {title}\n\n{format_markdown(rows)}")
    rest = [r for r in records if id(r) not in used]
    if rest:
        parts.append(f"### Other records\n\n{format_markdown(rest)}")
    if payload.get("scaling"):
        parts.append(f"### Scaling study\n\n{_scaling_table(payload['scaling'])}")
    parts.append(f"### Targets\n\n{_targets_table(records)}")
    return "\n\n".join(parts)


def readme_markdown(payload: dict[str, Any]) -> str:
    """The README's speed table: run-steps/s and the ratios of the same run."""
    records = records_of(payload)
    lines = [
        "| workload | driftsim run-steps/s | × numpy loop | × numpy vectorised | × fastest peer |",
        "|---|---:|---:|---:|---:|",
    ]
    sizes = payload.get("sizes") or {}
    for describe, workload in README_ROWS:
        ours = find_record(records, workload)
        if ours is None:
            continue
        label = f"{describe(sizes)}, {ours.runs:,} runs × {ours.steps:,}"
        vectorised = find_record(records, workload, "numpy vectorized")
        peer = fastest_peer(records, workload)
        versus_vec = ours.steps_per_s / vectorised.steps_per_s if vectorised else None
        versus_peer = (
            f"{_ratio(ours.steps_per_s / peer.steps_per_s)} ({peer.implementation})"
            if peer
            else "–"
        )
        lines.append(
            f"| {label} | {_rate(ours.steps_per_s)} | {_ratio(ours.ratio)} | "
            f"{_ratio(versus_vec)} | {versus_peer} |"
        )
    from experiments.bench.runner_cost import runner_ratio

    table = "\n".join(lines)
    ratios = {
        r.workload.removeprefix("runner "): runner_ratio(records, r.workload)
        for r in records
        if r.workload.startswith("runner") and r.implementation == "driftsim"
    }
    measured = ", ".join(f"{name} {ratio:.2f}×" for name, ratio in ratios.items() if ratio)
    if measured:
        table += f"\n\n`make_run` against a hand-written scan of the same algorithm: {measured}."
    return f"{provenance(payload)}\n\n{table}"


def _markers(name: str) -> tuple[str, str]:
    begin = f"<!-- bench:{name}:begin (python -m experiments.bench.docs BENCH.json) -->"
    return begin, f"<!-- bench:{name}:end -->"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` replaced by ``body``, its marker lines kept
    (ValueError if it has none)."""
    begin, end = _markers(name)
    pattern = re.compile(
        rf"(<!-- bench:{re.escape(name)}:begin[^>]*-->).*?({re.escape(end)})", re.DOTALL
    )
    if not pattern.search(text):
        raise ValueError(f"no block {name!r}: add the lines {begin!r} and {end!r}")
    return pattern.sub(lambda m: f"{m.group(1)}\n\n{body}\n\n{m.group(2)}", text, count=1)


def render(payload: dict[str, Any], docs: str, readme: str) -> tuple[str, str]:
    """The two documents with their blocks regenerated from ``payload``."""
    return (
        replace_block(docs, RESULTS_BLOCK, results_markdown(payload)),
        replace_block(readme, README_BLOCK, readme_markdown(payload)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.bench.docs", description=__doc__)
    parser.add_argument("json", help="the file written by driftsim bench --json")
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    try:
        payload = load(args.json)
    except (OSError, json.JSONDecodeError) as err:
        parser.error(f"{args.json}: cannot read it as JSON ({err})")
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        parser.error(
            f"{args.json}: no 'records' list; give a file written by driftsim bench --json"
        )
    docs_text, readme_text = DOCS.read_text(), README.read_text()
    new_docs, new_readme = render(payload, docs_text, readme_text)
    stale = [
        p
        for p, old, new in ((DOCS, docs_text, new_docs), (README, readme_text, new_readme))
        if old != new
    ]
    if args.check:
        for path in stale:
            print(f"{path.name}: out of date with {args.json}")
        return 1 if stale else 0
    atomic.write_bytes(DOCS, new_docs.encode())
    atomic.write_bytes(README, new_readme.encode())
    for path in stale:
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
