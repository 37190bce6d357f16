"""The feedback-loop metrics (issue 18) against plain numpy references.

Every statistic of :mod:`experiments.feedback_metrics` is recomputed here from its
definition (loops and textbook formulas, no scipy), and every in-scan metric is replayed
in numpy from what the run showed: an endogenous drift is re-simulated from the logged
(user, item, click) rounds; an exogenous one is read from the environment's state at
chunk ends.  Compiled runs are few and small (each JAX compile costs seconds on CI's two
cores): one module fixture per environment serves several tests.
"""

import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import experiments
import simulator
from experiments import api, feedback_metrics, runner, schema, threefry
from experiments.feedback_metrics import NAMES
from experiments.runner import make_run
from simulator.params import ConfigError

SEEDS = 2


# numpy references -----------------------------------------------------------------------
def np_gini(counts):
    """Gini by its definition: mean absolute difference over twice the mean."""
    x = np.asarray(counts, np.float64)
    n = x.shape[0]
    if x.sum() == 0:
        return 0.0
    return np.abs(x[:, None] - x[None, :]).sum() / (2.0 * n * n * x.mean())


def np_average_ranks(x):
    """1-based ranks, ties given the mean of the ranks they span (a plain loop)."""
    x = [float(v) for v in x]
    ranks = []
    for value in x:
        below = sum(1 for other in x if other < value)
        equal = sum(1 for other in x if other == value)
        ranks.append(below + (equal + 1) / 2.0)
    return np.asarray(ranks)


def np_ranks_vectorised(x):
    x = np.asarray(x, np.float64)
    below = (x[None, :] < x[:, None]).sum(1)
    equal = (x[None, :] == x[:, None]).sum(1)
    return below + (equal + 1) / 2.0


def np_spearman(x, y, ranks=np_ranks_vectorised):
    """Pearson's correlation of the average ranks; 0 when either side is constant."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return 0.0 if denominator == 0 else float((rx * ry).sum() / denominator)


def np_pairwise_cosine_loop(vectors):
    """mean over u < v of cos(x_u, x_v), a zero row having cosine 0 (a double loop)."""
    vectors = np.asarray(vectors, np.float64)
    total, pairs = 0.0, 0
    for u in range(len(vectors)):
        for v in range(u + 1, len(vectors)):
            nu, nv = np.linalg.norm(vectors[u]), np.linalg.norm(vectors[v])
            total += 0.0 if nu == 0 or nv == 0 else vectors[u] @ vectors[v] / (nu * nv)
            pairs += 1
    return total / pairs


def np_pairwise_cosine(vectors):
    """The same over the upper triangle of the Gram matrix of the normalised rows."""
    vectors = np.asarray(vectors, np.float64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    upper = np.triu_indices(len(vectors), k=1)
    return float((unit @ unit.T)[upper].mean())


def np_lorenz(counts, num_points):
    """At share p of the items (least exposed first) the share of exposure they got,
    linear inside an item: floor(pN) whole items plus the fraction of the next one."""
    x = np.sort(np.asarray(counts, np.float64))
    n, total = len(x), x.sum()
    out = []
    for p in np.linspace(0.0, 1.0, num_points):
        if total == 0:
            out.append(p)
            continue
        whole = min(int(np.floor(p * n + 1e-9)), n)
        part = x[:whole].sum() + (p * n - whole) * (x[whole] if whole < n else 0.0)
        out.append(part / total)
    return np.asarray(out)


def np_slate_value(examination, continuation, w):
    """Expected clicks of a slate with attractions w (position 1 first): the chain
    b_1 = 1, P(click_j) = b_j kappa_j w_j, b_{j+1} = b_j (1 - kappa_j w_j (1 - lambda_j))."""
    browsing, clicks = 1.0, 0.0
    for kappa, lam, attraction in zip(examination, continuation, w):
        clicks += browsing * kappa * attraction
        browsing *= 1.0 - kappa * attraction * (1.0 - lam)
    return clicks


def np_best_slate_value(examination, continuation, mu):
    """max over every ordered slate of distinct arms (brute force)."""
    k = len(examination)
    return max(
        np_slate_value(examination, continuation, [mu[a] for a in slate])
        for slate in itertools.permutations(range(len(mu)), k)
    )


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def host(tree):
    """Device arrays to numpy (typed PRNG keys left as they are)."""

    def to_numpy(x):
        return x if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else np.asarray(x)

    return jax.tree.map(to_numpy, tree)


# 1. the statistics --------------------------------------------------------------------
# jitted once per shape (eager dispatch compiles every op of every new shape)
gini = jax.jit(feedback_metrics.gini)
average_ranks = jax.jit(feedback_metrics.average_ranks)
spearman = jax.jit(feedback_metrics.spearman)
mean_pairwise_cosine = jax.jit(feedback_metrics.mean_pairwise_cosine)


def test_gini_matches_the_mean_absolute_difference_definition():
    rng = np.random.default_rng(0)
    cases = [
        rng.integers(0, 20, size=12),
        rng.integers(0, 3, size=30),  # many ties
        rng.exponential(size=12),
        np.array([0, 0, 0, 5, 0, 0, 1, 0, 0, 0, 0, 2]),
    ]
    for counts in cases:
        got = float(gini(jnp.asarray(counts, jnp.float32)))
        assert got == pytest.approx(np_gini(counts), abs=1e-6)
    assert float(gini(jnp.zeros(12))) == 0.0  # nothing shown
    assert float(gini(jnp.full(12, 3.0))) == pytest.approx(0.0, abs=1e-7)
    for n in (2, 12, 30):
        one_has_all = np.zeros(n, np.float32)
        one_has_all[n // 2] = 11.0
        assert float(gini(one_has_all)) == pytest.approx(1.0 - 1.0 / n, abs=1e-6)
        assert np_gini(one_has_all) == pytest.approx(1.0 - 1.0 / n)


def test_average_ranks_and_spearman_with_ties():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], np.float32)
    expected = [4.5, 1.5, 6, 1.5, 8, 11, 3, 10, 8, 4.5, 8]  # by hand
    np.testing.assert_array_equal(np.asarray(average_ranks(x)), expected)
    np.testing.assert_array_equal(np_average_ranks(x), expected)
    rng = np.random.default_rng(1)
    for n in (7, 23) * 8:
        x = rng.integers(0, 4, size=n).astype(np.float32)  # heavy ties
        y = np.round(rng.normal(size=n), 1).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(average_ranks(x)), np_average_ranks(x))
        expected = np_spearman(x, y, ranks=np_average_ranks)
        assert float(spearman(x, y)) == pytest.approx(expected, abs=1e-5)
        assert np_spearman(x, y) == pytest.approx(expected)
    x = np.array([0, 0, 1, 1, 2, 5, 7], np.float32)
    assert float(spearman(x, 2 * x + 1)) == pytest.approx(1.0, abs=1e-6)
    assert float(spearman(x, -x)) == pytest.approx(-1.0, abs=1e-6)
    y = rng.normal(size=7).astype(np.float32)
    assert float(spearman(np.full(7, 4.0, np.float32), y)) == 0.0  # constant input
    assert float(spearman(y, np.zeros(7, np.float32))) == 0.0


def test_mean_pairwise_cosine_is_the_double_loop():
    rng = np.random.default_rng(2)
    for shape in ((2, 3), (6, 3), (25, 8)):
        vectors = rng.normal(size=shape).astype(np.float32)
        got = float(mean_pairwise_cosine(vectors))
        assert got == pytest.approx(np_pairwise_cosine_loop(vectors), abs=1e-5)
        assert np_pairwise_cosine(vectors) == pytest.approx(np_pairwise_cosine_loop(vectors))
    with_zero = rng.normal(size=(6, 3)).astype(np.float32)
    with_zero[2] = 0.0  # a zero row has cosine 0 with every other
    got = float(mean_pairwise_cosine(with_zero))
    assert got == pytest.approx(np_pairwise_cosine_loop(with_zero), abs=1e-5)
    same = np.tile(rng.normal(size=(1, 3)), (6, 1)) * np.arange(1.0, 7.0)[:, None]
    assert float(mean_pairwise_cosine(same.astype(np.float32))) == pytest.approx(1.0)
    assert float(feedback_metrics.mean_pairwise_cosine(jnp.ones((1, 3)))) == 1.0


def test_lorenz_curve():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, size=(2, 3, 30)).astype(np.float64)
    counts[0, 0] = 0.0  # nothing shown: the diagonal
    counts[0, 1] = 4.0  # equal exposure: the diagonal
    counts[1, 2] = 0.0
    counts[1, 2, 7] = 9.0  # one item has everything
    curves = feedback_metrics.lorenz_curve(counts)
    assert curves.shape == (2, 3, feedback_metrics.LORENZ_POINTS) and curves.dtype == np.float32
    grid = np.linspace(0.0, 1.0, feedback_metrics.LORENZ_POINTS)
    np.testing.assert_allclose(curves[..., 0], 0.0, atol=1e-7)
    np.testing.assert_allclose(curves[..., -1], 1.0, atol=1e-6)
    assert np.all(np.diff(curves, axis=-1) >= -1e-7)  # monotone
    assert np.all(np.diff(curves, 2, axis=-1) >= -1e-6)  # convex
    assert np.all(curves <= grid + 1e-6)  # below the diagonal
    np.testing.assert_allclose(curves[0, 0], grid, atol=1e-6)
    np.testing.assert_allclose(curves[0, 1], grid, atol=1e-6)
    for index in np.ndindex(2, 3):
        reference = np_lorenz(counts[index], feedback_metrics.LORENZ_POINTS)
        np.testing.assert_allclose(curves[index], reference, atol=1e-6)
    assert not np.allclose(curves[0, 2], grid, atol=1e-2)  # an unequal run is not the diagonal

    def gini_from_area(curve):
        area = np.sum((curve[1:] + curve[:-1]) / 2.0) / (len(curve) - 1)
        return 1.0 - 2.0 * area

    for row in counts.reshape(-1, 30):  # 30 items: the grid misses most kinks, roughly
        fine = feedback_metrics.lorenz_curve(row, num_points=3001)
        expected = float(gini(row.astype(np.float32)))
        assert gini_from_area(fine.astype(np.float64)) == pytest.approx(expected, abs=1e-3)
    # 25 items divide the 100 intervals of the default grid: every kink is on it, exact
    row = rng.integers(0, 9, size=25)
    expected = float(gini(row.astype(np.float32)))
    curve = feedback_metrics.lorenz_curve(row).astype(np.float64)
    assert gini_from_area(curve) == pytest.approx(expected, abs=1e-5)


def test_utility_for_one_arm_and_for_slates():
    bandit = simulator.make("bernoulli", num_arms=5)
    mu = np.array([0.1, 0.7, 0.3, 0.7, 0.0], np.float32)
    for arm in range(5):
        got = float(feedback_metrics.utility(bandit, mu, jnp.int32(arm)))
        assert got == pytest.approx(mu[arm] / mu.max(), abs=1e-7)
    assert float(feedback_metrics.utility(bandit, np.zeros(5), jnp.int32(2))) == 1.0

    rng = np.random.default_rng(4)
    for model in ("cascade", "pbm", "dcm"):
        env = simulator.make("cascade", num_arms=5, slate_size=3, click_model=model)
        chain = env.click_chain
        for _ in range(3):
            mu = rng.uniform(0.05, 0.95, size=5).astype(np.float32)
            best = np_best_slate_value(chain.examination, chain.continuation, mu)
            assert float(simulator.click_models.best_value(chain, mu)) == pytest.approx(
                best, abs=1e-6
            )
            for slate in ((0, 1, 2), (4, 2, 0), (3, 1, 4)):
                value = np_slate_value(chain.examination, chain.continuation, mu[list(slate)])
                assert float(
                    simulator.click_models.expected_clicks(chain, mu[list(slate)])
                ) == pytest.approx(value, abs=1e-6)
                got = float(feedback_metrics.utility(env, mu, jnp.asarray(slate, jnp.int32)))
                assert got == pytest.approx(value / best, abs=1e-6)
        assert float(feedback_metrics.utility(env, np.zeros(5), jnp.arange(3))) == 1.0
    # the order of a slate matters under the PBM: the best order scores 1, a worse one less
    env = simulator.make("cascade", num_arms=5, slate_size=3, click_model="pbm")
    mu = np.array([0.9, 0.5, 0.1, 0.2, 0.3], np.float32)
    assert float(feedback_metrics.utility(env, mu, jnp.array([0, 1, 4]))) == pytest.approx(1.0)
    assert float(feedback_metrics.utility(env, mu, jnp.array([4, 1, 0]))) < 0.9


# 2-4. in the scan, on drifting users ----------------------------------------------------
U, N, K, D, T = 50, 30, 5, 4, 200
RATE = 0.3
EVERY = 4  # the record_every of the coarse runs


def users_params(env, seed):
    """Explicit initial preferences and catalog, so numpy knows theta_u(0) and v_i."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(1, D))  # half the taste common to all: homogeneity about 1/2
    users0 = D**-0.25 * np.sqrt(0.5) * (shared + rng.normal(size=(env.num_users, D)))
    users0 = users0.astype(np.float32)
    items = (D**-0.25 * rng.normal(size=(env.num_items, D))).astype(np.float32)
    params = env.default_params()
    params = params.replace(users=users0, items=items, bias=0.0)
    return params.replace(drift=params.drift.replace(rate=RATE)), users0, items


def round_record(r: runner.Round):
    """What numpy needs to replay a round on drifting users."""
    return dict(
        user=r.timestep.context.user_id,
        candidates=r.timestep.context.item_ids,
        action=r.action,
        click=r.next_timestep.reward,
        mu=r.timestep.oracle.expected_reward,
        pref=r.timestep.oracle.true_param,
    )


@pytest.fixture(scope="module")
def endogenous():
    """linucb on endogenously drifting users with every metric, the same run without
    metrics, and a recorder run (same key: the same rounds)."""
    env = simulator.make(
        "drifting_users", num_users=U, num_items=N, num_candidates=K, dim=D, drift="endogenous"
    )
    agent = agents.make("linucb", num_arms=K, context_dim=D, arm_dim=D)
    params, users0, items = users_params(env, 0)
    hp = agent.default_hparams()
    keys = jax.random.split(jax.random.key(11), SEEDS)

    def without(key):
        plain = make_run(env, agent, T)(key, params, hp)
        return plain, make_run(env, agent, T, record=round_record)(key, params, hp)

    def with_metrics(key):
        return (
            make_run(env, agent, T, metrics=NAMES)(key, params, hp),
            make_run(env, agent, T, record_every=EVERY, metrics=NAMES)(key, params, hp),
        )

    with threefry.driftsim_lowering():  # the experiments' lowering: shorter compiles
        plain, rounds = host(jax.jit(jax.vmap(without))(keys))
        logged, coarse = host(jax.jit(jax.vmap(with_metrics))(keys))
    return dict(
        plain=plain,
        rounds=rounds,
        logged=logged,
        coarse=coarse,
        params=params,
        users0=users0,
        items=items,
    )


def replay(run, users0, items, scale):
    """Re-simulate endogenous drift in float64 from the logged rounds: theta_u moves
    toward the shown item's vector by RATE when user u clicks.  The subsample is every
    user (U <= 256), and every metric is symmetric in the users."""
    theta = users0.astype(np.float64).copy()
    start = users0.astype(np.float64)
    items = items.astype(np.float64)
    bias = 0.0
    popularity = sigmoid(scale * start @ items.T + bias).mean(0)
    counts = np.zeros(N)
    out = {name: [] for name in NAMES}
    for t in range(T):
        u = int(run["user"][t])
        candidates = run["candidates"][t]
        shown = int(candidates[run["action"][t]])
        np.testing.assert_allclose(run["pref"][t], theta[u], atol=1e-5)  # replay aligned
        mu = sigmoid(scale * theta[u] @ items[candidates].T + bias)
        np.testing.assert_allclose(run["mu"][t], mu, atol=1e-5)
        mu0 = sigmoid(scale * start[u] @ items[candidates].T + bias)
        out["utility"].append(mu[run["action"][t]] / mu.max())
        out["utility_initial"].append(mu0[run["action"][t]] / mu0.max())
        counts[shown] += 1
        theta[u] += RATE * run["click"][t] * (items[shown] - theta[u])
        out["coverage"].append((counts > 0).mean())
        out["exposure_gini"].append(np_gini(counts))
        out["popularity_bias"].append(np_spearman(counts, popularity))
        out["user_drift"].append(np.linalg.norm(theta - start, axis=1).mean())
        out["homogeneity"].append(np_pairwise_cosine(theta))
    return {name: np.asarray(values) for name, values in out.items()}


def test_in_scan_metrics_match_a_numpy_replay_of_the_rounds(endogenous):
    params = endogenous["params"]
    tolerance = dict(user_drift=1e-4, homogeneity=1e-4, utility=1e-5, utility_initial=1e-5)
    for seed in range(SEEDS):
        rounds = {k: v[seed] for k, v in endogenous["rounds"].items()}
        log = {k: v[seed] for k, v in endogenous["logged"]._asdict().items()}
        expected = replay(rounds, endogenous["users0"], endogenous["items"], float(params.scale))
        for name in NAMES:
            np.testing.assert_allclose(
                log[name], expected[name], rtol=0, atol=tolerance.get(name, 1e-6), err_msg=name
            )
        # the checks can fail: every metric moves and the loop moved the users
        assert expected["user_drift"][-1] > 0.2
        assert np.ptp(expected["homogeneity"]) > 0.01
        assert expected["coverage"][0] == 1 / N and expected["coverage"][-1] > 0.5
        assert np.ptp(expected["popularity_bias"]) > 0.1
        assert np.ptp(expected["exposure_gini"]) > 0.1
        assert 0.3 < expected["utility"].mean() < 1.0
        assert np.abs(expected["utility"] - expected["utility_initial"]).max() > 0.05


def assert_same_numbers(plain, on, extra):
    """Every field of ``plain`` bit-identical in ``on``, which adds exactly ``extra``."""
    assert on._fields[: len(plain._fields)] == plain._fields
    assert sorted(on._fields[len(plain._fields) :]) == sorted(extra)
    for name in plain._fields:
        np.testing.assert_array_equal(getattr(on, name), getattr(plain, name), err_msg=name)


def test_metrics_leave_the_other_numbers_of_drifting_users_unchanged(endogenous):
    assert_same_numbers(endogenous["plain"], endogenous["logged"], NAMES)
    # the rounds of the recorder run are those of the metric runs
    np.testing.assert_array_equal(endogenous["rounds"]["click"], endogenous["plain"].reward)


def test_snapshots_are_the_state_at_block_ends_per_round_metrics_block_means(endogenous):
    every, coarse = endogenous["logged"], endogenous["coarse"]
    assert coarse.user_drift.shape == (SEEDS, T // EVERY)
    for name in feedback_metrics.SNAPSHOTS:  # steps R-1, 2R-1, ...
        np.testing.assert_allclose(
            getattr(coarse, name), getattr(every, name)[:, EVERY - 1 :: EVERY], atol=1e-6
        )
    for name in ("coverage", "utility", "utility_initial", "reward", "regret"):
        means = getattr(every, name).reshape(SEEDS, -1, EVERY).mean(-1)
        np.testing.assert_allclose(getattr(coarse, name), means, rtol=1e-6, atol=1e-7)
    # the two conventions differ on these runs, so the test tells them apart
    for name in ("user_drift", "homogeneity", "exposure_gini", "popularity_bias", "coverage"):
        values = getattr(every, name)
        block_ends = values[:, EVERY - 1 :: EVERY]
        assert not np.allclose(block_ends, values.reshape(SEEDS, -1, EVERY).mean(-1), atol=1e-5)


@pytest.fixture(scope="module")
def random_walk():
    """An exogenous drift over 300 users (a strict subsample of 256), run with and without
    metrics in two chunks of ``init_carry`` and ``advance`` at record_every 4; the
    preferences of the subsample are read at each chunk end."""
    users = 300
    env = simulator.make(
        "drifting_users", num_users=users, num_items=N, num_candidates=K, dim=D, drift="random_walk"
    )
    agent = agents.make("epsilon_greedy", num_arms=K)
    params, users0, items = users_params(env, 1)
    params = params.replace(drift=params.drift.replace(rate=0.02))
    hp = agent.default_hparams()
    keys = jax.random.split(jax.random.key(5), SEEDS)
    half = T // 2

    def start(key):
        keys = runner.split_run_key(key)
        return (
            runner.init_carry(env, agent, keys, params, hp, True, NAMES),
            runner.init_carry(env, agent, keys, params, hp, True),
        )

    def chunk(carries, key, t_start):
        keys = runner.split_run_key(key)
        on, off = carries
        on, log = runner.advance(
            env, agent, on, keys, params, hp, t_start, half, EVERY, None, NAMES
        )
        off, plain = runner.advance(env, agent, off, keys, params, hp, t_start, half, EVERY)
        state = on.env_state
        read = dict(
            now=env.current_preferences(state, params, on.watch.users),
            initial=env.initial_preferences(state, params, on.watch.users),
            arriving=env.current_preferences(state, params, on.timestep.context.user_id),
        )
        return (on, off), (log, plain, read)

    with threefry.driftsim_lowering():
        chunk = jax.jit(jax.vmap(chunk, in_axes=(0, 0, None)))
        carries = jax.jit(jax.vmap(start))(keys)
        first = host(carries[0].watch)
        ends = []
        for t_start in (0, half):
            carries, (log, plain, read) = chunk(carries, keys, t_start)
            ends.append(
                (host(carries[0].watch), host(carries[0].timestep), host((log, plain, read)))
            )
    return dict(env=env, params=params, users0=users0, items=items, first=first, ends=ends)


def test_snapshots_read_the_state_of_an_exogenous_drift_at_block_ends(random_walk):
    env, params = random_walk["env"], random_walk["params"]
    users0, items = random_walk["users0"].astype(np.float64), random_walk["items"]
    scale = float(params.scale)
    subsample = random_walk["first"].users
    assert subsample.shape == (SEEDS, feedback_metrics.SUBSAMPLE)
    for seed in range(SEEDS):
        assert len(set(subsample[seed].tolist())) == feedback_metrics.SUBSAMPLE
        assert subsample[seed].min() >= 0 and subsample[seed].max() < env.num_users
    assert not np.array_equal(np.sort(subsample[0]), np.sort(subsample[1]))
    for end, (watch, timestep, (log, plain, read)) in enumerate(random_walk["ends"]):
        assert_same_numbers(plain, log, NAMES)  # record_every 4, chunked
        assert log.user_drift.shape == (SEEDS, T // 2 // EVERY)
        np.testing.assert_array_equal(watch.users, subsample)  # fixed for the run
        for seed in range(SEEDS):
            users = subsample[seed]
            start = users0[users]
            now = read["now"][seed].astype(np.float64)
            # the population contract: initial preferences are the given ones, and a user
            # read now is the preference the arriving user acts with (the oracle's)
            np.testing.assert_allclose(read["initial"][seed], start, atol=1e-6)
            np.testing.assert_allclose(
                read["arriving"][seed], timestep.oracle.true_param[seed], atol=1e-6
            )
            # the last stored snapshot is the state at the end of its block (the chunk's)
            drift = np.linalg.norm(now - start, axis=1).mean()
            assert drift > 0.1
            assert log.user_drift[seed, -1] == pytest.approx(drift, abs=1e-5)
            homogeneity = np_pairwise_cosine(now)
            assert log.homogeneity[seed, -1] == pytest.approx(homogeneity, abs=1e-5)
            assert abs(np_pairwise_cosine(start) - homogeneity) > 1e-3
            exposure = watch.exposure[seed]
            assert exposure.sum() == (end + 1) * T // 2  # one item a round
            assert watch.distinct[seed] == np.count_nonzero(exposure)
            assert log.exposure_gini[seed, -1] == pytest.approx(np_gini(exposure), abs=1e-6)
            popularity = sigmoid(scale * start @ items.T.astype(np.float64) + params.bias)
            popularity = popularity.mean(0)
            np.testing.assert_allclose(watch.popularity[seed], popularity, atol=1e-6)
            expected = np_spearman(exposure, popularity)
            assert log.popularity_bias[seed, -1] == pytest.approx(expected, abs=1e-5)
            # coverage is a per-round value: its stored value is the block's mean, which
            # ends at the state's coverage
            assert log.coverage[seed, -1] <= np.count_nonzero(exposure) / N + 1e-7
    # the drift grows with time (the random walk's spread)
    first, last = random_walk["ends"][0][2][0], random_walk["ends"][1][2][0]
    assert np.all(last.user_drift[:, -1] > 2 * first.user_drift[:, 0])


# 3. fixed arms and slates -------------------------------------------------------------
CATALOG = ("coverage", "exposure_gini", "popularity_bias", "utility")


def plain_and_metric_runs(env, agent, record):
    params, hp = env.default_params(), agent.default_hparams()
    keys = jax.random.split(jax.random.key(3), SEEDS)

    def without(key):
        return (
            make_run(env, agent, T, hindsight=True)(key, params, hp),
            make_run(env, agent, T, record_every=5, hindsight=True)(key, params, hp),
            make_run(env, agent, T, hindsight=True, record=record)(key, params, hp),
        )

    def with_metrics(key):
        return (
            make_run(env, agent, T, hindsight=True, metrics=CATALOG)(key, params, hp),
            make_run(env, agent, T, 5, True, metrics=CATALOG)(key, params, hp),
        )

    with threefry.driftsim_lowering():
        plain1, plain5, rounds = host(jax.jit(jax.vmap(without))(keys))
        on1, on5 = host(jax.jit(jax.vmap(with_metrics))(keys))
    return plain1, plain5, rounds, on1, on5


def catalog_reference(actions, mu, utility_of):
    """Coverage, Gini and Spearman of the exposure counted from the actions; popularity
    is the first round's expected rewards (fixed arms)."""
    counts = np.zeros(mu.shape[-1])
    out = {name: [] for name in CATALOG}
    for t in range(T):
        counts[np.atleast_1d(actions[t])] += 1
        out["coverage"].append((counts > 0).mean())
        out["exposure_gini"].append(np_gini(counts))
        out["popularity_bias"].append(np_spearman(counts, mu[0]))
        out["utility"].append(utility_of(mu[t], actions[t]))
    return {name: np.asarray(values) for name, values in out.items()}


def check_catalog_runs(runs, utility_of):
    plain1, plain5, rounds, on1, on5 = runs
    assert_same_numbers(plain1, on1, [n for n in CATALOG if n not in plain1._fields])
    assert_same_numbers(plain5, on5, [n for n in CATALOG if n not in plain1._fields])
    actions, mu = rounds
    for seed in range(SEEDS):
        expected = catalog_reference(actions[seed], mu[seed], utility_of)
        for name in CATALOG:
            got = getattr(on1, name)[seed]
            np.testing.assert_allclose(got, expected[name], atol=1e-5, err_msg=name)
            means = expected[name].reshape(-1, 5).mean(-1)
            if name in feedback_metrics.SNAPSHOTS:
                means = expected[name][4::5]
            np.testing.assert_allclose(getattr(on5, name)[seed], means, atol=1e-5, err_msg=name)
        assert np.ptp(expected["popularity_bias"]) > 0.1
        assert np.ptp(expected["exposure_gini"]) > 0.1
    return on1


def test_fixed_arms_bernoulli_metrics_and_unchanged_numbers():
    env = simulator.make("bernoulli", num_arms=6)
    agent = agents.make("ucb", num_arms=6)
    runs = plain_and_metric_runs(
        env, agent, lambda r: (r.action, r.timestep.oracle.expected_reward)
    )
    assert "hindsight_regret" in runs[0]._fields
    on1 = check_catalog_runs(runs, lambda mu, a: mu[a] / mu.max())
    assert on1.utility.mean() < 0.99  # UCB explores: not every round is the best arm


def test_slate_metrics_and_unchanged_numbers():
    env = simulator.make("cascade", num_arms=6, slate_size=3, click_model="pbm")
    agent = agents.make("cascade_ucb1", num_arms=6, slate_size=3)
    chain = env.click_chain

    def slate_utility(mu, slate):
        value = np_slate_value(chain.examination, chain.continuation, mu[slate])
        return value / np_best_slate_value(chain.examination, chain.continuation, mu)

    runs = plain_and_metric_runs(
        env, agent, lambda r: (r.action, r.timestep.oracle.expected_reward)
    )
    assert "coverage" in runs[0]._fields  # slates of fixed arms log it anyway
    on1 = check_catalog_runs(runs, slate_utility)
    assert 0.5 < on1.utility.mean() < 0.99


# 5. validation before compilation -------------------------------------------------------
def small_experiment(**overrides):
    data = {
        "name": "feedback",
        "num_seeds": 2,
        "num_steps": 40,
        "seed": 7,
        "figures": ["regret"],
        "env": {
            "name": "drifting_users",
            "num_users": 300,
            "num_items": 25,
            "num_candidates": 5,
            "dim": 4,
            "drift": "random_walk",
        },
        "agents": [
            {"label": "random", "name": "random"},
            {"label": "greedy", "name": "epsilon_greedy", "epsilon": 0.1},
        ],
        "metrics": list(NAMES),
    }
    data.update(overrides)
    return json.loads(json.dumps(data))


def test_metrics_are_validated_before_compilation(monkeypatch):
    assert schema.METRICS == feedback_metrics.NAMES

    def no_compilation(*args, **kwargs):
        raise AssertionError("compiled before validating the metrics")

    monkeypatch.setattr(api, "run_group", no_compilation)
    bandit = {"name": "bernoulli", "num_arms": 4}
    agents_ = [{"label": "ucb", "name": "ucb"}]
    for name in ("homogeneity", "user_drift", "utility_initial"):
        data = small_experiment(env=bandit, agents=agents_, metrics=["coverage", name])
        with pytest.raises(ConfigError, match=rf"metrics: '{name}' needs .*user population"):
            experiments.run(data, figures=False)
    data = small_experiment(env=bandit, agents=agents_, metrics=["bogus"])
    with pytest.raises(ConfigError, match="metrics") as error:
        experiments.run(data, figures=False)
    assert all(name in str(error.value) for name in NAMES)
    gaussian = {"name": "gaussian", "num_arms": 4}
    with pytest.raises(ConfigError, match="'utility' needs .*non-negative"):
        experiments.run(small_experiment(env=gaussian, agents=agents_, metrics=["utility"]))
    linear = {"name": "contextual_linear"}
    linucb = [{"label": "lin", "name": "linucb"}]
    with pytest.raises(ConfigError, match="'coverage' needs a catalog"):
        experiments.run(small_experiment(env=linear, agents=linucb, metrics=["coverage"]))

    users = simulator.make("drifting_users", num_users=10, num_items=8, num_candidates=3)
    assert feedback_metrics.check(users, ["utility", "user_drift"]) == ("user_drift", "utility")
    with pytest.raises(ConfigError, match="unknown metric 'bogus'") as error:
        feedback_metrics.check(users, ["user_drift", "bogus"])
    assert all(name in str(error.value) for name in NAMES)
    with pytest.raises(ConfigError, match="a list of names"):
        feedback_metrics.check(users, "coverage")
    with pytest.raises(ConfigError, match="user population"):  # make_run checks too
        make_run(
            simulator.make("bernoulli"),
            agents.make("ucb", num_arms=10),
            10,
            metrics=["homogeneity"],
        )
    parsed = schema.from_dict(small_experiment(metrics=["utility", "coverage", "utility"]))
    assert parsed.metrics == ["utility", "coverage"]
    assert schema.from_dict(parsed.to_dict()).metrics == ["utility", "coverage"]


def test_catalog_metrics_run_under_x64():
    """The exposure counts stay int32 in float64 runs (a sum of int32 is int64 under x64,
    which once changed the carry's type inside the scan)."""
    data = small_experiment(
        env={"name": "bernoulli", "num_arms": 4},
        agents=[{"label": "ucb", "name": "ucb"}],
        metrics=["coverage", "exposure_gini", "popularity_bias", "utility"],
        num_steps=20,
        x64=True,
    )
    r = experiments.run(data, figures=False)["ucb"]
    coverage = r.metrics["coverage"]
    assert np.all(np.diff(coverage, axis=-1) >= 0) and np.all(coverage[..., -1] == 1.0)
    lorenz = r.finals["lorenz"].astype(np.float64)  # 4 arms: exact on the 101-point grid
    area = np.sum((lorenz[..., 1:] + lorenz[..., :-1]) / 2.0, -1) / 100.0
    np.testing.assert_allclose(1.0 - 2.0 * area, r.metrics["exposure_gini"][..., -1], atol=1e-5)


# 6. end to end --------------------------------------------------------------------------
def test_experiment_end_to_end_summary_lorenz_and_common_users(tmp_path):
    data = small_experiment(sweep={"env.drift.rate": [0.005, 0.05]}, record_every=2, chunk_size=20)
    results = experiments.run(data, out=tmp_path / "out", figures=False)
    loaded = experiments.load(tmp_path / "out")
    points, steps = 2, 40 // 2
    for label in ("random", "greedy"):
        r, saved = results[label], loaded[label]
        for name in NAMES:
            assert r.metrics[name].shape == (points, 2, steps)
            np.testing.assert_array_equal(saved.metrics[name], r.metrics[name])
        lorenz = saved.finals["lorenz"]
        assert lorenz.shape == (points, 2, feedback_metrics.LORENZ_POINTS)
        np.testing.assert_array_equal(lorenz, r.finals["lorenz"])
        assert set(saved.metrics) & {"lorenz", "final:lorenz"} == set()
        # 25 items: the trapezoid area of the Lorenz curve gives the horizon's Gini exactly
        area = np.sum((lorenz[..., 1:] + lorenz[..., :-1]) / 2.0, -1) / 100.0
        np.testing.assert_allclose(1.0 - 2.0 * area, r.metrics["exposure_gini"][..., -1], atol=1e-5)
        rows = [row for row in results.summary if row["label"] == label]
        assert [row["env.drift.rate"] for row in rows] == [0.005, 0.05]
        for point, row in enumerate(rows):
            for name in (
                "user_drift",
                "homogeneity",
                "coverage",
                "exposure_gini",
                "popularity_bias",
            ):
                last = r.metrics[name][point, :, -1].mean()
                assert row[f"final_{name}"] == pytest.approx(last, rel=1e-5, abs=1e-6)
            for name in ("utility", "utility_initial"):
                assert row[f"avg_{name}"] == pytest.approx(r.metrics[name][point].mean(), rel=1e-5)
        drift = r.metrics["user_drift"][..., -1]
        assert np.all(drift[1] > drift[0])  # a faster walk moves the users further
    header = (tmp_path / "out" / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"final_user_drift", "final_homogeneity", "final_exposure_gini"} <= set(header)
    # common random numbers: both agents follow the same users of each seed, and an
    # exogenous drift moves them alike whatever was recommended
    a, b = results["random"].metrics, results["greedy"].metrics
    for name in ("user_drift", "homogeneity"):
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name][:, 0], a[name][:, 1])  # seeds differ
    assert not np.array_equal(a["popularity_bias"], b["popularity_bias"])
