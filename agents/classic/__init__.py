"""Classic (non-contextual) bandit agents."""

from agents.classic.epsilon_greedy import epsilon_greedy
from agents.classic.random_agent import random_agent
from simulator.registry import Registry


def register_all(registry: Registry) -> None:
    """Register the classic agents."""
    registry.register("random", random_agent, example_env="bernoulli")
    registry.register("epsilon_greedy", epsilon_greedy, example_env="testbed")
