"""The ``driftsim`` command line (the same as ``python -m experiments``).

    driftsim run [PRESET | FILE.toml] [--seeds N] [--steps T] [--seed S]
                 [--set KEY=VALUE]... [--sweep KEY=SPEC]... [--metrics NAME,...]
                 [--out DIR] [--resume DIR]
                 [--import MODULE]... [--baseline LABEL] [--tensorboard] [--no-cache]
                 [--coordinator HOST:PORT --num-processes N --process-id I | --distributed]
    driftsim list [--import MODULE]...
    driftsim plot DIR [--metrics NAME,...] [--agents LABEL,...] [--points KEY=V,... | I,...]
                  [--logy | --no-logy] [--style paper|talk] [--out DIR]
    driftsim compare DIR DIR... [--agents LABEL,...] [--style paper|talk] [--out DIR]
    driftsim bench [--only W1,W2] [--json FILE]

KEY is ``env`` (replace the environment), ``env.FIELD``, ``agent`` (replace all agents by
this one), ``agent.FIELD`` (every agent that has the field), ``agents.LABEL.FIELD`` or, for
replay / off-policy experiments (``kind = "replay"`` / ``"ope"``: ``obd-replay``,
``obd-ope``, ``ope-check``), ``log.FIELD`` (``log.campaign=men``, ``log.agent.epsilon=0.1``).
SPEC is a comma list (``0,0.01,0.1``), ``logspace(a,b,n)`` (10^a … 10^b) or
``linspace(a,b,n)``; ``--metrics`` adds opt-in metrics to the experiment's ``metrics``
(:mod:`experiments.feedback_metrics`); for an integer field (``agents.sw.window``) a whole float counts as
the integer (``100.0`` is 100) and the values of ``logspace`` / ``linspace`` are rounded to
integers, duplicates dropped (the rounded values are printed).  ``--sweep`` adds a grid
axis; on a KEY the experiment already sweeps, it replaces that axis's values (the command
line wins, as ``--set`` does).  ``--import MODULE`` imports a module that registers your own
environments, agents or drift processes before anything is checked (the same as the
experiment file's ``plugins = [...]``, to which it is added; see
:mod:`experiments.plugins`).  ``plot`` and ``compare`` read a results folder and need no
plugin.  Bad input prints one line naming the key and exits with status 2, before
anything is compiled.

``run`` keeps the programs it compiles in a per-user folder (JAX's persistent compilation
cache, ``$XDG_CACHE_HOME/driftsim/jax`` or ``~/.cache/driftsim/jax``; ``driftsim list``
prints it), so that a second run of the same experiment skips compiling and gives
bit-identical numbers; ``--no-cache`` or ``DRIFTSIM_NO_CACHE=1`` turns it off (see
:mod:`experiments.compilation_cache`).  The process's JAX options are restored on return
from :func:`main`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from experiments import compilation_cache
from experiments.tables import Table
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
    """Add one grid axis; a KEY the experiment already sweeps has its values replaced."""
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
    from experiments.plan import integer_field

    imported = _import_modules(args)
    experiment = as_experiment(args.experiment or presets.DEFAULT)
    experiment.plugins += [m for m in imported if m not in experiment.plugins]
    for text in args.set or []:
        key, value = _split_assignment("--set", text)
        apply_set(experiment, key, parse_value(value))
    for text in args.sweep or []:
        key, spec = _split_assignment("--sweep", text)
        values = parse_spec(key, spec)
        if _SPACE.match(spec.strip()) and integer_field(experiment, key):
            values = list(dict.fromkeys(int(round(v)) for v in values))
            print(
                f"driftsim: --sweep {key}={spec}: an integer field; rounded to "
                f"{', '.join(map(str, values))}",
                file=sys.stderr,
            )
        apply_sweep(experiment, key, values)
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
    for name in _comma_list(args.metrics) or []:
        if name not in experiment.metrics:
            experiment.metrics.append(name)
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


def _number(value: Any, spec: str = ".4g") -> str:
    """A number for the table; ``-`` where it is not finite (every seed diverged)."""
    try:
        return format(value, spec) if np.isfinite(value) else "-"
    except TypeError:
        return "-"


def _summary_columns(results) -> list[tuple[str, str, str]]:
    """``(header, summary column, format)`` of the metrics that apply to the environment
    (``config["capabilities"]["env"]``): an agent that predicts a number (regression and
    classification streams) has a loss, not a reward or a share of optimal actions; a
    slate adds its mean recall@k and NDCG@k."""
    spec = ((getattr(results, "config", None) or {}).get("capabilities") or {}).get("env") or {}
    rows = results.summary
    if spec.get("action") == "prediction":
        columns = [("loss", "avg_loss", ".4g")]
    else:
        click = (spec.get("reward") or {}).get("kind") == "click"
        columns = [
            ("ctr" if click else "reward", "avg_reward", ".4g"),
            ("%opt", "pct_optimal", ".1f"),
        ]
        if spec.get("action") == "slate":  # ranking metrics of the slates, time-averaged
            k = spec.get("slate_size")
            columns += [
                (f"recall@{k}", "avg_recall", ".3f"),
                (f"ndcg@{k}", "avg_ndcg", ".3f"),
            ]
    return [c for c in columns if rows and c[1] in rows[0]]


def _point_text(row: dict[str, Any]) -> str:
    """The row's own swept values, as its figures name them: ``window=100`` for an agent
    field (however it was swept: ``agent.window`` or ``agents.LABEL.window``),
    ``env.drift.rate=0.01`` for an environment field; a key another agent has is None."""
    parts = []
    for key, value in row.items():
        if not key.startswith(("env.", "agent.")) or value is None:
            continue
        name = key[len("agent.") :] if key.startswith("agent.") else key
        parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    return ", ".join(parts)


def format_summary(results) -> str:
    """A short table per agent and point: final cumulative regret with its 95% interval and
    the metrics that apply to the environment (see :func:`_summary_columns`)."""
    config = results.config
    if config.get("kind", "simulate") != "simulate":  # logged data: the experiment's table
        return Table(config.get("title", ""), results.summary, config.get("note", "")).format()
    columns = _summary_columns(results)
    head = f"{'agent':<24} {'point':<36} {'final regret (95% CI)':>30}"
    lines = [head + "".join(f" {h:>8}" for h, _, _ in columns)]
    for row in results.summary:
        regret = _number(row.get("final_regret"))
        if regret != "-":
            low = _number(row.get("final_regret_ci_low"))
            regret += f" [{low}, {_number(row.get('final_regret_ci_high'))}]"
        if row.get("num_diverged"):
            regret += f" ({row['num_diverged']} diverged)"
        line = f"{row['label']:<24} {_point_text(row) or '-':<36} {regret:>30}"
        for header, name, spec in columns:
            value = _number(row[name], spec)
            line += f" {value + '%' if header == '%opt' and value != '-' else value:>8}"
        lines.append(line)
    return "\n".join(lines)


def command_run(args) -> int:
    import time

    from experiments.api import run

    start = time.perf_counter()
    join_cluster(args)
    options = dict(progress=not args.quiet, tensorboard=args.tensorboard, baseline=args.baseline)
    if args.resume:  # the folder's experiment imports its own plugins
        _import_modules(args)
        out = args.out_dir = Path(args.resume)
        results = run(None, out=out, resume=True, **options)
    else:
        experiment = build_experiment(args)
        out = Path(args.out) if args.out else Path("results") / experiment.name
        args.out_dir = out  # for the Ctrl-C message: the folder that resumes
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
        policies = log.logging_policies()
        loggers = ", ".join(
            policy.label if policy.label == policy.agent.name
            else f"{policy.label} ({policy.agent.name})"
            for policy in policies
        )  # fmt: skip
        source = f"logs of {experiment.env.name} by {loggers}"
        size = f"{seeds} logs x {steps} rounds" + (" per logger" if len(policies) > 1 else "")
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
    print("\nwrappers (static fields, set as agent.WRAPPER.FIELD, e.g. agent.delay.every;")
    print("  num_arms / context_dim / arm_dim left None take the environment's):")
    for name in agents.WRAPPERS.names():
        statics = {k: v for k, v in agents.WRAPPERS.static_fields(name).items() if k != "agent"}
        print(f"  {name}: {_static_line(statics)}")
        doc = (agents.WRAPPERS.factory(name).__doc__ or "").strip().splitlines()
        if doc:
            print(f"      {doc[0]}")
    from simulator import drift

    print("\ndrift processes (env.drift = NAME; static options as env.drift_options;")
    print("  traced knobs as env.drift.KNOB, with ranges):")
    for name in drift.DRIFTS.names():
        print(f"  {name}: {_static_line(drift.DRIFTS.static_fields(name))}")
        knobs = _describe_knobs(drift.make(name).default_params(), "drift.")
        if knobs:
            print("\n".join(knobs))
    from experiments.schema import FIGURES, METRICS

    print(f"\nfigures (figures = [...] in an experiment file):\n  {', '.join(FIGURES)}")
    print(
        "\nopt-in metrics (metrics = [...] in an experiment file, or run --metrics):\n  "
        + ", ".join(METRICS)
    )
    print("\npresets (default seeds x steps):")
    for name in presets.names():
        experiment = presets.load(name)
        print(f"  {name}: {preset_line(experiment)}")
        if experiment.description:
            print(f"      {experiment.description}")
    print("\ncompilation cache (driftsim run; the folder may be deleted at any time):")
    print(f"  {compilation_cache.describe()}")
    return 0


def _refuse_logged_folder(folder: str) -> None:
    """``compare`` draws online runs' curves: a replay / ope folder is a ConfigError."""
    import json

    config = Path(folder) / "config.json"
    if config.is_file():
        kind = json.loads(config.read_text()).get("kind", "simulate")
        if kind != "simulate":
            raise ConfigError(
                f"{folder}: a kind = {kind!r} results folder has a table, no curves to "
                f"compare: see {Path(folder) / 'summary.csv'} (experiments.load)"
            )


def _comma_list(values: list[str] | None) -> list[str] | None:
    """``--opt a,b --opt c`` -> ``["a", "b", "c"]`` (None when not given)."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_points(specs: list[str] | None) -> dict[str, list[Any]] | list[int] | None:
    """``--points`` values: ``KEY=V1,V2`` (repeatable, one per key) or indices ``0,3``."""
    if not specs:
        return None
    if all("=" not in spec for spec in specs):
        indices = _comma_list(specs) or []
        if not all(re.fullmatch(r"\d+", i) for i in indices):
            raise ConfigError(f"--points {','.join(specs)!r}: KEY=V1,V2 or indices such as 0,3")
        return [int(i) for i in indices]
    selection: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--points {spec!r}: KEY=V1,V2 (e.g. agent.learning_rate=0.01,0.1)")
        selection.setdefault(key.strip(), []).extend(
            parse_value(v.strip()) for v in values.split(",") if v.strip()
        )
    return selection


def command_plot(args) -> int:
    from experiments import figures
    from experiments.results import load

    names = _comma_list(args.metrics)
    if names is not None:
        figures.check_names(names, key="--metrics")
    results = load(args.dir)
    if results.kind != "simulate":  # a logged-data folder: its table, no figures
        print(format_summary(results))
        return 0
    out = Path(args.out) if args.out else Path(args.dir) / ("talk" if args.style == "talk" else "")
    paths = figures.draw(
        results,
        out,
        names,
        agents=_comma_list(args.agents),
        points=parse_points(args.points),
        log_y=args.logy,
        style=args.style,
    )
    for path in paths:
        print(path)
    return 0


def command_compare(args) -> int:
    from experiments import figures
    from experiments.results import load

    for folder in args.dirs:
        _refuse_logged_folder(folder)
    results = [load(d) for d in args.dirs]
    out = Path(args.out) if args.out else Path(args.dirs[0]) / "compare"
    for path in figures.compare(results, out, agents=_comma_list(args.agents), style=args.style):
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
    run.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=SPEC",
        help="add a grid axis (or replace the values of an axis the experiment already sweeps)",
    )
    run.add_argument("--out", help="results folder (default: results/NAME)")
    run.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    run.add_argument("--chunk-size", type=_positive_int, help="steps per compiled chunk")
    run.add_argument("--record-every", type=_positive_int, help="store the mean of every N steps")
    run.add_argument("--x64", action="store_true", help="run in float64")
    run.add_argument(
        "--metrics",
        action="append",
        metavar="NAME,...",
        help="log these opt-in metrics too (user_drift, homogeneity, coverage, exposure_gini, "
        "popularity_bias, utility, utility_initial)",
    )
    _add_import_option(run)
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument(
        "--no-cache",
        action="store_true",
        help=f"compile everything afresh: no compilation cache (also {compilation_cache.ENV_VAR}=1)",
    )
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
    plot.add_argument(
        "--metrics",
        action="append",
        metavar="NAME,...",
        help="figures to draw (regret, regret_log, reward, optimal, loss, sensitivity, ...)",
    )
    plot.add_argument("--agents", action="append", metavar="LABEL,...", help="only these agents")
    plot.add_argument(
        "--points",
        action="append",
        metavar="KEY=V,... | I,...",
        help="only these points: values of a swept key (repeatable), or point indices",
    )
    plot.add_argument(
        "--logy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log y-axis on the curve figures (default: chosen from the data)",
    )
    plot.add_argument(
        "--style", choices=["paper", "talk"], default="paper", help="paper column or slides"
    )
    plot.add_argument("--out", help="folder for the figures (default: DIR, or DIR/talk)")
    plot.set_defaults(handler=command_plot)
    compare = sub.add_parser("compare", help="overlay several results folders")
    compare.add_argument("dirs", nargs="+")
    compare.add_argument("--out")
    compare.add_argument(
        "--agents", action="append", metavar="LABEL,...", help="only these agent labels"
    )
    compare.add_argument(
        "--style", choices=["paper", "talk"], default="paper", help="paper column or slides"
    )
    compare.set_defaults(handler=command_compare)
    bench = sub.add_parser("bench", help="benchmarks against numpy and peer libraries")
    bench.add_argument("--only", help="comma list of workloads (e.g. W1,W2)")
    bench.add_argument("--json", help="write the records to this file")
    bench.add_argument("--repeats", type=_positive_int, default=3)
    bench.set_defaults(handler=command_bench)
    return parser


@contextlib.contextmanager
def _driftsim_warnings():
    """driftsim's own warnings (a window longer than the run, a paired.csv without pairs,
    invalid actions) print as one line ``driftsim: warning: ...``; others as Python does."""
    original = warnings.formatwarning

    def one_line(message, category, filename, lineno, line=None):
        if category.__module__.split(".")[0] in ("experiments", "agents", "simulator"):
            return f"driftsim: warning: {message}\n"
        return original(message, category, filename, lineno, line)

    warnings.formatwarning = one_line
    try:
        yield
    finally:
        warnings.formatwarning = original


def _compilation_cache(args) -> contextlib.AbstractContextManager:
    """JAX's persistent compilation cache for ``run`` (not for ``bench``, which times
    compiling), unless ``--no-cache`` or ``DRIFTSIM_NO_CACHE`` turns it off."""
    if args.command != "run" or args.no_cache or compilation_cache.disabled_by_env():
        return contextlib.nullcontext()
    return compilation_cache.enabled()


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Called without ``argv`` (``driftsim`` itself, ``python -m experiments``), the process
    is the command's own: what it has imported and built is frozen out of the garbage
    collector (``gc.freeze``), so that collections during the run and the final one at
    exit skip objects that live until exit anyway, and the collector runs less often
    (JAX's tracing allocates many short-lived objects); about half a second less."""
    if argv is None:
        gc.freeze()
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if argv is None and args.command != "bench":  # bench times Python loops as they are
        gc.set_threshold(20_000, 10, 10)
    try:
        with _driftsim_warnings(), _compilation_cache(args):
            return args.handler(args)
    except ConfigError as err:
        print(f"driftsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        folder = getattr(args, "out_dir", None)
        again = f"driftsim run --resume {shlex.quote(str(folder))}" if folder else "--resume DIR"
        print(f"\ndriftsim: interrupted; resume with {again}", file=sys.stderr)
        return 130
    finally:
        if argv is None:
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
