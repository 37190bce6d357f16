"""Optax optimizers and learning-rate schedules named in a config, with traced options.

A learner's ``optimizer`` is a name, a name with options, or a Python object:

* any optax optimizer that takes a ``learning_rate`` (``sgd``, ``adagrad``, ``rmsprop``,
  ``adam``, ``adamw``, ``adafactor``, ``lion``, ... and ``contrib.NAME`` for
  ``optax.contrib``), see :func:`optimizer_names`; the aliases ``momentum`` (``sgd`` with
  momentum 0.9) and ``nesterov`` (plus Nesterov);
* ``"NAME(key=value, ...)"`` sets options, e.g. ``"rmsprop(centered=True)"``
  (:func:`parse_call`);
* an optax optimizer factory (``optax.adam``) or any function with a ``learning_rate``
  argument that returns a ``GradientTransformation``;
* a ``GradientTransformation`` instance: its output is used as a direction and scaled by
  ``-eta_t`` (pass ``optax.scale_by_adam()``, not ``optax.adam(0.1)``).

:func:`resolve_optimizer` turns it into an :class:`OptimizerSpec` (ConfigError before any
compilation for unknown names or options).  Every float option of the optimizer (``b1``,
``b2``, ``eps``, ``momentum``, ``decay``, ``weight_decay``, ...) is a knob under its optax
name, like ``learning_rate`` (:meth:`OptimizerSpec.knob_specs`): a learner that puts these
knobs in its hyperparameters (``ogd``, ``linear_greedy``) gets the optimizer wrapped in
``optax.inject_hyperparams``, so a grid of learning rates (or of ``b2``) × seeds is one
compiled program.  Non-float options (booleans, integers, dtypes) are static.  A learner
whose only traced knob is ``learning_rate`` (the neural agents) builds the optimizer with
its options at their resolved values (:meth:`OptimizerSpec.build` without ``hparams``).

Schedules.  ``schedule`` names a built-in schedule whose knobs are traced (multiplier of
``learning_rate`` at update ``t``; ``tau = lr_decay_steps``):

* ``constant``: 1;
* ``inverse_sqrt``: ``1 / sqrt(1 + t / tau)``;
* ``inverse_time``: ``1 / (1 + t / tau)``;
* ``polynomial``: ``(1 + t / tau)^(-lr_power)``;
* ``exponential``: ``lr_decay_rate^(t / tau)``;
* ``cosine``: ``f + (1 - f) (1 + cos(pi min(t, tau) / tau)) / 2``, ``f = lr_final_fraction``;

or any optax schedule with static options, as a shape scaled by ``learning_rate``:
``"warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=100,
decay_steps=1000)"`` (``init_value``, ``peak_value``, ``value`` default to 1); see
:func:`schedule_names` and :func:`resolve_schedule`.

References: Duchi, Hazan & Singer (2011), AdaGrad; Kingma & Ba (2015), Adam.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
import optax.contrib

from agents.knobs import KnobSpec
from simulator.params import ConfigError

# --------------------------------------------------------------------------------------
# Names with options
# --------------------------------------------------------------------------------------


def parse_call(text: str, what: str) -> tuple[str, dict[str, Any]]:
    """``"adam"`` -> ``("adam", {})``; ``"sgd(momentum=0.9)"`` -> ``("sgd", {"momentum": 0.9})``.

    Option values are Python literals.  Raises ConfigError naming ``what`` otherwise.
    """
    usage = f"{what} = {text!r}: expected NAME or NAME(option=value, ...) with literal values"
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(usage) from None
    func, keywords = node, []
    if isinstance(node, ast.Call):
        if node.args:
            raise ConfigError(usage + " (options must be named)")
        func, keywords = node.func, node.keywords
    if not isinstance(func, (ast.Name, ast.Attribute)):
        raise ConfigError(usage)
    kwargs: dict[str, Any] = {}
    for keyword in keywords:
        if keyword.arg is None:
            raise ConfigError(usage)
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ConfigError(usage) from None
    return ast.unparse(func), kwargs


# --------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------

_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
}
# Optimizers with a learning_rate that do not fit a plain gradient step, and why.
_EXCLUDED: dict[str, str] = {
    "lbfgs": "needs the loss value and a line search in every update",
    "noisy_sgd": "draws its own noise from a fixed key; use private=True for noisy gradients",
    "contrib.dpsgd": "use private=True (per-example clipping and noise with the update's key)",
    "contrib.momo": "needs the loss value in every update",
    "contrib.momo_adam": "needs the loss value in every update",
    "contrib.sophia": "needs the objective function for its Hessian estimate",
    "optimistic_adam": "deprecated by optax; use optimistic_adam_v2",
    "sm3": "fails on the scalar bias parameter",
}
# Knobs of the learners that embed an optimizer's knobs (agents.linear_model, ogd,
# linear_greedy): an optimizer option with one of these names is prefixed opt_.
_RESERVED = {
    "learning_rate",
    "l2",
    "clip_norm",
    "initial_bias",
    "dp_clip_norm",
    "noise_multiplier",
    "epsilon",
    "temperature",
    "lr_decay_steps",
    "lr_power",
    "lr_decay_rate",
    "lr_final_fraction",
}
_UNIT_INTERVAL = {"b1", "b2", "b3", "beta", "decay", "decay_rate", "momentum", "rho", "beta3"}
_NON_NEGATIVE = {
    "eps",
    "eps_root",
    "weight_decay",
    "initial_accumulator_value",
    "initial_scale",
    "min_norm",
    "trust_coefficient",
    "clipping_threshold",
    "eta_minus",
    "eta_plus",
    "min_step_size",
    "max_step_size",
}


def _takes_learning_rate(fn: Any) -> bool:
    if not callable(fn) or inspect.isclass(fn):
        return False
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if "learning_rate" not in parameters:
        return False
    required = [
        p
        for name, p in parameters.items()
        if name != "learning_rate"
        and p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return not required


@functools.lru_cache(maxsize=1)
def _optax_optimizers() -> dict[str, Callable[..., optax.GradientTransformation]]:
    found = {}
    for module, prefix in ((optax, ""), (optax.contrib, "contrib.")):
        for attr in dir(module):
            if attr.startswith("_") or attr.startswith("scale_by"):
                continue
            name = prefix + attr
            if name in _EXCLUDED:
                continue
            fn = getattr(module, attr)
            if _takes_learning_rate(fn):
                found[name] = fn
    return found


def optimizer_names() -> list[str]:
    """Every optimizer name :func:`resolve_optimizer` accepts: optax's (and
    ``contrib.*``) plus aliases."""
    return sorted(set(_optax_optimizers()) | set(_ALIASES))


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """A resolved optimizer: the factory, its traced knobs and its static options.

    Attributes:
      name: a readable name (``"adam"``, ``"sgd(momentum=0.9)"``).
      factory: an optax-style factory taking ``learning_rate``, or None for ``direction``.
      knobs: ``(option name, hparams field name, value)`` of the float options (traced
        when built with ``hparams``; ``value`` is the knob's default).
      static: ``(option name, value)`` of the static options.
      direction: a GradientTransformation used as a direction, scaled by ``-eta_t``.
    """

    name: str
    factory: Callable[..., optax.GradientTransformation] | None
    knobs: tuple[tuple[str, str, float], ...] = ()
    static: tuple[tuple[str, Any], ...] = ()
    direction: optax.GradientTransformation | None = None

    def knob_specs(self) -> tuple[KnobSpec, ...]:
        """The float options as knobs of a learner's hyperparameters (range by option)."""
        specs = []
        for option, field, default in self.knobs:
            doc = f"optimizer option {option} (traced)"
            if option in _UNIT_INTERVAL:
                specs.append(KnobSpec(field, default, 0.0, 1.0, doc=doc))
            elif option in _NON_NEGATIVE:
                specs.append(KnobSpec(field, default, 0.0, doc=doc))
            else:
                specs.append(KnobSpec(field, default, doc=doc))
        return tuple(specs)

    def build(self, learning_rate: Any, hparams: Any = None) -> optax.GradientTransformation:
        """The optimizer with learning rate (or schedule ``count -> rate``) ``learning_rate``.

        With ``hparams`` its float options are read from the fields named in
        :attr:`knobs` (traced: the factory is wrapped in ``optax.inject_hyperparams``);
        without, they keep their resolved values and the factory is called directly, so
        ``build(lr)`` of ``"adam"`` is exactly ``optax.adam(learning_rate=lr)``.
        """
        if self.direction is not None:
            return optax.chain(self.direction, optax.scale_by_learning_rate(learning_rate))
        if hparams is None:
            values = {option: value for option, _, value in self.knobs}
            return self.factory(learning_rate=learning_rate, **values, **dict(self.static))
        knob_names = {option for option, _, _ in self.knobs}
        static_args = [
            p for p in inspect.signature(self.factory).parameters if p != "learning_rate"
        ]
        static_args = [p for p in static_args if p not in knob_names]
        injected = optax.inject_hyperparams(self.factory, static_args=static_args)
        values = {option: getattr(hparams, field) for option, field, _ in self.knobs}
        return injected(learning_rate=learning_rate, **values, **dict(self.static))


def resolve_optimizer(optimizer: Any) -> OptimizerSpec:
    """An :class:`OptimizerSpec` from a name, ``"name(options)"``, factory or transformation.

    Raises ConfigError (before any compilation) for unknown names or options.
    """
    if isinstance(optimizer, optax.GradientTransformation):
        return OptimizerSpec(name=repr(optimizer), factory=None, direction=optimizer)
    if isinstance(optimizer, str):
        name, options = parse_call(optimizer, "agent.optimizer")
        if name in _EXCLUDED:
            raise ConfigError(f"agent.optimizer = {name!r} is not supported: {_EXCLUDED[name]}")
        if name in _ALIASES:
            base, alias_options = _ALIASES[name]
            name, options = base, {**alias_options, **options}
        factories = _optax_optimizers()
        if name not in factories:
            raise ConfigError(
                f"agent.optimizer = {name!r}: unknown optimizer; allowed: "
                + ", ".join(optimizer_names())
            )
        factory = factories[name]
        label = optimizer.strip()
    elif _takes_learning_rate(optimizer):
        factory, options = optimizer, {}
        label = getattr(optimizer, "__name__", repr(optimizer))
    else:
        raise ConfigError(
            f"agent.optimizer = {optimizer!r}: must be an optimizer name ("
            + ", ".join(optimizer_names())
            + "), an optax factory taking learning_rate, or a GradientTransformation"
        )
    parameters = inspect.signature(factory).parameters
    allowed = [p for p in parameters if p != "learning_rate"]
    for option in options:
        if option not in allowed:
            raise ConfigError(
                f"agent.optimizer = {label!r}: unknown option {option!r}; allowed: "
                + (", ".join(allowed) or "none")
                + (
                    " (the learning rate is the knob learning_rate)"
                    if option == "learning_rate"
                    else ""
                )
            )
    knobs, static = [], []
    for option in allowed:
        default = parameters[option].default
        value = options.get(option, default)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        float_like = isinstance(default, float) or default is None
        if is_number and float_like and not isinstance(default, bool):
            field = f"opt_{option}" if option in _RESERVED else option
            knobs.append((option, field, float(value)))
        elif option in options:
            static.append((option, value))
    return OptimizerSpec(name=label, factory=factory, knobs=tuple(knobs), static=tuple(static))


# --------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------

_TAU = KnobSpec(
    "lr_decay_steps", 100.0, 0.0, low_open=True, doc="schedule time scale tau (updates)"
)
_BUILTIN_SCHEDULES: dict[
    str, tuple[tuple[KnobSpec, ...], Callable[[jax.Array, Any], jax.Array]]
] = {
    "constant": ((), lambda t, hp: jnp.ones_like(t)),
    "inverse_sqrt": ((_TAU,), lambda t, hp: jax.lax.rsqrt(1.0 + t / hp.lr_decay_steps)),
    "inverse_time": ((_TAU,), lambda t, hp: 1.0 / (1.0 + t / hp.lr_decay_steps)),
    "polynomial": (
        (_TAU, KnobSpec("lr_power", 0.5, 0.0, doc="decay exponent p of (1 + t/tau)^-p")),
        lambda t, hp: jnp.power(1.0 + t / hp.lr_decay_steps, -hp.lr_power),
    ),
    "exponential": (
        (
            _TAU,
            KnobSpec("lr_decay_rate", 0.5, 0.0, 1.0, low_open=True, doc="decay per tau updates"),
        ),
        lambda t, hp: jnp.power(hp.lr_decay_rate, t / hp.lr_decay_steps),
    ),
    "cosine": (
        (
            _TAU._replace(default=1000.0, doc="cosine decay length tau (updates)"),
            KnobSpec("lr_final_fraction", 0.0, 0.0, 1.0, doc="final learning rate / initial"),
        ),
        lambda t, hp: (
            hp.lr_final_fraction
            + (1.0 - hp.lr_final_fraction)
            * 0.5
            * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, hp.lr_decay_steps) / hp.lr_decay_steps))
        ),
    ),
}
_SCALE_ARGS = ("init_value", "peak_value", "value")


def _optax_schedules() -> list[str]:
    names = []
    for attr in dir(optax):
        if attr.startswith("_") or attr == "join_schedules":
            continue
        if attr.endswith("_schedule") or attr == "exponential_decay":
            names.append(attr)
    return sorted(names)


def schedule_names() -> list[str]:
    """Built-in schedules (traced knobs) and optax schedules (static options)."""
    return sorted(_BUILTIN_SCHEDULES) + _optax_schedules()


@dataclasses.dataclass(frozen=True)
class ScheduleSpec:
    """A resolved schedule: ``multiplier(t, hparams)`` scales ``learning_rate``."""

    name: str
    knobs: tuple[KnobSpec, ...]
    shape: Callable[[jax.Array, Any], jax.Array]

    def multiplier(self, count: jax.Array, hparams: Any) -> jax.Array:
        return self.shape(jnp.asarray(count, jnp.float32), hparams)


def resolve_schedule(schedule: Any) -> ScheduleSpec:
    """A :class:`ScheduleSpec` from a built-in name, ``"optax_schedule(options)"`` or a
    callable ``t -> multiplier`` (Python API)."""
    if callable(schedule) and not isinstance(schedule, str):
        return ScheduleSpec(repr(schedule), (), lambda t, hp: jnp.asarray(schedule(t), jnp.float32))
    if not isinstance(schedule, str):
        raise ConfigError(f"agent.schedule = {schedule!r}: allowed: {', '.join(schedule_names())}")
    name, options = parse_call(schedule, "agent.schedule")
    if name in _BUILTIN_SCHEDULES:
        if options:
            raise ConfigError(
                f"agent.schedule = {schedule!r}: built-in schedules take no options; set their "
                f"knobs ({', '.join(k.name for k in _BUILTIN_SCHEDULES[name][0]) or 'none'}) instead"
            )
        knobs, shape = _BUILTIN_SCHEDULES[name]
        return ScheduleSpec(name, knobs, shape)
    if name not in _optax_schedules():
        raise ConfigError(
            f"agent.schedule = {name!r}: unknown schedule; allowed: {', '.join(schedule_names())}"
        )
    factory = getattr(optax, name)
    parameters = inspect.signature(factory).parameters
    for option in options:
        if option not in parameters:
            raise ConfigError(
                f"agent.schedule = {schedule!r}: unknown option {option!r}; allowed: {', '.join(parameters)}"
            )
    for arg in _SCALE_ARGS:
        if (
            arg in parameters
            and arg not in options
            and parameters[arg].default is inspect.Parameter.empty
        ):
            options[arg] = 1.0
    missing = [
        p
        for p, v in parameters.items()
        if v.default is inspect.Parameter.empty and p not in options
    ]
    if missing:
        raise ConfigError(f"agent.schedule = {schedule!r}: missing option(s) {', '.join(missing)}")
    try:
        fn = factory(**options)
        value = float(fn(0))
    except Exception as err:  # noqa: BLE001 - any failure of a user option is a config error
        raise ConfigError(f"agent.schedule = {schedule!r}: {err}") from None
    if not math.isfinite(value):
        raise ConfigError(f"agent.schedule = {schedule!r}: not finite at t = 0")
    return ScheduleSpec(schedule.strip(), (), lambda t, hp: jnp.asarray(fn(t), jnp.float32))
