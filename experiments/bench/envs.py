"""Environments the workloads need exactly, where the registered ones differ in detail.

W2 needs a *disjoint* linear bandit: one parameter per arm over a shared context, which
``contextual_linear`` (one parameter over per-arm item features) does not express.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from simulator import pytree
from simulator.params import knob
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep, require


@pytree.dataclass
class DisjointLinearParams:
    noise: float = knob(0.1, low=0.0, doc="reward noise standard deviation")
    param_scale: float = knob(1.0, low=0.0, doc="theta_a ~ N(0, param_scale^2 / d I)")


class DisjointLinearState(pytree.PyTreeNode):
    """The arms' parameters ``thetas (K, d)`` and the current context ``features (d,)``."""

    thetas: jax.Array
    features: jax.Array


@dataclasses.dataclass(frozen=True)
class DisjointLinearBandit(Environment):
    """K arms, each with its own linear reward model over a shared Gaussian context.

    Per run ``theta_a ~ N(0, param_scale^2 / d I)``; each round a context ``x ~ N(0, I_d)``
    is shown and arm ``a`` pays ``r = x.theta_a + noise z`` with one ``z ~ N(0, 1)`` per
    round, whatever the arm (common random numbers).  The oracle's expected rewards are
    ``thetas @ x``.  The agent reads ``context.features`` (``context_dim = d``); there
    are no item features.

    Args:
      num_arms: K.
      context_dim: d.

    Example::

        env = DisjointLinearBandit(num_arms=32, context_dim=16)   # the W2 workload

    Reference: the disjoint model of Li, Chu, Langford & Schapire (WWW 2010), Sec. 3.1.
    """

    num_arms: int = 32
    context_dim: int = 16

    def __post_init__(self):
        require(
            isinstance(self.num_arms, int) and self.num_arms >= 2,
            f"env.num_arms = {self.num_arms!r}: must be an integer >= 2",
        )
        require(
            isinstance(self.context_dim, int) and self.context_dim >= 1,
            f"env.context_dim = {self.context_dim!r}: must be an integer >= 1",
        )

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(num_arms=self.num_arms, context_dim=self.context_dim, arm_dim=0)

    def default_params(self) -> DisjointLinearParams:
        return DisjointLinearParams()

    def _timestep(self, state: DisjointLinearState, reward):
        context = Context(
            features=state.features,
            arm_features=jnp.zeros((self.num_arms, 0), jnp.float32),
        )
        oracle = make_oracle(state.thetas @ state.features)
        return make_timestep(context, reward, oracle)

    def _features(self, key):
        return jax.random.normal(key, (self.context_dim,), jnp.float32)

    def reset(self, key, params):
        key_thetas, key_features = jax.random.split(key)
        scale = params.param_scale / math.sqrt(self.context_dim)
        thetas = scale * jax.random.normal(
            key_thetas, (self.num_arms, self.context_dim), jnp.float32
        )
        state = DisjointLinearState(thetas=thetas, features=self._features(key_features))
        return state, self._timestep(state, 0.0)

    def step(self, key, state, action, params):
        key_noise, key_features = jax.random.split(key)
        reward = state.thetas[action] @ state.features + params.noise * jax.random.normal(key_noise)
        state = state.replace(features=self._features(key_features))
        return state, self._timestep(state, reward)


class Recorded(NamedTuple):
    """The per-step log of :class:`RecordingEnv`: the inner log plus what was played."""

    log: Any
    action: jax.Array
    features: jax.Array
    arm_features: jax.Array
    reward: jax.Array
    label: jax.Array


@dataclasses.dataclass(frozen=True)
class RecordingEnv(Environment):
    """Wrap an environment so that ``make_run``'s log also holds each step's context,
    action, reward and label (to replay a driftsim run through a numpy reference)."""

    inner: Environment = None

    @property
    def spec(self) -> EnvSpec:
        return self.inner.spec

    def default_params(self):
        return self.inner.default_params()

    def reset(self, key, params):
        return self.inner.reset(key, params)

    def step(self, key, state, action, params):
        return self.inner.step(key, state, action, params)

    def log(self, timestep, action, next_timestep):
        return Recorded(
            log=self.inner.log(timestep, action, next_timestep),
            action=action,
            features=timestep.context.features,
            arm_features=timestep.context.arm_features,
            reward=next_timestep.reward,
            label=next_timestep.label,
        )
