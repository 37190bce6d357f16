"""EXP3: exponential weights for adversarial bandits (Auer, Cesa-Bianchi, Freund & Schapire 2002).

The exponential-weights core here serves both EXP3 and its fixed-share variant EXP3.S
(:mod:`agents.nonstationary.exp3s`): with rewards ``x in [0, 1]``, ``gamma in (0, 1]``,
``alpha >= 0`` and ``w_a(1) = 1``::

    p_a(t) = (1 - gamma) w_a(t) / sum_b w_b(t) + gamma / K,      A_t ~ p(t)
    x_hat_a(t) = x(t) / p_a(t) if a = A_t else 0
    w_a(t+1) = w_a(t) exp(gamma x_hat_a(t) / K) + (e alpha / K) sum_b w_b(t)

EXP3 is EXP3.S without sharing, ``alpha = 0``: its program leaves the sharing term out
(:func:`exp3_update` with ``share=None``).  The update is homogeneous in ``w``, so the
state keeps ``log w`` normalised to ``sum w = 1`` (same probabilities, no overflow, and no
float32 increments lost against a large weight over long runs).  The probability in
``x_hat`` is recomputed from the state at update time; it is the one the action was drawn
from unless feedback is delayed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import check_num_arms
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class EXP3HParams:
    exploration: float = knob(
        0.1,
        low=0.0,
        high=1.0,
        low_open=True,
        doc="gamma in (0, 1]: uniform mixing and learning rate",
    )


class LogWeightState(pytree.PyTreeNode):
    """``log w (K,)`` float32, normalised so that ``sum_a w_a = 1``."""

    log_weights: jax.Array


def exp3_probabilities(state: LogWeightState, hparams) -> jax.Array:
    """The action distribution ``p_a = (1 - gamma) w_a / sum_b w_b + gamma / K``, ``(K,)``."""
    num_arms = state.log_weights.shape[-1]
    gamma = hparams.exploration
    return (1.0 - gamma) * jax.nn.softmax(state.log_weights) + gamma / num_arms


def exp3_update(state: LogWeightState, action, reward, hparams, share=None) -> LogWeightState:
    """``w_a <- w_a exp(gamma x_hat_a / K) + (e alpha / K) sum_b w_b`` in log space, then
    normalised; ``x_hat_a = r / p_a`` for the played arm, ``0`` for the others.

    ``share`` is ``alpha`` (EXP3.S); ``None`` leaves the sharing term out (EXP3,
    ``alpha = 0``).
    """
    num_arms = state.log_weights.shape[-1]
    probability = exp3_probabilities(state, hparams)[action]
    estimate = reward / probability
    log_weights = state.log_weights.at[action].add(hparams.exploration * estimate / num_arms)
    if share is not None:
        log_total = jax.nn.logsumexp(state.log_weights)
        log_share = jnp.log(jnp.e * share / num_arms) + log_total  # -inf when alpha = 0
        log_weights = jnp.logaddexp(log_weights, log_share)
    log_weights = log_weights - jax.nn.logsumexp(log_weights)
    return LogWeightState(log_weights=log_weights.astype(jnp.float32))


def exponential_weights(name: str, num_arms: int, hparams_type: type, sharing: bool) -> Agent:
    """The agent ``name`` of the core above: EXP3 (``sharing=False``) or EXP3.S
    (``sharing=True``, ``alpha`` the knob ``share`` of ``hparams_type``).

    :func:`exp3_probabilities` is the propensity of every action (the agent's
    ``action_probabilities``).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return LogWeightState(log_weights=jnp.full((num_arms,), -jnp.log(num_arms), jnp.float32))

    def act(key, state, context, hparams):
        logits = jnp.log(exp3_probabilities(state, hparams))
        return jax.random.categorical(key, logits).astype(jnp.int32)

    def update(key, state, transition, hparams):
        share = hparams.share if sharing else None
        return exp3_update(state, transition.action, transition.reward, hparams, share)

    def action_probabilities(state, context, hparams):
        return exp3_probabilities(state, hparams)

    return Agent(
        name,
        init,
        act,
        update,
        hparams_type,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )


def exp3(num_arms: int = 10) -> Agent:
    """EXP3: exponential weights on importance-weighted reward estimates, mixed with uniform.

    With rewards ``x in [0, 1]``, ``gamma`` the ``exploration`` knob, ``w_a(1) = 1``::

        p_a(t) = (1 - gamma) w_a(t) / sum_b w_b(t) + gamma / K,      A_t ~ p(t)
        x_hat_a(t) = x(t) / p_a(t) if a = A_t else 0
        w_a(t+1) = w_a(t) exp(gamma x_hat_a(t) / K)

    This is EXP3.S with ``alpha = 0`` (see the module docstring for the state, kept as
    normalised ``log w``).  :func:`exp3_probabilities` is the propensity of every action
    (the agent's ``action_probabilities``).

    Args:
      num_arms: K.

    Example::

        agent = exp3(10)
        hp = agent.default_hparams().replace(exploration=0.05)

    Reference: P. Auer, N. Cesa-Bianchi, Y. Freund & R. E. Schapire, "The nonstochastic
    multiarmed bandit problem", SIAM J. Computing 32(1), 2002, Section 3 (Exp3; with a
    horizon T, ``gamma = min(1, sqrt(K ln K / ((e - 1) T)))``).
    """
    return exponential_weights("exp3", num_arms, EXP3HParams, sharing=False)
