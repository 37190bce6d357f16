"""Logged data and off-policy evaluation: logs from simulation, replay, IPS / SNIPS / DM / DR.

A **log** (:class:`BanditLog`) is one row per round: the context, the action the logging
policy took, the reward, and the *propensity*, the probability with which the logging
policy chose that action.  Logs come from any driftsim run (:func:`make_recorder`, which
also keeps the oracle's expected rewards, so the true value of any policy on the log's
contexts is known), from arrays (:func:`log_from_arrays`) or from the Open Bandit Dataset
(:func:`obd_log`).

**Propensities.**  An agent whose policy has a closed form (uniform, ε-greedy, EXP3, the
gradient bandit's softmax, the index policies with their random tie-breaks) exposes its
action distribution ``pi(. | state, context)`` as
``agent.action_probabilities(state, context, hparams) -> (K,)`` (see
:class:`agents.types.Agent`); every other agent (Thompson sampling, anything whose ``act``
samples) gets a Monte-Carlo estimate: its ``act`` repeated with ``M`` keys, the logged
action being the first draw, so that the estimate ``count / M`` is at least ``1 / M`` (an
upward bias of about ``(1 - p) / M`` on a true ``p``: keep ``M p`` large).

**Estimators** of the value ``V(pi) = E_x sum_a pi(a|x) mu(x, a)`` of a target policy ``pi``
from ``n`` logged rows ``(x_i, a_i, r_i, p_i)``, with weights ``w_i = pi(a_i|x_i) / p_i`` and a
reward model ``q(x, a)`` (Dudík, Langford & Li 2011; Swaminathan & Joachims 2015)::

    IPS    (1/n) sum_i w_i r_i
    SNIPS  sum_i w_i r_i / sum_i w_i
    DM     (1/n) sum_i sum_a pi(a|x_i) q(x_i, a)
    DR     (1/n) sum_i [ sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) ]

IPS and DR are unbiased when the propensities are the logging policy's true probabilities
(DR for any fixed reward model), even when the logging policy learned as it went.  The
reward model of DM and DR is a ridge regression per action fitted on the log, DR's fitted
sequentially on the rows logged before each row (:func:`fit_reward_model`).  Intervals:
percentile bootstrap over rows (resampled row counts, one matrix product for all
resamples), the reward model kept fixed.

**Replay** (Li, Chu, Langford & Wang 2011): an agent runs online over a *uniform-random*
log inside one ``lax.scan``; a row counts, and the agent learns from it, only when the
agent picks the logged action.  The accepted rows are distributed as an online run of the
agent, so the mean reward over them estimates its online CTR.

Experiments: ``kind = "replay"`` and ``kind = "ope"`` experiment files (presets
``obd-replay``, ``obd-ope``, ``ope-check``; see :mod:`experiments.schema`) run through
:func:`run_experiment`, which writes a results folder (:func:`save_report`);
:func:`bakeoff_table` is the ``bakeoff`` preset's average reward and rank per dataset.

References: L. Li, W. Chu, J. Langford & X. Wang, "Unbiased offline evaluation of
contextual-bandit-based news article recommendation algorithms", WSDM 2011; M. Dudík,
J. Langford & L. Li, "Doubly robust policy evaluation and learning", ICML 2011;
A. Swaminathan & T. Joachims, "The self-normalized estimator for counterfactual learning",
NeurIPS 2015; Y. Saito et al., "Open Bandit Dataset and Pipeline", NeurIPS 2021.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.common import (  # the closed forms, re-exported for target policies
    greedy_probabilities,
    softmax_probabilities,
    uniform_probabilities,
)
from agents.linalg import cho_solve, cholesky
from agents.types import Agent, Transition
from experiments.runner import RESET_INDEX, Carry, advance, init_carry, split_run_key
from experiments.schema import PROPENSITY_MODES, Experiment, from_dict
from experiments.stats import mean_ci, normal_quantile, wilson_interval
from simulator.datasets import OBD_NUM_POSITIONS, OBD_POLICIES, OBDData, load_obd, obd_contexts
from simulator.params import ConfigError
from simulator.types import Context, Environment, EnvSpec, make_oracle

Array = jax.Array

#: ``(state, context, hparams) -> (K,)``: an agent's exact action distribution.
ProbabilityFn = Callable[[Any, Context, Any], Array]

#: An Open Bandit Dataset log with fewer clicks than this gets the "demonstration, not a
#: verdict" caveat (its CTR interval is wider than about +/- 6 % of the CTR).
FEW_CLICKS = 1000

# --------------------------------------------------------------------------------------
# Action probabilities (propensities)
# --------------------------------------------------------------------------------------


def exact_probabilities(agent: Agent) -> ProbabilityFn | None:
    """The agent's exact ``(state, context, hparams) -> (K,)`` action distribution, its
    ``action_probabilities``, or None when its policy has no closed form."""
    return agent.action_probabilities


class Behaviour(NamedTuple):
    """How a logging policy acts and reports its distribution.

    ``act(key, state, context, hparams) -> (action, probabilities (K,))``; the action is
    exactly ``agent.act(key, ...)``, so a recorded run takes the same actions as an
    unrecorded one.  ``exact`` tells whether the probabilities are exact.
    """

    act: Callable[[Array, Any, Context, Any], tuple[Array, Array]]
    exact: bool


def behaviour(agent: Agent, propensity: str = "auto", num_samples: int = 256) -> Behaviour:
    """The agent's actions with their probabilities.

    Args:
      agent: any driftsim agent.
      propensity: ``"exact"`` (ConfigError if the agent has no exact distribution),
        ``"monte_carlo"`` (estimate from ``num_samples`` draws of ``act``), or ``"auto"``
        (exact when available, else Monte Carlo).
      num_samples: M, the draws of the Monte-Carlo estimate (the first is the action).
    """
    if propensity not in PROPENSITY_MODES:
        raise ConfigError(
            f"propensity = {propensity!r}: unknown; allowed: {', '.join(PROPENSITY_MODES)}"
        )
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigError(f"num_samples = {num_samples!r}: must be an integer >= 1")
    exact = exact_probabilities(agent) if propensity != "monte_carlo" else None
    if propensity == "exact" and exact is None:
        raise ConfigError(
            f"propensity = 'exact': agent {agent.name!r} has no exact action distribution "
            "(it provides no action_probabilities); use propensity = 'monte_carlo'"
        )
    if exact is not None:

        def act_exact(key, state, context, hparams):
            action = agent.act(key, state, context, hparams)
            return action, jnp.asarray(exact(state, context, hparams), jnp.float32)

        return Behaviour(act_exact, True)

    def act_sampled(key, state, context, hparams):
        num_arms = context.arm_features.shape[0]
        if num_samples == 1:
            action = agent.act(key, state, context, hparams)
            return action, jax.nn.one_hot(action, num_arms, dtype=jnp.float32)
        # All M draws in one batch; the action is the draw with ``key`` itself.
        others = jax.vmap(lambda j: jax.random.fold_in(key, j))(jnp.arange(1, num_samples))
        keys = jnp.concatenate([key[None], others])
        draws = jax.vmap(agent.act, in_axes=(0, None, None, None))(keys, state, context, hparams)
        counts = jnp.sum(jax.nn.one_hot(draws, num_arms, dtype=jnp.float32), axis=0)
        return draws[0], counts / num_samples

    return Behaviour(act_sampled, False)


# --------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------


class BanditLog(NamedTuple):
    """Logged bandit feedback, one row per round (leading axis ``n``).

    Attributes:
      context: :class:`~simulator.types.Context` with ``features (n, context_dim)`` and
        ``arm_features (n, K, arm_dim)``.
      action: ``(n,)`` int32 logged action.
      reward: ``(n,)`` float32 logged reward.
      propensity: ``(n,)`` float32 probability that the logging policy chose ``action``.
      expected_reward: ``(n, K)`` float32 oracle expected reward of every arm (simulated
        logs), or ``(n, 0)`` when unknown (real logs).
    """

    context: Context
    action: Array
    reward: Array
    propensity: Array
    expected_reward: Array

    @property
    def num_arms(self) -> int:
        return int(self.context.arm_features.shape[-2])

    @property
    def num_rows(self) -> int:
        return int(self.action.shape[-1])


def make_recorder(
    env: Environment,
    agent: Agent,
    num_steps: int,
    propensity: str = "auto",
    num_samples: int = 256,
):
    """A pure ``record(key, env_params, hparams) -> BanditLog`` of ``num_steps`` rounds.

    The run is the one :func:`experiments.runner.make_run` would do with the same key (same
    key streams, same actions, same updates); each round also records the context, the
    action's probability under the agent (see :func:`behaviour`) and the oracle's expected
    rewards.  Not jitted: ``jax.jit(jax.vmap(record, in_axes=(0, None, None)))`` records one
    log per seed.

    Example::

        record = make_recorder(env, agents.make("epsilon_greedy", num_arms=4), 1000)
        log = jax.jit(record)(jax.random.key(0), env.default_params(), hparams)
    """
    acting = behaviour(agent, propensity, num_samples)

    def record(key, env_params, hparams):
        keys = split_run_key(key)
        carry = init_carry(env, agent, keys, env_params, hparams)

        def body(carry: Carry, t):
            key_env_t = jax.random.fold_in(keys.env, t)
            key_act, key_update = jax.random.split(jax.random.fold_in(keys.agent, t))
            timestep = carry.timestep
            action, probabilities = acting.act(
                key_act, carry.agent_state, timestep.context, hparams
            )
            env_state, next_timestep = env.step(key_env_t, carry.env_state, action, env_params)
            transition = Transition(
                context=timestep.context,
                action=action,
                reward=next_timestep.reward,
                label=next_timestep.label,
                oracle=timestep.oracle,
            )
            agent_state = agent.update(key_update, carry.agent_state, transition, hparams)
            row = BanditLog(
                context=timestep.context,
                action=jnp.asarray(action, jnp.int32),
                reward=next_timestep.reward,
                propensity=probabilities[action],
                expected_reward=timestep.oracle.expected_reward,
            )
            carry = carry._replace(
                env_state=env_state, agent_state=agent_state, timestep=next_timestep
            )
            return carry, row

        _, log = jax.lax.scan(body, carry, jnp.arange(num_steps, dtype=jnp.int32))
        return log

    return record


def log_from_arrays(
    features: Any,
    action: Any,
    reward: Any,
    propensity: Any,
    num_arms: int,
    arm_features: Any = None,
    expected_reward: Any = None,
) -> BanditLog:
    """A :class:`BanditLog` from arrays, validated (ConfigError naming the bad one).

    Args:
      features: ``(n, d)`` context features (``d`` may be 0).
      action: ``(n,)`` integers in ``[0, num_arms)``.
      reward: ``(n,)``.
      propensity: ``(n,)`` in ``(0, 1]``.
      num_arms: K.
      arm_features: ``(n, K, m)`` or None (no item features).
      expected_reward: ``(n, K)`` or None (unknown).
    """
    x = np.asarray(features, np.float32)
    n = x.shape[0] if x.ndim == 2 else -1
    if x.ndim != 2:
        raise ConfigError(f"features has shape {x.shape}: must be (num_rows, context_dim)")
    a, r, p = (np.asarray(v) for v in (action, reward, propensity))
    for name, value in (("action", a), ("reward", r), ("propensity", p)):
        if value.shape != (n,):
            raise ConfigError(f"{name} has shape {value.shape}: must be (num_rows,) = ({n},)")
    if not isinstance(num_arms, int) or num_arms < 1:
        raise ConfigError(f"num_arms = {num_arms!r}: must be an integer >= 1")
    if np.any(a != np.round(a)) or a.min() < 0 or a.max() >= num_arms:
        raise ConfigError(f"action: must be integers in [0, num_arms = {num_arms})")
    if not np.all((p > 0) & (p <= 1)):
        raise ConfigError("propensity: every entry must be in (0, 1]")
    arms = (
        np.zeros((n, num_arms, 0), np.float32)
        if arm_features is None
        else np.asarray(arm_features, np.float32)
    )
    if arms.ndim != 3 or arms.shape[:2] != (n, num_arms):
        raise ConfigError(
            f"arm_features has shape {arms.shape}: must be (num_rows, num_arms, arm_dim)"
        )
    truth = (
        np.zeros((n, 0), np.float32)
        if expected_reward is None
        else np.asarray(expected_reward, np.float32)
    )
    if truth.shape not in ((n, num_arms), (n, 0)):
        raise ConfigError(f"expected_reward has shape {truth.shape}: must be ({n}, {num_arms})")
    return BanditLog(
        context=Context(features=jnp.asarray(x), arm_features=jnp.asarray(arms)),
        action=jnp.asarray(a, jnp.int32),
        reward=jnp.asarray(r, jnp.float32),
        propensity=jnp.asarray(p, jnp.float32),
        expected_reward=jnp.asarray(truth),
    )


def obd_log(data: OBDData, include_position: bool = True) -> BanditLog:
    """An Open Bandit Dataset log as a :class:`BanditLog`: the action is the item shown,
    the reward the click, the context the one-hot user features and (optionally) the one-hot
    position (:func:`simulator.datasets.obd_contexts`)."""
    return log_from_arrays(
        obd_contexts(data, include_position),
        data.item,
        data.click,
        data.propensity,
        data.num_items,
    )


def rows(log: BanditLog, index: Any) -> BanditLog:
    """The rows ``index`` of a log (an index array or a slice)."""
    return jax.tree.map(lambda x: x[index], log)


# --------------------------------------------------------------------------------------
# Target policies and their true value
# --------------------------------------------------------------------------------------


def target_probabilities(
    key: Array,
    agent: Agent,
    state: Any,
    context: Context,
    hparams: Any,
    propensity: str = "auto",
    num_samples: int = 256,
) -> Array:
    """``(n, K)``: the action distribution of a *frozen* agent (its ``state`` fixed) on each
    of the ``n`` contexts (a stacked :class:`Context`, e.g. ``log.context``).

    ``key`` serves the Monte-Carlo estimate of agents without exact probabilities (row
    ``i`` uses ``fold_in(key, i)``; see :func:`behaviour`).
    """
    acting = behaviour(agent, propensity, num_samples)
    n = context.features.shape[0]
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
    one = lambda k, c: acting.act(k, state, c, hparams)[1]  # noqa: E731
    return jax.vmap(one)(keys, context)


def policy_value(probabilities: Array, expected_reward: Array) -> Array:
    """The true value ``mean_i sum_a pi(a|x_i) mu(x_i, a)`` on a log's contexts."""
    return jnp.mean(jnp.sum(probabilities * expected_reward, axis=-1), axis=-1)


def train(
    key: Array, env: Environment, agent: Agent, num_steps: int, env_params: Any, hparams: Any
) -> Any:
    """The agent's state after ``num_steps`` online rounds on ``env`` (to freeze as a target
    policy).  Same keys as :func:`experiments.runner.make_run`."""
    keys = split_run_key(key)
    carry = init_carry(env, agent, keys, env_params, hparams)
    carry, _ = advance(env, agent, carry, keys, env_params, hparams, 0, num_steps)
    return carry.agent_state


# --------------------------------------------------------------------------------------
# Reward model
# --------------------------------------------------------------------------------------


class RidgeModel(NamedTuple):
    """A ridge-regression reward model ``q(x, a) = z(x, a) . theta_m``.

    Attributes:
      theta: ``(K, p)`` one model per action (``shared=False``: ``z = (x, 1)``) or
        ``(1, p)`` one shared model (``shared=True``: ``z = (x, arm_features[a], 1)``).
    """

    theta: Array


def _design(context: Context, shared: bool) -> Array:
    """``(n, K, p)`` inputs of every arm of every row."""
    n, num_arms = context.arm_features.shape[:2]
    x = jnp.broadcast_to(context.features[:, None, :], (n, num_arms, context.features.shape[1]))
    ones = jnp.ones((n, num_arms, 1), jnp.float32)
    parts = [x, context.arm_features, ones] if shared else [x, ones]
    return jnp.concatenate(parts, axis=-1).astype(jnp.float32)


def fit_ridge(
    log: BanditLog, ridge: Any = 1.0, shared: bool = False, weights: Array | None = None
) -> RidgeModel:
    """Fit the reward model on a log's logged actions by ridge regression::

        theta_m = (ridge I + sum_{i in m} u_i z_i z_i^T)^{-1} sum_{i in m} u_i r_i z_i

    over the rows of action ``m`` (``shared=False``) or all rows (``shared=True``), with row
    weights ``u_i`` (``weights``, default 1; 0 leaves a row out), each system solved once
    by a Cholesky factorisation.
    """
    z = _design(log.context, shared)
    chosen = jnp.take_along_axis(z, log.action[:, None, None], axis=1)[:, 0]  # (n, p)
    dim = z.shape[-1]
    if shared:
        member = jnp.ones((log.action.shape[0], 1), jnp.float32)
    else:
        member = jax.nn.one_hot(log.action, z.shape[1], dtype=jnp.float32)  # (n, K)
    if weights is not None:
        member = member * jnp.asarray(weights, jnp.float32)[:, None]
    gram = jnp.einsum("nm,ni,nj->mij", member, chosen, chosen) + ridge * jnp.eye(dim)
    rhs = jnp.einsum("nm,ni,n->mi", member, chosen, log.reward)
    factor = jax.vmap(cholesky)(gram)
    return RidgeModel(theta=jax.vmap(cho_solve)(factor, rhs))


def predict_ridge(model: RidgeModel, context: Context) -> Array:
    """``(n, K)`` predicted reward of every arm of every row."""
    rows_, dim = model.theta.shape
    arm_dim = context.arm_features.shape[-1]
    shared = rows_ == 1 if arm_dim == 0 else dim == context.features.shape[-1] + arm_dim + 1
    z = _design(context, shared)
    if shared:
        return z @ model.theta[0]
    return jnp.einsum("nkp,kp->nk", z, model.theta)


class RewardPredictions(NamedTuple):
    """Reward-model predictions ``(n, K)`` for the direct method and for doubly robust.

    Attributes:
      dm: predictions of the model fitted on the whole log.
      dr: predictions for each row from a model fitted only on rows logged *before* it.
    """

    dm: Array
    dr: Array


def fit_reward_model(log: BanditLog, ridge: Any = 1.0, num_blocks: int = 4) -> RewardPredictions:
    """The ridge reward model's predictions for DM and DR.

    DM uses the model fitted on the whole log.  DR must not use a model fitted on the row it
    corrects: in-sample predictions overfit the rewards and shrink the correction
    ``w (r - q)`` toward zero, and on logs collected by a *learning* policy even a model
    fitted on other (later) rows is not independent of a row's action, because the later
    rows were logged by a policy that learned from it.  So the rows are cut into
    ``num_blocks`` consecutive blocks in log order and block ``b`` is predicted by the model
    fitted on blocks ``0..b-1``; block 0 gets ``q = 0`` (its DR terms are IPS terms).  Each
    row's prediction then depends on the past only, and DR is unbiased for any logging
    policy with exact propensities (the sequential cross-fitting of adaptive DR estimators,
    e.g. Kato, Uehara & Yasui 2020).
    """
    shared = log.context.arm_features.shape[-1] > 0
    n = log.action.shape[0]
    block = jnp.arange(n) * num_blocks // n  # 0..num_blocks-1, in log order
    # Model m is fitted on blocks 0..m-1: model 0 on no rows, model num_blocks on the whole
    # log (DM's), all in one batched factorisation.
    models = jnp.arange(num_blocks + 1)
    weights = (block[None, :] < models[:, None]).astype(jnp.float32)  # (blocks + 1, n)
    fit_predict = lambda w: predict_ridge(fit_ridge(log, ridge, shared, w), log.context)  # noqa: E731
    by_model = jax.vmap(fit_predict)(weights)  # (blocks + 1, n, K)
    by_model = jnp.where(models[:, None, None] > 0, by_model, 0.0)
    dr = jnp.take_along_axis(by_model, block[None, :, None], axis=0)[0]
    dm = by_model[num_blocks]
    return RewardPredictions(dm=dm, dr=dr)


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------


def importance_weights(log: BanditLog, target: Array) -> Array:
    """``(n,)`` ``w_i = pi(a_i | x_i) / p_i`` for target probabilities ``target (n, K)``."""
    chosen = jnp.take_along_axis(target, log.action[:, None], axis=1)[:, 0]
    return chosen / log.propensity


def ips(log: BanditLog, target: Array) -> Array:
    """Inverse propensity scoring: ``(1/n) sum_i w_i r_i`` (Horvitz & Thompson 1952)."""
    return jnp.mean(importance_weights(log, target) * log.reward)


def snips(log: BanditLog, target: Array) -> Array:
    """Self-normalised IPS: ``sum_i w_i r_i / sum_i w_i`` (Swaminathan & Joachims 2015)."""
    w = importance_weights(log, target)
    return jnp.sum(w * log.reward) / jnp.sum(w)


def direct_method(target: Array, predictions: Array) -> Array:
    """Direct method: ``(1/n) sum_i sum_a pi(a|x_i) q(x_i, a)``."""
    return jnp.mean(jnp.sum(target * predictions, axis=-1))


def doubly_robust(log: BanditLog, target: Array, predictions: Array) -> Array:
    """Doubly robust: DM plus the IPS-weighted residual of the logged action (Dudík et al.
    2011): ``(1/n) sum_i [sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))]``."""
    return jnp.mean(_dr_terms(log, target, predictions))


def _dr_terms(log: BanditLog, target: Array, predictions: Array) -> Array:
    w = importance_weights(log, target)
    q_logged = jnp.take_along_axis(predictions, log.action[:, None], axis=1)[:, 0]
    return jnp.sum(target * predictions, axis=-1) + w * (log.reward - q_logged)


class Estimate(NamedTuple):
    """One estimate with its bootstrap interval.

    Attributes:
      value: the estimate on the whole log.
      low, high: the percentile bootstrap interval.
      std_error: the standard deviation of the bootstrap estimates.
    """

    value: Array
    low: Array
    high: Array
    std_error: Array


class Estimates(NamedTuple):
    """The four estimators of one target policy on one log."""

    ips: Estimate
    snips: Estimate
    dm: Estimate
    dr: Estimate


ESTIMATORS = Estimates._fields


def bootstrap_counts(key: Array, num_rows: int, num_bootstrap: int) -> Array:
    """``(B, n)`` float32: how often each row is drawn in each of ``B`` resamples of ``n`` rows
    with replacement (one ``(B, n)`` draw of row indices, counted by a scatter-add)."""
    index = jax.random.randint(key, (num_bootstrap, num_rows), 0, num_rows)
    resample = jnp.arange(num_bootstrap)[:, None]
    return jnp.zeros((num_bootstrap, num_rows), jnp.float32).at[resample, index].add(1.0)


def estimate(
    key: Array,
    log: BanditLog,
    target: Array,
    predictions: Array | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
    ridge: Any = 1.0,
    num_blocks: int = 4,
) -> Estimates:
    """IPS, SNIPS, DM and DR of the target policy with percentile bootstrap intervals.

    Args:
      key: the resampling key.
      log: the logged data (propensities of the logging policy).
      target: ``(n, K)`` the target policy's probabilities on each logged context.
      predictions: ``(n, K)`` predictions of a reward model fixed in advance (used by DM
        and DR), a :class:`RewardPredictions`, or None to fit the ridge model
        (:func:`fit_reward_model`: per action on the context features, or shared when the
        log has item features).
      num_bootstrap: B resamples (static).
      level: the interval's level in (0, 1) (a Python float).
      ridge: the reward model's penalty.
      num_blocks: blocks of the sequential fit of DR's reward model (static).

    Returns:
      :class:`Estimates`; every resample reuses the fitted reward model.  Pure and
      vmappable over logs (e.g. ``jax.vmap(estimate, in_axes=(0, 0, 0))``).

    Example::

        est = estimate(jax.random.key(0), log, jnp.full((n, K), 1 / K))
        est.dr.value, est.dr.low, est.dr.high
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level = {level!r}: must be in (0, 1)")
    if predictions is None:
        predictions = fit_reward_model(log, ridge, num_blocks)
    if not isinstance(predictions, RewardPredictions):
        predictions = RewardPredictions(dm=predictions, dr=predictions)
    n = log.action.shape[0]
    w = importance_weights(log, target)
    wr = w * log.reward
    dm_terms = jnp.sum(target * predictions.dm, axis=-1)
    dr_terms = _dr_terms(log, target, predictions.dr)
    counts = bootstrap_counts(key, n, num_bootstrap)  # (B, n)
    sums = counts @ jnp.stack([wr, w, dm_terms, dr_terms], axis=1)  # (B, 4): one matmul
    resampled = jnp.stack(
        [sums[:, 0] / n, sums[:, 0] / sums[:, 1], sums[:, 2] / n, sums[:, 3] / n]
    )  # (4, B), in the order of Estimates
    values = jnp.stack(
        [jnp.mean(wr), jnp.sum(wr) / jnp.sum(w), jnp.mean(dm_terms), jnp.mean(dr_terms)]
    )
    q = jnp.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    low, high = jnp.quantile(resampled, q, axis=1)  # one sort for all four estimators
    std_error = jnp.std(resampled, axis=1, ddof=1)
    return Estimates(*(Estimate(values[i], low[i], high[i], std_error[i]) for i in range(4)))


# --------------------------------------------------------------------------------------
# Replay (Li, Chu, Langford & Wang 2011)
# --------------------------------------------------------------------------------------


class ReplayLog(NamedTuple):
    """Per logged row: ``accepted`` (1 when the agent picked the logged action) and
    ``reward`` (the logged reward where accepted, else 0), float32 ``(n,)``."""

    accepted: Array
    reward: Array


class ReplayResult(NamedTuple):
    """What a replay returns: the agent's final state and the per-row :class:`ReplayLog`."""

    agent_state: Any
    log: ReplayLog


def make_replay(agent: Agent):
    """A pure ``replay(key, log, hparams) -> ReplayResult`` (Li et al. 2011, Algorithm 2).

    For each row ``t`` of a uniform-random log, in order: the agent acts on the logged
    context; if its action equals the logged action ``a_t`` the row is accepted, the agent
    receives the logged reward and updates; otherwise the row is skipped and the agent's
    state is left exactly as it was.  One ``lax.scan`` over the rows; ``vmap`` it over keys
    (seeds) and hparams.  Keys: ``split_run_key(key).agent``, folded with the row index as
    in the runner.

    With a uniform logging policy over K arms the accepted rows are distributed as an
    online run of the agent of about ``n / K`` rounds (Li et al. 2011, Theorem 1).
    """

    def replay(key, log: BanditLog, hparams):
        keys = split_run_key(key)
        state = agent.init(jax.random.fold_in(keys.agent, RESET_INDEX), hparams)
        num_arms = log.context.arm_features.shape[-2]
        no_oracle = make_oracle(jnp.zeros((num_arms,), jnp.float32))

        def body(state, inputs):
            t, row = inputs
            key_act, key_update = jax.random.split(jax.random.fold_in(keys.agent, t))
            action = agent.act(key_act, state, row.context, hparams)
            accepted = action == row.action
            transition = Transition(
                context=row.context,
                action=row.action,
                reward=row.reward,
                label=jnp.asarray(jnp.nan, jnp.float32),
                oracle=no_oracle,
            )
            updated = agent.update(key_update, state, transition, hparams)
            state = jax.tree.map(lambda new, old: jnp.where(accepted, new, old), updated, state)
            out = ReplayLog(
                accepted=accepted.astype(jnp.float32),
                reward=jnp.where(accepted, row.reward, 0.0).astype(jnp.float32),
            )
            return state, out

        n = log.action.shape[0]
        state, out = jax.lax.scan(body, state, (jnp.arange(n, dtype=jnp.int32), log))
        return ReplayResult(agent_state=state, log=out)

    return replay


class ReplayEstimate(NamedTuple):
    """The replay estimate of an agent's online reward (CTR) with its interval.

    Attributes:
      value: mean reward over the accepted rows (NaN if none).
      low, high: for clicks (every accepted reward 0 or 1) the Wilson score interval of
        the click rate (:func:`experiments.stats.wilson_interval`: inside [0, 1], and not
        empty when no click was accepted); otherwise ``value -/+ z sqrt(s^2 / N)``, ``s^2``
        the sample variance of the accepted rewards.
      num_accepted: N, the accepted rows; ``num_rows``: the rows of the log.
    """

    value: Array
    low: Array
    high: Array
    num_accepted: Array
    num_rows: Array


def replay_estimate(
    out: ReplayLog, level: float = 0.95, first: int | None = None
) -> ReplayEstimate:
    """Summarise a replay (any leading batch axes; rows on the last axis).

    ``first``: keep only the first ``first`` accepted rows (to compare with an online run
    of ``first`` rounds).
    """
    accepted = out.accepted
    if first is not None:
        accepted = accepted * (jnp.cumsum(accepted, axis=-1) <= first)
    count = jnp.sum(accepted, axis=-1)
    total = jnp.sum(accepted * out.reward, axis=-1)
    value = total / count
    second = jnp.sum(accepted * out.reward**2, axis=-1) / count
    variance = jnp.maximum(second - value**2, 0.0) * count / jnp.maximum(count - 1, 1)
    half = normal_quantile(0.5 + level / 2) * jnp.sqrt(variance / count)
    clicks = jnp.all((accepted == 0) | (out.reward == 0) | (out.reward == 1), axis=-1)
    wilson_low, wilson_high = wilson_interval(total, count, level)
    return ReplayEstimate(
        value=value,
        low=jnp.where(clicks, wilson_low, value - half),
        high=jnp.where(clicks, wilson_high, value + half),
        num_accepted=count,
        num_rows=jnp.full_like(count, accepted.shape[-1]),
    )


def check_uniform(log: BanditLog, tolerance: float = 1e-3) -> None:
    """ConfigError unless every propensity is ``1 / K`` (replay needs a uniform log)."""
    p = np.asarray(log.propensity)
    expected = 1.0 / log.num_arms
    if not np.allclose(p, expected, rtol=tolerance, atol=0.0):
        raise ConfigError(
            f"replay needs a uniform-random log (every propensity 1/K = {expected:.4g}); this "
            f"log has propensities in [{p.min():.3g}, {p.max():.3g}]: use the estimators "
            "(estimate) on it instead"
        )


# --------------------------------------------------------------------------------------
# Reports, the bake-off table and the OBD helpers
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """A table of results with a note (printable; ``rows`` are dicts for CSV or pandas).

    ``arrays``: the per-seed / per-log values behind the table (``values.npz`` in a results
    folder), named ``LABEL/...``.
    """

    title: str
    rows: list[dict[str, Any]]
    note: str = ""
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def format(self) -> str:
        if not self.rows:
            return f"{self.title}\n(no rows)\n{self.note}"
        columns = list(self.rows[0])
        text = [[_cell(row.get(c)) for c in columns] for row in self.rows]
        widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
        lines = [self.title, "  ".join(c.ljust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)) for t in text]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _binomial_interval(clicks: float, n: int, level: float) -> tuple[float, float, float]:
    low, high = wilson_interval(clicks, n, level)
    return clicks / n, float(low), float(high)


def empirical_policy(data: OBDData) -> np.ndarray:
    """``(3, num_items)``: how often each item was shown at each position in a log.

    For the context-free Bernoulli TS of the Open Bandit Dataset, this time-averaged action
    distribution is a stationary policy whose value equals the log's on-policy CTR."""
    table = np.zeros((OBD_NUM_POSITIONS, data.num_items), np.float64)
    np.add.at(table, (data.position, data.item), 1.0)
    return (table / table.sum(axis=1, keepdims=True)).astype(np.float32)


def few_clicks_note(data: OBDData) -> str:
    """The caveat for an Open Bandit Dataset log with few clicks (empty when it has many)."""
    clicks = int(data.click.sum())
    if clicks >= FEW_CLICKS:
        return ""
    return (
        f"Caveat: the {data.policy} log ({data.campaign}) has only {clicks} clicks in "
        f"{data.num_rows:,} impressions, so these numbers are a demonstration of the "
        "pipeline, not a verdict."
    )


def bakeoff_table(results: Any, metric: str = "reward", level: float = 0.95) -> Report:
    """Average reward (or another metric) per dataset and agent, with the agents' rank.

    For the ``bakeoff`` preset (a sweep over ``env.dataset``): each row is one dataset and
    agent, with the mean over seeds of the time-averaged metric, its t interval, and the
    rank of the agent on that dataset (1 = best; tied agents share the better rank).
    """
    table: dict[str, dict[str, Any]] = {}
    for label in results.agents:
        agent_results = results[label]
        values = getattr(agent_results, metric)  # (points, seeds, steps)
        per_seed = np.nanmean(values, axis=-1)
        ci = mean_ci(per_seed, axis=1, level=level)
        for p, point in enumerate(agent_results.points):
            dataset = str(point.get("env.dataset", results.config["env"].get("dataset", "?")))
            table.setdefault(dataset, {})[label] = (
                float(ci.mean[p]),
                float(ci.low[p]),
                float(ci.high[p]),
            )
    rows_out = []
    for dataset, by_agent in table.items():
        means = {label: v[0] for label, v in by_agent.items()}
        for label, (mean, low, high) in by_agent.items():
            rank = 1 + sum(other > mean for other in means.values())
            rows_out.append(
                {
                    "dataset": dataset,
                    "agent": label,
                    metric: mean,
                    "low": low,
                    "high": high,
                    "rank": rank,
                }
            )
    mean_rank = {
        label: float(np.mean([r["rank"] for r in rows_out if r["agent"] == label]))
        for label in results.agents
    }
    note = "mean rank over datasets: " + ", ".join(
        f"{label} {rank:.2f}" for label, rank in sorted(mean_rank.items(), key=lambda kv: kv[1])
    )
    return Report(f"bake-off: time-averaged {metric} per dataset", rows_out, note)


# --------------------------------------------------------------------------------------
# Replay and off-policy experiments (kind = "replay" / "ope" in the experiment schema)
# --------------------------------------------------------------------------------------


class _LogSpec(NamedTuple):
    """Stands in for an environment where an agent needs only its shapes (a fixed log)."""

    spec: EnvSpec


class LabelledAgent(NamedTuple):
    """A built ``[[agents]]`` entry."""

    label: str
    agent: Agent
    hparams: Any


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
    """

    experiment: Experiment
    agents: list[LabelledAgent]
    data: dict[str, OBDData] = dataclasses.field(default_factory=dict)
    env: Environment | None = None
    env_params: Any = None
    logger: Agent | None = None
    logger_hparams: Any = None


def prepare(experiment: Any) -> OffPolicyPlan:
    """Validate a ``kind = "replay"`` / ``"ope"`` experiment and resolve it, before any
    compilation (a missing ``obp``, data file or bad field: :class:`ConfigError`).

    Args:
      experiment: an :class:`~experiments.schema.Experiment`, a dict, a preset name or a
        TOML path.
    """
    from experiments.api import as_experiment
    from experiments.plan import build_agent, build_env

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
        try:
            out.logger, out.logger_hparams = build_agent(log.agent, out.env, dict(log.agent.fields))
            propensity = "exact" if experiment.kind == "replay" else log.propensity
            behaviour(out.logger, propensity, log.num_samples)
        except ConfigError as err:
            message = str(err).replace(f"agents.{log.agent.label}", "log.agent")
            raise ConfigError(message.replace("propensity =", "log.propensity =")) from None
        host = out.env
    for config in experiment.agents:
        agent, hparams = build_agent(config, host, dict(config.fields))
        out.agents.append(LabelledAgent(config.label, agent, hparams))
    return out


def run_experiment(experiment: Any, out: str | Path | None = None) -> Report:
    """Run a ``kind = "replay"`` or ``"ope"`` experiment (see :mod:`experiments.schema`).

    * ``replay``: each ``[[agents]]`` entry runs over the uniform-random log once per seed
      (:func:`make_replay`); the table gives the accepted rows, the sum of their rewards
      and the replay estimate of the agent's online reward (CTR) with its interval, means
      over seeds.
    * ``ope`` on the Open Bandit Dataset: each log in ``log.policy`` is evaluated for the
      *other* logging policy (the uniform policy on the Bernoulli TS log, with its
      propensities: the meaningful use; Bernoulli TS, through its empirical per-position
      action frequencies (:func:`empirical_policy`), on the uniform log) and the estimates
      are compared with that policy's on-policy CTR, measured on its own log.
    * ``ope`` on simulated logs: ``num_seeds`` logs of ``num_steps`` rounds of the ``[env]``
      by the logging agent; each ``[[agents]]`` target is trained ``train_steps`` rounds on
      an independent run, frozen, and evaluated on every log against its true value on the
      log's contexts (from the oracle): mean estimate and interval, bias with its standard
      error over logs, RMSE and the coverage of the bootstrap intervals.

    Args:
      experiment: an :class:`~experiments.schema.Experiment`, a dict, a preset name
        (``obd-replay``, ``obd-ope``, ``ope-check``) or a TOML path.
      out: a results folder to write (atomically, ``config.json`` last; see
        :func:`save_report`), or None.

    Returns:
      the :class:`Report` that ``driftsim run`` prints.

    Example::

        experiment = experiments.presets.load("ope-check")
        experiment.num_seeds = 8
        print(run_experiment(experiment))
    """
    plan = prepare(experiment)
    if plan.experiment.kind == "replay":
        report = _run_replay(plan)
    elif plan.experiment.log.source == "obd":
        report = _run_obd_ope(plan)
    else:
        report = _run_simulated_ope(plan)
    if out is not None:
        save_report(report, plan.experiment, out)
    return report


def _seed_keys(seed: int, num_seeds: int) -> Array:
    """Seed ``i`` of an experiment is ``fold_in(key(seed), i)``."""
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


def _replay_runs(agent: Agent, log_axis: int | None):
    return jax.jit(jax.vmap(make_replay(agent), in_axes=(0, log_axis, None)))


def _run_replay(plan: OffPolicyPlan) -> Report:
    experiment, config = plan.experiment, plan.experiment.log
    keys = _seed_keys(experiment.seed, experiment.num_seeds)
    if config.source == "obd":
        data = plan.data["random"]
        log, log_axis, key_replay = obd_log(data), None, keys
        check_uniform(log)
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
        check_uniform(log)
        what = f"uniform-random logs of {experiment.env.name}"
        notes = [
            f"{experiment.num_seeds} uniform-random logs of {experiment.num_steps:,} rounds of "
            f"{experiment.env.name}, one per seed; replay keeps about 1 row in "
            f"{log.num_arms}; values averaged over seeds."
        ]
    rows_out = []
    arrays: dict[str, np.ndarray] = {}
    for label, agent, hparams in plan.agents:
        replayed = _replay_runs(agent, log_axis)(key_replay, log, hparams).log
        result = replay_estimate(replayed, config.level)
        accepted = np.asarray(result.num_accepted)
        value, low, high = (np.asarray(v) for v in (result.value, result.low, result.high))
        rows_out.append(
            {
                "agent": label,
                "accepted": float(accepted.mean()),
                "rewards": float(np.asarray(replayed.reward).sum(axis=-1).mean()),
                "estimate": _nanmean(value),
                "low": _nanmean(low),
                "high": _nanmean(high),
            }
        )
        arrays.update(
            {
                f"{label}/accepted": accepted,
                f"{label}/estimate": value,
                f"{label}/low": low,
                f"{label}/high": high,
            }
        )
    title = f"{experiment.name}: replay (Li et al. 2011) on {what}"
    notes.append(f"estimate: mean reward of the accepted rows, {config.level:.0%} interval.")
    return Report(title, rows_out, " ".join(n for n in notes if n), arrays)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _run_obd_ope(plan: OffPolicyPlan) -> Report:
    experiment, config = plan.experiment, plan.experiment.log
    key = jax.random.key(experiment.seed)
    evaluate = jax.jit(estimate, static_argnames=("num_bootstrap", "level", "num_blocks"))
    rows_out = []
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
        )
        truth_data = plan.data[other]
        truth, truth_low, truth_high = _binomial_interval(
            float(truth_data.click.sum()), truth_data.num_rows, config.level
        )
        for name in config.estimators:
            est = getattr(result, name)
            value = float(est.value)
            rows_out.append(
                {
                    "log": policy,
                    "target": other,
                    "estimator": name,
                    "estimate": value,
                    "low": float(est.low),
                    "high": float(est.high),
                    "truth": truth,
                    "truth_low": truth_low,
                    "truth_high": truth_high,
                    "relative_error": abs(value - truth) / truth if truth > 0 else float("nan"),
                }
            )
    uniform, bts = plan.data["random"], plan.data["bts"]
    notes = [
        f"Open Bandit Dataset ({config.campaign}): {uniform.num_rows:,} uniform rows with "
        f"{int(uniform.click.sum())} clicks, {bts.num_rows:,} Bernoulli TS rows with "
        f"{int(bts.click.sum())} clicks. Each log is evaluated for the other logging policy "
        "(Bernoulli TS through its per-position action frequencies); truth = that policy's "
        f"on-policy CTR on its own log, with its {config.level:.0%} binomial interval; "
        f"low/high: {config.level:.0%} bootstrap intervals ({config.num_bootstrap} resamples).",
        few_clicks_note(uniform),
    ]
    title = f"{experiment.name}: off-policy estimates vs on-policy CTR ({config.campaign})"
    return Report(title, rows_out, " ".join(n for n in notes if n))


def _train_target(key, env, agent, num_steps, env_params, hparams):
    """The target's state after ``num_steps`` online rounds (jitted :func:`train`)."""
    return jax.jit(lambda k, p, h: train(k, env, agent, num_steps, p, h))(key, env_params, hparams)


def _evaluate_target(agent: Agent, config: Any):
    """``(keys_target (L,), keys_estimate (L,), logs, state, hparams) -> (truth (L,),
    Estimates of (L,))``, jitted: one frozen target on every log."""

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
        )
        return policy_value(target, log.expected_reward), result

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None, None)))


def _run_simulated_ope(plan: OffPolicyPlan) -> Report:
    experiment, config = plan.experiment, plan.experiment.log
    num_logs, num_steps = experiment.num_seeds, experiment.num_steps
    train_steps = config.train_steps or num_steps
    key_train, key_logs = jax.random.split(jax.random.key(experiment.seed))
    log_keys = jax.vmap(lambda i: jax.random.fold_in(key_logs, i))(jnp.arange(num_logs))
    key_record, key_target, key_estimate = jax.vmap(lambda k: jax.random.split(k, 3), out_axes=1)(
        log_keys
    )
    record = make_recorder(plan.env, plan.logger, num_steps, config.propensity, config.num_samples)
    logs = jax.jit(jax.vmap(record, in_axes=(0, None, None)))(
        key_record, plan.env_params, plan.logger_hparams
    )
    rows_out = []
    arrays: dict[str, np.ndarray] = {}
    for index, (label, agent, hparams) in enumerate(plan.agents):
        key_agent = jax.random.fold_in(key_train, index)
        state = _train_target(key_agent, plan.env, agent, train_steps, plan.env_params, hparams)
        truth, result = _evaluate_target(agent, config)(
            key_target, key_estimate, logs, state, hparams
        )
        truth = np.asarray(truth)
        arrays[f"{label}/truth"] = truth
        for name in config.estimators:
            est = getattr(result, name)
            values, low, high = (np.asarray(v) for v in (est.value, est.low, est.high))
            error = values - truth
            rows_out.append(
                {
                    "target": label,
                    "estimator": name,
                    "estimate": float(values.mean()),
                    "low": float(low.mean()),
                    "high": float(high.mean()),
                    "truth": float(truth.mean()),
                    "bias": float(error.mean()),
                    "bias_se": float(error.std(ddof=1) / math.sqrt(num_logs))
                    if num_logs > 1
                    else float("nan"),
                    "rmse": float(np.sqrt(np.mean(error**2))),
                    "coverage": float(np.mean((low <= truth) & (truth <= high))),
                }
            )
            arrays.update(
                {
                    f"{label}/{name}/value": values,
                    f"{label}/{name}/low": low,
                    f"{label}/{name}/high": high,
                }
            )
    logger = experiment.log.agent
    settings = ", ".join(f"{k}={v}" for k, v in logger.fields.items())
    note = (
        f"{num_logs} logs of {num_steps:,} rounds of {experiment.env.name}, logged by "
        f"{logger.name}{f' ({settings})' if settings else ''}; targets trained {train_steps:,} "
        "rounds on an independent run, then frozen. estimate, low, high, truth: means over "
        f"logs (low/high: {config.level:.0%} bootstrap intervals, {config.num_bootstrap} "
        "resamples); bias +/- bias_se over logs; coverage: how often the interval held the "
        "truth."
    )
    title = f"{experiment.name}: estimators vs the true policy value"
    return Report(title, rows_out, note, arrays)


# --------------------------------------------------------------------------------------
# Results folders of replay / ope experiments
# --------------------------------------------------------------------------------------

#: The files of a replay / ope results folder (``values.npz`` only when it has arrays).
REPORT_FILES = ("table.csv", "report.txt", "values.npz", "config.json")


def save_report(report: Report, experiment: Experiment, out: str | Path) -> Path:
    """Write a replay / ope results folder: ``table.csv`` (the rows), ``report.txt`` (the
    printed table and note), ``values.npz`` (the arrays, loads without pickle) and, last,
    ``config.json`` (the resolved experiment, versions, git revision, ``"complete": true``).
    Each file is written to a temporary name and renamed into place, so a folder without
    ``config.json`` is an interrupted run."""
    from experiments import atomic
    from experiments.api import git_revision, versions
    from experiments.results import FORMAT_VERSION, csv_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    complete = out / "config.json"
    if complete.exists():  # overwriting: mark incomplete first
        complete.unlink()
    atomic.write_bytes(out / "table.csv", csv_text(report.rows).encode())
    atomic.write_bytes(out / "report.txt", (report.format() + "\n").encode())
    values = out / "values.npz"
    if report.arrays:
        atomic.write_npz(values, {k: np.asarray(v) for k, v in report.arrays.items()})
    elif values.exists():
        values.unlink()
    config = {
        **experiment.to_dict(),
        "versions": versions(),
        "git_revision": git_revision(),
        "devices": [str(d) for d in jax.devices()],
        "format_version": FORMAT_VERSION,
        "complete": True,
        "title": report.title,
        "note": report.note,
    }
    atomic.write_bytes(complete, (json.dumps(config, indent=2) + "\n").encode())
    return out


def _parse_cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def load_report(path: str | Path) -> Report:
    """Read a replay / ope results folder written by :func:`save_report`."""
    from experiments.results import read_complete_config

    path = Path(path)
    config = read_complete_config(path)
    if config.get("kind", "simulate") == "simulate":
        raise ConfigError(f"{path}: an online (kind = 'simulate') folder: use experiments.load")
    with (path / "table.csv").open(newline="") as handle:
        rows_ = [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    arrays = {}
    if (path / "values.npz").is_file():
        with np.load(path / "values.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    return Report(config.get("title", ""), rows_, config.get("note", ""), arrays)


__all__ = [
    "BanditLog",
    "Behaviour",
    "Estimate",
    "Estimates",
    "LabelledAgent",
    "OffPolicyPlan",
    "ReplayEstimate",
    "ReplayLog",
    "ReplayResult",
    "Report",
    "RewardPredictions",
    "RidgeModel",
    "bakeoff_table",
    "behaviour",
    "bootstrap_counts",
    "check_uniform",
    "direct_method",
    "doubly_robust",
    "empirical_policy",
    "estimate",
    "exact_probabilities",
    "few_clicks_note",
    "fit_reward_model",
    "fit_ridge",
    "greedy_probabilities",
    "importance_weights",
    "ips",
    "load_report",
    "log_from_arrays",
    "make_recorder",
    "make_replay",
    "obd_log",
    "policy_value",
    "predict_ridge",
    "prepare",
    "replay_estimate",
    "rows",
    "run_experiment",
    "save_report",
    "snips",
    "softmax_probabilities",
    "target_probabilities",
    "train",
    "uniform_probabilities",
]
