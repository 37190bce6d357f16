"""Neural agents: reference checks of their updates, the replay buffer, behaviour, memory.

Sizes are small (widths 32, horizons of a few hundred steps, a handful of seeds) and each
agent is compiled once for its behaviour run, so the file stays within its time budget.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import flax.struct
import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import agents
import simulator
from agents.neural import replay
from agents.neural.mlp import MLP
from agents.neural.networks import RewardNet, tree_bytes
from agents.neural.neural_linear import (
    NIGPosterior,
    batch_posterior,
    lower_triangular_inverse,
    rank_one_update,
)
from agents.neural.neural_ucb import ts_moments, ts_sample, ucb_scores
from agents.neural.two_tower import adagrad_rows, scores
from agents.types import Transition
from experiments.runner import advance, init_carry, make_run, split_run_key
from simulator.params import ConfigError, knob
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep

NEURAL = ("neural_greedy", "neural_linear", "neural_ucb", "neural_ts")


# --------------------------------------------------------------------------------------
# A nonlinear test problem and helpers
# --------------------------------------------------------------------------------------


class QuadraticState(NamedTuple):
    x: jax.Array


@flax.struct.dataclass
class QuadraticParams:
    noise: float = knob(0.1, low=0.0)


@dataclasses.dataclass(frozen=True)
class QuadraticBandit(Environment):
    """``x ~ U([-1, 1]^2)``; arm ``a`` pays ``4 (u_a . x)^2 + noise``, ``u_a`` unit vectors
    at angles ``a pi / K``.  ``E[r | x]`` is even in ``x``, so a linear model in ``x`` (no
    intercept) sees no signal: LinUCB does no better than chance, a network learns it."""

    num_arms: int = 4

    @property
    def spec(self):
        return EnvSpec(num_arms=self.num_arms, context_dim=2, arm_dim=0)

    def default_params(self):
        return QuadraticParams()

    def _means(self, x):
        angles = jnp.arange(self.num_arms) * jnp.pi / self.num_arms
        directions = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
        return 4.0 * (directions @ x) ** 2

    def _timestep(self, x, reward):
        context = Context(x, jnp.zeros((self.num_arms, 0), jnp.float32))
        return make_timestep(context, reward, make_oracle(self._means(x)))

    def reset(self, key, params):
        x = jax.random.uniform(key, (2,), jnp.float32, -1.0, 1.0)
        return QuadraticState(x), self._timestep(x, 0.0)

    def step(self, key, state, action, params):
        key_reward, key_x = jax.random.split(key)
        reward = self._means(state.x)[action] + params.noise * jax.random.normal(key_reward)
        x = jax.random.uniform(key_x, (2,), jnp.float32, -1.0, 1.0)
        return QuadraticState(x), self._timestep(x, reward)


def seed_keys(num_seeds, base=0):
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(base), i))(jnp.arange(num_seeds))


def total_regret(env, agent, hparams, num_steps, num_seeds, base=0):
    run = jax.jit(jax.vmap(make_run(env, agent, num_steps), in_axes=(0, None, None)))
    log = run(seed_keys(num_seeds, base), env.default_params(), hparams)
    return np.asarray(log.regret).sum(axis=1)


def net_value(hidden, num_outputs, params, z, a):
    """``f_a(z)`` straight from the flax module (independent of the agents' helpers)."""
    return MLP(hidden, num_outputs).apply({"params": params}, z)[0][a]


@functools.partial(jax.jit, static_argnums=(0, 1))
def value_and_flat_grad(hidden, num_outputs, params, z, a):
    """``(f_a(z), grad_theta f_a(z) flattened)`` by ``jax.grad`` of the flax module."""
    value, grads = jax.value_and_grad(net_value, argnums=2)(hidden, num_outputs, params, z, a)
    return value, ravel_pytree(grads)[0]


def context_heads(key, num_arms=3, dim=2):
    x = jax.random.normal(key, (dim,), jnp.float32)
    return Context(x, jnp.zeros((num_arms, 0), jnp.float32))


def context_shared(key, num_arms=3, context_dim=2, arm_dim=3):
    key_x, key_y = jax.random.split(key)
    return Context(
        jax.random.normal(key_x, (context_dim,), jnp.float32),
        jax.random.normal(key_y, (num_arms, arm_dim), jnp.float32),
    )


def transition(context, action, reward):
    oracle = make_oracle(jnp.zeros(context.arm_features.shape[0]))
    return Transition(context, jnp.int32(action), jnp.float32(reward), jnp.float32(jnp.nan), oracle)


def arm_input(context, a):
    x = np.asarray(context.features)
    y = np.asarray(context.arm_features[a])
    return jnp.asarray(np.concatenate([x, y]), jnp.float32)


# --------------------------------------------------------------------------------------
# Replay buffer
# --------------------------------------------------------------------------------------


def test_replay_ring_semantics():
    buffer = replay.init({"x": jnp.zeros(2), "a": 0}, capacity=4)
    assert buffer.data["x"].dtype == jnp.float32 and buffer.data["a"].dtype == jnp.int32
    add = jax.jit(replay.add)
    sample = jax.jit(replay.sample, static_argnums=2)
    _, valid = sample(jax.random.key(0), buffer, 256)
    np.testing.assert_array_equal(valid, 0.0)  # nothing to learn from yet
    for n in range(6):
        buffer = add(buffer, {"x": jnp.full(2, float(n)), "a": n})
        if n == 1:  # before the buffer is full, samples come from the filled slots only
            batch, valid = sample(jax.random.key(1), buffer, 256)
            assert set(np.asarray(batch["a"]).tolist()) == {0, 1}
            np.testing.assert_array_equal(valid, 1.0)
            np.testing.assert_array_equal(replay.valid_mask(buffer), [1, 1, 0, 0])
    # six items in four slots: the oldest two were overwritten, slot = n mod 4
    np.testing.assert_array_equal(buffer.data["a"], [4, 5, 2, 3])
    np.testing.assert_array_equal(buffer.data["x"][:, 0], [4.0, 5.0, 2.0, 3.0])
    assert int(replay.size(buffer)) == 4 and int(buffer.count) == 6
    assert int(replay.latest(buffer)["a"]) == 5
    batch, _ = sample(jax.random.key(2), buffer, 256)
    assert set(np.asarray(batch["a"]).tolist()) == {2, 3, 4, 5}


# --------------------------------------------------------------------------------------
# NeuralUCB / NeuralTS: diagonal Z, bonus, variance against numpy
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_neural_ucb_diagonal_z_and_bonus_match_numpy(shared):
    hidden, num_arms = (8, 6), 3
    arm_dim = 3 if shared else 0
    agent = agents.make(
        "neural_ucb", num_arms=num_arms, context_dim=2, arm_dim=arm_dim, hidden=hidden
    )
    hp = agent.default_hparams().replace(gamma=0.7, ridge=0.5)
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    np.testing.assert_allclose(state.z, 0.5)
    make_context = context_shared if shared else context_heads
    num_outputs = 1 if shared else num_arms
    m = hidden[0]

    def grads_and_values(params, context):
        gs, fs = [], []
        for a in range(num_arms):
            z = arm_input(context, a) if shared else context.features
            head = 0 if shared else a
            f, g = value_and_flat_grad(hidden, num_outputs, params, z, head)
            gs.append(np.asarray(g, np.float64))
            fs.append(float(f))
        return np.stack(gs), np.asarray(fs)

    update = jax.jit(agent.update)

    z_np = np.full(state.z.shape, 0.5)
    for step in range(3):  # a few updates: Z accumulates g^2 / m of the played arm
        context = make_context(jax.random.key(10 + step))
        action = step % num_arms
        g, _ = grads_and_values(state.learner.params, context)
        z_np = z_np + g[action] ** 2 / m
        state = update(jax.random.key(20 + step), state, transition(context, action, 1.0), hp)
        np.testing.assert_allclose(np.asarray(state.z), z_np, rtol=1e-5)

    context = make_context(jax.random.key(99))
    g, f = grads_and_values(state.learner.params, context)
    net = RewardNet("neural_ucb", num_arms, 2, arm_dim, hidden)  # the agent's network
    nu, key_act, key_ts = 0.3, jax.random.key(5), jax.random.key(7)

    @jax.jit
    def probe(state, context):
        return (
            ucb_scores(net, state, context, hp.gamma),
            agent.act(key_act, state, context, hp),
            ts_moments(net, state, context, nu),
            ts_sample(key_ts, net, state, context, nu),
        )

    scores_ucb, action, (mean, std), sample = probe(state, context)
    expected = f + 0.7 * np.sqrt(np.sum(g**2 / z_np, axis=1) / m)
    np.testing.assert_allclose(np.asarray(scores_ucb), expected, rtol=1e-4, atol=1e-6)
    assert int(action) == int(np.argmax(expected))

    # NeuralTS: variance nu^2 g^T Z^-1 g / m, and the draw f + std * eps on the same state
    np.testing.assert_allclose(np.asarray(mean), f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(std) ** 2, nu**2 * np.sum(g**2 / z_np, axis=1) / m, rtol=1e-4
    )
    eps = np.asarray(jax.random.normal(key_ts, (num_arms,), jnp.float32))
    np.testing.assert_allclose(np.asarray(sample), f + np.asarray(std) * eps, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------
# Neural-Linear: NIG posterior against the batch closed form
# --------------------------------------------------------------------------------------


def nig_numpy(phi, r, ridge, a0, b0):
    """Batch Normal–inverse-gamma posterior in float64."""
    precision = ridge * np.eye(phi.shape[1]) + phi.T @ phi
    mu = np.linalg.solve(precision, phi.T @ r)
    a = a0 + len(r) / 2
    b = b0 + 0.5 * (r @ r - mu @ precision @ mu)
    return precision, mu, a, b


def summary(posterior):
    """``(Lambda, mu, a, b)`` of every model; Lambda inverted from the covariance in float64."""
    precision = np.linalg.inv(np.asarray(posterior.covariance(), np.float64))
    return precision, posterior.mean(), posterior.a, posterior.b


def assert_posterior(got, m, precision, mu, a, b):
    np.testing.assert_allclose(got[0][m], precision, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1][m], mu, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(got[2][m], a, rtol=1e-6)
    np.testing.assert_allclose(got[3][m], b, rtol=1e-3)


def test_nig_rank_one_updates_match_batch_posterior():
    rng = np.random.default_rng(0)
    dim, n, num_models = 4, 40, 2
    phi = rng.normal(size=(n, dim))
    r = phi @ rng.normal(size=dim) + 0.3 * rng.normal(size=n) + 2.0
    model = rng.integers(0, num_models, size=n)
    hp = agents.make("neural_linear").default_hparams().replace(ridge=0.5, a0=2.0, b0=1.5)
    root = np.eye(dim) / np.sqrt(0.5)
    posterior = NIGPosterior(
        root=jnp.asarray(np.stack([root] * num_models), jnp.float32),
        phi_r=jnp.zeros((num_models, dim), jnp.float32),
        a=jnp.full((num_models,), 2.0, jnp.float32),
        b=jnp.full((num_models,), 1.5, jnp.float32),
    )
    update = jax.jit(rank_one_update)
    for i in range(n):
        posterior = update(
            posterior, jnp.int32(model[i]), jnp.asarray(phi[i], jnp.float32), jnp.float32(r[i])
        )
    weights = jax.nn.one_hot(model, num_models, dtype=jnp.float32)
    batch = jax.jit(batch_posterior)(
        jnp.asarray(phi, jnp.float32), jnp.asarray(r, jnp.float32), weights, hp
    )
    for got in (summary(posterior), summary(batch)):
        for m in range(num_models):
            mask = model == m
            assert_posterior(got, m, *nig_numpy(phi[mask], r[mask], 0.5, 2.0, 1.5))


def test_lower_triangular_inverse_matches_numpy():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 19, 30))
    precision = a @ np.swapaxes(a, 1, 2) / 30 + 0.25 * np.eye(19)  # 19: three 8-blocks
    chol = np.linalg.cholesky(precision)
    got = jax.jit(lower_triangular_inverse)(jnp.asarray(chol, jnp.float32))
    np.testing.assert_allclose(got, np.linalg.inv(chol), rtol=1e-4, atol=1e-4)


def test_neural_linear_posterior_after_retrains_and_rank_one_updates():
    """Retrains after updates 3 and 6 recompute the posterior from the buffer (capacity 4)
    under the new network; update 4 adds a rank-one term (the buffer then still holds every
    record since the retrain), update 5 too (record 1 has left the buffer, not the
    posterior)."""
    hidden, num_arms = (6,), 3
    agent = agents.make(
        "neural_linear",
        num_arms=num_arms,
        context_dim=2,
        hidden=hidden,
        train_every=3,
        num_train_steps=2,
        batch_size=4,
        buffer_size=4,
    )
    hp = agent.default_hparams().replace(ridge=0.7, a0=3.0, b0=2.0)
    state = jax.jit(agent.init)(jax.random.key(0), hp)
    update = jax.jit(agent.update)
    features = jax.jit(
        jax.vmap(lambda p, z: MLP(hidden, num_arms).apply({"params": p}, z)[1], (None, 0))
    )

    def assert_matches_buffer(state):
        records = state.learner.buffer.data
        valid = np.asarray(replay.valid_mask(state.learner.buffer)) > 0
        phi = np.asarray(features(state.learner.params, records.inputs), np.float64)[valid]
        actions = np.asarray(records.action)[valid]
        rewards = np.asarray(records.reward, np.float64)[valid]
        got = summary(state.posterior)
        for m in range(num_arms):
            mask = actions == m
            assert_posterior(got, m, *nig_numpy(phi[mask], rewards[mask], 0.7, 3.0, 2.0))

    params = []
    for step in range(1, 7):
        context = context_heads(jax.random.key(step), num_arms)
        tr = transition(context, step % num_arms, 0.5 * step - 2.0)
        state = update(jax.random.key(100 + step), state, tr, hp)
        params.append(state.learner.params)
        if step in (3, 4, 6):
            assert_matches_buffer(state)
        if step == 5:  # five records in the posterior, four in the buffer
            np.testing.assert_allclose(np.sum(np.asarray(state.posterior.a) - 3.0), 2.5)

    def same(a, b):
        return all(bool(jnp.all(x == y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    assert not same(params[1], params[2]) and same(params[2], params[3])  # retrain at 3 only
    assert not same(params[4], params[5])  # and at 6


# --------------------------------------------------------------------------------------
# Two-tower: row-wise Adagrad equals dense Adagrad; only touched rows change
# --------------------------------------------------------------------------------------


def test_row_adagrad_matches_dense_adagrad_and_touches_only_batch_rows():
    rng = np.random.default_rng(1)
    num_rows, width = 50, 3
    table = rng.normal(size=(num_rows, width)).astype(np.float32)
    accumulator = np.full((num_rows, width), 0.1, np.float32)
    ids = np.array([3, 7, 3, 11, 3, 7], np.int32)  # duplicates
    grads = rng.normal(size=(len(ids), width)).astype(np.float32)
    new_table, new_acc = jax.jit(adagrad_rows)(
        jnp.asarray(table), jnp.asarray(accumulator), jnp.asarray(ids), jnp.asarray(grads), 0.3
    )
    dense_grad = np.zeros((num_rows, width))
    np.add.at(dense_grad, ids, grads)  # the full-table gradient
    acc_np = accumulator + dense_grad**2
    table_np = table - 0.3 * dense_grad / np.sqrt(acc_np + 1e-7)
    np.testing.assert_allclose(new_table, table_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_acc, acc_np, rtol=1e-6)
    untouched = np.setdiff1d(np.arange(num_rows), ids)
    np.testing.assert_array_equal(np.asarray(new_table)[untouched], table[untouched])


def test_two_tower_scores_match_numpy():
    rng = np.random.default_rng(2)
    e, d_u, d_v, k = 4, 3, 2, 5
    from agents.neural.two_tower import Tower

    tower = Tower(
        user=jnp.asarray(rng.normal(size=(d_u, e)), jnp.float32),
        item=jnp.asarray(rng.normal(size=(d_v, e)), jnp.float32),
        bias=jnp.float32(0.3),
    )
    user_row, item_rows = rng.normal(size=e), rng.normal(size=(k, e + 1))
    x, y = rng.normal(size=d_u), rng.normal(size=(k, d_v))
    u = user_row + x @ np.asarray(tower.user)
    v = item_rows[:, :e] + y @ np.asarray(tower.item)
    expected = v @ u + item_rows[:, e] + 0.3
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    got = scores(tower, f32(user_row), f32(item_rows), f32(x), f32(y))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


class FactorState(NamedTuple):
    users: jax.Array
    items: jax.Array
    user: jax.Array
    candidates: jax.Array


class FactorLog(NamedTuple):
    reward: jax.Array
    regret: jax.Array
    optimal: jax.Array
    chance_regret: jax.Array


@flax.struct.dataclass
class FactorParams:
    scale: float = knob(3.0, low=0.0)


@dataclasses.dataclass(frozen=True)
class FactorBandit(Environment):
    """Clicks from latent factors, seen only through ids: user ``i`` arrives uniformly,
    ``K`` candidates are drawn uniformly (with replacement) from ``N`` items, and the click
    probability is ``sigmoid(scale * v_n . u_i)``; the context has no features, only
    ``user_id`` and ``item_ids``.  The log adds the regret of a uniform choice."""

    num_users: int = 10
    num_items: int = 30
    num_candidates: int = 5
    dim: int = 3

    @property
    def spec(self):
        return EnvSpec(self.num_candidates, 0, 0, self.num_users, self.num_items)

    def default_params(self):
        return FactorParams()

    def _arrive(self, key, users, items, reward, params):
        key_user, key_items = jax.random.split(key)
        user = jax.random.randint(key_user, (), 0, self.num_users, dtype=jnp.int32)
        candidates = jax.random.randint(
            key_items, (self.num_candidates,), 0, self.num_items, dtype=jnp.int32
        )
        p_click = jax.nn.sigmoid(params.scale * items[candidates] @ users[user])
        context = Context(
            jnp.zeros((0,)), jnp.zeros((self.num_candidates, 0)), user_id=user, item_ids=candidates
        )
        state = FactorState(users, items, user, candidates)
        return state, make_timestep(context, reward, make_oracle(p_click))

    def reset(self, key, params):
        key_users, key_items, key_arrive = jax.random.split(key, 3)
        users = jax.random.normal(key_users, (self.num_users, self.dim)) / jnp.sqrt(self.dim)
        items = jax.random.normal(key_items, (self.num_items, self.dim))
        return self._arrive(key_arrive, users, items, 0.0, params)

    def step(self, key, state, action, params):
        key_click, key_arrive = jax.random.split(key)
        item = state.items[state.candidates[action]]
        p_click = jax.nn.sigmoid(params.scale * item @ state.users[state.user])
        click = (jax.random.uniform(key_click) < p_click).astype(jnp.float32)
        return self._arrive(key_arrive, state.users, state.items, click, params)

    def log(self, timestep, action, next_timestep):
        base = simulator.bandit_log(timestep.oracle, action, next_timestep.reward)
        mu = timestep.oracle.expected_reward
        return FactorLog(*base, chance_regret=jnp.max(mu) - jnp.mean(mu))


def test_two_tower_update_rewrites_no_whole_table():
    """In the jaxpr of one update on a 200k-item catalog, every value shaped like the item
    table comes from a scatter of touched rows (or is the input), never a dense op."""
    num_items = 200_000
    agent = agents.make(
        "two_tower", num_arms=4, context_dim=2, arm_dim=2, num_users=10, num_items=num_items
    )
    hp = agent.default_hparams()
    state = jax.eval_shape(agent.init, jax.random.key(0), hp)
    context = Context(jnp.zeros(2), jnp.zeros((4, 2)), user_id=jnp.int32(1), item_ids=jnp.arange(4))
    tr = transition(context, 0, 1.0)
    jaxpr = jax.make_jaxpr(agent.update)(jax.random.key(1), state, tr, hp)
    table_shape = (num_items, agent.static["embed_dim"] + 1)
    kinds = set()

    def walk(jpr):
        for eqn in jpr.eqns:
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)
            if any(getattr(v.aval, "shape", None) == table_shape for v in eqn.outvars):
                kinds.add(eqn.primitive.name)

    walk(jaxpr.jaxpr)
    assert kinds and kinds <= {"scatter"}, kinds


@pytest.mark.parametrize("exploration", ["epsilon", "thompson"])
def test_two_tower_learns_id_embeddings(exploration):
    """Ids only (no features): the tables alone must learn the users' tastes."""
    env = FactorBandit()
    agent = agents.make(
        "two_tower",
        num_arms=5,
        context_dim=0,
        arm_dim=0,
        num_users=10,
        num_items=30,
        embed_dim=4,
        exploration=exploration,
    )
    hp = agent.default_hparams()
    run = jax.jit(jax.vmap(make_run(env, agent, 600), in_axes=(0, None, None)))
    log = run(seed_keys(4), env.default_params(), hp)
    regret, chance = np.asarray(log.regret).sum(1), np.asarray(log.chance_regret).sum(1)
    # a uniform choice loses about 0.39 click probability per step (233 over 600 steps);
    # observed ratios 0.57 (epsilon) and 0.58 (thompson, nu = 0.1)
    assert regret.mean() < 0.75 * chance.mean(), (regret, chance)


def test_context_ids_are_optional_int32_leaves():
    """No ids: the two leaves of old; ids: int32 leaves of fixed shapes (a stable carry)."""
    plain = Context(jnp.zeros(2), jnp.zeros((3, 2)))
    assert plain.user_id is None and plain.item_ids is None
    assert len(jax.tree.leaves(plain)) == 2
    assert EnvSpec(3, 2, 2) == EnvSpec(3, 2, 2, num_users=0, num_items=0)
    with_ids = Context(jnp.zeros(2), jnp.zeros((3, 2)), user_id=1, item_ids=np.arange(3))
    timestep = make_timestep(with_ids, 0.0, make_oracle(jnp.zeros(3)))
    assert timestep.context.user_id.dtype == jnp.int32
    assert timestep.context.item_ids.dtype == jnp.int32
    assert make_timestep(plain, 0.0, make_oracle(jnp.zeros(3))).context.user_id is None
    env = simulator.make("drifting_users", num_users=7, num_items=50, num_candidates=4)
    assert (env.spec.num_users, env.spec.num_items) == (7, 50)
    state, first = env.reset(jax.random.key(0), env.default_params())
    _, second = env.step(jax.random.key(1), state, jnp.int32(0), env.default_params())
    for ts in (first, second):
        assert ts.context.user_id.shape == () and ts.context.user_id.dtype == jnp.int32
        assert ts.context.item_ids.shape == (4,) and ts.context.item_ids.dtype == jnp.int32
    np.testing.assert_array_equal(first.context.item_ids, state.candidates)
    assert int(first.context.user_id) == int(state.user)


def two_tower_experiment(env, **agent_fields):
    return {
        "name": "t",
        "num_seeds": 2,
        "num_steps": 40,
        "env": env,
        "agents": [{"label": "tt", "name": "two_tower", "embed_dim": 4, **agent_fields}],
    }


def test_plan_fills_ids_for_two_tower_and_refuses_an_env_without_ids():
    from experiments.plan import plan
    from experiments.schema import from_dict

    users = {"name": "drifting_users", "num_users": 30, "num_items": 1000}
    (tt,) = plan(from_dict(two_tower_experiment(users)))
    assert tt.groups[0].agent.static["num_users"] == 30
    assert tt.groups[0].agent.static["num_items"] == 1000
    (tt,) = plan(from_dict(two_tower_experiment(users, num_items=0)))  # opting out
    assert tt.groups[0].agent.static["num_items"] == 0
    with pytest.raises(ConfigError, match=r"agents\.tt\.num_items = 5 .* allowed: 0 or 1000"):
        plan(from_dict(two_tower_experiment(users, num_items=5)))
    with pytest.raises(ConfigError, match=r"agents\.tt\.num_users: .* no context\.user_id"):
        plan(from_dict(two_tower_experiment({"name": "wheel"})))
    with pytest.raises(ConfigError, match=r"agents\.tt\.num_items: .* no context\.item_ids"):
        plan(from_dict(two_tower_experiment({"name": "wheel"}, num_users=0)))
    # opted out of both: the wheel has no item features either, so the factory refuses
    with pytest.raises(ConfigError, match="agent.num_items = 0 and agent.arm_dim = 0"):
        plan(from_dict(two_tower_experiment({"name": "wheel"}, num_users=0, num_items=0)))


def test_two_tower_catalog_preset_runs_with_100k_items():
    """The TOML preset: ids from drifting_users' context, a 100,000-row item table."""
    import experiments
    from experiments import presets

    experiment = presets.load("two-tower-catalog")
    assert experiment.env.fields["num_items"] == 100_000
    experiment.agents = [a for a in experiment.agents if a.label == "two-tower"]
    experiment.num_seeds, experiment.num_steps = 2, 30
    results = experiments.run(experiment)
    regret = results["two-tower"].metrics["regret"]
    assert regret.shape == (1, 2, 30) and np.all(np.isfinite(regret))
    assert not results["two-tower"].diverged.any()


# --------------------------------------------------------------------------------------
# Behaviour: neural agents beat LinUCB on a nonlinear reward
# --------------------------------------------------------------------------------------


BEHAVIOUR = {  # learning_rate 0.03 for all; exploration knobs as tuned on this problem
    "neural_greedy": {"epsilon": 0.05},
    "neural_ucb": {"gamma": 1.0, "ridge": 1e-3},
    "neural_ts": {"nu": 0.3, "ridge": 1e-3},
    "neural_linear": {"ridge": 0.25, "a0": 6.0, "b0": 6.0},
}


@pytest.fixture(scope="module")
def linucb_regret():
    env = QuadraticBandit()
    linucb = agents.make("linucb", num_arms=4, context_dim=2, arm_dim=0, mode="disjoint")
    return total_regret(env, linucb, linucb.default_hparams(), 600, 4)


@pytest.mark.parametrize("name", NEURAL)
def test_neural_agent_beats_linucb_on_quadratic_reward(name, linucb_regret):
    env = QuadraticBandit()
    static = {"num_arms": 4, "context_dim": 2, "arm_dim": 0, "hidden": (32,)}
    if name == "neural_linear":
        static.update(train_every=10, num_train_steps=10)
    agent = agents.make(name, **static)
    hp = agent.default_hparams().replace(learning_rate=0.03, **BEHAVIOUR[name])
    regret = total_regret(env, agent, hp, 600, 4)
    # LinUCB cannot beat chance here (about 0.75 per step, 456 over 600 steps on these
    # seeds); every neural agent must at least halve its mean regret (observed: greedy 167,
    # UCB 86, TS 99, Neural-Linear 75)
    assert regret.mean() < 0.5 * linucb_regret.mean(), (regret, linucb_regret)


# --------------------------------------------------------------------------------------
# Memory is flat in the horizon; bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEURAL + ("two_tower",))
def test_state_size_does_not_grow_with_horizon(name):
    env = simulator.make("wheel") if name != "two_tower" else simulator.make("drifting_users")
    allowed = agents.REGISTRY.static_fields(name)
    agent = agents.make(name, **{k: v for k, v in env.spec._asdict().items() if k in allowed})
    keys = split_run_key(jax.random.key(0))
    params, hp = env.default_params(), agent.default_hparams()

    def carry_after(num_steps):
        def run():
            carry = init_carry(env, agent, keys, params, hp)
            return advance(env, agent, carry, keys, params, hp, 0, num_steps)[0].agent_state

        return jax.eval_shape(run)

    short, long = carry_after(10), carry_after(10_000)
    assert jax.tree.structure(short) == jax.tree.structure(long)
    assert tree_bytes(short) == tree_bytes(long)
    initial = jax.eval_shape(agent.init, jax.random.key(0), hp)
    assert tree_bytes(initial) == tree_bytes(long)


@pytest.mark.parametrize(
    "name, static, match",
    [
        ("neural_ucb", {"hidden": ()}, "agent.hidden"),
        ("neural_greedy", {"optimizer": "nope"}, "agent.optimizer"),
        ("neural_linear", {"buffer_size": 0}, "agent.buffer_size"),
        ("two_tower", {"exploration": "ucb"}, "agent.exploration"),
        ("two_tower", {"num_users": 0, "context_dim": 0}, "user ids or user features"),
    ],
)
def test_bad_static_fields_raise_config_error(name, static, match):
    with pytest.raises(ConfigError, match=match):
        agents.make(name, **static)


def test_mismatched_context_raises_config_error():
    agent = agents.make("neural_greedy", num_arms=5, context_dim=3)
    hp = agent.default_hparams()
    state = jax.eval_shape(agent.init, jax.random.key(0), hp)
    context = context_heads(jax.random.key(2), 5, 2)
    with pytest.raises(ConfigError, match="agent.context_dim = 3"):  # at trace time
        jax.eval_shape(agent.act, jax.random.key(1), state, context, hp)
    tower = agents.make("two_tower", num_arms=3, context_dim=2, arm_dim=3, num_users=5)
    hp = tower.default_hparams()
    state = jax.eval_shape(tower.init, jax.random.key(0), hp)
    with pytest.raises(ConfigError, match="context.user_id"):
        jax.eval_shape(tower.act, jax.random.key(1), state, context_shared(jax.random.key(2)), hp)
