"""Logged data and off-policy evaluation: logs from simulation, replay, IPS / SNIPS / DM / DR.

A **log** (:class:`BanditLog`) is one row per round: the context, the action the logging
policy took, the reward, and the *propensity*, the probability with which the logging
policy chose that action.  Logs come from any driftsim run (:func:`make_recorder`, which
also keeps the oracle's expected rewards, so the true value of any policy on the log's
contexts is known), from arrays (:func:`log_from_arrays`) or from the Open Bandit Dataset
(:func:`obd_log`).

**Propensities.**  An agent may expose its action distribution ``pi(. | state, context)``
through an ``action_probabilities(state, context, hparams) -> (K,)`` function (the optional
protocol proposed for :class:`agents.types.Agent`); until then :data:`EXACT_PROBABILITIES`
supplies it for the agents whose distribution has a closed form (uniform, ε-greedy, EXP3,
the gradient bandit's softmax), and every other agent (Thompson sampling, anything
stochastic) gets a Monte-Carlo estimate: its ``act`` repeated with ``M`` keys, the logged
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

Worked examples with results: :func:`ope_check` (estimators against the true value on
simulated logs), :func:`obd_ope` and :func:`obd_replay` (the Open Bandit Dataset) and
:func:`bakeoff_table` (the ``bakeoff`` preset's average reward and rank per dataset).

References: L. Li, W. Chu, J. Langford & X. Wang, "Unbiased offline evaluation of
contextual-bandit-based news article recommendation algorithms", WSDM 2011; M. Dudík,
J. Langford & L. Li, "Doubly robust policy evaluation and learning", ICML 2011;
A. Swaminathan & T. Joachims, "The self-normalized estimator for counterfactual learning",
NeurIPS 2015; Y. Saito et al., "Open Bandit Dataset and Pipeline", NeurIPS 2021.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np

from agents.types import Agent, Transition
from experiments.runner import RESET_INDEX, Carry, advance, init_carry, split_run_key
from experiments.stats import mean_ci, normal_quantile
from simulator.datasets import OBD_NUM_POSITIONS, OBDData, load_obd, obd_contexts
from simulator.params import ConfigError
from simulator.types import Context, Environment, make_oracle

Array = jax.Array

#: ``(state, context, hparams) -> (K,)``: an agent's exact action distribution.
ProbabilityFn = Callable[[Any, Context, Any], Array]

DEMONSTRATION_NOTE = (
    "The Open Bandit Dataset sample is small: its uniform-random log has only a few dozen "
    "clicks in 10,000 impressions, and replay keeps about 1 row in {num_items}, so these "
    "numbers are a demonstration of the pipeline, not a verdict on the agents."
)

# --------------------------------------------------------------------------------------
# Action probabilities (propensities)
# --------------------------------------------------------------------------------------


def uniform_probabilities(num_arms: int) -> Array:
    """``(K,)`` the uniform distribution ``1 / K``."""
    return jnp.full((num_arms,), 1.0 / num_arms, jnp.float32)


def greedy_probabilities(values: Array, epsilon: Any = 0.0) -> Array:
    """The action distribution of ε-greedy over ``values (K,)`` with ties broken at random::

        pi(a) = epsilon / K + (1 - epsilon) 1[a in argmax] / |argmax|

    (the distribution of :func:`agents.common.epsilon_mix` of :func:`agents.common.random_argmax`).
    """
    values = jnp.asarray(values, jnp.float32)
    best = (values >= jnp.max(values)).astype(jnp.float32)
    num_arms = values.shape[-1]
    return epsilon / num_arms + (1.0 - epsilon) * best / jnp.sum(best)


def softmax_probabilities(preferences: Array, temperature: Any = 1.0) -> Array:
    """``(K,)`` the softmax (Boltzmann) distribution ``exp(h_a / tau) / sum_b exp(h_b / tau)``."""
    return jax.nn.softmax(jnp.asarray(preferences, jnp.float32) / temperature)


def _random_probabilities(agent: Agent) -> ProbabilityFn:
    num_arms = agent.static["num_arms"]
    return lambda state, context, hparams: uniform_probabilities(num_arms)


def _epsilon_greedy_probabilities(agent: Agent) -> ProbabilityFn:
    return lambda state, context, hparams: greedy_probabilities(state.values, hparams.epsilon)


def _exp3_probabilities(agent: Agent) -> ProbabilityFn | None:
    try:
        from agents.classic.exp3 import exp3_probabilities
    except ImportError:
        return None
    return lambda state, context, hparams: exp3_probabilities(state, hparams)


def _gradient_bandit_probabilities(agent: Agent) -> ProbabilityFn | None:
    try:
        from agents.classic.gradient_bandit import gradient_bandit_probabilities
    except ImportError:
        return None
    return lambda state, context, hparams: gradient_bandit_probabilities(state)


#: Exact action distributions of registered agents without ``action_probabilities``, by
#: agent name: ``maker(agent) -> ProbabilityFn`` (or None when not available).
EXACT_PROBABILITIES: dict[str, Callable[[Agent], ProbabilityFn | None]] = {
    "random": _random_probabilities,
    "epsilon_greedy": _epsilon_greedy_probabilities,
    "exp3": _exp3_probabilities,
    "gradient_bandit": _gradient_bandit_probabilities,
}


def exact_probabilities(agent: Agent) -> ProbabilityFn | None:
    """The agent's exact ``(state, context, hparams) -> (K,)`` action distribution, or None.

    Uses ``agent.action_probabilities`` when the agent provides it, else
    :data:`EXACT_PROBABILITIES` by the agent's name.
    """
    provided = getattr(agent, "action_probabilities", None)
    if provided is not None:
        return provided
    maker = EXACT_PROBABILITIES.get(agent.name)
    return None if maker is None else maker(agent)


PROPENSITY_MODES = ("auto", "exact", "monte_carlo")


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
            f"(known: {', '.join(sorted(EXACT_PROBABILITIES))}, or agents with "
            "action_probabilities); use propensity = 'monte_carlo'"
        )
    if exact is not None:

        def act_exact(key, state, context, hparams):
            action = agent.act(key, state, context, hparams)
            return action, jnp.asarray(exact(state, context, hparams), jnp.float32)

        return Behaviour(act_exact, True)

    def act_sampled(key, state, context, hparams):
        action = agent.act(key, state, context, hparams)
        num_arms = context.arm_features.shape[0]
        if num_samples == 1:
            return action, jax.nn.one_hot(action, num_arms, dtype=jnp.float32)
        keys = jax.vmap(lambda j: jax.random.fold_in(key, j))(jnp.arange(1, num_samples))
        others = jax.vmap(agent.act, in_axes=(0, None, None, None))(keys, state, context, hparams)
        draws = jnp.concatenate([action[None], others])
        counts = jnp.sum(jax.nn.one_hot(draws, num_arms, dtype=jnp.float32), axis=0)
        return action, counts / num_samples

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
            return Carry(env_state, agent_state, next_timestep), row

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
    factor = jnp.linalg.cholesky(gram)
    solve = lambda c, b: jax.scipy.linalg.cho_solve((c, True), b)  # noqa: E731
    return RidgeModel(theta=jax.vmap(solve)(factor, rhs))


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
    dm = predict_ridge(fit_ridge(log, ridge, shared), log.context)
    n = log.action.shape[0]
    block = jnp.arange(n) * num_blocks // n  # 0..num_blocks-1, in log order

    def predict_block(b):
        model = fit_ridge(log, ridge, shared, weights=(block < b).astype(jnp.float32))
        return jnp.where(b > 0, predict_ridge(model, log.context), 0.0)

    by_block = jax.vmap(predict_block)(jnp.arange(num_blocks))  # (blocks, n, K)
    dr = jnp.take_along_axis(by_block, block[None, :, None], axis=0)[0]
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
    """The replay estimate of an agent's online reward (CTR) with its normal interval.

    Attributes:
      value: mean reward over the accepted rows (NaN if none).
      low, high: ``value -/+ z sqrt(s^2 / N)``, ``s^2`` the sample variance of the accepted
        rewards (``value (1 - value)`` for clicks).
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
    return ReplayEstimate(
        value=value,
        low=value - half,
        high=value + half,
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
# Worked examples: OBD off-policy evaluation and replay, the estimator check, the bake-off
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """A table of results with a note (printable; ``rows`` are dicts for CSV or pandas)."""

    title: str
    rows: list[dict[str, Any]]
    note: str = ""

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
    value = clicks / n
    half = normal_quantile(0.5 + level / 2) * math.sqrt(value * (1 - value) / n)
    return value, value - half, value + half


def empirical_policy(data: OBDData) -> np.ndarray:
    """``(3, num_items)``: how often each item was shown at each position in a log.

    For the context-free Bernoulli TS of the Open Bandit Dataset, this time-averaged action
    distribution is a stationary policy whose value equals the log's on-policy CTR."""
    table = np.zeros((OBD_NUM_POSITIONS, data.num_items), np.float64)
    np.add.at(table, (data.position, data.item), 1.0)
    return (table / table.sum(axis=1, keepdims=True)).astype(np.float32)


def obd_ope(
    campaign: str = "all",
    path: str | None = None,
    num_bootstrap: int = 1000,
    level: float = 0.95,
    ridge: float = 1.0,
    seed: int = 0,
) -> Report:
    """Off-policy evaluation on the Open Bandit Dataset, checked against on-policy CTRs.

    Two evaluations, each compared with the ground truth measured on the other log:

    * the uniform-random policy evaluated on the **Bernoulli TS log** with its propensities
      (the meaningful use of the estimators); truth: the CTR of the random log;
    * the Bernoulli TS policy (its empirical per-position action frequencies, see
      :func:`empirical_policy`) evaluated on the **uniform log**; truth: the CTR of the
      BTS log.

    Args:
      campaign: ``all``, ``men`` or ``women``.
      path: folder of the full-size dataset; None uses the sample inside ``obp``.
      num_bootstrap, level: bootstrap resamples and interval level.
      ridge: the reward model's penalty (DM, DR).
      seed: the bootstrap key.
    """
    random_data = load_obd("random", campaign, path)
    bts_data = load_obd("bts", campaign, path)
    key = jax.random.key(seed)
    rows_out = []
    cases = (
        ("uniform on the bts log", bts_data, random_data, None),
        ("bts on the random log", random_data, bts_data, empirical_policy(bts_data)),
    )
    for case, (name, logged, truth_data, table) in enumerate(cases):
        log = obd_log(logged)
        n, num_arms = log.num_rows, log.num_arms
        if table is None:
            target = jnp.full((n, num_arms), 1.0 / num_arms, jnp.float32)
        else:
            target = jnp.asarray(table)[jnp.asarray(logged.position)]
        result = jax.jit(estimate, static_argnames=("num_bootstrap", "level", "num_blocks"))(
            jax.random.fold_in(key, case),
            log,
            target,
            num_bootstrap=num_bootstrap,
            level=level,
            ridge=ridge,
        )
        truth, truth_low, truth_high = _binomial_interval(
            float(truth_data.click.sum()), truth_data.num_rows, level
        )
        for estimator, est in zip(ESTIMATORS, result):
            value = float(est.value)
            rows_out.append(
                {
                    "evaluation": name,
                    "estimator": estimator,
                    "estimate": value,
                    "low": float(est.low),
                    "high": float(est.high),
                    "truth": truth,
                    "truth_low": truth_low,
                    "truth_high": truth_high,
                    "relative_error": abs(value - truth) / truth if truth > 0 else float("nan"),
                }
            )
    note = (
        f"Open Bandit Dataset ({campaign}): {random_data.num_rows} uniform rows with "
        f"{int(random_data.click.sum())} clicks, {bts_data.num_rows} Bernoulli TS rows with "
        f"{int(bts_data.click.sum())} clicks. Truth = on-policy CTR of the other log, with "
        f"its {level:.0%} binomial interval. "
        + DEMONSTRATION_NOTE.format(num_items=random_data.num_items)
    )
    return Report(f"obd-ope: off-policy estimates vs on-policy CTR ({campaign})", rows_out, note)


#: The agents of :func:`obd_replay`: (label, registry name, static fields, hparams).
OBD_REPLAY_AGENTS = (
    ("random", "random", {}, {}),
    ("eps-0.1", "epsilon_greedy", {}, {"epsilon": 0.1}),
    ("linucb", "linucb", {"mode": "disjoint"}, {"alpha": 0.5}),
    ("lints", "lints", {"mode": "disjoint"}, {}),
)


def obd_replay(
    campaign: str = "all",
    path: str | None = None,
    agent_specs: Sequence[tuple[str, str, dict, dict]] = OBD_REPLAY_AGENTS,
    num_seeds: int = 4,
    level: float = 0.95,
    seed: int = 0,
) -> Report:
    """Replay agents over the uniform-random log of the Open Bandit Dataset.

    Each agent (``(label, registry name, static fields, hparams)``; ``num_arms``,
    ``context_dim``, ``arm_dim`` are filled in) runs over the log once per seed; the table
    gives the accepted rows, the replay CTR and its interval, averaged over seeds (the log
    is the same for every seed: only the agent's own randomness changes).  Contexts: the
    one-hot user features and position.
    """
    import agents as agent_registry

    data = load_obd("random", campaign, path)
    log = obd_log(data)
    check_uniform(log)
    spec = {
        "num_arms": log.num_arms,
        "context_dim": int(log.context.features.shape[1]),
        "arm_dim": 0,
    }
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(num_seeds))
    rows_out = []
    for label, name, static, overrides in agent_specs:
        wanted = agent_registry.REGISTRY.static_fields(name)
        fields = {k: v for k, v in spec.items() if k in wanted}
        agent = agent_registry.make(name, **{**fields, **static})
        hparams = agent.default_hparams().replace(**overrides)
        run = jax.jit(jax.vmap(make_replay(agent), in_axes=(0, None, None)))
        result = replay_estimate(run(keys, log, hparams).log, level)
        rows_out.append(
            {
                "agent": label,
                "accepted": float(jnp.mean(result.num_accepted)),
                "clicks": float(jnp.mean(result.value * result.num_accepted)),
                "ctr": float(jnp.nanmean(result.value)),
                "low": float(jnp.nanmean(result.low)),
                "high": float(jnp.nanmean(result.high)),
            }
        )
    ctr, low, high = _binomial_interval(float(data.click.sum()), data.num_rows, level)
    note = (
        f"Uniform log ({campaign}): {data.num_rows} rows, {int(data.click.sum())} clicks, "
        f"CTR {ctr:.4f} [{low:.4f}, {high:.4f}]; {num_seeds} seeds, values averaged over "
        "seeds. " + DEMONSTRATION_NOTE.format(num_items=data.num_items)
    )
    return Report(f"obd-replay: replay CTR on the uniform log ({campaign})", rows_out, note)


def ope_check(
    num_logs: int = 64,
    num_steps: int = 400,
    epsilon: float = 0.2,
    flip_prob: float = 0.1,
    num_bootstrap: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> Report:
    """The estimators against the true value, on simulated logs where it is known.

    World: ``classification_bandit`` on the synthetic ``blobs`` (4 classes, 8 features) with
    reward noise ``flip_prob``.  Logging policy: ε-greedy (exact propensities, learning as
    it logs).  Target policy: LinUCB (disjoint, ``alpha = 0``: greedy) trained online for
    ``num_steps`` rounds on an independent run, then frozen.  For each of ``num_logs``
    logs the true value ``mean_i sum_a pi(a|x_i) mu(x_i, a)`` on the log's contexts is
    computed from the oracle; the table gives, per estimator, the mean estimate, its bias
    with a standard error over logs, the RMSE and how often the bootstrap interval covered
    the truth.
    """
    import agents as agent_registry
    from simulator.classification import ClassificationBandit

    env = ClassificationBandit(dataset="blobs")
    env_params = env.default_params().replace(flip_prob=flip_prob)
    spec = env.spec
    logger = agent_registry.make("epsilon_greedy", num_arms=spec.num_arms)
    logger_hp = logger.default_hparams().replace(epsilon=epsilon)
    target_agent = agent_registry.make(
        "linucb",
        num_arms=spec.num_arms,
        context_dim=spec.context_dim,
        arm_dim=0,
        mode="disjoint",
    )
    target_hp = target_agent.default_hparams().replace(alpha=0.0)
    key = jax.random.key(seed)
    key_train, key_logs = jax.random.split(key)
    target_state = jax.jit(lambda k: train(k, env, target_agent, num_steps, env_params, target_hp))(
        key_train
    )

    def one_log(k):
        key_record, key_target, key_estimate = jax.random.split(k, 3)
        log = make_recorder(env, logger, num_steps, propensity="exact")(
            key_record, env_params, logger_hp
        )
        target = target_probabilities(
            key_target, target_agent, target_state, log.context, target_hp, num_samples=8
        )
        truth = policy_value(target, log.expected_reward)
        return truth, estimate(key_estimate, log, target, num_bootstrap=num_bootstrap, level=level)

    keys = jax.vmap(lambda i: jax.random.fold_in(key_logs, i))(jnp.arange(num_logs))
    truth, result = jax.jit(jax.vmap(one_log))(keys)
    truth = np.asarray(truth)
    rows_out = []
    for estimator, est in zip(ESTIMATORS, result):
        values = np.asarray(est.value)
        error = values - truth
        covered = (np.asarray(est.low) <= truth) & (truth <= np.asarray(est.high))
        rows_out.append(
            {
                "estimator": estimator,
                "mean_estimate": float(values.mean()),
                "mean_truth": float(truth.mean()),
                "bias": float(error.mean()),
                "bias_se": float(error.std(ddof=1) / math.sqrt(num_logs)),
                "rmse": float(np.sqrt(np.mean(error**2))),
                "coverage": float(covered.mean()),
            }
        )
    note = (
        f"{num_logs} logs of {num_steps} rounds, epsilon-greedy logging (epsilon={epsilon}), "
        f"target: greedy LinUCB frozen after {num_steps} rounds, reward flip {flip_prob}; "
        f"coverage of the {level:.0%} bootstrap intervals."
    )
    return Report("ope-check: estimators vs the true policy value", rows_out, note)


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


#: Presets that the experiment schema cannot express yet, run by :func:`run_preset`.
OFFPOLICY_PRESETS: dict[str, Callable[..., Report]] = {
    "obd-ope": obd_ope,
    "obd-replay": obd_replay,
    "ope-check": ope_check,
}


def run_preset(name: str, **options: Any) -> Report:
    """Run an off-policy preset by name (``obd-ope``, ``obd-replay``, ``ope-check``);
    ``options`` are the function's keyword arguments."""
    if name not in OFFPOLICY_PRESETS:
        raise ConfigError(
            f"unknown off-policy preset {name!r}; allowed: {', '.join(OFFPOLICY_PRESETS)}"
        )
    return OFFPOLICY_PRESETS[name](**options)


__all__ = [
    "EXACT_PROBABILITIES",
    "BanditLog",
    "Behaviour",
    "Estimate",
    "Estimates",
    "OFFPOLICY_PRESETS",
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
    "fit_reward_model",
    "fit_ridge",
    "greedy_probabilities",
    "importance_weights",
    "ips",
    "log_from_arrays",
    "make_recorder",
    "make_replay",
    "obd_log",
    "obd_ope",
    "obd_replay",
    "ope_check",
    "policy_value",
    "predict_ridge",
    "replay_estimate",
    "rows",
    "run_preset",
    "snips",
    "softmax_probabilities",
    "target_probabilities",
    "train",
    "uniform_probabilities",
]
