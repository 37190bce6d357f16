"""``driftsim bench``: driftsim against plain numpy and peer libraries, and how it scales.

    driftsim bench                       # every workload and the scaling study (minutes)
    driftsim bench --only W1,W2          # a subset (W1 W2 W3 W4 W5 W6 compile runner
                                         # first_result scaling)
    driftsim bench --only full           # everything at full size (see below; much longer)
    driftsim bench --only W3,full        # a subset at full size
    driftsim bench --only gpu            # W1, W2, drifting_users at 10^3 ... 10^6 runs (opt-in;
                                         # capped at 10^4 on a CPU unless gpu,full)
    driftsim bench --only equal_work     # experiments.run at 256 ... 65,536 runs, equal work
                                         # (opt-in; minutes)
    driftsim bench --json bench.json     # also write machine, versions, git revision, records
    driftsim bench --repeats 5           # medians of 5 timed calls (default 3)

Each workload is measured for driftsim (``jit(vmap(make_run))`` over runs, compile time
apart), a per-step numpy loop (one run after another: the baseline of every ratio), a
numpy version vectorised over runs, and the peer libraries that are installed (the
optional ``bench`` extra: mabwiser, smpybandits, river, contextualbandits, vowpalwabbit),
all in one process so that the ratios are taken pair by pair in the same run.  Every
record carries the regret reached, so that speed is never bought with another algorithm.
The table is printed with the targets of issue 7 marked met or not; ``--only scaling``
also draws ``docs/scaling.png``.  Workloads and sizes: :mod:`experiments.bench.workloads`;
the scaling study: :mod:`experiments.bench.scaling`.

The default suite is sized to finish in a few minutes on a 2-core machine: each numpy
baseline stops repeating after ``Sizes.baseline_budget_s``, peers are called at most
twice, the compile survey compiles every agent type once, and the scaling grid is
trimmed.  ``full`` adds JAX's rolled-threefry what-ifs, compiles every agent of every
preset, and measures the whole scaling grid (:meth:`Sizes.full`,
:meth:`~experiments.bench.scaling.ScalingSizes.full`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from experiments.bench.core import Record, machine_info, machine_limits, peak_memory_mib
from experiments.bench.report import add_ratios, format_table, format_targets, targets, write_json
from experiments.bench.workloads import OPT_IN, WORKLOADS, Sizes
from simulator.params import ConfigError

#: Every workload ``--only`` accepts, in the order the suite runs them.
SUITE = (*(w for w in WORKLOADS if w not in OPT_IN), "scaling", *OPT_IN)
#: What ``driftsim bench`` runs without ``--only`` (the opt-in ``gpu`` grid left out).
DEFAULT_SUITE = tuple(w for w in SUITE if w not in OPT_IN)
#: The ``--only`` token that selects the full sizes (alone: every workload at full size).
FULL = "full"
#: Where ``scaling`` draws its figure (relative to the working directory).
SCALING_FIGURE = Path("docs") / "scaling.png"


def _say(message: str) -> None:
    print(message, flush=True)


def parse_only(only: str | None) -> list[str]:
    """The workloads named by ``--only`` (case-insensitive), in suite order, followed by
    ``"full"`` when that token was given (alone it means every workload but the opt-in
    ``gpu`` grid)."""
    if not only:
        return list(DEFAULT_SUITE)
    lookup = {name.lower(): name for name in (*SUITE, FULL)}
    chosen = []
    for part in only.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in lookup:
            raise ConfigError(
                f"bench --only {part.strip()}: unknown workload; allowed: "
                f"{', '.join(SUITE)} (and {FULL})"
            )
        chosen.append(lookup[name])
    if not chosen:
        raise ConfigError(f"bench --only: give at least one of {', '.join(SUITE)}")
    names = [name for name in SUITE if name in chosen] or list(DEFAULT_SUITE)
    return names + ([FULL] if FULL in chosen else [])


def run_suite(
    names: list[str],
    repeats: int = 3,
    sizes: Sizes | None = None,
    figure: Path | None = SCALING_FIGURE,
    echo=None,
) -> dict[str, Any]:
    """Run the named workloads (``"full"`` among them: at full size); returns the JSON
    payload (machine, versions, records, ...).  A workload that fails is reported as a
    ``not available`` record; the others still run.  driftsim's programs compile with its
    choice of Threefry lowering (:func:`experiments.threefry.driftsim_lowering`)."""
    from experiments import threefry

    with threefry.driftsim_lowering():
        return _run_suite(names, repeats, sizes, figure, echo)


def _run_suite(names, repeats, sizes, figure, echo) -> dict[str, Any]:
    from experiments.api import git_revision, versions
    from experiments.bench import onecore, peers, scaling

    revision = git_revision()  # before the suite redraws docs/scaling.png
    full = FULL in names
    names = [name for name in names if name != FULL]
    sizes = sizes or (Sizes.full() if full else Sizes())
    echo = echo or _say
    records: list[Record] = []
    scaling_points: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name in names:
        echo(f"bench: {name} ...")
        start = time.perf_counter()
        if name == "scaling":
            if sizes in (Sizes(), Sizes.full()):
                grid = scaling.ScalingSizes.full() if full else scaling.ScalingSizes()
            else:
                grid = scaling.tiny()
            study = scaling.run(grid, repeats)
            scaling_points = [p._asdict() for p in study]
            if figure is not None:
                fig, _ = scaling.plot(study)
                figure.parent.mkdir(parents=True, exist_ok=True)
                fig.savefig(figure, dpi=120, bbox_inches="tight")
                echo(f"bench: scaling figure {figure}")
            echo(scaling.format_points(study))
        else:
            try:
                records.extend(WORKLOADS[name](sizes, repeats))
            except Exception as err:  # noqa: BLE001 - report it, run the other workloads
                reason = (
                    f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
                )
                records.append(
                    Record(workload=name, implementation="driftsim", note=f"failed: {reason}")
                )
                echo(f"bench: {name} failed: {reason}")
        echo(f"bench: {name} done in {time.perf_counter() - start:.1f} s")
    if any(name in onecore.WORKLOADS for name in names) and sizes.one_core:
        echo("bench: W1-W3 driftsim pinned to one core ...")
        for pinned in (Record(**r) for r in onecore.records(names, sizes, repeats)):
            rows = [i for i, r in enumerate(records) if r.workload == pinned.workload]
            main = [i for i in rows if records[i].implementation == "driftsim"]
            at = (main or rows or [len(records) - 1])[-1] + 1
            records.insert(at, pinned)
    add_ratios(records)
    met = targets(records)
    return {
        "machine": machine_info(),
        "limits": machine_limits() if any(n.startswith("W2") for n in names) else None,
        "versions": {**versions(), **peers.versions()},
        "git_revision": revision,
        "repeats": repeats,
        "full": full,
        "sizes": {k: v for k, v in vars(sizes).items()},
        "seconds": time.perf_counter() - started,
        "peak_memory_mib": peak_memory_mib(),
        "records": [r.to_dict() for r in records],
        "targets": [t._asdict() for t in met],
        "scaling": scaling_points,
    }


def main(args) -> int:
    """Entry point of ``driftsim bench`` (``args.only``, ``args.json``, ``args.repeats``)."""
    names = parse_only(getattr(args, "only", None))
    repeats = int(getattr(args, "repeats", 3) or 3)
    if repeats < 1:
        raise ConfigError(f"bench --repeats {repeats}: must be >= 1")
    payload = run_suite(names, repeats)
    records = [Record(**r) for r in payload["records"]]
    if records:
        print()
        print(format_table(records))
        print()
        print(format_targets(targets(records)))
    limits = payload.get("limits")
    if limits:
        print(
            f"machine limits now: memory {limits['memory_gb_s']:.1f} GB/s, "
            f"L2-sized copies {limits['cache_gb_s']:.1f} GB/s, "
            f"float32 matmul {limits['gflop_s']:.1f} GFLOP/s"
        )
    print(
        f"bench: {payload['seconds']:.0f} s in all, peak memory {payload['peak_memory_mib']:.0f} MiB"
    )
    if getattr(args, "json", None):
        write_json(args.json, payload)
        print(f"bench: records written to {args.json}")
    return 0


__all__ = ["DEFAULT_SUITE", "FULL", "SUITE", "Sizes", "main", "parse_only", "run_suite"]
