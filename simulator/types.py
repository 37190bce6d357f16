"""The environment contract: what an agent sees, what the world really is, what a step logs.

An environment is a frozen dataclass holding only *static structure* (number of arms,
feature dimensions, which drift process).  Every numeric knob lives in its params, a
``pytree.dataclass`` whose leaves are traced, so a sweep can ``vmap`` over them:

    env = simulator.make("bernoulli", num_arms=10)
    params = env.default_params()
    state, timestep = env.reset(key_reset, params)
    state, timestep = env.step(key_step, state, action, params)

``timestep.context`` is what the agent chooses from next; ``timestep.oracle`` describes
that same context under the current state of the world (the expected reward of every
candidate), so the pseudo-regret of an action ``a`` chosen on ``timestep.context`` is
``max(oracle.expected_reward) - oracle.expected_reward[a]``.  Only metrics and oracle
baselines read the oracle, never a learning agent.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities
from simulator.params import ConfigError

Array = jax.Array


class Context(NamedTuple):
    """What the agent sees before acting.

    Attributes:
      features: ``(context_dim,)`` features shared by every candidate (the user, the
        regression input); shape ``(0,)`` when there are none.
      arm_features: ``(num_arms, arm_dim)`` features of each candidate item; shape
        ``(num_arms, 0)`` when there are none.
      user_id: ``()`` int32 id in ``[0, num_users)`` of the user being served, or ``None``
        when the environment has no user ids (``EnvSpec.num_users == 0``).
      item_ids: ``(num_arms,)`` int32 catalog ids in ``[0, num_items)`` of the candidates,
        or ``None`` when the environment has no item ids (``EnvSpec.num_items == 0``).

    The ids default to ``None``, an empty pytree node: a context without ids has the same
    two leaves as before, so every environment that gives none is unchanged, and one that
    gives ids gives them on every step (a stable scan carry).  Use :func:`make_timestep`
    (or :func:`with_ids`) to get them as int32.
    """

    features: Array
    arm_features: Array
    user_id: Array | None = None
    item_ids: Array | None = None


class Oracle(NamedTuple):
    """The truth behind a context, for metrics and oracle baselines only.

    Attributes:
      expected_reward: ``(num_arms,)`` expected reward of every candidate under the
        current (possibly drifted) state of the world.
      change_point: ``()`` bool, true when the world changed abruptly since the last step.
      true_param: the current true parameter (environment-specific shape, ``(0,)`` if
        none), for tracking errors.
    """

    expected_reward: Array
    change_point: Array
    true_param: Array


class PositionFeedback(NamedTuple):
    """Per-position feedback of a ranked slate (position 1 first).

    Attributes:
      clicks: ``(slate_size,)`` float32, 1.0 where the item at that position was clicked.
      observed: ``(slate_size,)`` bool, true where the agent knows the user examined the
        position (the cascade: up to and including the click, every position without a
        click), so partial-feedback learners update only those.
    """

    clicks: Array
    observed: Array


class TimeStep(NamedTuple):
    """What one environment step returns (never a bare tuple).

    Attributes:
      context: the context the agent acts on next.
      reward: ``()`` float32 reward of the action just taken (0 after ``reset``); for a
        slate, the number of clicks.
      label: ``()`` float32 label of the previous context, revealed by full-information
        streams (the regression target); NaN where the environment reveals none.
      oracle: the truth behind ``context``.
      positions: the :class:`PositionFeedback` of the slate just shown, where the
        environment's action is a slate (zeros after ``reset``); None otherwise (an empty
        pytree node: single-arm environments keep the four leaves they always had).
    """

    context: Context
    reward: Array
    label: Array
    oracle: Oracle
    positions: PositionFeedback | None = None


class StepLog(NamedTuple):
    """The per-step metrics of a bandit environment (environments may log more fields).

    Attributes:
      reward: reward received.
      regret: per-step pseudo-regret, best expected reward minus the chosen one's.
      optimal: 1.0 where the chosen action was optimal, else 0.0.
    """

    reward: Array
    regret: Array
    optimal: Array


class EnvSpec(NamedTuple):
    """What an environment offers: the shapes an agent factory needs (filled in by
    experiments) and the capabilities the compatibility check reads (see
    :mod:`simulator.capabilities` and :func:`agents.fit.misfits`).

    Declared by the built instance (``env.spec``): a static option may change it (e.g.
    ``drifting_users`` has fixed arms only when it shows the whole catalog).

    Attributes:
      num_arms: candidates per round.
      context_dim: length of ``Context.features`` (0: no shared context).
      arm_dim: width of ``Context.arm_features`` (0: no arm features).
      num_users: size of the user id space of ``Context.user_id`` (0: no user ids).
      num_items: size of the catalog id space of ``Context.item_ids`` (0: no item ids).
      action: the action ``step`` expects: ``"arm"`` (int32 index), ``"slate"``
        (``slate_size`` distinct arms) or ``"prediction"`` (float32 real number).
      slate_size: arms per action (1 unless the action is a slate).
      feedback: ``"bandit"`` (the reward of the action) or ``"label"`` (full
        information: ``TimeStep.label`` is revealed too).
      reward: the :class:`~simulator.capabilities.RewardRange` of ``TimeStep.reward``.
      fixed_arms: arm ``a`` is the same action every round (K-armed bandits, a catalog
        shown whole), so the best fixed arm in hindsight is defined.
      feature_bound: a bound ``L`` on the Euclidean norm of every candidate's features
        (``inf`` where unknown).
      param_link: how ``Oracle.true_param`` relates to the reward: ``"identity"``,
        ``"logit"``, ``"latent"`` or ``"none"`` (see :mod:`simulator.capabilities`).
      example_cycle: ``n`` when the environment cycles through ``n`` distinct examples (each
        recurs every ``n`` rounds, e.g. ``seed_example``), 0 when every round brings a fresh
        one: privacy accounting composes the ``ceil(T / n)`` updates an example enters.
    """

    num_arms: int
    context_dim: int
    arm_dim: int
    num_users: int = 0
    num_items: int = 0
    action: str = capabilities.ARM
    slate_size: int = 1
    feedback: str = capabilities.BANDIT
    reward: capabilities.RewardRange = capabilities.RewardRange()
    fixed_arms: bool = False
    feature_bound: float = math.inf
    param_link: str = "none"
    example_cycle: int = 0

    @property
    def has_context(self) -> bool:
        return self.context_dim > 0

    @property
    def has_arm_features(self) -> bool:
        return self.arm_dim > 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, for ``config.json`` (statistics of a finished folder read it)."""
        out = self._asdict()
        out["reward"] = self.reward.as_dict()
        out["feature_bound"] = None if math.isinf(self.feature_bound) else self.feature_bound
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvSpec:
        """The inverse of :meth:`as_dict` (unknown keys are ignored)."""
        values = {k: v for k, v in data.items() if k in cls._fields}
        values["reward"] = capabilities.RewardRange.from_dict(values.get("reward") or {})
        bound = values.get("feature_bound")
        values["feature_bound"] = math.inf if bound is None else float(bound)
        return cls(**values)


def empty_context(num_arms: int) -> Context:
    """A context with no features and no ids (float32), for non-contextual bandits."""
    return Context(
        features=jnp.zeros((0,), jnp.float32),
        arm_features=jnp.zeros((num_arms, 0), jnp.float32),
    )


def with_ids(context: Context, user_id: Any = None, item_ids: Any = None) -> Context:
    """``context`` with int32 ids (``None`` leaves that id out)."""
    return context._replace(
        user_id=None if user_id is None else jnp.asarray(user_id, jnp.int32),
        item_ids=None if item_ids is None else jnp.asarray(item_ids, jnp.int32),
    )


def make_oracle(
    expected_reward: Array, change_point: Any = False, true_param: Any = None
) -> Oracle:
    """An :class:`Oracle` with fixed dtypes (float32 rewards, bool flag)."""
    if true_param is None:
        true_param = jnp.zeros((0,), jnp.float32)
    return Oracle(
        expected_reward=jnp.asarray(expected_reward, jnp.float32),
        change_point=jnp.asarray(change_point, jnp.bool_),
        true_param=jnp.asarray(true_param, jnp.float32),
    )


def make_timestep(
    context: Context,
    reward: Any,
    oracle: Oracle,
    label: Any = jnp.nan,
    positions: PositionFeedback | None = None,
) -> TimeStep:
    """A :class:`TimeStep` with fixed dtypes, so a scan carry never changes type (the
    context's ids, where given, become int32; a slate's clicks float32, ``observed``
    bool)."""
    user_id, item_ids = getattr(context, "user_id", None), getattr(context, "item_ids", None)
    if user_id is not None or item_ids is not None:
        context = with_ids(context, user_id, item_ids)
    if positions is not None:
        positions = PositionFeedback(
            clicks=jnp.asarray(positions.clicks, jnp.float32),
            observed=jnp.asarray(positions.observed, jnp.bool_),
        )
    return TimeStep(
        context=context,
        reward=jnp.asarray(reward, jnp.float32),
        label=jnp.asarray(label, jnp.float32),
        oracle=oracle,
        positions=positions,
    )


def no_positions(slate_size: int) -> PositionFeedback:
    """The feedback of no slate yet (after ``reset``): no clicks, nothing observed."""
    return PositionFeedback(
        clicks=jnp.zeros((slate_size,), jnp.float32),
        observed=jnp.zeros((slate_size,), jnp.bool_),
    )


def bandit_log(oracle: Oracle, action: Array, reward: Array) -> StepLog:
    """Pseudo-regret and optimality of a discrete ``action`` chosen on ``oracle``'s context.

    Ties count as optimal: ``optimal = 1`` when ``mu[action] >= max(mu)`` (to float32).
    """
    mu = oracle.expected_reward
    best = jnp.max(mu)
    chosen = mu[action]
    return StepLog(
        reward=jnp.asarray(reward, jnp.float32),
        regret=(best - chosen).astype(jnp.float32),
        optimal=(chosen >= best).astype(jnp.float32),
    )


@dataclasses.dataclass(frozen=True)
class Environment:
    """Base class of every environment: static structure only; override the four methods.

    Subclasses are frozen dataclasses whose fields are static (they set shapes or control
    flow); they validate them in ``__post_init__`` by raising :class:`ConfigError`.
    """

    @property
    def spec(self) -> EnvSpec:
        """Shapes an agent needs (number of arms, context and arm feature dimensions)."""
        raise NotImplementedError

    def default_params(self) -> Any:
        """The traced parameters with their defaults."""
        raise NotImplementedError

    def reset(self, key: Array, params: Any) -> tuple[Any, TimeStep]:
        """Start a run: returns ``(state, timestep)`` with the first context."""
        raise NotImplementedError

    def step(self, key: Array, state: Any, action: Array, params: Any) -> tuple[Any, TimeStep]:
        """Apply ``action`` to the context of the previous timestep; returns the next one."""
        raise NotImplementedError

    def log(self, timestep: TimeStep, action: Array, next_timestep: TimeStep) -> Any:
        """Per-step metrics of ``action`` chosen on ``timestep`` (a NamedTuple of scalars).

        The default is :func:`bandit_log`: reward, pseudo-regret and optimality.
        """
        return bandit_log(timestep.oracle, action, next_timestep.reward)

    def static_fields(self) -> dict[str, Any]:
        """The static structure, by field name (for configs and listings)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)
