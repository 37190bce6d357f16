"""Reusable conformance checks for environments and agents (used by tests/test_conformance.py).

Each check compiles only a handful of small programs, so the suite stays fast: an agent is
exercised on the one environment it declares as ``example_env`` at registration.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import agents
import simulator
from experiments.runner import make_run

NUM_STEPS = 24


def tree_signature(tree):
    """Structure, shapes and dtypes of a pytree (a stable scan carry keeps all three)."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, [(jnp.shape(x), jnp.result_type(x)) for x in leaves]


def example_env(agent_name: str):
    spec = agents.REGISTRY.meta(agent_name).get("example_env", "bernoulli")
    name, static = (spec, {}) if isinstance(spec, str) else spec
    return simulator.make(name, **static)


def agent_for_env(agent_name: str, env, **static):
    """Build the agent with the static shapes it needs from ``env.spec``."""
    wanted = agents.REGISTRY.static_fields(agent_name)
    for field, value in env.spec._asdict().items():
        if field in wanted and field not in static:
            static[field] = value
    return agents.make(agent_name, **static)


def assert_no_lapack(jitted, *args) -> None:
    """The CPU program calls no LAPACK kernel: one can hang a sweep sharded over CPU
    devices (see :mod:`agents.linalg`, whose kernels avoid them)."""
    text = jitted.lower(*args).as_text()
    assert "@lapack_" not in text, "a LAPACK call on a CPU: use agents.linalg's kernels"


def check_environment(env) -> None:
    """Jits, vmaps over keys and params, keeps a stable carry, deterministic per key."""
    params = env.default_params()
    key = jax.random.key(0)
    reset = jax.jit(env.reset)
    state, timestep = reset(key, params)
    spec = env.spec
    assert timestep.oracle.expected_reward.shape == (spec.num_arms,)
    assert timestep.context.features.shape == (spec.context_dim,)
    assert timestep.context.arm_features.shape == (spec.num_arms, spec.arm_dim)

    step = jax.jit(env.step)
    action = jnp.zeros((), jnp.int32)
    if spec.action == simulator.capabilities.SLATE:  # positions 1..k show arms 0..k-1
        action = jnp.arange(spec.slate_size, dtype=jnp.int32)
    state_1, timestep_1 = step(jax.random.key(1), state, action, params)
    assert tree_signature((state_1, timestep_1)) == tree_signature((state, timestep))
    again = step(jax.random.key(1), state, action, params)
    np.testing.assert_array_equal(np.asarray(again[1].reward), np.asarray(timestep_1.reward))

    keys = jax.random.split(jax.random.key(2), 3)
    states, timesteps = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    assert timesteps.reward.shape == (3,)
    if jax.tree.leaves(params):
        stacked = jax.tree.map(lambda x: jnp.stack([x, x]), params)
        jax.jit(jax.vmap(env.reset, in_axes=(None, 0)))(key, stacked)


def check_agent(agent_name: str) -> None:
    """The registered agent passes :func:`check_agent_on` its ``example_env``."""
    env = example_env(agent_name)
    check_agent_on(env, agent_for_env(agent_name, env))


def wrapped_for_env(wrapper: str, agent_name: str, env, **options):
    """``agent_name`` built for ``env`` inside ``wrapper`` (shapes filled from ``env.spec``)."""
    wanted = agents.WRAPPERS.static_fields(wrapper)
    for field, value in env.spec._asdict().items():
        if field in wanted and field not in options:
            options[field] = value
    return agents.wrap(agent_for_env(agent_name, env), wrapper, **options)


def check_agent_on(env, agent) -> None:
    """An agent fits ``env``, runs in the scan, vmaps over keys and hparams, varies across
    keys, its state is a stable carry, and it calls no LAPACK kernel on a CPU."""
    agents.check_fits(env, agent)
    env_params = env.default_params()
    hparams = agent.default_hparams()
    simulator.check(hparams, "agent")

    state = agent.init(jax.random.key(0), hparams)
    _, timestep = env.reset(jax.random.key(1), env_params)
    action = agent.act(jax.random.key(2), state, timestep.context, hparams)
    assert jnp.shape(action) == () or action.ndim >= 0

    traces = []

    def run_seeds(keys, hp):
        traces.append(1)
        return jax.vmap(make_run(env, agent, NUM_STEPS), in_axes=(0, None, None))(
            keys, env_params, hp
        )

    run = jax.jit(run_seeds)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(7), i))(jnp.arange(4))
    log = run(keys, hparams)
    log_again = run(keys, hparams)
    assert len(traces) == 1, "the run must trace once for a fixed shape"
    for name, value in log._asdict().items():
        assert value.shape == (4, NUM_STEPS), name
        np.testing.assert_array_equal(np.asarray(value), np.asarray(log_again._asdict()[name]))
    assert np.all(np.isfinite(np.asarray(log.regret)))
    rewards = np.asarray(log.reward)
    assert not all(np.array_equal(rewards[0], rewards[i]) for i in range(1, 4)), "keys must matter"
    assert_no_lapack(run, keys, hparams)
