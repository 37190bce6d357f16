"""Exact action distributions (``Agent.action_probabilities``) and the agents' declared needs.

Every agent whose policy has a closed form, at a few hand-made states (ties, untried arms
at ``+inf``, forced exploration), against (a) a plain numpy transcription of its policy and
(b) the empirical frequencies of ``jax.vmap(act)`` over 20,000 keys (one compiled program
per agent: all its states and keys at once).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from agents.classic.epsilon_greedy import ValueState
from agents.classic.etc import ETCState
from agents.classic.exp3 import LogWeightState
from agents.classic.exp3 import LogWeightState as SharedLogWeightState
from agents.classic.gradient_bandit import PreferenceState
from agents.common import greedy_probabilities, softmax_probabilities, uniform_probabilities
from agents.contextual.linucb import LinearState
from agents.linear_model import LinearParams
from agents.neural.networks import RewardNet
from agents.neural.neural_ucb import ucb_scores
from agents.nonstationary.d_linucb import DLinUCBState
from agents.nonstationary.discounted_ucb import DiscountedState, WindowState
from agents.nonstationary.m_ucb import MUCBState
from agents.nonstationary.sw_linucb import SWLinUCBState
from agents.types import Agent
from agents.wrappers import with_delay, with_fresh_arms, with_restart
from simulator.types import Context, empty_context

K = 4
NUM_KEYS = 20_000
f32 = np.float32


# --------------------------------------------------------------------------------------
# numpy references
# --------------------------------------------------------------------------------------


def np_greedy(values, epsilon=0.0):
    """``epsilon / K + (1 - epsilon) 1[a in argmax] / |argmax|``."""
    values = np.asarray(values, np.float64)
    best = values >= values.max()
    return epsilon / values.size + (1.0 - epsilon) * best / best.sum()


def np_softmax(preferences, temperature=1.0):
    z = np.asarray(preferences, np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def np_exp3(log_weights, gamma):
    w = np.exp(np.asarray(log_weights, np.float64))
    return (1.0 - gamma) * w / w.sum() + gamma / w.size


def np_ucb_index(values, counts, c):
    values, counts = np.asarray(values, np.float64), np.asarray(counts, np.float64)
    log_t = math.log(max(counts.sum(), 1.0))
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, values + c * np.sqrt(log_t / counts), np.inf)


def np_bernoulli_kl(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(p > 0, p * np.log(p / q), 0.0)
        second = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return first + second


def np_kl_ucb_index(values, counts, c, num_bisections=24):
    values, counts = np.asarray(values, np.float64), np.asarray(counts, np.float64)
    log_t = math.log(max(counts.sum(), 1.0))
    level = (log_t + c * math.log(max(log_t, 1.0))) / np.where(counts > 0, counts, 1.0)
    mean = np.clip(values, 0.0, 1.0)
    low, high = mean, np.ones_like(mean)
    for _ in range(num_bisections):
        middle = 0.5 * (low + high)
        inside = np_bernoulli_kl(mean, middle) <= level
        low, high = np.where(inside, middle, low), np.where(inside, high, middle)
    return np.where(counts > 0, low, np.inf)


def np_discounted_ucb_index(counts, sums, bound, xi):
    counts, sums = np.asarray(counts, np.float64), np.asarray(sums, np.float64)
    total = max(counts.sum(), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = sums / counts + 2 * bound * np.sqrt(xi * math.log(total) / counts)
    return np.where(counts > 0, index, np.inf)


def np_sliding_window_ucb_index(counts, sums, filled, bound, xi):
    counts, sums = np.asarray(counts, np.float64), np.asarray(sums, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = sums / counts + bound * np.sqrt(xi * math.log(max(filled, 1)) / counts)
    return np.where(counts > 0, index, np.inf)


def np_m_ucb(counts, sums, steps, gamma):
    period = math.floor(K / gamma)
    phase = (steps + 1) % period
    if 1 <= phase <= K:
        return np.eye(K)[phase - 1]
    counts, sums = np.asarray(counts, np.float64), np.asarray(sums, np.float64)
    total = max(counts.sum(), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = sums / counts + np.sqrt(2 * math.log(total) / counts)
    return np_greedy(np.where(counts > 0, index, np.inf))


def np_norms(x, matrix):
    """``sqrt(x_k^T M x_k)`` for every row of ``x``."""
    return np.sqrt(np.einsum("kd,de,ke->k", x, matrix, x))


# --------------------------------------------------------------------------------------
# Cases: an agent, its hparams, hand-made (state, context) pairs and the numpy reference
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    agent: Agent
    hparams: Any
    points: list[tuple[Any, Context]]
    reference: Callable[[Any, Context, Any], np.ndarray]


def arms_context(arm_features, features=()) -> Context:
    return Context(
        features=jnp.asarray(np.asarray(features, f32).reshape(-1)),
        arm_features=jnp.asarray(np.asarray(arm_features, f32)),
    )


def tied_at_the_top(arm_features, score: Callable[[np.ndarray], np.ndarray]):
    """``arm_features`` with the best row (by ``score``) copied onto another arm: a tie."""
    arm_features = np.array(arm_features, f32)
    order = np.argsort(-np.asarray(score(arm_features)))
    arm_features[order[1]] = arm_features[order[0]]
    return arm_features


def values_cases(name, hparams_changes, states, reference) -> Case:
    agent = agents.make(name, num_arms=K)
    hparams = agent.default_hparams().replace(**hparams_changes)
    return Case(agent, hparams, [(s, empty_context(K)) for s in states], reference)


def value_states():
    """Untried arms tied at +inf; a three-way tie; a unique best."""
    return [
        ValueState(values=jnp.array([0.5, 0.2, 0.9, 0.1]), counts=jnp.array([0.0, 3, 0, 2])),
        ValueState(values=jnp.array([0.5, 0.5, 0.2, 0.5]), counts=jnp.array([2.0, 2, 2, 2])),
        ValueState(values=jnp.array([0.1, 0.9, 0.4, 0.4]), counts=jnp.array([5.0, 1, 5, 5])),
    ]


def random_case():
    agent = agents.make("random", num_arms=K)
    state = agent.init(jax.random.key(0), agent.default_hparams())
    return Case(
        agent, agent.default_hparams(), [(state, empty_context(K))], lambda s, c, h: np.ones(K) / K
    )


def epsilon_greedy_case():
    states = [
        ValueState(values=jnp.array(v, jnp.float32), counts=jnp.ones(K))
        for v in ([1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 5.0, 0.0])
    ]
    return values_cases(
        "epsilon_greedy", {"epsilon": 0.2}, states, lambda s, c, h: np_greedy(s.values, 0.2)
    )


def gradient_bandit_case():
    states = [
        PreferenceState(jnp.array(h, jnp.float32), jnp.zeros(()), jnp.zeros(()))
        for h in ([0.5, -1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    ]
    return values_cases("gradient_bandit", {}, states, lambda s, c, h: np_softmax(s.preferences))


def exp3_case(name, state_type, gamma):
    states = [
        state_type(log_weights=jnp.log(jnp.array(w, jnp.float32)))
        for w in ([0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1])
    ]
    return values_cases(
        name, {"exploration": gamma}, states, lambda s, c, h: np_exp3(s.log_weights, gamma)
    )


def ucb_case():
    c = 2.0
    return values_cases(
        "ucb",
        {"c": c},
        value_states(),
        lambda s, ctx, h: np_greedy(np_ucb_index(s.values, s.counts, c)),
    )


def kl_ucb_case():
    return values_cases(
        "kl_ucb",
        {"c": 3.0},
        value_states(),
        lambda s, ctx, h: np_greedy(np_kl_ucb_index(s.values, s.counts, 3.0)),
    )


def discounted_ucb_case():
    states = [
        DiscountedState(counts=jnp.array([0.0, 2.5, 2.5, 1.0]), sums=jnp.array([0, 1.5, 1.5, 0.2])),
        DiscountedState(counts=jnp.array([2.0, 2.0, 0.0, 0.0]), sums=jnp.array([1.0, 2, 0, 0])),
        DiscountedState(counts=jnp.array([1.5, 1.5, 3.0, 0.5]), sums=jnp.array([0.9, 0.9, 0.3, 0])),
    ]
    return values_cases(
        "discounted_ucb",
        {"xi": 0.6},
        states,
        lambda s, c, h: np_greedy(np_discounted_ucb_index(s.counts, s.sums, 1.0, 0.6)),
    )


def sliding_window_ucb_case():
    agent = agents.make("sliding_window_ucb", num_arms=K, window=10)

    def state(counts, sums):
        return WindowState(
            actions=jnp.full((10,), -1, jnp.int32),
            rewards=jnp.zeros((10,)),
            position=jnp.int32(6),
            filled=jnp.int32(6),
            counts=jnp.array(counts, jnp.int32),
            sums=jnp.array(sums, jnp.float32),
        )

    states = [state([0, 3, 0, 3], [0, 1.5, 0, 2.0]), state([2, 2, 1, 1], [1, 1, 0.2, 0.9])]

    def reference(s, c, h):
        return np_greedy(np_sliding_window_ucb_index(s.counts, s.sums, 6, 1.0, 0.6))

    hparams = agent.default_hparams()
    return Case(agent, hparams, [(s, empty_context(K)) for s in states], reference)


def m_ucb_case():
    gamma = 0.5  # period floor(K / gamma) = 8: rounds with phase 1..4 are forced

    def state(counts, sums, steps):
        return MUCBState(
            counts=jnp.array(counts, jnp.int32),
            sums=jnp.array(sums, jnp.float32),
            recent=jnp.zeros((K, 4)),
            steps=jnp.int32(steps),
            restarts=jnp.int32(0),
        )

    states = [
        state([1, 1, 1, 1], [1.0, 0, 0, 0], 1),  # forced: arm 1
        state([0, 2, 0, 3], [0, 1.0, 0, 2.0], 6),  # UCB, untried arms 0 and 2 tie
        state([3, 3, 3, 3], [1.0, 2.0, 2.0, 0.5], 14),  # UCB, arms 1 and 2 tie
        state([3, 3, 3, 3], [1.0, 2.0, 2.0, 0.5], 10),  # forced: arm 2
    ]
    agent = agents.make("m_ucb", num_arms=K, window=4)
    hparams = agent.default_hparams().replace(exploration=gamma)

    def reference(s, c, h):
        return np_m_ucb(s.counts, s.sums, int(s.steps), gamma)

    return Case(agent, hparams, [(s, empty_context(K)) for s in states], reference)


def etc_case():
    def state(step, committed):
        return ETCState(jnp.zeros(K), jnp.zeros(K), jnp.int32(step), jnp.int32(committed))

    states = [state(5, 0), state(20, 3)]  # exploring (round robin: arm 1), committed to 3

    def reference(s, c, h):
        arm = int(s.step) % K if int(s.step) < 2 * K else int(s.committed)
        return np.eye(K)[arm]

    return values_cases("etc", {"m": 2.0}, states, reference)


def spd(rng, dim, scale=1.0):
    x = rng.normal(size=(6, dim))
    return (scale * np.eye(dim) + x.T @ x).astype(f32)


def linucb_shared_case():
    rng = np.random.default_rng(0)
    dim, alpha = 3, 0.7
    a_inv = np.linalg.inv(spd(rng, dim)).astype(f32)
    a_inv = (a_inv + a_inv.T) / 2
    theta = (a_inv @ rng.normal(size=dim)).astype(f32)
    state = LinearState(
        a_inv=jnp.asarray(a_inv[None]),
        b=jnp.zeros((1, dim)),
        theta=jnp.asarray(theta[None]),
        counts=jnp.array([6.0]),
    )

    def index(x):
        return x @ theta + alpha * np_norms(x, a_inv)

    arms = rng.normal(size=(K, dim))
    points = [(state, arms_context(arms)), (state, arms_context(tied_at_the_top(arms, index)))]
    agent = agents.make("linucb", num_arms=K, arm_dim=dim, mode="shared")
    hparams = agent.default_hparams().replace(alpha=alpha)
    return Case(
        agent, hparams, points, lambda s, c, h: np_greedy(index(np.asarray(c.arm_features)))
    )


def linucb_disjoint_case():
    rng = np.random.default_rng(1)
    dim, alpha = 2, 1.0
    a_inv = np.stack([np.linalg.inv(spd(rng, dim)) for _ in range(K)]).astype(f32)
    theta = rng.normal(size=(K, dim)).astype(f32)
    a_inv[2], theta[2] = a_inv[1], theta[1]  # arms 1 and 2: the same model
    theta[1] = theta[2] = theta[1] + 5.0  # ... and the best one on x = (1, 1)
    state = LinearState(
        a_inv=jnp.asarray(a_inv),
        b=jnp.zeros((K, dim)),
        theta=jnp.asarray(theta),
        counts=jnp.ones(K),
    )

    def reference(s, c, h):
        x = np.asarray(c.features, np.float64)
        index = theta @ x + alpha * np.sqrt(np.einsum("d,kde,e->k", x, a_inv, x))
        return np_greedy(index)

    context = arms_context(np.zeros((K, 0)), [1.0, 1.0])
    agent = agents.make("linucb", num_arms=K, context_dim=dim, arm_dim=0, mode="disjoint")
    return Case(agent, agent.default_hparams(), [(state, context)], reference)


def d_linucb_case():
    rng = np.random.default_rng(2)
    dim = 3
    agent = agents.make("d_linucb", num_arms=K, arm_dim=dim)
    hp = agent.default_hparams()
    v, v_tilde = spd(rng, dim, 0.1), spd(rng, dim, 0.1)
    theta = np.linalg.solve(v, rng.normal(size=dim)).astype(f32)
    count = 5.0
    state = DLinUCBState(
        v=jnp.asarray(v),
        v_tilde=jnp.asarray(v_tilde),
        b=jnp.asarray(v @ theta),
        chol=jnp.asarray(np.linalg.cholesky(v).astype(f32)),
        theta=jnp.asarray(theta),
        count=jnp.float32(count),
    )
    gamma, lam = float(hp.discount), float(hp.ridge)
    ratio = (1 - gamma ** (2 * count)) / (1 - gamma**2)
    beta = math.sqrt(lam) * float(hp.param_bound) + float(hp.noise) * math.sqrt(
        2 * math.log(1 / float(hp.delta)) + dim * math.log(1 + ratio / (dim * lam))
    )
    v_inv = np.linalg.inv(v.astype(np.float64))

    def index(x):
        return x @ theta + beta * np_norms(x, v_inv @ v_tilde @ v_inv)

    arms = rng.normal(size=(K, dim))
    points = [(state, arms_context(arms)), (state, arms_context(tied_at_the_top(arms, index)))]
    return Case(agent, hp, points, lambda s, c, h: np_greedy(index(np.asarray(c.arm_features))))


def sw_linucb_case():
    rng = np.random.default_rng(3)
    dim, window = 2, 50
    agent = agents.make("sw_linucb", num_arms=K, arm_dim=dim, window=window)
    hp = agent.default_hparams()
    v = spd(rng, dim, 0.1)
    theta = np.linalg.solve(v, rng.normal(size=dim)).astype(f32)
    state = SWLinUCBState(
        inputs=jnp.zeros((window, dim)),
        rewards=jnp.zeros((window,)),
        position=jnp.int32(6),
        v=jnp.asarray(v),
        b=jnp.asarray(v @ theta),
        chol=jnp.asarray(np.linalg.cholesky(v).astype(f32)),
        theta=jnp.asarray(theta),
    )
    lam = float(hp.ridge)
    beta = math.sqrt(lam) * float(hp.param_bound) + float(hp.noise) * math.sqrt(
        dim * math.log((1 + window / lam) / float(hp.delta))
    )

    def index(x):
        return x @ theta + beta * np_norms(x, np.linalg.inv(v.astype(np.float64)))

    arms = rng.normal(size=(K, dim))
    points = [(state, arms_context(arms)), (state, arms_context(tied_at_the_top(arms, index)))]
    return Case(agent, hp, points, lambda s, c, h: np_greedy(index(np.asarray(c.arm_features))))


def linear_greedy_case(exploration):
    rng = np.random.default_rng(4)
    dim = 3
    agent = agents.make(
        "linear_greedy", num_arms=K, arm_dim=dim, mode="shared", exploration=exploration
    )
    hp = agent.default_hparams()
    hp = hp.replace(epsilon=0.3) if exploration == "epsilon" else hp.replace(temperature=0.5)
    initial = agent.init(jax.random.key(0), hp)  # w = 0: every prediction ties
    weights, bias = rng.normal(size=dim).astype(f32), f32(0.2)
    trained = initial.replace(params=LinearParams(jnp.asarray(weights), jnp.float32(bias)))

    def predictions(state, x):
        return x @ np.asarray(state.params.weights, np.float64) + float(state.params.bias)

    arms = rng.normal(size=(K, dim))
    tied = tied_at_the_top(arms, lambda x: x @ weights)
    points = [(initial, arms_context(arms)), (trained, arms_context(tied))]

    def reference(s, c, h):
        values = predictions(s, np.asarray(c.arm_features, np.float64))
        return np_greedy(values, 0.3) if exploration == "epsilon" else np_softmax(values, 0.5)

    return Case(agent, hp, points, reference)


def np_mlp(params, z):
    """The reward network's output ``f(z)`` (ReLU MLP, one hidden layer) in numpy."""
    hidden = params["hidden_0"]
    h = np.maximum(z @ np.asarray(hidden["kernel"]) + np.asarray(hidden["bias"]), 0.0)
    return h @ np.asarray(params["head"]["kernel"]) + np.asarray(params["head"]["bias"])


def neural_greedy_case():
    rng = np.random.default_rng(5)
    agent = agents.make("neural_greedy", num_arms=K, context_dim=1, arm_dim=2, hidden=(8,))
    hp = agent.default_hparams().replace(epsilon=0.25)
    state = agent.init(jax.random.key(0), hp)
    user = f32(0.5)

    def values(x):  # shared scorer: f([user ; y_a])
        inputs = np.concatenate([np.full((K, 1), user), np.asarray(x, np.float64)], axis=1)
        return np_mlp(state.params, inputs)[:, 0]

    arms = rng.normal(size=(K, 2))
    points = [
        (state, arms_context(arms, [user])),
        (state, arms_context(tied_at_the_top(arms, values), [user])),
    ]
    return Case(agent, hp, points, lambda s, c, h: np_greedy(values(c.arm_features), 0.25))


def neural_ucb_case():
    rng = np.random.default_rng(6)
    agent = agents.make("neural_ucb", num_arms=K, context_dim=1, arm_dim=2, hidden=(8,))
    hp = agent.default_hparams().replace(gamma=0.5)
    state = agent.init(jax.random.key(0), hp)
    state = state.replace(z=jnp.asarray(rng.uniform(0.5, 2.0, size=state.z.shape), jnp.float32))
    net = RewardNet("neural_ucb", K, 1, 2, (8,))

    def scores(x):  # f_a + gamma sigma_a: the network's score, from the agent's module
        return np.asarray(ucb_scores(net, state, arms_context(x, [0.5]), 0.5))

    arms = rng.normal(size=(K, 2))
    points = [
        (state, arms_context(arms, [0.5])),
        (state, arms_context(tied_at_the_top(arms, scores), [0.5])),
    ]
    return Case(agent, hp, points, lambda s, c, h: np_greedy(scores(c.arm_features)))


def two_tower_case():
    rng = np.random.default_rng(7)
    agent = agents.make("two_tower", num_arms=K, context_dim=2, arm_dim=2, embed_dim=3)
    hp = agent.default_hparams().replace(epsilon=0.1)
    state = agent.init(jax.random.key(0), hp)
    user = np.array([0.4, -1.0], f32)

    def values(y):  # u . v_k + c, u = P_u^T x, v_k = P_v^T y_k (no ids)
        tower = state.tower
        u = user @ np.asarray(tower.user, np.float64)
        return np.asarray(y, np.float64) @ np.asarray(tower.item, np.float64) @ u + float(
            tower.bias
        )

    arms = rng.normal(size=(K, 2))
    points = [
        (state, arms_context(arms, user)),
        (state, arms_context(tied_at_the_top(arms, values), user)),
    ]
    return Case(agent, hp, points, lambda s, c, h: np_greedy(values(c.arm_features), 0.1))


CASES = {
    "random": random_case,
    "epsilon_greedy": epsilon_greedy_case,
    "gradient_bandit": gradient_bandit_case,
    "exp3": lambda: exp3_case("exp3", LogWeightState, 0.1),
    "exp3s": lambda: exp3_case("exp3s", SharedLogWeightState, 0.2),
    "ucb": ucb_case,
    "kl_ucb": kl_ucb_case,
    "discounted_ucb": discounted_ucb_case,
    "sliding_window_ucb": sliding_window_ucb_case,
    "m_ucb": m_ucb_case,
    "etc": etc_case,
    "linucb": linucb_shared_case,
    "linucb_disjoint": linucb_disjoint_case,
    "d_linucb": d_linucb_case,
    "sw_linucb": sw_linucb_case,
    "linear_greedy": lambda: linear_greedy_case("epsilon"),
    "linear_greedy_softmax": lambda: linear_greedy_case("softmax"),
    "neural_greedy": neural_greedy_case,
    "neural_ucb": neural_ucb_case,
    "two_tower": two_tower_case,
}


def exact_and_sampled(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """``(exact, frequencies)``, both ``(num_points, K)``: ``action_probabilities`` and the
    frequencies of ``act`` over ``NUM_KEYS`` keys, at every point, in one program."""
    states = jax.tree.map(lambda *x: jnp.stack(x), *[p[0] for p in case.points])
    contexts = jax.tree.map(lambda *x: jnp.stack(x), *[p[1] for p in case.points])
    keys = jax.random.split(jax.random.key(11), NUM_KEYS)
    agent, hparams = case.agent, case.hparams

    def at(state, context):
        act = jax.vmap(agent.act, in_axes=(0, None, None, None))
        actions = act(keys, state, context, hparams)
        frequencies = jnp.bincount(actions, length=K) / NUM_KEYS
        return agent.action_probabilities(state, context, hparams), frequencies

    exact, frequencies = jax.jit(jax.vmap(at))(states, contexts)
    return np.asarray(exact, np.float64), np.asarray(frequencies, np.float64)


def test_every_closed_form_policy_is_covered():
    """Each registered agent with ``action_probabilities`` has a case here."""
    with_probabilities = {
        name for name in agents.names() if agents.make(name).action_probabilities is not None
    }
    assert with_probabilities == {name for name in CASES if name in agents.names()}
    assert agents.make("two_tower", exploration="thompson").action_probabilities is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_action_probabilities_are_the_distribution_of_act(name):
    case = CASES[name]()
    exact, frequencies = exact_and_sampled(case)
    for i, (state, context) in enumerate(case.points):
        expected = case.reference(state, context, case.hparams)
        # (a) the closed form equals the numpy transcription of the policy
        np.testing.assert_allclose(exact[i], expected, rtol=1e-5, atol=1e-6, err_msg=f"point {i}")
        np.testing.assert_allclose(exact[i].sum(), 1.0, rtol=1e-6)
        # (b) act draws from it: binomial error, 4.5 sd (zero where p is 0 or 1)
        sd = np.sqrt(expected * (1 - expected) / NUM_KEYS)
        assert np.all(np.abs(frequencies[i] - expected) <= 4.5 * sd + 1e-9), (
            i,
            frequencies[i],
            expected,
        )


def test_shared_closed_forms_match_numpy():
    values = jnp.array([0.3, jnp.inf, -2.0, jnp.inf, 1.0])
    np.testing.assert_allclose(greedy_probabilities(values), [0, 0.5, 0, 0.5, 0], atol=0)
    np.testing.assert_allclose(
        greedy_probabilities(values, 0.5), np_greedy(np.asarray(values), 0.5), rtol=1e-6
    )
    np.testing.assert_allclose(
        softmax_probabilities(jnp.array([1.0, 2.0, -1.0]), 0.3),
        np_softmax([1.0, 2.0, -1.0], 0.3),
        rtol=1e-6,
    )
    np.testing.assert_allclose(uniform_probabilities(5), np.full(5, 0.2), rtol=1e-7)


# --------------------------------------------------------------------------------------
# Wrappers keep the inner agent's distribution
# --------------------------------------------------------------------------------------


def test_wrappers_pass_the_inner_distribution_through():
    inner = agents.make("ucb", num_arms=K)
    hp = inner.default_hparams()
    state = value_states()[0]  # untried arms 0 and 2 tie
    context = empty_context(K)
    expected = np.asarray(inner.action_probabilities(state, context, hp))
    for wrapped in (with_restart(inner), with_fresh_arms(inner, num_arms=K)):
        assert wrapped.action_probabilities is inner.action_probabilities
        assert wrapped.needs == inner.needs
    delayed = with_delay(inner, every=3, delay=1)
    delayed_state = delayed.init(jax.random.key(0), hp).replace(inner=state)
    np.testing.assert_array_equal(
        np.asarray(delayed.action_probabilities(delayed_state, context, hp)), expected
    )
    np.testing.assert_array_equal(expected, [0.5, 0.0, 0.5, 0.0])
    assert with_delay(agents.make("thompson", num_arms=K), every=2).action_probabilities is None


def test_delay_declares_the_inner_needs_and_the_shapes_it_buffers():
    inner = agents.make("linear_greedy", num_arms=K, arm_dim=3, loss="logistic")
    delayed = with_delay(inner, every=2)
    assert delayed.needs == inner.needs  # the widths it buffers are the ones inner reads
    assert delayed.estimate_link == "logit"
    given = with_delay(agents.make("ucb", num_arms=K), every=2, context_dim=5, arm_dim=2)
    assert (given.needs.num_arms, given.needs.context_dim, given.needs.arm_dim) == (K, 5, 2)
    tower = agents.make("two_tower", num_arms=3, context_dim=2, arm_dim=2, num_users=5)
    assert with_delay(tower, every=2).needs.num_users == 5


# --------------------------------------------------------------------------------------
# Declared needs
# --------------------------------------------------------------------------------------


def test_linear_agents_without_features_build_and_are_refused_by_the_fit_check():
    bernoulli = simulator.make("bernoulli", num_arms=K).spec
    for name, static in (
        ("linucb", {"mode": "shared"}),
        ("lints", {"mode": "shared"}),
        ("linear_greedy", {"mode": "shared"}),
        ("d_linucb", {}),
        ("sw_linucb", {}),
    ):
        agent = agents.make(name, num_arms=K, context_dim=0, arm_dim=0, **static)
        assert agent.needs.features == "arm", name
        assert agents.misfits(bernoulli, agent) == [
            "needs arm features; the environment gives context_dim = 0, arm_dim = 0"
        ], name
    for name in ("lints", "neural_ts"):
        static = {"mode": "disjoint"} if name == "lints" else {}
        agent = agents.make(name, num_arms=K, context_dim=0, arm_dim=0, **static)
        assert agents.misfits(bernoulli, agent) == [
            "needs features (context or arm); the environment gives context_dim = 0, arm_dim = 0"
        ], name


def test_needs_follow_the_static_options():
    assert agents.make("thompson").needs.reward_range == (0.0, 1.0)
    assert agents.make("discounted_thompson").needs.reward_range == (0.0, 1.0)
    assert agents.make("kl_ucb").needs.reward_range == (0.0, 1.0)
    assert agents.make("ucb", num_arms=7).needs == agents.Needs(num_arms=7)
    assert agents.make("exp3").needs.reward_range is None

    ogd = agents.make("ogd", context_dim=6, loss="logistic")
    assert (ogd.needs.action, ogd.needs.feedback, ogd.needs.context_dim) == (
        "prediction",
        "label",
        6,
    )
    assert ogd.estimate_link == "logit"
    assert agents.make("ogd").estimate_link == "identity"

    greedy = agents.make("linear_greedy", num_arms=K, arm_dim=3, loss="logistic")
    assert greedy.needs.reward_range == (0.0, 1.0) and greedy.estimate_link == "logit"
    disjoint = agents.make("linear_greedy", num_arms=K, context_dim=2)
    assert (disjoint.needs.context_dim, disjoint.needs.arm_dim, disjoint.needs.features) == (
        2,
        0,
        "none",
    )

    shared = agents.make("lints", num_arms=K, context_dim=2, arm_dim=3, mode="shared")
    assert shared.needs == agents.Needs(num_arms=K, arm_dim=3, features="arm")
    on_context = agents.make("lints", num_arms=K, context_dim=2, arm_dim=3, mode="disjoint")
    assert on_context.needs == agents.Needs(num_arms=K, context_dim=2, features="any")
    on_items = agents.make("lints", num_arms=K, context_dim=0, arm_dim=3, mode="disjoint")
    assert on_items.needs == agents.Needs(num_arms=K, arm_dim=3, features="any")

    tower = agents.make("two_tower", num_arms=3, context_dim=0, arm_dim=2, num_items=9)
    assert tower.needs == agents.Needs(num_arms=3, arm_dim=2, features="context", num_items=9)
