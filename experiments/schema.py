"""The experiment schema: one model for TOML files, presets, the CLI and Python.

An experiment file::

    plugins = ["my_package.my_agents"]   # optional: modules that register your own names
    name = "testbed"
    num_seeds = 2000          # runs per point; the same seeds serve every point and agent
    num_steps = 1000
    seed = 0                  # base seed: seed i of the experiment is fold_in(key(seed), i)
    figures = ["reward", "optimal", "regret"]
    metrics = ["user_drift", "homogeneity"]   # optional: feedback-loop metrics to log too

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

Logged data (``kind = "replay"`` or ``"ope"``; the default ``kind = "simulate"`` is the
online experiment above).  A ``[log]`` table says where the log comes from and how it is
evaluated; ``num_seeds`` / ``num_steps`` count logs (or replay seeds) and rounds (or rows)::

    name = "obd-replay"
    kind = "replay"           # run the [[agents]] online over a uniform-random log (Li et al. 2011)
    num_seeds = 4             # replay seeds (the agents' own randomness)
    num_steps = 10000         # the first num_steps rows of the log

    [log]
    source = "obd"            # the Open Bandit Dataset: policy, campaign, optional path
    policy = "random"         # replay needs the uniform-random log
    campaign = "all"          # all, men, women
    # path = "/data/open_bandit_dataset"   # the full-size dataset (default: the obp sample)
    level = 0.95

    [[agents]]
    label = "linucb"
    name = "linucb"
    mode = "disjoint"

    # kind = "ope": IPS / SNIPS / DM / DR with their intervals.  With source = "obd" each
    # log in `policy` is evaluated for the *other* logging policy, whose on-policy CTR is the
    # truth; with source = "simulate" the [env] is logged by `agent` for num_steps rounds, once
    # per seed, and each of the [[agents]] (trained train_steps rounds, then frozen) is
    # evaluated against its true value on the log's contexts.
    # [log]
    # source = "simulate"
    # agent = { name = "epsilon_greedy", epsilon = 0.2 }   # the logging policy
    # learn = true              # false: the logging agent is frozen (it logs, never updates)
    # pretrain_steps = 0        # rounds it learns on an independent run before logging
    # loggers = [               # optional: several logging policies, one set of logs each;
    #   { label = "uniform", agent = "random", learn = false },   # each overrides agent,
    #   { label = "eps-frozen", learn = false, pretrain_steps = 400 },   # learn and
    #   { label = "eps-learning" },                                # pretrain_steps above
    # ]
    # propensity = "exact"      # auto, exact, monte_carlo (num_samples draws)
    # estimators = ["ips", "snips", "dm", "dr"]
    # interval = "auto"         # auto (BCa; Wilson for SNIPS) or percentile (bootstrap)
    # num_bootstrap = 1000
    # ridge = 1.0               # the reward model of DM and DR

Every check here runs in plain Python, before anything is compiled, and raises
:class:`ConfigError` naming the key and what is allowed.  The ``plugins`` (and the
``driftsim.plugins`` entry points of installed packages, see :mod:`experiments.plugins`)
are imported first, so the names they register are known to every later check.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from experiments.plugins import discover_entry_points, import_plugins
from simulator.params import ConfigError

SWEEP_MODES = ("grid", "list")
#: The opt-in metrics (:data:`experiments.feedback_metrics.NAMES`, without importing jax).
METRICS = (
    "user_drift",
    "homogeneity",
    "coverage",
    "exposure_gini",
    "popularity_bias",
    "utility",
    "utility_initial",
)
FIGURES = (
    "regret",
    "regret_log",
    "reward",
    "optimal",
    "sensitivity",
    "loss",
    "privacy",
    "normalised_regret",
    "ndcg",
    "ctr_by_position",
    "feedback",
    "lorenz",
    "utility_homogeneity",
)
#: The opt-in metrics (the experiment's ``metrics = [...]``) a figure draws:
#: ``(every one of, at least one of)``.
FIGURE_METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "feedback": ((), ("user_drift", "homogeneity")),
    "lorenz": (("exposure_gini",), ()),
    "utility_homogeneity": (("homogeneity", "utility"), ()),
}


def missing_metrics(name: str, metrics: Sequence[str]) -> str | None:
    """Why figure ``name`` cannot be drawn from the logged ``metrics`` (None when it can,
    or when it draws no opt-in metric)."""
    if name not in FIGURE_METRICS:
        return None
    every, one_of = FIGURE_METRICS[name]
    absent = [m for m in every if m not in metrics]
    if absent:
        return f"needs metrics {', '.join(repr(m) for m in every)}; not logged: {', '.join(absent)}"
    if one_of and not any(m in metrics for m in one_of):
        return f"needs one of the metrics {', '.join(repr(m) for m in one_of)}"
    return None


def check_figure_metrics(names: Sequence[str], metrics: Sequence[str]) -> None:
    """ConfigError when a figure of ``names`` draws a metric ``metrics`` does not log
    (e.g. ``figures = ["lorenz"]`` without ``"exposure_gini"`` in ``metrics``)."""
    for name in names:
        why = missing_metrics(name, metrics)
        if why is not None:
            raise ConfigError(
                f"figures = {name!r}: {why} (add them to the experiment's metrics = [...])"
            )


TOP_LEVEL_KEYS = (
    "plugins",
    "name",
    "description",
    "num_seeds",
    "num_steps",
    "seed",
    "figures",
    "metrics",
    "env",
    "agents",
    "sweep",
    "chunk_size",
    "record_every",
    "x64",
    "kind",
    "log",
)
#: What an experiment does: simulate online (the default), replay agents over a log, or
#: evaluate policies off-policy on a log.
KINDS = ("simulate", "replay", "ope")
LOG_SOURCES = ("obd", "simulate")
#: The off-policy estimators (the fields of :class:`experiments.offpolicy.Estimates`).
ESTIMATORS = ("ips", "snips", "dm", "dr")
PROPENSITY_MODES = ("auto", "exact", "monte_carlo")
#: The Open Bandit Dataset's logging policies and campaigns (:mod:`experiments.offpolicy.obd`).
OBD_POLICIES = ("random", "bts")
OBD_CAMPAIGNS = ("all", "men", "women")
#: Keys only an online simulation has.
SIMULATE_ONLY_KEYS = ("figures", "metrics", "sweep", "chunk_size", "record_every")
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


#: ``[log] interval`` values (ope): :data:`experiments.offpolicy.estimators.INTERVALS`.
LOG_INTERVALS = ("auto", "percentile")
#: The keys of one ``[log] loggers`` entry.
LOGGER_KEYS = ("label", "agent", "learn", "pretrain_steps")


@dataclasses.dataclass
class LoggerConfig:
    """One logging policy of a simulated ``kind = "ope"`` log: an entry of ``[log] loggers``
    (its own values, None where it takes the ``[log]`` table's), or the table itself.

    Attributes:
      label: the logger's name in the table (the ``logger`` column).
      agent: the logging agent.
      learn: whether it learns as it logs; False freezes it (it never updates).
      pretrain_steps: rounds it learns on an independent run before logging starts.
    """

    label: str
    agent: AgentConfig | None = None
    learn: bool | None = None
    pretrain_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label}
        if self.agent is not None:
            out["agent"] = {k: v for k, v in self.agent.to_dict().items() if k != "label"}
        if self.learn is not None:
            out["learn"] = self.learn
        if self.pretrain_steps is not None:
            out["pretrain_steps"] = self.pretrain_steps
        return out


@dataclasses.dataclass
class LogConfig:
    """The ``[log]`` table of a ``kind = "replay"`` or ``"ope"`` experiment.

    Attributes:
      source: ``"obd"`` (the Open Bandit Dataset) or ``"simulate"`` (a log recorded from
        the experiment's ``[env]``).
      policy: (obd) the logs to use, from ``random`` and ``bts`` (replay: ``random`` only).
      campaign: (obd) ``all``, ``men`` or ``women``.
      path: (obd) folder of the full-size dataset; None reads the sample inside ``obp``.
      agent: (simulate) the logging agent (replay: ``random``, the uniform policy).
      learn: (simulate, ope) whether the logging agent learns as it logs (rows dependent
        through its state); False freezes it: a fixed logging policy, rows independent
        given the contexts.
      pretrain_steps: (simulate, ope) rounds the logging agent learns on an independent
        run before logging (with ``learn = False``: a fixed policy shaped by what it
        learned, e.g. a skewed ε-greedy).
      loggers: (simulate, ope) several logging policies, each labelled and overriding
        ``agent``, ``learn``, ``pretrain_steps``; empty: the one the table describes
        (:meth:`logging_policies`).
      propensity, num_samples: (simulate, ope) how the logging propensities and the
        targets' action probabilities are computed (:func:`experiments.offpolicy.behaviour`).
      train_steps: (simulate, ope) online rounds each target is trained before it is frozen
        (None: ``num_steps``).
      estimators: (ope) the estimators reported, from :data:`ESTIMATORS`.
      interval: (ope) ``auto`` (BCa bootstrap for IPS, DM, DR; Wilson at Kish's effective
        sample size for SNIPS) or ``percentile`` (the percentile bootstrap); see
        :mod:`experiments.offpolicy.estimators`.
      num_bootstrap, ridge: (ope) bootstrap resamples; the reward model's ridge penalty.
      level: the intervals' level.
    """

    source: str
    policy: list[str] = dataclasses.field(default_factory=list)
    campaign: str = "all"
    path: str | None = None
    agent: AgentConfig | None = None
    learn: bool = True
    pretrain_steps: int = 0
    loggers: list[LoggerConfig] = dataclasses.field(default_factory=list)
    propensity: str = "auto"
    num_samples: int = 256
    train_steps: int | None = None
    estimators: list[str] = dataclasses.field(default_factory=lambda: list(ESTIMATORS))
    interval: str = "auto"
    num_bootstrap: int = 1000
    ridge: float = 1.0
    level: float = 0.95

    def logging_policies(self) -> list[LoggerConfig]:
        """(simulate) The logging policies, every value resolved: the ``loggers`` entries
        with the table's values where they give none, or the table's one logger (labelled
        by its agent's name)."""
        if self.agent is None:
            return []
        entries = self.loggers or [LoggerConfig(label=self.agent.name)]
        return [
            LoggerConfig(
                label=entry.label,
                agent=entry.agent or self.agent,
                learn=self.learn if entry.learn is None else entry.learn,
                pretrain_steps=self.pretrain_steps
                if entry.pretrain_steps is None
                else entry.pretrain_steps,
            )
            for entry in entries
        ]

    def to_dict(self, kind: str) -> dict[str, Any]:
        """The resolved fields that apply to ``kind`` and the source (what :func:`from_dict` reads)."""
        out: dict[str, Any] = {}
        for key in log_keys(kind, self.source):
            value = getattr(self, key)
            if value is None:
                continue
            if key == "policy":
                value = value[0] if len(value) == 1 else list(value)
            elif key == "agent":
                value = {k: v for k, v in value.to_dict().items() if k != "label"}
            elif key == "estimators":
                value = list(value)
            elif key == "loggers":
                if not value:
                    continue
                value = [entry.to_dict() for entry in value]
            out[key] = value
        return out


def log_keys(kind: str, source: str) -> tuple[str, ...]:
    """The ``[log]`` keys that apply to an experiment ``kind`` and a log ``source``."""
    keys = ["source"]
    if source == "obd":
        keys += ["policy", "campaign", "path"]
    else:
        keys += ["agent"]
        if kind == "ope":
            keys += ["learn", "pretrain_steps", "loggers"]
            keys += ["propensity", "num_samples", "train_steps"]
    if kind == "ope":
        keys += ["estimators", "interval", "num_bootstrap", "ridge"]
    return (*keys, "level")


@dataclasses.dataclass
class Experiment:
    """A whole experiment; see the module docstring for the file format.

    Attributes:
      chunk_size: steps per compiled chunk (progress, checkpoints); None picks one.
      record_every: store the mean of each block of this many steps (1 keeps every step);
        None picks 1 unless the stored metrics would not fit comfortably in memory.
      x64: run in float64.
      metrics: opt-in metrics logged besides the environment's own: the feedback-loop
        metrics of :mod:`experiments.feedback_metrics` (``user_drift``, ``homogeneity``,
        ``coverage``, ``exposure_gini``, ``popularity_bias``, ``utility``,
        ``utility_initial``); checked against the environment by the planner.
      kind: ``"simulate"`` (online runs), ``"replay"`` or ``"ope"`` (on the ``log``).
      log: the ``[log]`` table of a replay or ope experiment, else None.
      plugins: modules imported before the experiment's names are checked (see
        :mod:`experiments.plugins`); they are imported when the experiment is made.

    For ``kind = "replay"`` / ``"ope"``, ``num_seeds`` counts replay seeds (or simulated
    logs) and ``num_steps`` the rows used from the log (or the rounds of each simulated
    log); ``env`` is None when the log is the Open Bandit Dataset.
    """

    env: EnvConfig | None
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
    metrics: list[str] = dataclasses.field(default_factory=list)
    kind: str = "simulate"
    log: LogConfig | None = None
    plugins: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.plugins = load_plugins(self.plugins)  # cached when from_dict imported them

    def to_dict(self) -> dict[str, Any]:
        if self.kind != "simulate":
            return self._logged_to_dict()
        out: dict[str, Any] = {
            **self._plugins_dict(),
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
        if self.metrics:
            out["metrics"] = list(self.metrics)
        return out

    def _logged_to_dict(self) -> dict[str, Any]:
        """A replay / ope experiment: no figures, sweep or chunking (they would not apply)."""
        out: dict[str, Any] = {
            **self._plugins_dict(),
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "num_seeds": self.num_seeds,
            "num_steps": self.num_steps,
            "seed": self.seed,
        }
        for key in ("x64", "chunk_size", "record_every"):  # only when set, so that
            if getattr(self, key):  # from_dict names them as the error
                out[key] = getattr(self, key)
        if self.figures != ["regret"]:
            out["figures"] = list(self.figures)
        if not self.sweep.empty:
            out["sweep"] = self.sweep.to_dict()
        if self.env is not None:
            out["env"] = self.env.to_dict()
        if self.agents:
            out["agents"] = [a.to_dict() for a in self.agents]
        if self.log is not None:
            out["log"] = self.log.to_dict(self.kind)
        return out

    def _plugins_dict(self) -> dict[str, Any]:
        return {"plugins": list(self.plugins)} if self.plugins else {}

    def copy(self) -> Experiment:
        return copy.deepcopy(self)


def load_plugins(modules: Any, folder: str | Path | None = None) -> list[str]:
    """Load the installed ``driftsim.plugins`` entry points (once per process), then import
    ``modules``, the experiment's ``plugins``, from ``sys.path`` or ``folder``; returns them
    (ConfigError if one fails)."""
    discover_entry_points()
    return import_plugins(modules, folder=folder)


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


def _agent_from_dict(data: Any, index: int, where: str | None = None) -> AgentConfig:
    named = where
    where = where or f"agents[{index}]"
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
        raise ConfigError(
            f"{named or f'agents.{label}'}.wrappers: must be a list of tables with a 'name'"
        )
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


def _require_choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key} = {value!r}: unknown; allowed: {', '.join(allowed)}")
    return value


def _require_number(key: str, value: Any, low: float, high: float | None = None) -> float:
    """A number in ``(low, high)`` (open bounds)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not value > low or (high is not None and not value < high):
        bounds = f"in ({low:g}, {high:g})" if high is not None else f"> {low:g}"
        raise ConfigError(f"{key} = {value!r}: must be a number {bounds}")
    return float(value)


def _agents_from_list(agents_data: Any, what: str) -> list[AgentConfig]:
    if not isinstance(agents_data, list) or not agents_data:
        raise ConfigError(f"agents: must be a non-empty list of [[agents]] tables{what}")
    agent_configs = [_agent_from_dict(a, i) for i, a in enumerate(agents_data)]
    labels = [a.label for a in agent_configs]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ConfigError(f"agents: label {duplicates[0]!r} is used twice; labels must be unique")
    return agent_configs


def _log_from_dict(data: Any, kind: str) -> LogConfig:
    """The ``[log]`` table of a replay / ope experiment, every field checked."""
    if not isinstance(data, dict) or "source" not in data:
        raise ConfigError(
            f"log: must be a table with a 'source'; allowed: {', '.join(LOG_SOURCES)}"
        )
    source = _require_choice("log.source", data["source"], LOG_SOURCES)
    allowed = log_keys(kind, source)
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"log.{key}: not used with kind = {kind!r} and log.source = {source!r}; "
                f"allowed: {', '.join(allowed)}"
            )
    log = LogConfig(source=source)
    if source == "obd":
        policy = data.get("policy", "random" if kind == "replay" else ["bts", "random"])
        policies = [policy] if isinstance(policy, str) else policy
        if not isinstance(policies, list) or not policies:
            raise ConfigError(
                f"log.policy = {policy!r}: a logging policy or a list of them; "
                f"allowed: {', '.join(OBD_POLICIES)}"
            )
        for item in policies:
            _require_choice("log.policy", item, OBD_POLICIES)
        if len(set(policies)) < len(policies):
            raise ConfigError(f"log.policy = {policy!r}: a policy is listed twice")
        if kind == "replay" and policies != ["random"]:
            raise ConfigError(
                f"log.policy = {policy!r}: replay needs the uniform-random log; allowed: random"
            )
        log.policy = list(policies)
        log.campaign = _require_choice("log.campaign", data.get("campaign", "all"), OBD_CAMPAIGNS)
        if "path" in data:
            log.path = _require_str("log.path", data["path"])
    else:
        agent = data.get("agent", "random" if kind == "replay" else None)
        if agent is None:
            raise ConfigError(
                "log.agent: missing; the logging agent, e.g. "
                'agent = { name = "epsilon_greedy", epsilon = 0.2 }'
            )
        if isinstance(agent, dict) and "label" in agent:
            raise ConfigError("log.agent.label: not used (the logging agent has no label)")
        if isinstance(agent, dict):
            agent = {**agent, "label": "logger"}
        log.agent = _agent_from_dict(agent, 0, where="log.agent")
        log.agent.label = "logger"
        if kind == "replay" and log.agent.name != "random":
            raise ConfigError(
                f"log.agent.name = {log.agent.name!r}: replay needs a uniform-random log; "
                "allowed: random"
            )
        if kind == "ope":
            log.propensity = _require_choice(
                "log.propensity", data.get("propensity", "auto"), PROPENSITY_MODES
            )
            log.num_samples = _require_int("log.num_samples", data.get("num_samples", 256), 1)
            if "train_steps" in data:
                log.train_steps = _require_int("log.train_steps", data["train_steps"], 1)
            log.learn = _require_flag("log.learn", data.get("learn", True))
            log.pretrain_steps = _require_int(
                "log.pretrain_steps", data.get("pretrain_steps", 0), 0
            )
            if "loggers" in data:
                log.loggers = _loggers_from_list(data["loggers"])
    if kind == "ope":
        estimators = data.get("estimators", list(ESTIMATORS))
        if (
            not isinstance(estimators, list)
            or not estimators
            or any(e not in ESTIMATORS for e in estimators)
            or len(set(estimators)) < len(estimators)
        ):
            raise ConfigError(
                f"log.estimators = {estimators!r}: a list of distinct names from "
                f"{', '.join(ESTIMATORS)}"
            )
        log.estimators = list(estimators)
        log.interval = _require_choice("log.interval", data.get("interval", "auto"), LOG_INTERVALS)
        log.num_bootstrap = _require_int("log.num_bootstrap", data.get("num_bootstrap", 1000), 2)
        log.ridge = _require_number("log.ridge", data.get("ridge", 1.0), 0.0)
    log.level = _require_number("log.level", data.get("level", 0.95), 0.0, 1.0)
    return log


def _require_flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} = {value!r}: must be true or false")
    return value


def _loggers_from_list(data: Any) -> list[LoggerConfig]:
    """``[log] loggers``: labelled logging policies, each overriding agent / learn /
    pretrain_steps of the ``[log]`` table."""
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        raise ConfigError(
            f"log.loggers = {data!r}: must be a non-empty list of tables with keys from "
            f"{', '.join(LOGGER_KEYS)}"
        )
    out = []
    for index, entry in enumerate(data):
        where = f"log.loggers[{index}]"
        for key in entry:
            if key not in LOGGER_KEYS:
                raise ConfigError(f"{where}.{key}: unknown; allowed: {', '.join(LOGGER_KEYS)}")
        label = entry.get("label")
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ConfigError(
                f"{where}.label = {label!r}: required; letters, digits and '_', '-', '.', '+'"
            )
        agent = entry.get("agent")
        if isinstance(agent, dict) and "label" in agent:
            raise ConfigError(f"{where}.agent.label: not used (the logger's label names it)")
        config = LoggerConfig(label=label)
        if agent is not None:
            config.agent = _agent_from_dict(agent, 0, where=f"{where}.agent")
            config.agent.label = label
        if "learn" in entry:
            config.learn = _require_flag(f"{where}.learn", entry["learn"])
        if "pretrain_steps" in entry:
            config.pretrain_steps = _require_int(
                f"{where}.pretrain_steps", entry["pretrain_steps"], 0
            )
        out.append(config)
    labels = [c.label for c in out]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ConfigError(
            f"log.loggers: label {duplicates[0]!r} is used twice; labels must be unique"
        )
    return out


def _logged_from_dict(data: dict[str, Any], kind: str, plugins: list[str]) -> Experiment:
    """A ``kind = "replay"`` or ``"ope"`` experiment."""
    if "log" not in data:
        raise ConfigError(
            f"log: missing; kind = {kind!r} needs a [log] table with source = "
            f"{' or '.join(repr(s) for s in LOG_SOURCES)}"
        )
    log = _log_from_dict(data["log"], kind)
    for key in SIMULATE_ONLY_KEYS:
        if key in data:
            raise ConfigError(f"{key}: only with kind = 'simulate'; not used by kind = {kind!r}")
    if data.get("x64"):
        raise ConfigError(f"x64: only with kind = 'simulate'; not used by kind = {kind!r}")
    obd = log.source == "obd"
    if obd and "env" in data:
        raise ConfigError(
            "env: not used with log.source = 'obd' (the log is the data); remove [env]"
        )
    if not obd and "env" not in data:
        raise ConfigError("env: missing; log.source = 'simulate' records its log from an [env]")
    if kind == "ope" and obd:
        if "agents" in data:
            raise ConfigError(
                "agents: not used with kind = 'ope' and log.source = 'obd' (each log is "
                "evaluated for the other logging policy); remove [[agents]]"
            )
        agent_configs = []
    else:
        what = " (the agents to replay)" if kind == "replay" else " (the target policies)"
        agent_configs = _agents_from_list(data.get("agents"), what)
    one_log = kind == "ope" and obd
    num_seeds = _require_int("num_seeds", data.get("num_seeds", 1 if one_log else 10), 1)
    if one_log and num_seeds != 1:
        raise ConfigError(
            f"num_seeds = {num_seeds}: kind = 'ope' on the Open Bandit Dataset evaluates each "
            "fixed log once; must be 1"
        )
    return Experiment(
        env=_env_from_dict(data["env"]) if not obd else None,
        agents=agent_configs,
        num_seeds=num_seeds,
        num_steps=_require_int("num_steps", data.get("num_steps", 10_000 if obd else 1000), 1),
        seed=_require_int("seed", data.get("seed", 0), 0),
        name=str(data.get("name", "experiment")),
        description=str(data.get("description", "")),
        kind=kind,
        log=log,
        plugins=plugins,
    )


def from_dict(data: dict[str, Any], folder: str | Path | None = None) -> Experiment:
    """Build an :class:`Experiment` from a parsed TOML (or JSON) mapping; its ``plugins``
    are imported first, from ``sys.path`` or ``folder`` (the experiment file's)."""
    if not isinstance(data, dict):
        raise ConfigError("an experiment must be a table")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS) - {"format_version", "driftsim"})
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: unknown experiment key; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        )
    plugins = load_plugins(data.get("plugins", []), folder)  # first: they register names
    kind = _require_choice("kind", data.get("kind", "simulate"), KINDS)
    if kind != "simulate":
        return _logged_from_dict(data, kind, plugins)
    if "log" in data:
        raise ConfigError(
            "log: only with kind = 'replay' or 'ope'; this experiment has kind = 'simulate'"
        )
    if "env" not in data:
        raise ConfigError("env: missing; every experiment names an environment")
    agent_configs = _agents_from_list(data.get("agents"), "")
    figures = data.get("figures", ["regret"])
    if not isinstance(figures, list) or any(f not in FIGURES for f in figures):
        raise ConfigError(f"figures = {figures!r}: a list of names from {', '.join(FIGURES)}")
    chunk_size = data.get("chunk_size")
    record_every = data.get("record_every")
    metrics = data.get("metrics", [])
    if not isinstance(metrics, list):
        raise ConfigError(f"metrics = {metrics!r}: a list of names from {', '.join(METRICS)}")
    for name in metrics:
        if name not in METRICS:
            raise ConfigError(f"metrics: unknown metric {name!r}; allowed: {', '.join(METRICS)}")
    check_figure_metrics(figures, metrics)
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
        metrics=list(dict.fromkeys(metrics)),
        plugins=plugins,
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
    return from_dict(data, folder=path.parent)


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
    for key in (
        "plugins",
        "name",
        "description",
        "kind",
        "num_seeds",
        "num_steps",
        "seed",
        "figures",
        "metrics",
        "x64",
    ):
        if key in data:
            lines.append(f"{key} = {_toml_value(data[key])}")
    for key in ("chunk_size", "record_every"):
        if key in data:
            lines.append(f"{key} = {_toml_value(data[key])}")
    if "env" in data:
        lines += ["", "[env]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data["env"].items()]
    if "log" in data:
        lines += ["", "[log]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data["log"].items()]
    for agent in data.get("agents", []):
        lines += ["", "[[agents]]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in agent.items()]
    if "sweep" in data:
        lines += ["", "[sweep]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data["sweep"].items()]
    return "\n".join(lines) + "\n"
