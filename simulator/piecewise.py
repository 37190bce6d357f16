"""Non-stationary K-armed Bernoulli bandits: piecewise-stationary and slowly varying means.

Both are :class:`DriftingBernoulli`: the arm parameter ``theta (K,)`` follows a drift process
of :mod:`simulator.drift` and the arm means are ``theta`` mapped into ``[0, 1]``.  One uniform
per step serves every arm and the drift's randomness comes from the environment key only,
so every agent faces the same means and the same draws for a seed (common random numbers).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities, pytree
from simulator import drift as drift_lib
from simulator.drift import Abrupt, DriftState
from simulator.types import (
    Environment,
    EnvSpec,
    empty_context,
    make_oracle,
    make_timestep,
    require,
)

Array = jax.Array

BOUNDS = ("reflect", "clip")


def reflect_unit(x: Array) -> Array:
    """Fold the real line onto ``[0, 1]`` by reflection at 0 and 1 (a triangle wave):
    ``1 - |(x mod 2) - 1|``, and exactly ``x`` for ``x`` already in ``[0, 1]``.  A random
    walk seen through it is a random walk reflected at the bounds."""
    folded = 1.0 - jnp.abs(jnp.mod(x, 2.0) - 1.0)
    return jnp.where((x >= 0.0) & (x <= 1.0), x, folded)


def unit_means(means, num_arms: int, what: str = "mean") -> tuple[float, ...]:
    """``env.means`` as a tuple of floats, validated: ``num_arms`` entries in [0, 1]
    (ConfigError naming the field otherwise)."""
    require(
        len(means) == num_arms,
        f"env.means has {len(means)} entries: must have num_arms = {num_arms}",
    )
    require(
        all(0.0 <= m <= 1.0 for m in means),
        f"env.means = {list(means)}: every {what} must be in [0, 1]",
    )
    return tuple(float(m) for m in means)


class DriftingBernoulliState(NamedTuple):
    """The drift state of the arm parameter ``theta (K,)``."""

    drift: DriftState


@pytree.dataclass
class DriftingBernoulliParams:
    drift: Any = None


@dataclasses.dataclass(frozen=True)
class DriftingBernoulli(Environment):
    """K Bernoulli arms whose means drift: ``r_t = 1[u_t < mu_a(t)]``, ``u_t ~ U(0, 1)``.

    ``theta_0`` is ``means`` when given, else ``U(0, 1)`` per arm drawn per run; ``theta_t``
    follows ``drift`` and ``mu(t) = bound(theta_t)``: ``"reflect"`` folds it into ``[0, 1]``
    by reflection (a reflected random walk, a bounded sinusoid), ``"clip"`` clips it (use
    it with ``boredom``, whose means fall below 0).  A pull of arm ``a`` is the consumption
    ``(target 1, mask one-hot a)``: ``endogenous`` pulls ``mu_a`` toward 1 (habit),
    ``boredom`` lowers it with satiation (rebounding bandits), ``rotting`` decays it
    geometrically with the number of pulls (rotting bandits).  ``oracle.change_point`` is
    the drift's flag; ``true_param`` the means.  O(K) per step.

    Args:
      num_arms: K.
      means: initial means in [0, 1], or None to draw them per run.
      drift: a drift name (:func:`simulator.drift.names`); knobs in ``params.drift``.
      drift_options: the drift's static options.
      bound: ``"reflect"`` or ``"clip"``.

    Example::

        env = DriftingBernoulli(num_arms=5, drift="periodic")   # sinusoidal means
    """

    num_arms: int = 10
    means: tuple[float, ...] | None = None
    drift: str = "random_walk"
    drift_options: Any = ()
    bound: str = "reflect"

    def __post_init__(self):
        require(
            isinstance(self.num_arms, int) and self.num_arms >= 2,
            f"env.num_arms = {self.num_arms!r}: must be an integer >= 2",
        )
        if self.means is not None:
            object.__setattr__(self, "means", unit_means(self.means, self.num_arms))
        require(
            self.bound in BOUNDS,
            f"env.bound = {self.bound!r}: must be one of {', '.join(BOUNDS)}",
        )
        drift_lib.attach(self)

    @property
    def spec(self) -> EnvSpec:
        # Arm a stays arm a while its mean drifts: the hindsight regret is defined.
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=0,
            reward=capabilities.clicks(),
            fixed_arms=True,
            param_link="identity",
        )

    def default_params(self) -> DriftingBernoulliParams:
        return DriftingBernoulliParams(drift=self.drift_process.default_params())

    def arm_means(self, theta: Array) -> Array:
        """``mu = bound(theta)``."""
        if self.bound == "reflect":
            return reflect_unit(theta)
        return jnp.clip(theta, 0.0, 1.0)

    def _timestep(self, drift_state: DriftState, reward):
        means = self.arm_means(drift_state.theta)
        oracle = make_oracle(means, change_point=drift_state.change_point, true_param=means)
        return make_timestep(empty_context(self.num_arms), reward, oracle)

    def reset(self, key, params):
        key_means, key_drift = jax.random.split(key)
        if self.means is None:
            theta0 = jax.random.uniform(key_means, (self.num_arms,), jnp.float32)
        else:
            theta0 = jnp.asarray(self.means, jnp.float32)
        drift_state = self.drift_process.init(key_drift, theta0, params.drift)
        return DriftingBernoulliState(drift_state), self._timestep(drift_state, 0.0)

    def step(self, key, state, action, params):
        key_reward, key_drift = jax.random.split(key)
        means = self.arm_means(state.drift.theta)
        reward = (jax.random.uniform(key_reward, (), jnp.float32) < means[action]).astype(
            jnp.float32
        )
        drift_state = self.drift_process.step_row(
            key_drift, state.drift, params.drift, action, jnp.ones((), jnp.float32)
        )
        return DriftingBernoulliState(drift_state), self._timestep(drift_state, reward)


@dataclasses.dataclass(frozen=True)
class SlowlyVaryingBernoulli(DriftingBernoulli):
    """Slowly varying Bernoulli means: by default a random walk of std ``env.drift.rate``
    (0.01) per step reflected into ``[0, 1]``; ``drift="periodic"`` gives sinusoidal means
    ``mu_a(t) = mu_a(0) + amplitude (sin(2 pi t / period + phi_a) - sin(phi_a))`` (reflected).

    Reference: Besbes, Gur & Zeevi (2014) for bandits with a variation budget; Slivkins &
    Upfal (2008) for reflected random-walk arms.
    """


@dataclasses.dataclass(frozen=True)
class PiecewiseBernoulli(DriftingBernoulli):
    """Piecewise-stationary Bernoulli bandit: at change points every arm mean is redrawn
    ``~ U(0, 1)`` and ``oracle.change_point`` is true.

    Change points: every ``env.drift.period`` steps (default 1000: the means of rounds
    ``0 .. 999`` are the first, round 1000 has new ones, ...) and/or at random times with
    probability ``env.drift.hazard`` per step (default 0).  ``drift`` must be ``"abrupt"``;
    ``drift_options`` may set ``redraw`` (default ``"uniform"``).

    Reference: Garivier & Moulines, "On upper-confidence bound policies for switching bandit
    problems", ALT 2011.
    """

    drift: str = "abrupt"
    drift_options: Any = (("redraw", "uniform"),)

    def __post_init__(self):
        require(
            self.drift == "abrupt",
            f"env.drift = {self.drift!r}: piecewise_bernoulli needs 'abrupt' "
            "(use slowly_varying_bernoulli for other drifts)",
        )
        options = drift_lib.options_dict(self.drift_options)
        options.setdefault("redraw", "uniform")
        object.__setattr__(self, "drift_options", options)
        super().__post_init__()

    def default_params(self) -> DriftingBernoulliParams:
        knobs = self.drift_process.default_params()
        assert isinstance(self.drift_process, Abrupt)
        return DriftingBernoulliParams(drift=knobs.replace(period=1000.0, hazard=0.0))
