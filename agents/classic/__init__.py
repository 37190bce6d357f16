"""Classic (non-contextual) bandit agents."""

from agents.classic.epsilon_greedy import epsilon_greedy
from agents.classic.etc import etc
from agents.classic.exp3 import exp3, exp3_probabilities
from agents.classic.gradient_bandit import gradient_bandit
from agents.classic.kl_ucb import kl_ucb
from agents.classic.random_agent import random_agent
from agents.classic.thompson import gaussian_thompson, thompson
from agents.classic.ucb import ucb
from simulator.registry import Registry


def register_all(registry: Registry) -> None:
    """Register the classic agents."""
    registry.register("random", random_agent, example_env="bernoulli")
    registry.register("epsilon_greedy", epsilon_greedy, example_env="testbed")
    registry.register("ucb", ucb, example_env="bernoulli")
    registry.register("kl_ucb", kl_ucb, example_env="bernoulli")
    registry.register("gradient_bandit", gradient_bandit, example_env="testbed")
    registry.register("thompson", thompson, example_env="bernoulli")
    registry.register("gaussian_thompson", gaussian_thompson, example_env="gaussian")
    registry.register("etc", etc, example_env="bernoulli")
    registry.register("exp3", exp3, example_env="bernoulli")


__all__ = [
    "epsilon_greedy",
    "etc",
    "exp3",
    "exp3_probabilities",
    "gaussian_thompson",
    "gradient_bandit",
    "kl_ucb",
    "random_agent",
    "register_all",
    "thompson",
    "ucb",
]
