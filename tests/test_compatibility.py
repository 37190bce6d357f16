"""The whole compatibility matrix: every registered environment × agent (× wrapper).

Each pair is accepted or refused by validation alone (plain Python: the agent built with the
environment's shapes, then its declared needs against the environment's spec); every
accepted pair traces one step with ``jax.eval_shape`` (no XLA compilation), so an accepted
pair never crashes inside the scan and a refused one never runs.  Every pair a preset or an
agent's ``example_env`` uses is accepted.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import experiments
import simulator
from experiments import api, presets
from experiments.plan import plan
from experiments.runner import init_carry, split_run_key, step_once
from simulator.params import ConfigError
from tests.conformance import agent_for_env, example_env

#: Wrapper options applied to every agent (the shapes are filled from the environment).
WRAPPERS = {"restart": {}, "fresh_arms": {}, "delay": {"every": 2, "delay": 1}, "top_k": {}}

#: The registered environments with their defaults, and variants that offer more (the
#: linear cascade gives slates with arm features, which the scoring agents need; drifting
#: users shown slates give ids too, for two_tower behind top_k).
ENVIRONMENTS = {name: (name, {}) for name in simulator.names()} | {
    "cascade[arm_dim=4]": ("cascade", {"arm_dim": 4}),
    "drifting_users[slate_size=3]": ("drifting_users", {"slate_size": 3}),
}


@functools.cache
def environment(label: str):
    name, static = ENVIRONMENTS[label]
    return simulator.make(name, **static)


def build(agent_name: str, env, wrapper: str | None = None):
    """The agent built for ``env`` as experiments builds it, or the ConfigError refusing it."""
    try:
        agent = agent_for_env(agent_name, env)
        if wrapper is not None:
            options = dict(WRAPPERS[wrapper])
            wanted = agents.WRAPPERS.static_fields(wrapper)
            for field in ("num_arms", "slate_size", "context_dim", "arm_dim"):
                if field in wanted:
                    options[field] = getattr(env.spec, field)
            agent = agents.wrap(agent, wrapper, **options)
        agents.check_fits(env, agent)
    except ConfigError as err:
        return None, err
    return agent, None


def trace_one_step(env, agent):
    """``eval_shape`` of reset, init and one step (traces; compiles nothing)."""
    env_params, hparams = env.default_params(), agent.default_hparams()

    def one_step(key):
        keys = split_run_key(key)
        carry = init_carry(env, agent, keys, env_params, hparams, hindsight=True)
        return step_once(env, agent, carry, keys, jnp.int32(0), env_params, hparams)

    return jax.eval_shape(one_step, jax.random.key(0))


def matrix(wrapper: str | None = None):
    """``{(env, agent): agent-or-None, error-or-None}`` over the registries."""
    return {
        (env_name, agent_name): build(agent_name, environment(env_name), wrapper)
        for env_name in ENVIRONMENTS
        for agent_name in agents.names()
    }


#: Wrappers that keep the inner agent's act, state and needs (they change its update only):
#: every pair is validated, and one accepted pair per agent is traced (the bare column
#: traces them all).
UPDATE_ONLY = ("restart", "fresh_arms")


@pytest.mark.parametrize("wrapper", [None, *WRAPPERS])
def test_every_pair_is_accepted_or_refused_and_accepted_pairs_trace(wrapper):
    bare = matrix(None)
    traced: set[str] = set()
    for (env_name, agent_name), (agent, error) in matrix(wrapper).items():
        if error is not None:
            message = str(error)
            assert "\n" not in message and message, (env_name, agent_name)
            continue
        if wrapper != "top_k":  # top_k turns a one-arm agent into a ranker
            assert bare[env_name, agent_name][1] is None, (env_name, agent_name)  # same needs
        if wrapper in UPDATE_ONLY and agent_name in traced:
            continue
        traced.add(agent_name)
        env = environment(env_name)
        carry, log = trace_one_step(env, agent)  # raises on a pair that does not fit
        assert log.reward.shape == (), (env_name, agent_name)
    assert traced


def test_refusals_name_both_sides_and_the_missing_capability():
    cases = {
        ("bernoulli", "ogd"): "ogd acts with a real-valued prediction; bernoulli expects one arm",
        ("regression_stream", "thompson"): "thompson acts with one arm index; regression_stream",
        ("testbed", "thompson"): "thompson needs click rewards in {0, 1}; testbed gives real",
        ("bernoulli", "linucb"): "linucb needs arm features; bernoulli gives",
    }
    for (env_name, agent_name), expected in cases.items():
        experiment = {
            "env": {"name": env_name},
            "agents": [{"label": "x", "name": agent_name}],
            "num_seeds": 1,
            "num_steps": 2,
        }
        with pytest.raises(ConfigError) as err:
            plan(api.as_experiment(experiment))
        message = str(err.value)
        assert message.startswith("agents.x: "), message
        assert expected in message, message


def test_regression_stream_refusal_suggests_an_agent_that_fits():
    experiment = {
        "env": {"name": "regression_stream"},
        "agents": [{"label": "ts", "name": "thompson"}],
        "num_seeds": 1,
        "num_steps": 2,
    }
    with pytest.raises(ConfigError, match=r"agents that fit regression_stream: ogd"):
        plan(api.as_experiment(experiment))


def test_every_example_env_pair_is_accepted():
    for agent_name in agents.names():
        env = example_env(agent_name)
        agent, error = build(agent_name, env)
        assert error is None, (agent_name, error)


SIMULATED_PRESETS = [name for name in presets.names() if presets.load(name).kind == "simulate"]


@pytest.mark.parametrize("name", SIMULATED_PRESETS)
def test_every_preset_pair_is_accepted(name):
    plans = plan(presets.load(name))  # raises a ConfigError on a pair that does not fit
    assert all(g.agent for p in plans for g in p.groups)


def test_an_out_of_range_action_is_counted_and_reported():
    """An agent returning arm 13 on a 5-armed bandit: the run is reported (warning with the
    label and the first bad value) and left out, never a silent reward."""

    def bad_agent(num_arms: int = 5):
        def init(key, hparams):
            return jnp.zeros((), jnp.int32)

        def act(key, state, context, hparams):
            return jnp.where(state >= 3, 13, 0).astype(jnp.int32)  # valid, then out of range

        def update(key, state, transition, hparams):
            return state + 1

        return agents.Agent(
            "bad", init, act, update, agents.make("random").default_hparams,
            {"num_arms": num_arms}, needs=agents.Needs(num_arms=num_arms),
        )  # fmt: skip

    agents.register("bad_arm_for_test", bad_agent, replace=True)
    experiment = {
        "env": {"name": "bernoulli", "num_arms": 5},
        "agents": [{"label": "bad", "name": "bad_arm_for_test"}, {"label": "ucb", "name": "ucb"}],
        "num_seeds": 3,
        "num_steps": 8,
    }
    with pytest.warns(experiments.InvalidActionWarning, match=r"agents\.bad: 3 run\(s\).*was 13"):
        results = experiments.run(experiment)
    np.testing.assert_array_equal(results["bad"].invalid_actions, np.full((1, 3), 5))
    assert np.isnan(results["bad"].reward).all()
    assert (results["ucb"].invalid_actions == 0).all()
    assert np.isfinite(results["ucb"].reward).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid agent warns nothing
        experiments.run({**experiment, "agents": [{"label": "ucb", "name": "ucb"}]})


def test_a_float_action_on_an_arm_environment_is_refused_when_traced():
    env = simulator.make("bernoulli", num_arms=3)
    agent = agents.make("random", num_arms=3)
    floaty = agents.Agent(
        "floaty",
        agent.init,
        lambda key, state, context, hparams: jnp.float32(1.0),
        agent.update,
        agent.default_hparams,
        needs=agents.Needs(num_arms=3),
    )
    with pytest.raises(ConfigError, match="floaty.*expects one int32 arm index"):
        trace_one_step(env, floaty)
