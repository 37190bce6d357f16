"""Every registered environment and agent passes the conformance checks."""

import pytest

import agents
import simulator
from tests.conformance import check_agent, check_environment


@pytest.mark.parametrize("name", simulator.names())
def test_environment_conforms(name):
    check_environment(simulator.make(name))


@pytest.mark.parametrize("name", agents.names())
def test_agent_conforms(name):
    check_agent(name)
