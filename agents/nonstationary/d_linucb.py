"""D-LinUCB: discounted linear UCB for drifting linear bandits (Russac, Vernade & Cappé 2019)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import greedy_probabilities, random_argmax
from agents.contextual.common import (
    arm_inputs,
    check_context,
    check_dims,
    check_intercept,
    drop_intercept,
    feature_dim,
    input_bound,
    linear_needs,
    resolve_feature_bound,
)
from agents.linalg import cho_solve, cholesky
from agents.types import Agent
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class DLinUCBHParams:
    discount: float = knob(0.99, low=0.0, high=1.0, low_open=True, doc="gamma in (0, 1]")
    ridge: float = knob(0.1, low=0.0, low_open=True, doc="ridge lambda")
    param_bound: float = knob(1.0, low=0.0, doc="S, a bound on ||theta*||")
    noise: float = knob(1.0, low=0.0, doc="sigma, the sub-Gaussian reward noise level")
    delta: float = knob(
        0.01, low=0.0, high=1.0, low_open=True, high_open=True, doc="confidence 1 - delta"
    )


class DLinUCBState(pytree.PyTreeNode):
    """Discounted design matrices and their solve.

    Attributes:
      v: ``(d, d)`` ``V_t``.
      v_tilde: ``(d, d)`` ``V~_t``.
      b: ``(d,)`` ``b_t``.
      chol: ``(d, d)`` lower Cholesky factor of ``V_t``.
      theta: ``(d,)`` ``theta_hat_t = V_t^{-1} b_t``.
      count: ``()`` float32 number of updates ``t``.
    """

    v: jax.Array
    v_tilde: jax.Array
    b: jax.Array
    chol: jax.Array
    theta: jax.Array
    count: jax.Array


def dlinucb_radius(count, dim: int, hparams, feature_bound: float = 1.0) -> jax.Array:
    """``beta_t = sqrt(lambda) S + sigma sqrt(2 log(1/delta)
    + d log(1 + L^2 (1 - gamma^{2t}) / (d lambda (1 - gamma^2))))`` for inputs of norm at
    most ``L = feature_bound`` (Russac et al. 2019, Theorem 1; ``t`` the number of updates
    so far, their ``t - 1``); the ratio tends to ``t`` as ``gamma -> 1`` and is computed
    with ``expm1`` for gamma near 1."""
    count = jnp.asarray(count, jnp.float32)
    log_gamma = jnp.log(hparams.discount)
    below_one = hparams.discount < 1.0
    safe_log = jnp.where(below_one, log_gamma, -1.0)
    ratio = jnp.where(
        below_one, jnp.expm1(2.0 * count * safe_log) / jnp.expm1(2.0 * safe_log), count
    )
    return jnp.sqrt(hparams.ridge) * hparams.param_bound + hparams.noise * jnp.sqrt(
        2.0 * jnp.log(1.0 / hparams.delta)
        + dim * jnp.log1p(ratio * feature_bound**2 / (dim * hparams.ridge))
    )


def dlinucb_widths(state: DLinUCBState, inputs: jax.Array) -> jax.Array:
    """``sqrt(a^T V^{-1} V~ V^{-1} a)`` for each row of ``inputs (K, d)``; ``O(K d^2)``."""
    u = cho_solve(state.chol, inputs.T)  # (d, K): V^{-1} a_k
    quad = jnp.sum(u * (state.v_tilde @ u), axis=0)
    return jnp.sqrt(jnp.maximum(quad, 0.0))


def dlinucb_indices(
    state: DLinUCBState, inputs: jax.Array, hparams, input_bound: float = 1.0
) -> jax.Array:
    """``<a, theta_hat> + beta_t sqrt(a^T V^{-1} V~ V^{-1} a)`` for each candidate
    (``||a|| <= input_bound``)."""
    beta = dlinucb_radius(state.count, inputs.shape[-1], hparams, input_bound)
    return inputs @ state.theta + beta * dlinucb_widths(state, inputs)


def d_linucb(
    num_arms: int = 10,
    context_dim: int = 0,
    arm_dim: int = 5,
    intercept: bool = False,
    feature_bound: float = 1.0,
) -> Agent:
    """D-LinUCB: LinUCB with exponentially discounted least squares (shared model).

    Algorithm 1 of Russac et al. (2019), exactly, with ``a`` the chosen candidate's features
    ``context.arm_features[action]`` and ``V_0 = V~_0 = lambda I``, ``b_0 = 0``::

        V  <- gamma V + a a^T + (1 - gamma) lambda I
        V~ <- gamma^2 V~ + a a^T + (1 - gamma^2) lambda I
        b  <- gamma b + r a,      theta_hat = V^{-1} b
        index(a) = <a, theta_hat> + beta_t sqrt(a^T V^{-1} V~ V^{-1} a)
        beta_t = sqrt(lambda) S + sigma sqrt(2 log(1/delta)
                 + d log(1 + L^2 (1 - gamma^{2t}) / (d lambda (1 - gamma^2))))

    ``t`` is the number of updates so far and ``L`` a bound on ``||a||`` (their Theorem 1;
    their code assumes ``L = 1``).  Cost: the regulariser term makes the update of
    ``V`` full-rank, so each update refactorises ``V`` by Cholesky, ``O(d^3)``, and solves
    ``theta_hat`` in ``O(d^2)``; each action costs ``O(K d^2)`` (one two-sided triangular
    solve per candidate and a product with ``V~``).  No matrix is ever inverted.  With
    ``gamma = 1`` it is LinUCB with the OFUL radius.  Ties at random
    (``action_probabilities``: ``1 / |argmax|`` on the tied arms).

    Args:
      num_arms: K candidates per round.
      context_dim: unused (accepted so the experiment layer can pass the spec).
      arm_dim: d, the length of each candidate's feature vector (the model needs arm
        features: ``needs.features = "arm"``).
      intercept: the model reads ``a = [z ; 1]`` (``d + 1`` coordinates, an intercept;
        ``L`` becomes ``sqrt(feature_bound^2 + 1)`` and ``S`` bounds ``(theta, intercept)``).
      feature_bound: ``L``, a bound on the norm of every candidate's features (the
        experiment layer fills it from ``EnvSpec.feature_bound``; ``inf``, none declared,
        falls back to 1 with a warning).

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`DLinUCBState`.  Its
      ``estimate`` is ``theta_hat = V^{-1} b (d,)``, kept in the state by the update's
      Cholesky solve (nothing more per step; with ``intercept`` its last coordinate
      dropped), in the layout of ``true_param`` of ``contextual_linear`` and
      ``russac_linear``: the runner logs its tracking error.

    Example::

        agent = d_linucb(num_arms=50, arm_dim=2)
        hp = agent.default_hparams().replace(discount=1 - (5.4 / (2 * 6000)) ** (2 / 3))

    Reference: Y. Russac, C. Vernade & O. Cappé, "Weighted linear bandits for
    non-stationary environments", NeurIPS 2019 (Algorithm 1).
    """
    check_dims("d_linucb", num_arms, context_dim, arm_dim)
    check_intercept("d_linucb", intercept)
    feature_bound = resolve_feature_bound("d_linucb", feature_bound)
    bound = input_bound(feature_bound, intercept)
    dim = feature_dim("shared", context_dim, arm_dim) + int(intercept)

    def init(key, hparams):
        eye = jnp.eye(dim, dtype=jnp.float32)
        return DLinUCBState(
            v=(hparams.ridge * eye).astype(jnp.float32),
            v_tilde=(hparams.ridge * eye).astype(jnp.float32),
            b=jnp.zeros((dim,), jnp.float32),
            chol=(jnp.sqrt(hparams.ridge) * eye).astype(jnp.float32),
            theta=jnp.zeros((dim,), jnp.float32),
            count=jnp.zeros((), jnp.float32),
        )

    def indices(state, context, hparams):
        check_context("d_linucb", context, "shared", num_arms, context_dim, arm_dim)
        inputs = arm_inputs(context, "shared", num_arms, context_dim, intercept)
        return dlinucb_indices(state, inputs, hparams, bound)

    def act(key, state, context, hparams):
        return random_argmax(key, indices(state, context, hparams))

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(indices(state, context, hparams))

    def update(key, state, transition, hparams):
        check_context("d_linucb", transition.context, "shared", num_arms, context_dim, arm_dim)
        inputs = arm_inputs(transition.context, "shared", num_arms, context_dim, intercept)
        x = inputs[transition.action]
        gamma, lam = hparams.discount, hparams.ridge
        eye = jnp.eye(dim, dtype=jnp.float32)
        outer = jnp.outer(x, x)
        v = gamma * state.v + outer + (1.0 - gamma) * lam * eye
        v_tilde = gamma**2 * state.v_tilde + outer + (1.0 - gamma**2) * lam * eye
        b = gamma * state.b + transition.reward * x
        chol = cholesky(v)
        return DLinUCBState(
            v=v,
            v_tilde=v_tilde,
            b=b,
            chol=chol,
            theta=cho_solve(chol, b),
            count=state.count + 1.0,
        )

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "intercept": intercept,
        "feature_bound": feature_bound,
    }
    return Agent(
        "d_linucb",
        init,
        act,
        update,
        DLinUCBHParams,
        static,
        estimate=lambda state: drop_intercept(state.theta, intercept),
        action_probabilities=action_probabilities,
        needs=linear_needs("shared", num_arms, context_dim, arm_dim),
        scores=lambda key, state, context, hparams: indices(state, context, hparams),
    )
