"""Shared pieces of the linear agents: which features a model sees, shape checks, radii.

Two ways to attach a linear model to a :class:`~simulator.types.Context` (static ``mode``):

* ``"shared"``: one parameter ``theta (arm_dim,)`` over every candidate's own features
  ``context.arm_features[k]`` (items are vectors; Li et al. 2010 §3.2 without the
  disjoint part, Abbasi-Yadkori et al. 2011, Russac et al. 2019);
* ``"disjoint"``: one parameter per arm over the shared features ``context.features``
  (``context_dim``), Li et al. (2010) Algorithm 1; when ``context_dim == 0`` but
  ``arm_dim > 0`` each arm's model reads that arm's own features instead.

A model with no input is undefined, so a factory built with no features for its mode
(shared with ``arm_dim = 0``; disjoint with neither) still builds, and declares what it
needs (:func:`linear_needs`): :func:`agents.fit.misfits` refuses it on an environment
without those features, in one line, before anything is compiled.

Intercept (static ``intercept``, off by default).  The model's input is then
``[x ; 1]`` (:func:`with_intercept`): ``d + 1`` coordinates, the last one a per-model
constant.  Without it a per-arm ``theta_a . x`` cannot represent a constant mean (on the
wheel, ``E[theta_a . x] = 0`` over the disc).  The estimate an agent reports for
``param_error`` stays in the environment's layout: the intercept coordinate is dropped
(:func:`drop_intercept`).

Feature bound (static ``feature_bound``, ``L``).  The confidence radii bound
``log det V_t`` with ``||a|| <= L`` for every input ``a``; the experiment layer fills it
from the environment's ``EnvSpec.feature_bound`` (see :func:`experiments.plan.build_agent`);
where that is ``inf`` (no bound declared) the radius assumes ``L = 1`` and warns
(:func:`resolve_feature_bound`).  With an intercept the input's bound is
``sqrt(L^2 + 1)`` (:func:`input_bound`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from agents.common import check_num_arms
from agents.types import Needs
from simulator.params import ConfigError
from simulator.types import Context, require

Array = jax.Array

MODES = ("disjoint", "shared")


def check_dims(name: str, num_arms: int, context_dim: int, arm_dim: int) -> None:
    """ConfigError unless the static shapes are non-negative integers (``num_arms >= 1``)."""
    check_num_arms(num_arms)
    for field, value in (("context_dim", context_dim), ("arm_dim", arm_dim)):
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            f"agent.{field} = {value!r}: must be an integer >= 0 ({name})",
        )


def check_choice(field: str, value, allowed: tuple[str, ...]) -> None:
    """ConfigError naming ``agent.field`` and the allowed names."""
    require(
        value in allowed,
        f"agent.{field} = {value!r}: unknown; allowed: {', '.join(allowed)}",
    )


def check_intercept(name: str, intercept) -> None:
    """ConfigError unless ``intercept`` is a bool."""
    require(
        isinstance(intercept, bool),
        f"agent.intercept = {intercept!r}: must be true or false ({name})",
    )


#: ``L`` assumed where the environment declares no bound (the papers' normalisation).
DEFAULT_FEATURE_BOUND = 1.0


def resolve_feature_bound(name: str, feature_bound, used: bool = True) -> float:
    """``L`` as a float: ConfigError unless it is a number > 0.

    ``inf`` is :class:`~simulator.types.EnvSpec`'s "no bound declared" (the experiment
    layer fills ``feature_bound`` from the spec): an infinite radius would make every index
    infinite, so a radius that uses ``L`` (``used``) falls back to
    :data:`DEFAULT_FEATURE_BOUND`, the papers' normalisation ``||a|| <= 1`` and driftsim's
    behaviour before bounds were declared (set ``agent.feature_bound`` where a bound is
    known; the agent's ``static`` records the ``L`` used); an agent that does not use it
    (LinUCB's ``alpha`` radius) keeps it as given."""
    require(
        isinstance(feature_bound, (int, float))
        and not isinstance(feature_bound, bool)
        and feature_bound > 0,
        f"agent.feature_bound = {feature_bound!r}: must be a number > 0, a bound L on the "
        f"norm of every candidate's features ({name})",
    )
    if used and math.isinf(feature_bound):
        return DEFAULT_FEATURE_BOUND
    return float(feature_bound)


def input_bound(feature_bound: float, intercept: bool) -> float:
    """The bound on the model's input norm: ``L``, or ``sqrt(L^2 + 1)`` for ``[x ; 1]``."""
    return math.sqrt(feature_bound**2 + 1.0) if intercept else feature_bound


def with_intercept(inputs: Array, intercept: bool) -> Array:
    """``[x ; 1]`` along the last axis when ``intercept``, else ``inputs`` unchanged."""
    if not intercept:
        return inputs
    ones = jnp.ones(inputs.shape[:-1] + (1,), inputs.dtype)
    return jnp.concatenate([inputs, ones], axis=-1)


def drop_intercept(estimate: Array, intercept: bool) -> Array:
    """The estimate in the environment's layout: the last (intercept) coordinate dropped."""
    return estimate[..., :-1] if intercept else estimate


def feature_dim(mode: str, context_dim: int, arm_dim: int) -> int:
    """The dimension ``d`` of the model's inputs: ``arm_dim`` (shared), else ``context_dim``
    when there are context features, else ``arm_dim`` (0 when the mode has no features;
    :func:`linear_needs` then names the missing ones)."""
    check_choice("mode", mode, MODES)
    if uses_context_features(mode, context_dim):
        return context_dim
    return arm_dim


def linear_needs(mode: str, num_arms: int, context_dim: int, arm_dim: int) -> Needs:
    """What a linear model in ``mode`` needs: the widths it reads (``context_dim`` for
    disjoint models over context features, else ``arm_dim``) and features to read at all
    (``"arm"`` for the shared model, ``"any"`` for disjoint ones)."""
    reads_context = uses_context_features(mode, context_dim)
    return Needs(
        num_arms=num_arms,
        context_dim=context_dim if reads_context else 0,
        arm_dim=0 if reads_context else arm_dim,
        features="arm" if mode == "shared" else "any",
    )


def uses_context_features(mode: str, context_dim: int) -> bool:
    """True when the model reads ``context.features`` (disjoint with ``context_dim >= 1``)."""
    return mode == "disjoint" and context_dim >= 1


def check_context(
    name: str, context: Context, mode: str, num_arms: int, context_dim: int, arm_dim: int
) -> None:
    """ConfigError at trace time when the context's shapes do not match the agent's."""
    arms_shape = tuple(context.arm_features.shape)
    if not arms_shape or arms_shape[0] != num_arms:
        raise ConfigError(
            f"agent.num_arms = {num_arms}: does not match the environment, whose "
            f"context.arm_features has shape {arms_shape} ({name})"
        )
    if uses_context_features(mode, context_dim):
        got = tuple(context.features.shape)
        if got != (context_dim,):
            raise ConfigError(
                f"agent.context_dim = {context_dim}: does not match the environment, whose "
                f"context.features has shape {got} ({name})"
            )
    elif arms_shape != (num_arms, arm_dim):
        raise ConfigError(
            f"agent.arm_dim = {arm_dim}: does not match the environment, whose "
            f"context.arm_features has shape {arms_shape} ({name})"
        )


def arm_inputs(
    context: Context, mode: str, num_arms: int, context_dim: int, intercept: bool = False
) -> Array:
    """``(K, d)`` float32 (``d + 1`` with ``intercept``): the input vector of each candidate
    for its model."""
    if uses_context_features(mode, context_dim):
        features = with_intercept(jnp.asarray(context.features, jnp.float32), intercept)
        return jnp.broadcast_to(features, (num_arms, features.shape[0]))
    return with_intercept(jnp.asarray(context.arm_features, jnp.float32), intercept)


def oful_radius(count, dim: int, ridge, param_bound, noise, delta, feature_bound=1.0) -> Array:
    """Confidence radius of Abbasi-Yadkori, Pál & Szepesvári (2011, Theorem 2 with the
    determinant bound of Lemma 10) for ``A = lambda I + sum x x^T`` after ``t = count``
    observations with ``||x|| <= L`` (``feature_bound``)::

        beta_t = sqrt(lambda) S + sigma sqrt(2 log(1/delta) + d log(1 + t L^2 / (lambda d)))
    """
    count = jnp.asarray(count, jnp.float32)
    return jnp.sqrt(ridge) * param_bound + noise * jnp.sqrt(
        2.0 * jnp.log(1.0 / delta) + dim * jnp.log1p(count * feature_bound**2 / (ridge * dim))
    )
