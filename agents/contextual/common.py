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
"""

from __future__ import annotations

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


def arm_inputs(context: Context, mode: str, num_arms: int, context_dim: int) -> Array:
    """``(K, d)`` float32: the input vector of each candidate for its model."""
    if uses_context_features(mode, context_dim):
        features = jnp.asarray(context.features, jnp.float32)
        return jnp.broadcast_to(features, (num_arms, features.shape[0]))
    return jnp.asarray(context.arm_features, jnp.float32)


def oful_radius(count, dim: int, ridge, param_bound, noise, delta) -> Array:
    """Confidence radius of Abbasi-Yadkori, Pál & Szepesvári (2011, Theorem 2) for
    ``A = lambda I + sum x x^T`` after ``t = count`` observations::

        beta_t = sqrt(lambda) S + sigma sqrt(2 log(1/delta) + d log(1 + t / (lambda d)))
    """
    count = jnp.asarray(count, jnp.float32)
    return jnp.sqrt(ridge) * param_bound + noise * jnp.sqrt(
        2.0 * jnp.log(1.0 / delta) + dim * jnp.log1p(count / (ridge * dim))
    )
