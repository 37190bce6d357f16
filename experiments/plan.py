"""Resolve an experiment into compiled-run groups, validating everything in plain Python.

For each agent label the sweep gives a list of *points* (dicts of swept keys normalised to
``env.FIELD`` / ``agent.FIELD``).  Points that share every static value form a
:class:`PointGroup`: one environment object, one agent object, one compilation, and the
traced values of its points stacked along a leading axis for ``vmap``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import warnings
from typing import Any

import numpy as np

import agents as agent_registry
import simulator
from agents.fit import check_fits, misfits
from agents.types import Agent
from experiments import feedback_metrics
from experiments.schema import AgentConfig, Experiment
from simulator.params import ConfigError, check, fields, replace_path
from simulator.types import Environment

SPEC_FIELDS = ("num_arms", "slate_size", "context_dim", "arm_dim")
#: EnvSpec bounds filled into agents whose confidence radius uses them, unless set: a bound,
#: not a shape, so a value the experiment sets wins (``inf``, none declared, is the agent's
#: to handle: the linear UCB agents fall back to L = 1 with a warning).
BOUND_FIELDS = ("feature_bound",)
#: EnvSpec sizes of the id spaces, filled into agents that embed ids (``two_tower``).
ID_FIELDS = {"num_users": ("user", "user_id"), "num_items": ("item", "item_ids")}


@dataclasses.dataclass
class PointGroup:
    """Points of one agent label that share their static structure (one compilation).

    Attributes:
      indices: positions of these points in the label's point list.
      env, agent: the built objects.
      env_params, hparams: base parameters (unswept values applied).
      traced: ``{"env.drift.rate": array (len(indices), ...), "agent.epsilon": ...}``.
      metrics: the opt-in metrics to log (:mod:`experiments.feedback_metrics`), checked
        against ``env``.
    """

    indices: list[int]
    env: Environment
    agent: Agent
    env_params: Any
    hparams: Any
    traced: dict[str, np.ndarray]
    metrics: tuple[str, ...] = ()


@dataclasses.dataclass
class AgentPlan:
    """Everything needed to run one agent label."""

    label: str
    points: list[dict[str, Any]]
    grid: dict[str, list[Any]] | None
    groups: list[PointGroup]


def _static_value(value: Any, default: Any = None) -> Any:
    """Lists from TOML become tuples, so static fields stay hashable; a whole float
    (``100.0``, from ``logspace`` or a TOML file) becomes an int where the field's
    ``default`` is an int, so integer fields accept it."""
    if isinstance(value, list):
        return tuple(_static_value(v) for v in value)
    if _is_int(default) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer_field(experiment: Experiment, key: str) -> bool:
    """Whether a sweep or ``--set`` key names a field whose default is an integer: a static
    field (of the environment, or of an agent or wrapper the key applies to) or an agent's
    traced knob with an integer default (a sliding window)."""
    scope, label, field = _normalise_key(key, [a.label for a in experiment.agents])
    if scope == "env":
        statics = simulator.REGISTRY.static_fields(experiment.env.name) if experiment.env else {}
        return _is_int(statics.get(field))
    for config in experiment.agents:
        kind = None if label not in (None, config.label) else _agent_field_kind(config, field)
        if kind == "static":
            default = agent_registry.REGISTRY.static_fields(config.name)[field]
        elif kind == "wrapper":
            wrapper, name = field.split(".", 1)
            default = agent_registry.WRAPPERS.static_fields(wrapper).get(name)
        elif kind == "traced":
            default = _knob_default(config, field)
        else:
            continue
        if _is_int(default):
            return True
    return False


def _knob_default(config: AgentConfig, key: str) -> Any:
    """The default value of the agent's traced knob at ``key`` (dotted)."""
    node = _default_agent(config).default_hparams()
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _split_env_fields(name: str, values: dict[str, Any]) -> tuple[dict, dict]:
    static_names = simulator.REGISTRY.static_fields(name)
    static, traced = {}, {}
    for key, value in values.items():
        if "." not in key and key in static_names:
            static[key] = _static_value(value, static_names[key])
        else:
            traced[key] = value
    return static, traced


def build_env(name: str, values: dict[str, Any]) -> tuple[Environment, Any]:
    """The environment and its params, with every value validated."""
    static, traced = _split_env_fields(name, values)
    env = simulator.make(name, **static)
    params = env.default_params()
    check(params, "env")
    for key, value in traced.items():
        params = replace_path(params, key.split("."), _param_value(value), "env")
    return env, params


def _param_value(value: Any) -> Any:
    return np.asarray(value, np.float32) if isinstance(value, list) else value


def _wrapper_names(config: AgentConfig) -> list[str]:
    return [w["name"] for w in config.wrappers]


def _agent_field_kind(config: AgentConfig, key: str) -> str | None:
    """ "static", "traced", "wrapper" or None (the agent has no such field).

    A factory keyword that is also a traced knob (``sw_linucb``'s and
    ``sliding_window_ucb``'s ``window``) is traced: the keyword only sets the knob's default
    for Python callers, and an experiment sweeps the knob in one compiled program."""
    top = key.split(".")[0]
    if top in _wrapper_names(config) and "." in key:
        return "wrapper"
    static_names = agent_registry.REGISTRY.static_fields(config.name)
    hparams = _default_agent(config).default_hparams()
    node = hparams
    for part in key.split("."):
        if not dataclasses.is_dataclass(node) or part not in fields(node):
            return "static" if "." not in key and key in static_names else None
        node = getattr(node, part)
    return "traced"


def _default_agent(config: AgentConfig) -> Agent:
    """The agent with the configured static fields (others default), for introspecting its
    hparams (which may depend on a static choice, e.g. LinUCB's ``radius``)."""
    static_names = agent_registry.REGISTRY.static_fields(config.name)
    static = {
        k: _static_value(v, static_names[k])
        for k, v in config.fields.items()
        if k in static_names and k not in SPEC_FIELDS and k not in ID_FIELDS
    }
    try:
        return agent_registry.make(config.name, **static)
    except ConfigError:  # a static choice that needs the environment's shapes
        return agent_registry.make(config.name)


def build_agent(
    config: AgentConfig, env: Environment, values: dict[str, Any], env_name: str | None = None
) -> tuple[Agent, Any]:
    """The wrapped agent and its hparams for one point, every value validated, and checked
    to fit the environment (its declared needs against ``env.spec``)."""
    prefix = f"agents.{config.label}"
    static_names = agent_registry.REGISTRY.static_fields(config.name)
    static: dict[str, Any] = {}
    traced: dict[str, Any] = {}
    wrapper_fields: dict[str, dict[str, Any]] = {w: {} for w in _wrapper_names(config)}
    for key, value in values.items():
        kind = _agent_field_kind(config, key)
        if kind is None:
            allowed = sorted(static_names) + sorted(
                fields(_default_agent(config).default_hparams())
            )
            head = key.split(".", 1)[0]
            what = f"has no field or wrapper {head!r}" if "." in key else "has no such field"
            hint = (
                ' (a sweep goes in the top-level [sweep] table: "agent.FIELD" = [...])'
                if head == "sweep"
                else ""
            )
            raise ConfigError(
                f"{prefix}.{key}: agent {config.name!r} {what}; allowed: {', '.join(allowed)}{hint}"
            )
        if kind == "static":
            static[key] = _static_value(value, static_names[key])
        elif kind == "wrapper":
            wrapper, field = key.split(".", 1)
            default = agent_registry.WRAPPERS.static_fields(wrapper).get(field)
            wrapper_fields[wrapper][field] = _static_value(value, default)
        else:
            traced[key] = value
    spec = env.spec._asdict()
    for field in SPEC_FIELDS:
        if field not in static_names:
            continue
        if field in static and static[field] != spec[field]:
            raise ConfigError(
                f"{prefix}.{field} = {static[field]!r} does not match the environment's "
                f"{field} = {spec[field]}"
            )
        static[field] = spec[field]
    for field in BOUND_FIELDS:
        if field in static_names and field not in static:
            static[field] = spec[field]
    _fill_ids(prefix, config.name, env, static_names, static)
    agent = agent_registry.make(config.name, **static)
    for wrapper in config.wrappers:
        wanted = agent_registry.WRAPPERS.static_fields(wrapper["name"])
        options = {k: _static_value(v, wanted.get(k)) for k, v in wrapper.items() if k != "name"}
        options.update(wrapper_fields[wrapper["name"]])
        for field in SPEC_FIELDS:  # wrappers that buffer contexts need the env's shapes
            if field in wanted and field not in options:
                options[field] = spec[field]
        agent = agent_registry.wrap(agent, wrapper["name"], **options)
    if misfits(env.spec, agent):
        env_name = env_name or type(env).__name__
        fitting = agents_that_fit(env)
        hint = f"agents that fit {env_name}: {', '.join(fitting)}" if fitting else ""
        check_fits(env, agent, config.label, env_name, hint)
    hparams = agent.default_hparams()
    check(hparams, prefix)
    for key, value in traced.items():
        hparams = replace_path(hparams, key.split("."), _param_value(value), prefix)
    return agent, hparams


def agents_that_fit(env: Environment, limit: int = 4) -> list[str]:
    """Up to ``limit`` registered agents that fit ``env`` when built with its shapes (for
    the hint of a refusal; plain Python, nothing is traced)."""
    spec = env.spec._asdict()
    fitting = []
    for name in agent_registry.names():
        wanted = agent_registry.REGISTRY.static_fields(name)
        static = {f: spec[f] for f in (*SPEC_FIELDS, *ID_FIELDS) if f in wanted}
        try:
            agent = agent_registry.make(name, **static)
        except ConfigError:
            continue
        if not misfits(env.spec, agent):
            fitting.append(name)
        if len(fitting) == limit:
            break
    return fitting


def _fill_ids(
    prefix: str, agent_name: str, env: Environment, static_names, static: dict[str, Any]
) -> None:
    """Fill the id-space sizes (``num_users``, ``num_items``) of an agent that embeds ids.

    Left unset, a field takes the environment's ``EnvSpec`` value, and an environment
    without such ids (value 0) is a ConfigError naming the field; set explicitly, 0 means
    "no ids of that kind" (e.g. a two-tower scoring by features alone) and any other value
    must equal the environment's.
    """
    spec = env.spec
    env_name = type(env).__name__
    for field, (kind, context_field) in ID_FIELDS.items():
        if field not in static_names:
            continue
        provided = getattr(spec, field)
        if field not in static:
            if provided == 0:
                raise ConfigError(
                    f"{prefix}.{field}: agent {agent_name!r} embeds {kind} ids, but the "
                    f"environment {env_name} gives none (its EnvSpec.{field} = 0: no "
                    f"context.{context_field}); use an environment with ids (drifting_users) "
                    f"or set {prefix}.{field} = 0 to use the {kind} features alone"
                )
            static[field] = provided
        elif static[field] != 0 and static[field] != provided:
            allowed = "0" if provided == 0 else f"0 or {provided}"
            raise ConfigError(
                f"{prefix}.{field} = {static[field]!r} does not match the environment "
                f"{env_name}, whose EnvSpec.{field} = {provided}; allowed: {allowed}"
            )


def _normalise_key(key: str, labels: list[str]) -> tuple[str, str | None, str]:
    """``(scope, label, field)`` of a sweep or --set key; scope is "env" or "agent"."""
    if key.startswith("env.") and len(key) > 4:
        return "env", None, key[4:]
    if key.startswith("agent.") and len(key) > 6:
        return "agent", None, key[6:]
    if key.startswith("agents."):
        rest = key[7:]
        for label in sorted(labels, key=len, reverse=True):
            if rest.startswith(label + ".") and len(rest) > len(label) + 1:
                return "agent", label, rest[len(label) + 1 :]
        raise ConfigError(f"{key}: unknown agent label; allowed: {', '.join(labels)}")
    raise ConfigError(f"{key}: a sweep key must be env.FIELD, agent.FIELD or agents.LABEL.FIELD")


def _global_points(experiment: Experiment) -> list[dict[str, Any]]:
    sweep = experiment.sweep
    if sweep.empty:
        return [{}]
    if sweep.mode == "grid":
        keys = list(sweep.axes)
        return [dict(zip(keys, combo)) for combo in itertools.product(*sweep.axes.values())]
    return [dict(p) for p in sweep.points]


def _relevant(experiment: Experiment, config: AgentConfig, key: str) -> str | None:
    """The normalised point key under which ``key`` applies to this agent, or None."""
    labels = [a.label for a in experiment.agents]
    scope, label, field = _normalise_key(key, labels)
    if scope == "env":
        return f"env.{field}"
    if label is not None and label != config.label:
        return None
    if label is None and _agent_field_kind(config, field) is None:
        return None
    return f"agent.{field}"


def _check_sweep_keys(experiment: Experiment) -> None:
    labels = [a.label for a in experiment.agents]
    for key in experiment.sweep.keys():
        scope, label, field = _normalise_key(key, labels)
        if scope == "agent" and label is None:
            if not any(_agent_field_kind(a, field) for a in experiment.agents):
                names = sorted({a.name for a in experiment.agents})
                raise ConfigError(f"sweep key {key}: no agent ({', '.join(names)}) has that field")


def _group_key(point: dict[str, Any], static_keys: set[str]) -> str:
    return json.dumps(
        {k: point[k] for k in sorted(static_keys) if k in point}, sort_keys=True, default=str
    )


def plan_agent(experiment: Experiment, config: AgentConfig) -> AgentPlan:
    """Points and compile groups of one agent label."""
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for global_point in _global_points(experiment):
        point = {}
        for key, value in global_point.items():
            normalised = _relevant(experiment, config, key)
            if normalised is not None:
                point[normalised] = value
        signature = json.dumps(point, sort_keys=True, default=str)
        if signature not in seen:
            seen.add(signature)
            points.append(point)

    env_static_names = set(simulator.REGISTRY.static_fields(experiment.env.name))
    static_keys = set()
    for key in {k for p in points for k in p}:
        field = key.split(".", 1)[1]
        if key.startswith("env."):
            if field in env_static_names:
                static_keys.add(key)
        elif _agent_field_kind(config, field) in ("static", "wrapper"):
            static_keys.add(key)

    by_static: dict[str, list[int]] = {}
    for index, point in enumerate(points):
        by_static.setdefault(_group_key(point, static_keys), []).append(index)
    max_window = _largest_window(config, points)

    groups = []
    windows = []
    for indices in by_static.values():
        first = points[indices[0]]
        env_values = dict(experiment.env.fields)
        env_values.update(
            {k[4:]: v for k, v in first.items() if k in static_keys and k.startswith("env.")}
        )
        env, env_params = build_env(experiment.env.name, env_values)
        agent_values = dict(config.fields)
        agent_values.update(
            {k[6:]: v for k, v in first.items() if k in static_keys and k.startswith("agent.")}
        )
        if max_window is not None:  # an explicit max_window (set or swept) wins
            agent_values.setdefault("max_window", max_window)
        agent, hparams = build_agent(config, env, agent_values, experiment.env.name)
        traced_keys = sorted({k for i in indices for k in points[i]} - static_keys)
        traced: dict[str, np.ndarray] = {}
        for key in traced_keys:
            if any(key not in points[i] for i in indices):
                raise ConfigError(f"sweep: every point must set {key} (some points leave it out)")
            base = env_params if key.startswith("env.") else hparams
            prefix = "env" if key.startswith("env.") else f"agents.{config.label}"
            for i in indices:  # validate every value against its knob's range
                replace_path(base, key.split(".")[1:], _param_value(points[i][key]), prefix)
            traced[key] = np.stack([np.asarray(points[i][key], np.float32) for i in indices])
        group_windows = _group_windows(config, agent_values, hparams, traced)
        _check_max_window(config, agent, group_windows)
        windows.append(group_windows)
        metrics = feedback_metrics.check(env, experiment.metrics) if experiment.metrics else ()
        groups.append(PointGroup(indices, env, agent, env_params, hparams, traced, metrics))
    _warn_long_windows(experiment, config, windows)

    grid = None
    if experiment.sweep.mode == "grid" and not experiment.sweep.empty:
        grid = {}
        for key, values in experiment.sweep.axes.items():
            normalised = _relevant(experiment, config, key)
            if normalised is not None:
                grid[normalised] = list(values)
    return AgentPlan(label=config.label, points=points, grid=grid, groups=groups)


def _traced_window(config: AgentConfig) -> bool:
    """Whether the agent has a traced ``window`` below a static ``max_window`` (a ring
    buffer: ``sw_linucb``, ``sliding_window_ucb``, ``cascade_swucb``)."""
    static_names = agent_registry.REGISTRY.static_fields(config.name)
    return "max_window" in static_names and _agent_field_kind(config, "window") == "traced"


def _window_count(value: Any) -> int | None:
    """A window value as the agent uses it (rounded half to even), or None if no number."""
    try:
        number = float(np.asarray(value, np.float64))
    except (TypeError, ValueError):
        return None
    return int(np.round(number)) if np.isfinite(number) else None


def _largest_window(config: AgentConfig, points: list[dict[str, Any]]) -> int | None:
    """The ``max_window`` an experiment gives an agent with a traced window when it does
    not set one: the largest window among its points (a point without ``agent.window``
    has the configured or default one), so one ring buffer serves every point.  None when
    the experiment gives no window (the factory's default buffer) or the agent has none."""
    if not _traced_window(config):
        return None
    given = [p["agent.window"] for p in points if "agent.window" in p]
    if any("agent.window" not in p for p in points):
        if "window" in config.fields:
            given.append(config.fields["window"])
        elif given:
            given.append(_knob_default(config, "window"))
    counts = [c for c in map(_window_count, given) if c is not None]
    return max(1, *counts) if counts else None


def _group_windows(
    config: AgentConfig, agent_values: dict, hparams: Any, traced: dict
) -> list[Any]:
    """The windows of one compile group's points: the traced knob's values (swept or the
    base value), or the static ``window`` (``m_ucb``); ``[]`` for an agent without one."""
    if "agent.window" in traced:
        return list(traced["agent.window"])
    if dataclasses.is_dataclass(hparams) and "window" in fields(hparams):
        return [hparams.window]
    default = agent_registry.REGISTRY.static_fields(config.name).get("window")
    if default is None:
        return []
    return [_static_value(agent_values.get("window", default), default)]


def _inner_static(agent: Agent) -> dict[str, Any]:
    static = agent.static
    while "agent_static" in static and "max_window" not in static:
        static = static["agent_static"]
    return static


def _check_max_window(config: AgentConfig, agent: Agent, windows: list[Any]) -> None:
    """A traced window must be a whole number (``10.0`` is 10) no larger than the ring
    buffer's ``max_window``; refused before compiling."""
    if not _traced_window(config):
        return
    for value in windows:
        number = float(np.asarray(value, np.float64))
        if not number.is_integer():
            raise ConfigError(f"agents.{config.label}.window = {number:g}: must be an integer >= 1")
    max_window = _inner_static(agent).get("max_window")
    if not _is_int(max_window):
        return
    for value in windows:
        count = _window_count(value)
        if count is not None and count > max_window:
            raise ConfigError(
                f"agents.{config.label}.window = {float(value):g}: larger than "
                f"agents.{config.label}.max_window = {max_window}, the length of its ring "
                "buffer (static); raise max_window, or leave it unset and the experiment "
                "sizes it to its largest window"
            )


class WindowWarning(UserWarning):
    """An agent's window is longer than the run (see :func:`plan`)."""


def _warn_long_windows(experiment: Experiment, config: AgentConfig, windows: list) -> None:
    """Warn when the ``window`` of an agent that takes one as a factory keyword
    (``sliding_window_ucb``, ``sw_linucb``: traced; ``m_ucb``: static) exceeds
    ``num_steps``: it would never slide."""
    if "window" not in agent_registry.REGISTRY.static_fields(config.name):
        return
    values = [_window_count(w) for group in windows for w in group]
    long = sorted({w for w in values if w is not None and w > experiment.num_steps})
    if long:
        warnings.warn(
            f"agents.{config.label}.window = {', '.join(map(str, long))}: longer than the run "
            f"(num_steps = {experiment.num_steps}); the window never slides, so the agent "
            "never forgets",
            WindowWarning,
            stacklevel=2,
        )


def plan(experiment: Experiment) -> list[AgentPlan]:
    """Validate the experiment and resolve it into compile groups, before any compilation."""
    build_env(experiment.env.name, dict(experiment.env.fields))
    _check_sweep_keys(experiment)
    return [plan_agent(experiment, config) for config in experiment.agents]
