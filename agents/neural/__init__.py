"""Neural recommenders in Flax, learning inside the scan.

- ``neural_greedy``: ε-greedy over an MLP reward model (:mod:`agents.neural.neural_greedy`).
- ``neural_linear``: Neural-Linear Thompson sampling, Riquelme, Tucker & Snoek (2018)
  (:mod:`agents.neural.neural_linear`).
- ``neural_ucb``, ``neural_ts``: NeuralUCB (Zhou, Li & Gu 2020) and NeuralTS (Zhang, Zhou,
  Li & Gu 2021) with a diagonal ``Z`` (:mod:`agents.neural.neural_ucb`).
- ``two_tower``: user and item embeddings (id tables plus feature towers) with row-wise
  updates for large catalogs (:mod:`agents.neural.two_tower`).

The shared pieces: the reward network and its training on a replay buffer
(:mod:`agents.neural.networks`), the ring buffer (:mod:`agents.neural.replay`).
"""

from agents.neural.neural_greedy import neural_greedy
from agents.neural.neural_linear import neural_linear
from agents.neural.neural_ucb import neural_ts, neural_ucb
from agents.neural.two_tower import two_tower
from simulator.registry import Registry

EXAMPLE_ENV = "wheel"


def register_all(registry: Registry) -> None:
    """Register the neural agents."""
    registry.register("neural_greedy", neural_greedy, example_env=EXAMPLE_ENV)
    registry.register("neural_linear", neural_linear, example_env=EXAMPLE_ENV)
    registry.register("neural_ucb", neural_ucb, example_env=EXAMPLE_ENV)
    registry.register("neural_ts", neural_ts, example_env=EXAMPLE_ENV)
    registry.register("two_tower", two_tower, example_env="drifting_users")


__all__ = [
    "neural_greedy",
    "neural_linear",
    "neural_ts",
    "neural_ucb",
    "register_all",
    "two_tower",
]
