"""Logs of bandit feedback: one row per round, from a driftsim run or from arrays.

A **log** (:class:`BanditLog`) holds the context, the action the logging policy took, the
reward, and the *propensity*, the probability with which the logging policy chose that
action (:mod:`experiments.offpolicy.propensities`).  :func:`make_recorder` records one from
any driftsim run through :func:`experiments.runner.make_run` (the same scan, keys and
updates as an unrecorded run), keeping the oracle's expected rewards, so the true value of
any policy on the log's contexts is known; :func:`log_from_arrays` reads one from arrays;
:func:`experiments.offpolicy.obd.obd_log` from the Open Bandit Dataset.

Example::

    record = make_recorder(env, agents.make("epsilon_greedy", num_arms=4), 1000)
    log = jax.jit(record)(jax.random.key(0), env.default_params(), hparams)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.types import Agent
from experiments.offpolicy.propensities import behaviour
from experiments.runner import Round, advance, init_carry, make_run, split_run_key
from simulator.params import ConfigError
from simulator.types import Context, Environment

Array = jax.Array


class BanditLog(NamedTuple):
    """Logged bandit feedback, one row per round (leading axis ``n``).

    Attributes:
      context: :class:`~simulator.types.Context` with ``features (n, context_dim)`` and
        ``arm_features (n, K, arm_dim)``.
      action: ``(n,)`` int32 logged action.
      reward: ``(n,)`` float32 logged reward.
      propensity: ``(n,)`` float32 probability that the logging policy chose ``action``.
      expected_reward: ``(n, K)`` float32 oracle expected reward of every arm (simulated
        logs), or ``(n, 0)`` when unknown (real logs).
    """

    context: Context
    action: Array
    reward: Array
    propensity: Array
    expected_reward: Array

    @property
    def num_arms(self) -> int:
        return int(self.context.arm_features.shape[-2])

    @property
    def num_rows(self) -> int:
        return int(self.action.shape[-1])


def make_recorder(
    env: Environment,
    agent: Agent,
    num_steps: int,
    propensity: str = "auto",
    num_samples: int = 256,
):
    """A pure ``record(key, env_params, hparams) -> BanditLog`` of ``num_steps`` rounds.

    It is :func:`experiments.runner.make_run` with a recorder (same scan, same keys, same
    actions and updates as an unrecorded run): each round also records the context, the
    action's propensity under the agent (:func:`~experiments.offpolicy.propensities.behaviour`,
    exact where the agent gives ``action_probabilities``) and the oracle's expected rewards.
    Not jitted: ``jax.jit(jax.vmap(record, in_axes=(0, None, None)))`` records one log per
    seed.
    """
    acting = behaviour(agent, propensity, num_samples)

    def row(step: Round) -> BanditLog:
        context = step.timestep.context
        return BanditLog(
            context=context,
            action=jnp.asarray(step.action, jnp.int32),
            reward=step.next_timestep.reward,
            propensity=acting.propensity(
                step.key_act, step.agent_state, context, step.hparams, step.action
            ),
            expected_reward=step.timestep.oracle.expected_reward,
        )

    return make_run(env, agent, num_steps, record=row)


def log_from_arrays(
    features: Any,
    action: Any,
    reward: Any,
    propensity: Any,
    num_arms: int,
    arm_features: Any = None,
    expected_reward: Any = None,
) -> BanditLog:
    """A :class:`BanditLog` from arrays, validated (ConfigError naming the bad one).

    Args:
      features: ``(n, d)`` context features (``d`` may be 0).
      action: ``(n,)`` integers in ``[0, num_arms)``.
      reward: ``(n,)``.
      propensity: ``(n,)`` in ``(0, 1]``.
      num_arms: K.
      arm_features: ``(n, K, m)`` or None (no item features).
      expected_reward: ``(n, K)`` or None (unknown).
    """
    x = np.asarray(features, np.float32)
    n = x.shape[0] if x.ndim == 2 else -1
    if x.ndim != 2:
        raise ConfigError(f"features has shape {x.shape}: must be (num_rows, context_dim)")
    a, r, p = (np.asarray(v) for v in (action, reward, propensity))
    for name, value in (("action", a), ("reward", r), ("propensity", p)):
        if value.shape != (n,):
            raise ConfigError(f"{name} has shape {value.shape}: must be (num_rows,) = ({n},)")
    if not isinstance(num_arms, int) or num_arms < 1:
        raise ConfigError(f"num_arms = {num_arms!r}: must be an integer >= 1")
    if np.any(a != np.round(a)) or a.min() < 0 or a.max() >= num_arms:
        raise ConfigError(f"action: must be integers in [0, num_arms = {num_arms})")
    if not np.all((p > 0) & (p <= 1)):
        raise ConfigError("propensity: every entry must be in (0, 1]")
    arms = (
        np.zeros((n, num_arms, 0), np.float32)
        if arm_features is None
        else np.asarray(arm_features, np.float32)
    )
    if arms.ndim != 3 or arms.shape[:2] != (n, num_arms):
        raise ConfigError(
            f"arm_features has shape {arms.shape}: must be (num_rows, num_arms, arm_dim)"
        )
    truth = (
        np.zeros((n, 0), np.float32)
        if expected_reward is None
        else np.asarray(expected_reward, np.float32)
    )
    if truth.shape not in ((n, num_arms), (n, 0)):
        raise ConfigError(f"expected_reward has shape {truth.shape}: must be ({n}, {num_arms})")
    return BanditLog(
        context=Context(features=jnp.asarray(x), arm_features=jnp.asarray(arms)),
        action=jnp.asarray(a, jnp.int32),
        reward=jnp.asarray(r, jnp.float32),
        propensity=jnp.asarray(p, jnp.float32),
        expected_reward=jnp.asarray(truth),
    )


def rows(log: BanditLog, index: Any) -> BanditLog:
    """The rows ``index`` of a log (an index array or a slice)."""
    return jax.tree.map(lambda x: x[index], log)


def train(
    key: Array, env: Environment, agent: Agent, num_steps: int, env_params: Any, hparams: Any
) -> Any:
    """The agent's state after ``num_steps`` online rounds on ``env`` (to freeze as a target
    policy).  Same keys as :func:`experiments.runner.make_run`."""
    keys = split_run_key(key)
    carry = init_carry(env, agent, keys, env_params, hparams)
    carry, _ = advance(env, agent, carry, keys, env_params, hparams, 0, num_steps)
    return carry.agent_state
