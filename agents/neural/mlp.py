"""The reward networks' ReLU MLP (flax.linen), in a module of its own: flax is imported
only when a neural agent builds its network (:attr:`agents.neural.networks.RewardNet.module`),
not by every run that imports the agent registry."""

from __future__ import annotations

import flax.linen as nn


class MLP(nn.Module):
    """ReLU MLP returning ``(outputs (num_outputs,), last hidden layer (hidden[-1],))``."""

    hidden: tuple[int, ...]
    num_outputs: int

    @nn.compact
    def __call__(self, z):
        for i, width in enumerate(self.hidden):
            z = nn.relu(nn.Dense(width, name=f"hidden_{i}")(z))
        return nn.Dense(self.num_outputs, name="head")(z), z
