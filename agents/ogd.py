"""Online gradient descent with any optax optimizer, and the online linear model it trains.

The model is linear with a bias, ``s = w·x + b`` with ``theta = (w, b)``, trained one
example at a time: after predicting on ``x_t`` the learner sees the label ``y_t`` and takes
one optimizer step on the per-example loss (see :mod:`agents.losses`)::

    g_t        = grad_theta l(w_t·x_t + b_t, y_t)
    g_t        <- clip_C(g_t) + N(0, (sigma C)^2 I)      (only with private=True)
    g_t        <- g_t + lambda (w_t, 0)                   (L2 on the weights, knob l2)
    g_t        <- g_t min(1, c / ||g_t||)                 (knob clip_norm; 0 = off)
    theta_t+1  = theta_t + optimizer(g_t; eta_t)          (any optax optimizer)
    eta_t      = learning_rate * schedule(t),  t = number of updates so far

:class:`OnlineLinear` is that model (init / score / update); the ``ogd`` agent uses it on
full-information streams and the bandit agents that need a reward model
(:mod:`agents.contextual.linear_greedy`) use the very same class.

Optimizers.  ``optimizer`` is a name, a name with options, or a Python object:

* any optax optimizer that takes a ``learning_rate`` (``sgd``, ``adagrad``, ``rmsprop``,
  ``adam``, ``adamw``, ``adafactor``, ``lion``, ... and ``contrib.NAME`` for
  ``optax.contrib``), see :func:`optimizer_names`; the aliases ``momentum`` (``sgd`` with
  momentum 0.9) and ``nesterov`` (plus Nesterov);
* ``"NAME(key=value, ...)"`` sets options, e.g. ``"rmsprop(centered=True)"``;
* an optax optimizer factory (``optax.adam``) or any function with a ``learning_rate``
  argument that returns a ``GradientTransformation``;
* a ``GradientTransformation`` instance: its output is used as a direction and scaled by
  ``-eta_t`` (pass ``optax.scale_by_adam()``, not ``optax.adam(0.1)``).

Every float option of the optimizer (``b1``, ``b2``, ``eps``, ``momentum``, ``decay``,
``weight_decay``, ...) becomes a traced knob of the hyperparameters under its optax name,
like ``learning_rate``; the optimizer is wrapped in ``optax.inject_hyperparams``, so a grid
of learning rates (or of ``b2``) × seeds is one compiled program.  Non-float options
(booleans, integers, dtypes) are static.

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
decay_steps=1000)"`` (``init_value``, ``peak_value``, ``value`` default to 1).

Privacy.  With ``private=True`` each example's gradient is clipped to norm ``C``
(``dp_clip_norm``) and Gaussian noise of standard deviation ``sigma C``
(``noise_multiplier``) is added, with optax's differentially private aggregation
(``optax.contrib.differentially_private_aggregate``, Abadi et al. 2016) on a batch of
one; the noise key is the update's key.  Each update is then a Gaussian mechanism with
noise multiplier ``sigma`` on one example; see :mod:`agents.privacy` for its
``(epsilon, delta)``.

References: Zinkevich (2003), online gradient descent; Duchi, Hazan & Singer (2011),
AdaGrad; Kingma & Ba (2015), Adam; Abadi et al. (2016), DP-SGD.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax
import optax.contrib

from agents.losses import LOSSES, mean_prediction
from agents.types import Agent, Needs
from simulator import capabilities
from simulator.params import ConfigError, knob
from simulator.types import require

# --------------------------------------------------------------------------------------
# Knobs and hyperparameter classes built from them
# --------------------------------------------------------------------------------------


class KnobSpec(NamedTuple):
    """One traced hyperparameter: its field name, default and allowed range."""

    name: str
    default: float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""


@functools.cache
def hparams_class(class_name: str, specs: tuple[KnobSpec, ...]) -> type:
    """A ``flax.struct.dataclass`` with one :func:`~simulator.params.knob` per spec.

    Cached, so the same static structure always gives the same class (and pytree type).
    """
    annotations = {spec.name: float for spec in specs}
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "__module__": __name__,
        "__qualname__": class_name,
        "__doc__": "Traced hyperparameters: " + ", ".join(spec.name for spec in specs) + ".",
    }
    for spec in specs:
        namespace[spec.name] = knob(
            spec.default,
            low=spec.low,
            high=spec.high,
            low_open=spec.low_open,
            high_open=spec.high_open,
            doc=spec.doc,
        )
    return flax.struct.dataclass(type(class_name, (), namespace))


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
# Optimizers with a learning_rate that do not fit the one-example loop, and why.
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
# Model knobs whose names an optimizer option must not take (it is then prefixed opt_).
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
    """Every optimizer name ``ogd`` accepts: optax's (and ``contrib.*``) plus aliases."""
    return sorted(set(_optax_optimizers()) | set(_ALIASES))


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """A resolved optimizer: the factory, its traced knobs and its static options.

    Attributes:
      name: a readable name (``"adam"``, ``"sgd(momentum=0.9)"``).
      factory: an optax-style factory taking ``learning_rate``, or None for ``direction``.
      knobs: ``(option name, hparams field name, default)`` of the traced float options.
      static: ``(option name, value)`` of the static options.
      direction: a GradientTransformation used as a direction, scaled by ``-eta_t``.
    """

    name: str
    factory: Callable[..., optax.GradientTransformation] | None
    knobs: tuple[tuple[str, str, float], ...] = ()
    static: tuple[tuple[str, Any], ...] = ()
    direction: optax.GradientTransformation | None = None

    def knob_specs(self) -> tuple[KnobSpec, ...]:
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

    def build(self, learning_rate: Callable, hparams: Any) -> optax.GradientTransformation:
        """The optimizer with learning-rate schedule ``learning_rate`` and traced knobs."""
        if self.direction is not None:
            return optax.chain(self.direction, optax.scale_by_learning_rate(learning_rate))
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


# --------------------------------------------------------------------------------------
# The online linear model
# --------------------------------------------------------------------------------------


class LinearParams(NamedTuple):
    """``theta = (w, b)``: weights ``(dim,)`` and bias ``()``, float32."""

    weights: jax.Array
    bias: jax.Array


class ModelState(flax.struct.PyTreeNode):
    """Parameters and optax state of an :class:`OnlineLinear` model."""

    params: LinearParams
    opt_state: Any


_MODEL_KNOBS = (
    KnobSpec("learning_rate", 0.01, 0.0, doc="learning rate eta (peak of the schedule)"),
    KnobSpec("l2", 0.0, 0.0, doc="L2 penalty lambda/2 ||w||^2 added to the loss (not on b)"),
    KnobSpec("clip_norm", 0.0, 0.0, doc="clip the gradient's global norm to this; 0 = off"),
    KnobSpec("initial_bias", 0.0, doc="initial bias b_0 (optimistic if large)"),
)
_DP_KNOBS = (
    KnobSpec("dp_clip_norm", 1.0, 0.0, low_open=True, doc="DP per-example clipping norm C"),
    KnobSpec("noise_multiplier", 1.0, 0.0, doc="DP noise multiplier sigma (noise std sigma*C)"),
)


@dataclasses.dataclass(frozen=True)
class OnlineLinear:
    """A linear model ``s = w·x + b`` trained one example at a time with an optax optimizer.

    Build it with :func:`online_linear`; it is static structure (hashable), its knobs are
    listed by :meth:`knob_specs` and read from any hparams object with those fields.

    Attributes:
      dim: feature dimension of ``x`` (0 gives a bias-only model).
      loss: ``squared``, ``logistic`` or ``hinge``.
      optimizer: the resolved optimizer.
      schedule: the resolved learning-rate schedule.
      private: per-example clipping and Gaussian noise (DP-SGD on a batch of one).
    """

    dim: int
    loss: str
    optimizer: OptimizerSpec
    schedule: ScheduleSpec
    private: bool = False

    def knob_specs(self) -> tuple[KnobSpec, ...]:
        specs = _MODEL_KNOBS + self.schedule.knobs + self.optimizer.knob_specs()
        return specs + (_DP_KNOBS if self.private else ())

    def transformation(self, hparams: Any) -> optax.GradientTransformation:
        """L2, global-norm clipping and the optimizer, built from (traced) ``hparams``."""

        def learning_rate(count):
            return hparams.learning_rate * self.schedule.multiplier(count, hparams)

        max_norm = jnp.where(hparams.clip_norm > 0, hparams.clip_norm, jnp.inf)
        return optax.chain(
            optax.add_decayed_weights(hparams.l2, mask=LinearParams(weights=True, bias=False)),
            optax.clip_by_global_norm(max_norm),
            self.optimizer.build(learning_rate, hparams),
        )

    def init(self, hparams: Any) -> ModelState:
        """``theta_0 = (0, initial_bias)`` and the optimizer's initial state."""
        params = LinearParams(
            weights=jnp.zeros((self.dim,), jnp.float32),
            bias=jnp.asarray(hparams.initial_bias, jnp.float32),
        )
        return ModelState(params=params, opt_state=self.transformation(hparams).init(params))

    def score(self, params: LinearParams, features: jax.Array) -> jax.Array:
        """``w·x + b``, float32 ``()``."""
        return (jnp.sum(features * params.weights) + params.bias).astype(jnp.float32)

    def predict_mean(self, params: LinearParams, features: jax.Array) -> jax.Array:
        """The model's estimate of ``E[y | x]`` (``sigmoid(s)`` for the logistic loss)."""
        return mean_prediction(self.loss, self.score(params, features))

    def gradient(self, params: LinearParams, features: jax.Array, label: jax.Array) -> LinearParams:
        """``grad_theta l(w·x + b, y)`` of one example."""
        loss = LOSSES[self.loss]
        return jax.grad(lambda p: loss(self.score(p, features), label))(params)

    def privatize(self, key: jax.Array, grads: LinearParams, hparams: Any) -> LinearParams:
        """Clip to norm ``C`` and add ``N(0, (sigma C)^2)`` noise, with optax's DP aggregation."""
        aggregate = optax.contrib.differentially_private_aggregate(
            l2_norm_clip=hparams.dp_clip_norm, noise_multiplier=hparams.noise_multiplier, key=key
        )
        per_example = jax.tree.map(lambda g: g[None], grads)  # a batch of one example
        noisy, _ = aggregate.update(per_example, aggregate.init(grads))
        return noisy

    def update(
        self, key: jax.Array, state: ModelState, features: jax.Array, label: jax.Array, hparams: Any
    ) -> ModelState:
        """One optimizer step on the example ``(features, label)``; ``key`` draws DP noise."""
        grads = self.gradient(state.params, features, jnp.asarray(label, jnp.float32))
        if self.private:
            grads = self.privatize(key, grads, hparams)
        updates, opt_state = self.transformation(hparams).update(
            grads, state.opt_state, state.params
        )
        params = optax.apply_updates(state.params, updates)
        params = jax.tree.map(lambda p: p.astype(jnp.float32), params)
        return ModelState(params=params, opt_state=opt_state)


def estimate(state: ModelState) -> jax.Array:
    """``theta_hat = (w, b)`` as one ``(dim + 1,)`` vector, the layout of a stream's
    ``oracle.true_param``."""
    return jnp.concatenate([state.params.weights, state.params.bias[None]])


def online_linear(
    dim: int,
    *,
    optimizer: Any = "sgd",
    schedule: Any = "constant",
    loss: str = "squared",
    private: bool = False,
    field: str = "agent",
) -> OnlineLinear:
    """Validate the static structure (ConfigError before compilation) and build the model."""
    require(
        isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0,
        f"{field}.context_dim = {dim!r}: must be an integer >= 0",
    )
    require(loss in LOSSES, f"{field}.loss = {loss!r}: allowed: {', '.join(LOSSES)}")
    require(isinstance(private, bool), f"{field}.private = {private!r}: must be true or false")
    return OnlineLinear(
        dim=dim,
        loss=loss,
        optimizer=resolve_optimizer(optimizer),
        schedule=resolve_schedule(schedule),
        private=private,
    )


# --------------------------------------------------------------------------------------
# The ogd agent
# --------------------------------------------------------------------------------------


def ogd(
    context_dim: int = 16,
    optimizer: Any = "sgd",
    schedule: Any = "constant",
    loss: str = "squared",
    private: bool = False,
) -> Agent:
    """Online gradient descent on a full-information stream, with any optax optimizer.

    Predict ``s_t = w_t·x_t + b_t``, then learn from the revealed label ``y_t``
    (``transition.label``) with one step of the optimizer on ``l(s_t, y_t)``; see the
    module docstring for the update, the optimizers, schedules and privacy.

    The action is the score ``s_t`` (float32 ``()``): the prediction of ``y`` for the
    squared loss, the log-odds of ``P(y = 1)`` for the logistic loss, a margin for the
    hinge loss.  So the agent needs an environment that expects a prediction and reveals
    the label (``needs``: action ``"prediction"``, feedback ``"label"``), and its
    ``estimate_link`` is ``"logit"`` for the logistic loss (``"identity"`` otherwise).

    Args:
      context_dim: ``d``, the stream's feature dimension (filled from the environment).
      optimizer: optimizer name, ``"name(option=value)"``, optax factory or
        GradientTransformation (see :func:`optimizer_names`).
      schedule: learning-rate schedule (see :func:`schedule_names`).
      loss: ``squared``, ``logistic`` or ``hinge``.
      private: differentially private updates (knobs ``dp_clip_norm``, ``noise_multiplier``).

    Returns:
      An :class:`~agents.types.Agent`; its state is a :class:`ModelState` and
      :func:`estimate` turns it into ``theta_hat = (w, b)``.

    Example::

        agent = ogd(16, optimizer="adam", schedule="inverse_sqrt")
        hp = agent.default_hparams().replace(learning_rate=0.05, b2=0.99)

    Reference: Zinkevich, "Online convex programming and generalized infinitesimal
    gradient ascent" (ICML 2003).
    """
    model = online_linear(
        context_dim, optimizer=optimizer, schedule=schedule, loss=loss, private=private
    )
    hparams_type = hparams_class("OGDHParams", model.knob_specs())

    def init(key, hparams):
        return model.init(hparams)

    def act(key, state, context, hparams):
        return model.score(state.params, context.features)

    def update(key, state, transition, hparams):
        return model.update(key, state, transition.context.features, transition.label, hparams)

    static = {
        "context_dim": context_dim,
        "optimizer": model.optimizer.name,
        "schedule": model.schedule.name,
        "loss": loss,
        "private": private,
    }
    needs = Needs(
        action=capabilities.PREDICTION,
        feedback=capabilities.LABEL,
        context_dim=context_dim,
    )
    return Agent(
        "ogd",
        init,
        act,
        update,
        hparams_type,
        static,
        estimate=estimate,
        needs=needs,
        estimate_link="logit" if loss == "logistic" else "identity",
    )


def register_all(registry) -> None:
    """Register ``ogd`` (the agents package calls this)."""
    registry.register("ogd", ogd, example_env="regression_stream")
