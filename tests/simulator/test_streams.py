"""Full-information streams: label semantics, noise statistics, metrics, drift, replay."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import simulator
from agents.ogd import ogd
from experiments.runner import RESET_INDEX, make_run, split_run_key
from simulator.params import ConfigError, replace_path
from simulator.streams import hindsight_losses, replay


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def truth_of(timestep):
    theta = np.asarray(timestep.oracle.true_param, np.float64)
    return np.asarray(timestep.context.features, np.float64) @ theta[:-1] + theta[-1]


def test_regression_labels_rewards_and_metrics():
    env = simulator.make("regression_stream", context_dim=5)
    params = env.default_params().replace(noise=0.0)
    step, log = jax.jit(env.step), jax.jit(env.log)
    state, timestep = env.reset(jax.random.key(0), params)
    spec = env.spec  # a real prediction, full information, the truth's link declared
    assert (spec.num_arms, spec.context_dim, spec.arm_dim) == (1, 5, 0)
    assert (spec.action, spec.feedback, spec.param_link) == ("prediction", "label", "identity")
    assert timestep.oracle.true_param.shape == (6,) and np.isnan(float(timestep.label))
    for t in range(4):
        f = truth_of(timestep)
        assert float(timestep.oracle.expected_reward[0]) == pytest.approx(f, rel=1e-5, abs=1e-6)
        action = jnp.float32(0.25 * t)
        state, next_timestep = step(jax.random.key(t + 1), state, action, params)
        # the label revealed with the next timestep is the previous context's (noise 0: f*)
        assert float(next_timestep.label) == pytest.approx(f, rel=1e-5, abs=1e-6)
        metrics = log(timestep, action, next_timestep)
        assert float(metrics.loss) == pytest.approx(0.5 * (0.25 * t - f) ** 2, rel=1e-5)
        assert (
            float(metrics.reward)
            == pytest.approx(float(next_timestep.reward))
            == -float(metrics.loss)
        )
        assert float(metrics.regret) == pytest.approx(0.5 * (0.25 * t - f) ** 2, rel=1e-5)
        exact = log(timestep, jnp.float32(f), next_timestep)  # predicting the truth: no regret
        assert float(exact.regret) < 1e-10 and float(exact.optimal) == 1.0
        timestep = next_timestep


def sample_next(env, params, key_reset, num_keys, action):
    """One reset, then ``num_keys`` independent next steps from the same state, jitted."""

    @jax.jit
    def run(params):
        state, timestep = env.reset(key_reset, params)
        keys = jax.random.split(jax.random.key(1), num_keys)
        _, nexts = jax.vmap(env.step, in_axes=(0, None, None, None))(keys, state, action, params)
        metrics = jax.vmap(env.log, in_axes=(None, None, 0))(timestep, action, nexts)
        return timestep, nexts, metrics

    return run(params)


def test_regression_noise_and_feature_scale():
    env = simulator.make("regression_stream", context_dim=3)
    params = env.default_params().replace(noise=0.7, feature_scale=2.0)
    timestep, nexts, _ = sample_next(env, params, jax.random.key(0), 20_000, jnp.float32(0))
    residual = np.asarray(nexts.label) - truth_of(timestep)
    assert abs(residual.std() / 0.7 - 1) < 0.03 and abs(residual.mean()) < 4 * 0.7 / np.sqrt(20_000)
    assert abs(np.asarray(nexts.context.features).std() / 2.0 - 1) < 0.03


def test_classification_labels_and_kl_regret():
    env = simulator.make("classification_stream", context_dim=3)
    q, n, score = 0.1, 40_000, 0.3
    params = env.default_params().replace(label_noise=q)
    timestep, nexts, metrics = sample_next(env, params, jax.random.key(3), n, jnp.float32(score))
    p = q + (1 - 2 * q) * sigmoid(truth_of(timestep))
    assert float(timestep.oracle.expected_reward[0]) == pytest.approx(p, rel=1e-5)
    labels = np.asarray(nexts.label)
    assert abs(labels.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
    # regret = KL(p || sigmoid(s)) = E[loss] - H(p): check against the sampled losses
    s_prob = sigmoid(score)
    kl = p * np.log(p / s_prob) + (1 - p) * np.log((1 - p) / (1 - s_prob))
    np.testing.assert_allclose(np.asarray(metrics.regret), kl, rtol=1e-4)
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    loss = np.asarray(metrics.loss)
    assert abs(loss.mean() - entropy - kl) < 4 * loss.std() / np.sqrt(n)
    np.testing.assert_array_equal(np.asarray(metrics.error), (labels != 1.0).astype(np.float32))
    assert np.all(np.asarray(metrics.optimal) == float(p > 0.5))
    bayes_score = jnp.float32(np.log(p / (1 - p)))
    first = jax.jit(lambda n: jax.tree.map(lambda x: x[0], n))(nexts)
    assert float(jax.jit(env.log)(timestep, bayes_score, first).regret) < 1e-6


def test_seed_example_is_the_articles_data():
    env = simulator.make("seed_example")
    params = env.default_params()
    state, timestep = env.reset(jax.random.key(0), params)
    xs, labels = [], []
    for t in range(7):
        xs.append(float(timestep.context.features[0]))
        state, timestep = env.step(jax.random.key(t), state, jnp.float32(0), params)
        labels.append(float(timestep.label))
    assert xs == [1, 2, 3, 4, 5, 1, 2]
    assert labels == [x + 1 for x in xs]
    np.testing.assert_array_equal(np.asarray(timestep.oracle.true_param), [1.0, 1.0])  # (w, b)


def test_truth_drifts_under_the_drift_module():
    still = simulator.make("regression_stream", context_dim=4)
    walk = simulator.make("regression_stream", context_dim=4, drift="random_walk")
    params = walk.default_params()
    params = replace_path(params, ["drift", "rate"], 0.1, "env")  # the sweep key env.drift.rate
    assert float(params.drift.rate) == pytest.approx(0.1)
    for env, p, moved in ((still, still.default_params(), False), (walk, params, True)):
        state, timestep = env.reset(jax.random.key(0), p)
        _, next_timestep = env.step(jax.random.key(1), state, jnp.float32(0), p)
        change = np.abs(np.asarray(next_timestep.oracle.true_param - timestep.oracle.true_param))
        assert (change.max() > 0.01) == moved
    abrupt = simulator.make("regression_stream", context_dim=4, drift="abrupt")
    p = replace_path(abrupt.default_params(), ["drift", "period"], 3.0, "env")
    p = replace_path(p, ["drift", "hazard"], 0.0, "env")
    state, timestep = abrupt.reset(jax.random.key(0), p)
    flags = []
    for t in range(6):
        state, timestep = abrupt.step(jax.random.key(t), state, jnp.float32(0), p)
        flags.append(bool(timestep.oracle.change_point))
    assert flags == [False, False, True, False, False, True]


def test_replay_regenerates_the_run_and_hindsight_is_least_squares():
    env = simulator.make("regression_stream", context_dim=3)
    params = env.default_params()
    agent = ogd(3)
    num_steps, key = 60, jax.random.key(5)
    # a learner with learning rate 0 predicts 0, so its loss is y_t^2 / 2
    hparams = agent.default_hparams().replace(learning_rate=0.0)
    log = jax.jit(make_run(env, agent, num_steps))(key, params, hparams)
    env_key = split_run_key(key).env
    step_keys = jax.vmap(lambda t: jax.random.fold_in(env_key, t))(jnp.arange(num_steps))
    sequence = jax.jit(lambda k, ks: replay(env, k, ks, params))(
        jax.random.fold_in(env_key, RESET_INDEX), step_keys
    )
    np.testing.assert_allclose(
        np.asarray(log.loss), 0.5 * np.asarray(sequence.labels) ** 2, rtol=1e-5, atol=1e-8
    )

    ridge = 1e-3
    increments = np.asarray(hindsight_losses(sequence.features, sequence.labels, ridge))
    x = np.concatenate([np.asarray(sequence.features, np.float64), np.ones((num_steps, 1))], axis=1)
    y = np.asarray(sequence.labels, np.float64)
    for t in (5, 20, 60):
        a = ridge * np.eye(4) + x[:t].T @ x[:t]
        theta = np.linalg.solve(a, x[:t].T @ y[:t])
        best = 0.5 * ridge * theta @ theta + 0.5 * np.sum((x[:t] @ theta - y[:t]) ** 2)
        assert increments[:t].sum() == pytest.approx(best, rel=1e-3, abs=1e-4)
    assert np.all(increments >= 0)


def test_bad_static_fields():
    with pytest.raises(ConfigError, match="env.context_dim"):
        simulator.make("regression_stream", context_dim=0)
    with pytest.raises(ConfigError, match="allowed: .*random_walk"):
        simulator.make("classification_stream", drift="brownian")
    with pytest.raises(ConfigError, match="env.num_points"):
        simulator.make("seed_example", num_points=1)
    with pytest.raises(ConfigError, match="label_noise"):
        simulator.check(
            simulator.make("classification_stream").default_params().replace(label_noise=0.7), "env"
        )
