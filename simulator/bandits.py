"""Classic K-armed bandits: Bernoulli, Gaussian and the 10-armed testbed.

Arm means are fixed (a static tuple) or drawn per run in ``reset``; drawn means depend only
on the environment key, so every agent of an experiment faces the same arms for a seed.
Rewards use one shared draw per step for all arms (``u ~ U(0, 1)`` or ``z ~ N(0, 1)``), so
the reward an arm *would* have paid is the same whatever the agent chose: common random
numbers across agents.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simulator import capabilities, pytree
from simulator.params import knob
from simulator.registry import Registry
from simulator.types import (
    Environment,
    EnvSpec,
    TimeStep,
    empty_context,
    make_oracle,
    make_timestep,
    require,
)


class ArmsState(pytree.PyTreeNode):
    """The true arm means of one run, ``(num_arms,)`` float32."""

    means: jax.Array


def _check_arms(num_arms: int, means: tuple[float, ...] | None, low: float, high: float) -> None:
    require(
        isinstance(num_arms, int) and num_arms >= 2,
        f"env.num_arms = {num_arms!r}: must be an integer >= 2",
    )
    if means is not None:
        require(
            len(means) == num_arms,
            f"env.means has {len(means)} entries: must have num_arms = {num_arms}",
        )
        require(
            all(low <= m <= high for m in means),
            f"env.means = {list(means)}: every mean must be in [{low:g}, {high:g}]",
        )


@dataclasses.dataclass(frozen=True)
class _ArmedBandit(Environment):
    num_arms: int = 10
    means: tuple[float, ...] | None = None

    @property
    def spec(self) -> EnvSpec:
        # Arm a is the same arm every round (regret vs the best fixed arm is defined), and
        # true_param is the vector of means: the expected reward of arm a is its entry.
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=0,
            reward=self._rewards(),
            fixed_arms=True,
            param_link="identity",
        )

    def _rewards(self) -> capabilities.RewardRange:
        raise NotImplementedError

    def _draw_means(self, key: jax.Array, params) -> jax.Array:
        raise NotImplementedError

    def _timestep(self, means: jax.Array, reward) -> TimeStep:
        oracle = make_oracle(means, change_point=False, true_param=means)
        return make_timestep(empty_context(self.num_arms), reward, oracle)

    def reset(self, key, params):
        if self.means is None:
            means = self._draw_means(key, params).astype(jnp.float32)
        else:
            means = jnp.asarray(self.means, jnp.float32)
        return ArmsState(means=means), self._timestep(means, 0.0)


@pytree.dataclass
class BernoulliParams:
    pass


@dataclasses.dataclass(frozen=True)
class BernoulliBandit(_ArmedBandit):
    """K Bernoulli arms: reward ``r ~ Bernoulli(p_a)``.

    Means are ``means`` when given, else ``p_a ~ U(0, 1)`` drawn per run.  One uniform
    ``u_t`` per step serves every arm: ``r_t = 1[u_t < p_a]``.

    Args:
      num_arms: K.
      means: fixed arm means in [0, 1], or None to draw them per run.

    Example::

        env = BernoulliBandit(num_arms=10, means=(0.5,) + (0.4,) * 9)   # Chapelle & Li (2011)
    """

    def __post_init__(self):
        _check_arms(self.num_arms, self.means, 0.0, 1.0)

    def _rewards(self):
        return capabilities.clicks()

    def default_params(self) -> BernoulliParams:
        return BernoulliParams()

    def _draw_means(self, key, params):
        return jax.random.uniform(key, (self.num_arms,))

    def step(self, key, state, action, params):
        u = jax.random.uniform(key)
        reward = (u < state.means[action]).astype(jnp.float32)
        return state, self._timestep(state.means, reward)


@pytree.dataclass
class GaussianParams:
    noise: float = knob(1.0, low=0.0, doc="reward noise standard deviation")
    mean_scale: float = knob(
        1.0, low=0.0, doc="standard deviation of drawn means q*(a) ~ N(0, s^2)"
    )


@dataclasses.dataclass(frozen=True)
class GaussianBandit(_ArmedBandit):
    """K Gaussian arms: reward ``r ~ N(mu_a, noise^2)``.

    Means are ``means`` when given, else ``mu_a ~ N(0, mean_scale^2)`` drawn per run.  One
    ``z_t ~ N(0, 1)`` per step serves every arm: ``r_t = mu_a + noise * z_t``.
    """

    def __post_init__(self):
        _check_arms(self.num_arms, self.means, -float("inf"), float("inf"))

    def _rewards(self):
        return capabilities.real()

    def default_params(self) -> GaussianParams:
        return GaussianParams()

    def _draw_means(self, key, params):
        return params.mean_scale * jax.random.normal(key, (self.num_arms,))

    def step(self, key, state, action, params):
        z = jax.random.normal(key)
        reward = state.means[action] + params.noise * z
        return state, self._timestep(state.means, reward)


def testbed(num_arms: int = 10) -> GaussianBandit:
    """The 10-armed testbed of Sutton & Barto (2018, §2.3): ``q*(a) ~ N(0, 1)`` per run,
    rewards ``~ N(q*(a), 1)``."""
    return GaussianBandit(num_arms=num_arms, means=None)


def register_all(registry: Registry) -> None:
    registry.register("bernoulli", BernoulliBandit)
    registry.register("gaussian", GaussianBandit)
    registry.register("testbed", testbed)
