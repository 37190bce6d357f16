"""Contextual bandit agents: linear models of the reward over context and item features."""

from agents.contextual.lin_full_post import lin_full_post
from agents.contextual.linear_greedy import linear_greedy
from agents.contextual.lints import lints
from agents.contextual.linucb import linucb
from simulator.registry import Registry

EXAMPLE_ENV = ("contextual_linear", {})
#: LinFullPost is the linear baseline of the wheel bandit (Riquelme et al. 2018).
WHEEL_ENV = ("wheel", {})


def register_all(registry: Registry) -> None:
    """Register the contextual agents."""
    registry.register("linucb", linucb, example_env=EXAMPLE_ENV)
    registry.register("lints", lints, example_env=EXAMPLE_ENV)
    registry.register("linear_greedy", linear_greedy, example_env=EXAMPLE_ENV)
    registry.register("lin_full_post", lin_full_post, example_env=WHEEL_ENV)


__all__ = ["lin_full_post", "linear_greedy", "linucb", "lints", "register_all"]
