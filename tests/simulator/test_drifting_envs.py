"""The drifting, contextual and recommender environments: oracles against numpy, change
points, statistics, common random numbers and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from experiments.runner import RESET_INDEX, advance, init_carry, make_run, split_run_key
from simulator import contextual, wheel
from simulator.params import ConfigError, check, replace_path
from simulator.piecewise import reflect_unit


def rollout(env, params, key, actions):
    """Reset then step through ``actions (T,)``; returns the stacked states and timesteps
    for rounds 0..T (index 0 is the reset)."""
    state, timestep = env.reset(jax.random.fold_in(key, 10**6), params)

    def body(carry, inputs):
        t, action = inputs
        state, timestep = env.step(jax.random.fold_in(key, t), carry[0], action, params)
        return (state, timestep), (state, timestep)

    _, (states, timesteps) = jax.lax.scan(
        body, (state, timestep), (jnp.arange(actions.shape[0]), actions)
    )
    first = jax.tree.map(lambda x: x[None], (state, timestep))
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, (states, timesteps))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def with_drift(params, **knobs):
    return params.replace(drift=params.drift.replace(**knobs))


def user_prefs(env, params, states, current=True):
    """Every user's preference ``(rounds, U, d)`` in stacked ``drifting_users`` states
    (``current=False``: the initial ones), read lazily through the environment."""
    read = env.current_preferences if current else env.initial_preferences
    users = jnp.arange(env.num_users)
    return np.asarray(jax.jit(jax.vmap(lambda s: read(s, params, users)))(states))


def catalog(env, params, states):
    """The catalog ``(N, d)`` of the run of stacked ``drifting_users`` states."""
    first = jax.tree.map(lambda x: x[0], states)
    return np.asarray(env.item_vectors(first, params, jnp.arange(env.num_items)))


# ---------------------------------------------------------------------------- contextual


def test_contextual_linear_oracle_reward_and_drift():
    env = simulator.make("contextual_linear", num_arms=6, dim=3, drift="random_walk")
    params = with_drift(env.default_params(), rate=0.05).replace(noise=0.5)
    actions = jnp.asarray(np.random.default_rng(0).integers(0, 6, 400), jnp.int32)
    key = jax.random.key(1)
    states, steps = jax.jit(lambda: rollout(env, params, key, actions))()
    x = np.asarray(states.arm_features)
    theta = np.asarray(states.drift.theta)
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1), 1.0, rtol=1e-5)
    assert np.linalg.norm(theta[0]) == pytest.approx(1.0, rel=1e-5)  # param_norm
    np.testing.assert_allclose(
        np.asarray(steps.oracle.expected_reward), np.einsum("tkd,td->tk", x, theta), atol=1e-5
    )
    np.testing.assert_array_equal(np.asarray(steps.oracle.true_param), theta)
    # reward_t = x_{a_t} . theta_{t} + noise z_t, z_t from the step key's first split
    z = np.asarray(
        jax.vmap(lambda t: jax.random.normal(jax.random.split(jax.random.fold_in(key, t), 3)[0]))(
            jnp.arange(400)
        )
    )
    chosen = x[np.arange(400), np.asarray(actions)]
    expected = np.einsum("td,td->t", chosen, theta[:-1]) + 0.5 * z
    np.testing.assert_allclose(np.asarray(steps.reward[1:]), expected, atol=1e-5)
    # the parameter drifts like a random walk: Var(theta_400 - theta_0) = 0.05^2 * 400 = 1
    increments = np.diff(theta, axis=0)
    assert np.std(increments) == pytest.approx(0.05, rel=0.1)


def test_contextual_logistic_catalog_oracle_and_endogenous_pull():
    env = simulator.make("contextual_logistic", num_arms=4, dim=3, num_items=12, drift="endogenous")
    params = with_drift(env.default_params(), rate=0.1).replace(bias=-0.5)
    actions = jnp.zeros((300,), jnp.int32)
    key = jax.random.key(2)
    states, steps = jax.jit(lambda: rollout(env, params, key, actions))()
    x = np.asarray(states.arm_features)
    catalog = np.asarray(states.catalog[0])
    theta = np.asarray(states.drift.theta)
    # candidates are 4 distinct catalog items
    for features in x[:20]:
        index = [int(np.argmin(np.linalg.norm(catalog - f, axis=1))) for f in features]
        assert len(set(index)) == 4
        np.testing.assert_allclose(catalog[index], features, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(steps.oracle.expected_reward),
        sigmoid(np.einsum("tkd,td->tk", x, theta) - 0.5),
        atol=1e-5,
    )
    # endogenous: theta moves toward the chosen item only on a click
    clicks = np.asarray(steps.reward[1:])
    chosen = x[:-1, 0]
    np.testing.assert_allclose(
        theta[1:], theta[:-1] + 0.1 * clicks[:, None] * (chosen - theta[:-1]), atol=1e-5
    )
    assert 0 < clicks.sum() < 300


# ---------------------------------------------------------------------------- russac


def test_russac_theta_path_and_total_variation():
    rounds = jnp.asarray([0, 1000, 1001, 2000, 2001, 3000, 3001, 5999])
    abrupt = np.asarray(jax.vmap(lambda t: contextual.russac_theta("abrupt", t))(rounds))
    np.testing.assert_array_equal(
        abrupt, [[1, 0], [1, 0], [-1, 0], [-1, 0], [0, 1], [0, 1], [0, -1], [0, -1]]
    )
    slow = np.asarray(
        jax.vmap(lambda t: contextual.russac_theta("slow", t))(jnp.asarray([0, 1500, 3000, 4000]))
    )
    c = np.sqrt(0.5)
    np.testing.assert_allclose(slow, [[1, 0], [c, c], [0, 1], [0, 1]], atol=1e-6)
    assert contextual.russac_total_variation("abrupt", 6000) == pytest.approx(4 + np.sqrt(2))
    assert contextual.russac_total_variation("abrupt", 1001) == 0.0
    assert contextual.russac_total_variation("abrupt", 1002) == pytest.approx(2.0)
    assert contextual.russac_total_variation("slow", 6000) == pytest.approx(
        3000 * 2 * np.sin(np.pi / 12000)
    )


def test_russac_environment_changes_and_actions():
    env = simulator.make("russac_linear", scenario="abrupt")
    params = env.default_params()
    actions = jnp.zeros((3100,), jnp.int32)
    states, steps = jax.jit(lambda: rollout(env, params, jax.random.key(3), actions))()
    flags = np.flatnonzero(np.asarray(steps.oracle.change_point))
    np.testing.assert_array_equal(flags, [1001, 2001, 3001])
    np.testing.assert_array_equal(np.asarray(states.t), np.arange(3101))
    np.testing.assert_array_equal(np.asarray(steps.oracle.true_param[3001]), [0.0, -1.0])
    a = np.asarray(states.arm_features[:200])
    assert np.linalg.norm(a, axis=-1).max() <= 1.0 + 1e-6
    assert a.min() >= -1.0 and a.max() <= 1.0
    np.testing.assert_allclose(
        np.asarray(steps.oracle.expected_reward[:200]),
        a @ np.asarray([1.0, 0.0]),
        atol=1e-6,
    )
    # the fraction of actions on the unit circle is 1 - pi/4 (rescaled corners)
    on_circle = np.isclose(np.linalg.norm(a, axis=-1), 1.0, atol=1e-5).mean()
    assert on_circle == pytest.approx(1 - np.pi / 4, abs=0.03)


# ---------------------------------------------------------------------------- users


def test_drifting_users_oracle_observation_and_clicks():
    env = simulator.make(
        "drifting_users",
        num_users=7,
        num_items=30,
        num_candidates=5,
        dim=4,
        observed_dims=3,
        arrival="zipf",
        drift="endogenous",
    )
    params = with_drift(env.default_params(), rate=0.3)
    actions = jnp.asarray(np.random.default_rng(1).integers(0, 5, 300), jnp.int32)
    key = jax.random.key(4)
    states, steps = jax.jit(lambda: rollout(env, params, key, actions))()
    prefs = user_prefs(env, params, states)
    profiles = user_prefs(env, params, states, current=False)[0]
    items = catalog(env, params, states)
    users = np.asarray(states.user)
    cands = np.asarray(states.candidates)
    T = np.arange(301)
    current = prefs[T, users]
    cand_items = items[cands]
    np.testing.assert_allclose(
        np.asarray(steps.oracle.expected_reward),
        sigmoid(2.0 * np.einsum("tkd,td->tk", cand_items, current) - 2.0),
        rtol=1e-5,
    )
    # read back by another program (all users at once): equal up to float32 rounding
    np.testing.assert_allclose(np.asarray(steps.oracle.true_param), current, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(steps.context.features), profiles[users][:, :3], atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(steps.context.arm_features), cand_items[..., :3], atol=1e-6
    )
    assert all(len(set(c)) == 5 for c in cands)
    # click_t = 1[u_t < p(user_t, chosen item)], u_t from the step key's first split
    u = np.asarray(
        jax.vmap(lambda t: jax.random.uniform(jax.random.split(jax.random.fold_in(key, t), 4)[0]))(
            jnp.arange(300)
        )
    )
    chosen = cand_items[T[:-1], np.asarray(actions)]
    p = sigmoid(2.0 * np.einsum("td,td->t", chosen, current[:-1]) - 2.0)
    np.testing.assert_array_equal(np.asarray(steps.reward[1:]), (u < p).astype(np.float32))
    # endogenous: only the arriving user moves, toward the chosen item, on a click
    clicks = np.asarray(steps.reward[1:])
    expected = prefs[:-1].copy()
    rows = users[:-1]
    expected[T[:-1], rows] += 0.3 * clicks[:, None] * (chosen - prefs[T[:-1], rows])
    np.testing.assert_allclose(prefs[1:], expected, atol=1e-5)
    # Zipf(1) over 7 users: user 0 arrives with probability 1 / H_7 = 0.386
    assert np.mean(users == 0) == pytest.approx(1 / np.sum(1 / np.arange(1, 8)), abs=0.1)


def test_drifting_users_common_random_numbers_and_zero_drift():
    env = simulator.make("drifting_users", num_users=20, num_items=40, drift="random_walk")
    params = env.default_params()
    key = jax.random.key(5)
    run = jax.jit(lambda p, a: rollout(env, p, key, a))
    a1 = jnp.zeros((100,), jnp.int32)
    a2 = jnp.asarray(np.random.default_rng(2).integers(0, 10, 100), jnp.int32)
    s1, t1 = run(params, a1)
    s2, t2 = run(params, a2)
    # same env key: the same users, candidates and drift whatever the agent did
    prefs = user_prefs(env, params, s1)
    np.testing.assert_array_equal(prefs, user_prefs(env, params, s2))
    np.testing.assert_array_equal(np.asarray(s1.user), np.asarray(s2.user))
    np.testing.assert_array_equal(
        np.asarray(t1.oracle.expected_reward), np.asarray(t2.oracle.expected_reward)
    )
    assert not np.array_equal(np.asarray(t1.reward), np.asarray(t2.reward))
    assert np.std(np.diff(prefs, axis=0)) == pytest.approx(0.01, rel=0.05)
    # latent scale: item entries ~ N(0, 1/sqrt(d)), 40 x 8 of them (s.e. of the variance 8%)
    assert np.var(catalog(env, params, s1)) == pytest.approx(8**-0.5, rel=0.3)
    # rate 0: preferences never move
    zero = with_drift(params, rate=0.0)
    s0, _ = run(zero, a2)
    still = user_prefs(env, zero, s0)
    np.testing.assert_array_equal(still, np.broadcast_to(still[0], still.shape))


def test_drifting_users_whole_catalog_shared_taste_and_noise():
    env = simulator.make(
        "drifting_users",
        num_users=50,
        num_items=6,
        num_candidates=6,
        dim=16,
        user_features="current",
    )
    params = env.default_params().replace(shared_taste=1.0, feature_noise=0.1)
    states, steps = jax.jit(
        lambda: rollout(env, params, jax.random.key(6), jnp.zeros((50,), jnp.int32))
    )()
    np.testing.assert_array_equal(np.asarray(states.candidates), np.tile(np.arange(6), (51, 1)))
    users = user_prefs(env, params, states)[0]
    np.testing.assert_allclose(users, np.broadcast_to(users[0], users.shape), atol=1e-6)
    noise = np.asarray(steps.context.arm_features) - catalog(env, params, states)[None]
    assert np.std(noise) == pytest.approx(0.1, rel=0.1)


# ---------------------------------------------------------------------------- bernoulli


def test_piecewise_bernoulli_changes_at_period():
    env = simulator.make("piecewise_bernoulli", num_arms=4)
    params = replace_path(env.default_params(), ["drift", "period"], 50.0, "env")
    states, steps = jax.jit(
        lambda: rollout(env, params, jax.random.key(7), jnp.zeros((120,), jnp.int32))
    )()
    means = np.asarray(steps.oracle.expected_reward)
    flags = np.asarray(steps.oracle.change_point)
    np.testing.assert_array_equal(np.flatnonzero(flags), [50, 100])
    for start, stop in ((0, 50), (50, 100), (100, 121)):
        np.testing.assert_array_equal(
            means[start:stop], np.broadcast_to(means[start], (stop - start, 4))
        )
    assert not np.allclose(means[49], means[50]) and not np.allclose(means[99], means[100])
    assert means.min() >= 0 and means.max() < 1
    np.testing.assert_array_equal(np.asarray(steps.oracle.true_param), means)


def test_hindsight_regret_against_numpy_on_a_piecewise_bandit_and_across_chunks():
    """``hindsight_regret`` sums to ``max_a S_a(t) - sum_s mu_s(a_s)`` at every horizon
    (``S_a(t) = sum_{s <= t} mu_s(a)``, numpy float64 from a replay of the exogenous
    means), and a run cut into chunks (the checkpointed carry) gives the same numbers."""
    env = simulator.make("piecewise_bernoulli", num_arms=3)
    params = replace_path(env.default_params(), ["drift", "period"], 40.0, "env")
    agent = agents.make("epsilon_greedy", num_arms=3)
    hp = agent.default_hparams().replace(epsilon=0.2)
    key, num_steps = jax.random.key(3), 200
    log = jax.jit(make_run(env, agent, num_steps, hindsight=True))(key, params, hp)

    # the means do not depend on the actions (abrupt drift is exogenous): replay them
    keys = split_run_key(key)
    _, timestep = env.reset(jax.random.fold_in(keys.env, RESET_INDEX), params)

    def body(state_timestep, t):
        state, timestep = state_timestep
        state, next_timestep = env.step(jax.random.fold_in(keys.env, t), state, 0, params)
        return (state, next_timestep), timestep.oracle.expected_reward

    state = env.reset(jax.random.fold_in(keys.env, RESET_INDEX), params)[0]
    mu = jax.lax.scan(body, (state, timestep), jnp.arange(num_steps))[1]
    mu = np.asarray(mu, np.float64)
    chosen = mu.max(axis=1) - np.asarray(log.regret, np.float64)  # mu_t(a_t)
    expected = np.cumsum(mu, axis=0).max(axis=1) - np.cumsum(chosen)
    got = np.cumsum(np.asarray(log.hindsight_regret, np.float64))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # four regimes: the best fixed arm is a weaker comparator than the moving oracle
    assert got[-1] < np.cumsum(log.regret)[-1] - 5.0

    carry = init_carry(env, agent, keys, params, hp, hindsight=True)
    chunk = jax.jit(lambda carry, t: advance(env, agent, carry, keys, params, hp, t, 100))
    carry, first = chunk(carry, 0)  # one program serves both chunks
    _, second = chunk(carry, 100)
    chunked = np.concatenate([first.hindsight_regret, second.hindsight_regret])
    np.testing.assert_array_equal(chunked, log.hindsight_regret)


def test_hindsight_regret_equals_pseudo_regret_when_means_never_change():
    env = simulator.make("bernoulli", num_arms=5)
    agent = agents.make("ucb", num_arms=5)
    run = jax.jit(jax.vmap(make_run(env, agent, 400, hindsight=True), in_axes=(0, None, None)))
    log = run(jax.random.split(jax.random.key(4), 3), env.default_params(), agent.default_hparams())
    np.testing.assert_array_equal(log.hindsight_regret, log.regret)
    assert float(log.regret.sum()) > 1.0


@pytest.mark.parametrize(
    "name, static, logged",
    [
        ("slowly_varying_bernoulli", {}, True),
        ("drifting_users", {"num_items": 10, "num_candidates": 10}, True),  # whole catalog
        ("drifting_users", {"num_items": 20, "num_candidates": 10}, False),
        ("dynamic_items", {}, False),  # items retire: slot a is not a fixed arm
        ("contextual_linear", {"num_items": 10, "num_arms": 10}, False),  # shuffled
        ("russac_linear", {}, False),
    ],
)
def test_hindsight_regret_is_logged_where_arms_are_fixed(name, static, logged):
    env = simulator.make(name, **static)
    agent = agents.make("random", num_arms=env.spec.num_arms)
    run = make_run(env, agent, 3, hindsight=True)
    log = jax.eval_shape(run, jax.random.key(0), env.default_params(), agent.default_hparams())
    assert ("hindsight_regret" in log._fields) == logged
    no_hindsight = make_run(env, agent, 3)  # the default: off
    log = jax.eval_shape(
        no_hindsight, jax.random.key(0), env.default_params(), agent.default_hparams()
    )
    assert "hindsight_regret" not in log._fields


def test_slowly_varying_bernoulli_reflected_walk_and_rotting():
    x = np.asarray([-0.3, 0.0, 0.4, 1.0, 1.3, 2.6, -1.7])
    np.testing.assert_allclose(
        np.asarray(reflect_unit(jnp.asarray(x))), [0.3, 0, 0.4, 1, 0.7, 0.6, 0.3], atol=1e-6
    )
    env = simulator.make("slowly_varying_bernoulli", num_arms=3)
    params = with_drift(env.default_params(), rate=0.2)
    states, steps = jax.jit(
        lambda: rollout(env, params, jax.random.key(8), jnp.zeros((200,), jnp.int32))
    )()
    theta = np.asarray(states.drift.theta)
    means = np.asarray(steps.oracle.expected_reward)
    np.testing.assert_allclose(means, 1 - np.abs(np.mod(theta, 2) - 1), atol=1e-6)
    assert means.min() >= 0 and means.max() <= 1 and (theta.min() < 0 or theta.max() > 1)

    rot = simulator.make(
        "slowly_varying_bernoulli", num_arms=3, means=(0.9, 0.5, 0.2), drift="rotting"
    )
    params = with_drift(rot.default_params(), rate=0.1)
    actions = jnp.asarray([0, 0, 1, 0, 2, 2], jnp.int32)
    _, steps = jax.jit(lambda: rollout(rot, params, jax.random.key(9), actions))()
    counts = np.zeros(3)
    for t, a in enumerate(np.asarray(actions)):
        counts[a] += 1
        np.testing.assert_allclose(
            np.asarray(steps.oracle.expected_reward[t + 1]),
            [0.9, 0.5, 0.2] * 0.9**counts,
            rtol=1e-6,
        )


# ---------------------------------------------------------------------------- dynamic items


def test_dynamic_items_replacement_frequency_and_flags():
    env = simulator.make("dynamic_items")
    params = env.default_params().replace(replace_prob=0.1)
    run = jax.jit(jax.vmap(lambda k: rollout(env, params, k, jnp.zeros((1000,), jnp.int32))))
    states, steps = run(jax.random.split(jax.random.key(10), 2))
    flags = np.asarray(steps.oracle.change_point)
    # Binomial(2 x 1000, 0.1): mean 200, sd 13.4
    assert abs(flags.sum() - 200) < 67
    ctrs = np.asarray(states.ctrs)
    fresh = np.asarray(states.fresh)
    changed = ctrs[:, 1:] != ctrs[:, :-1]
    np.testing.assert_array_equal(changed, fresh[:, 1:] == 1.0)
    np.testing.assert_array_equal(fresh[:, 1:].sum(-1), flags[:, 1:])
    np.testing.assert_array_equal(np.asarray(steps.context.arm_features)[..., 0], fresh)
    # every slot is replaced about equally often; new CTRs ~ Beta(4, 4): mean 1/2, var 1/36
    per_slot = changed.sum(axis=(0, 1))
    assert per_slot.min() > 0
    new_ctrs = ctrs[:, 1:][changed]
    assert np.mean(new_ctrs) == pytest.approx(0.5, abs=5 * np.sqrt(1 / 36 / new_ctrs.size))
    reset_ctrs = jax.jit(jax.vmap(lambda k: env.reset(k, env.default_params())[0].ctrs))
    first = np.asarray(reset_ctrs(jax.random.split(jax.random.key(11), 400)))
    assert np.mean(first) == pytest.approx(0.5, abs=0.013)  # 5 s.e.
    assert np.var(first) == pytest.approx(1 / 36, rel=0.1)


# ---------------------------------------------------------------------------- wheel


def numpy_wheel_means(x, delta):
    means = np.array([1.2, 1.0, 1.0, 1.0, 1.0], np.float32)
    if np.linalg.norm(x) > delta:
        if x[0] > 0:
            means[1 if x[1] > 0 else 2] = 50.0
        else:
            means[3 if x[1] > 0 else 4] = 50.0
    return means


def test_wheel_means_per_region_and_contexts():
    params = wheel.WheelParams(delta=0.5)
    points = np.asarray(
        [[0.1, 0.1], [-0.3, 0.2], [0.6, 0.6], [0.6, -0.6], [-0.6, 0.6], [-0.6, -0.6], [0.0, -0.7]],
        np.float32,
    )
    got = np.asarray(jax.vmap(lambda x: wheel.wheel_means(x, params))(jnp.asarray(points)))
    np.testing.assert_array_equal(got, [numpy_wheel_means(x, 0.5) for x in points])
    np.testing.assert_array_equal(got[2:6].argmax(axis=1), [1, 2, 3, 4])

    env = simulator.make("wheel")
    params = env.default_params().replace(delta=0.7)
    actions = jnp.asarray(np.random.default_rng(3).integers(0, 5, 3000), jnp.int32)
    states, steps = jax.jit(lambda: rollout(env, params, jax.random.key(12), actions))()
    x = np.asarray(steps.context.features)
    radius = np.linalg.norm(x, axis=1)
    assert radius.max() <= 1.0
    assert np.mean(radius <= 0.7) == pytest.approx(0.49, abs=0.04)  # uniform in the disc
    means = np.asarray(steps.oracle.expected_reward)
    np.testing.assert_array_equal(means, [numpy_wheel_means(p, 0.7) for p in x])
    residual = np.asarray(steps.reward[1:]) - means[np.arange(3000), np.asarray(actions)]
    assert np.std(residual) == pytest.approx(0.01, rel=0.1)


# ---------------------------------------------------------------------------- bad input


def test_bad_input():
    with pytest.raises(ConfigError, match="env.num_candidates = 600: more candidates"):
        simulator.make("drifting_users", num_candidates=600)
    with pytest.raises(ConfigError, match="env.num_arms = 30: more candidates"):
        simulator.make("contextual_linear", num_arms=30, num_items=20)
    with pytest.raises(
        ConfigError, match=r"env.drift = 'sideways': unknown drift; allowed: abrupt"
    ):
        simulator.make("drifting_users", drift="sideways")
    with pytest.raises(ConfigError, match="env.drift = 'abrupt'.*redraw"):
        simulator.make("contextual_linear", drift="abrupt", drift_options=(("redraw", "x"),))
    with pytest.raises(ConfigError, match="piecewise_bernoulli needs 'abrupt'"):
        simulator.make("piecewise_bernoulli", drift="random_walk")
    env = simulator.make("contextual_linear", drift="random_walk")
    with pytest.raises(ConfigError, match=r"env.noise = -1.0: must be >= 0"):
        check(env.default_params().replace(noise=-1.0), "env")
    with pytest.raises(ConfigError, match=r"env.drift.rate = -0.5: must be >= 0"):
        replace_path(env.default_params(), ["drift", "rate"], -0.5, "env")
    with pytest.raises(ConfigError, match=r"env.drift.rate = -0.5"):
        check(with_drift(env.default_params(), rate=-0.5), "env")
    with pytest.raises(ConfigError, match="env.feature_noise"):
        check(simulator.make("drifting_users").default_params().replace(feature_noise=-1.0), "env")
    with pytest.raises(ConfigError, match="env.delta"):
        check(simulator.make("wheel").default_params().replace(delta=1.0), "env")
    with pytest.raises(ConfigError, match="env.scenario"):
        simulator.make("russac_linear", scenario="sudden")
    with pytest.raises(ConfigError, match="env.items has shape"):
        bad = simulator.make("drifting_users").default_params().replace(items=np.zeros((3, 3)))
        simulator.make("drifting_users").reset(jax.random.key(0), bad)
