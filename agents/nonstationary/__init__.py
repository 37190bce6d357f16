"""Drift-aware agents: discounting, sliding windows, change detection, restarts by sharing."""

from agents.nonstationary.d_linucb import d_linucb
from agents.nonstationary.discounted_thompson import discounted_thompson
from agents.nonstationary.discounted_ucb import discounted_ucb, sliding_window_ucb
from agents.nonstationary.exp3s import exp3s
from agents.nonstationary.m_ucb import m_ucb
from agents.nonstationary.sw_linucb import sw_linucb
from simulator.registry import Registry

LINEAR_EXAMPLE_ENV = ("contextual_linear", {})


def register_all(registry: Registry) -> None:
    """Register the drift-aware agents."""
    registry.register("d_linucb", d_linucb, example_env=LINEAR_EXAMPLE_ENV)
    registry.register("sw_linucb", sw_linucb, example_env=LINEAR_EXAMPLE_ENV)
    registry.register("discounted_ucb", discounted_ucb, example_env="bernoulli")
    registry.register("sliding_window_ucb", sliding_window_ucb, example_env="bernoulli")
    registry.register("discounted_thompson", discounted_thompson, example_env="bernoulli")
    registry.register("m_ucb", m_ucb, example_env="bernoulli")
    registry.register("exp3s", exp3s, example_env="bernoulli")


__all__ = [
    "d_linucb",
    "discounted_thompson",
    "discounted_ucb",
    "exp3s",
    "m_ucb",
    "register_all",
    "sliding_window_ucb",
    "sw_linucb",
]
