"""Drift-aware agents against direct numpy transcriptions of their formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from agents.classic.exp3 import exp3_probabilities as exp3s_probabilities
from agents.contextual.common import oful_radius
from agents.nonstationary.d_linucb import dlinucb_radius, dlinucb_widths
from agents.nonstationary.discounted_ucb import discounted_ucb_indices, sliding_window_ucb_indices
from agents.nonstationary.m_ucb import MUCBHParams, MUCBState, change_detected, m_ucb_choice
from agents.nonstationary.sw_linucb import swlinucb_indices
from agents.types import Transition
from experiments import api
from experiments.plan import plan
from experiments.runner import make_run
from simulator.params import ConfigError
from simulator.types import Context, make_oracle
from tests.agents.test_contextual import ATOL, RTOL, feed, last, random_transitions


def at(states, t):
    """The state after ``t`` updates (``t >= 1``) from stacked states."""
    return jax.tree.map(lambda x: x[t - 1], states)


def arm_transitions(actions: np.ndarray, rewards: np.ndarray, num_arms: int) -> Transition:
    """Stacked transitions of a non-contextual bandit."""
    steps = len(actions)
    return Transition(
        context=Context(jnp.zeros((steps, 0)), jnp.zeros((steps, num_arms, 0))),
        action=jnp.asarray(actions, jnp.int32),
        reward=jnp.asarray(rewards, jnp.float32),
        label=jnp.full((steps,), jnp.nan, jnp.float32),
        oracle=make_oracle(
            jnp.zeros((steps, num_arms)), jnp.zeros((steps,), bool), jnp.zeros((steps, 0))
        ),
    )


# --------------------------------------------------------------------------- D-LinUCB


def test_d_linucb_matches_a_direct_transcription_of_algorithm_1():
    num_arms, dim, steps = 4, 3, 25
    gamma, lam, bound, sigma, delta = 0.9, 0.5, 1.5, 0.7, 0.05
    transitions, _, arm_x, actions, rewards = random_transitions(7, steps, num_arms, 0, dim)
    agent = agents.make("d_linucb", num_arms=num_arms, arm_dim=dim)
    hp = agent.default_hparams().replace(
        discount=gamma, ridge=lam, param_bound=bound, noise=sigma, delta=delta
    )
    states = feed(agent, hp, transitions)

    eye = np.eye(dim)
    v, v_tilde, b = lam * eye, lam * eye, np.zeros(dim)
    candidates = np.random.default_rng(8).normal(size=(num_arms, dim))
    for t in range(1, steps + 1):
        a, r = arm_x[t - 1, actions[t - 1]], rewards[t - 1]
        v = gamma * v + np.outer(a, a) + (1 - gamma) * lam * eye
        v_tilde = gamma**2 * v_tilde + np.outer(a, a) + (1 - gamma**2) * lam * eye
        b = gamma * b + r * a
        theta = np.linalg.solve(v, b)
        state = at(states, t)
        np.testing.assert_allclose(state.v, v, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(state.v_tilde, v_tilde, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(state.b, b, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(state.theta, theta, rtol=RTOL, atol=1e-4)
        beta = np.sqrt(lam) * bound + sigma * np.sqrt(
            2 * np.log(1 / delta)
            + dim * np.log(1 + (1 - gamma ** (2 * t)) / (dim * lam * (1 - gamma**2)))
        )
        np.testing.assert_allclose(dlinucb_radius(state.count, dim, hp), beta, rtol=1e-5)

    v_inv = np.linalg.inv(v)
    widths = np.sqrt(np.einsum("kd,de,ef,fg,kg->k", candidates, v_inv, v_tilde, v_inv, candidates))
    state = last(states)
    np.testing.assert_allclose(
        dlinucb_widths(state, jnp.asarray(candidates, jnp.float32)), widths, rtol=1e-4
    )
    context = Context(jnp.zeros((0,)), jnp.asarray(candidates, jnp.float32))
    index = candidates @ theta + beta * widths
    assert int(agent.act(jax.random.key(0), state, context, hp)) == int(np.argmax(index))

    # gamma = 1: the radius is LinUCB's (OFUL) radius.
    hp_one = hp.replace(discount=1.0)
    np.testing.assert_allclose(
        dlinucb_radius(7.0, dim, hp_one), oful_radius(7.0, dim, lam, bound, sigma, delta), rtol=1e-6
    )


# --------------------------------------------------------------------------- SW-LinUCB


def test_sw_linucb_matches_least_squares_over_the_last_tau():
    num_arms, dim, steps, window = 4, 3, 20, 7
    lam, bound, sigma, delta = 0.3, 1.0, 0.5, 0.1
    transitions, _, arm_x, actions, rewards = random_transitions(9, steps, num_arms, 0, dim)
    agent = agents.make("sw_linucb", num_arms=num_arms, arm_dim=dim, window=window)
    hp = agent.default_hparams().replace(ridge=lam, param_bound=bound, noise=sigma, delta=delta)
    states = feed(agent, hp, transitions)

    xs = arm_x[np.arange(steps), actions]
    for t in range(1, steps + 1):
        recent = slice(max(0, t - window), t)
        v = lam * np.eye(dim) + xs[recent].T @ xs[recent]
        theta = np.linalg.solve(v, xs[recent].T @ rewards[recent])
        np.testing.assert_allclose(at(states, t).v, v, rtol=RTOL, atol=1e-4)
        np.testing.assert_allclose(at(states, t).theta, theta, rtol=RTOL, atol=1e-4)

    candidates = np.random.default_rng(10).normal(size=(num_arms, dim))
    beta = np.sqrt(lam) * bound + sigma * np.sqrt(dim * np.log((1 + window / lam) / delta))
    widths = np.sqrt(np.einsum("kd,de,ke->k", candidates, np.linalg.inv(v), candidates))
    index = swlinucb_indices(last(states), jnp.asarray(candidates, jnp.float32), hp, window)
    np.testing.assert_allclose(index, candidates @ theta + beta * widths, rtol=RTOL, atol=1e-4)


# --------------------------------------------------------------------------- D-UCB, SW-UCB, D-TS


def bandit_stream(seed: int, steps: int, num_arms: int, skip_last_until: int):
    """Random arms (the last arm unplayed before ``skip_last_until``) and rewards in [0, 1]."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, num_arms - 1, size=steps)
    later = np.arange(steps) >= skip_last_until
    actions = np.where(later & (rng.random(steps) < 0.4), num_arms - 1, actions)
    return actions, rng.random(steps)


def test_discounted_ucb_and_thompson_match_numpy():
    num_arms, steps, gamma, bound, xi = 3, 30, 0.8, 1.5, 0.7
    actions, rewards = bandit_stream(11, steps, num_arms, skip_last_until=10)
    transitions = arm_transitions(actions, rewards, num_arms)
    agent = agents.make("discounted_ucb", num_arms=num_arms)
    hp = agent.default_hparams().replace(discount=gamma, bound=bound, xi=xi)
    states = feed(agent, hp, transitions)

    for t in (5, steps):
        weights = gamma ** (t - 1 - np.arange(t))
        chosen = actions[:t, None] == np.arange(num_arms)
        counts = weights @ chosen
        sums = (weights * rewards[:t]) @ chosen
        index = discounted_ucb_indices(at(states, t), hp)
        played = counts > 0
        expected = sums[played] / counts[played] + 2 * bound * np.sqrt(
            xi * np.log(counts.sum()) / counts[played]
        )
        np.testing.assert_allclose(np.asarray(index)[played], expected, rtol=1e-5)
        assert np.all(np.isinf(np.asarray(index)[~played])) and played.sum() == (2 if t == 5 else 3)

    thompson = agents.make("discounted_thompson", num_arms=num_arms)
    hp_ts = thompson.default_hparams().replace(discount=gamma)
    state = last(feed(thompson, hp_ts, transitions))
    weights = gamma ** (steps - 1 - np.arange(steps))
    chosen = actions[:, None] == np.arange(num_arms)
    np.testing.assert_allclose(state.successes, (weights * rewards) @ chosen, rtol=1e-5)
    np.testing.assert_allclose(state.failures, (weights * (1 - rewards)) @ chosen, rtol=1e-5)


def test_sliding_window_ucb_matches_numpy():
    num_arms, steps, window, bound, xi = 3, 30, 8, 1.0, 0.6
    actions, rewards = bandit_stream(12, steps, num_arms, skip_last_until=27)
    actions[14:22] = 0  # arms 1 and 2 leave the window for a while
    agent = agents.make("sliding_window_ucb", num_arms=num_arms, window=window)
    hp = agent.default_hparams().replace(bound=bound, xi=xi)
    states = feed(agent, hp, arm_transitions(actions, rewards, num_arms))

    for t in (5, 22, steps):
        recent = slice(max(0, t - window), t)
        chosen = actions[recent, None] == np.arange(num_arms)
        counts = chosen.sum(axis=0)
        sums = rewards[recent] @ chosen
        played = counts > 0
        expected = np.full(num_arms, np.inf)
        expected[played] = sums[played] / counts[played] + bound * np.sqrt(
            xi * np.log(min(t, window)) / counts[played]
        )
        index = np.asarray(sliding_window_ucb_indices(at(states, t), hp))
        np.testing.assert_allclose(index, expected, rtol=1e-5)
        np.testing.assert_array_equal(at(states, t).counts, counts)
    assert np.isinf(np.asarray(sliding_window_ucb_indices(at(states, 22), hp))[1:]).all()


# --------------------------------------------------------------------------- M-UCB


def test_m_ucb_detector_matches_numpy():
    window, count = 10, 57
    rng = np.random.default_rng(13)
    history = rng.random(count)
    ring = np.zeros(window)
    for n, y in enumerate(history, start=1):
        ring[(n - 1) % window] = y
    last_w = history[-window:]
    statistic = abs(last_w[window // 2 :].sum() - last_w[: window // 2].sum())
    ring = jnp.asarray(ring, jnp.float32)
    assert bool(change_detected(ring, count, statistic - 1e-3))
    assert not bool(change_detected(ring, count, statistic + 1e-3))
    assert not bool(change_detected(ring, window - 1, 0.0)), "needs w observations"


def test_m_ucb_alarms_on_an_abrupt_shift_and_not_on_a_stationary_stream():
    """Arm 0 pulled every round (fixed seed), w = 40, b = 12.  Stationary Bernoulli(0.8):
    the half-sum difference has sd about 2.5, so b is about 4.7 sd: no alarm in 400
    rounds.  A shift 0.9 -> 0.1 at round 200 moves it by 16 when fully inside the window:
    one alarm within w rounds, then none (the new regime is stationary)."""
    steps, num_arms, window = 400, 2, 40
    uniforms = np.random.default_rng(14).random((2, steps))
    means = np.stack([np.full(steps, 0.8), np.where(np.arange(steps) < 200, 0.9, 0.1)])
    rewards = (uniforms < means).astype(np.float32)
    agent = agents.make("m_ucb", num_arms=num_arms, window=window)
    hp = agent.default_hparams().replace(threshold=12.0, exploration=0.1)
    streams = jax.tree.map(
        lambda *xs: jnp.stack(xs), *[arm_transitions(np.zeros(steps), r, num_arms) for r in rewards]
    )

    def run(transitions):
        def body(state, transition):
            state = agent.update(jax.random.key(0), state, transition, hp)
            return state, state

        return jax.lax.scan(body, agent.init(jax.random.key(0), hp), transitions)[1]

    states = jax.jit(jax.vmap(run))(streams)
    restarts = np.asarray(states.restarts)
    assert restarts[0, -1] == 0, "false alarm on a stationary stream"
    assert restarts[1, -1] == 1, restarts[1, -1]
    alarm = int(np.argmax(restarts[1] > 0))  # 0-based round of the alarm
    assert 200 <= alarm < 200 + window, alarm
    after = jax.tree.map(lambda x: x[1, alarm], states)
    assert (
        int(after.steps) == 0 and int(after.counts.sum()) == 0 and float(after.recent.sum()) == 0.0
    )


def test_m_ucb_forced_exploration_schedule():
    """gamma = 0.5, K = 2: period floor(K/gamma) = 4; rounds t - tau = 1, 2 force arms 0, 1;
    rounds 3, 4 follow UCB (here arm 1, the only one with a higher mean)."""
    state = MUCBState(
        counts=jnp.array([5, 5], jnp.int32),
        sums=jnp.array([1.0, 4.0]),
        recent=jnp.zeros((2, 4)),
        steps=jnp.zeros((), jnp.int32),
        restarts=jnp.zeros((), jnp.int32),
    )
    hp = MUCBHParams(exploration=0.5, threshold=1.0)
    choose = jax.jit(m_ucb_choice, static_argnums=3)
    choices = [
        int(choose(jax.random.key(s), state.replace(steps=jnp.int32(s)), hp, 2)) for s in range(8)
    ]
    assert choices == [0, 1, 1, 1, 0, 1, 1, 1]
    no_forcing = hp.replace(exploration=0.0)
    assert [
        int(choose(jax.random.key(0), state.replace(steps=jnp.int32(s)), no_forcing, 2))
        for s in range(2)
    ] == [1, 1]


# --------------------------------------------------------------------------- EXP3.S


def test_exp3s_probabilities_match_numpy():
    num_arms, steps, gamma, alpha = 4, 30, 0.2, 0.01
    rng = np.random.default_rng(15)
    actions, rewards = rng.integers(0, num_arms, size=steps), rng.random(steps)
    agent = agents.make("exp3s", num_arms=num_arms)
    hp = agent.default_hparams().replace(exploration=gamma, share=alpha)
    states = feed(agent, hp, arm_transitions(actions, rewards, num_arms))

    weights = np.ones(num_arms)
    for t in range(1, steps + 1):
        p = (1 - gamma) * weights / weights.sum() + gamma / num_arms
        estimate = np.zeros(num_arms)
        estimate[actions[t - 1]] = rewards[t - 1] / p[actions[t - 1]]
        weights = (
            weights * np.exp(gamma * estimate / num_arms) + np.e * alpha / num_arms * weights.sum()
        )
        p_next = (1 - gamma) * weights / weights.sum() + gamma / num_arms
        np.testing.assert_allclose(exp3s_probabilities(at(states, t), hp), p_next, rtol=1e-5)


# --------------------------------------------------------------------------- drift view


def test_d_linucb_tracks_theta_after_an_abrupt_change_better_than_linucb():
    """The runner's ``param_error`` on Russac et al.'s abrupt scenario: theta* jumps from
    (1, 0) to (-1, 0) at round 1001.  LinUCB averages the two regimes (after k rounds of
    the new one its estimate is about (1000 - k) / (1000 + k) (1, 0): error ~1.4 at
    k = 300..600), D-LinUCB forgets at rate gamma (error >= 2 gamma^k, ~0.5 observed).
    Fixed seeds, 4 runs; observed per-seed errors 1.34-1.42 (LinUCB) and 0.38-0.71
    (D-LinUCB) over 3 seeds x 4 runs, mean ratio 0.38-0.41; asserted: every run at least
    0.4 below LinUCB's, and the mean ratio below 0.5.  Before the change both are < 0.3."""
    env = simulator.make("russac_linear", scenario="abrupt")
    gamma = 1 - ((4 + 2**0.5) / (2 * 6000)) ** (2 / 3)
    keys = jax.random.split(jax.random.key(0), 4)
    errors = {}
    for name, static, knobs in [
        ("linucb", {"radius": "oful"}, {"ridge": 0.1}),
        ("d_linucb", {}, {"discount": gamma, "ridge": 0.1}),
    ]:
        agent = agents.make(name, num_arms=50, arm_dim=2, **static)
        hp = agent.default_hparams().replace(**knobs)
        run = jax.jit(jax.vmap(make_run(env, agent, 1600), in_axes=(0, None, None)))
        errors[name] = np.asarray(run(keys, env.default_params(), hp).param_error)
    for name, error in errors.items():
        assert error[:, 801:1001].mean() < 0.3, name  # both track the first regime
    after_linucb = errors["linucb"][:, 1301:1600].mean(axis=1)
    after_d = errors["d_linucb"][:, 1301:1600].mean(axis=1)
    assert np.all(after_linucb > 1.2), after_linucb
    assert np.all(after_d < after_linucb - 0.4), (after_d, after_linucb)
    assert after_d.mean() < 0.5 * after_linucb.mean()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "name, static, match",
    [
        ("sliding_window_ucb", {"window": 0}, "agent.window = 0"),
        ("sw_linucb", {"window": 0}, "agent.window = 0"),
        ("m_ucb", {"window": 0}, "agent.window = 0"),
        ("m_ucb", {"window": 7}, "even"),
        ("sw_linucb", {"num_arms": 0}, "num_arms"),
    ],
)
def test_bad_static_input_raises_config_error(name, static, match):
    with pytest.raises(ConfigError, match=match):
        agents.make(name, **static)


@pytest.mark.parametrize("name", ["discounted_ucb", "discounted_thompson", "d_linucb"])
@pytest.mark.parametrize("discount", [0.0, -0.5, 1.5])
def test_discount_outside_unit_interval_raises_config_error(name, discount):
    hparams = agents.make(name).default_hparams()
    simulator.check(hparams.replace(discount=1.0), "agent")  # 1 is allowed
    with pytest.raises(ConfigError, match=r"agent.discount .*\(0, 1\]"):
        simulator.check(hparams.replace(discount=discount), "agent")


# --------------------------------------------------------------------------- feature bound L


def test_radii_use_the_feature_bound():
    """numpy references with L = 3: D-LinUCB (Russac et al. 2019, Theorem 1)
    ``sqrt(lambda) S + sigma sqrt(2 log(1/delta) + d log(1 + L^2 (1 - gamma^{2t}) /
    (d lambda (1 - gamma^2))))`` and SW-LinUCB (Cheung et al. 2019)
    ``sqrt(lambda) S + sigma sqrt(d log((1 + tau L^2 / lambda) / delta))``; the agents
    built with ``feature_bound = 3`` act on those radii."""
    num_arms, dim, steps, window, bound = 4, 3, 12, 5, 3.0
    gamma, lam, s, sigma, delta = 0.9, 0.5, 1.2, 0.7, 0.05
    transitions, _, arm_x, actions, rewards = random_transitions(21, steps, num_arms, 0, dim)
    candidates = np.random.default_rng(22).normal(size=(num_arms, dim))
    context = Context(jnp.zeros((0,)), jnp.asarray(candidates, jnp.float32))

    agent = agents.make("d_linucb", num_arms=num_arms, arm_dim=dim, feature_bound=bound)
    assert agent.static["feature_bound"] == bound
    hp = agent.default_hparams().replace(
        discount=gamma, ridge=lam, param_bound=s, noise=sigma, delta=delta
    )
    state = last(feed(agent, hp, transitions))
    beta = np.sqrt(lam) * s + sigma * np.sqrt(
        2 * np.log(1 / delta)
        + dim * np.log(1 + bound**2 * (1 - gamma ** (2 * steps)) / (dim * lam * (1 - gamma**2)))
    )
    np.testing.assert_allclose(dlinucb_radius(state.count, dim, hp, bound), beta, rtol=1e-5)
    widths = np.asarray(dlinucb_widths(state, context.arm_features), np.float64)
    index = candidates @ np.asarray(state.theta, np.float64) + beta * widths
    assert int(agent.act(jax.random.key(0), state, context, hp)) == int(np.argmax(index))
    assert float(dlinucb_radius(state.count, dim, hp)) < beta  # the L = 1 radius

    agent = agents.make(
        "sw_linucb", num_arms=num_arms, arm_dim=dim, window=window, feature_bound=bound
    )
    hp = agent.default_hparams().replace(ridge=lam, param_bound=s, noise=sigma, delta=delta)
    state = last(feed(agent, hp, transitions))
    beta = np.sqrt(lam) * s + sigma * np.sqrt(dim * np.log((1 + window * bound**2 / lam) / delta))
    v_inv = np.linalg.inv(np.asarray(state.v, np.float64))
    widths = np.sqrt(np.einsum("kd,de,ke->k", candidates, v_inv, candidates))
    expected = candidates @ np.asarray(state.theta, np.float64) + beta * widths
    got = swlinucb_indices(state, context.arm_features, hp, window, bound)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert int(agent.act(jax.random.key(0), state, context, hp)) == int(np.argmax(expected))


def test_the_planner_fills_the_feature_bound_from_the_env_spec():
    """``feature_bound`` comes from ``EnvSpec.feature_bound`` unless the experiment sets
    it; an environment that declares none (``inf``: drifting_users) leaves L = 1 with a
    warning naming the agent."""

    def built(env, **fields):
        experiment = {
            "env": env,
            "agents": [{"label": "d", "name": "d_linucb", **fields}],
            "num_seeds": 1,
            "num_steps": 2,
        }
        return plan(api.as_experiment(experiment))[0].groups[0].agent

    env = {"name": "contextual_linear"}
    assert (
        built(env).static["feature_bound"] == simulator.make("contextual_linear").spec.feature_bound
    )
    assert built(env, feature_bound=2.5).static["feature_bound"] == 2.5
    users = {"name": "drifting_users", "num_users": 5, "num_items": 20, "dim": 3}
    assert built(users).static["feature_bound"] == 1.0  # no bound declared: L = 1
    assert built(users, feature_bound=4.0).static["feature_bound"] == 4.0
