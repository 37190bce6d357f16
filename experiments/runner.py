"""The simulation loop: one ``lax.scan`` over time of act → step → log → update.

``make_run(env, agent, num_steps)`` returns a pure ``run(key, env_params, hparams)`` whose
body is one scan and whose result is the per-step log (a NamedTuple of ``(num_steps,)``
arrays).  Long runs are cut into chunks by :func:`init_carry` and :func:`advance`, which
``make_run`` composes; the experiment executor calls them chunk by chunk.

Metrics added to the environment's log (its NamedTuple extended by :func:`extend_log`):

* ``hindsight_regret`` -- where the environment's spec declares ``fixed_arms`` (arm ``a`` is the
  same action every round: K-armed bandits, a catalog shown whole) and the run asks for it
  (``hindsight=True`` in :func:`make_run` / :func:`init_carry`; the experiment executor
  does): the per-step increment of the regret against the best *fixed* arm in hindsight.
  With ``S_a(t) = sum_{s <= t} mu_s(a)`` the oracle's expected rewards summed so far
  (``K`` floats in the carry)::

      hindsight_regret_t = [max_a S_a(t) - max_a S_a(t-1)] - mu_t(a_t)

  so ``cumsum(hindsight_regret)[t] = max_a S_a(t) - sum_{s <= t} mu_s(a_s)`` at every
  horizon ``t`` (it may be negative: a drift-aware agent can beat every fixed arm).  With
  means that never change it equals the pseudo-regret ``regret`` step by step.  ``S`` is
  kept as an unevaluated float32 pair ``hi + lo`` (compensated summation), so the curve
  stays exact over millions of steps without float64.
* the feedback-loop metrics the run asks for, and ``coverage`` (the share of the arms shown
  at least once so far) always where the environment shows slates of fixed arms (``metrics=(...)``: ``user_drift``,
  ``homogeneity``, ``coverage``, ``exposure_gini``, ``popularity_bias``, ``utility``,
  ``utility_initial``; :mod:`experiments.feedback_metrics`), with their state in
  ``Carry.watch``; the snapshots among them are taken at the end of every block of
  ``record_every`` steps.
* ``param_error`` -- when the agent has an ``estimate`` in the layout of
  ``oracle.true_param`` (same shape) and of the same model: the environment's declared
  ``EnvSpec.param_link`` (``"identity"``: reward linear in the features, ``"logit"``: a
  logistic click; ``"latent"`` (a hidden preference no agent estimates) and ``"none"`` are
  never compared) must be the agent's declared ``estimate_link``.
  ``param_error = ||estimate - true_param||`` of the estimate the agent acts with, against
  the parameter behind the reward.

Actions are checked.  Where the environment expects one arm index (or a slate of them),
the action's shape and dtype are checked when the step is traced (a ConfigError naming the
agent), and every run counts the invalid actions in its carry (:class:`ActionCheck`: a
count and the first bad value, no per-step metric; a compare and two selects per step):
an index outside ``[0, num_arms)``, or a slate with such an index or an arm shown twice.
``experiments.run`` reports such runs instead of letting the environment's clamped
indexing hide them.

Slates.  Where the environment's action is a ranked slate (``EnvSpec.action == "slate"``)
the agent returns ``(slate_size,)`` int32 arms, position 1 first; the transition carries
the per-position clicks and ``observed`` mask (``Transition.positions``) and the reward is
the number of clicks.  The environment's own ``log`` scores the slate (regret against the
best slate under its click model).  ``hindsight_regret`` is not tracked for slates: the
value of a slate is not a sum over its arms, so the best fixed slate in hindsight is a
combinatorial problem, not ``max_a S_a``.  :func:`make_run` checks that the agent fits the environment
(:func:`agents.fit.check_fits`) before tracing.

Randomness.  A run key splits into an environment key and an agent key.  The key of step
``t`` is ``fold_in(key, t)``: it depends on the step index only, never on how the horizon
is cut into chunks, so chunked and unchunked runs give the same numbers.  The environment
keys never depend on the agent, so every agent of an experiment sees the same exogenous
randomness for a seed (common random numbers).

Example::

    run = jax.jit(make_run(simulator.make("bernoulli"), agents.make("ucb"), 1000))
    log = run(jax.random.key(0), env.default_params(), agent.default_hparams())
    log.regret.cumsum()
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agents.fit import check_fits
from agents.types import Agent, Transition
from experiments import feedback_metrics
from simulator import capabilities
from simulator.params import ConfigError
from simulator.sampling import split_keys
from simulator.types import Environment, TimeStep


class ArmTotals(NamedTuple):
    """``S_a(t) = sum_{s <= t} mu_s(a)`` of every arm, ``(K,)`` float32 each, as the
    unevaluated sum ``hi + lo`` (``|lo| <= ulp(hi) / 2``: about 48 bits of precision), and
    ``max_a S_a(t)`` as the pair ``best_hi + best_lo`` (scalars)."""

    hi: jax.Array
    lo: jax.Array
    best_hi: jax.Array
    best_lo: jax.Array


def empty_totals(num_arms: int) -> ArmTotals:
    """``S = 0`` for ``num_arms`` arms."""
    zero = jnp.zeros((), jnp.float32)
    return ArmTotals(
        jnp.zeros((num_arms,), jnp.float32), jnp.zeros((num_arms,), jnp.float32), zero, zero
    )


class ActionCheck(NamedTuple):
    """Invalid actions of one run so far: ``count`` (int32) actions outside the
    environment's action space, and ``first`` (int32) the first such value (0 while
    ``count == 0``)."""

    count: jax.Array
    first: jax.Array


class Carry(NamedTuple):
    """Everything that flows from one step to the next (a stable scan carry).

    ``arm_totals`` is an :class:`ArmTotals` for the hindsight regret, or None (not tracked);
    ``action_check`` an :class:`ActionCheck` where the environment expects an arm index,
    else None; ``watch`` the :class:`~experiments.feedback_metrics.Watch` of the
    feedback-loop metrics logged (:func:`experiments.feedback_metrics.logged`), else None.
    """

    env_state: Any
    agent_state: Any
    timestep: TimeStep
    arm_totals: Any = None
    action_check: Any = None
    watch: Any = None


class RunKeys(NamedTuple):
    """The independent key streams of a run: the environment's, the agent's, and the
    feedback-loop metrics' (their user subsample; it never touches the other two)."""

    env: jax.Array
    agent: jax.Array
    watch: Any = None


def split_run_key(key: jax.Array) -> RunKeys:
    """Split a run key into the environment stream and the agent stream (and the metrics'
    key, ``fold_in(key, WATCH_INDEX)``)."""
    key_env, key_agent = jax.random.split(key)
    watch = jax.random.fold_in(key, feedback_metrics.WATCH_INDEX)
    return RunKeys(env=key_env, agent=key_agent, watch=watch)


RESET_INDEX = 0xFFFFFFFF  # fold-in index of the reset / init keys, never a step index


def init_carry(
    env: Environment,
    agent: Agent,
    keys: RunKeys,
    env_params,
    hparams,
    hindsight: bool = False,
    metrics: tuple[str, ...] = (),
) -> Carry:
    """Reset the environment and initialise the agent.

    ``hindsight=True`` also starts the running sums of the hindsight regret (when the
    environment's spec declares ``fixed_arms``; otherwise it is ignored); ``metrics`` the
    feedback-loop metrics' carry (names checked by
    :func:`experiments.feedback_metrics.check`).
    """
    spec = env.spec
    env_state, timestep = env.reset(jax.random.fold_in(keys.env, RESET_INDEX), env_params)
    agent_state = agent.init(jax.random.fold_in(keys.agent, RESET_INDEX), hparams)
    arm_totals = None
    if hindsight and spec.fixed_arms and spec.action == capabilities.ARM:
        arm_totals = empty_totals(timestep.oracle.expected_reward.shape[0])
    action_check = None
    if spec.action in (capabilities.ARM, capabilities.SLATE):
        zero = jnp.zeros((), jnp.int32)
        action_check = ActionCheck(count=zero, first=zero)
    watch = None
    metrics = feedback_metrics.logged(env, metrics)
    if metrics:
        watch = feedback_metrics.init(env, metrics, keys.watch, env_state, env_params, timestep)
    return Carry(env_state, agent_state, timestep, arm_totals, action_check, watch)


def _two_sum(a, b):
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth's TwoSum)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def hindsight_step(totals: ArmTotals, mu: jax.Array, action) -> tuple[ArmTotals, jax.Array]:
    """Add the round's expected rewards ``mu (K,)`` to ``S``; returns ``(new totals,
    increment)``, the increment ``max_a S_a(t) - max_a S_a(t-1) - mu[action]`` (float32).

    ``S + mu`` in double-float32 arithmetic (two TwoSums per arm); ``max_a S_a`` is the
    lexicographic maximum of the normalised pairs (their exact order); the difference of
    the two maxima is exact in its ``hi`` part (Sterbenz) once the sums dwarf one round.
    """
    mu = jnp.asarray(mu, jnp.float32)
    s, err = _two_sum(totals.hi, mu)
    hi, lo = _two_sum(s, totals.lo + err)
    best_hi = jnp.max(hi)
    best_lo = jnp.max(jnp.where(hi == best_hi, lo, -jnp.inf))
    increment = (best_hi - totals.best_hi) + (best_lo - totals.best_lo)
    return ArmTotals(hi, lo, best_hi, best_lo), (increment - mu[action]).astype(jnp.float32)


def tracks_param(env: Environment, agent: Agent) -> bool:
    """Whether ``param_error`` may compare ``agent.estimate`` with ``oracle.true_param``
    (before the shape check): the agent has an estimate whose declared ``estimate_link`` is
    the environment's declared ``param_link`` (never ``"latent"`` or ``"none"``)."""
    link = env.spec.param_link
    return (
        agent.estimate is not None
        and link not in ("latent", "none")
        and (link == agent.estimate_link)
    )


def check_action_type(env: Environment, agent: Agent, action) -> None:
    """ConfigError (at trace time, before any compilation) when an environment that
    expects one arm index gets anything but an integer scalar, or one that expects a slate
    anything but ``(slate_size,)`` integers."""
    spec = env.spec
    if spec.action == capabilities.ARM:
        shape, wanted = (), "one int32 arm index"
    elif spec.action == capabilities.SLATE:
        shape, wanted = (spec.slate_size,), f"a slate of {spec.slate_size} distinct int32 arms"
    else:
        return
    if jnp.shape(action) != shape or not jnp.issubdtype(jnp.result_type(action), jnp.integer):
        raise ConfigError(
            f"agent {agent.name!r} returned an action of shape {tuple(jnp.shape(action))} and "
            f"dtype {jnp.result_type(action)}; {type(env).__name__} expects {wanted} "
            f"in [0, {spec.num_arms})"
        )


def count_invalid(check: ActionCheck, action, num_arms: int) -> ActionCheck:
    """Add ``action`` to the run's :class:`ActionCheck` when it is invalid: an arm outside
    ``[0, num_arms)``, or (a slate ``(k,)``) any such arm or an arm shown twice; ``first``
    keeps the first bad arm (the repeated one for a duplicate)."""
    action = jnp.asarray(action, jnp.int32)
    if action.ndim == 0:
        bad = (action < 0) | (action >= num_arms)
        value = action
    else:
        out_of_range = (action < 0) | (action >= num_arms)
        earlier = jnp.tril(action[:, None] == action[None, :], k=-1)
        repeated = jnp.any(earlier, axis=1)
        wrong = out_of_range | repeated
        bad = jnp.any(wrong)
        value = action[jnp.argmax(wrong)]
    first = jnp.where(bad & (check.count == 0), value, check.first)
    return ActionCheck(count=check.count + bad.astype(jnp.int32), first=first)


class Round(NamedTuple):
    """One round as a recorder sees it (see :func:`make_run`'s ``record``).

    Attributes:
      t: the time index.
      key_act: the key the agent acted with (a recorder may derive more draws from it,
        e.g. Monte-Carlo propensities, with ``fold_in(key_act, j)``, ``j >= 1``).
      agent_state: the agent's state it acted with (before the update).
      hparams: the agent's hyperparameters.
      timestep: the timestep acted on (context, oracle).
      action: the action taken.
      next_timestep: the environment's answer (``reward``, ``label``).
    """

    t: jax.Array
    key_act: jax.Array
    agent_state: Any
    hparams: Any
    timestep: TimeStep
    action: jax.Array
    next_timestep: TimeStep


def step_once(
    env: Environment,
    agent: Agent,
    carry: Carry,
    keys: RunKeys,
    t,
    env_params,
    hparams,
    record=None,
    metrics: tuple[str, ...] = (),
):
    """One round at time index ``t``: returns ``(next carry, per-step log)``; the log is
    ``record(Round(...))`` when a recorder is given, else the metrics (with the per-round
    feedback-loop ``metrics``; the snapshots are :func:`advance`'s)."""
    key_env_t = jax.random.fold_in(keys.env, t)
    key_act, key_update = split_keys(jax.random.fold_in(keys.agent, t))
    timestep = carry.timestep
    action = agent.act(key_act, carry.agent_state, timestep.context, hparams)
    check_action_type(env, agent, action)
    action_check = carry.action_check
    if action_check is not None:
        action_check = count_invalid(action_check, action, env.spec.num_arms)
    env_state, next_timestep = env.step(key_env_t, carry.env_state, action, env_params)
    transition = Transition(
        context=timestep.context,
        action=action,
        reward=next_timestep.reward,
        label=next_timestep.label,
        oracle=timestep.oracle,
        positions=next_timestep.positions,
    )
    agent_state = agent.update(key_update, carry.agent_state, transition, hparams)
    if record is not None:
        log = record(Round(t, key_act, carry.agent_state, hparams, timestep, action, next_timestep))
        tracked = carry
    else:
        tracked, log = step_metrics(env, agent, carry, action, next_timestep, env_params, metrics)
    next_carry = Carry(
        env_state, agent_state, next_timestep, tracked.arm_totals, action_check, tracked.watch
    )
    return next_carry, log


def step_metrics(
    env: Environment,
    agent: Agent,
    carry: Carry,
    action,
    next_timestep,
    env_params=None,
    metrics: tuple[str, ...] = (),
):
    """The environment's log of ``action`` on ``carry.timestep`` plus the runner's metrics
    (see the module docstring); returns ``(carry with the next arm totals and watch, log)``."""
    timestep = carry.timestep
    log = env.log(timestep, action, next_timestep)
    arm_totals = carry.arm_totals
    watch = carry.watch
    per_round: dict[str, jax.Array] = {}
    if watch is not None:
        metrics = feedback_metrics.logged(env, metrics)
        watch, per_round = feedback_metrics.observe(
            env, metrics, watch, carry.env_state, env_params, timestep, action
        )
    # the metrics every run of this environment logs first (a slate's coverage), the
    # opt-in ones last: a run's log is the same with and without them, up to a suffix
    extra = {n: per_round.pop(n) for n in feedback_metrics.logged(env) if n in per_round}
    if arm_totals is not None:
        arm_totals, extra["hindsight_regret"] = hindsight_step(
            arm_totals, timestep.oracle.expected_reward, action
        )
    if tracks_param(env, agent):
        estimate = agent.estimate(carry.agent_state)
        true_param = timestep.oracle.true_param
        if estimate.shape == true_param.shape:
            extra["param_error"] = jnp.linalg.norm(estimate - true_param).astype(jnp.float32)
    log = with_metrics(log, {**extra, **per_round})
    return carry._replace(arm_totals=arm_totals, watch=watch), log


def with_metrics(log, extra: dict[str, jax.Array]):
    """``log`` with the metrics ``extra`` appended (:func:`extend_log`)."""
    if not extra:
        return log
    return extend_log(type(log), tuple(extra))(*log, *extra.values())


@functools.cache
def extend_log(log_type: type, names: tuple[str, ...]) -> type:
    """The environment's log type plus the runner's metrics ``names`` (``coverage``,
    ``hindsight_regret``, ``param_error``, the feedback-loop metrics; see the module
    docstring), appended in that order."""
    suffix = "".join(n.title().replace("_", "") for n in names)
    extended = NamedTuple(
        f"{log_type.__name__}With{suffix}",
        [(f, Any) for f in log_type._fields] + [(n, Any) for n in names],
    )
    # how a stored program's output structure names it (experiments.program_cache)
    extended.__driftsim_reduce__ = (extend_log, (log_type, names))
    return extended


def advance(
    env: Environment,
    agent: Agent,
    carry: Carry,
    keys: RunKeys,
    env_params,
    hparams,
    t_start,
    num_steps: int,
    record_every: int = 1,
    record=None,
    metrics: tuple[str, ...] = (),
):
    """Run ``num_steps`` rounds from time index ``t_start`` (traced) with one ``lax.scan``.

    Returns ``(carry, log)``: the log holds ``num_steps // record_every`` values per metric,
    each the mean over its block of ``record_every`` consecutive steps (``record_every=1``
    keeps every step), except the feedback-loop snapshots among ``metrics``
    (:data:`experiments.feedback_metrics.SNAPSHOTS`), taken of the state at the block's
    end.  ``num_steps`` must be a multiple of ``record_every``.
    """
    if num_steps % record_every:
        raise ValueError(f"num_steps={num_steps} is not a multiple of record_every={record_every}")
    snapshots = record is None and any(n in feedback_metrics.SNAPSHOTS for n in metrics)

    def with_snapshot(carry, log):
        if not snapshots:
            return log
        values = feedback_metrics.snapshot(env, metrics, carry.watch, carry.env_state, env_params)
        return with_metrics(log, values)

    def step(carry, t):
        return step_once(env, agent, carry, keys, t, env_params, hparams, record, metrics)

    def body(carry, t):
        carry, log = step(carry, t)
        return carry, with_snapshot(carry, log)

    def block(carry, t_block):
        times = t_block + jnp.arange(record_every, dtype=jnp.int32)
        carry, logs = jax.lax.scan(step, carry, times)
        return carry, with_snapshot(carry, jax.tree.map(lambda x: jnp.mean(x, axis=0), logs))

    t_start = jnp.asarray(t_start, jnp.int32)
    if record_every == 1:
        times = t_start + jnp.arange(num_steps, dtype=jnp.int32)
        return jax.lax.scan(body, carry, times)
    blocks = t_start + record_every * jnp.arange(num_steps // record_every, dtype=jnp.int32)
    return jax.lax.scan(block, carry, blocks)


def make_run(
    env: Environment,
    agent: Agent,
    num_steps: int,
    record_every: int = 1,
    hindsight: bool = False,
    record=None,
    metrics: tuple[str, ...] = (),
):
    """A pure ``run(key, env_params, hparams) -> log`` over ``num_steps`` rounds.

    The log is the environment's per-step NamedTuple (``reward``, ``regret``, ``optimal``
    for bandits) with a leading time axis, plus ``param_error`` (agents with a comparable
    estimate) and, with ``hindsight=True``, ``hindsight_regret`` (environments with fixed
    arms; off by default: it adds ``O(K)`` work per step, about a third more time for a
    10-armed UCB bandit on a CPU).  Not jitted: jit (and vmap) it at the top.

    ``record`` (optional): ``Round -> pytree``, called on every round instead of the
    metrics; the run then returns those pytrees stacked over time (the logged-data
    recorder of :mod:`experiments.offpolicy` is one: context, action, reward and the
    action's propensity).  The scan, the keys and the updates are the same either way.

    ``metrics``: feedback-loop metrics to log as well (names of
    :data:`experiments.feedback_metrics.NAMES`; they draw from their own key, so every other
    metric keeps its numbers).

    Raises ConfigError when the agent does not fit the environment (its declared needs
    against the environment's spec: :func:`agents.fit.check_fits`) or cannot log
    ``metrics``.
    """
    check_fits(env, agent)
    metrics = feedback_metrics.check(env, metrics) if metrics else ()

    def run(key, env_params, hparams):
        keys = split_run_key(key)
        carry = init_carry(env, agent, keys, env_params, hparams, hindsight, metrics)
        _, log = advance(
            env,
            agent,
            carry,
            keys,
            env_params,
            hparams,
            0,
            num_steps,
            record_every,
            record,
            metrics,
        )
        return log

    return run
