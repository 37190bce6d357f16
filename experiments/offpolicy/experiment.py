"""Logged-data experiments (``kind = "replay"`` / ``"ope"``) on the one pipeline.

:func:`experiments.run` runs every kind: for these it calls :func:`run_logged`, which
records simulated logs through :func:`experiments.runner.make_run` (the recorder of
:mod:`experiments.offpolicy.logs`) or reads the Open Bandit Dataset, evaluates, and returns
the same :class:`~experiments.results.AgentResults` as an online run, saved by the same
writer.  The metrics are per-run values with named axes:

* ``replay``: per agent, ``accepted``, ``estimate``, ``low``, ``high`` and ``rewards``
  with axes (point, seed): the accepted rows, the replay estimate of the online reward
  with its interval, and the sum of the accepted rewards, per seed;
* ``ope``: per target policy (on the Open Bandit Dataset: per log, labelled by its logging
  policy, evaluated for the other one), ``estimate``, ``low`` and ``high`` with axes (point, seed,
  estimator) -- seed = one log -- and ``truth`` with axes (point, seed): the policy's
  true value on the log's contexts (simulated logs), or its on-policy CTR on its own log
  with ``truth_low`` / ``truth_high`` (the Open Bandit Dataset).  On simulated logs a
  point is a logging policy (``points[i] = {"logger": label}``, see
  :meth:`~experiments.schema.LogConfig.logging_policies`).

:mod:`experiments.offpolicy.summary` turns them into the printed table (``summary.csv``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.types import Agent
from experiments.execute import seed_keys
from experiments.offpolicy.estimators import estimate
from experiments.offpolicy.logs import make_recorder, train
from experiments.offpolicy.obd import (
    OBDData,
    empirical_policy,
    few_clicks_note,
    load_obd,
    obd_contexts,
    obd_log,
)
from experiments.offpolicy.propensities import behaviour, policy_value, target_probabilities
from experiments.offpolicy.replay import check_uniform, make_replay, replay_estimate
from experiments.plan import build_agent, build_env
from experiments.presets import as_experiment
from experiments.results import AgentResults
from experiments.schema import OBD_POLICIES, AgentConfig, Experiment, LoggerConfig, from_dict
from experiments.stats import wilson_interval
from simulator import capabilities
from simulator.params import ConfigError
from simulator.types import Environment, EnvSpec

Array = jax.Array

#: Axes of the per-run metrics of logged-data experiments (see the module docstring).
RUN_AXES = ("point", "seed")
ESTIMATE_AXES = ("point", "seed", "estimator")


class _LogSpec(NamedTuple):
    """Stands in for an environment where an agent needs only its shapes (a fixed log)."""

    spec: EnvSpec


class LabelledAgent(NamedTuple):
    """A built ``[[agents]]`` entry."""

    label: str
    agent: Agent
    hparams: Any


class Logger(NamedTuple):
    """A built logging policy of simulated ope logs (:class:`~experiments.schema.LoggerConfig`
    resolved): the agent, whether it learns as it logs, and its rounds of pretraining."""

    label: str
    agent: Agent
    hparams: Any
    learn: bool
    pretrain_steps: int
    config: LoggerConfig


@dataclasses.dataclass
class OffPolicyPlan:
    """A replay / ope experiment resolved in plain Python: every value checked, the data
    read, the environment and agents built; nothing compiled yet.

    Attributes:
      experiment: the validated :class:`~experiments.schema.Experiment`.
      agents: the ``[[agents]]``: the agents replayed, or the target policies.
      data: (``source = "obd"``) the logs read, by policy, each ``num_steps`` rows.
      env, env_params: (``source = "simulate"``) the environment the logs are recorded from.
      logger, logger_hparams: (``source = "simulate"``) the logging agent.
      loggers: (``source = "simulate"``, ope) the logging policies, built.
    """

    experiment: Experiment
    agents: list[LabelledAgent]
    data: dict[str, OBDData] = dataclasses.field(default_factory=dict)
    env: Environment | None = None
    env_params: Any = None
    logger: Agent | None = None
    logger_hparams: Any = None
    loggers: list[Logger] = dataclasses.field(default_factory=list)


def prepare(experiment: Any) -> OffPolicyPlan:
    """Validate a ``kind = "replay"`` / ``"ope"`` experiment and resolve it, before any
    compilation (a missing ``obp``, data file or bad field: :class:`ConfigError`).

    Args:
      experiment: an :class:`~experiments.schema.Experiment`, a dict, a preset name or a
        TOML path.
    """
    experiment = from_dict(as_experiment(experiment).to_dict())
    if experiment.kind == "simulate":
        raise ConfigError(
            "kind = 'simulate': an online experiment, run it with experiments.run; "
            "experiments.offpolicy runs kind = 'replay' or 'ope'"
        )
    log = experiment.log
    out = OffPolicyPlan(experiment=experiment, agents=[])
    if log.source == "obd":
        # ope also reads the other logging policy's log: its on-policy CTR is the truth
        for policy in ("random", "bts") if experiment.kind == "ope" else ("random",):
            data = load_obd(policy, log.campaign, log.path, max_rows=experiment.num_steps)
            if data.num_rows < experiment.num_steps:
                raise ConfigError(
                    f"num_steps = {experiment.num_steps}: the Open Bandit Dataset log "
                    f"{data.source} has only {data.num_rows} rows; use at most that many"
                )
            out.data[policy] = data
        uniform = out.data["random"]
        host: Any = _LogSpec(
            EnvSpec(
                num_arms=uniform.num_items,
                context_dim=int(obd_contexts(uniform).shape[1]),
                arm_dim=0,
            )
        )
    else:
        out.env, out.env_params = build_env(experiment.env.name, dict(experiment.env.fields))
        if out.env.spec.action != capabilities.ARM:
            raise ConfigError(
                f"env.name = {experiment.env.name!r}: logged-data experiments log one arm per "
                f"round; this environment's action is a {out.env.spec.action} (a slate's "
                "propensity needs a slate-level estimator, which driftsim does not have yet)"
            )
        propensity = "exact" if experiment.kind == "replay" else log.propensity
        out.logger, out.logger_hparams = _build_logger(log.agent, out.env, log, propensity)
        if experiment.kind == "ope":
            for index, config in enumerate(log.logging_policies()):
                if config.agent is log.agent:
                    agent, hparams = out.logger, out.logger_hparams
                else:
                    where = f"log.loggers[{index}].agent"
                    agent, hparams = _build_logger(config.agent, out.env, log, propensity, where)
                out.loggers.append(
                    Logger(
                        config.label, agent, hparams, config.learn, config.pretrain_steps, config
                    )
                )
        host = out.env
    for config in experiment.agents:
        agent, hparams = build_agent(config, host, dict(config.fields))
        out.agents.append(LabelledAgent(config.label, agent, hparams))
    return out


def _build_logger(
    config: AgentConfig, env: Environment, log: Any, propensity: str, where: str = "log.agent"
) -> tuple[Agent, Any]:
    """A logging agent, built and checked to give the propensities asked (errors name
    ``where``)."""
    try:
        agent, hparams = build_agent(config, env, dict(config.fields))
        behaviour(agent, propensity, log.num_samples)
    except ConfigError as err:
        message = str(err).replace(f"agents.{config.label}", where)
        raise ConfigError(message.replace("propensity =", "log.propensity =")) from None
    return agent, hparams


class LoggedRun(NamedTuple):
    """What :func:`run_logged` returns: the agents' results and what ``config.json`` adds.

    Attributes:
      agents: ``{label: AgentResults}`` (per-run metrics, named axes).
      title, note: the table's title and the note printed under it.
      axis_values: the values along named axes other than point / seed (``estimator``).
    """

    agents: dict[str, AgentResults]
    title: str
    note: str
    axis_values: dict[str, list[str]]


def run_logged(experiment: Experiment) -> LoggedRun:
    """Run a ``kind = "replay"`` or ``"ope"`` experiment (called by :func:`experiments.run`).

    * ``replay``: each ``[[agents]]`` entry runs over the uniform-random log once per seed
      (:func:`~experiments.offpolicy.replay.make_replay`).
    * ``ope`` on the Open Bandit Dataset: each log in ``log.policy`` is evaluated for the
      *other* logging policy (the uniform policy on the Bernoulli TS log, with its
      propensities: the meaningful use; Bernoulli TS, through its empirical per-position
      action frequencies (:func:`~experiments.offpolicy.obd.empirical_policy`), on the
      uniform log) and the estimates are compared with that policy's on-policy CTR,
      measured on its own log.
    * ``ope`` on simulated logs: ``num_seeds`` logs of ``num_steps`` rounds of the ``[env]``
      by the logging agent; each ``[[agents]]`` target is trained ``train_steps`` rounds on
      an independent run, frozen, and evaluated on every log against its true value on
      the log's contexts (from the oracle).
    """
    plan = prepare(experiment)
    if plan.experiment.kind == "replay":
        return _run_replay(plan)
    if plan.experiment.log.source == "obd":
        return _run_obd_ope(plan)
    return _run_simulated_ope(plan)


def _per_run(values: Any) -> np.ndarray:
    """``(seeds, ...)`` -> ``(1, seeds, ...)`` float32: one point."""
    return np.asarray(values, np.float32)[None]


def _agent_results(
    label: str,
    metrics: dict[str, np.ndarray],
    num_steps: int,
    points: list[dict[str, Any]] | None = None,
) -> AgentResults:
    axes = {
        name: ESTIMATE_AXES if value.ndim == len(ESTIMATE_AXES) else RUN_AXES
        for name, value in metrics.items()
    }
    num_points, num_seeds = next(iter(metrics.values())).shape[:2]
    return AgentResults(
        label,
        metrics,
        np.zeros((num_points, num_seeds), bool),
        points or [{}],
        None,
        np.array([num_steps]),
        num_steps,
        axes=axes,
    )


def _replay_runs(agent: Agent, log_axis: int | None):
    return jax.jit(jax.vmap(make_replay(agent), in_axes=(0, log_axis, None)))


def _run_replay(plan: OffPolicyPlan) -> LoggedRun:
    experiment, config = plan.experiment, plan.experiment.log
    keys = seed_keys(experiment.seed, experiment.num_seeds)
    if config.source == "obd":
        data = plan.data["random"]
        log, log_axis, key_replay = obd_log(data), None, keys
        ctr, low, high = _binomial_interval(float(data.click.sum()), data.num_rows, config.level)
        what = f"the uniform-random log of the Open Bandit Dataset ({config.campaign})"
        notes = [
            f"Uniform log ({config.campaign}): {data.num_rows:,} rows, "
            f"{int(data.click.sum())} clicks, CTR {ctr:.4f} [{low:.4f}, {high:.4f}]; replay "
            f"keeps about 1 row in {data.num_items}; {experiment.num_seeds} seeds on the same "
            "log, values averaged over seeds.",
            few_clicks_note(data),
        ]
    else:
        key_record, key_replay = jax.vmap(jax.random.split, out_axes=1)(keys)
        record = make_recorder(plan.env, plan.logger, experiment.num_steps, "exact")
        log = jax.jit(jax.vmap(record, in_axes=(0, None, None)))(
            key_record, plan.env_params, plan.logger_hparams
        )
        log_axis = 0
        what = f"uniform-random logs of {experiment.env.name}"
        notes = [
            f"{experiment.num_seeds} uniform-random logs of {experiment.num_steps:,} rounds of "
            f"{experiment.env.name}, one per seed; replay keeps about 1 row in "
            f"{log.num_arms}; values averaged over seeds."
        ]
    check_uniform(log)  # before compiling (make_replay refuses a traced one too)
    results = {}
    for label, agent, hparams in plan.agents:
        replayed = _replay_runs(agent, log_axis)(key_replay, log, hparams).log
        result = replay_estimate(replayed, config.level)
        metrics = {
            "accepted": _per_run(result.num_accepted),
            "estimate": _per_run(result.value),
            "low": _per_run(result.low),
            "high": _per_run(result.high),
            "rewards": _per_run(np.asarray(replayed.reward).sum(axis=-1)),
        }
        results[label] = _agent_results(label, metrics, experiment.num_steps)
    title = f"{experiment.name}: replay (Li et al. 2011) on {what}"
    notes.append(f"estimate: mean reward of the accepted rows, {config.level:.0%} interval.")
    return LoggedRun(results, title, " ".join(n for n in notes if n), {})


def _binomial_interval(clicks: float, n: int, level: float) -> tuple[float, float, float]:
    low, high = wilson_interval(clicks, n, level)
    return clicks / n, float(low), float(high)


def _run_obd_ope(plan: OffPolicyPlan) -> LoggedRun:
    experiment, config = plan.experiment, plan.experiment.log
    key = jax.random.key(experiment.seed)
    evaluate = jax.jit(
        estimate,
        static_argnames=("num_bootstrap", "level", "num_blocks", "interval", "reward_range"),
    )
    results = {}
    for policy in config.policy:
        logged = plan.data[policy]
        other = "bts" if policy == "random" else "random"
        log = obd_log(logged)
        n, num_arms = log.num_rows, log.num_arms
        if other == "random":
            target = jnp.full((n, num_arms), 1.0 / num_arms, jnp.float32)
        else:
            target = jnp.asarray(empirical_policy(plan.data["bts"]))[jnp.asarray(logged.position)]
        result = evaluate(
            jax.random.fold_in(key, OBD_POLICIES.index(policy)),
            log,
            target,
            num_bootstrap=config.num_bootstrap,
            level=config.level,
            ridge=config.ridge,
            interval=config.interval,
            reward_range=(0.0, 1.0),  # clicks
        )
        truth_data = plan.data[other]
        truth, truth_low, truth_high = _binomial_interval(
            float(truth_data.click.sum()), truth_data.num_rows, config.level
        )
        chosen = [getattr(result, name) for name in config.estimators]
        metrics = {
            field: _per_run([[float(getattr(e, attr)) for e in chosen]])
            for field, attr in (("estimate", "value"), ("low", "low"), ("high", "high"))
        }
        metrics.update(
            truth=_per_run([truth]),
            truth_low=_per_run([truth_low]),
            truth_high=_per_run([truth_high]),
        )
        results[policy] = _agent_results(policy, metrics, experiment.num_steps)
    uniform, bts = plan.data["random"], plan.data["bts"]
    notes = [
        f"Open Bandit Dataset ({config.campaign}): {uniform.num_rows:,} uniform rows with "
        f"{int(uniform.click.sum())} clicks, {bts.num_rows:,} Bernoulli TS rows with "
        f"{int(bts.click.sum())} clicks. Each log is evaluated for the other logging policy "
        "(Bernoulli TS through its per-position action frequencies); truth = that policy's "
        f"on-policy CTR on its own log, with its {config.level:.0%} binomial interval; "
        f"low/high: {_interval_text(config)}.",
        few_clicks_note(uniform),
    ]
    title = f"{experiment.name}: off-policy estimates vs on-policy CTR ({config.campaign})"
    return LoggedRun(
        results, title, " ".join(n for n in notes if n), {"estimator": list(config.estimators)}
    )


def _train_target(key, env, agent, num_steps, env_params, hparams):
    """An agent's state after ``num_steps`` online rounds (jitted :func:`train`): a target
    before it is frozen, or a logging agent's pretraining."""
    return jax.jit(lambda k, p, h: train(k, env, agent, num_steps, p, h))(key, env_params, hparams)


def _interval_text(config: Any) -> str:
    """What the intervals are, for the notes."""
    if config.interval == "percentile":
        return (
            f"{config.level:.0%} percentile bootstrap intervals ({config.num_bootstrap} resamples)"
        )
    return (
        f"{config.level:.0%} intervals: BCa bootstrap ({config.num_bootstrap} resamples) for "
        "IPS, DM, DR; Wilson at Kish's effective sample size for SNIPS"
    )


def _evaluate_target(agent: Agent, config: Any, reward_range: tuple[float, float] | None):
    """``(keys_target (L,), keys_estimate (L,), logs, state, hparams) -> (truth (L,),
    Estimates of (L,))``, jitted: one frozen target on every log, in batches of logs
    (each holds a ``(B, n)`` matrix of bootstrap counts)."""

    def one(key_target, key_estimate, log, state, hparams):
        target = target_probabilities(
            key_target, agent, state, log.context, hparams, num_samples=config.num_samples
        )
        result = estimate(
            key_estimate,
            log,
            target,
            num_bootstrap=config.num_bootstrap,
            level=config.level,
            ridge=config.ridge,
            interval=config.interval,
            reward_range=reward_range,
        )
        return policy_value(target, log.expected_reward), result

    def every(keys_target, keys_estimate, logs, state, hparams):
        num_rows = logs.action.shape[-1]
        batch = max(1, _BATCH_BYTES // (8 * config.num_bootstrap * num_rows))
        return jax.lax.map(
            lambda xs: one(*xs, state, hparams),
            (keys_target, keys_estimate, logs),
            batch_size=min(batch, logs.action.shape[0]),
        )

    return jax.jit(every)


#: Memory for the bootstrap counts of one batch of logs (:func:`_evaluate_target`).
_BATCH_BYTES = 1 << 27


def _logging_agent(agent: Agent, state: Any, learn: bool) -> Agent:
    """The agent as it logs: from ``state`` (None: its own initial state) and, unless it
    ``learn``s, never updating (a fixed policy: the rows independent given the contexts)."""
    changes: dict[str, Any] = {}
    if state is not None:
        changes["init"] = lambda key, hparams: state
    if not learn:
        changes["update"] = lambda key, agent_state, transition, hparams: agent_state
    return dataclasses.replace(agent, **changes) if changes else agent


def _describe_logger(logger: Logger) -> str:
    config = logger.config.agent
    settings = ", ".join(f"{k}={v}" for k, v in config.fields.items())
    what = f"{config.name}{f' ({settings})' if settings else ''}"
    if logger.pretrain_steps:
        what += f", trained {logger.pretrain_steps:,} rounds, then"
    else:
        what += ","
    what += " learning as it logs" if logger.learn else " frozen"
    return f"{logger.label}: {what}"


def _run_simulated_ope(plan: OffPolicyPlan) -> LoggedRun:
    experiment, config = plan.experiment, plan.experiment.log
    num_logs, num_steps = experiment.num_seeds, experiment.num_steps
    train_steps = config.train_steps or num_steps
    key_train, key_logs = jax.random.split(jax.random.key(experiment.seed))
    log_keys = jax.vmap(lambda i: jax.random.fold_in(key_logs, i))(jnp.arange(num_logs))
    key_record, key_target, key_estimate = jax.vmap(lambda k: jax.random.split(k, 3), out_axes=1)(
        log_keys
    )
    reward = plan.env.spec.reward
    reward_range = (
        (reward.low, reward.high) if np.isfinite([reward.low, reward.high]).all() else None
    )
    targets = []
    for index, (label, agent, hparams) in enumerate(plan.agents):
        key_agent = jax.random.fold_in(key_train, index)
        state = _train_target(key_agent, plan.env, agent, train_steps, plan.env_params, hparams)
        targets.append((label, _evaluate_target(agent, config, reward_range), state, hparams))
    fields = (("estimate", "value"), ("low", "low"), ("high", "high"))
    metrics: dict[str, dict[str, list[np.ndarray]]] = {label: {} for label, *_ in targets}
    for index, logger in enumerate(plan.loggers):
        state = None
        if logger.pretrain_steps:
            key_pretrain = jax.random.fold_in(key_train, _PRETRAIN_KEY + index)
            state = _train_target(
                key_pretrain,
                plan.env,
                logger.agent,
                logger.pretrain_steps,
                plan.env_params,
                logger.hparams,
            )
        acting = _logging_agent(logger.agent, state, logger.learn)
        record = make_recorder(plan.env, acting, num_steps, config.propensity, config.num_samples)
        logs = jax.jit(jax.vmap(record, in_axes=(0, None, None)))(
            key_record, plan.env_params, logger.hparams
        )
        for label, evaluate, state, hparams in targets:
            truth, result = evaluate(key_target, key_estimate, logs, state, hparams)
            chosen = [getattr(result, name) for name in config.estimators]
            out = metrics[label]
            for field, attr in fields:
                values = np.stack([np.asarray(getattr(e, attr)) for e in chosen], axis=-1)
                out.setdefault(field, []).append(values)
            out.setdefault("truth", []).append(np.asarray(truth))
    points = [{"logger": logger.label} for logger in plan.loggers]
    results = {
        label: _agent_results(
            label,
            {name: np.asarray(np.stack(v), np.float32) for name, v in metrics[label].items()},
            num_steps,
            points,
        )
        for label in metrics
    }
    loggers = "; ".join(_describe_logger(logger) for logger in plan.loggers)
    note = (
        f"{num_logs} logs of {num_steps:,} rounds of {experiment.env.name} per logging "
        f"policy, the same contexts for each ({loggers}); targets trained {train_steps:,} "
        "rounds on an independent run, then frozen. estimate, low, high, truth: means over "
        f"logs (low/high: {_interval_text(config)}; DM's holds its reward model fixed and "
        "does not see its bias); bias +/- bias_se over logs; coverage +/- coverage_se: how "
        "often the interval held the truth; width: its mean width. A frozen logger's rows "
        "are independent given the contexts; a learning logger's are not (its intervals "
        "rest on a martingale CLT, with no finite-sample guarantee)."
    )
    title = f"{experiment.name}: estimators vs the true policy value"
    return LoggedRun(results, title, note, {"estimator": list(config.estimators)})


#: Logger ``j`` is pretrained with ``fold_in(key_train, _PRETRAIN_KEY + j)`` (targets use
#: ``fold_in(key_train, i)``, ``i`` their index).
_PRETRAIN_KEY = 1 << 20
