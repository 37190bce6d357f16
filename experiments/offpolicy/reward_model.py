"""The reward model of the direct method and doubly robust: ridge regression on a log.

``q(x, a) = z(x, a) . theta_m``, one model per action (``z = (x, 1)``) or one shared model
over item features (``z = (x, arm_features[a], 1)``), fitted by ridge regression with one
batched Cholesky factorisation (:mod:`agents.linalg`: no LAPACK call on a CPU).  DR's
predictions come from models fitted on earlier rows only (:func:`fit_reward_model`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.linalg import cho_solve, cholesky
from experiments.offpolicy.logs import BanditLog
from simulator.types import Context

Array = jax.Array


class RidgeModel(NamedTuple):
    """A ridge-regression reward model ``q(x, a) = z(x, a) . theta_m``.

    Attributes:
      theta: ``(K, p)`` one model per action (``shared=False``: ``z = (x, 1)``) or
        ``(1, p)`` one shared model (``shared=True``: ``z = (x, arm_features[a], 1)``).
    """

    theta: Array


def _design(context: Context, shared: bool) -> Array:
    """``(n, K, p)`` inputs of every arm of every row."""
    n, num_arms = context.arm_features.shape[:2]
    x = jnp.broadcast_to(context.features[:, None, :], (n, num_arms, context.features.shape[1]))
    ones = jnp.ones((n, num_arms, 1), jnp.float32)
    parts = [x, context.arm_features, ones] if shared else [x, ones]
    return jnp.concatenate(parts, axis=-1).astype(jnp.float32)


def fit_ridge(
    log: BanditLog, ridge: Any = 1.0, shared: bool = False, weights: Array | None = None
) -> RidgeModel:
    """Fit the reward model on a log's logged actions by ridge regression::

        theta_m = (ridge I + sum_{i in m} u_i z_i z_i^T)^{-1} sum_{i in m} u_i r_i z_i

    over the rows of action ``m`` (``shared=False``) or all rows (``shared=True``), with row
    weights ``u_i`` (``weights``, default 1; 0 leaves a row out), each system solved once
    by a Cholesky factorisation.
    """
    z = _design(log.context, shared)
    chosen = jnp.take_along_axis(z, log.action[:, None, None], axis=1)[:, 0]  # (n, p)
    dim = z.shape[-1]
    if shared:
        member = jnp.ones((log.action.shape[0], 1), jnp.float32)
    else:
        member = jax.nn.one_hot(log.action, z.shape[1], dtype=jnp.float32)  # (n, K)
    if weights is not None:
        member = member * jnp.asarray(weights, jnp.float32)[:, None]
    gram = jnp.einsum("nm,ni,nj->mij", member, chosen, chosen) + ridge * jnp.eye(dim)
    rhs = jnp.einsum("nm,ni,n->mi", member, chosen, log.reward)
    factor = jax.vmap(cholesky)(gram)
    return RidgeModel(theta=jax.vmap(cho_solve)(factor, rhs))


def predict_ridge(model: RidgeModel, context: Context) -> Array:
    """``(n, K)`` predicted reward of every arm of every row."""
    rows_, dim = model.theta.shape
    arm_dim = context.arm_features.shape[-1]
    shared = rows_ == 1 if arm_dim == 0 else dim == context.features.shape[-1] + arm_dim + 1
    z = _design(context, shared)
    if shared:
        return z @ model.theta[0]
    return jnp.einsum("nkp,kp->nk", z, model.theta)


class RewardPredictions(NamedTuple):
    """Reward-model predictions ``(n, K)`` for the direct method and for doubly robust.

    Attributes:
      dm: predictions of the model fitted on the whole log.
      dr: predictions for each row from a model fitted only on rows logged *before* it.
    """

    dm: Array
    dr: Array


def fit_reward_model(log: BanditLog, ridge: Any = 1.0, num_blocks: int = 4) -> RewardPredictions:
    """The ridge reward model's predictions for DM and DR.

    DM uses the model fitted on the whole log.  DR must not use a model fitted on the row it
    corrects: in-sample predictions overfit the rewards and shrink the correction
    ``w (r - q)`` toward zero, and on logs collected by a *learning* policy even a model
    fitted on other (later) rows is not independent of a row's action, because the later
    rows were logged by a policy that learned from it.  So the rows are cut into
    ``num_blocks`` consecutive blocks in log order and block ``b`` is predicted by the model
    fitted on blocks ``0..b-1``; block 0 gets ``q = 0`` (its DR terms are IPS terms).  Each
    row's prediction then depends on the past only, and DR is unbiased for any logging
    policy with exact propensities (the sequential cross-fitting of adaptive DR estimators,
    e.g. Kato, Uehara & Yasui 2020).
    """
    shared = log.context.arm_features.shape[-1] > 0
    n = log.action.shape[0]
    block = jnp.arange(n) * num_blocks // n  # 0..num_blocks-1, in log order
    # Model m is fitted on blocks 0..m-1: model 0 on no rows, model num_blocks on the whole
    # log (DM's), all in one batched factorisation.
    models = jnp.arange(num_blocks + 1)
    weights = (block[None, :] < models[:, None]).astype(jnp.float32)  # (blocks + 1, n)
    fit_predict = lambda w: predict_ridge(fit_ridge(log, ridge, shared, w), log.context)  # noqa: E731
    by_model = jax.vmap(fit_predict)(weights)  # (blocks + 1, n, K)
    by_model = jnp.where(models[:, None, None] > 0, by_model, 0.0)
    dr = jnp.take_along_axis(by_model, block[None, :, None], axis=0)[0]
    dm = by_model[num_blocks]
    return RewardPredictions(dm=dm, dr=dr)
