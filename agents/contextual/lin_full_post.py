"""LinFullPost: Thompson sampling on Bayesian linear regression with a Normal–inverse-gamma
prior, the linear baseline of Riquelme, Tucker & Snoek (2018)."""

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
from agents.contextual.nig import NIGPosterior, prior, rank_one_update, sample_weights
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys
from simulator.types import require


@pytree.dataclass
class LinFullPostHParams:
    ridge: float = knob(
        0.25, low=0.0, low_open=True, doc="lambda: prior beta | sigma^2 ~ N(0, sigma^2/lambda I)"
    )
    a0: float = knob(6.0, low=0.0, low_open=True, doc="prior shape: sigma^2 ~ IG(a0, b0)")
    b0: float = knob(6.0, low=0.0, low_open=True, doc="prior scale: sigma^2 ~ IG(a0, b0)")


class LinFullPostState(pytree.PyTreeNode):
    """The posteriors (``M = K`` disjoint, ``1`` shared) and their update counts.

    Attributes:
      posterior: an :class:`~agents.contextual.nig.NIGPosterior` of ``M`` models over
        ``d`` (``d + 1`` with the intercept) features.
      counts: ``(M,)`` float32 number of updates of each model (their sum is the number of
        rounds so far, which drives the initial round-robin).
    """

    posterior: NIGPosterior
    counts: jax.Array


def lin_full_post(
    num_arms: int = 5,
    context_dim: int = 2,
    arm_dim: int = 0,
    mode: str = "disjoint",
    intercept: bool = True,
    initial_pulls: int = 2,
) -> Agent:
    """LinFullPost: Thompson sampling on a Normal–inverse-gamma linear model (unknown noise).

    Model (per arm for ``mode="disjoint"``, Riquelme et al.'s choice; shared for
    ``mode="shared"``; inputs as in :mod:`agents.contextual.common`, with ``intercept``
    ``x = [z ; 1]``)::

        r = x^T beta + eps,   eps ~ N(0, sigma^2)
        sigma^2 ~ IG(a0, b0),   beta | sigma^2 ~ N(0, sigma^2 / lambda I)

    The posterior is the one Neural-Linear keeps on its last hidden layer, here on the raw
    features (:mod:`agents.contextual.nig`): ``Lambda = lambda I + X^T X``,
    ``mu = Lambda^{-1} X^T r``, ``a = a0 + n/2``, ``b = b0 + (r^T r - mu^T Lambda mu)/2``,
    updated exactly by a rank-one square-root step in ``O(d^2)`` per observation (the
    reference code re-solves the batch formulas of the arm's whole history every step;
    same posterior).  Act: for every model draw ``sigma^2 ~ IG(a, b)`` and
    ``beta ~ N(mu, sigma^2 Lambda^{-1})``, play ``argmax_k x_k . beta_{m(k)}`` (ties at
    random); ``O(M d^2)`` per action plus ``M`` Gamma draws.  Unlike ``lints`` the noise
    scale is learned (``v`` is not a knob) and the intercept is on by default.

    Initial round-robin, copied from the reference code (``initial_pulls = 2`` in its
    example hyperparameters): for the first ``K * initial_pulls`` rounds the agent plays
    arm ``t mod K`` (``t`` the number of updates so far), then Thompson sampling;
    ``initial_pulls = 0`` turns it off.

    Args:
      num_arms: K.
      context_dim: length of ``context.features`` (read by disjoint models).
      arm_dim: ``d`` of ``context.arm_features (K, d)`` (read by the shared model, and by
        disjoint models when ``context_dim == 0``).
      mode: ``"disjoint"`` (one posterior per arm) or ``"shared"``.
      intercept: append a constant 1 to every input (on: as in the reference).
      initial_pulls: round-robin pulls of every arm before sampling (integer >= 0).

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`LinFullPostState`; knobs
      ``ridge`` (lambda), ``a0``, ``b0`` (defaults 0.25, 6, 6: the reference's).  Its
      ``estimate`` is the posterior mean ``mu`` laid out as LinUCB's
      (:func:`~agents.contextual.linucb.ridge_estimate`: the intercept coordinate
      dropped, so ``param_error`` is logged in the environment's layout; none for
      disjoint models over context features).

    Example::

        agent = lin_full_post(num_arms=5, context_dim=2)          # the wheel
        hp = agent.default_hparams().replace(ridge=0.25, a0=6.0, b0=6.0)

    Reference: C. Riquelme, G. Tucker & J. Snoek, "Deep Bayesian bandits showdown: an
    empirical comparison of Bayesian deep networks for Thompson sampling", ICLR 2018
    (LinFullPost, §3; ``linear_full_posterior_sampling.py`` of their code).
    """
    check_dims("lin_full_post", num_arms, context_dim, arm_dim)
    check_intercept("lin_full_post", intercept)
    require(
        isinstance(initial_pulls, int)
        and not isinstance(initial_pulls, bool)
        and initial_pulls >= 0,
        f"agent.initial_pulls = {initial_pulls!r}: must be an integer >= 0 (lin_full_post)",
    )
    dim = feature_dim(mode, context_dim, arm_dim) + int(intercept)
    num_models = num_arms if mode == "disjoint" else 1

    def init(key, hparams):
        return LinFullPostState(
            posterior=prior(num_models, dim, hparams),
            counts=jnp.zeros((num_models,), jnp.float32),
        )

    def act(key, state, context, hparams):
        check_context("lin_full_post", context, mode, num_arms, context_dim, arm_dim)
        key_sample, key_tie = split_keys(key)
        inputs = arm_inputs(context, mode, num_arms, context_dim, intercept)
        beta = sample_weights(key_sample, state.posterior)  # (M, d)
        values = inputs @ beta[0] if mode == "shared" else jnp.sum(inputs * beta, axis=-1)
        action = random_argmax(key_tie, values)
        if initial_pulls == 0:
            return action
        steps = jnp.sum(state.counts).astype(jnp.int32)
        return jnp.where(steps < num_arms * initial_pulls, steps % num_arms, action).astype(
            jnp.int32
        )

    def update(key, state, transition, hparams):
        check_context("lin_full_post", transition.context, mode, num_arms, context_dim, arm_dim)
        inputs = arm_inputs(transition.context, mode, num_arms, context_dim, intercept)
        model = transition.action if mode == "disjoint" else 0
        reward = jnp.asarray(transition.reward, jnp.float32)
        return LinFullPostState(
            posterior=rank_one_update(state.posterior, model, inputs[transition.action], reward),
            counts=state.counts.at[model].add(1.0),
        )

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "mode": mode,
        "intercept": intercept,
        "initial_pulls": initial_pulls,
    }
    estimate = None
    if not uses_context_features(mode, context_dim):

        def estimate(state):
            return ridge_estimate(state.posterior.mean(), state.counts, mode, intercept)

    return Agent(
        "lin_full_post",
        init,
        act,
        update,
        LinFullPostHParams,
        static,
        estimate=estimate,
        needs=linear_needs(mode, num_arms, context_dim, arm_dim),
    )
