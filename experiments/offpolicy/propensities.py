"""Propensities: the probability with which a policy took an action.

An agent whose policy has a closed form (uniform, ε-greedy, EXP3, softmax, the index
policies with their random tie-breaks) gives its exact action distribution as
``agent.action_probabilities(state, context, hparams) -> (K,)``; the off-policy code asks
the agent for it, never its name.  Any other agent (Thompson sampling, anything whose
``act`` samples) gets a Monte-Carlo estimate built from draws of its ``act`` with keys
*independent* of the draw that was logged:

* a **logged propensity** ``p = pi(a | x)`` enters the estimators as ``1 / p``.  Counting
  the logged draw among the samples (as a frequency ``count / M`` would) biases ``p``
  upward by about ``(1 - p) / M``, and the inverse of an unbiased ``p_hat`` is still biased
  (Jensen; infinite when ``p_hat = 0``).  Instead the recorder draws ``a_1, a_2, ...``
  independently of the logged one and keeps ``N = min{j : a_j = a}``, capped at ``M``:
  ``N`` is geometric with ``E[N] = 1 / p``, so ``1 / N`` is stored as the propensity and
  the weight ``pi_target(a | x) N`` is unbiased but for the cap, whose bias is
  ``E[min(N, M)] - 1/p = -(1 - p)^M / p`` (relative bias ``-(1 - p)^M``: 1e-4 at
  ``M p = 9.2``);
* a **target** policy's distribution ``pi(. | x)`` enters linearly, so the frequency of
  ``M`` independent draws is unbiased for it.

Example::

    acting = behaviour(agent, "auto", num_samples=256)
    p = acting.propensity(key_act, state, context, hparams, action)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.types import Agent
from experiments.schema import PROPENSITY_MODES
from simulator.params import ConfigError
from simulator.types import Context

Array = jax.Array

#: ``(state, context, hparams) -> (K,)``: an agent's exact action distribution.
ProbabilityFn = Callable[[Any, Context, Any], Array]


def exact_probabilities(agent: Agent) -> ProbabilityFn | None:
    """The agent's exact ``(state, context, hparams) -> (K,)`` action distribution, its
    ``action_probabilities``, or None when its policy has no closed form."""
    return agent.action_probabilities


class Behaviour(NamedTuple):
    """A policy's probabilities, exact or estimated.

    Attributes:
      propensity: ``(key, state, context, hparams, action) -> ()`` the (estimated)
        probability of ``action``, which ``agent.act`` drew with ``key``; estimates use
        draws independent of it (see the module docstring).
      distribution: ``(key, state, context, hparams) -> (K,)`` the (estimated) action
        distribution (target policies).
      exact: whether both are exact.
    """

    propensity: Callable[[Array, Any, Context, Any, Array], Array]
    distribution: Callable[[Array, Any, Context, Any], Array]
    exact: bool


def behaviour(agent: Agent, propensity: str = "auto", num_samples: int = 256) -> Behaviour:
    """The agent's probabilities.

    Args:
      agent: any driftsim agent.
      propensity: ``"exact"`` (ConfigError if the agent has no exact distribution),
        ``"monte_carlo"`` (estimated from ``num_samples`` draws of ``act``), or ``"auto"``
        (exact when available, else Monte Carlo).
      num_samples: M, the independent draws of a Monte-Carlo estimate.
    """
    if propensity not in PROPENSITY_MODES:
        raise ConfigError(
            f"propensity = {propensity!r}: unknown; allowed: {', '.join(PROPENSITY_MODES)}"
        )
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigError(f"num_samples = {num_samples!r}: must be an integer >= 1")
    exact = exact_probabilities(agent) if propensity != "monte_carlo" else None
    if propensity == "exact" and exact is None:
        raise ConfigError(
            f"propensity = 'exact': agent {agent.name!r} has no exact action distribution "
            "(it provides no action_probabilities); use propensity = 'monte_carlo'"
        )
    if exact is not None:

        def exact_distribution(key, state, context, hparams):
            return jnp.asarray(exact(state, context, hparams), jnp.float32)

        def exact_propensity(key, state, context, hparams, action):
            return exact_distribution(key, state, context, hparams)[action]

        return Behaviour(exact_propensity, exact_distribution, True)

    def draws(key, state, context, hparams):
        """``(M,)`` actions drawn with ``fold_in(key, j)``, ``j = 1..M``: independent of
        the draw made with ``key`` itself."""
        keys = jax.vmap(lambda j: jax.random.fold_in(key, j))(jnp.arange(1, num_samples + 1))
        return jax.vmap(agent.act, in_axes=(0, None, None, None))(keys, state, context, hparams)

    def sampled_propensity(key, state, context, hparams, action):
        matches = draws(key, state, context, hparams) == action
        first = jnp.where(jnp.any(matches), jnp.argmax(matches) + 1, num_samples)
        return 1.0 / first.astype(jnp.float32)  # 1 / N, N ~ Geometric(p) capped at M

    def sampled_distribution(key, state, context, hparams):
        num_arms = context.arm_features.shape[0]
        one_hot = jax.nn.one_hot(draws(key, state, context, hparams), num_arms)
        return jnp.mean(one_hot, axis=0, dtype=jnp.float32)

    return Behaviour(sampled_propensity, sampled_distribution, False)


def target_probabilities(
    key: Array,
    agent: Agent,
    state: Any,
    context: Context,
    hparams: Any,
    propensity: str = "auto",
    num_samples: int = 256,
) -> Array:
    """``(n, K)``: the action distribution of a *frozen* agent (its ``state`` fixed) on each
    of the ``n`` contexts (a stacked :class:`Context`, e.g. ``log.context``).

    ``key`` serves the Monte-Carlo estimate of agents without exact probabilities (row
    ``i`` uses ``fold_in(key, i)``; see :func:`behaviour`).
    """
    distribution = behaviour(agent, propensity, num_samples).distribution
    n = context.features.shape[0]
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
    return jax.vmap(lambda k, c: distribution(k, state, c, hparams))(keys, context)


def policy_value(probabilities: Array, expected_reward: Array) -> Array:
    """The true value ``mean_i sum_a pi(a|x_i) mu(x_i, a)`` on a log's contexts."""
    return jnp.mean(jnp.sum(probabilities * expected_reward, axis=-1), axis=-1)
