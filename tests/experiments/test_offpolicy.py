"""Logs, propensities, off-policy estimators and replay.

Reference tests against a plain numpy transcription; statistical tests on simulated logs
whose true policy value is known (fixed seeds, tolerances of 3 standard errors).
"""

import dataclasses
import json
from statistics import NormalDist

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import experiments
from agents.types import Agent
from experiments import cli, presets
from experiments import offpolicy as op
from experiments.bakeoff import bakeoff_table
from experiments.cli import format_summary
from experiments.offpolicy import experiment as logged
from experiments.runner import make_run
from experiments.schema import TOP_LEVEL_KEYS, from_dict
from simulator.bandits import BernoulliBandit
from simulator.classification import from_data
from simulator.params import ConfigError
from tests.conformance import assert_no_lapack

needs_obd = pytest.mark.skipif(not op.obd_available(), reason="obp not installed")


def _seeds(n, seed=0):
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(n))


# --------------------------------------------------------------------------------------
# Propensities and recording
# --------------------------------------------------------------------------------------


def _empty_context(num_arms):
    return jax.tree.map(
        lambda x: x[0], op.log_from_arrays(np.zeros((1, 0)), [0], [0.0], [1.0], num_arms).context
    )


@pytest.mark.parametrize("name", ["epsilon_greedy", "exp3", "gradient_bandit"])
def test_exact_probabilities_agree_with_monte_carlo(name):
    agent = agents.make(name, num_arms=4)
    hparams = agent.default_hparams()
    state = agent.init(jax.random.key(0), hparams)
    if name == "epsilon_greedy":  # a tie between arms 1 and 2
        hparams = hparams.replace(epsilon=0.2)
        state = state.replace(values=jnp.array([1.0, 3.0, 3.0, 0.0]))
    elif name == "exp3":
        state = state.replace(log_weights=jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4])))
    else:
        state = state.replace(preferences=jnp.array([0.5, -1.0, 1.0, 0.0]))
    context = _empty_context(4)
    exact = np.asarray(op.exact_probabilities(agent)(state, context, hparams))
    if name == "epsilon_greedy":
        np.testing.assert_allclose(exact, [0.05, 0.45, 0.45, 0.05], rtol=1e-6)
    np.testing.assert_allclose(exact.sum(), 1.0, rtol=1e-6)
    num_samples = 4000
    sampled = op.behaviour(agent, "monte_carlo", num_samples)
    estimate = jax.jit(sampled.distribution)(jax.random.key(1), state, context, hparams)
    assert not sampled.exact and op.behaviour(agent).exact
    sd = np.sqrt(exact * (1 - exact) / num_samples)
    assert np.all(np.abs(np.asarray(estimate) - exact) < 4 * sd + 1.0 / num_samples)


def test_monte_carlo_inverse_propensities_are_unbiased():
    """The logged propensity of an agent without a closed form enters the estimators as
    1/p.  The recorder's estimate 1/N, N the draws (independent of the logged one) until
    the logged action recurs, gives E[1{A = a} N] = p_a E[N | a] = 1 - (1 - p_a)^M for every
    arm: 1 up to the cap.  Counting the logged draw among M draws would give about
    E[M / (1 + Binomial(M - 1, p))] p, off by several percent at M p = 4: the test can
    fail."""
    agent = agents.make("epsilon_greedy", num_arms=4)
    hparams = agent.default_hparams().replace(epsilon=0.3)
    state = agent.init(jax.random.key(0), hparams).replace(values=jnp.array([0.0, 1.0, 0.5, 0.2]))
    exact = np.asarray(agent.action_probabilities(state, _empty_context(4), hparams))
    num_samples, num_keys = 64, 40_000
    sampled = op.behaviour(agent, "monte_carlo", num_samples)

    def weight(key):
        action = agent.act(key, state, _empty_context(4), hparams)
        inverse = 1.0 / sampled.propensity(key, state, _empty_context(4), hparams, action)
        return jax.nn.one_hot(action, 4) * inverse

    keys = jax.random.split(jax.random.key(3), num_keys)
    weights = np.asarray(jax.jit(jax.vmap(weight))(keys))
    expected = 1.0 - (1.0 - exact) ** num_samples
    se = weights.std(axis=0) / np.sqrt(num_keys)
    assert np.all(np.abs(weights.mean(axis=0) - expected) < 4 * se), (weights.mean(0), expected)


def test_behaviour_validates():
    with pytest.raises(ConfigError, match="no exact action distribution"):
        op.behaviour(agents.make("lints", num_arms=4), "exact")
    with pytest.raises(ConfigError, match="propensity = 'magic': unknown"):
        op.behaviour(agents.make("random", num_arms=4), "magic")
    assert not op.behaviour(agents.make("thompson", num_arms=4)).exact  # Monte Carlo


def test_recorded_run_is_the_plain_run():
    env = BernoulliBandit(num_arms=3, means=(0.2, 0.5, 0.7))
    agent = agents.make("epsilon_greedy", num_arms=3)
    hparams, params = agent.default_hparams(), env.default_params()
    key = jax.random.key(3)
    log = jax.jit(op.make_recorder(env, agent, 50))(key, params, hparams)
    plain = jax.jit(make_run(env, agent, 50))(key, params, hparams)
    np.testing.assert_array_equal(np.asarray(log.reward), np.asarray(plain.reward))
    chosen = np.asarray(log.expected_reward)[np.arange(50), np.asarray(log.action)]
    np.testing.assert_allclose(0.7 - chosen, np.asarray(plain.regret), atol=1e-6)
    assert log.context.arm_features.shape == (50, 3, 0) and log.num_arms == 3
    assert np.all(np.asarray(log.propensity) >= 0.1 / 3 - 1e-7)


def test_log_from_arrays_validates():
    with pytest.raises(ConfigError, match=r"action: must be integers in \[0, num_arms = 2\)"):
        op.log_from_arrays(np.zeros((2, 1)), [0, 2], [0, 1], [0.5, 0.5], 2)
    with pytest.raises(ConfigError, match=r"propensity: every entry must be in \(0, 1\]"):
        op.log_from_arrays(np.zeros((2, 1)), [0, 1], [0, 1], [0.5, 0.0], 2)
    with pytest.raises(ConfigError, match="reward has shape"):
        op.log_from_arrays(np.zeros((2, 1)), [0, 1], [0], [0.5, 0.5], 2)
    log = op.log_from_arrays(np.zeros((2, 1)), [0, 1], [0, 1], [0.5, 0.25], 2)
    with pytest.raises(ConfigError, match="replay needs a uniform-random log"):
        op.check_uniform(log)


# --------------------------------------------------------------------------------------
# Estimators against numpy
# --------------------------------------------------------------------------------------


def _random_problem(n=60, num_arms=3, dim=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    action = rng.integers(0, num_arms, n)
    propensity = rng.uniform(0.1, 0.9, n)
    reward = rng.normal(size=n)
    target = rng.dirichlet(np.ones(num_arms), n)
    predictions = rng.normal(size=(n, num_arms))
    log = op.log_from_arrays(x, action, reward, propensity, num_arms)
    return log, x, action, reward, propensity, target, predictions


def test_estimators_match_numpy():
    log, x, action, reward, propensity, target, q = _random_problem()
    n = len(action)
    w = np.array([target[i, action[i]] / propensity[i] for i in range(n)])
    ips = sum(w[i] * reward[i] for i in range(n)) / n
    snips = sum(w[i] * reward[i] for i in range(n)) / sum(w)
    dm = sum(target[i] @ q[i] for i in range(n)) / n
    dr = sum(target[i] @ q[i] + w[i] * (reward[i] - q[i, action[i]]) for i in range(n)) / n
    t, qq = jnp.asarray(target, jnp.float32), jnp.asarray(q, jnp.float32)
    np.testing.assert_allclose(op.ips(log, t), ips, rtol=1e-5)
    np.testing.assert_allclose(op.snips(log, t), snips, rtol=1e-5)
    np.testing.assert_allclose(op.direct_method(t, qq), dm, rtol=1e-5)
    np.testing.assert_allclose(op.doubly_robust(log, t, qq), dr, rtol=1e-5)

    # bootstrap: the same resample counts in numpy, percentile interval
    key = jax.random.key(7)
    result = jax.jit(op.estimate, static_argnames=("num_bootstrap", "level", "interval"))(
        key, log, t, qq, num_bootstrap=300, level=0.9, interval="percentile"
    )
    counts = np.asarray(op.bootstrap_counts(key, n, 300))
    assert counts.shape == (300, n) and np.all(counts.sum(axis=1) == n)
    boot_dr = (
        counts @ (q * target).sum(1) / n + counts @ (w * (reward - q[np.arange(n), action])) / n
    )
    boot_snips = (counts @ (w * reward)) / (counts @ w)
    for est, value, boot in ((result.dr, dr, boot_dr), (result.snips, snips, boot_snips)):
        np.testing.assert_allclose(est.value, value, rtol=1e-5)
        np.testing.assert_allclose(
            [est.low, est.high], np.quantile(boot, [0.05, 0.95]), rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(est.std_error, boot.std(ddof=1), rtol=1e-4)


def test_ridge_reward_model_matches_numpy():
    log, x, action, reward, *_ = _random_problem(n=80, seed=1)
    model = op.fit_ridge(log, ridge=0.5)
    z = np.c_[x, np.ones(len(x))]
    for a in range(3):
        rows = action == a
        theta = np.linalg.solve(0.5 * np.eye(3) + z[rows].T @ z[rows], z[rows].T @ reward[rows])
        np.testing.assert_allclose(model.theta[a], theta, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        op.predict_ridge(model, log.context), z @ np.asarray(model.theta).T, rtol=1e-5, atol=1e-5
    )
    # DR's sequential fit: block b (of 4, in log order) predicted from blocks before it
    sequential = op.fit_reward_model(log, ridge=0.5, num_blocks=4)
    np.testing.assert_array_equal(np.asarray(sequential.dr)[:20], 0.0)
    early = op.log_from_arrays(x[:60], action[:60], reward[:60], np.full(60, 0.5), 3)
    np.testing.assert_allclose(
        np.asarray(sequential.dr)[60:],
        np.asarray(op.predict_ridge(op.fit_ridge(early, 0.5), log.context))[60:],
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(sequential.dm, op.predict_ridge(model, log.context), atol=1e-5)
    arms = np.random.default_rng(2).normal(size=(80, 3, 2))  # shared model on item features
    shared_log = op.log_from_arrays(x, action, reward, np.full(80, 1 / 3), 3, arm_features=arms)
    shared = op.fit_ridge(shared_log, ridge=0.5, shared=True)
    zs = np.c_[x, arms[np.arange(80), action], np.ones(80)]
    theta = np.linalg.solve(0.5 * np.eye(5) + zs.T @ zs, zs.T @ reward)
    np.testing.assert_allclose(shared.theta[0], theta, rtol=1e-4, atol=1e-5)
    assert op.predict_ridge(shared, shared_log.context).shape == (80, 3)


# --------------------------------------------------------------------------------------
# Unbiasedness on simulated logs whose true value is known
# --------------------------------------------------------------------------------------


def test_ips_and_dr_are_unbiased_on_simulated_logs():
    """300 logs of 60 rounds from a learning ε-greedy logger on a noisy classification
    bandit; a fixed softmax target policy.  IPS and DR are unbiased given the contexts, DR
    both with a deliberately wrong fixed reward model and with the sequentially fitted
    ridge model: their mean error is within 3 standard errors of 0, while DM with the wrong
    model is visibly biased (the test has power)."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 3)), np.arange(40) % 3
    env, params = from_data(x, y)
    params = params.replace(flip_prob=0.2)
    logger = agents.make("epsilon_greedy", num_arms=3)
    logger_hp = logger.default_hparams().replace(epsilon=0.3)
    weights = jnp.asarray(rng.normal(size=(3, 3)), jnp.float32)
    wrong_model = jnp.array([0.5, 0.2, 0.9], jnp.float32)

    def one(key):
        log = op.make_recorder(env, logger, 60)(key, params, logger_hp)
        target = jax.nn.softmax(log.context.features @ weights, axis=-1)
        q = jnp.broadcast_to(wrong_model, target.shape)
        truth = op.policy_value(target, log.expected_reward)
        fitted = op.fit_reward_model(log, ridge=1.0, num_blocks=3)
        return (
            op.ips(log, target) - truth,
            op.doubly_robust(log, target, q) - truth,
            op.doubly_robust(log, target, fitted.dr) - truth,
            op.direct_method(target, q) - truth,
        )

    num_logs = 300
    errors = [np.asarray(e) for e in jax.jit(jax.vmap(one))(_seeds(num_logs, 11))]
    for name, error in zip(("ips", "dr", "dr_fitted", "dm"), errors):
        se = error.std(ddof=1) / np.sqrt(num_logs)
        if name == "dm":
            assert abs(error.mean()) > 3 * se, (name, error.mean(), se)
        else:
            assert abs(error.mean()) < 3 * se, (name, error.mean(), se)


def test_reward_model_and_a_lints_target_call_no_lapack():
    """A LinTS target's probabilities and the estimates with the fitted reward model, in
    one program over two logs: no LAPACK kernel on a CPU (see agents.linalg)."""
    rng = np.random.default_rng(0)
    env, params = from_data(rng.normal(size=(30, 3)), np.arange(30) % 3)
    logger = agents.make("epsilon_greedy", num_arms=3)
    logs = jax.vmap(op.make_recorder(env, logger, 40), in_axes=(0, None, None))(
        _seeds(2), params, logger.default_hparams()
    )
    lints = agents.make(
        "lints", num_arms=3, context_dim=env.spec.context_dim, arm_dim=0, mode="disjoint"
    )
    hparams = lints.default_hparams()
    state = lints.init(jax.random.key(0), hparams)

    def evaluate(key, log):
        target = op.target_probabilities(key, lints, state, log.context, hparams, num_samples=4)
        return op.estimate(key, log, target, num_bootstrap=20)

    assert_no_lapack(jax.jit(jax.vmap(evaluate)), _seeds(2, seed=1), logs)


# --------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------


@flax.struct.dataclass
class _NoHParams:
    pass


def _fixed_policy(probabilities):
    """A stationary stochastic policy whose state counts its updates."""
    logits = jnp.log(jnp.asarray(probabilities, jnp.float32))
    return Agent(
        "fixed",
        init=lambda key, hp: jnp.zeros((), jnp.int32),
        act=lambda key, s, c, hp: jax.random.categorical(key, logits).astype(jnp.int32),
        update=lambda key, s, tr, hp: s + 1,
        default_hparams=_NoHParams,
    )


def _uniform_log(env, num_rows, key):
    uniform = agents.make("random", num_arms=env.num_arms)
    record = op.make_recorder(env, uniform, num_rows)
    return record(key, env.default_params(), uniform.default_hparams())


def test_replay_recovers_a_fixed_policys_ctr():
    means = np.array([0.1, 0.3, 0.5, 0.8])
    policy = np.array([0.1, 0.2, 0.3, 0.4])
    env = BernoulliBandit(num_arms=4, means=tuple(means))
    log = jax.jit(lambda k: _uniform_log(env, 8000, k))(jax.random.key(0))
    op.check_uniform(log)
    agent = _fixed_policy(policy)
    replay = op.make_replay(agent)
    out = jax.jit(replay)(jax.random.key(1), log, _NoHParams())
    result = op.replay_estimate(out.log)
    truth = float(policy @ means)
    half_width = float(result.high - result.value)
    assert 1700 < float(result.num_accepted) < 2300  # about n / K = 2000
    assert abs(float(result.value) - truth) < 1.5 * half_width  # 1.5 x 1.96 se
    assert int(out.agent_state) == int(result.num_accepted)  # updated on accepted rows only


def test_replay_of_a_learner_matches_its_online_run():
    """Li et al. (2011, Thm 1): the first m accepted rows of a replay over a uniform log are
    distributed as m online rounds.  Mean reward over 48 seeds, replay vs online."""
    env = BernoulliBandit(num_arms=3, means=(0.2, 0.5, 0.6))
    agent = agents.make("epsilon_greedy", num_arms=3)
    hparams = agent.default_hparams().replace(epsilon=0.1)
    m, num_seeds = 150, 48

    def replayed(key):
        key_log, key_agent = jax.random.split(key)
        log = _uniform_log(env, 3 * m + 150, key_log)  # accepted ~ n/3 > m (checked below)
        out = op.make_replay(agent)(key_agent, log, hparams)
        return op.replay_estimate(out.log, first=m)

    replay = jax.jit(jax.vmap(replayed))(_seeds(num_seeds, 1))
    assert np.all(np.asarray(replay.num_accepted) == m)
    online = jax.jit(jax.vmap(make_run(env, agent, m), in_axes=(0, None, None)))(
        _seeds(num_seeds, 2), env.default_params(), hparams
    )
    a, b = np.asarray(replay.value), np.asarray(online.reward).mean(axis=1)
    se = np.sqrt(a.var(ddof=1) / num_seeds + b.var(ddof=1) / num_seeds)
    assert abs(a.mean() - b.mean()) < 3 * se, (a.mean(), b.mean(), se)
    assert b.mean() > 0.5  # it learns: better than the uniform 0.43


def test_replay_skips_rejected_rows():
    env = BernoulliBandit(num_arms=4, means=(0.1, 0.2, 0.3, 0.4))
    log = jax.jit(lambda k: _uniform_log(env, 400, k))(jax.random.key(5))
    agent = agents.make("epsilon_greedy", num_arms=4)
    hparams = agent.default_hparams()
    out = jax.jit(op.make_replay(agent))(jax.random.key(6), log, hparams)
    # the final state is that of sample averages over the accepted rows only
    rows = np.flatnonzero(np.asarray(out.log.accepted))
    assert 50 < len(rows) < 150
    actions, rewards = np.asarray(log.action)[rows], np.asarray(log.reward)[rows]
    counts = np.bincount(actions, minlength=4)
    sums = np.bincount(actions, weights=rewards, minlength=4)
    np.testing.assert_array_equal(np.asarray(out.agent_state.counts), counts)
    np.testing.assert_allclose(
        np.asarray(out.agent_state.values), sums / np.maximum(counts, 1), atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(out.log.reward).sum(), rewards.sum())


# --------------------------------------------------------------------------------------
# The Open Bandit Dataset (sample inside obp) and the worked examples
# --------------------------------------------------------------------------------------


@needs_obd
def test_obd_estimates_on_the_sample():
    random_data = op.load_obd("random", "men")
    log = op.obd_log(random_data)
    n, num_arms = log.num_rows, log.num_arms
    # evaluating the logging policy itself: w = 1, IPS = SNIPS = the log's CTR exactly
    uniform = jnp.full((n, num_arms), 1.0 / num_arms)
    ctr = random_data.click.mean()
    np.testing.assert_allclose(op.ips(log, uniform), ctr, rtol=1e-4)
    np.testing.assert_allclose(op.snips(log, uniform), ctr, rtol=1e-4)
    table = op.empirical_policy(op.load_obd("bts", "men"))
    assert table.shape == (3, 34)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------------------
# kind = "ope" / "replay" experiments through the schema (presets ope-check, obd-*)
# --------------------------------------------------------------------------------------


def test_ope_check_preset_from_the_command_line(tmp_path, capsys):
    """``driftsim run ope-check``, small, end to end (CLI, schema, run, results folder):
    for each of the three logging policies IPS and DR within 3 standard errors of the true
    value of the frozen target (DM's ridge model is visibly biased: the test has power);
    the folder holds the table, the per-log values and config.json (the experiment,
    rerunnable), and reads back."""
    folder = tmp_path / "ope"
    argv = ["run", "ope-check", "--seeds", "24", "--steps", "120", "--out", str(folder)]
    assert cli.main([*argv, "--set", "log.num_bootstrap=50"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("ope-check: estimators vs the true policy value\nlogger ")
    assert f"results: {folder}" in printed
    results = experiments.load(folder)  # the one Results type, for every kind
    assert results.kind == "ope" and format_summary(results) in printed
    loggers = ["uniform", "eps-frozen", "eps-learning"]
    rows = {(row["logger"], row["estimator"]): row for row in results.summary}
    assert list(rows) == [(g, e) for g in loggers for e in ("ips", "snips", "dm", "dr")]
    for (_, name), row in rows.items():
        assert 0.0 <= row["truth"] <= 1.0 and 0.0 <= row["coverage"] <= 1.0
        assert row["low"] < row["estimate"] < row["high"] and row["width"] > 0
        if name in ("ips", "dr"):
            assert abs(row["bias"]) < 3 * row["bias_se"], row
    for logger in loggers:
        assert abs(rows[logger, "dm"]["bias"]) > 3 * rows[logger, "dm"]["bias_se"]
    target = results["linucb-greedy"]
    assert target.axes["estimate"] == ("point", "seed", "estimator")
    assert target.axes["truth"] == ("point", "seed")
    assert target.points == [{"logger": g} for g in loggers]
    assert results.config["axis_values"]["estimator"] == ["ips", "snips", "dm", "dr"]
    values, truth = target.estimate[0, :, 0], target.truth[0]
    assert values.shape == truth.shape == (24,) and target.estimate.shape == (3, 24, 4)
    np.testing.assert_allclose(rows["uniform", "ips"]["bias"], np.mean(values - truth), rtol=1e-5)
    covered = np.mean(
        (target.low[1, :, 1] <= target.truth[1]) & (target.truth[1] <= target.high[1, :, 1])
    )
    assert rows["eps-frozen", "snips"]["coverage"] == pytest.approx(covered)
    assert rows["eps-frozen", "snips"]["coverage_se"] == pytest.approx(
        np.sqrt(covered * (1 - covered) / 24)
    )
    assert {p.name for p in folder.iterdir()} == {"summary.csv", "metrics.npz", "config.json"}
    config = json.loads((folder / "config.json").read_text())
    assert config["complete"] and config["kind"] == "ope" and config["num_seeds"] == 24
    saved = from_dict({k: v for k, v in config.items() if k in TOP_LEVEL_KEYS})
    assert saved.log.num_bootstrap == 50 and saved.log.agent.fields == {"epsilon": 0.2}
    assert [g.label for g in saved.log.logging_policies()] == loggers
    assert (saved.num_seeds, saved.num_steps) == (24, 120)  # reruns as it is


def test_replay_experiment_on_a_simulated_uniform_log():
    """kind = "replay" on uniform logs of a Bernoulli bandit: about n / K rows accepted; the
    uniform agent's replay reward is the mean of the arm means (3 standard errors); a
    greedy learner does clearly better."""
    means = [0.1, 0.3, 0.5, 0.8]
    results = experiments.run(
        {
            "name": "replay-check",
            "kind": "replay",
            "num_seeds": 4,
            "num_steps": 2000,
            "env": {"name": "bernoulli", "num_arms": 4, "means": means},
            "log": {"source": "simulate"},
            "agents": [
                {"label": "uniform", "name": "random"},
                {"label": "eps-0.1", "name": "epsilon_greedy", "epsilon": 0.1},
            ],
        }
    )
    rows = {row["agent"]: row for row in results.summary}
    for row in rows.values():
        assert 400 < row["accepted"] < 600  # n / K = 500 per seed
    accepted = results["uniform"].accepted
    truth = float(np.mean(means))
    se = np.sqrt(truth * (1 - truth) / accepted.sum())
    assert abs(rows["uniform"]["estimate"] - truth) < 3 * se
    assert rows["eps-0.1"]["estimate"] > truth + 6 * se
    assert "4 uniform-random logs of 2,000 rounds of bernoulli" in results.config["note"]


@needs_obd
def test_obd_presets_through_the_schema():
    """obd-ope (men): IPS of the uniform policy on the Bernoulli TS log is the numpy formula
    with the logged propensities, truth the uniform log's CTR; obd-replay: the caveat, and
    about 1 row in K accepted."""
    experiment = presets.load("obd-ope")
    experiment.log.campaign, experiment.log.num_bootstrap = "men", 100
    results = experiments.run(experiment)
    bts, uniform = op.load_obd("bts", "men"), op.load_obd("random", "men")
    ips = next(r for r in results.summary if r["log"] == "bts" and r["estimator"] == "ips")
    expected = np.mean(bts.click / bts.num_items / bts.propensity)
    np.testing.assert_allclose(ips["estimate"], expected, rtol=1e-4)
    np.testing.assert_allclose(ips["truth"], uniform.click.mean(), rtol=1e-6)
    assert ips["low"] < ips["estimate"] < ips["high"]
    pairs = {(r["log"], r["target"]) for r in results.summary}
    assert pairs == {("bts", "random"), ("random", "bts")}
    assert "not a verdict" in results.config["note"]

    replay = presets.load("obd-replay")
    replay.num_seeds, replay.num_steps = 2, 3000
    replay.agents = replay.agents[:2]
    replay.log.campaign = "men"
    results = experiments.run(replay)
    for row in results.summary:
        assert 3000 / 34 / 2 < row["accepted"] < 3000 / 34 * 2
    assert "not a verdict" in results.config["note"]
    with pytest.raises(ConfigError, match="has only 10000 rows"):
        replay.num_steps = 20_000
        experiments.run(replay)


class _FakeAgentResults:
    def __init__(self, reward, datasets):
        self.reward = reward
        self.points = [{"env.dataset": d} for d in datasets]


class _FakeResults:
    """The slice of experiments.Results that bakeoff_table reads."""

    def __init__(self, rewards, datasets):
        self.agents = list(rewards)
        self.config = {"env": {"name": "classification_bandit"}}
        self._by_label = {k: _FakeAgentResults(v, datasets) for k, v in rewards.items()}

    def __getitem__(self, label):
        return self._by_label[label]


def test_bakeoff_table_ranks_agents_per_dataset():
    rng = np.random.default_rng(0)
    shape = (2, 5, 10)  # (datasets, seeds, steps)
    means = {"a": [0.9, 0.2], "b": [0.5, 0.6], "c": [0.5, 0.1]}
    rewards = {
        k: np.asarray(m)[:, None, None] + 0.01 * rng.normal(size=shape) for k, m in means.items()
    }
    report = bakeoff_table(_FakeResults(rewards, ["iris", "wine"]))
    ranks = {(r["dataset"], r["agent"]): r["rank"] for r in report.rows}
    assert ranks[("iris", "a")] == 1 and ranks[("wine", "b")] == 1 and ranks[("wine", "c")] == 3
    assert {ranks[("iris", "b")], ranks[("iris", "c")]} == {2, 3}
    row = next(r for r in report.rows if r["dataset"] == "iris" and r["agent"] == "a")
    assert abs(row["reward"] - 0.9) < 0.01 and row["low"] < row["reward"] < row["high"]
    assert report.note.startswith("mean rank over datasets: a 1.50")


# --------------------------------------------------------------------------------------
# Intervals that cover: BCa (IPS, DM, DR), Wilson at Kish's effective sample size (SNIPS)
# --------------------------------------------------------------------------------------

# A hand-made log: 10 rows, 3 arms, rewards in [0.05, 1]; target probabilities and fixed
# reward model predictions per row.  No two resamples' sums tie with the log's (checked).
_ACTIONS = [0, 1, 2, 0, 1, 2, 0, 0, 1, 2]
_REWARDS = [0.9, 0.1, 0.7, 1.0, 0.8, 0.2, 0.05, 0.6, 0.95, 0.85]
_PROPENSITIES = [0.47, 0.23, 0.31, 0.52, 0.19, 0.29, 0.61, 0.43, 0.27, 0.11]
_TARGET = [
    [0.2, 0.3, 0.5],
    [0.1, 0.8, 0.1],
    [0.6, 0.2, 0.2],
    [1.0, 0.0, 0.0],
    [0.3, 0.3, 0.4],
    [0.0, 0.0, 1.0],
    [0.5, 0.5, 0.0],
    [0.2, 0.2, 0.6],
    [0.1, 0.1, 0.8],
    [0.3, 0.4, 0.3],
]
_PREDICTIONS = [
    [0.7745, 0.7771, 0.5138],
    [0.3072, 0.0985, 0.395],
    [0.4176, 0.0907, 0.0939],
    [0.9493, 0.6371, 0.2611],
    [0.4415, 0.9268, 0.8579],
    [0.8098, 0.4032, 0.4937],
    [0.659, 0.1047, 0.55],
    [0.2943, 0.8417, 0.1078],
    [0.6613, 0.8331, 0.2546],
    [0.8559, 0.835, 0.0667],
]


def _bca_numpy(terms, boot, level):
    """Efron's BCa interval of the mean of ``terms`` from its bootstrap means ``boot``."""
    normal = NormalDist()
    value, size = terms.mean(), len(boot)
    below = np.mean(boot < value) + 0.5 * np.mean(boot == value)
    z0 = normal.inv_cdf(min(max(below, 0.5 / size), 1 - 0.5 / size))
    d = terms - value
    accel = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    z = [normal.inv_cdf((1 - level) / 2), normal.inv_cdf((1 + level) / 2)]
    levels = [normal.cdf(z0 + (z0 + zj) / (1 - accel * (z0 + zj))) for zj in z]
    return np.quantile(boot, levels)


def _wilson_numpy(w, r, level, lo=0.0, hi=1.0):
    """Wilson's score interval for the weighted mean of r in [lo, hi], n = Kish's n_eff."""
    z2 = NormalDist().inv_cdf((1 + level) / 2) ** 2
    p = (np.sum(w * r) / np.sum(w) - lo) / (hi - lo)
    n = np.sum(w) ** 2 / np.sum(w**2)
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = np.sqrt(z2 * p * (1 - p) / n + z2**2 / (4 * n**2)) / (1 + z2 / n)
    return lo + (hi - lo) * (centre - half), lo + (hi - lo) * (centre + half)


def test_bca_and_wilson_intervals_match_numpy():
    """``interval = "auto"`` on a hand-made log: IPS, DM and DR get Efron's BCa interval
    from the same resample counts, SNIPS Wilson's score interval at Kish's effective
    sample size (in the reward range given, else the log's observed one)."""
    a, r, p = np.array(_ACTIONS), np.array(_REWARDS), np.array(_PROPENSITIES)
    target, q = np.array(_TARGET), np.array(_PREDICTIONS)
    n = len(a)
    log = op.log_from_arrays(np.zeros((n, 0)), a, r, p, 3)
    w = target[np.arange(n), a] / p
    terms = {
        "ips": w * r,
        "dm": (target * q).sum(1),
        "dr": (target * q).sum(1) + w * (r - q[np.arange(n), a]),
    }
    key, level, num_bootstrap = jax.random.key(3), 0.9, 400
    evaluate = jax.jit(op.estimate, static_argnames=("num_bootstrap", "level", "reward_range"))
    t, qq = jnp.asarray(target, jnp.float32), jnp.asarray(q, jnp.float32)
    result = evaluate(key, log, t, qq, num_bootstrap=num_bootstrap, level=level)
    counts = np.asarray(op.bootstrap_counts(key, n, num_bootstrap), np.float64)
    for name, x in terms.items():
        est = getattr(result, name)
        boot = counts @ x / n
        assert np.min(np.abs(boot - x.mean())) > 1e-5  # no tie: float32 and numpy agree
        np.testing.assert_allclose(est.value, x.mean(), rtol=1e-5)
        np.testing.assert_allclose([est.low, est.high], _bca_numpy(x, boot, level), rtol=1e-4)
        np.testing.assert_allclose(est.std_error, boot.std(ddof=1), rtol=1e-3)
    # IPS's terms are skewed to the right: BCa reaches further above than below
    assert result.ips.high - result.ips.value > result.ips.value - result.ips.low
    np.testing.assert_allclose(  # no reward_range: the log's observed [0.05, 1]
        [result.snips.low, result.snips.high], _wilson_numpy(w, r, level, 0.05, 1.0), rtol=1e-5
    )
    wide = evaluate(
        key, log, t, qq, num_bootstrap=num_bootstrap, level=level, reward_range=(-1.0, 2.0)
    )
    np.testing.assert_allclose(
        [wide.snips.low, wide.snips.high], _wilson_numpy(w, r, level, -1.0, 2.0), rtol=1e-5
    )
    with pytest.raises(ConfigError, match="interval = 'bca': unknown; allowed: auto, percentile"):
        op.estimate(key, log, t, qq, interval="bca")


def _fixed_logger(probabilities):
    """A stationary stochastic logging policy that gives its exact distribution."""
    probs = jnp.asarray(probabilities, jnp.float32)
    return dataclasses.replace(
        _fixed_policy(probabilities), action_probabilities=lambda s, c, hp: probs
    )


def _coverage(logger, target, means, num_logs, num_rows, level, interval, seed=21):
    """Per estimator, how often the interval held the true value over ``num_logs`` logs of
    a fixed logger on a Bernoulli bandit (exact propensities)."""
    env = BernoulliBandit(num_arms=len(means), means=tuple(means))
    record = op.make_recorder(env, _fixed_logger(logger), num_rows, "exact")
    probabilities = jnp.broadcast_to(jnp.asarray(target, jnp.float32), (num_rows, len(means)))
    truth = float(np.dot(target, means))

    def one(key):
        key_log, key_estimate = jax.random.split(key)
        log = record(key_log, env.default_params(), _NoHParams())
        return op.estimate(
            key_estimate,
            log,
            probabilities,
            num_bootstrap=400,
            level=level,
            interval=interval,
            reward_range=(0.0, 1.0),
        )

    result = jax.jit(jax.vmap(one))(_seeds(num_logs, seed))
    return {
        name: float(np.mean((np.asarray(e.low) <= truth) & (truth <= np.asarray(e.high))))
        for name, e in zip(op.ESTIMATORS, result)
    }


def test_intervals_cover_on_a_fixed_uniform_logger():
    """200 logs of 200 rows of a fixed uniform logger on a Bernoulli bandit, a stochastic
    target: IPS, SNIPS and DR cover the true value at the nominal 90% within 3 Monte-Carlo
    standard errors (0.064); an interval half as wide would cover about 60%."""
    coverage = _coverage([1 / 3] * 3, [0.1, 0.3, 0.6], [0.2, 0.5, 0.7], 200, 200, 0.9, "auto")
    tolerance = 3 * np.sqrt(0.9 * 0.1 / 200)
    for name in ("ips", "snips", "dr"):
        assert abs(coverage[name] - 0.9) < tolerance, coverage


def test_wilson_covers_snips_where_the_bootstrap_does_not():
    """A fixed skewed logger (arm 2 with probability 0.1) and a target that always plays
    arm 2 (weights 10): SNIPS is the mean reward of about 10 rows (mean 0.9), often all
    clicks.  Over 200 logs of 100 rows at a nominal 95%, Wilson's interval at Kish's
    effective sample size covers within 3 Monte-Carlo standard errors (0.046; its exact
    coverage here is 95.9%), the percentile bootstrap far below (Wald's interval: 63%);
    IPS's BCa interval covers too."""
    logger, target, means = [0.8, 0.1, 0.1], [0.0, 0.0, 1.0], [0.3, 0.5, 0.9]
    auto = _coverage(logger, target, means, 200, 100, 0.95, "auto")
    percentile = _coverage(logger, target, means, 200, 100, 0.95, "percentile")
    tolerance = 3 * np.sqrt(0.95 * 0.05 / 200)
    assert abs(auto["snips"] - 0.95) < tolerance, auto
    assert abs(auto["ips"] - 0.95) < tolerance, auto
    assert percentile["snips"] < 0.95 - tolerance, percentile


def _ope(log_table, **overrides):
    """A small simulated ope experiment on a Bernoulli bandit with the given ``[log]``."""
    data = {
        "name": "loggers",
        "kind": "ope",
        "num_seeds": 4,
        "num_steps": 60,
        "env": {"name": "bernoulli", "num_arms": 3},
        "agents": [{"label": "greedy", "name": "epsilon_greedy", "epsilon": 0.0}],
        "log": {"source": "simulate", "agent": {"name": "epsilon_greedy", "epsilon": 0.2}},
    }
    data["log"].update(log_table)
    data.update(overrides)
    return from_dict(data)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"learn": "no"}, "log.learn = 'no': must be true or false"),
        ({"pretrain_steps": -1}, "log.pretrain_steps = -1: must be an integer >= 0"),
        ({"interval": "bca"}, "log.interval = 'bca': unknown; allowed: auto, percentile"),
        ({"loggers": []}, "log.loggers = []: must be a non-empty list of tables with keys from "
         "label, agent, learn, pretrain_steps"),
        ({"loggers": [{"label": "a", "seed": 1}]},
         "log.loggers[0].seed: unknown; allowed: label, agent, learn, pretrain_steps"),
        ({"loggers": [{"agent": "random"}]}, "log.loggers[0].label = None: required"),
        ({"loggers": [{"label": "a"}, {"label": "a", "learn": False}]},
         "log.loggers: label 'a' is used twice; labels must be unique"),
        ({"loggers": [{"label": "a", "learn": 0}]}, "log.loggers[0].learn = 0: must be true or false"),
        ({"loggers": [{"label": "a", "pretrain_steps": 1.5}]},
         "log.loggers[0].pretrain_steps = 1.5: must be an integer >= 0"),
        ({"loggers": [{"label": "a", "agent": {"name": "random", "label": "b"}}]},
         "log.loggers[0].agent.label: not used (the logger's label names it)"),
    ],
)  # fmt: skip
def test_logger_fields_are_validated(table, message):
    with pytest.raises(ConfigError) as info:
        _ope(table)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_logger_fields_only_where_they_apply_and_round_trip(tmp_path):
    from experiments.schema import load_toml, to_toml

    with pytest.raises(ConfigError, match="log.learn: not used with kind = 'replay'"):
        from_dict(
            {
                "kind": "replay",
                "env": {"name": "bernoulli", "num_arms": 3},
                "agents": [{"name": "random"}],
                "log": {"source": "simulate", "learn": False},
            }
        )
    experiment = _ope(
        {
            "pretrain_steps": 30,
            "loggers": [
                {"label": "uniform", "agent": "random", "learn": False},
                {"label": "frozen", "learn": False},
                {"label": "learning", "pretrain_steps": 0},
            ],
        }
    )
    path = tmp_path / "e.toml"
    path.write_text(to_toml(experiment))
    assert load_toml(path).to_dict() == experiment.to_dict()
    resolved = experiment.log.logging_policies()
    assert [(g.label, g.agent.name, g.learn, g.pretrain_steps) for g in resolved] == [
        ("uniform", "random", False, 30),
        ("frozen", "epsilon_greedy", False, 30),
        ("learning", "epsilon_greedy", True, 0),
    ]
    alone = _ope({}).log.logging_policies()  # no loggers: the table's one, by its agent
    assert [(g.label, g.learn, g.pretrain_steps) for g in alone] == [("epsilon_greedy", True, 0)]
    bad = _ope(
        {
            "loggers": [
                {"label": "a"},
                {"label": "b", "agent": {"name": "epsilon_greedy", "epsilon": 2.0}},
            ]
        }
    )
    with pytest.raises(
        ConfigError, match=r"log.loggers\[1\].agent.epsilon = 2.0: must be in \[0, 1\]"
    ):
        logged.prepare(bad)


def test_a_frozen_logger_logs_one_fixed_policy():
    """``learn = false`` after ``pretrain_steps``: the logging ε-greedy keeps the greedy arm
    it learned (propensity 1 - ε + ε/K on it, ε/K elsewhere, on every row); learning as it
    logs from scratch it starts uniform (ties: 1/K) and moves on.  The table gets one row
    set per logger."""
    experiment = _ope(
        {
            "loggers": [
                {"label": "frozen", "learn": False, "pretrain_steps": 200},
                {"label": "learning"},
            ]
        },
        num_steps=80,
    )
    plan = logged.prepare(experiment)
    frozen, learning = plan.loggers
    state = logged._train_target(
        jax.random.key(0), plan.env, frozen.agent, 200, plan.env_params, frozen.hparams
    )
    acting = logged._logging_agent(frozen.agent, state, learn=False)
    log = jax.jit(op.make_recorder(plan.env, acting, 80, "exact"))(
        jax.random.key(1), plan.env_params, frozen.hparams
    )
    propensity, action = np.asarray(log.propensity), np.asarray(log.action)
    greedy = int(np.argmax(np.asarray(state.values)))
    expected = np.where(action == greedy, 0.8 + 0.2 / 3, 0.2 / 3)
    np.testing.assert_allclose(propensity, expected, rtol=1e-5)
    moving = logged._logging_agent(learning.agent, None, learn=True)
    log = jax.jit(op.make_recorder(plan.env, moving, 80, "exact"))(
        jax.random.key(1), plan.env_params, learning.hparams
    )
    assert np.asarray(log.propensity)[0] == pytest.approx(1 / 3)
    assert np.asarray(log.propensity).max() > 0.8
    results = experiments.run(experiment)
    assert [(r["logger"], r["estimator"]) for r in results.summary][:5] == [
        ("frozen", "ips"),
        ("frozen", "snips"),
        ("frozen", "dm"),
        ("frozen", "dr"),
        ("learning", "ips"),
    ]
    assert (
        "frozen: epsilon_greedy (epsilon=0.2), trained 200 rounds, then frozen"
        in results.config["note"]
    )
