"""A dynamic set of items whose click-through rates are replaced over time
(Chapelle & Li 2011, §3)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities, pytree
from simulator.params import knob
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep, require

Array = jax.Array


class DynamicItemsState(NamedTuple):
    """CTRs of the items in the ``K`` slots ``(K,)`` and the flags of the slots whose item
    arrived in the last step ``(K,)`` (float32 0/1)."""

    ctrs: Array
    fresh: Array


@pytree.dataclass
class DynamicItemsParams:
    replace_prob: float = knob(
        1e-3, low=0.0, high=1.0, doc="probability per step that one item retires"
    )
    prior_a: float = knob(4.0, low=0.0, low_open=True, doc="CTR prior Beta(a, b): a")
    prior_b: float = knob(4.0, low=0.0, low_open=True, doc="CTR prior Beta(a, b): b")


@dataclasses.dataclass(frozen=True)
class DynamicItems(Environment):
    """K items with Beta-distributed CTRs; now and then one retires and a new one replaces it.

    At reset every slot holds an item with ``CTR ~ Beta(prior_a, prior_b)`` (Beta(4, 4) in
    the paper).  A pull of slot ``a`` is a click ``r_t = 1[u_t < CTR_a]`` (one uniform per
    step for every slot).  After the reward, with probability ``replace_prob`` (1e-3) one
    slot chosen uniformly gets a new item with a fresh CTR from the prior; the next
    timestep then has ``oracle.change_point = True``.

    The agent is told which items are new, as a real system knows a new item id:
    ``Context.arm_features (K, 1)`` is 1.0 for the slots whose item arrived in the last step
    and 0.0 otherwise (agents may reset that arm's statistics; stationary agents ignore
    it).  O(K) per step; all randomness comes from the environment key (common random
    numbers).

    Args:
      num_arms: K (10 in the paper).

    Example::

        env = DynamicItems()                        # Chapelle & Li (2011), Table 1 setting

    Reference: Chapelle & Li, "An empirical evaluation of Thompson sampling", NIPS 2011, §3.
    """

    num_arms: int = 10

    def __post_init__(self):
        require(
            isinstance(self.num_arms, int) and self.num_arms >= 1,
            f"env.num_arms = {self.num_arms!r}: must be an integer >= 1",
        )

    @property
    def spec(self) -> EnvSpec:
        # Slots are not fixed arms (their items retire); the one arm feature is the
        # "new item" flag in {0, 1}; true_param holds the slots' click rates.
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=1,
            reward=capabilities.clicks(),
            feature_bound=1.0,
            param_link="identity",
        )

    def default_params(self) -> DynamicItemsParams:
        return DynamicItemsParams()

    def _draw(self, key, params, shape):
        return jax.random.beta(key, params.prior_a, params.prior_b, shape, jnp.float32)

    def _timestep(self, state: DynamicItemsState, reward, change_point):
        context = Context(features=jnp.zeros((0,), jnp.float32), arm_features=state.fresh[:, None])
        oracle = make_oracle(state.ctrs, change_point=change_point, true_param=state.ctrs)
        return make_timestep(context, reward, oracle)

    def reset(self, key, params):
        ctrs = self._draw(key, params, (self.num_arms,))
        state = DynamicItemsState(ctrs=ctrs, fresh=jnp.zeros((self.num_arms,), jnp.float32))
        return state, self._timestep(state, 0.0, False)

    def step(self, key, state, action, params):
        key_uniform, key_ctr = jax.random.split(key)
        u_reward, u_retire, u_slot = jax.random.uniform(key_uniform, (3,), jnp.float32)
        reward = (u_reward < state.ctrs[action]).astype(jnp.float32)
        retire = u_retire < params.replace_prob
        slot = jnp.minimum(jnp.floor(u_slot * self.num_arms), self.num_arms - 1)
        fresh = retire & (jnp.arange(self.num_arms) == slot)
        ctrs = jnp.where(fresh, self._draw(key_ctr, params, ()), state.ctrs)
        next_state = DynamicItemsState(ctrs=ctrs, fresh=fresh.astype(jnp.float32))
        return next_state, self._timestep(next_state, reward, retire)
