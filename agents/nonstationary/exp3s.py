"""EXP3.S: exponential weights with fixed-share mixing, for switching adversaries (Auer et al. 2002)."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from agents.common import check_num_arms
from agents.types import Agent, Needs
from simulator.params import knob


@flax.struct.dataclass
class EXP3SHParams:
    exploration: float = knob(
        0.1,
        low=0.0,
        high=1.0,
        low_open=True,
        doc="gamma in (0, 1]: uniform mixing and learning rate",
    )
    share: float = knob(1e-3, low=0.0, doc="alpha >= 0: weight shared with every arm each round")


class LogWeightState(flax.struct.PyTreeNode):
    """``log w (K,)`` float32, normalised so that ``sum_i w_i = 1``."""

    log_weights: jax.Array


def exp3s_probabilities(state: LogWeightState, hparams) -> jax.Array:
    """``p_i = (1 - gamma) w_i / sum_j w_j + gamma / K``, ``(K,)``."""
    num_arms = state.log_weights.shape[0]
    gamma = hparams.exploration
    return (1.0 - gamma) * jax.nn.softmax(state.log_weights) + gamma / num_arms


def exp3s_update(state: LogWeightState, action, reward, hparams) -> LogWeightState:
    """``w_i <- w_i exp(gamma x_hat_i / K) + (e alpha / K) sum_j w_j`` in log space, then
    normalised; ``x_hat_i = r / p_i`` for the played arm, ``0`` for the others."""
    num_arms = state.log_weights.shape[0]
    gamma = hparams.exploration
    probabilities = exp3s_probabilities(state, hparams)
    estimate = jax.nn.one_hot(action, num_arms, dtype=jnp.float32) * reward / probabilities[action]
    log_total = jax.nn.logsumexp(state.log_weights)
    log_share = jnp.log(jnp.e * hparams.share / num_arms) + log_total  # -inf when alpha = 0
    log_weights = jnp.logaddexp(state.log_weights + gamma * estimate / num_arms, log_share)
    return LogWeightState(log_weights=log_weights - jax.nn.logsumexp(log_weights))


def exp3s(num_arms: int = 10) -> Agent:
    """EXP3.S: EXP3 whose weights share a fraction of their mass every round.

    With rewards ``x in [0, 1]``, ``gamma in (0, 1]``, ``alpha >= 0``, ``w_i(1) = 1``::

        p_i(t) = (1 - gamma) w_i(t) / sum_j w_j(t) + gamma / K,     i_t ~ p(t)
        x_hat_j(t) = x(t) / p_j(t) if j = i_t else 0
        w_j(t+1) = w_j(t) exp(gamma x_hat_j(t) / K) + (e alpha / K) sum_i w_i(t)

    The sharing term lets a weight recover after the best arm switches.  The recursion is
    homogeneous in ``w``, so the state keeps ``log w`` normalised to ``sum w = 1`` (exact,
    and free of overflow).  The probability used in ``x_hat`` is recomputed from the state
    at update time: it is the one the action was drawn from unless feedback is delayed.
    :func:`exp3s_probabilities` is the agent's ``action_probabilities``.

    Args:
      num_arms: K.

    Example::

        agent = exp3s(10)
        hp = agent.default_hparams().replace(exploration=0.05, share=1 / 10_000)

    Reference: P. Auer, N. Cesa-Bianchi, Y. Freund & R. E. Schapire, "The nonstochastic
    multiarmed bandit problem", SIAM J. Computing 32(1), 2002, Section 8 (Exp3.S; their
    tuning ``alpha = 1/T``, ``gamma = min(1, sqrt(K (S ln(K T) + e) / ((e - 1) T)))``).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return LogWeightState(log_weights=jnp.full((num_arms,), -jnp.log(num_arms), jnp.float32))

    def act(key, state, context, hparams):
        logits = jnp.log(exp3s_probabilities(state, hparams))
        return jax.random.categorical(key, logits).astype(jnp.int32)

    def update(key, state, transition, hparams):
        return exp3s_update(state, transition.action, transition.reward, hparams)

    def action_probabilities(state, context, hparams):
        return exp3s_probabilities(state, hparams)

    return Agent(
        "exp3s",
        init,
        act,
        update,
        EXP3SHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
