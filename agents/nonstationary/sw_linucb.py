"""Sliding-window LinUCB: least squares over the last tau rounds (Cheung, Simchi-Levi & Zhu 2019)."""

from __future__ import annotations

import functools

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
from agents.nonstationary.window import leaving_slot, resolve_window, traced_window, window_knob
from agents.types import Agent
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class SWLinUCBHParams:
    ridge: float = knob(0.1, low=0.0, low_open=True, doc="ridge lambda")
    param_bound: float = knob(1.0, low=0.0, doc="S, a bound on ||theta*||")
    noise: float = knob(1.0, low=0.0, doc="sigma, the sub-Gaussian reward noise level")
    delta: float = knob(
        0.01, low=0.0, high=1.0, low_open=True, high_open=True, doc="confidence 1 - delta"
    )
    window: int = window_knob()


class SWLinUCBState(pytree.PyTreeNode):
    """The window as a ring buffer and the windowed least squares.

    Attributes:
      inputs: ``(M, d)`` features of the last ``M = max_window`` chosen actions (zeros
        when empty); the window is the last ``tau <= M`` of them.
      rewards: ``(M,)`` their rewards (zeros when empty).
      position: ``()`` int32 slot the next observation overwrites (rounds seen mod ``M``:
        the same in every run, whatever the window).
      v: ``(d, d)`` ``lambda I + sum_{window} a a^T``.
      b: ``(d,)`` ``sum_{window} r a``.
      chol: ``(d, d)`` lower Cholesky factor of ``v``.
      theta: ``(d,)`` ``v^{-1} b``.
    """

    inputs: jax.Array
    rewards: jax.Array
    position: jax.Array
    v: jax.Array
    b: jax.Array
    chol: jax.Array
    theta: jax.Array


def swlinucb_radius(window, dim: int, hparams, feature_bound: float = 1.0) -> jax.Array:
    """``beta = sqrt(lambda) S + sigma sqrt(d log((1 + tau L^2/lambda) / delta))`` for inputs
    of norm at most ``L = feature_bound`` (Cheung, Simchi-Levi & Zhu 2019, Theorem 1);
    ``window`` is ``tau``, an integer or a traced int32."""
    return jnp.sqrt(hparams.ridge) * hparams.param_bound + hparams.noise * jnp.sqrt(
        dim * jnp.log((1.0 + window * feature_bound**2 / hparams.ridge) / hparams.delta)
    )


def swlinucb_indices(
    state: SWLinUCBState, inputs: jax.Array, hparams, window, input_bound: float = 1.0
) -> jax.Array:
    """``<a, theta_hat> + beta ||a||_{V^{-1}}`` for each row of ``inputs (K, d)``
    (``||a|| <= input_bound``; ``window`` is ``tau``, see :func:`swlinucb_radius`)."""
    u = cho_solve(state.chol, inputs.T)  # (d, K)
    widths = jnp.sqrt(jnp.maximum(jnp.sum(inputs.T * u, axis=0), 0.0))
    beta = swlinucb_radius(window, inputs.shape[-1], hparams, input_bound)
    return inputs @ state.theta + beta * widths


def sw_linucb(
    num_arms: int = 10,
    context_dim: int = 0,
    arm_dim: int = 5,
    window: int | None = None,
    intercept: bool = False,
    feature_bound: float = 1.0,
    max_window: int | None = None,
) -> Agent:
    """SW-LinUCB: LinUCB on the ridge regression of the last ``tau`` observations only.

    With ``W_t`` the last ``tau = window`` rounds (a shared model over
    ``context.arm_features``)::

        V = lambda I + sum_{s in W_t} a_s a_s^T,   b = sum_{s in W_t} r_s a_s
        theta_hat = V^{-1} b,   index(a) = <a, theta_hat> + beta ||a||_{V^{-1}}
        beta = sqrt(lambda) S + sigma sqrt(d log((1 + tau L^2/lambda) / delta))

    with ``L`` a bound on ``||a||`` (Russac et al.'s code assumes ``L = 1``).

    Cost.  The window is a ring buffer of ``M = max_window`` rounds (static) and ``tau``
    is the traced knob ``window <= M`` (:mod:`agents.nonstationary.window`): a sweep over
    windows compiles one program, with the same numbers as a buffer of exactly ``tau``
    rounds.  ``V`` and ``b`` are
    maintained incrementally (add the new observation, subtract the one leaving the
    window: ``O(d^2)``), then ``V`` is refactorised by Cholesky, ``O(d^3)`` per update;
    each action costs ``O(K d^2)``.  No inverse.  The float32 add/subtract accumulates
    round-off of order ``1e-7 sqrt(t)`` relative to the window's sums, far below
    ``lambda`` for the horizons of this package.  Ties at random
    (``action_probabilities``: ``1 / |argmax|`` on the tied arms).

    Args:
      num_arms: K candidates per round.
      context_dim: unused (accepted so the experiment layer can pass the spec).
      arm_dim: d (the model needs arm features: ``needs.features = "arm"``).
      window: the default of the traced knob ``window`` (tau >= 1, the number of past
        observations kept; 100 when None, or ``max_window`` if that is smaller).
      max_window: M, the ring buffer's length (static: sets a shape; default ``window``,
        or 100); the traced window is at most ``M``.  An experiment sets it to the largest
        window it gives the agent unless it is set explicitly.
      intercept: the model reads ``a = [z ; 1]`` (``d + 1`` coordinates, an intercept;
        ``L`` becomes ``sqrt(feature_bound^2 + 1)`` and ``S`` bounds ``(theta, intercept)``).
      feature_bound: ``L``, a bound on the norm of every candidate's features (the
        experiment layer fills it from ``EnvSpec.feature_bound``; ``inf``, none declared,
        falls back to 1 with a warning).

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`SWLinUCBState`.  Its
      ``estimate`` is the windowed ``theta_hat = V^{-1} b (d,)`` kept in the state (the
      update's Cholesky solve; with ``intercept`` its last coordinate dropped), compared
      by the runner with a linear ``true_param``.

    Example::

        agent = sw_linucb(num_arms=50, arm_dim=2, window=int((2 * 6000 / 5.4) ** (2 / 3)))
        swept = sw_linucb(num_arms=50, arm_dim=2, max_window=400)  # hparams.window <= 400

    Reference: W. C. Cheung, D. Simchi-Levi & R. Zhu, "Learning to optimize under
    non-stationarity", AISTATS 2019; the radius as in Russac, Vernade & Cappé (2019).
    """
    check_dims("sw_linucb", num_arms, context_dim, arm_dim)
    window, max_window = resolve_window(window, max_window)
    check_intercept("sw_linucb", intercept)
    feature_bound = resolve_feature_bound("sw_linucb", feature_bound)
    bound = input_bound(feature_bound, intercept)
    dim = feature_dim("shared", context_dim, arm_dim) + int(intercept)

    def init(key, hparams):
        eye = jnp.eye(dim, dtype=jnp.float32)
        return SWLinUCBState(
            inputs=jnp.zeros((max_window, dim), jnp.float32),
            rewards=jnp.zeros((max_window,), jnp.float32),
            position=jnp.zeros((), jnp.int32),
            v=(hparams.ridge * eye).astype(jnp.float32),
            b=jnp.zeros((dim,), jnp.float32),
            chol=(jnp.sqrt(hparams.ridge) * eye).astype(jnp.float32),
            theta=jnp.zeros((dim,), jnp.float32),
        )

    def indices(state, context, hparams):
        check_context("sw_linucb", context, "shared", num_arms, context_dim, arm_dim)
        inputs = arm_inputs(context, "shared", num_arms, context_dim, intercept)
        return swlinucb_indices(state, inputs, hparams, traced_window(hparams, max_window), bound)

    def act(key, state, context, hparams):
        return random_argmax(key, indices(state, context, hparams))

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(indices(state, context, hparams))

    def update(key, state, transition, hparams):
        check_context("sw_linucb", transition.context, "shared", num_arms, context_dim, arm_dim)
        inputs = arm_inputs(transition.context, "shared", num_arms, context_dim, intercept)
        x = inputs[transition.action]
        reward = jnp.asarray(transition.reward, jnp.float32)
        # The round leaving the window (zeros until tau rounds were seen), read before the
        # write: with tau == M it occupies the slot the new round takes.
        leaving = leaving_slot(state.position, traced_window(hparams, max_window), max_window)
        old_x = state.inputs[leaving]
        old_r = state.rewards[leaving]
        v = state.v + jnp.outer(x, x) - jnp.outer(old_x, old_x)
        b = state.b + reward * x - old_r * old_x
        chol = cholesky(v)
        return SWLinUCBState(
            inputs=state.inputs.at[state.position].set(x),
            rewards=state.rewards.at[state.position].set(reward),
            position=(state.position + 1) % max_window,
            v=v,
            b=b,
            chol=chol,
            theta=cho_solve(chol, b),
        )

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "intercept": intercept,
        "feature_bound": feature_bound,
        "max_window": max_window,
    }
    return Agent(
        "sw_linucb",
        init,
        act,
        update,
        functools.partial(SWLinUCBHParams, window=window),
        static,
        estimate=lambda state: drop_intercept(state.theta, intercept),
        action_probabilities=action_probabilities,
        needs=linear_needs("shared", num_arms, context_dim, arm_dim),
        scores=lambda key, state, context, hparams: indices(state, context, hparams),
    )
