"""The slate environment and its click models against closed forms and the numpy
references of ``tests/agents/ranking_reference.py``."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from experiments import api
from experiments.plan import plan
from experiments.runner import ActionCheck, check_action_type, count_invalid, make_run
from simulator import click_models
from simulator.params import ConfigError
from simulator.ranking import ranking_metrics
from simulator.types import no_positions
from tests.agents import ranking_reference as ref

CHAINS = {
    "cascade": {},
    "pbm": {"examination": (0.9, 0.6, 0.3)},
    "dcm": {"continuation": (0.7, 0.4, 0.2)},
}


def _ref_kwargs(model):
    options = CHAINS[model]
    return {
        "examination": options.get("examination"),
        "continuation": options.get("continuation"),
    }


@pytest.mark.parametrize("model", sorted(CHAINS))
def test_clicks_per_position_match_the_click_model(model):
    chain = click_models.chain(model, 3, **CHAINS[model])
    w = jnp.array([0.5, 0.2, 0.7, 0.4, 0.9])
    slate = jnp.array([2, 0, 3])
    keys = jax.random.split(jax.random.key(0), 40_000)
    feedback = jax.vmap(lambda k: click_models.sample(chain, k, w[slate], slate))(keys)
    clicks = np.asarray(feedback.clicks)
    observed = np.asarray(feedback.observed)
    expected = np.asarray(click_models.click_probabilities(chain, w[slate]))
    se = np.sqrt(expected * (1 - expected) / len(keys))
    np.testing.assert_array_less(np.abs(clicks.mean(0) - expected), 4 * se + 1e-9)
    total = float(click_models.expected_clicks(chain, w[slate]))
    assert total == pytest.approx(
        ref.expected_clicks(model, np.asarray(w[slate]), **_ref_kwargs(model))
    )
    # Observed: every position (PBM), else through the last click (all without a click).
    for c, o in zip(clicks[:200], observed[:200]):
        if model == "pbm" or not c.any():
            assert o.all()
        else:
            last = np.flatnonzero(c)[-1]
            assert o[: last + 1].all() and not o[last + 1 :].any()
    if model == "cascade":
        assert np.all(clicks.sum(1) <= 1)


@pytest.mark.parametrize("model", sorted(CHAINS))
def test_regret_is_against_the_best_slate_by_brute_force(model):
    env = simulator.make("cascade", num_arms=5, slate_size=3, click_model=model, **CHAINS[model])
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.uniform(0.05, 0.95, size=5)
        best, _ = ref.best_slate_value(model, w, 3, **_ref_kwargs(model))
        oracle = simulator.make_oracle(w)
        timestep = simulator.make_timestep(
            simulator.empty_context(5), 0.0, oracle, positions=no_positions(3)
        )
        for slate in itertools.islice(itertools.permutations(range(5), 3), 0, 60, 7):
            log = env.log(timestep, jnp.array(slate), timestep)
            value = ref.expected_clicks(model, w[list(slate)], **_ref_kwargs(model))
            assert float(log.regret) == pytest.approx(best - value, abs=2e-6)
            assert float(log.optimal) == float(best - value <= 1e-6)


def _numpy_ranking_metrics(w, slate, m):
    relevant = {e for e in range(len(w)) if w[e] > np.sort(w)[::-1][m]} or set(range(len(w)))
    hits = sum(int(a) in relevant for a in slate)
    discounts = 1.0 / np.log2(np.arange(len(slate)) + 2.0)
    ideal = np.sum(np.sort(w)[::-1][: len(slate)] * discounts)
    return hits / len(slate), hits / len(relevant), np.sum(w[slate] * discounts) / ideal


def test_ranking_metrics_match_numpy():
    rng = np.random.default_rng(4)
    for _ in range(20):
        w = rng.choice([0.05, 0.2, 0.3, 0.6, 0.9], size=9)  # ties on purpose
        if rng.random() < 0.2:
            w = np.full(9, 0.3)  # all tied: every item is relevant
        slate = rng.permutation(9)[:3]
        got = ranking_metrics(jnp.asarray(w, jnp.float32), jnp.asarray(slate), 6)
        np.testing.assert_allclose(
            [float(got.precision), float(got.recall), float(got.ndcg)],
            _numpy_ranking_metrics(w, slate, 6),
            rtol=1e-5,
        )


def test_the_best_slate_has_full_ndcg_precision_and_the_clicks_by_position():
    env = simulator.make("cascade", num_arms=6, slate_size=2, means=(0.1, 0.5, 0.3, 0.2, 0.4, 0.0))
    state, timestep = env.reset(jax.random.key(0), env.default_params())
    _, following = env.step(jax.random.key(1), state, jnp.array([1, 4]), env.default_params())
    log = env.log(timestep, jnp.array([1, 4]), following)
    assert log._fields[-2:] == ("click_1", "click_2")
    assert (float(log.ndcg), float(log.precision), float(log.recall)) == (1.0, 1.0, 0.5)
    np.testing.assert_array_equal([log.click_1, log.click_2], following.positions.clicks)


def test_kveton_attractions_and_common_random_numbers():
    env = simulator.make("cascade", num_arms=6, slate_size=2)
    params = env.default_params().replace(attraction=0.3, gap=0.1)
    state, timestep = env.reset(jax.random.key(0), params)
    np.testing.assert_allclose(
        np.asarray(timestep.oracle.expected_reward), [0.3, 0.3, 0.2, 0.2, 0.2, 0.2], atol=1e-7
    )
    # The same item at position 1 gets the same click whatever follows it (one uniform per item).
    for seed in range(20):
        key = jax.random.key(seed)
        _, a = env.step(key, state, jnp.array([3, 0]), params)
        _, b = env.step(key, state, jnp.array([3, 5]), params)
        assert float(a.positions.clicks[0]) == float(b.positions.clicks[0])


def test_linear_cascade_is_linear_in_the_features():
    env = simulator.make("cascade", num_arms=7, slate_size=2, arm_dim=4)
    _, timestep = env.reset(jax.random.key(3), env.default_params())
    x = np.asarray(timestep.context.arm_features)
    theta = np.asarray(timestep.oracle.true_param)
    np.testing.assert_allclose(x[:, 0], 1.0)
    np.testing.assert_allclose(np.linalg.norm(x[:, 1:], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(timestep.oracle.expected_reward), x @ theta, atol=1e-6)
    assert env.spec.feature_bound == pytest.approx(np.sqrt(2.0))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"num_arms": 4, "slate_size": 5}, "slate_size = 5"),
        ({"click_model": "cascade", "examination": (1.0, 0.5)}, "examination is the position"),
        ({"click_model": "pbm", "examination": (0.5, 0.9)}, "non-increasing"),
        ({"click_model": "dcm", "continuation": (0.5,)}, "continuation has 1 entries"),
        ({"click_model": "ubm"}, "click_model = 'ubm': must be one of cascade, pbm, dcm"),
        ({"arm_dim": 1}, "env.arm_dim = 1"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(fields, match):
    with pytest.raises(ConfigError, match=match):
        simulator.make("cascade", **fields)


def test_invalid_slates_are_counted_and_wrong_shapes_refused():
    check = ActionCheck(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
    check = count_invalid(check, jnp.array([1, 2, 3]), 4)
    assert int(check.count) == 0
    check = count_invalid(check, jnp.array([1, 3, 1]), 4)  # arm 1 shown twice
    assert (int(check.count), int(check.first)) == (1, 1)
    check = count_invalid(check, jnp.array([0, 7, 2]), 4)  # out of range
    assert (int(check.count), int(check.first)) == (2, 1)
    env = simulator.make("cascade", num_arms=4, slate_size=3)
    agent = agents.make("cascade_ucb1", num_arms=4, slate_size=3)
    with pytest.raises(ConfigError, match=r"expects a slate of 3 distinct int32 arms"):
        check_action_type(env, agent, jnp.zeros((), jnp.int32))


@pytest.mark.parametrize(
    ("env_name", "agent_name", "expected"),
    [
        (
            "bernoulli",
            "cascade_ucb1",
            "acts with a ranked slate of arms; bernoulli expects one arm",
        ),
        ("cascade", "ucb", "acts with one arm index; cascade expects a ranked slate"),
    ],
)
def test_slate_and_single_arm_pairs_are_refused(env_name, agent_name, expected):
    experiment = {
        "env": {"name": env_name},
        "agents": [{"label": "x", "name": agent_name}],
        "num_seeds": 1,
        "num_steps": 2,
    }
    with pytest.raises(ConfigError, match=expected):
        plan(api.as_experiment(experiment))


def test_a_ranker_built_for_another_slate_size_is_refused():
    env = simulator.make("cascade", num_arms=16, slate_size=4)
    agent = agents.make("cascade_ucb1", num_arms=16, slate_size=2)
    with pytest.raises(ConfigError, match="ranks slates of 2 positions; RankingBandit shows 4"):
        make_run(env, agent, 10)


def test_one_position_cascade_is_a_bernoulli_bandit():
    # k = 1: the reward of a slate (a) is a Bernoulli(w(a)) click and regret is w* - w(a).
    env = simulator.make("cascade", num_arms=4, slate_size=1, means=(0.1, 0.5, 0.3, 0.2))
    agent = agents.make("random_slate", num_arms=4, slate_size=1)
    run = jax.jit(make_run(env, agent, 4000))
    log = run(jax.random.key(0), env.default_params(), agent.default_hparams())
    assert float(log.regret.mean()) == pytest.approx(0.5 - 0.275, abs=0.01)
    assert float(log.reward.mean()) == pytest.approx(0.275, abs=0.025)


def test_logged_data_experiments_refuse_slates():
    from experiments.offpolicy.experiment import prepare
    from experiments.schema import from_dict

    data = {
        "kind": "ope",
        "num_seeds": 2,
        "num_steps": 10,
        "env": {"name": "cascade"},
        "agents": [{"label": "r", "name": "random_slate"}],
        "log": {"source": "simulate", "agent": {"name": "random_slate"}},
    }
    with pytest.raises(
        ConfigError, match="log one arm per round; this environment's action is a slate"
    ):
        prepare(from_dict(data))


def test_a_sweep_over_the_slate_size_keeps_every_run():
    # Each k logs click_1 .. click_k: a position a point does not have is absent, not NaN
    # from a diverged run.
    import experiments

    experiment = {
        "env": {"name": "cascade", "num_arms": 6},
        "agents": [{"label": "ucb1", "name": "cascade_ucb1"}],
        "num_seeds": 2,
        "num_steps": 50,
        "sweep": {"mode": "grid", "env.slate_size": [2, 3]},
        "figures": [],
    }
    results = experiments.run(experiment, progress=False)
    r = results["ucb1"]
    assert not np.asarray(r.diverged).any()
    assert np.isnan(r.click_3[0]).all() and np.isfinite(r.click_3[1]).all()
    assert np.isfinite(r.cumulative_regret()[:, :, -1]).all()


def test_drifting_users_show_slates_under_a_click_model():
    from tests.conformance import check_environment

    env = simulator.make(
        "drifting_users", num_candidates=8, slate_size=3, click_model="dcm", drift="random_walk"
    )
    check_environment(env)
    assert (env.spec.action, env.spec.slate_size) == ("slate", 3)
    params = env.default_params()
    state, timestep = env.reset(jax.random.key(0), params)
    slate = jnp.array([5, 0, 2])
    _, following = env.step(jax.random.key(1), state, slate, params)
    assert float(following.reward) == float(following.positions.clicks.sum())
    log = env.log(timestep, slate, following)
    w = np.asarray(timestep.oracle.expected_reward, np.float64)
    best, _ = ref.best_slate_value("dcm", w, 3, continuation=(0.5, 0.5, 0.5))
    value = ref.expected_clicks("dcm", w[[5, 0, 2]], continuation=(0.5, 0.5, 0.5))
    assert float(log.regret) == pytest.approx(best - value, abs=2e-6)
    # one arm per round stays the default, and a one-arm agent is refused on slates
    assert simulator.make("drifting_users").spec.action == "arm"
    with pytest.raises(ConfigError, match="acts with one arm index"):
        agents.check_fits(env, agents.make("linucb", num_arms=8, arm_dim=8))


def test_coverage_and_intra_slate_diversity():
    from simulator.ranking import intra_slate_diversity

    x = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    cosines = [0.0, 1 / np.sqrt(2), 1 / np.sqrt(2)]
    assert float(intra_slate_diversity(x)) == pytest.approx(1 - np.mean(cosines), rel=1e-6)
    env = simulator.make("cascade", num_arms=6, slate_size=2, arm_dim=3)
    agent = agents.make("random_slate", num_arms=6, slate_size=2)
    log = jax.jit(make_run(env, agent, 40))(
        jax.random.key(0), env.default_params(), agent.default_hparams()
    )
    coverage = np.asarray(log.coverage)
    assert coverage[0] == pytest.approx(2 / 6) and np.all(np.diff(coverage) >= 0)
    assert coverage[-1] == 1.0  # 40 random slates of 2 show all 6 items (p > 0.999)
    assert np.all((np.asarray(log.diversity) >= 0) & (np.asarray(log.diversity) <= 2))
