"""The experiment schema: one model for TOML files, presets, the CLI and Python.

An experiment file::

    name = "testbed"
    num_seeds = 2000          # runs per point; the same seeds serve every point and agent
    num_steps = 1000
    seed = 0                  # base seed: seed i of the experiment is fold_in(key(seed), i)
    figures = ["reward", "optimal", "regret"]

    [env]                     # registry name, then static fields and traced params, flat
    name = "testbed"
    noise = 1.0

    [[agents]]                # one or more labelled agents
    label = "greedy"
    name = "epsilon_greedy"
    epsilon = 0.0
    wrappers = [{ name = "delay", every = 10 }]    # optional

    [sweep]                   # optional: a grid (product) or a list of points
    mode = "grid"
    "agent.epsilon" = [0.0, 0.01, 0.1]

Sweep and ``--set`` keys: ``env.FIELD``, ``agent.FIELD`` (every agent that has that field;
an error if none has it) and ``agents.LABEL.FIELD`` (one agent).  Nested fields use dots
(``env.drift.rate``) and wrapper fields are ``WRAPPER.FIELD`` (``agent.delay.every``).
Sweeping a traced field shares one compilation; sweeping a static one recompiles per value;
either way the values are points of the same agent label.

Every check here runs in plain Python, before anything is compiled, and raises
:class:`ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from simulator.params import ConfigError

SWEEP_MODES = ("grid", "list")
FIGURES = ("regret", "regret_log", "reward", "optimal", "sensitivity", "loss", "privacy")
TOP_LEVEL_KEYS = (
    "name",
    "description",
    "num_seeds",
    "num_steps",
    "seed",
    "figures",
    "env",
    "agents",
    "sweep",
    "chunk_size",
    "record_every",
    "x64",
)
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclasses.dataclass
class EnvConfig:
    """An environment: registry ``name`` and its fields (static and traced, flat)."""

    name: str
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.fields}


@dataclasses.dataclass
class AgentConfig:
    """A labelled agent: registry ``name``, its fields, and wrappers applied in order."""

    label: str
    name: str
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    wrappers: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {"label": self.label, "name": self.name, **self.fields}
        if self.wrappers:
            out["wrappers"] = [dict(w) for w in self.wrappers]
        return out


@dataclasses.dataclass
class SweepConfig:
    """A grid (``axes``: key -> values, full product) or a list of ``points``."""

    mode: str = "grid"
    axes: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    points: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.axes and not self.points

    def keys(self) -> list[str]:
        if self.mode == "grid":
            return list(self.axes)
        seen: dict[str, None] = {}
        for point in self.points:
            seen.update(dict.fromkeys(point))
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        if self.mode == "grid":
            return {"mode": "grid", **{k: list(v) for k, v in self.axes.items()}}
        return {"mode": "list", "points": [dict(p) for p in self.points]}


@dataclasses.dataclass
class Experiment:
    """A whole experiment; see the module docstring for the file format.

    Attributes:
      chunk_size: steps per compiled chunk (progress, checkpoints); None picks one.
      record_every: store the mean of each block of this many steps (1 keeps every step);
        None picks 1 unless the stored metrics would not fit comfortably in memory.
      x64: run in float64.
    """

    env: EnvConfig
    agents: list[AgentConfig]
    num_seeds: int = 10
    num_steps: int = 1000
    seed: int = 0
    name: str = "experiment"
    description: str = ""
    figures: list[str] = dataclasses.field(default_factory=lambda: ["regret"])
    sweep: SweepConfig = dataclasses.field(default_factory=SweepConfig)
    chunk_size: int | None = None
    record_every: int | None = None
    x64: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "num_seeds": self.num_seeds,
            "num_steps": self.num_steps,
            "seed": self.seed,
            "figures": list(self.figures),
            "x64": self.x64,
            "env": self.env.to_dict(),
            "agents": [a.to_dict() for a in self.agents],
        }
        if not self.sweep.empty:
            out["sweep"] = self.sweep.to_dict()
        if self.chunk_size is not None:
            out["chunk_size"] = self.chunk_size
        if self.record_every is not None:
            out["record_every"] = self.record_every
        return out

    def copy(self) -> Experiment:
        return copy.deepcopy(self)


def _require_int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key} = {value!r}: must be an integer >= {low}")
    return value


def _require_str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} = {value!r}: must be a non-empty string")
    return value


def _env_from_dict(data: Any) -> EnvConfig:
    if isinstance(data, str):
        return EnvConfig(name=data)
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError("env: must be a table with a 'name' (an environment registry name)")
    fields = {k: v for k, v in data.items() if k != "name"}
    return EnvConfig(name=_require_str("env.name", data["name"]), fields=_flatten(fields))


def _flatten(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables (``[env.drift] rate = 0.1``) become dotted keys (``drift.rate``)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _agent_from_dict(data: Any, index: int) -> AgentConfig:
    where = f"agents[{index}]"
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{where}: must be a table with a 'name' (an agent registry name)")
    name = _require_str(f"{where}.name", data["name"])
    label = data.get("label", name)
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ConfigError(
            f"{where}.label = {label!r}: must be letters, digits and '_', '-', '.', '+'"
        )
    wrappers = data.get("wrappers", [])
    if not isinstance(wrappers, list) or not all(
        isinstance(w, dict) and isinstance(w.get("name"), str) for w in wrappers
    ):
        raise ConfigError(f"agents.{label}.wrappers: must be a list of tables with a 'name'")
    fields = {k: v for k, v in data.items() if k not in ("name", "label", "wrappers")}
    return AgentConfig(
        label=label, name=name, fields=_flatten(fields), wrappers=[dict(w) for w in wrappers]
    )


def _sweep_from_dict(data: Any) -> SweepConfig:
    if data is None:
        return SweepConfig()
    if not isinstance(data, dict):
        raise ConfigError("sweep: must be a table")
    data = dict(data)
    mode = data.pop("mode", "grid")
    if mode not in SWEEP_MODES:
        raise ConfigError(f"sweep.mode = {mode!r}: allowed: {', '.join(SWEEP_MODES)}")
    if mode == "list":
        points = data.pop("points", [])
        if data:
            raise ConfigError(
                f"sweep: with mode = 'list' give only 'points'; unexpected {sorted(data)[0]!r}"
            )
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise ConfigError("sweep.points: must be a list of tables {key = value}")
        points = [_flatten_sweep_point(p) for p in points]
        return SweepConfig(mode="list", points=points)
    axes = _flatten_sweep_point(data)
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key}: must be a non-empty list of values")
    return SweepConfig(mode="grid", axes=axes)


def _flatten_sweep_point(point: dict[str, Any]) -> dict[str, Any]:
    """Quoted dotted keys stay as they are; TOML sub-tables are joined with dots."""
    out: dict[str, Any] = {}
    for key, value in point.items():
        if isinstance(value, dict):
            for sub, inner in _flatten_sweep_point(value).items():
                out[f"{key}.{sub}"] = inner
        else:
            out[key] = value
    return out


def from_dict(data: dict[str, Any]) -> Experiment:
    """Build an :class:`Experiment` from a parsed TOML (or JSON) mapping."""
    if not isinstance(data, dict):
        raise ConfigError("an experiment must be a table")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS) - {"format_version", "driftsim"})
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: unknown experiment key; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        )
    if "env" not in data:
        raise ConfigError("env: missing; every experiment names an environment")
    agents_data = data.get("agents")
    if not isinstance(agents_data, list) or not agents_data:
        raise ConfigError("agents: must be a non-empty list of [[agents]] tables")
    agent_configs = [_agent_from_dict(a, i) for i, a in enumerate(agents_data)]
    labels = [a.label for a in agent_configs]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ConfigError(f"agents: label {duplicates[0]!r} is used twice; labels must be unique")
    figures = data.get("figures", ["regret"])
    if not isinstance(figures, list) or any(f not in FIGURES for f in figures):
        raise ConfigError(f"figures = {figures!r}: a list of names from {', '.join(FIGURES)}")
    chunk_size = data.get("chunk_size")
    record_every = data.get("record_every")
    experiment = Experiment(
        env=_env_from_dict(data["env"]),
        agents=agent_configs,
        num_seeds=_require_int("num_seeds", data.get("num_seeds", 10), 1),
        num_steps=_require_int("num_steps", data.get("num_steps", 1000), 1),
        seed=_require_int("seed", data.get("seed", 0), 0),
        name=str(data.get("name", "experiment")),
        description=str(data.get("description", "")),
        figures=list(figures),
        sweep=_sweep_from_dict(data.get("sweep")),
        chunk_size=None if chunk_size is None else _require_int("chunk_size", chunk_size, 1),
        record_every=None
        if record_every is None
        else _require_int("record_every", record_every, 1),
        x64=bool(data.get("x64", False)),
    )
    if experiment.record_every is not None and experiment.num_steps % experiment.record_every:
        raise ConfigError(
            f"record_every = {experiment.record_every}: must divide num_steps = {experiment.num_steps}"
        )
    return experiment


def load_toml(path: str | Path) -> Experiment:
    """Read an experiment file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None
    return from_dict(data)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    if value is None:
        raise ConfigError("TOML has no null: leave the key out instead")
    raise ConfigError(f"cannot write {value!r} to TOML")


def _toml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else _toml_value(key)


def to_toml(experiment: Experiment) -> str:
    """Write an experiment back to TOML (the inverse of :func:`load_toml`)."""
    data = experiment.to_dict()
    lines = []
    for key in ("name", "description", "num_seeds", "num_steps", "seed", "figures", "x64"):
        lines.append(f"{key} = {_toml_value(data[key])}")
    for key in ("chunk_size", "record_every"):
        if key in data:
            lines.append(f"{key} = {_toml_value(data[key])}")
    lines += ["", "[env]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data["env"].items()]
    for agent in data["agents"]:
        lines += ["", "[[agents]]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in agent.items()]
    if "sweep" in data:
        lines += ["", "[sweep]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data["sweep"].items()]
    return "\n".join(lines) + "\n"
