"""Every registered environment and agent passes the conformance checks."""

import pytest

import agents
import simulator
from tests.conformance import check_agent, check_agent_on, check_environment, wrapped_for_env


@pytest.mark.parametrize("name", simulator.names())
def test_environment_conforms(name):
    check_environment(simulator.make(name))


@pytest.mark.parametrize("name", agents.names())
def test_agent_conforms(name):
    check_agent(name)


#: Each wrapper around an agent, on an environment that gives it something to do.
WRAPPED = [
    ("restart", "ucb", "piecewise_bernoulli", {}),
    ("fresh_arms", "ucb", "dynamic_items", {}),
    ("delay", "thompson", "bernoulli", {"every": 3, "delay": 2}),
    ("top_k", "linucb", ("cascade", {"arm_dim": 4}), {}),
]


@pytest.mark.parametrize(("wrapper", "agent_name", "env_name", "options"), WRAPPED)
def test_wrapper_conforms(wrapper, agent_name, env_name, options):
    env_name, env_static = (env_name, {}) if isinstance(env_name, str) else env_name
    env = simulator.make(env_name, **env_static)
    check_agent_on(env, wrapped_for_env(wrapper, agent_name, env, **options))


def test_every_wrapper_is_in_the_conformance_suite():
    assert sorted({w for w, *_ in WRAPPED}) == agents.WRAPPERS.names()
