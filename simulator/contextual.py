"""Contextual linear and logistic bandits with a drifting parameter, and the Russac et al.
(2019) non-stationary linear bandit.

Each round the agent sees ``K`` candidates with ``d``-dimensional features (drawn fresh each
round, or ``K`` of a per-run catalog of ``N`` items) and picks one; the parameter ``theta``
drifts under any registered drift process (:mod:`simulator.drift`).  Common random numbers:
the candidates, the reward noise and the exogenous drift come from the environment key only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from simulator import capabilities, pytree
from simulator import drift as drift_lib
from simulator.drift import DriftState
from simulator.params import ConfigError, data_field, knob
from simulator.sampling import unit_sphere, without_replacement
from simulator.types import (
    Context,
    Environment,
    EnvSpec,
    make_oracle,
    make_timestep,
    require,
)

Array = jax.Array


class ContextualState(NamedTuple):
    """State of a contextual bandit.

    Attributes:
      drift: the drift state; ``drift.theta (d,)`` is the current parameter.
      catalog: ``(N, d)`` item features of the run (``(0, d)`` with fresh candidates).
      arm_features: ``(K, d)`` the candidates of the current context.
    """

    drift: DriftState
    catalog: Array
    arm_features: Array


@pytree.dataclass
class ContextualLinearParams:
    noise: float = knob(0.1, low=0.0, doc="reward noise standard deviation")
    param_norm: float = knob(1.0, low=0.0, doc="norm of the initial parameter theta_0")
    drift: Any = None
    catalog: Any = data_field("fixed (num_items, dim) item features; None: drawn per run")


@pytree.dataclass
class ContextualLogisticParams:
    param_norm: float = knob(3.0, low=0.0, doc="norm of the initial parameter theta_0")
    bias: float = knob(0.0, doc="click logit offset b in sigmoid(x . theta + b)")
    drift: Any = None
    catalog: Any = data_field("fixed (num_items, dim) item features; None: drawn per run")


def _check_counts(num_arms: int, dim: int, num_items: int) -> None:
    require(
        isinstance(num_arms, int) and num_arms >= 1,
        f"env.num_arms = {num_arms!r}: must be an integer >= 1",
    )
    require(isinstance(dim, int) and dim >= 1, f"env.dim = {dim!r}: must be an integer >= 1")
    require(
        isinstance(num_items, int) and num_items >= 0,
        f"env.num_items = {num_items!r}: must be an integer >= 0 (0: fresh candidates)",
    )
    require(
        num_items == 0 or num_arms <= num_items,
        f"env.num_arms = {num_arms}: more candidates than the catalog has "
        f"(num_items = {num_items}); must be <= num_items",
    )


@dataclasses.dataclass(frozen=True)
class _Contextual(Environment):
    num_arms: int = 10
    dim: int = 5
    num_items: int = 0
    drift: str = "stationary"
    drift_options: Any = ()

    def __post_init__(self):
        _check_counts(self.num_arms, self.dim, self.num_items)
        drift_lib.attach(self)

    @property
    def spec(self) -> EnvSpec:
        rewards, link = self._reward_model()
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=self.dim,
            reward=rewards,
            # fresh candidates lie on the unit sphere; a catalog may be the user's own
            feature_bound=1.0 if self.num_items == 0 else math.inf,
            param_link=link,
        )

    # model ---------------------------------------------------------------------------
    def _reward_model(self) -> tuple[capabilities.RewardRange, str]:
        """The rewards' range and the link of ``true_param`` (see :class:`EnvSpec`)."""
        raise NotImplementedError

    def _expected(self, arm_features: Array, theta: Array, params) -> Array:
        raise NotImplementedError

    def _reward(self, key: Array, mean: Array, params) -> Array:
        raise NotImplementedError

    def _consumed(self, reward: Array) -> Array:
        """Weight of the consumption of the chosen item (1, or the click)."""
        raise NotImplementedError

    # plumbing ------------------------------------------------------------------------
    def _catalog(self, key: Array, params) -> Array:
        if self.num_items == 0:
            return jnp.zeros((0, self.dim), jnp.float32)
        if params.catalog is not None:
            catalog = jnp.asarray(params.catalog, jnp.float32)
            if catalog.shape != (self.num_items, self.dim):
                raise ConfigError(
                    f"env.catalog has shape {tuple(catalog.shape)}: must be "
                    f"(num_items, dim) = ({self.num_items}, {self.dim})"
                )
            return catalog
        return unit_sphere(key, (self.num_items, self.dim))

    def _candidates(self, key: Array, catalog: Array) -> Array:
        if self.num_items == 0:
            return unit_sphere(key, (self.num_arms, self.dim))
        return catalog[without_replacement(key, self.num_items, self.num_arms)]

    def _timestep(self, drift_state: DriftState, arm_features: Array, reward, params):
        context = Context(features=jnp.zeros((0,), jnp.float32), arm_features=arm_features)
        oracle = make_oracle(
            self._expected(arm_features, drift_state.theta, params),
            change_point=drift_state.change_point,
            true_param=drift_state.theta,
        )
        return make_timestep(context, reward, oracle)

    def default_params(self):
        raise NotImplementedError

    def reset(self, key, params):
        key_catalog, key_theta, key_drift, key_context = jax.random.split(key, 4)
        catalog = self._catalog(key_catalog, params)
        theta0 = params.param_norm * unit_sphere(key_theta, (self.dim,))
        drift_state = self.drift_process.init(key_drift, theta0, params.drift)
        arm_features = self._candidates(key_context, catalog)
        state = ContextualState(drift_state, catalog, arm_features)
        return state, self._timestep(drift_state, arm_features, 0.0, params)

    def step(self, key, state, action, params):
        key_reward, key_drift, key_context = jax.random.split(key, 3)
        chosen = state.arm_features[action]
        mean = self._expected(chosen[None], state.drift.theta, params)[0]
        reward = self._reward(key_reward, mean, params)
        consumed = drift_lib.Consumption(chosen, self._consumed(reward))
        drift_state = self.drift_process.step(key_drift, state.drift, params.drift, consumed)
        arm_features = self._candidates(key_context, state.catalog)
        next_state = ContextualState(drift_state, state.catalog, arm_features)
        return next_state, self._timestep(drift_state, arm_features, reward, params)


@dataclasses.dataclass(frozen=True)
class ContextualLinear(_Contextual):
    """Linear contextual bandit with a drifting parameter.

    Each round ``K`` candidates ``x_1..x_K`` uniform on the unit sphere of ``R^d`` (fresh, or
    ``K`` distinct items of a per-run catalog of ``N`` items when ``num_items = N > 0``);
    reward of candidate ``a``::

        r_t = x_a . theta_t + noise * z_t,     z_t ~ N(0, 1) (one draw per round for all arms)

    ``theta_0 = param_norm * u``, ``u`` uniform on the sphere; ``theta_t`` follows the drift
    process ``drift`` (endogenous processes pull it toward the chosen item ``x_a``).  The
    oracle gives ``x_k . theta_t`` for the next candidates and ``true_param = theta_t``.

    Args:
      num_arms: K candidates per round.
      dim: d.
      num_items: N > 0 for a per-run catalog (``params.catalog`` may fix it), 0 for fresh
        candidates every round.
      drift: a drift name (:func:`simulator.drift.names`); its knobs are ``params.drift``.
      drift_options: the drift's static options, e.g. ``(("redraw", "negate"),)``.

    Example::

        env = ContextualLinear(num_arms=20, dim=5, drift="random_walk")
        params = env.default_params()
        params = params.replace(drift=params.drift.replace(rate=0.01))

    Reference: Abbasi-Yadkori, Pál & Szepesvári (2011), with drift as in Russac, Vernade &
    Cappé (2019).  Cost per round O(K d) (+ O(N) to pick candidates from a catalog).
    """

    def _reward_model(self):
        # true_param: the reward is linear in the candidate's features
        return capabilities.real(), "identity"

    def default_params(self) -> ContextualLinearParams:
        return ContextualLinearParams(drift=self.drift_process.default_params())

    def _expected(self, arm_features, theta, params):
        return arm_features @ theta

    def _reward(self, key, mean, params):
        return mean + params.noise * jax.random.normal(key, (), jnp.float32)

    def _consumed(self, reward):
        return jnp.ones((), jnp.float32)


@dataclasses.dataclass(frozen=True)
class ContextualLogistic(_Contextual):
    """Logistic (click) contextual bandit with a drifting parameter.

    Candidates as in :class:`ContextualLinear`; a click on candidate ``a``::

        r_t = 1[u_t < sigmoid(x_a . theta_t + bias)],   u_t ~ U(0, 1) (one draw per round)

    Endogenous drift moves ``theta`` toward the chosen item only when it is clicked.  The
    oracle gives the click probabilities of the next candidates.

    Args: as :class:`ContextualLinear`.

    Reference: Li, Chu, Langford & Schapire (2010); Filippi, Cappé, Garivier & Szepesvári
    (2010) for the generalised linear bandit.
    """

    def _reward_model(self):
        # true_param is a logit parameter: only a logistic model's estimate is comparable (a
        # ridge regression of clicks fits the linear-probability model, another parameter)
        return capabilities.clicks(), "logit"

    def default_params(self) -> ContextualLogisticParams:
        return ContextualLogisticParams(drift=self.drift_process.default_params())

    def _expected(self, arm_features, theta, params):
        return jax.nn.sigmoid(arm_features @ theta + params.bias)

    def _reward(self, key, mean, params):
        return (jax.random.uniform(key, (), jnp.float32) < mean).astype(jnp.float32)

    def _consumed(self, reward):
        return reward


# --------------------------------------------------------------------------------------
# Russac, Vernade & Cappé (2019)
# --------------------------------------------------------------------------------------

RUSSAC_SCENARIOS = ("abrupt", "slow")
_ABRUPT_THETAS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))
_ABRUPT_STARTS = (1001, 2001, 3001)
_SLOW_END = 3000


def russac_theta(scenario: str, t: Any) -> Array:
    """``theta*_t`` of Russac et al. (2019) at the 0-based round ``t`` (traced int), ``(2,)``.

    - ``"abrupt"``: ``(1, 0)`` for rounds 0–1000, ``(-1, 0)`` from 1001, ``(0, 1)`` from
      2001, ``(0, -1)`` from 3001.
    - ``"slow"``: ``(cos phi_t, sin phi_t)``, ``phi_t = (t / 3000)(pi / 2)`` for
      ``t <= 3000``, then ``(0, 1)``.
    """
    t = jnp.asarray(t, jnp.int32)
    if scenario == "abrupt":
        segment = sum((t >= start).astype(jnp.int32) for start in _ABRUPT_STARTS)
        return jnp.asarray(_ABRUPT_THETAS, jnp.float32)[segment]
    if scenario == "slow":
        phi = jnp.minimum(t, _SLOW_END).astype(jnp.float32) / _SLOW_END * (math.pi / 2)
        return jnp.stack([jnp.cos(phi), jnp.sin(phi)])
    raise ConfigError(f"env.scenario = {scenario!r}: must be one of {', '.join(RUSSAC_SCENARIOS)}")


def russac_path(scenario: str, num_steps: int) -> np.ndarray:
    """The path ``theta*_0 .. theta*_{T-1}`` in float64, ``(T, 2)`` (numpy, for B_T)."""
    t = np.arange(num_steps)
    if scenario == "abrupt":
        segment = sum((t >= start).astype(int) for start in _ABRUPT_STARTS)
        return np.asarray(_ABRUPT_THETAS, np.float64)[segment]
    if scenario == "slow":
        phi = np.minimum(t, _SLOW_END) / _SLOW_END * (np.pi / 2)
        return np.stack([np.cos(phi), np.sin(phi)], axis=1)
    raise ConfigError(f"env.scenario = {scenario!r}: must be one of {', '.join(RUSSAC_SCENARIOS)}")


def russac_total_variation(scenario: str, num_steps: int) -> float:
    """``B_T = sum_{t=1}^{T-1} ||theta*_t - theta*_{t-1}||`` over ``T = num_steps`` rounds.

    Abrupt, ``T > 3001``: ``2 + sqrt(2) + 2 = 4 + sqrt(2)``.  Slow, ``T > 3000``: the sum of
    the 3000 chords ``2 sin(pi / 12000)``, just under ``pi / 2``.  For the tuned discount
    and window of Russac et al.: ``gamma = 1 - (B_T / (d T))^(2/3)``,
    ``tau = (d T / B_T)^(2/3)`` with ``d = 2``.
    """
    path = russac_path(scenario, num_steps)
    return float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))


class RussacState(NamedTuple):
    """Round index of the current context ``t () int32`` and its actions ``(K, 2)``."""

    t: Array
    arm_features: Array


@pytree.dataclass
class RussacParams:
    noise: float = knob(1.0, low=0.0, doc="reward noise standard deviation sigma")


@dataclasses.dataclass(frozen=True)
class RussacLinear(Environment):
    """The non-stationary linear bandit of Russac, Vernade & Cappé (2019, §5).

    Each round ``K = 50`` fresh actions ``A ~ U([-1, 1]^2)``, each rescaled to norm 1 when
    its norm exceeds 1; reward ``<A_a, theta*_t> + sigma z_t`` with ``z_t ~ N(0, 1)`` (one
    draw per round).  ``theta*_t`` follows :func:`russac_theta` (``scenario`` ``"abrupt"``
    or ``"slow"``, rounds 0-based); ``oracle.change_point`` is true on the contexts of rounds
    1001, 2001 and 3001 in the abrupt scenario.  :func:`russac_total_variation` gives
    ``B_T``.  The paper's runs: ``T = 6000``, ``sigma = 1``.

    Args:
      num_arms: actions per round (50 in the paper).
      scenario: ``"abrupt"`` or ``"slow"``.

    Example::

        env = RussacLinear(scenario="slow")
        b_t = russac_total_variation("slow", 6000)
        gamma = 1 - (b_t / (2 * 6000)) ** (2 / 3)

    Reference: Russac, Vernade & Cappé, "Weighted linear bandits for non-stationary
    environments", NeurIPS 2019.
    """

    num_arms: int = 50
    scenario: str = "abrupt"

    def __post_init__(self):
        require(
            isinstance(self.num_arms, int) and self.num_arms >= 1,
            f"env.num_arms = {self.num_arms!r}: must be an integer >= 1",
        )
        require(
            self.scenario in RUSSAC_SCENARIOS,
            f"env.scenario = {self.scenario!r}: must be one of {', '.join(RUSSAC_SCENARIOS)}",
        )

    @property
    def spec(self) -> EnvSpec:
        # actions in the unit ball; true_param = theta*_t, the reward <A_a, theta*_t> + noise
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=2,
            reward=capabilities.real(),
            feature_bound=1.0,
            param_link="identity",
        )

    def default_params(self) -> RussacParams:
        return RussacParams()

    def theta(self, t: Any) -> Array:
        """``theta*_t`` at round ``t``."""
        return russac_theta(self.scenario, t)

    def _actions(self, key: Array) -> Array:
        actions = jax.random.uniform(key, (self.num_arms, 2), jnp.float32, -1.0, 1.0)
        norms = jnp.linalg.norm(actions, axis=1, keepdims=True)
        return actions / jnp.maximum(norms, 1.0)

    def _timestep(self, t: Array, arm_features: Array, reward) -> Any:
        theta = self.theta(t)
        if self.scenario == "abrupt":
            changed = jnp.any(theta != self.theta(jnp.maximum(t - 1, 0)))
        else:  # continuous drift: no change points
            changed = jnp.zeros((), jnp.bool_)
        context = Context(features=jnp.zeros((0,), jnp.float32), arm_features=arm_features)
        oracle = make_oracle(arm_features @ theta, change_point=changed, true_param=theta)
        return make_timestep(context, reward, oracle)

    def reset(self, key, params):
        t = jnp.zeros((), jnp.int32)
        arm_features = self._actions(key)
        return RussacState(t, arm_features), self._timestep(t, arm_features, 0.0)

    def step(self, key, state, action, params):
        key_reward, key_context = jax.random.split(key)
        mean = state.arm_features[action] @ self.theta(state.t)
        reward = mean + params.noise * jax.random.normal(key_reward, (), jnp.float32)
        t = state.t + 1
        arm_features = self._actions(key_context)
        return RussacState(t, arm_features), self._timestep(t, arm_features, reward)
