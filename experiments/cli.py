"""The ``driftsim`` command line (the same as ``python -m experiments``).

    driftsim run [PRESET | FILE.toml] [--seeds N] [--steps T] [--seed S]
                 [--set KEY=VALUE]... [--sweep KEY=SPEC]... [--out DIR] [--resume DIR]
                 [--import MODULE]... [--baseline LABEL] [--tensorboard]
                 [--coordinator HOST:PORT --num-processes N --process-id I | --distributed]
    driftsim list [--import MODULE]...
    driftsim plot DIR
    driftsim compare DIR DIR... [--out DIR]
    driftsim bench [--only W1,W2] [--json FILE]

KEY is ``env`` (replace the environment), ``env.FIELD``, ``agent`` (replace all agents by
this one), ``agent.FIELD`` (every agent that has the field), ``agents.LABEL.FIELD`` or, for
replay / off-policy experiments (``kind = "replay"`` / ``"ope"``: ``obd-replay``,
``obd-ope``, ``ope-check``), ``log.FIELD`` (``log.campaign=men``, ``log.agent.epsilon=0.1``).
SPEC is a comma list (``0,0.01,0.1``), ``logspace(a,b,n)`` (10^a … 10^b) or
``linspace(a,b,n)``.  ``--import MODULE`` imports a module that registers your own
environments, agents or drift processes before anything is checked (the same as the
experiment file's ``plugins = [...]``, to which it is added; see
:mod:`experiments.plugins`).  ``plot`` and ``compare`` read a results folder and need no
plugin.  Bad input prints one line naming the key and exits with status 2, before
anything is compiled.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from simulator.params import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and one line on bad usage (its default too)."""

    def error(self, message: str):
        self.exit(2, f"driftsim: error: {message}\n")


def parse_value(text: str) -> Any:
    """A TOML value (``0.1``, ``true``, ``[1, 2]``, ``"x"``), else the bare string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


_SPACE = re.compile(r"^(logspace|linspace)\(\s*([^,]+),\s*([^,]+),\s*([^,)]+)\)$")


def parse_spec(key: str, spec: str) -> list[Any]:
    """The values of ``--sweep KEY=SPEC``."""
    match = _SPACE.match(spec.strip())
    if match:
        kind, a, b, n = match.groups()
        try:
            start, stop, count = float(a), float(b), int(n)
        except ValueError:
            raise ConfigError(
                f"--sweep {key}={spec}: {kind}(a,b,n) needs numbers a, b and an integer n"
            ) from None
        if count < 1:
            raise ConfigError(f"--sweep {key}={spec}: n must be >= 1")
        values = (
            np.logspace(start, stop, count)
            if kind == "logspace"
            else np.linspace(start, stop, count)
        )
        return [float(f"{v:.12g}") for v in values]
    if spec.strip().endswith(")"):
        raise ConfigError(
            f"--sweep {key}={spec}: SPEC is a comma list, logspace(a,b,n) or linspace(a,b,n)"
        )
    values = [parse_value(part.strip()) for part in spec.split(",") if part.strip()]
    if not values:
        raise ConfigError(f"--sweep {key}={spec}: give at least one value")
    return values


def _split_assignment(option: str, text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"{option} {text}: expected KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def apply_set(experiment, key: str, value: Any) -> None:
    """Apply one ``--set KEY=VALUE`` to an :class:`Experiment` (in place)."""
    from experiments.plan import _agent_field_kind
    from experiments.schema import AgentConfig, EnvConfig

    if key.startswith("log."):
        _set_log_field(experiment, key, value)
    elif (key == "env" or key.startswith("env.")) and experiment.env is None:
        raise ConfigError(f"--set {key}: this experiment has no [env] (its log is the data)")
    elif key == "env":
        experiment.env = EnvConfig(name=str(value))
    elif key.startswith("env."):
        experiment.env.fields[key[4:]] = value
    elif key == "agent":
        experiment.agents = [AgentConfig(label=str(value), name=str(value))]
    elif key.startswith("agent."):
        field = key[6:]
        matching = [a for a in experiment.agents if _agent_field_kind(a, field)]
        if not matching:
            names = ", ".join(sorted({a.name for a in experiment.agents}))
            raise ConfigError(f"--set {key}: no agent ({names}) has the field {field!r}")
        for agent in matching:
            agent.fields[field] = value
    elif key.startswith("agents."):
        labels = [a.label for a in experiment.agents]
        rest = key[7:]
        for agent in sorted(experiment.agents, key=lambda a: len(a.label), reverse=True):
            if rest.startswith(agent.label + "."):
                agent.fields[rest[len(agent.label) + 1 :]] = value
                return
        raise ConfigError(f"--set {key}: unknown agent label; allowed: {', '.join(labels)}")
    else:
        raise ConfigError(
            f"--set {key}: KEY must be env, env.FIELD, agent, agent.FIELD, agents.LABEL.FIELD "
            "or log.FIELD"
        )


def _set_log_field(experiment, key: str, value: Any) -> None:
    """``--set log.FIELD=VALUE`` (``log.agent.FIELD`` edits the logging agent); the whole
    experiment is validated again afterwards."""
    from experiments.schema import from_dict

    if experiment.log is None:
        raise ConfigError(f"--set {key}: this experiment has no [log] (kind = {experiment.kind!r})")
    data = experiment.to_dict()
    field = key[4:]
    if field.startswith("agent.") and isinstance(data["log"].get("agent"), dict):
        data["log"]["agent"][field[6:]] = value
    else:
        data["log"][field] = value
    edited = from_dict(data)
    experiment.log = edited.log


def apply_sweep(experiment, key: str, values: list[Any]) -> None:
    """Add (or replace) one grid axis."""
    if not experiment.sweep.empty and experiment.sweep.mode != "grid":
        raise ConfigError(
            f"--sweep {key}: the experiment sweeps a list of points; edit its file instead"
        )
    experiment.sweep.mode = "grid"
    experiment.sweep.axes[key] = values


def build_experiment(args) -> Any:
    """The experiment a ``driftsim run`` command line describes."""
    from experiments import presets
    from experiments.api import as_experiment

    imported = _import_modules(args)
    experiment = as_experiment(args.experiment or presets.DEFAULT)
    experiment.plugins += [m for m in imported if m not in experiment.plugins]
    for text in args.set or []:
        key, value = _split_assignment("--set", text)
        apply_set(experiment, key, parse_value(value))
    for text in args.sweep or []:
        key, spec = _split_assignment("--sweep", text)
        apply_sweep(experiment, key, parse_spec(key, spec))
    if args.seeds is not None:
        experiment.num_seeds = args.seeds
    if args.steps is not None:
        experiment.num_steps = args.steps
    if args.seed is not None:
        experiment.seed = args.seed
    if args.chunk_size is not None:
        experiment.chunk_size = args.chunk_size
    if args.record_every is not None:
        experiment.record_every = args.record_every
    if args.x64:
        experiment.x64 = True
    from experiments.schema import from_dict

    return from_dict(experiment.to_dict())  # re-validate the edited experiment


def _import_modules(args) -> list[str]:
    """Load the installed ``driftsim.plugins`` entry points, then import the ``--import``
    modules (ConfigError naming a module that fails); returns their names.

    Plugins (these and an experiment's own) may sit in the current directory, as under
    ``python -m experiments``: it is appended to ``sys.path``.
    """
    from experiments.plugins import discover_entry_points, import_plugins

    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.append(cwd)
    discover_entry_points()
    return import_plugins(args.imports or [], where="--import")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def format_summary(results) -> str:
    """A short table of final cumulative regret per agent and point."""
    lines = [f"{'agent':<24} {'point':<36} {'final regret (95% CI)':>30} {'reward':>8} {'%opt':>6}"]
    for row in results.summary:
        point = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in row.items()
            if k.startswith(("env.", "agent.")) and v is not None  # None: not this agent's
        )
        regret = f"{row['final_regret']:.4g} [{row['final_regret_ci_low']:.4g}, {row['final_regret_ci_high']:.4g}]"
        if row.get("num_diverged"):
            regret += f" ({row['num_diverged']} diverged)"
        lines.append(
            f"{row['label']:<24} {point or '-':<36} {regret:>30} {row['avg_reward']:>8.4g} "
            f"{row['pct_optimal']:>5.1f}%"
        )
    return "\n".join(lines)


def command_run(args) -> int:
    import time

    from experiments.api import run

    start = time.perf_counter()
    join_cluster(args)
    options = dict(progress=not args.quiet, tensorboard=args.tensorboard, baseline=args.baseline)
    if args.resume:  # the folder's experiment imports its own plugins
        _import_modules(args)
        out = Path(args.resume)
        results = run(None, out=out, resume=True, **options)
    else:
        experiment = build_experiment(args)
        out = Path(args.out) if args.out else Path("results") / experiment.name
        if experiment.kind != "simulate":  # replay / off-policy evaluation on a log
            from experiments import offpolicy

            report = offpolicy.run_experiment(experiment, out=out)
            print(report.format())
            print(f"results: {out}  ({time.perf_counter() - start:.1f} s)")
            return 0
        results = run(experiment, out=out, **options)
    print(format_summary(results))
    print(f"results: {out}  ({time.perf_counter() - start:.1f} s)")
    return 0


def join_cluster(args) -> None:
    """Join a multi-host job when asked (see :mod:`experiments.distributed`)."""
    given = (args.coordinator, args.num_processes, args.process_id)
    if not args.distributed and all(v is None for v in given):
        return
    from experiments import distributed

    distributed.initialize(*given)


def _describe_knobs(params: Any, prefix: str = "") -> list[str]:
    from simulator.params import describe_range, fields, to_python

    lines = []
    for name, field in fields(params).items():
        value = getattr(params, name)
        if dataclasses.is_dataclass(value):
            lines += _describe_knobs(value, f"{prefix}{name}.")
        elif not field.metadata.get("data"):
            doc = field.metadata.get("doc", "")
            lines.append(
                f"      {prefix}{name} = {to_python(value)!r}  ({describe_range(field.metadata)}) {doc}".rstrip()
            )
    return lines


def _static_line(defaults: dict[str, Any]) -> str:
    import inspect

    parts = [
        f"{k}={'<required>' if v is inspect.Parameter.empty else repr(v)}"
        for k, v in defaults.items()
    ]
    return ", ".join(parts) or "none"


def preset_line(experiment) -> str:
    """One line for ``driftsim list``: the default size and what the experiment runs."""
    labels = ", ".join(a.label for a in experiment.agents)
    seeds, steps = experiment.num_seeds, f"{experiment.num_steps:,}"
    if experiment.kind == "simulate":
        return f"{seeds} seeds x {steps} steps; env {experiment.env.name}; agents {labels}"
    log = experiment.log
    if log.source == "obd":
        source = f"Open Bandit Dataset {'+'.join(log.policy)} log ({log.campaign})"
        if experiment.kind == "replay":
            size = f"{seeds} seeds x {steps} log rows"
        else:
            size = f"{seeds} seed x {steps} rows per log"
    else:
        source = f"logs of {experiment.env.name} by {log.agent.name}"
        size = f"{seeds} logs x {steps} rounds"
    if experiment.kind == "replay":
        return f"replay, {size}; {source}; agents {labels}"
    targets = f"; targets {labels}" if labels else ""
    return f"ope, {size}; {source}; estimators {', '.join(log.estimators)}{targets}"


def command_list(args) -> int:
    _import_modules(args)
    import agents
    import simulator
    from experiments import presets

    print("environments (static fields; traced params with ranges):")
    for name in simulator.names():
        print(f"  {name}: {_static_line(simulator.REGISTRY.static_fields(name))}")
        print("\n".join(_describe_knobs(simulator.make(name).default_params())))
    print("\nagents (static fields; traced hyperparameters with ranges):")
    for name in agents.names():
        fits = agents.REGISTRY.meta(name).get("example_env")
        fits = fits if isinstance(fits, str) or fits is None else fits[0]
        print(
            f"  {name}: {_static_line(agents.REGISTRY.static_fields(name))}"
            + (f"  [fits e.g. {fits}]" if fits else "")
        )
        print("\n".join(_describe_knobs(agents.make(name).default_hparams())))
    print("\nwrappers:")
    for name in agents.WRAPPERS.names():
        statics = {k: v for k, v in agents.WRAPPERS.static_fields(name).items() if k != "agent"}
        print(f"  {name}: {_static_line(statics)}")
    print("\npresets (default seeds x steps):")
    for name in presets.names():
        experiment = presets.load(name)
        print(f"  {name}: {preset_line(experiment)}")
        if experiment.description:
            print(f"      {experiment.description}")
    return 0


def _refuse_logged_folder(folder: str) -> None:
    """A replay / ope results folder has a table, not figures: say so (ConfigError)."""
    import json

    config = Path(folder) / "config.json"
    if config.is_file():
        kind = json.loads(config.read_text()).get("kind", "simulate")
        if kind != "simulate":
            raise ConfigError(
                f"{folder}: a kind = {kind!r} results folder has a table, not figures: see "
                f"{Path(folder) / 'report.txt'} (experiments.offpolicy.load_report)"
            )


def command_plot(args) -> int:
    from experiments import figures
    from experiments.results import load

    _refuse_logged_folder(args.dir)
    results = load(args.dir)
    for path in figures.draw(results, Path(args.dir)):
        print(path)
    return 0


def command_compare(args) -> int:
    from experiments import figures
    from experiments.results import load

    for folder in args.dirs:
        _refuse_logged_folder(folder)
    results = [load(d) for d in args.dirs]
    out = Path(args.out) if args.out else Path(args.dirs[0]) / "compare"
    for path in figures.compare(results, out):
        print(path)
    return 0


def command_bench(args) -> int:
    try:
        from experiments import bench
    except ImportError:
        raise ConfigError("bench: the benchmark suite is not available in this build") from None
    return bench.main(args)


def _add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        metavar="MODULE",
        help="import a module that registers your own environments or agents (repeatable)",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="driftsim",
        description="A JAX simulator for bandits and online optimizers with drifting users.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run", help="run a preset or an experiment file (default: the main job)")
    run.add_argument(
        "experiment", nargs="?", help="preset name or FILE.toml (default: the main job)"
    )
    run.add_argument("--seeds", type=_positive_int, help="number of seeds (runs per point)")
    run.add_argument("--steps", type=_positive_int, help="number of steps per run")
    run.add_argument("--seed", type=_nonnegative_int, help="base seed")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field")
    run.add_argument("--sweep", action="append", metavar="KEY=SPEC", help="add a grid axis")
    run.add_argument("--out", help="results folder (default: results/NAME)")
    run.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    run.add_argument("--chunk-size", type=_positive_int, help="steps per compiled chunk")
    run.add_argument("--record-every", type=_positive_int, help="store the mean of every N steps")
    run.add_argument("--x64", action="store_true", help="run in float64")
    _add_import_option(run)
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument(
        "--baseline", metavar="LABEL", help="agent that paired.csv compares with (default: first)"
    )
    run.add_argument(
        "--tensorboard", action="store_true", help="live curves in DIR/tensorboard ([tracking])"
    )
    hosts = run.add_argument_group("several hosts (jax.distributed; one process per host)")
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
    hosts.add_argument("--num-processes", type=_positive_int, help="number of processes")
    hosts.add_argument("--process-id", type=_nonnegative_int, help="this process's index")
    hosts.add_argument(
        "--distributed", action="store_true", help="read the layout from SLURM / Open MPI"
    )
    run.set_defaults(handler=command_run)
    listing = sub.add_parser("list", help="environments, agents, wrappers and presets")
    _add_import_option(listing)
    listing.set_defaults(handler=command_list)
    plot = sub.add_parser("plot", help="redraw the figures of a results folder")
    plot.add_argument("dir")
    plot.set_defaults(handler=command_plot)
    compare = sub.add_parser("compare", help="overlay several results folders")
    compare.add_argument("dirs", nargs="+")
    compare.add_argument("--out")
    compare.set_defaults(handler=command_compare)
    bench = sub.add_parser("bench", help="benchmarks against numpy and peer libraries")
    bench.add_argument("--only", help="comma list of workloads (e.g. W1,W2)")
    bench.add_argument("--json", help="write the records to this file")
    bench.add_argument("--repeats", type=_positive_int, default=3)
    bench.set_defaults(handler=command_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except ConfigError as err:
        print(f"driftsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndriftsim: interrupted; resume with --resume DIR", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
