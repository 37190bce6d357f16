"""LinUCB: optimism over a ridge-regression reward model (Li, Chu, Langford & Schapire 2010)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import greedy_probabilities, random_argmax
from agents.contextual.common import (
    arm_inputs,
    check_choice,
    check_context,
    check_dims,
    check_intercept,
    drop_intercept,
    feature_dim,
    input_bound,
    linear_needs,
    oful_radius,
    resolve_feature_bound,
    uses_context_features,
    with_intercept,
)
from agents.linalg import weighted_norms
from agents.types import Agent
from simulator import pytree
from simulator.params import knob

RADII = ("alpha", "oful")


@pytree.dataclass
class LinUCBHParams:
    alpha: float = knob(1.0, low=0.0, doc="exploration width: index = x.theta + alpha ||x||_{A^-1}")
    ridge: float = knob(1.0, low=0.0, low_open=True, doc="ridge lambda: A starts at lambda I")


@pytree.dataclass
class OFULHParams:
    ridge: float = knob(1.0, low=0.0, low_open=True, doc="ridge lambda: A starts at lambda I")
    param_bound: float = knob(1.0, low=0.0, doc="S, a bound on ||theta*||")
    noise: float = knob(1.0, low=0.0, doc="sigma, the sub-Gaussian reward noise level")
    delta: float = knob(
        0.01, low=0.0, high=1.0, low_open=True, high_open=True, doc="confidence 1 - delta"
    )


class LinearState(pytree.PyTreeNode):
    """Ridge models, one per arm (disjoint) or a single one (shared): ``M = K`` or ``1``.

    Attributes:
      a_inv: ``(M, d, d)`` ``A^{-1}``, ``A = lambda I + sum x x^T``, kept by Sherman–Morrison.
      b: ``(M, d)`` ``sum r x``.
      theta: ``(M, d)`` ridge estimate ``A^{-1} b``.
      counts: ``(M,)`` float32 number of updates of each model.
    """

    a_inv: jax.Array
    b: jax.Array
    theta: jax.Array
    counts: jax.Array


def linucb_indices(
    state: LinearState,
    inputs: jax.Array,
    hparams,
    *,
    mode: str,
    radius: str,
    input_bound: float = 1.0,
):
    """Upper confidence indices ``(K,)`` of the candidates ``inputs (K, d)``.

    ``index_k = x_k . theta_m + beta ||x_k||_{A_m^{-1}}`` with ``m = k`` (disjoint) or ``0``
    (shared); ``beta = alpha`` or the OFUL radius after the model's ``t`` updates, for
    inputs of norm at most ``input_bound``.
    Disjoint models that all read one context may get it as ``inputs (d,)``: the ``(K, d)``
    broadcast is then never formed, and ``x^T A_k^{-1} x`` is ``(A_k^{-1} x) . x`` with one
    batched matrix-vector product over the ``K`` inverses (32 arms, 100 runs: 1.2x to 1.6x
    faster than the broadcast for d = 4 ... 64; ``einsum("kde,d,e->k")`` was 4x slower at
    d = 64).
    """
    dim = inputs.shape[-1]
    if mode == "shared":
        means = inputs @ state.theta[0]
        widths = weighted_norms(state.a_inv[0], inputs)
        count = state.counts[0]
    elif inputs.ndim == 1:
        means = state.theta @ inputs
        quad = jnp.einsum("kde,e->kd", state.a_inv, inputs) @ inputs
        widths = jnp.sqrt(jnp.maximum(quad, 0.0))
        count = state.counts
    else:
        means = jnp.sum(inputs * state.theta, axis=-1)
        widths = weighted_norms(state.a_inv, inputs)
        count = state.counts
    if radius == "alpha":
        scale = hparams.alpha
    else:
        scale = oful_radius(
            count,
            dim,
            hparams.ridge,
            hparams.param_bound,
            hparams.noise,
            hparams.delta,
            input_bound,
        )
    return means + scale * widths


def ridge_estimate(
    theta: jax.Array, counts: jax.Array, mode: str, intercept: bool = False
) -> jax.Array:
    """The parameter estimate of ridge models ``theta (M, d)`` in the layout of a linear
    environment's ``oracle.true_param (d,)``: ``theta[0]`` (shared), or the count-weighted
    mean ``sum_k n_k theta_k / max(sum_k n_k, 1)`` of the per-arm estimates (disjoint over
    item features: every arm's model then estimates the same ``theta``, e.g. on
    ``contextual_linear`` and ``russac_linear``).  With ``intercept`` the models are over
    ``[x ; 1]`` and the last (intercept) coordinate is dropped, so the estimate keeps the
    environment's layout.  ``O(M d)``, no solve."""
    theta = drop_intercept(theta, intercept)
    if mode == "shared":
        return theta[0]
    weights = counts / jnp.maximum(jnp.sum(counts), 1.0)
    return weights @ theta


def ridge_update(state: LinearState, model, x: jax.Array, reward) -> LinearState:
    """Add ``(x, r)`` to model ``model`` by Sherman–Morrison (``O(d^2)``).

    ``A^{-1} - u u^T / (1 + x.u)`` with ``u = A^{-1} x`` stays exactly symmetric in floating
    point when ``A^{-1}`` is (``u_i u_j = u_j u_i``, and ``A^{-1} = I / lambda`` at first),
    so no symmetrising pass is made (1.5x faster per step, same numbers).
    """
    a_inv = state.a_inv[model]
    u = a_inv @ x
    a_inv = a_inv - jnp.outer(u, u) / (1.0 + x @ u)
    b = state.b[model] + reward * x
    return LinearState(
        a_inv=state.a_inv.at[model].set(a_inv),
        b=state.b.at[model].set(b),
        theta=state.theta.at[model].set(a_inv @ b),
        counts=state.counts.at[model].add(1.0),
    )


def linucb(
    num_arms: int = 10,
    context_dim: int = 0,
    arm_dim: int = 5,
    mode: str = "shared",
    radius: str = "alpha",
    intercept: bool = False,
    feature_bound: float = 1.0,
) -> Agent:
    """LinUCB: play the largest upper confidence bound of a ridge-regression reward model.

    Model (per arm for ``mode="disjoint"``, shared for ``mode="shared"``; see
    :mod:`agents.contextual.common` for which features each model reads)::

        A = lambda I + sum_s x_s x_s^T,   b = sum_s r_s x_s,   theta_hat = A^{-1} b
        index_k = x_k . theta_hat + beta_t ||x_k||_{A^{-1}}

    ``radius="alpha"``: ``beta_t = alpha`` (Li et al. 2010); ``radius="oful"``:
    ``beta_t = sqrt(lambda) S + sigma sqrt(2 log(1/delta) + d log(1 + t L^2/(lambda d)))``,
    ``t`` the number of updates of the model so far and ``L`` the bound on the inputs'
    norm (Abbasi-Yadkori, Pál & Szepesvári 2011).  With ``intercept`` every input is
    ``x = [z ; 1]`` (``d + 1`` coordinates, ``L = sqrt(feature_bound^2 + 1)``).
    ``A^{-1}`` is kept by Sherman–Morrison rank-one updates: ``O(d^2)`` per update, and
    ``O(K d^2)`` per action (disjoint and shared alike); never a per-step inverse.  Ties
    are broken at random: ``action_probabilities`` is ``1 / |argmax|`` on the tied arms.

    Args:
      num_arms: K.
      context_dim: length of ``context.features`` (read by disjoint models).
      arm_dim: ``d`` of ``context.arm_features (K, d)`` (read by the shared model, and by
        disjoint models when ``context_dim == 0``).
      mode: ``"shared"`` or ``"disjoint"``.
      radius: ``"alpha"`` (knob ``alpha``) or ``"oful"`` (knobs ``param_bound`` S,
        ``noise`` sigma, ``delta``).
      intercept: append a constant 1 to every input (a per-model intercept; ``S`` then
        bounds the norm of ``(theta, intercept)``).
      feature_bound: ``L``, a bound on the norm of every candidate's features, used by the
        OFUL radius (recorded in ``static`` only for it); the experiment layer fills it
        from ``EnvSpec.feature_bound``; ``inf`` (none declared) falls back to
        1 with a warning.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`LinearState`.  Its
      ``estimate`` (for the runner's ``param_error``) is :func:`ridge_estimate`, the ridge
      ``theta_hat`` kept in the state (no solve; with ``intercept`` its intercept
      coordinate is dropped, so it stays in the environment's layout and ``param_error``
      is still logged); disjoint models over context features
      (``context_dim >= 1``) are per-arm parameters, not a preference: no estimate.  It
      estimates a *linear* reward model, so the runner compares it only with environments
      whose ``true_param`` is one (not ``contextual_logistic``'s logit parameter, nor
      ``drifting_users``' latent preferences).

    Example::

        agent = linucb(num_arms=10, arm_dim=5, mode="shared")
        hp = agent.default_hparams().replace(alpha=0.5)

    References: L. Li, W. Chu, J. Langford & R. E. Schapire, "A contextual-bandit approach
    to personalized news article recommendation", WWW 2010; Y. Abbasi-Yadkori, D. Pál &
    C. Szepesvári, "Improved algorithms for linear stochastic bandits", NeurIPS 2011.
    """
    check_dims("linucb", num_arms, context_dim, arm_dim)
    check_choice("radius", radius, RADII)
    check_intercept("linucb", intercept)
    feature_bound = resolve_feature_bound("linucb", feature_bound, used=radius == "oful")
    bound = input_bound(feature_bound, intercept)
    dim = feature_dim(mode, context_dim, arm_dim) + int(intercept)
    num_models = num_arms if mode == "disjoint" else 1
    hparams_type = LinUCBHParams if radius == "alpha" else OFULHParams

    def init(key, hparams):
        eye = jnp.eye(dim, dtype=jnp.float32) / hparams.ridge
        return LinearState(
            a_inv=jnp.broadcast_to(eye, (num_models, dim, dim)).astype(jnp.float32),
            b=jnp.zeros((num_models, dim), jnp.float32),
            theta=jnp.zeros((num_models, dim), jnp.float32),
            counts=jnp.zeros((num_models,), jnp.float32),
        )

    def indices(state, context, hparams):
        check_context("linucb", context, mode, num_arms, context_dim, arm_dim)
        if uses_context_features(mode, context_dim):  # every arm's model reads x (d,)
            inputs = with_intercept(jnp.asarray(context.features, jnp.float32), intercept)
        else:
            inputs = arm_inputs(context, mode, num_arms, context_dim, intercept)
        return linucb_indices(state, inputs, hparams, mode=mode, radius=radius, input_bound=bound)

    def act(key, state, context, hparams):
        return random_argmax(key, indices(state, context, hparams))

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(indices(state, context, hparams))

    def update(key, state, transition, hparams):
        check_context("linucb", transition.context, mode, num_arms, context_dim, arm_dim)
        inputs = arm_inputs(transition.context, mode, num_arms, context_dim, intercept)
        model = transition.action if mode == "disjoint" else 0
        return ridge_update(state, model, inputs[transition.action], transition.reward)

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "mode": mode,
        "radius": radius,
        "intercept": intercept,
    }
    if radius == "oful":
        static["feature_bound"] = feature_bound
    estimate = None
    if not uses_context_features(mode, context_dim):

        def estimate(state):
            return ridge_estimate(state.theta, state.counts, mode, intercept)

    return Agent(
        "linucb",
        init,
        act,
        update,
        hparams_type,
        static,
        estimate=estimate,
        action_probabilities=action_probabilities,
        needs=linear_needs(mode, num_arms, context_dim, arm_dim),
        scores=lambda key, state, context, hparams: indices(state, context, hparams),
    )
