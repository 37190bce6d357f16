"""The simulation loop: one ``lax.scan`` over time of act → step → log → update.

``make_run(env, agent, num_steps)`` returns a pure ``run(key, env_params, hparams)`` whose
body is one scan and whose result is the per-step log (a NamedTuple of ``(num_steps,)``
arrays).  Long runs are cut into chunks by :func:`init_carry` and :func:`advance`, which
``make_run`` composes; the experiment executor calls them chunk by chunk.

Randomness.  A run key splits into an environment key and an agent key.  The key of step
``t`` is ``fold_in(key, t)``: it depends on the step index only, never on how the horizon
is cut into chunks, so chunked and unchunked runs give the same numbers.  The environment
keys never depend on the agent, so every agent of an experiment sees the same exogenous
randomness for a seed (common random numbers).

Example::

    run = jax.jit(make_run(simulator.make("bernoulli"), agents.make("ucb"), 1000))
    log = run(jax.random.key(0), env.default_params(), agent.default_hparams())
    log.regret.cumsum()
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.types import Agent, Transition
from experiments import threefry
from simulator.types import Environment, TimeStep

threefry.use_default()


class Carry(NamedTuple):
    """Everything that flows from one step to the next (a stable scan carry)."""

    env_state: Any
    agent_state: Any
    timestep: TimeStep


class RunKeys(NamedTuple):
    """The two independent key streams of a run."""

    env: jax.Array
    agent: jax.Array


def split_run_key(key: jax.Array) -> RunKeys:
    """Split a run key into the environment stream and the agent stream."""
    key_env, key_agent = jax.random.split(key)
    return RunKeys(env=key_env, agent=key_agent)


RESET_INDEX = 0xFFFFFFFF  # fold-in index of the reset / init keys, never a step index


def init_carry(env: Environment, agent: Agent, keys: RunKeys, env_params, hparams) -> Carry:
    """Reset the environment and initialise the agent."""
    env_state, timestep = env.reset(jax.random.fold_in(keys.env, RESET_INDEX), env_params)
    agent_state = agent.init(jax.random.fold_in(keys.agent, RESET_INDEX), hparams)
    return Carry(env_state=env_state, agent_state=agent_state, timestep=timestep)


def step_once(env: Environment, agent: Agent, carry: Carry, keys: RunKeys, t, env_params, hparams):
    """One round at time index ``t``: returns ``(next carry, per-step log)``."""
    key_env_t = jax.random.fold_in(keys.env, t)
    key_act, key_update = jax.random.split(jax.random.fold_in(keys.agent, t))
    timestep = carry.timestep
    action = agent.act(key_act, carry.agent_state, timestep.context, hparams)
    env_state, next_timestep = env.step(key_env_t, carry.env_state, action, env_params)
    transition = Transition(
        context=timestep.context,
        action=action,
        reward=next_timestep.reward,
        label=next_timestep.label,
        oracle=timestep.oracle,
    )
    log = env.log(timestep, action, next_timestep)
    if agent.estimate is not None:
        estimate = agent.estimate(carry.agent_state)
        true_param = timestep.oracle.true_param
        if estimate.shape == true_param.shape:
            error = jnp.linalg.norm(estimate - true_param).astype(jnp.float32)
            log = with_param_error(type(log))(*log, error)
    agent_state = agent.update(key_update, carry.agent_state, transition, hparams)
    return Carry(env_state, agent_state, next_timestep), log


@functools.cache
def with_param_error(log_type: type) -> type:
    """The environment's log type plus ``param_error``: the distance between the agent's
    estimate (the one it acted with) and the true parameter behind the reward."""
    return NamedTuple(
        f"{log_type.__name__}WithParamError",
        [(f, Any) for f in log_type._fields] + [("param_error", Any)],
    )


def advance(
    env: Environment,
    agent: Agent,
    carry: Carry,
    keys: RunKeys,
    env_params,
    hparams,
    t_start,
    num_steps: int,
    record_every: int = 1,
):
    """Run ``num_steps`` rounds from time index ``t_start`` (traced) with one ``lax.scan``.

    Returns ``(carry, log)``: the log holds ``num_steps // record_every`` values per metric,
    each the mean over its block of ``record_every`` consecutive steps (``record_every=1``
    keeps every step).  ``num_steps`` must be a multiple of ``record_every``.
    """
    if num_steps % record_every:
        raise ValueError(f"num_steps={num_steps} is not a multiple of record_every={record_every}")

    def body(carry, t):
        return step_once(env, agent, carry, keys, t, env_params, hparams)

    def block(carry, t_block):
        times = t_block + jnp.arange(record_every, dtype=jnp.int32)
        carry, logs = jax.lax.scan(body, carry, times)
        return carry, jax.tree.map(lambda x: jnp.mean(x, axis=0), logs)

    t_start = jnp.asarray(t_start, jnp.int32)
    if record_every == 1:
        times = t_start + jnp.arange(num_steps, dtype=jnp.int32)
        return jax.lax.scan(body, carry, times)
    blocks = t_start + record_every * jnp.arange(num_steps // record_every, dtype=jnp.int32)
    return jax.lax.scan(block, carry, blocks)


def make_run(env: Environment, agent: Agent, num_steps: int, record_every: int = 1):
    """A pure ``run(key, env_params, hparams) -> log`` over ``num_steps`` rounds.

    The log is the environment's per-step NamedTuple (``reward``, ``regret``, ``optimal``
    for bandits) with a leading time axis.  Not jitted: jit (and vmap) it at the top.
    """

    def run(key, env_params, hparams):
        keys = split_run_key(key)
        carry = init_carry(env, agent, keys, env_params, hparams)
        _, log = advance(env, agent, carry, keys, env_params, hparams, 0, num_steps, record_every)
        return log

    return run
