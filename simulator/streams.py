"""Full-information streams: online regression and classification with a drifting truth.

At each round the learner sees a context ``x_t``, predicts a real number ``s_t`` (its
action: a float32 scalar), and then the label ``y_t`` of that context is revealed with the
next timestep (``TimeStep.label``: the label of the *previous* context)::

    x_t ~ N(0, feature_scale^2 I_d)
    f*_t = w*_t · x_t + b*_t                     theta*_t = (w*_t, b*_t), shape (d + 1,)
    regression:      y_t = f*_t + noise * z_t,   z_t ~ N(0, 1)
    classification:  y_t ~ Bernoulli(p_t),       p_t = q + (1 - 2q) sigmoid(f*_t)

(a label drawn from ``sigmoid(f*)`` and then flipped with probability ``q = label_noise``).
``theta*`` starts at ``w* ~ N(0, param_scale^2 / d I)``, ``b* ~ N(0, bias_scale^2)`` and
moves after each round under any drift process of :mod:`simulator.drift` (static ``drift``
and ``drift_options``; its knobs are the nested params ``drift``, e.g. ``env.drift.rate``).
The label of round ``t`` is drawn under ``theta*_t``, then the world drifts, then the next
context is drawn; the next timestep's oracle holds ``theta*_{t+1}``.  The stream never
depends on the learner's actions, so every agent and hyperparameter point of a seed sees
the very same sequence (common random numbers) and :func:`replay` can regenerate it.

Metrics (:class:`StreamLog`, per round, for the prediction ``s`` on ``x_t``):

* ``loss``: the loss of ``s`` on the revealed label: ``(s - y)^2 / 2`` (regression) or the
  log loss of ``sigmoid(s)``, ``log(1 + e^s) - y s`` (classification: the action is a
  log-odds score); ``reward = -loss``.
* ``regret``: dynamic regret against the moving truth, the *expected* excess loss given
  ``x_t`` over the Bayes-optimal prediction under ``theta*_t``: ``(s - f*_t)^2 / 2`` for
  regression (the expected loss is ``(s - f*)^2 / 2 + noise^2 / 2``), and
  ``KL(Bernoulli(p_t) || Bernoulli(sigmoid(s)))`` for classification (zero at
  ``s = logit(p_t)``, which is ``f*_t`` when ``q = 0``).  Label noise is not regret, so the
  cumulative regret of the truth itself is exactly 0.
* ``optimal``: regression: 1 when ``|s - f*| <= 0.01 (1 + |f*|)``; classification: 1 when
  ``s`` puts ``x_t`` on the Bayes classifier's side (``s > 0`` iff ``p_t > 1/2``).
* ``error`` (classification only): 1 when the predicted class ``1[s > 0]`` differs from
  the revealed label.

Oracle.  The action is a real prediction, not a choice among arms, so the oracle's
``expected_reward`` (shape ``(1,)``) holds the Bayes prediction ``E[y_t | x_t]``: ``f*_t``
for regression, ``p_t`` for classification (the metrics need it; learners never read it);
``true_param`` is ``theta*_t = (w*_t, b*_t)`` and ``change_point`` the drift's flag.

Regret against the best *fixed* parameter in hindsight (static regret) needs the whole
sequence; :func:`replay` regenerates it and :func:`hindsight_losses` gives the per-round
increments of ``min_theta sum_{s <= t} loss_s(theta)`` for the squared loss (exact
recursive least squares), so ``cumsum(loss - hindsight)`` is the static regret curve.

``seed_example`` is the worked example of the article the project started from, corrected:
``x = 1, 2, ..., 5, 1, 2, ...``, ``y = x + 1``; a learner with a bias, ``theta = (w, b)``,
starting at ``(0, 0)``, converges to ``w = 1`` (slope ``theta_1``) and ``b = 1`` (bias
``theta_0``).  The article's code forgot the bias's gradient.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities, pytree
from simulator import drift as drift_module
from simulator.params import knob
from simulator.registry import Registry
from simulator.types import (
    Context,
    Environment,
    EnvSpec,
    TimeStep,
    make_oracle,
    make_timestep,
    require,
)

Array = jax.Array


class StreamLog(NamedTuple):
    """Per-round metrics of a regression stream (see the module docstring).

    Attributes:
      reward: ``-loss``.
      regret: expected excess loss over the Bayes prediction under the current truth.
      optimal: 1.0 when the prediction is within 1% of ``f*`` (see module docstring).
      loss: loss of the prediction on the revealed label.
    """

    reward: Array
    regret: Array
    optimal: Array
    loss: Array


class ClassificationLog(NamedTuple):
    """Per-round metrics of a classification stream: :class:`StreamLog` plus ``error``."""

    reward: Array
    regret: Array
    optimal: Array
    loss: Array
    error: Array


class StreamState(pytree.PyTreeNode):
    """The truth ``theta* = (w*, b*)`` with its drift state, and the current context."""

    drift: drift_module.DriftState
    features: Array


def linear_truth(true_param: Array, features: Array) -> Array:
    """``f* = w*·x + b*`` for ``true_param = (w*, b*)`` of shape ``(d + 1,)``."""
    return jnp.dot(features, true_param[:-1]) + true_param[-1]


def _context(features: Array) -> Context:
    return Context(
        features=features.astype(jnp.float32), arm_features=jnp.zeros((1, 0), jnp.float32)
    )


def _as_prediction(action: Array) -> Array:
    return jnp.asarray(action, jnp.float32).reshape(())


def _entropy(p: Array) -> Array:
    """Bernoulli entropy in nats, 0 at p in {0, 1}."""
    return -(jax.scipy.special.xlogy(p, p) + jax.scipy.special.xlogy(1.0 - p, 1.0 - p))


def squared_log(prediction: Array, label: Array, truth: Array) -> StreamLog:
    """:class:`StreamLog` of a real prediction against a label drawn around ``truth``."""
    loss = 0.5 * jnp.square(prediction - label)
    gap = prediction - truth
    return StreamLog(
        reward=(-loss).astype(jnp.float32),
        regret=(0.5 * jnp.square(gap)).astype(jnp.float32),
        optimal=(jnp.abs(gap) <= 0.01 * (1.0 + jnp.abs(truth))).astype(jnp.float32),
        loss=loss.astype(jnp.float32),
    )


# --------------------------------------------------------------------------------------
# Linear streams with a drifting truth
# --------------------------------------------------------------------------------------


@pytree.dataclass
class RegressionParams:
    noise: float = knob(0.5, low=0.0, doc="label noise standard deviation")
    feature_scale: float = knob(1.0, low=0.0, doc="standard deviation of each feature")
    param_scale: float = knob(1.0, low=0.0, doc="w* ~ N(0, param_scale^2 / d I) at reset")
    bias_scale: float = knob(1.0, low=0.0, doc="b* ~ N(0, bias_scale^2) at reset")
    drift: Any = None


@pytree.dataclass
class ClassificationParams:
    label_noise: float = knob(0.0, low=0.0, high=0.5, doc="probability q of flipping a label")
    feature_scale: float = knob(1.0, low=0.0, doc="standard deviation of each feature")
    param_scale: float = knob(2.0, low=0.0, doc="w* ~ N(0, param_scale^2 / d I) at reset")
    bias_scale: float = knob(0.5, low=0.0, doc="b* ~ N(0, bias_scale^2) at reset")
    drift: Any = None


@dataclasses.dataclass(frozen=True)
class _LinearStream(Environment):
    context_dim: int = 16
    drift: str = "stationary"
    drift_options: tuple = ()

    def __post_init__(self):
        require(
            isinstance(self.context_dim, int)
            and not isinstance(self.context_dim, bool)
            and self.context_dim >= 1,
            f"env.context_dim = {self.context_dim!r}: must be an integer >= 1",
        )
        options = drift_module.options_tuple(self.drift_options)
        object.__setattr__(self, "drift_options", options)
        object.__setattr__(self, "_process", drift_module.build(self.drift, options))

    @property
    def spec(self) -> EnvSpec:
        # the action is a real prediction; the label is revealed (full information); the
        # reward is -loss; true_param = (w*, b*) of the linear predictor
        return EnvSpec(
            num_arms=1,
            context_dim=self.context_dim,
            arm_dim=0,
            action=capabilities.PREDICTION,
            feedback=capabilities.LABEL,
            reward=capabilities.real(),
            param_link=self._param_link(),
        )

    def _param_link(self) -> str:
        """``"identity"``: ``y`` is linear in ``x``; ``"logit"``: its log-odds are."""
        raise NotImplementedError

    def _params_type(self):
        raise NotImplementedError

    def default_params(self):
        return self._params_type()(drift=self._process.default_params())

    def _draw_features(self, key: Array, params) -> Array:
        return params.feature_scale * jax.random.normal(key, (self.context_dim,), jnp.float32)

    def _label_mean(self, truth: Array, params) -> Array:
        """``E[y | x]``, what the oracle's ``expected_reward[0]`` holds."""
        raise NotImplementedError

    def _timestep(self, state: StreamState, reward, label, params) -> TimeStep:
        theta = state.drift.theta
        truth = linear_truth(theta, state.features)
        oracle = make_oracle(
            self._label_mean(truth, params)[None],
            change_point=state.drift.change_point,
            true_param=theta,
        )
        return make_timestep(_context(state.features), reward, oracle, label=label)

    def reset(self, key, params):
        key_weights, key_bias, key_drift, key_features = jax.random.split(key, 4)
        weights = (
            params.param_scale
            / math.sqrt(self.context_dim)
            * jax.random.normal(key_weights, (self.context_dim,), jnp.float32)
        )
        bias = params.bias_scale * jax.random.normal(key_bias, (1,), jnp.float32)
        theta0 = jnp.concatenate([weights, bias])
        state = StreamState(
            drift=self._process.init(key_drift, theta0, params.drift),
            features=self._draw_features(key_features, params),
        )
        return state, self._timestep(state, 0.0, jnp.nan, params)

    def _label_and_loss(self, z: Array, truth: Array, prediction: Array, params):
        """The label of the current features from one standard normal ``z``, and its loss."""
        raise NotImplementedError

    def step(self, key, state, action, params):
        key_draw, key_drift = jax.random.split(key)
        # One draw of d + 1 standard normals: the label's noise, then the next features
        # (one random-bits call instead of two: random numbers are most of this loop).
        z = jax.random.normal(key_draw, (self.context_dim + 1,), jnp.float32)
        truth = linear_truth(state.drift.theta, state.features)
        label, loss = self._label_and_loss(z[0], truth, _as_prediction(action), params)
        state = StreamState(
            drift=self._process.step(key_drift, state.drift, params.drift),
            features=params.feature_scale * z[1:],
        )
        return state, self._timestep(state, -loss, label, params)


@dataclasses.dataclass(frozen=True)
class RegressionStream(_LinearStream):
    """Online linear regression: ``y = w*·x + b* + noise * z`` with a drifting truth.

    The action is the prediction ``y_hat`` (float32 scalar); loss ``(y_hat - y)^2 / 2``;
    dynamic regret ``(y_hat - f*)^2 / 2`` (see the module docstring).

    Args:
      context_dim: ``d``, the number of features.
      drift: a drift process of :mod:`simulator.drift` moving ``theta* = (w*, b*)``.
      drift_options: its static options, e.g. ``(("redraw", "negate"),)`` for ``abrupt``.

    Example::

        env = RegressionStream(context_dim=8, drift="random_walk")
        params = env.default_params().replace(noise=0.1)

    Reference: Zinkevich (2003) for online convex optimisation; Besbes, Gur & Zeevi (2015)
    for dynamic regret under a drifting truth.
    """

    def _params_type(self):
        return RegressionParams

    def _param_link(self):
        return "identity"

    def _label_mean(self, truth, params):
        return truth

    def _label_and_loss(self, z, truth, prediction, params):
        label = truth + params.noise * z
        return label, 0.5 * jnp.square(prediction - label)

    def log(self, timestep, action, next_timestep):
        truth = timestep.oracle.expected_reward[0]
        return squared_log(_as_prediction(action), next_timestep.label, truth)


@dataclasses.dataclass(frozen=True)
class ClassificationStream(_LinearStream):
    """Online logistic classification: ``y ~ Bernoulli(q + (1 - 2q) sigmoid(w*·x + b*))``.

    The action is a score (log-odds) ``s``; the loss is the log loss of ``sigmoid(s)``;
    dynamic regret is ``KL(p || sigmoid(s))``; ``error`` is the 0/1 loss of ``1[s > 0]``
    (see the module docstring).  A hinge-loss learner's margin is a valid score too.

    Args:
      context_dim: ``d``.
      drift, drift_options: the drift of ``theta* = (w*, b*)`` (see :class:`RegressionStream`).
    """

    def _params_type(self):
        return ClassificationParams

    def _param_link(self):
        return "logit"

    def _probability(self, truth, params):
        q = params.label_noise
        return q + (1.0 - 2.0 * q) * jax.nn.sigmoid(truth)

    def _label_mean(self, truth, params):
        return self._probability(truth, params)

    def _label_and_loss(self, z, truth, prediction, params):
        uniform = jax.scipy.special.ndtr(z)  # Phi(z) ~ U(0, 1): y ~ Bernoulli(p) exactly
        label = (uniform < self._probability(truth, params)).astype(jnp.float32)
        return label, jax.nn.softplus(prediction) - label * prediction

    def log(self, timestep, action, next_timestep):
        score = _as_prediction(action)
        p = timestep.oracle.expected_reward[0]
        label = next_timestep.label
        loss = jax.nn.softplus(score) - label * score
        expected_loss = p * jax.nn.softplus(-score) + (1.0 - p) * jax.nn.softplus(score)
        regret = jnp.maximum(expected_loss - _entropy(p), 0.0)
        predicted = score > 0
        return ClassificationLog(
            reward=(-loss).astype(jnp.float32),
            regret=regret.astype(jnp.float32),
            optimal=(predicted == (p > 0.5)).astype(jnp.float32),
            loss=loss.astype(jnp.float32),
            error=(predicted.astype(jnp.float32) != label).astype(jnp.float32),
        )


# --------------------------------------------------------------------------------------
# The article's worked example
# --------------------------------------------------------------------------------------


@pytree.dataclass
class SeedExampleParams:
    slope: float = knob(1.0, doc="true slope theta_1 (the article: 1)")
    intercept: float = knob(1.0, doc="true intercept theta_0 (the article: 1)")
    noise: float = knob(0.0, low=0.0, doc="label noise standard deviation (the article: 0)")


class SeedExampleState(pytree.PyTreeNode):
    """The index of the current point in the cycle, ``()`` int32."""

    position: Array


@dataclasses.dataclass(frozen=True)
class SeedExample(Environment):
    """The article's online linear regression, corrected: ``x = 1..5`` cycling, ``y = x + 1``.

    Round ``t`` shows ``x_t = 1 + (t mod num_points)`` (``Context.features = (x_t,)``) and
    then reveals ``y_t = intercept + slope * x_t (+ noise * z_t)``.  A learner with a bias,
    ``y_hat = w x + b`` (the article's ``theta_1 x + theta_0``), started at ``(0, 0)``
    with squared loss ``(y_hat - y)^2 / 2`` and SGD, converges to ``(w, b) = (1, 1)``;
    ``oracle.true_param`` is ``(slope, intercept)`` in the streams' ``(w, b)`` layout.
    The metrics are the regression stream's (:class:`StreamLog`).

    Args:
      num_points: the cycle length (5 in the article).

    Example::

        env = SeedExample()
        agent = agents.make("ogd", context_dim=1, optimizer="sgd")   # learning_rate 0.01
    """

    num_points: int = 5

    def __post_init__(self):
        require(
            isinstance(self.num_points, int)
            and not isinstance(self.num_points, bool)
            and self.num_points >= 2,
            f"env.num_points = {self.num_points!r}: must be an integer >= 2",
        )

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            num_arms=1,
            context_dim=1,
            arm_dim=0,
            action=capabilities.PREDICTION,
            feedback=capabilities.LABEL,
            reward=capabilities.real(),
            feature_bound=float(self.num_points),
            param_link="identity",
            example_cycle=self.num_points,  # x = 1..n, then again
        )

    def default_params(self) -> SeedExampleParams:
        return SeedExampleParams()

    def _timestep(self, position: Array, reward, label, params) -> TimeStep:
        features = (1.0 + position.astype(jnp.float32))[None]
        theta = jnp.stack([params.slope, params.intercept]).astype(jnp.float32)
        oracle = make_oracle(
            linear_truth(theta, features)[None], change_point=False, true_param=theta
        )
        return make_timestep(_context(features), reward, oracle, label=label)

    def reset(self, key, params):
        position = jnp.zeros((), jnp.int32)
        return SeedExampleState(position=position), self._timestep(position, 0.0, jnp.nan, params)

    def step(self, key, state, action, params):
        x = 1.0 + state.position.astype(jnp.float32)
        label = (
            params.intercept
            + params.slope * x
            + params.noise * jax.random.normal(key, (), jnp.float32)
        )
        loss = 0.5 * jnp.square(_as_prediction(action) - label)
        position = jnp.mod(state.position + 1, self.num_points).astype(jnp.int32)
        return SeedExampleState(position=position), self._timestep(position, -loss, label, params)

    def log(self, timestep, action, next_timestep):
        truth = timestep.oracle.expected_reward[0]
        return squared_log(_as_prediction(action), next_timestep.label, truth)


# --------------------------------------------------------------------------------------
# Replay and the best fixed parameter in hindsight
# --------------------------------------------------------------------------------------


class Replay(NamedTuple):
    """A stream's sequence, regenerated from its keys.

    Attributes:
      features: ``(T, d)`` contexts ``x_t``.
      labels: ``(T,)`` labels ``y_t`` of those contexts.
      true_params: ``(T, d + 1)`` the truth ``theta*_t`` that drew ``y_t``.
    """

    features: Array
    labels: Array
    true_params: Array


def replay(env: Environment, reset_key: Array, step_keys: Array, params: Any) -> Replay:
    """Regenerate the sequence a run of a full-information stream saw (one ``lax.scan``).

    The streams never depend on the learner's actions, so calling ``env.reset`` and
    ``env.step`` with the run's keys and any action gives the very same contexts and
    labels.  With :mod:`experiments.runner`'s key schedule, ``reset_key`` is
    ``fold_in(env_key, reset index)`` and ``step_keys[t]`` is ``fold_in(env_key, t)``.

    Args:
      env: a stream environment (regression, classification or the seed example).
      reset_key: the key given to ``env.reset``.
      step_keys: ``(T,)`` the keys given to ``env.step`` at rounds ``0 .. T-1``.
      params: the environment's params.
    """

    def body(carry, key):
        state, timestep = carry
        state, next_timestep = env.step(key, state, jnp.zeros((), jnp.float32), params)
        out = (timestep.context.features, next_timestep.label, timestep.oracle.true_param)
        return (state, next_timestep), out

    state, timestep = env.reset(reset_key, params)
    _, (features, labels, true_params) = jax.lax.scan(body, (state, timestep), step_keys)
    return Replay(features=features, labels=labels, true_params=true_params)


def hindsight_losses(features: Array, labels: Array, ridge: float = 1e-3) -> Array:
    """Per-round increments of the best fixed linear predictor's cumulative squared loss.

    ``J_t = min_theta [ridge/2 ||theta||^2 + sum_{s <= t} (theta·x~_s - y_s)^2 / 2]`` with
    ``x~ = (x, 1)`` (a bias, as the learners have), computed exactly by recursive least
    squares with Sherman–Morrison updates (no inverse per round)::

        e_t = y_t - theta_{t-1}·x~_t,   k_t = P_{t-1} x~_t / (1 + x~_t' P_{t-1} x~_t)
        J_t = J_{t-1} + e_t^2 / (2 (1 + x~_t' P_{t-1} x~_t))
        theta_t = theta_{t-1} + k_t e_t,   P_t = P_{t-1} - k_t x~_t' P_{t-1},   P_0 = I / ridge

    So ``cumsum(loss) - cumsum(hindsight_losses(...))`` is the static regret of a learner
    against the best fixed parameter in hindsight at every horizon ``t`` (up to the
    ``ridge/2 ||theta||^2`` the comparator pays, ≤ ``ridge/2 ||theta_best||^2``).

    Args:
      features: ``(T, d)``.
      labels: ``(T,)``.
      ridge: the small regulariser that makes ``P_0`` finite.

    Returns:
      ``(T,)`` float32 increments ``J_t - J_{t-1}`` (``J_0 = 0``).

    Reference: the recursive least-squares cost recursion (e.g. Sayed, *Adaptive
    Filters*, 2008, ch. 30); Cesa-Bianchi & Lugosi (2006), ch. 11 for static regret.
    """
    features = jnp.asarray(features, jnp.float32)
    labels = jnp.asarray(labels, jnp.float32)
    num_steps, dim = features.shape
    augmented = jnp.concatenate([features, jnp.ones((num_steps, 1), jnp.float32)], axis=1)
    p0 = jnp.eye(dim + 1, dtype=jnp.float32) / ridge
    theta0 = jnp.zeros((dim + 1,), jnp.float32)

    def body(carry, xy):
        theta, p = carry
        x, y = xy
        px = p @ x
        denominator = 1.0 + x @ px
        error = y - theta @ x
        gain = px / denominator
        theta = theta + gain * error
        p = p - jnp.outer(gain, px)
        p = 0.5 * (p + p.T)  # keep P symmetric in float32
        return (theta, p), 0.5 * jnp.square(error) / denominator

    _, increments = jax.lax.scan(body, (theta0, p0), (augmented, labels))
    return increments


def register_all(registry: Registry) -> None:
    """Register the full-information streams."""
    registry.register("regression_stream", RegressionStream)
    registry.register("classification_stream", ClassificationStream)
    registry.register("seed_example", SeedExample)
