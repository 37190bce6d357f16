"""Linear Thompson sampling (Agrawal & Goyal 2013) with a rank-one-updated Cholesky factor."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import random_argmax
from agents.contextual.common import (
    arm_inputs,
    check_context,
    check_dims,
    check_intercept,
    feature_dim,
    linear_needs,
    uses_context_features,
)
from agents.contextual.linucb import ridge_estimate
from agents.linalg import cho_solve, cholesky_rank_one_update, inverse_transpose_solve
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class LinTSHParams:
    v: float = knob(1.0, low=0.0, doc="posterior scale: theta~ ~ N(theta_hat, v^2 A^-1)")
    ridge: float = knob(1.0, low=0.0, low_open=True, doc="ridge lambda: A starts at lambda I")


class CholeskyState(pytree.PyTreeNode):
    """Ridge models (``M = K`` disjoint or ``1`` shared) kept as Cholesky factors of ``A``.

    Attributes:
      chol: ``(M, d, d)`` lower ``L`` with ``L L^T = A = lambda I + sum x x^T``.
      b: ``(M, d)`` ``sum r x``.
      theta: ``(M, d)`` posterior mean ``A^{-1} b``.
      counts: ``(M,)`` float32 number of updates of each model.
    """

    chol: jax.Array
    b: jax.Array
    theta: jax.Array
    counts: jax.Array


def lints_sample(key, state: CholeskyState, v) -> jax.Array:
    """One posterior draw per model, ``(M, d)``: ``theta~ = theta_hat + v L^{-T} z``,
    ``z ~ N(0, I)`` drawn as ``jax.random.normal(key, (M, d))``; ``O(M d^2)``."""
    z = jax.random.normal(key, state.theta.shape, jnp.float32)
    noise = jax.vmap(inverse_transpose_solve)(state.chol, z)
    return state.theta + v * noise


def lints(
    num_arms: int = 10,
    context_dim: int = 0,
    arm_dim: int = 5,
    mode: str = "shared",
    intercept: bool = False,
) -> Agent:
    """Linear Thompson sampling: act greedily on a draw from a Gaussian ridge posterior.

    Model (per arm for ``mode="disjoint"``, shared for ``mode="shared"``; see
    :mod:`agents.contextual.common`)::

        A = lambda I + sum_s x_s x_s^T,   b = sum_s r_s x_s,   theta_hat = A^{-1} b
        theta~ ~ N(theta_hat, v^2 A^{-1}),   a_t = argmax_k x_k . theta~

    Cost.  The state keeps a Cholesky factor ``L`` of ``A`` (not of ``A^{-1}``), updated
    by a rank-one Cholesky update in ``O(d^2)``; ``theta_hat = A^{-1} b`` costs two
    triangular solves, ``O(d^2)``; a draw is ``theta_hat + v L^{-T} z`` with
    ``z ~ N(0, I)``, one triangular solve, ``O(d^2)`` per model (``O(K d^2)`` per action
    in disjoint mode).  No ``O(d^3)`` work per step and no inverse.  Ties at random.

    Args:
      num_arms: K.
      context_dim: length of ``context.features`` (read by disjoint models).
      arm_dim: ``d`` of ``context.arm_features (K, d)``.
      mode: ``"shared"`` or ``"disjoint"``.
      intercept: append a constant 1 to every input, ``x = [z ; 1]`` (``d + 1``
        coordinates): a per-model intercept, without which per-arm models over a context
        centred at 0 (the wheel) cannot represent constant means.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`CholeskyState`.  Its
      ``estimate`` is the posterior mean ``theta_hat`` kept in the state (the centre of
      the draws), laid out as LinUCB's (:func:`~agents.contextual.linucb.ridge_estimate`:
      the intercept coordinate dropped, so ``param_error`` is still logged; none for
      disjoint models over context features).

    Example::

        agent = lints(num_arms=10, arm_dim=5)
        hp = agent.default_hparams().replace(v=0.3)

    Reference: S. Agrawal & N. Goyal, "Thompson sampling for contextual bandits with linear
    payoffs", ICML 2013 (their ``v = R sqrt(24 d log(1/delta) / epsilon)``; here a knob).
    """
    check_dims("lints", num_arms, context_dim, arm_dim)
    check_intercept("lints", intercept)
    dim = feature_dim(mode, context_dim, arm_dim) + int(intercept)
    num_models = num_arms if mode == "disjoint" else 1

    def init(key, hparams):
        eye = jnp.sqrt(hparams.ridge) * jnp.eye(dim, dtype=jnp.float32)
        return CholeskyState(
            chol=jnp.broadcast_to(eye, (num_models, dim, dim)).astype(jnp.float32),
            b=jnp.zeros((num_models, dim), jnp.float32),
            theta=jnp.zeros((num_models, dim), jnp.float32),
            counts=jnp.zeros((num_models,), jnp.float32),
        )

    def scores(key, state, context, hparams):
        """The sampled model's predicted rewards (the sample of ``act`` with its key)."""
        check_context("lints", context, mode, num_arms, context_dim, arm_dim)
        key_sample, _ = split_keys(key)
        inputs = arm_inputs(context, mode, num_arms, context_dim, intercept)
        theta = lints_sample(key_sample, state, hparams.v)
        return inputs @ theta[0] if mode == "shared" else jnp.sum(inputs * theta, axis=-1)

    def act(key, state, context, hparams):
        _, key_tie = split_keys(key)
        return random_argmax(key_tie, scores(key, state, context, hparams))

    def update(key, state, transition, hparams):
        check_context("lints", transition.context, mode, num_arms, context_dim, arm_dim)
        inputs = arm_inputs(transition.context, mode, num_arms, context_dim, intercept)
        model = transition.action if mode == "disjoint" else 0
        x = inputs[transition.action]
        chol = cholesky_rank_one_update(state.chol[model], x)
        b = state.b[model] + transition.reward * x
        return CholeskyState(
            chol=state.chol.at[model].set(chol),
            b=state.b.at[model].set(b),
            theta=state.theta.at[model].set(cho_solve(chol, b)),
            counts=state.counts.at[model].add(1.0),
        )

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "mode": mode,
        "intercept": intercept,
    }
    estimate = None
    if not uses_context_features(mode, context_dim):

        def estimate(state):
            return ridge_estimate(state.theta, state.counts, mode, intercept)

    return Agent(
        "lints",
        init,
        act,
        update,
        LinTSHParams,
        static,
        estimate=estimate,
        needs=linear_needs(mode, num_arms, context_dim, arm_dim),
        scores=scores,
    )
