"""The online linear model: ``s = w·x + b`` trained one example at a time with optax.

The model is linear with a bias, ``s = w·x + b`` with ``theta = (w, b)``, trained one
example at a time: after predicting on ``x_t`` the learner sees the label ``y_t`` and takes
one optimizer step on the per-example loss (see :mod:`agents.losses`)::

    g_t        = grad_theta l(w_t·x_t + b_t, y_t)
    g_t        <- clip_C(g_t) + N(0, (sigma C)^2 I)      (only with private=True)
    g_t        <- g_t + lambda (w_t, 0)                   (L2 on the weights, knob l2)
    g_t        <- g_t min(1, c / ||g_t||)                 (knob clip_norm; 0 = off)
    theta_t+1  = theta_t + optimizer(g_t; eta_t)          (any optax optimizer)
    eta_t      = learning_rate * schedule(t),  t = number of updates so far

:class:`OnlineLinear` is that model (init / score / update); the ``ogd`` agent
(:mod:`agents.ogd`) uses it on full-information streams and the bandit agents that need a
reward model (:mod:`agents.contextual.linear_greedy`) use the very same class.  The
optimizer and the schedule are named as in :mod:`agents.optimizers`; their float options
and the model's knobs below are traced (:meth:`OnlineLinear.knob_specs`).

Privacy.  With ``private=True`` each example's gradient is clipped to norm ``C``
(``dp_clip_norm``) and Gaussian noise of standard deviation ``sigma C``
(``noise_multiplier``) is added, with optax's differentially private aggregation
(``optax.contrib.differentially_private_aggregate``, Abadi et al. 2016) on a batch of
one; the noise key is the update's key.  Each update is then a Gaussian mechanism with
noise multiplier ``sigma`` on one example; see :mod:`agents.privacy` for its
``(epsilon, delta)``.

References: Zinkevich (2003), online gradient descent; Abadi et al. (2016), DP-SGD.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.contrib

from agents.knobs import KnobSpec
from agents.losses import LOSSES, mean_prediction
from agents.optimizers import OptimizerSpec, ScheduleSpec, resolve_optimizer, resolve_schedule
from simulator import pytree
from simulator.types import require


class LinearParams(NamedTuple):
    """``theta = (w, b)``: weights ``(dim,)`` and bias ``()``, float32."""

    weights: jax.Array
    bias: jax.Array


class ModelState(pytree.PyTreeNode):
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
