"""Classic bandit agents against plain numpy implementations fed the same draws, or closed forms.

Each agent runs inside one jitted ``lax.scan`` (one compile per agent); a float64 numpy
loop then replays the same actions and rewards and must reach the same states.  Where the
agent chooses by an index, the numpy index must rank the chosen arm first (ties allowed).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from agents.classic.exp3 import exp3_probabilities
from agents.classic.gradient_bandit import gradient_bandit_probabilities
from agents.classic.kl_ucb import bernoulli_kl, kl_ucb_indices
from agents.classic.ucb import ucb_indices
from agents.sampling import beta
from agents.types import Transition
from simulator.params import ConfigError
from simulator.types import empty_context, make_oracle

RTOL = 1e-5
ATOL = 1e-5
# Chi-square critical values at p = 1e-4 by degrees of freedom: a correct sampler fails
# one run in 10,000; a wrong distribution of the sizes used here fails with certainty.
CHI2_CRITICAL = {3: 21.11, 4: 23.51, 5: 25.74}


def transition(num_arms: int, action, reward) -> Transition:
    return Transition(
        context=empty_context(num_arms),
        action=jnp.asarray(action, jnp.int32),
        reward=jnp.asarray(reward, jnp.float32),
        label=jnp.asarray(jnp.nan, jnp.float32),
        oracle=make_oracle(jnp.zeros((num_arms,))),
    )


def make_feed(agent):
    """A jitted ``feed(hparams, actions, rewards, key)``: the states after each given
    ``(action, reward)`` update, stacked over time (one compile per agent and shape)."""
    num_arms = agent.static["num_arms"]

    @jax.jit
    def feed(hparams, actions, rewards, key):
        def body(state, inputs):
            t, action, reward = inputs
            step = transition(num_arms, action, reward)
            state = agent.update(jax.random.fold_in(key, t), state, step, hparams)
            return state, state

        steps = jnp.arange(actions.shape[0])
        _, states = jax.lax.scan(body, agent.init(key, hparams), (steps, actions, rewards))
        return states

    return feed


def feed(agent, hparams, actions, rewards, seed: int = 0):
    """States after each of the given ``(action, reward)`` updates, stacked over time."""
    return make_feed(agent)(
        hparams,
        jnp.asarray(actions, jnp.int32),
        jnp.asarray(rewards, jnp.float32),
        jax.random.key(seed),
    )


def make_play(agent):
    """A jitted ``play(hparams, table, key)``: the agent acts on a fixed table of rewards
    ``(T, K)``; returns the state *before* each action (stacked) and the actions."""
    num_arms = agent.static["num_arms"]

    @jax.jit
    def play(hparams, table, key):
        def body(state, inputs):
            t, rewards = inputs
            key_act, key_update = jax.random.split(jax.random.fold_in(key, t))
            action = agent.act(key_act, state, empty_context(num_arms), hparams)
            step = transition(num_arms, action, rewards[action])
            return agent.update(key_update, state, step, hparams), (state, action)

        steps = jnp.arange(table.shape[0])
        _, (states, actions) = jax.lax.scan(body, agent.init(key, hparams), (steps, table))
        return states, actions

    return play


def play(agent, hparams, reward_table, seed: int = 0):
    """One run on a fixed reward table: ``(states before each action, actions)``."""
    states, actions = make_play(agent)(
        hparams, jnp.asarray(reward_table, jnp.float32), jax.random.key(seed)
    )
    return states, np.asarray(actions)


def at(states, t):
    return jax.tree.map(lambda x: np.asarray(x[t]), states)


def assert_in_argmax(index: np.ndarray, action: int, t: int) -> None:
    """``action`` attains the maximum of the float64 ``index`` (up to float32 rounding)."""
    top = np.max(index)
    if np.isinf(top):
        assert np.isinf(index[action]), (t, index, action)
    else:
        assert index[action] >= top - 1e-5 * (1.0 + abs(top)), (t, index, action)


def chi_square(counts: np.ndarray, probabilities: np.ndarray) -> float:
    expected = counts.sum() * probabilities
    return float(np.sum((counts - expected) ** 2 / expected))


def bernoulli_table(seed: int, steps: int, means) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, len(means))) < np.asarray(means)).astype(np.float64)


# --------------------------------------------------------------------------- UCB


def numpy_ucb_index(values, counts, c):
    t = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        bonus = c * np.sqrt(np.log(max(t, 1.0)) / counts)
    return np.where(counts > 0, values + bonus, np.inf)


def test_ucb_follows_a_numpy_ucb_on_the_same_rewards():
    num_arms, steps, c = 5, 300, 1.3
    table = bernoulli_table(1, steps, [0.2, 0.5, 0.45, 0.7, 0.65])
    agent = agents.make("ucb", num_arms=num_arms)
    hp = agent.default_hparams().replace(c=c)
    states, actions = play(agent, hp, table)

    q, n = np.zeros(num_arms), np.zeros(num_arms)
    for t in range(steps):
        state = at(states, t)
        np.testing.assert_allclose(state.values, q, rtol=RTOL, atol=ATOL)
        np.testing.assert_array_equal(state.counts, n)
        index = numpy_ucb_index(q, n, c)
        np.testing.assert_allclose(np.asarray(ucb_indices(state, hp)), index, rtol=RTOL)
        assert_in_argmax(index, actions[t], t)
        a = actions[t]
        n[a] += 1
        q[a] += (table[t, a] - q[a]) / n[a]
    assert sorted(actions[:num_arms]) == list(range(num_arms)), "untried arms come first"
    assert set(np.argsort(n)[-2:]) == {3, 4}, "the two best arms (0.7, 0.65) are played most"


def test_ucb1_is_the_default_and_c_zero_is_greedy():
    agent = agents.make("ucb", num_arms=3)
    assert agent.default_hparams().c == pytest.approx(math.sqrt(2.0))
    state = agent.init(jax.random.key(0), agent.default_hparams())
    state = state.replace(values=jnp.array([0.5, 0.6, 0.2]), counts=jnp.array([100.0, 1.0, 1.0]))
    # ln 102 / 1 makes the rarely tried arms' bonus dominate with c = sqrt(2); c = 0 is greedy.
    index = np.asarray(ucb_indices(state, agent.default_hparams()))
    np.testing.assert_allclose(
        index, [0.5, 0.6, 0.2] + np.sqrt(2 * np.log(102.0) / np.array([100, 1, 1])), rtol=1e-6
    )
    greedy = np.asarray(ucb_indices(state, agent.default_hparams().replace(c=0.0)))
    np.testing.assert_allclose(greedy, [0.5, 0.6, 0.2], rtol=1e-6)


@pytest.mark.parametrize("name", ["ucb", "kl_ucb"])
def test_untried_arms_are_tied_and_broken_uniformly_at_random(name):
    num_arms, draws = 4, 4000
    agent = agents.make(name, num_arms=num_arms)
    hp = agent.default_hparams()
    state = agent.init(jax.random.key(0), hp)
    # Arms 1 and 3 tried; 0 and 2 untried: only they may be chosen, each half the time.
    state = state.replace(values=jnp.array([0.0, 0.9, 0.0, 0.8]), counts=jnp.array([0.0, 3, 0, 2]))
    keys = jax.random.split(jax.random.key(5), draws)
    acts = jax.jit(jax.vmap(agent.act, in_axes=(0, None, None, None)))
    actions = np.asarray(acts(keys, state, empty_context(num_arms), hp))
    counts = np.bincount(actions, minlength=num_arms)
    assert counts[1] == counts[3] == 0
    # Binomial(4000, 1/2): 6 standard deviations is +-190.
    assert abs(counts[0] - draws / 2) < 190, counts


# --------------------------------------------------------------------------- KL-UCB


def numpy_kl(p, q):
    out = 0.0
    if p > 0:
        out += p * math.log(p / q) if q > 0 else math.inf
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q)) if q < 1 else math.inf
    return out


def numpy_kl_ucb_index(values, counts, c):
    """High-precision (float64, 200-step) bisection, one arm at a time."""
    t = counts.sum()
    log_t = math.log(max(t, 1.0))
    level_total = log_t + c * math.log(max(log_t, 1.0))
    out = np.full(len(values), np.inf)
    for i, (p, n) in enumerate(zip(values, counts)):
        if n == 0:
            continue
        p = min(max(p, 0.0), 1.0)
        low, high = p, 1.0
        for _ in range(200):
            middle = 0.5 * (low + high)
            if n * numpy_kl(p, middle) <= level_total:
                low = middle
            else:
                high = middle
        out[i] = low
    return out


def test_bernoulli_kl_closed_forms():
    p = jnp.array([0.0, 1.0, 0.3, 0.3, 0.5, 0.0])
    q = jnp.array([0.4, 0.7, 0.3, 0.6, 1.0, 0.0])
    expected = [
        -math.log(0.6),
        -math.log(0.7),
        0.0,
        0.3 * math.log(0.3 / 0.6) + 0.7 * math.log(0.7 / 0.4),
        math.inf,
        0.0,
    ]
    np.testing.assert_allclose(np.asarray(bernoulli_kl(p, q)), expected, rtol=1e-6)


@pytest.mark.parametrize("c", [0.0, 3.0])
def test_kl_ucb_index_matches_a_high_precision_bisection(c):
    rng = np.random.default_rng(3)
    num_arms = 12
    counts = rng.integers(1, 2000, num_arms).astype(np.float64)
    counts[:3] = [1, 2, 5]
    successes = np.floor(rng.random(num_arms) * (counts + 1))
    successes[3], successes[4] = 0, counts[4]  # empirical means exactly 0 and 1
    values = successes / counts
    agent = agents.make("kl_ucb", num_arms=num_arms)
    hp = agent.default_hparams().replace(c=c)
    state = agent.init(jax.random.key(0), hp).replace(
        values=jnp.asarray(values, jnp.float32), counts=jnp.asarray(counts, jnp.float32)
    )
    index = np.asarray(jax.jit(kl_ucb_indices)(state, hp))
    reference = numpy_kl_ucb_index(values.astype(np.float32).astype(np.float64), counts, c)
    np.testing.assert_allclose(index, reference, atol=2e-6)
    assert np.all(index >= values - 1e-7) and np.all(index <= 1.0)
    # Closed forms: Q = 1 gives 1; Q = 0 gives 1 - exp(-level / N) since kl(0, q) = -ln(1 - q).
    log_t = math.log(counts.sum())
    level = log_t + c * math.log(max(log_t, 1.0))
    assert index[4] == 1.0
    np.testing.assert_allclose(index[3], 1 - math.exp(-level / counts[3]), rtol=1e-5)


def test_kl_ucb_follows_a_numpy_kl_ucb_on_the_same_rewards():
    num_arms, steps, c = 4, 250, 0.0
    table = bernoulli_table(2, steps, [0.1, 0.3, 0.35, 0.05])
    agent = agents.make("kl_ucb", num_arms=num_arms)
    hp = agent.default_hparams().replace(c=c)
    states, actions = play(agent, hp, table)
    q, n = np.zeros(num_arms), np.zeros(num_arms)
    for t in range(steps):
        state = at(states, t)
        np.testing.assert_allclose(state.values, q, rtol=RTOL, atol=ATOL)
        np.testing.assert_array_equal(state.counts, n)
        assert_in_argmax(numpy_kl_ucb_index(q, n, c), actions[t], t)
        a = actions[t]
        n[a] += 1
        q[a] += (table[t, a] - q[a]) / n[a]


# --------------------------------------------------------------------------- gradient bandit


def test_gradient_bandit_update_matches_numpy_with_and_without_baseline():
    num_arms, steps = 5, 120
    rng = np.random.default_rng(4)
    actions = rng.integers(0, num_arms, steps)
    rewards = rng.normal(1.0, 1.0, steps)
    agent = agents.make("gradient_bandit", num_arms=num_arms)
    run = make_feed(agent)
    for step_size, baseline in [(0.1, 1.0), (0.4, 0.0), (0.25, 0.5)]:
        hp = agent.default_hparams().replace(step_size=step_size, baseline=baseline)
        states = run(hp, jnp.asarray(actions), jnp.asarray(rewards, jnp.float32), jax.random.key(0))
        h, mean = np.zeros(num_arms), 0.0
        for t in range(steps):
            r, a = rewards[t], actions[t]
            pi = np.exp(h - h.max()) / np.exp(h - h.max()).sum()
            r_bar = mean if t > 0 else r  # average of the rewards before t, R_bar_1 = R_1
            h = h + step_size * (r - baseline * r_bar) * (np.eye(num_arms)[a] - pi)
            mean += (r - mean) / (t + 1)
            state = at(states, t)
            np.testing.assert_allclose(state.preferences, h, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(state.mean_reward, mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(gradient_bandit_probabilities(at(states, steps - 1))),
            np.exp(h) / np.exp(h).sum(),
            rtol=1e-4,
        )


def test_gradient_bandit_samples_its_softmax_policy():
    num_arms, draws = 4, 20000
    agent = agents.make("gradient_bandit", num_arms=num_arms)
    hp = agent.default_hparams()
    state = agent.init(jax.random.key(0), hp).replace(preferences=jnp.array([0.5, -1.0, 0.0, 1.2]))
    keys = jax.random.split(jax.random.key(1), draws)
    acts = jax.jit(jax.vmap(agent.act, in_axes=(0, None, None, None)))
    actions = np.asarray(acts(keys, state, empty_context(num_arms), hp))
    pi = np.exp([0.5, -1.0, 0.0, 1.2]) / np.exp([0.5, -1.0, 0.0, 1.2]).sum()
    assert chi_square(np.bincount(actions, minlength=num_arms), pi) < CHI2_CRITICAL[3]
    # ... and the test has power: the uniform policy is rejected.
    assert chi_square(np.bincount(actions, minlength=num_arms), np.full(4, 0.25)) > 100


# --------------------------------------------------------------------------- EXP3


def test_exp3_probabilities_and_weights_match_numpy():
    num_arms, steps, gamma = 4, 200, 0.2
    rng = np.random.default_rng(5)
    actions = rng.integers(0, num_arms, steps)
    rewards = rng.random(steps)
    agent = agents.make("exp3", num_arms=num_arms)
    hp = agent.default_hparams().replace(exploration=gamma)
    states = feed(agent, hp, actions, rewards)
    log_w = np.zeros(num_arms)  # unnormalised, float64: w_a(1) = 1
    for t in range(steps):
        w = np.exp(log_w - log_w.max())
        p = (1 - gamma) * w / w.sum() + gamma / num_arms
        a = actions[t]
        log_w[a] += gamma * (rewards[t] / p[a]) / num_arms
        state = at(states, t)
        w = np.exp(log_w - log_w.max())
        p_next = (1 - gamma) * w / w.sum() + gamma / num_arms
        np.testing.assert_allclose(np.asarray(exp3_probabilities(state, hp)), p_next, rtol=1e-5)
        normalised = log_w - np.log(np.exp(log_w - log_w.max()).sum()) - log_w.max()
        np.testing.assert_allclose(state.log_weights, normalised, rtol=1e-4, atol=1e-4)


def test_exp3_samples_its_probabilities_and_stays_finite_on_long_runs():
    num_arms, draws = 4, 20000
    agent = agents.make("exp3", num_arms=num_arms)
    hp = agent.default_hparams().replace(exploration=0.3)
    # 20,000 rewards of 1 on arm 0 push its unnormalised log-weight past 1,000: the
    # normalised state stays finite and the distribution tends to (1 - g) e_0 + g / K.
    states = feed(agent, hp, np.zeros(draws, int), np.ones(draws))
    last = at(states, draws - 1)
    assert np.all(np.isfinite(last.log_weights))
    p = np.asarray(exp3_probabilities(last, hp))
    np.testing.assert_allclose(p, [0.7 + 0.075, 0.075, 0.075, 0.075], rtol=1e-5)
    state = agent.init(jax.random.key(0), hp).replace(
        log_weights=jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
    )
    p = np.asarray(exp3_probabilities(state, hp))
    np.testing.assert_allclose(p, 0.7 * np.array([0.1, 0.2, 0.3, 0.4]) + 0.075, rtol=1e-6)
    keys = jax.random.split(jax.random.key(2), draws)
    acts = jax.jit(jax.vmap(agent.act, in_axes=(0, None, None, None)))
    actions = np.asarray(acts(keys, state, empty_context(num_arms), hp))
    assert chi_square(np.bincount(actions, minlength=num_arms), p) < CHI2_CRITICAL[3]


# --------------------------------------------------------------------------- Thompson sampling


def test_thompson_counts_match_numpy_and_act_takes_the_argmax_of_beta_draws():
    num_arms, steps = 5, 150
    rng = np.random.default_rng(6)
    actions = rng.integers(0, num_arms, steps)
    rewards = rng.choice([0.0, 1.0, 0.25, 1.5, -0.5], steps)  # fractional, and out of range
    agent = agents.make("thompson", num_arms=num_arms)
    hp = agent.default_hparams().replace(alpha0=0.5, beta0=2.0)
    states = feed(agent, hp, actions, rewards)
    clipped = np.clip(rewards, 0.0, 1.0)
    successes = np.bincount(actions, weights=clipped, minlength=num_arms)
    failures = np.bincount(actions, weights=1.0 - clipped, minlength=num_arms)
    last = at(states, steps - 1)
    np.testing.assert_allclose(last.successes, successes, rtol=1e-6)
    np.testing.assert_allclose(last.failures, failures, rtol=1e-6)

    @jax.jit
    def act_and_draws(key, state):
        action = agent.act(key, state, empty_context(num_arms), hp)
        return action, beta(key, 0.5 + state.successes, 2.0 + state.failures)

    for seed in range(5):
        action, theta = act_and_draws(jax.random.key(seed), last)
        assert int(action) == int(np.argmax(np.asarray(theta)))


def test_gaussian_thompson_posterior_matches_the_batch_formula():
    num_arms, steps = 4, 100
    noise, prior_mean, prior_std = 0.7, 0.3, 2.0
    rng = np.random.default_rng(7)
    actions = rng.integers(0, num_arms, steps)
    rewards = rng.normal(0.0, 2.0, steps)
    agent = agents.make("gaussian_thompson", num_arms=num_arms)
    hp = agent.default_hparams().replace(noise=noise, prior_mean=prior_mean, prior_std=prior_std)
    states = feed(agent, hp, actions, rewards)
    for t in (0, 10, steps - 1):
        n = np.bincount(actions[: t + 1], minlength=num_arms)
        s = np.bincount(actions[: t + 1], weights=rewards[: t + 1], minlength=num_arms)
        precision = 1 / prior_std**2 + n / noise**2
        mean = (prior_mean / prior_std**2 + s / noise**2) / precision
        state = at(states, t)
        np.testing.assert_allclose(state.precisions, precision, rtol=1e-5)
        np.testing.assert_allclose(state.means, mean, rtol=1e-5, atol=1e-5)

    key = jax.random.key(3)
    action = jax.jit(agent.act)(key, state, empty_context(num_arms), hp)
    key_sample, _ = jax.random.split(key)
    z = np.asarray(jax.random.normal(key_sample, (num_arms,)))
    assert int(action) == int(np.argmax(mean + z / np.sqrt(precision)))


# --------------------------------------------------------------------------- explore-then-commit


def test_etc_explores_round_robin_then_commits_forever():
    num_arms, steps = 4, 60
    # Arm 2 is best during exploration; afterwards arm 0 pays more, which ETC must ignore.
    table = np.zeros((steps, num_arms))
    table[:, 2] = 0.6
    table[12:, 0] = 1.0
    agent = agents.make("etc", num_arms=num_arms)
    run = make_play(agent)
    for m in (1.0, 3.0):
        hp = agent.default_hparams().replace(m=m)
        states, actions = run(hp, jnp.asarray(table, jnp.float32), jax.random.key(0))
        actions = np.asarray(actions)
        explore = int(m) * num_arms
        np.testing.assert_array_equal(actions[:explore], np.arange(explore) % num_arms)
        np.testing.assert_array_equal(actions[explore:], 2)
        last = at(states, steps - 1)
        assert last.step == steps - 1 and last.committed == 2
        np.testing.assert_array_equal(last.counts, np.bincount(actions[:-1], minlength=num_arms))


def test_etc_breaks_a_tie_at_commitment_at_random_and_keeps_it():
    num_arms, steps, seeds = 3, 12, 64
    table = np.tile([0.5, 0.0, 0.5], (steps, 1))  # arms 0 and 2 tie
    agent = agents.make("etc", num_arms=num_arms)
    hp = agent.default_hparams().replace(m=2.0)
    keys = jax.random.split(jax.random.key(11), seeds)
    runs = jax.vmap(make_play(agent), in_axes=(None, None, 0))
    _, actions = runs(hp, jnp.asarray(table, jnp.float32), keys)
    actions = np.asarray(actions)
    np.testing.assert_array_equal(actions[:, :6], np.tile([0, 1, 2, 0, 1, 2], (seeds, 1)))
    committed = actions[:, 6]
    assert np.all(actions[:, 6:] == committed[:, None]), "the committed arm never changes"
    assert set(committed) <= {0, 2}
    # Binomial(64, 1/2) lies in [12, 52] but with probability 2e-7.
    assert 12 <= np.sum(committed == 0) <= 52


# --------------------------------------------------------------------------- bad input

NEW_AGENTS = ["ucb", "kl_ucb", "gradient_bandit", "thompson", "gaussian_thompson", "etc", "exp3"]


@pytest.mark.parametrize("name", NEW_AGENTS)
def test_bad_num_arms_is_a_config_error(name):
    for bad in (0, -3, 2.5, "10"):
        with pytest.raises(ConfigError, match="num_arms"):
            agents.make(name, num_arms=bad)


def test_kl_ucb_num_bisections_is_validated():
    for bad in (0, 100, 2.0, True):
        with pytest.raises(ConfigError, match="num_bisections"):
            agents.make("kl_ucb", num_bisections=bad)


@pytest.mark.parametrize(
    "name, field, value",
    [
        ("ucb", "c", -1.0),
        ("kl_ucb", "c", -0.5),
        ("gradient_bandit", "step_size", 0.0),
        ("gradient_bandit", "baseline", 1.5),
        ("thompson", "alpha0", 0.0),
        ("thompson", "beta0", -1.0),
        ("gaussian_thompson", "noise", 0.0),
        ("gaussian_thompson", "prior_std", -1.0),
        ("gaussian_thompson", "prior_mean", math.inf),
        ("etc", "m", 0.5),
        ("exp3", "exploration", 0.0),
        ("exp3", "exploration", 1.5),
    ],
)
def test_out_of_range_knobs_are_config_errors(name, field, value):
    agent = agents.make(name)
    simulator.check(agent.default_hparams(), "agent")  # defaults are valid
    with pytest.raises(ConfigError, match=f"agent.{field} = "):
        simulator.check(agent.default_hparams().replace(**{field: value}), "agent")
