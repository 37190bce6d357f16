"""The online gradient learner: numpy references, convergence, regret, sweeps, DP, bandits."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import simulator
from agents.contextual.linear_greedy import linear_greedy
from agents.linear_model import estimate, online_linear
from agents.ogd import ogd
from agents.optimizers import optimizer_names, resolve_schedule
from agents.types import Transition
from experiments.runner import advance, init_carry, make_run, split_run_key
from simulator.params import ConfigError
from simulator.types import Context, make_oracle

DIM = 4


def stream(seed, num_steps, dim=DIM, binary=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_steps, dim)).astype(np.float32)
    f = x @ rng.normal(size=dim) + 0.3
    if binary:
        y = (rng.uniform(size=num_steps) < 1 / (1 + np.exp(-f))).astype(np.float32)
    else:
        y = (f + 0.5 * rng.normal(size=num_steps)).astype(np.float32)
    return x, y


def transition(x, y):
    context = Context(features=x, arm_features=jnp.zeros((1, 0), jnp.float32))
    return Transition(context, jnp.float32(0), jnp.float32(0), y, make_oracle(jnp.zeros(1)))


def run_agent(agent, hparams, x, y):
    """Predictions and final state of ``agent`` fed the examples (x_t, y_t) in order."""
    key = jax.random.key(0)

    def body(state, inputs):
        t, xt, yt = inputs
        tr = transition(xt, yt)
        prediction = agent.act(jax.random.fold_in(key, 2 * t), state, tr.context, hparams)
        state = agent.update(jax.random.fold_in(key, 2 * t + 1), state, tr, hparams)
        return state, prediction

    def run(hparams):
        state = agent.init(key, hparams)
        return jax.lax.scan(body, state, (jnp.arange(len(y)), jnp.asarray(x), jnp.asarray(y)))

    state, predictions = jax.jit(run)(hparams)
    return np.asarray(predictions, np.float64), state


# ---------------------------------------------------------------------------------------
# numpy references
# ---------------------------------------------------------------------------------------


def test_sgd_matches_numpy_with_l2_clipping_and_schedule():
    x, y = stream(0, 150)
    lr, l2, clip, tau = 0.1, 0.05, 3.0, 20.0
    agent = ogd(DIM, optimizer="sgd", schedule="inverse_sqrt")
    hp = agent.default_hparams().replace(
        learning_rate=lr, l2=l2, clip_norm=clip, lr_decay_steps=tau
    )
    predictions, state = run_agent(agent, hp, x, y)

    w, b, expected, clipped = np.zeros(DIM), 0.0, [], 0
    for t in range(len(y)):
        s = x[t] @ w + b
        expected.append(s)
        g_w, g_b = (s - y[t]) * x[t] + l2 * w, s - y[t]
        norm = np.sqrt(g_w @ g_w + g_b**2)
        if norm >= clip:
            g_w, g_b, clipped = g_w * clip / norm, g_b * clip / norm, clipped + 1
        eta = lr / np.sqrt(1 + t / tau)
        w, b = w - eta * g_w, b - eta * g_b
    assert 0 < clipped < len(y)  # both branches of the clipping were exercised
    np.testing.assert_allclose(predictions, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(estimate(state)), np.append(w, b), rtol=1e-5, atol=1e-6)


def test_adam_matches_numpy_on_logistic_loss():
    x, y = stream(1, 150, binary=True)
    lr, b1, b2, eps = 0.05, 0.8, 0.95, 1e-6
    agent = ogd(DIM, optimizer="adam", loss="logistic")
    hp = agent.default_hparams().replace(learning_rate=lr, b1=b1, b2=b2, eps=eps)
    predictions, state = run_agent(agent, hp, x, y)

    theta, m, v, expected = np.zeros(DIM + 1), np.zeros(DIM + 1), np.zeros(DIM + 1), []
    for t in range(len(y)):
        xt = np.append(x[t], 1.0)
        s = xt @ theta
        expected.append(s)
        g = (1 / (1 + np.exp(-s)) - y[t]) * xt
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** (t + 1)), v / (1 - b2 ** (t + 1))
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(predictions, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(estimate(state)), theta, rtol=1e-5, atol=1e-5)


def test_loss_gradients_match_closed_forms():
    x = jnp.asarray([0.5, -1.0, 2.0, 0.0], jnp.float32)
    for loss, y, expected_ds in [
        ("squared", 2.0, lambda s: s - 2.0),
        ("logistic", 1.0, lambda s: 1 / (1 + np.exp(-s)) - 1.0),
        ("hinge", 0.0, lambda s: 1.0 if s > -1 else 0.0),  # y = 0 -> label -1
    ]:
        model = online_linear(DIM, loss=loss)
        params = model.init(ogd(DIM).default_hparams()).params
        params = params._replace(weights=jnp.asarray([0.1, 0.2, -0.3, 0.4], jnp.float32))
        s = float(model.score(params, x))
        grads = model.gradient(params, x, jnp.float32(y))
        np.testing.assert_allclose(
            np.asarray(grads.weights), expected_ds(s) * np.asarray(x), rtol=1e-6
        )
        np.testing.assert_allclose(float(grads.bias), expected_ds(s), rtol=1e-6)


def test_schedules_are_the_stated_multipliers():
    t = jnp.arange(0, 50, 7, dtype=jnp.float32)
    hp = (
        ogd(DIM, schedule="polynomial").default_hparams().replace(lr_decay_steps=10.0, lr_power=0.7)
    )
    np.testing.assert_allclose(
        resolve_schedule("polynomial").multiplier(t, hp), (1 + t / 10) ** -0.7, rtol=1e-6
    )
    hp = (
        ogd(DIM, schedule="cosine")
        .default_hparams()
        .replace(lr_decay_steps=20.0, lr_final_fraction=0.1)
    )
    expected = 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 20) / 20))
    np.testing.assert_allclose(
        resolve_schedule("cosine").multiplier(t, hp), expected, rtol=1e-6, atol=1e-7
    )
    optax_shape = resolve_schedule("cosine_decay_schedule(decay_steps=30, alpha=0.2)")
    reference = optax.cosine_decay_schedule(1.0, 30, 0.2)
    np.testing.assert_allclose(optax_shape.multiplier(t, None), reference(t), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------


def test_seed_example_converges_to_one_one():
    env = simulator.make("seed_example")
    agent = ogd(1, optimizer="sgd")
    hp = agent.default_hparams().replace(learning_rate=0.03)
    keys = split_run_key(jax.random.key(0))

    @jax.jit
    def run(num_steps_key):
        carry = init_carry(env, agent, keys, env.default_params(), hp)
        first, _ = advance(env, agent, carry, keys, env.default_params(), hp, 0, 1)
        last, log = advance(env, agent, carry, keys, env.default_params(), hp, 0, 3000)
        return estimate(first.agent_state), estimate(last.agent_state), log

    first, theta, log = run(0)
    # first update on (x, y) = (1, 2) from (0, 0): grad = -(2 - 0)(1, 1), lr 0.03 -> 0.06 each
    np.testing.assert_allclose(np.asarray(first), [0.06, 0.06], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(theta), [1.0, 1.0], atol=1e-2)  # (w, b) = (1, 1)
    assert float(log.loss[-5:].max()) < 1e-4 and float(log.optimal[-5:].min()) == 1.0


def test_regret_is_sublinear_on_a_stationary_stream():
    # SGD with eta_t = 0.05 / sqrt(1 + t / 10): dynamic regret (= static here) grows like sqrt(T)
    env = simulator.make("regression_stream", context_dim=8)
    agent = ogd(8, optimizer="sgd", schedule="inverse_sqrt")
    hp = agent.default_hparams().replace(learning_rate=0.05, lr_decay_steps=10.0)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(3), i))(jnp.arange(4))
    num_steps = 2000
    log = jax.jit(jax.vmap(make_run(env, agent, num_steps), in_axes=(0, None, None)))(
        keys, env.default_params(), hp
    )
    regret = np.asarray(log.regret, np.float64)
    first, second = regret[:, : num_steps // 2].sum(1), regret[:, num_steps // 2 :].sum(1)
    assert np.all(second < 0.5 * first), second / first
    # the loss above the noise floor noise^2/2 is the regret, on average
    excess = np.asarray(log.loss).mean() - 0.5 * 0.5**2
    assert abs(excess - regret.mean()) < 0.05


def test_divergent_point_does_not_affect_the_other_points_of_a_sweep():
    # Bitwise: the sweep without the divergent point gives the very same numbers.  (A sweep
    # of one point, or no vmap at all, may differ in the last bit: XLA's CPU code for a
    # batch of one is not the vectorised code of a batch of several.)
    env = simulator.make("regression_stream", context_dim=8)
    agent = ogd(8, optimizer="sgd")
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(3))
    run = jax.jit(
        jax.vmap(
            jax.vmap(make_run(env, agent, 200), in_axes=(0, None, None)), in_axes=(None, None, 0)
        )
    )

    def sweep(rates):
        hp = jax.tree.map(
            lambda v: jnp.full((len(rates),), v, jnp.float32), agent.default_hparams()
        )
        return run(
            keys, env.default_params(), hp.replace(learning_rate=jnp.asarray(rates, jnp.float32))
        )

    with_divergent = np.asarray(sweep([0.01, 10.0, 0.05]).loss)
    without = np.asarray(sweep([0.01, 0.05]).loss)
    assert not np.all(np.isfinite(with_divergent[1]))  # sgd at lr 10 blows up ...
    assert np.all(np.isfinite(with_divergent[[0, 2]]))
    np.testing.assert_array_equal(with_divergent[[0, 2]], without)  # ... and touches no other point


@pytest.mark.parametrize(
    "name, learning_rate",
    [
        ("momentum", 0.02),
        ("nesterov", 0.02),
        ("adagrad", 0.5),
        ("rmsprop", 0.02),
        ("adamw", 0.02),
        ("adafactor", 1.0),  # relative steps: scaled by the parameters' rms
        ("lion", 0.02),
        ("contrib.prodigy", 1.0),  # learning_rate multiplies its own estimate
    ],
)
def test_optax_optimizers_learn_the_seed_example(name, learning_rate):
    x = np.tile(np.arange(1, 6, dtype=np.float32), 80)[:, None]
    agent = ogd(1, optimizer=name)
    hp = agent.default_hparams().replace(learning_rate=learning_rate)
    predictions, _ = run_agent(agent, hp, x, x[:, 0] + 1)
    loss = 0.5 * (predictions - (x[:, 0] + 1)) ** 2
    assert np.all(np.isfinite(loss))
    assert loss[-50:].mean() < 0.2 * loss[:50].mean()


def test_optimizer_options_and_bad_input():
    assert {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lion"} <= set(
        optimizer_names()
    )
    hp = ogd(DIM, optimizer="rmsprop(centered=True, decay=0.8)").default_hparams()
    assert hp.decay == pytest.approx(0.8)  # float options become traced knobs
    assert ogd(DIM, optimizer="momentum").default_hparams().momentum == pytest.approx(0.9)
    assert "noise_multiplier" in ogd(DIM, private=True).default_hparams().__dataclass_fields__
    assert ogd(DIM, optimizer=optax.adam).default_hparams().b2 == pytest.approx(0.999)
    with pytest.raises(ConfigError, match="allowed: .*adagrad"):
        ogd(DIM, optimizer="adamm")
    with pytest.raises(ConfigError, match="unknown option 'beta1'"):
        ogd(DIM, optimizer="adam(beta1=0.9)")
    with pytest.raises(ConfigError, match="learning_rate"):
        ogd(DIM, optimizer="adam(learning_rate=0.1)")
    with pytest.raises(ConfigError, match="use private=True"):
        ogd(DIM, optimizer="contrib.dpsgd")
    with pytest.raises(ConfigError, match="agent.loss"):
        ogd(DIM, loss="absolute")
    with pytest.raises(ConfigError, match="agent.schedule"):
        ogd(DIM, schedule="linear_schedule(end_value=0.1)")  # transition_steps missing
    with pytest.raises(ConfigError, match="allowed: constant"):
        ogd(DIM, schedule="warmup")


# ---------------------------------------------------------------------------------------
# Differential privacy
# ---------------------------------------------------------------------------------------


def test_dp_noise_has_the_stated_std_and_clips_to_c():
    dim, sigma, c, n = 16, 0.7, 2.0, 4000
    agent = ogd(dim, private=True)
    hp = agent.default_hparams().replace(learning_rate=1.0, noise_multiplier=sigma, dp_clip_norm=c)
    state = agent.init(jax.random.key(0), hp)
    keys = jax.random.split(jax.random.key(1), n)

    def theta_after(key, x, y, hp):
        return estimate(agent.update(key, state, transition(x, y), hp))

    step = jax.jit(jax.vmap(theta_after, in_axes=(0, None, None, None)))
    # a zero gradient (label = prediction = 0): the update is the noise, std sigma * C
    noise = np.asarray(step(keys, jnp.zeros(dim), jnp.float32(0.0), hp))
    assert abs(noise.std() / (sigma * c) - 1) < 0.02
    assert abs(noise.mean()) < 4 * sigma * c / np.sqrt(noise.size)
    # a huge gradient without noise is clipped to norm C (learning rate 1)
    clipped = np.asarray(
        step(keys[:2], jnp.ones(dim), jnp.float32(100.0), hp.replace(noise_multiplier=0.0))
    )
    np.testing.assert_allclose(np.linalg.norm(clipped, axis=1), c, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# The same model as a bandit's reward model
# ---------------------------------------------------------------------------------------


def test_linear_greedy_updates_only_the_chosen_arm_with_the_ogd_model():
    agent = linear_greedy(num_arms=3, context_dim=DIM, optimizer="adam")
    hp = agent.default_hparams().replace(learning_rate=0.1)
    x = jnp.asarray([1.0, -2.0, 0.5, 0.0], jnp.float32)
    context = Context(features=x, arm_features=jnp.zeros((3, 0), jnp.float32))
    tr = Transition(
        context, jnp.int32(1), jnp.float32(2.0), jnp.float32(jnp.nan), make_oracle(jnp.zeros(3))
    )
    model = online_linear(DIM, optimizer="adam")

    @jax.jit
    def both(hp):
        new = agent.update(jax.random.key(1), agent.init(jax.random.key(0), hp), tr, hp)
        single = model.update(jax.random.key(1), model.init(hp), x, jnp.float32(2.0), hp)
        return new, single

    new, single = both(hp)
    np.testing.assert_array_equal(
        np.asarray(new.params.weights[1]), np.asarray(single.params.weights)
    )
    np.testing.assert_array_equal(np.asarray(new.params.weights)[[0, 2]], 0.0)


@pytest.mark.parametrize("exploration", ["epsilon", "softmax"])
def test_linear_greedy_shared_model_finds_the_best_arm(exploration):
    num_arms, dim, num_steps = 6, 3, 600
    rng = np.random.default_rng(1)  # best arm 0.72, next 0.35
    arms = jnp.asarray(rng.normal(size=(num_arms, dim)), jnp.float32)
    truth = jnp.asarray([1.0, -0.5, 0.8], jnp.float32)
    means = arms @ truth
    agent = linear_greedy(num_arms=num_arms, arm_dim=dim, exploration=exploration, optimizer="adam")
    hp = agent.default_hparams().replace(learning_rate=0.05)
    hp = hp.replace(epsilon=0.2) if exploration == "epsilon" else hp.replace(temperature=0.05)
    context = Context(features=jnp.zeros((0,), jnp.float32), arm_features=arms)

    def body(state, key):
        key_act, key_reward, key_update = jax.random.split(key, 3)
        arm = agent.act(key_act, state, context, hp)
        reward = means[arm] + 0.3 * jax.random.normal(key_reward)
        tr = Transition(context, arm, reward, jnp.float32(jnp.nan), make_oracle(means))
        return agent.update(key_update, state, tr, hp), arm

    keys = jax.random.split(jax.random.key(2), num_steps)
    _, chosen = jax.jit(lambda: jax.lax.scan(body, agent.init(keys[0], hp), keys))()
    best = int(jnp.argmax(means))
    assert (
        np.mean(np.asarray(chosen[-200:]) == best) > 0.7
    )  # epsilon: 0.8 + 0.2/6 if greedy is right
