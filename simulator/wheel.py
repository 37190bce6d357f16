"""The wheel bandit (Riquelme, Tucker & Snoek 2018): exploration made hard on purpose."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities, pytree
from simulator.params import knob
from simulator.sampling import unit_disc
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep

Array = jax.Array

NUM_ACTIONS = 5


class WheelState(NamedTuple):
    """The current context ``x (2,)``, uniform in the unit disc."""

    x: Array


@pytree.dataclass
class WheelParams:
    delta: float = knob(
        0.5, low=0.0, high=1.0, low_open=True, high_open=True, doc="radius of the inner disc"
    )
    mu_safe: float = knob(1.2, doc="mean of action 0, everywhere")
    mu_small: float = knob(1.0, doc="mean of actions 1-4 except the matching one outside delta")
    mu_large: float = knob(50.0, doc="mean of the action matching x's quadrant outside delta")
    noise: float = knob(0.01, low=0.0, doc="reward noise standard deviation")


def wheel_means(x: Array, params: WheelParams) -> Array:
    """The ``(5,)`` expected rewards at context ``x (2,)``.

    Action 0: ``mu_safe`` (1.2).  Actions 1–4: ``mu_small`` (1.0), except, when
    ``||x|| > delta``, the action of ``x``'s quadrant has ``mu_large`` (50)::

        action 1: x1 > 0,  x2 > 0        action 3: x1 <= 0, x2 > 0
        action 2: x1 > 0,  x2 <= 0       action 4: x1 <= 0, x2 <= 0
    """
    quadrant = 1 + 2 * (x[0] <= 0).astype(jnp.int32) + (x[1] <= 0).astype(jnp.int32)
    outside = jnp.linalg.norm(x) > params.delta
    actions = jnp.arange(NUM_ACTIONS)
    large = outside & (actions == quadrant)
    means = jnp.where(large, params.mu_large, params.mu_small)
    return jnp.where(actions == 0, params.mu_safe, means).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class Wheel(Environment):
    """The wheel bandit: contexts uniform in the unit disc, 5 actions (see :func:`wheel_means`).

    Rewards ``r_t = mu_a(x_t) + noise * z_t`` with ``z_t ~ N(0, 1)`` (one draw per round for
    every action).  ``Context.features = x (2,)``; no arm features.  With ``delta`` close to
    1 the high-reward region is small, so an agent that settles on the safe action 0 (mean
    1.2 > 1.0) rarely discovers it.

    Action order: the reference implementation (``sample_wheel_bandit_data`` of the deep
    contextual bandits library) puts the safe action last (index 4) and the quadrant actions
    first in the order (+,+), (+,-), (-,+), (-,-) of the signs of ``(x1, x2)``; here the safe
    action is 0 and the quadrant actions are 1–4 in that same order (ours = theirs + 1).

    Example::

        env = Wheel()
        params = env.default_params().replace(delta=0.95)

    Reference: Riquelme, Tucker & Snoek, "Deep Bayesian bandits showdown", ICLR 2018, §5.
    """

    @property
    def spec(self) -> EnvSpec:
        # contexts in the unit disc; action a is the same action every round
        return EnvSpec(
            num_arms=NUM_ACTIONS,
            context_dim=2,
            arm_dim=0,
            reward=capabilities.real(),
            fixed_arms=True,
            feature_bound=1.0,
        )

    def default_params(self) -> WheelParams:
        return WheelParams()

    def _timestep(self, x, reward, params):
        context = Context(features=x, arm_features=jnp.zeros((NUM_ACTIONS, 0), jnp.float32))
        oracle = make_oracle(wheel_means(x, params), change_point=False)
        return make_timestep(context, reward, oracle)

    def reset(self, key, params):
        x = unit_disc(key)
        return WheelState(x), self._timestep(x, 0.0, params)

    def step(self, key, state, action, params):
        key_reward, key_context = jax.random.split(key)
        mean = wheel_means(state.x, params)[action]
        reward = mean + params.noise * jax.random.normal(key_reward, (), jnp.float32)
        x = unit_disc(key_context)
        return WheelState(x), self._timestep(x, reward, params)
