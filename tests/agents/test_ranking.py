"""Rankers against the plain-numpy references of ``tests/agents/ranking_reference.py``.

Each agent and its reference play the same rounds in lockstep: the JAX agent picks the
slate, the reference checks that it is a valid choice under *its* indices (the top ``k`` in
decreasing order; ties may go either way) and that the JAX scores equal its indices, then
both learn from the same numpy-simulated clicks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
from agents.ranking import slates
from agents.ranking.cascade_ucb import CascadeState
from simulator.types import Context, PositionFeedback, empty_context
from tests.agents import ranking_reference as ref

L, K = 8, 3
#: Kveton et al.'s structure, small: the K best items attract with p, the others p - gap.
W = np.where(np.arange(L) < K, 0.3, 0.15)
KAPPA = (1.0, 0.6, 0.3)  # the PBM's examination probabilities


def _transition(context, slate, clicks, observed):
    return agents.Transition(
        context=context,
        action=jnp.asarray(slate, jnp.int32),
        reward=jnp.asarray(float(np.sum(clicks)), jnp.float32),
        label=jnp.asarray(jnp.nan, jnp.float32),
        oracle=None,
        positions=PositionFeedback(
            clicks=jnp.asarray(clicks, jnp.float32), observed=jnp.asarray(observed, jnp.bool_)
        ),
    )


def lockstep(agent, hparams, reference, num_rounds, model="cascade", features=None, ranked=False):
    """Play ``num_rounds`` rounds of ``agent`` and ``reference`` on the same clicks."""
    context = (
        empty_context(L)
        if features is None
        else Context(jnp.zeros((0,), jnp.float32), jnp.asarray(features, jnp.float32))
    )
    act = jax.jit(agent.act)
    update = jax.jit(agent.update)
    scores = jax.jit(agent.scores) if agent.scores is not None else None
    state = agent.init(jax.random.key(0), hparams)
    rng = np.random.default_rng(1)
    extra = () if features is None else (np.asarray(features, np.float64),)
    for t in range(1, num_rounds + 1):
        key = jax.random.key(t)
        slate = np.asarray(act(key, state, context, hparams))
        indices = reference.indices(t, *extra)
        if ranked:
            assert ref.is_valid_ranked_slate(indices, slate, atol=1e-5), (t, slate)
        else:
            assert ref.is_valid_slate(indices, slate, atol=1e-5), (t, slate, indices)
            if scores is not None:
                got = np.asarray(scores(key, state, context, hparams), np.float64)
                np.testing.assert_array_equal(np.isinf(got), np.isinf(indices))
                finite = np.isfinite(indices)
                np.testing.assert_allclose(got[finite], indices[finite], rtol=1e-4, atol=2e-6)
        clicks, observed = ref.simulate_round(
            model, W[slate], rng, examination=KAPPA, continuation=[0.6, 0.5, 0.5]
        )
        reference.update(t, slate, clicks, observed, *extra)
        state = update(key, state, _transition(context, slate, clicks, observed), hparams)
    return state


def test_cascade_ucb1_matches_the_reference():
    agent = agents.make("cascade_ucb1", num_arms=L, slate_size=K)
    lockstep(agent, agent.default_hparams(), ref.CascadeUCB1(L, K), 150)


def test_cascade_kl_ucb_matches_the_reference():
    agent = agents.make("cascade_kl_ucb", num_arms=L, slate_size=K)
    lockstep(agent, agent.default_hparams(), ref.CascadeKLUCB(L, K), 150)


def test_cascade_ucb1_learns_from_the_dcm_observed_positions():
    # DCM feedback: several clicks, observed up to the last one.
    agent = agents.make("cascade_ucb1", num_arms=L, slate_size=K)
    lockstep(agent, agent.default_hparams(), ref.CascadeUCB1(L, K), 100, model="dcm")


def test_cascade_ducb_matches_the_reference():
    agent = agents.make("cascade_ducb", num_arms=L, slate_size=K)
    hparams = agent.default_hparams().replace(discount=0.97)
    lockstep(agent, hparams, ref.CascadeDUCB(L, K, gamma=0.97), 150)


def test_cascade_swucb_matches_the_reference_as_rounds_leave_the_window():
    agent = agents.make("cascade_swucb", num_arms=L, slate_size=K, max_window=40)
    hparams = agent.default_hparams().replace(window=25.0)  # traced, below the ring's 40
    lockstep(agent, hparams, ref.CascadeSWUCB(L, K, tau=25), 150)


def test_cascade_theory_sets_the_forgetting():
    ducb = agents.make("cascade_ducb", horizon=100_000, num_changes=10)
    swucb = agents.make("cascade_swucb", horizon=100_000, num_changes=10)
    assert ducb.default_hparams().discount == pytest.approx(ref.ducb_theory_gamma(100_000, 10))
    tau = ref.swucb_theory_tau(100_000, 10)
    assert swucb.default_hparams().window == pytest.approx(tau)
    assert swucb.static["max_window"] == tau


def test_ranked_kl_ucb_matches_the_reference():
    agent = agents.make("ranked_kl_ucb", num_arms=L, slate_size=K)
    lockstep(agent, agent.default_hparams(), ref.RankedKLUCB(L, K), 120, ranked=True)


def _features(dim=4, seed=3):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(L, dim - 1))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.concatenate([np.ones((L, 1)), u], axis=1)


def test_cascade_linucb_matches_the_reference():
    features = _features()
    agent = agents.make("cascade_linucb", num_arms=L, slate_size=K, arm_dim=4)
    hparams = agent.default_hparams().replace(alpha=0.7, sigma=0.5, ridge=2.0)
    reference = ref.CascadeLinUCB(L, K, dim=4, sigma=0.5, lam=2.0, c=0.7)
    state = lockstep(agent, hparams, reference, 120, features=features)
    np.testing.assert_allclose(np.asarray(agent.estimate(state)), reference.theta(), atol=1e-4)


def test_top_k_linucb_is_cascade_linucb_without_the_clip():
    # top_k(LinUCB shared, ridge lambda sigma^2, alpha c sigma) = CascadeLinUCB before
    # min(., 1); with c small no index reaches 1 here, so the rankings agree.
    features = _features(seed=5)
    inner = agents.make("linucb", num_arms=L, arm_dim=4, mode="shared")
    agent = agents.wrap(inner, "top_k", slate_size=K)
    hparams = agent.default_hparams().replace(alpha=0.1, ridge=1.0)
    reference = ref.CascadeLinUCB(L, K, dim=4, sigma=1.0, lam=1.0, c=0.1)
    lockstep(agent, hparams, reference, 100, features=features)


def test_cascade_lints_keeps_cascade_linucb_statistics():
    features = _features(seed=7)
    agent = agents.make("cascade_lints", num_arms=L, slate_size=K, arm_dim=4)
    hparams = agent.default_hparams().replace(v=0.5, ridge=0.5)  # sigma = 0.5, lambda = 2
    reference = ref.CascadeLinUCB(L, K, dim=4, sigma=0.5, lam=2.0, c=0.0)
    context = Context(jnp.zeros((0,), jnp.float32), jnp.asarray(features, jnp.float32))
    state = agent.init(jax.random.key(0), hparams)
    rng = np.random.default_rng(2)
    for t in range(1, 60):
        slate = np.asarray(agent.act(jax.random.key(t), state, context, hparams))
        assert len(set(slate.tolist())) == K
        clicks, observed = ref.simulate_round("cascade", W[slate], rng)
        reference.update(t, slate, clicks, observed, features)
        transition = _transition(context, slate, clicks, observed)
        state = agent.update(jax.random.key(t), state, transition, hparams)
    np.testing.assert_allclose(np.asarray(state.theta[0]), reference.theta(), atol=1e-4)


def test_cascade_ts_posterior_counts_match_the_reference():
    agent = agents.make("cascade_ts", num_arms=L, slate_size=K)
    hparams = agent.default_hparams()
    reference = ref.CascadeTS(L, K)
    state = agent.init(jax.random.key(0), hparams)
    rng = np.random.default_rng(5)
    for t in range(1, 80):
        slate = np.asarray(agent.act(jax.random.key(t), state, empty_context(L), hparams))
        clicks, observed = ref.simulate_round("cascade", W[slate], rng)
        reference.update(t, slate, clicks, observed)
        state = agent.update(
            jax.random.key(t),
            state,
            _transition(empty_context(L), slate, clicks, observed),
            hparams,
        )
    alpha, beta = reference.posterior_params()
    np.testing.assert_allclose(1.0 + np.asarray(state.clicks), alpha)
    np.testing.assert_allclose(1.0 + np.asarray(state.observations - state.clicks), beta)


def test_cascade_ts_samples_its_posterior():
    agent = agents.make("cascade_ts", num_arms=3, slate_size=1)
    hparams = agent.default_hparams()
    state = CascadeState(
        clicks=jnp.array([2.0, 30.0, 0.0]),
        observations=jnp.array([10.0, 40.0, 0.0]),
        t=jnp.int32(50),
    )
    keys = jax.random.split(jax.random.key(1), 20_000)
    draws = np.asarray(jax.vmap(lambda k: agent.scores(k, state, empty_context(3), hparams))(keys))
    a, b = np.array([3.0, 31.0, 1.0]), np.array([9.0, 11.0, 1.0])
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 4 * np.sqrt(var / len(keys)))


def test_pbm_ucb_matches_the_reference():
    agent = agents.make("pbm_ucb", num_arms=L, slate_size=K, examination=KAPPA)
    reference = ref.PBMUCB(L, K, kappa=np.array(KAPPA))
    lockstep(agent, agent.default_hparams(), reference, 150, model="pbm")


def test_top_k_learns_only_from_observed_positions():
    inner = agents.make("linucb", num_arms=L, arm_dim=4, mode="shared")
    agent = agents.wrap(inner, "top_k", slate_size=K)
    hparams = agent.default_hparams()
    context = Context(jnp.zeros((0,), jnp.float32), jnp.asarray(_features(), jnp.float32))
    state = agent.init(jax.random.key(0), hparams)
    slate = np.array([4, 1, 6])
    new = agent.update(
        jax.random.key(1),
        state,
        _transition(context, slate, [0, 1, 0], [True, True, False]),
        hparams,
    )
    assert float(new.counts[0]) == 2.0  # the unobserved third position taught nothing
    x = np.asarray(context.arm_features)[[4, 1]]
    a = np.eye(4) + x.T @ x
    np.testing.assert_allclose(np.asarray(new.a_inv[0]), np.linalg.inv(a), atol=1e-5)


def test_top_k_refuses_an_agent_without_scores():
    with pytest.raises(agents.fit.ConfigError, match="does not score its arms"):
        agents.wrap(agents.make("thompson", num_arms=L), "top_k", slate_size=K)


def test_top_k_slate_breaks_ties_uniformly_and_keeps_the_best():
    scores = jnp.array([0.1, 0.9, 0.5, 0.5, 0.5, 0.2, 0.5, 0.0])
    keys = jax.random.split(jax.random.key(0), 4000)
    chosen = np.asarray(jax.vmap(lambda k: slates.top_k(k, scores, 3))(keys))
    assert np.all(chosen[:, 0] == 1)  # the unique best is always first
    tied = chosen[:, 1:]
    assert np.all(np.isin(tied, [2, 3, 4, 6]))
    counts = np.bincount(tied.ravel(), minlength=L)[[2, 3, 4, 6]]
    # each tied arm is in the slate with probability 2/4: 4000 slates, 2000 expected
    assert np.all(np.abs(counts - 2000) < 4 * np.sqrt(4000 * 0.25)), counts
    # second position: each tied arm with probability 1/4
    second = np.bincount(chosen[:, 1], minlength=L)[[2, 3, 4, 6]]
    assert np.all(np.abs(second - 1000) < 4 * np.sqrt(4000 * 0.1875)), second


def test_random_slate_is_uniform_over_ordered_subsets():
    agent = agents.make("random_slate", num_arms=4, slate_size=2)
    state = agent.init(jax.random.key(0), agent.default_hparams())
    keys = jax.random.split(jax.random.key(1), 6000)
    act = jax.vmap(lambda k: agent.act(k, state, empty_context(4), agent.default_hparams()))
    slates_ = np.asarray(act(keys))
    assert np.all(slates_[:, 0] != slates_[:, 1])
    codes = np.bincount(slates_[:, 0] * 4 + slates_[:, 1], minlength=16)
    codes = codes[codes > 0]
    assert len(codes) == 12  # every ordered pair of distinct arms
    assert np.all(np.abs(codes - 500) < 4 * np.sqrt(6000 / 12 * (11 / 12))), codes
