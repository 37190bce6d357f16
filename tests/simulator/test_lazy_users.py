"""Users scale like items: the lazy drift populations against the eager processes (in
distribution, or exactly where the process is deterministic), ``drifting_users`` without
``(U, d)`` or ``(N, d)`` state, and candidates drawn without replacement in O(K)."""

import collections
import dataclasses
import itertools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import simulator
from simulator import drift as D
from simulator.params import ConfigError
from simulator.sampling import first_distinct, shuffle, without_replacement

# ---------------------------------------------------------------------------- helpers


def ks_2samp(x, y):
    """Two-sample Kolmogorov–Smirnov statistic ``D = sup |F_x - F_y|`` and its asymptotic
    p-value ``Q(sqrt(n_e) D)``, ``Q(l) = 2 sum_k (-1)^{k-1} exp(-2 k^2 l^2)``,
    ``n_e = n m / (n + m)`` (Kolmogorov 1933, Smirnov 1948); numpy only."""
    x, y = np.sort(np.ravel(x)), np.sort(np.ravel(y))
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / x.size
    cdf_y = np.searchsorted(y, grid, side="right") / y.size
    stat = float(np.max(np.abs(cdf_x - cdf_y)))
    lam = (math.sqrt(x.size * y.size / (x.size + y.size)) + 0.12) * stat
    k = np.arange(1, 101)
    p = float(np.clip(2.0 * np.sum((-1.0) ** (k - 1) * np.exp(-2.0 * k**2 * lam**2)), 0, 1))
    return stat, (1.0 if lam < 1e-3 else p)


def test_ks_helper_detects_a_shift_and_accepts_the_same_law():
    rng = np.random.default_rng(0)
    assert ks_2samp(rng.normal(size=4000), rng.normal(size=4000))[1] > 0.01
    assert ks_2samp(rng.normal(size=4000), rng.normal(0.15, size=4000))[1] < 1e-4


def chi_square_ok(counts):
    """A uniform multinomial: chi^2 below df + 5 sqrt(2 df) (about 5 standard deviations)."""
    counts = np.asarray(counts, np.float64)
    expected = counts.sum() / counts.size
    chi2 = np.sum((counts - expected) ** 2 / expected)
    df = counts.size - 1
    return chi2 < df + 5.0 * math.sqrt(2.0 * df), chi2


def step_keys(seed, num_steps):
    return jax.vmap(lambda t: jax.random.fold_in(jax.random.key(seed), t))(jnp.arange(num_steps))


def eager_thetas(drift, params, theta0, keys):
    """``theta_t`` ``(T, U, d)`` for t = 1..T of the eager process (all rows every step)."""
    state = drift.init(jax.random.key(99), theta0, params)

    def body(state, key):
        state = drift.step(key, state, params)
        return state, (state.theta, state.change_point)

    return jax.lax.scan(body, state, keys)[1]


def lazy_pops(drift, params, theta0, keys):
    """The lazy population after each of the steps (stacked ``Population``), nobody
    consuming."""
    num_rows, dim = theta0.shape
    rms = jnp.sqrt(jnp.mean(jnp.square(theta0)))
    pop = drift.population_init(jax.random.key(7), params, num_rows, dim, anchor_rms=rms)

    def body(pop, key):
        pop = drift.population_step(key, pop, params, 0, theta0[0], theta0[0], 0.0)
        return pop, pop

    return jax.lax.scan(body, pop, keys)[1]


def read(drift, params, pops, theta0, index):
    """Every row at the step of ``pops[index]`` (``(U, d)``)."""
    pop = jax.tree.map(lambda x: x[index], pops)
    return drift.population_rows(pop, params, jnp.arange(theta0.shape[0]), theta0)


THETA0 = 0.5 * jax.random.normal(jax.random.key(3), (3000, 2), jnp.float32)
TIMES = (1, 2, 7, 64, 300, 1000)  # several elapsed times Δt since the anchor


# ---------------------------------------------------------------------------- processes


def test_every_registered_process_has_a_lazy_form():
    assert [name for name in D.names() if not D.make(name).lazy] == []


def ar1_variance(n, reversion):
    a = 1.0 - reversion
    return float(n) if reversion == 0 else (1.0 - a ** (2 * n)) / (1.0 - a * a)


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("random_walk", {"rate": 0.1}),
        ("mean_reverting", {"rate": 0.1, "reversion": 0.05}),
        ("mean_reverting", {"rate": 0.1, "reversion": 0.0}),  # the r = 0 limit
        ("mean_reverting", {"rate": 0.1, "reversion": 1.0}),  # white noise
    ],
)
def test_gaussian_processes_lazy_equal_eager_in_distribution(name, knobs):
    """theta_t - theta_0 = rate * Y_t: the lazy path read at several t against the eager
    process (moments and a two-sample KS test per t), and the joint law of two reads of the
    same row (the residual ``Y_t2 - a^{t2 - t1} Y_t1``) against the eager one."""
    drift = D.make(name)
    params = drift.default_params().replace(**knobs)
    r = knobs.get("reversion", 0.0)
    keys = step_keys(1, max(TIMES))
    run = jax.jit(
        lambda: (
            eager_thetas(drift, params, THETA0, keys)[0],
            jnp.stack(
                [
                    read(drift, params, lazy_pops(drift, params, THETA0, keys), THETA0, t - 1)
                    for t in TIMES
                ]
            ),
        )
    )
    eager, lazy = run()
    eager = (np.asarray(eager)[np.asarray(TIMES) - 1] - np.asarray(THETA0)) / knobs["rate"]
    lazy = (np.asarray(lazy) - np.asarray(THETA0)) / knobs["rate"]
    n = lazy[0].size
    for i, t in enumerate(TIMES):
        var = ar1_variance(t, r)
        for sample in (eager[i], lazy[i]):
            assert abs(sample.mean()) < 5 * math.sqrt(var / n), (t, sample.mean())
            assert sample.var() == pytest.approx(var, rel=5 * math.sqrt(2 / n))
        assert ks_2samp(eager[i], lazy[i])[1] > 1e-4, t
    a = 1.0 - r
    for i, j in ((0, 1), (3, 4), (4, 5)):  # Δt = 1, 236, 700 between the two reads
        gap = TIMES[j] - TIMES[i]
        lazy_res = lazy[j] - a**gap * lazy[i]
        eager_res = eager[j] - a**gap * eager[i]
        assert lazy_res.var() == pytest.approx(ar1_variance(gap, r), rel=5 * math.sqrt(2 / n))
        assert abs(np.corrcoef(lazy_res.ravel(), lazy[i].ravel())[0, 1]) < 5 / math.sqrt(n)
        assert ks_2samp(eager_res, lazy_res)[1] > 1e-4, gap


def test_ar1_path_is_a_fixed_function_of_key_and_step():
    key = jax.random.key(5)
    path = jax.jit(jax.vmap(lambda t: D.ar1_at(key, t, (3,), 0.0)))
    forward = np.asarray(path(jnp.arange(200)))
    backward = np.asarray(path(jnp.arange(199, -1, -1)))[::-1]
    np.testing.assert_array_equal(forward, backward)  # out of order: the same path
    np.testing.assert_array_equal(forward[0], 0.0)
    increments = np.diff(forward, axis=0)  # i.i.d. N(0, 1) steps of a random walk
    assert increments.std() == pytest.approx(1.0, rel=0.1)
    assert abs(np.corrcoef(increments[1:, 0], increments[:-1, 0])[0, 1]) < 0.25
    # the last steps an int32 step count can reach are in the tree
    late = np.asarray(path(jnp.asarray([2**31 - 2, 2**31 - 1])))
    assert np.all(np.isfinite(late)) and np.all(late[0] != late[1])


@pytest.mark.parametrize("redraw", ["gaussian", "uniform", "negate"])
def test_abrupt_lazy_changes_with_the_population(redraw):
    """The same change times as the eager process for the same step keys (one draw per
    step for everyone); between changes a row is constant; after a change it is a fresh
    draw (in law the eager redraw; negate: exactly the eager values)."""
    drift = D.make("abrupt", redraw=redraw)
    params = drift.default_params().replace(hazard=0.01, period=250.0)
    keys = step_keys(2, 1000)
    ks = [t - 1 for t in (1, 260, 510, 760, 1000)]

    @jax.jit
    def run():
        thetas, flags = eager_thetas(drift, params, THETA0, keys)
        pops = lazy_pops(drift, params, THETA0, keys)
        rows = jnp.stack([read(drift, params, pops, THETA0, k) for k in ks])
        return thetas[jnp.asarray(ks)], flags, pops.change_point, pops.changes, rows

    eager, flags, lazy_flags, changes, lazy = (np.asarray(x) for x in run())
    np.testing.assert_array_equal(lazy_flags, flags)
    np.testing.assert_array_equal(changes, np.cumsum(flags))
    assert flags[[249, 499, 749, 999]].all() and 4 < flags.sum() < 40
    if redraw == "negate":
        np.testing.assert_array_equal(lazy, eager)
        return
    for i, k in enumerate(ks):
        if changes[k] == 0:
            np.testing.assert_array_equal(lazy[i], np.asarray(THETA0))
            continue
        assert ks_2samp(eager[i], lazy[i])[1] > 1e-4, k
        if redraw == "gaussian":
            rms = float(np.sqrt(np.mean(np.asarray(THETA0) ** 2)))
            assert lazy[i].std() == pytest.approx(rms, rel=0.05)
        if i > 0 and changes[k] != changes[ks[i - 1]]:  # a change in between: fresh
            assert abs(np.corrcoef(lazy[i].ravel(), lazy[i - 1].ravel())[0, 1]) < 0.1


def test_abrupt_redraw_is_the_same_for_every_reader_of_a_change():
    drift = D.make("abrupt")
    params = drift.default_params().replace(hazard=0.0, period=3.0)
    keys = step_keys(4, 5)
    pops = jax.jit(lambda: lazy_pops(drift, params, THETA0[:8], keys))()
    at = [np.asarray(read(drift, params, pops, THETA0[:8], k)) for k in range(5)]
    np.testing.assert_array_equal(at[2], at[3])  # change after step 3: steps 3, 4 same draw
    np.testing.assert_array_equal(at[0], np.asarray(THETA0[:8]))
    # one row read alone gives the row of the whole-population read
    pop = jax.tree.map(lambda x: x[3], pops)
    alone = drift.population_rows(pop, params, jnp.asarray([5]), THETA0[5:6])
    np.testing.assert_array_equal(np.asarray(alone)[0], at[3][5])


def test_periodic_lazy_equal_eager_in_distribution():
    drift = D.make("periodic")
    params = drift.default_params().replace(amplitude=0.3, period=50.0)
    keys = step_keys(3, 100)
    ks = (0, 11, 37, 99)

    @jax.jit
    def run():
        thetas = eager_thetas(drift, params, THETA0, keys)[0]
        pops = lazy_pops(drift, params, THETA0, keys)
        return thetas[jnp.asarray(ks)], jnp.stack(
            [read(drift, params, pops, THETA0, k) for k in ks]
        )

    eager, lazy = (np.asarray(x) - np.asarray(THETA0) for x in run())
    for i in range(len(ks)):
        assert ks_2samp(eager[i], lazy[i])[1] > 1e-4
    np.testing.assert_allclose(lazy[3], 0.0, atol=1e-5)  # t = 100: two whole periods


@pytest.mark.parametrize("plane", ["first", "random"])
def test_rotation_lazy(plane):
    drift = D.make("rotation", plane=plane)
    params = drift.default_params().replace(speed=0.01)
    theta0 = THETA0[:50]
    keys = step_keys(3, 120)

    @jax.jit
    def run():
        pops = lazy_pops(drift, params, theta0, keys)
        return eager_thetas(drift, params, theta0, keys)[0], read(drift, params, pops, theta0, 119)

    eager, lazy = (np.asarray(x) for x in run())
    norms = np.linalg.norm(np.asarray(theta0), axis=-1)
    np.testing.assert_allclose(np.linalg.norm(lazy, axis=-1), norms, rtol=1e-5)
    if plane == "first":  # deterministic: the eager values
        np.testing.assert_allclose(lazy, eager[119], rtol=1e-5, atol=1e-6)
    else:  # in d = 2 every plane is the whole space: a rotation by +-1.2 rad
        angle = np.arctan2(lazy[:, 1], lazy[:, 0]) - np.arctan2(theta0[:, 1], theta0[:, 0])
        np.testing.assert_allclose(np.abs(np.cos(angle)), np.cos(1.2), atol=1e-4)


@pytest.mark.parametrize("name", ["stationary", "endogenous", "boredom", "rotting"])
def test_consumption_processes_lazy_equal_eager(name):
    """Driven by the same consumptions, the lazy population equals the eager one at every
    step (these processes have no randomness)."""
    drift = D.make(name)
    params = drift.default_params()
    if name == "endogenous":
        params = params.replace(rate=0.3)
    if name == "boredom":
        params = params.replace(rate=0.5, recovery=0.1)
    if name == "rotting":
        params = params.replace(rate=0.2)
    num_rows, dim, num_steps = 6, 3, 120
    rng = np.random.default_rng(0)
    rows = jnp.asarray(rng.integers(0, num_rows, num_steps), jnp.int32)
    targets = jnp.asarray(rng.normal(size=(num_steps, dim)), jnp.float32)
    weights = jnp.asarray(rng.integers(0, 2, num_steps), jnp.float32)
    theta0 = jnp.asarray(rng.normal(size=(num_rows, dim)), jnp.float32)
    keys = step_keys(5, num_steps)
    everyone = jnp.arange(num_rows)

    @jax.jit
    def run():
        state = drift.init(jax.random.key(0), theta0, params)
        pop = drift.population_init(jax.random.key(0), params, num_rows, dim)

        def body(carry, inputs):
            state, pop = carry
            key, row, target, weight = inputs
            state = drift.step_row(key, state, params, row, target, weight)
            current = drift.population_rows(pop, params, row[None], theta0[row][None])[0]
            pop = drift.population_step(key, pop, params, row, current, target, weight)
            return (state, pop), (state.theta, drift.population_rows(pop, params, everyone, theta0))

        return jax.lax.scan(body, (state, pop), (keys, rows, targets, weights))[1]

    eager, lazy = run()
    np.testing.assert_allclose(np.asarray(lazy), np.asarray(eager), rtol=2e-5, atol=2e-6)
    assert not np.allclose(np.asarray(eager[-1]), np.asarray(theta0)) or name == "stationary"


# ---------------------------------------------------------------------------- drifting_users


def users_env(drift="random_walk", **static):
    fields = {"num_users": 40, "num_items": 60, "num_candidates": 5, "dim": 4, "drift": drift}
    return simulator.make("drifting_users", **{**fields, **static})


def forced_eager(env):
    """``env`` with its drift process stripped of the lazy form (as a plugin's would be)."""
    process = env.drift_process
    eager_type = type("Eager" + type(process).__name__, (type(process),), {"lazy": False})
    values = {f.name: getattr(process, f.name) for f in dataclasses.fields(process)}
    eager = dataclasses.replace(env)
    object.__setattr__(eager, "drift_process", eager_type(**values))
    assert env.lazy and not eager.lazy
    return eager


def rollout(env, params, key, actions):
    state, timestep = env.reset(jax.random.fold_in(key, 10**6), params)

    def body(carry, inputs):
        t, action = inputs
        carry = env.step(jax.random.fold_in(key, t), carry[0], action, params)
        return carry, carry

    _, (states, timesteps) = jax.lax.scan(
        body, (state, timestep), (jnp.arange(actions.shape[0]), actions)
    )
    return states, timesteps


@pytest.mark.parametrize(
    ("drift", "options", "knobs"),
    [
        # boredom, rotting and rotation: test_consumption_processes_lazy_equal_eager and
        # test_rotation_lazy check their lazy forms (each environment compiles 2 programs)
        ("endogenous", (), {"rate": 0.3}),
        ("abrupt", (("redraw", "negate"),), {"hazard": 0.02}),
    ],
)
def test_lazy_environment_equals_the_eager_one(drift, options, knobs):
    """For the deterministic processes the lazy environment and the eager fallback give
    the same rounds: same users, candidates, clicks, oracle and features."""
    env = users_env(drift, drift_options=options, user_features="current")
    params = env.default_params()
    params = params.replace(drift=params.drift.replace(**knobs))
    actions = jnp.asarray(np.random.default_rng(1).integers(0, 5, 150), jnp.int32)
    key = jax.random.key(11)
    lazy = jax.jit(lambda: rollout(env, params, key, actions)[1])()
    eager = jax.jit(lambda: rollout(forced_eager(env), params, key, actions)[1])()
    np.testing.assert_array_equal(np.asarray(lazy.context.user_id), eager.context.user_id)
    np.testing.assert_array_equal(np.asarray(lazy.reward), np.asarray(eager.reward))
    for a, b in zip(jax.tree.leaves(lazy), jax.tree.leaves(eager)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_eager_fallback_random_walk_moves_everyone():
    env = forced_eager(users_env("random_walk", num_users=30))
    params = env.default_params()
    states, _ = jax.jit(
        lambda: rollout(env, params, jax.random.key(2), jnp.zeros((80,), jnp.int32))
    )()
    assert states.prefs.theta.shape == (80, 30, 4)
    steps = np.diff(np.asarray(states.prefs.theta), axis=0)
    assert steps.std() == pytest.approx(0.01, rel=0.1)


def test_random_walk_users_in_the_environment_have_the_eager_law():
    """All U users read after T rounds: theta_T - theta_0 ~ N(0, rate^2 T) per entry."""
    env = users_env("random_walk", num_users=3000, num_items=3000)
    params = env.default_params()
    params = params.replace(drift=params.drift.replace(rate=0.05))
    actions = jnp.zeros((400,), jnp.int32)
    states, _ = jax.jit(lambda: rollout(env, params, jax.random.key(3), actions))()
    last = jax.tree.map(lambda x: x[-1], states)
    users = jnp.arange(3000)
    moved = np.asarray(
        env.current_preferences(last, params, users) - env.initial_preferences(last, params, users)
    )
    assert moved.var() == pytest.approx(0.05**2 * 400, rel=0.05)
    reference = np.random.default_rng(0).normal(0.0, 0.05 * 20, moved.size)
    assert ks_2samp(moved, reference)[1] > 1e-4


@pytest.mark.parametrize(
    ("drift", "options"),
    [
        # mean_reverting shares the random walk's AR(1) path; rotation, like periodic, is a
        # function of t
        ("random_walk", ()),
        ("abrupt", (("redraw", "uniform"),)),
        ("periodic", ()),
    ],
)
def test_exogenous_drift_common_random_numbers(drift, options):
    """Two agents that recommend differently meet the same preferences at the same time."""
    env = users_env(drift, drift_options=options)
    params = env.default_params()
    if drift == "abrupt":
        params = params.replace(drift=params.drift.replace(hazard=0.05))
    key = jax.random.key(8)
    a1 = jnp.zeros((120,), jnp.int32)
    a2 = jnp.asarray(np.random.default_rng(2).integers(0, 5, 120), jnp.int32)
    run = jax.jit(lambda a: rollout(env, params, key, a))
    (s1, t1), (s2, t2) = run(a1), run(a2)
    assert not np.array_equal(np.asarray(t1.reward), np.asarray(t2.reward))
    np.testing.assert_array_equal(
        np.asarray(t1.oracle.true_param), np.asarray(t2.oracle.true_param)
    )
    sample = jnp.arange(0, 40, 7)  # a fixed subsample of users, at every step
    read = jax.jit(jax.vmap(lambda s: env.current_preferences(s, params, sample)))
    np.testing.assert_array_equal(np.asarray(read(s1)), np.asarray(read(s2)))
    assert np.asarray(t1.oracle.change_point).any() == (drift == "abrupt")


def test_current_preferences_are_what_an_arriving_user_meets():
    env = users_env("mean_reverting")
    params = env.default_params()
    states, steps = jax.jit(
        lambda: rollout(env, params, jax.random.key(4), jnp.zeros((60,), jnp.int32))
    )()
    read = jax.vmap(lambda s: env.current_preferences(s, params, s.user))
    np.testing.assert_allclose(
        np.asarray(jax.jit(read)(states)), np.asarray(steps.oracle.true_param), atol=1e-6
    )
    grid = jax.jit(
        jax.vmap(lambda s: env.current_preferences(s, params, jnp.arange(6).reshape(2, 3)))
    )
    assert grid(states).shape == (60, 2, 3, 4)


def state_bytes(env, params):
    state, _ = jax.eval_shape(env.reset, jax.random.key(0), params)
    return sum(
        math.prod(x.shape)
        * (8 if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x.dtype.itemsize)
        for x in jax.tree.leaves(state)
    )


@pytest.mark.parametrize(
    ("drift", "per_user"),
    [
        ("random_walk", 0),
        ("mean_reverting", 0),
        ("abrupt", 0),
        ("periodic", 0),
        ("rotation", 0),
        ("stationary", 0),
        ("endogenous", 4 * 16 + 4),
        ("boredom", 4 * 16 + 4),
        ("rotting", 4),
    ],
)
def test_a_million_users_and_items_hold_no_population_or_catalog(drift, per_user):
    env = simulator.make(
        "drifting_users", num_users=10**6, num_items=10**6, num_candidates=10, dim=16, drift=drift
    )
    size = state_bytes(env, env.default_params())
    assert per_user * 10**6 <= size < per_user * 10**6 + 4096, size


@pytest.mark.parametrize(
    ("num_items", "num_candidates", "kept"),
    [(7, 7, True), (300, 5, True), (20000, 5, False), (20000, 20000, True)],
)
def test_catalog_is_kept_only_when_small_or_whole(num_items, num_candidates, kept):
    """A kept catalog holds the very vectors drawn on demand; a large one is not kept."""
    env = users_env("stationary", num_items=num_items, num_candidates=num_candidates)
    params = env.default_params()
    state, timestep = jax.jit(env.reset)(jax.random.key(1), params)
    assert state.items.shape == ((num_items, 4) if kept else (0, 4))
    ids = jnp.asarray([0, 3, num_items - 1])
    on_demand = env._draw_rows(state.catalog, ids)
    np.testing.assert_allclose(env.item_vectors(state, params, ids), on_demand, atol=1e-6)
    shown = env.item_vectors(state, params, state.candidates)
    np.testing.assert_allclose(timestep.context.arm_features, shown, atol=1e-6)
    assert env.spec.fixed_arms == (num_items == num_candidates)


def test_population_seed_gives_every_run_the_same_users():
    env = users_env("stationary", population_seed=3)
    plain = users_env("stationary")
    params = env.default_params()
    users = jnp.arange(40)

    def initial(env, seed):
        state, _ = env.reset(jax.random.key(seed), params)
        return np.asarray(env.initial_preferences(state, params, users))

    np.testing.assert_array_equal(initial(env, 0), initial(env, 1))
    assert not np.array_equal(initial(plain, 0), initial(plain, 1))
    # the shared share stays a traced knob: w = 1 makes everyone the same user
    one = params.replace(shared_taste=1.0)
    state, _ = env.reset(jax.random.key(0), one)
    same = np.asarray(env.initial_preferences(state, one, users))
    np.testing.assert_allclose(same, np.broadcast_to(same[0], same.shape), atol=1e-6)
    with pytest.raises(ConfigError, match="population_seed"):
        users_env(population_seed=-1)


def test_abrupt_gaussian_scale_is_the_whole_population_rms():
    env = users_env("abrupt", num_users=5000)  # more than one block of 4096 users
    params = env.default_params()
    state, _ = jax.jit(env.reset)(jax.random.key(2), params)
    everyone = np.asarray(env.initial_preferences(state, params, jnp.arange(5000)))
    assert float(state.prefs.scale) == pytest.approx(np.sqrt(np.mean(everyone**2)), rel=1e-5)


def test_raw_uint32_keys_are_accepted():
    env = users_env()
    params = env.default_params()
    _, typed = env.reset(jax.random.key(3), params)
    _, raw = env.reset(jax.random.PRNGKey(3), params)
    for a, b in zip(jax.tree.leaves(typed), jax.tree.leaves(raw)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------------------- sampling


def draws(fn, seed, count):
    keys = jax.random.split(jax.random.key(seed), count)
    return np.asarray(jax.jit(jax.vmap(fn))(keys))


@pytest.mark.parametrize(("num_items", "num_draws"), [(5, 3), (4, 2), (6, 1)])
def test_first_distinct_is_uniform_over_ordered_tuples(num_items, num_draws):
    out = draws(lambda k: first_distinct(k, num_items, num_draws), 0, 30000)
    assert all(len(set(row)) == num_draws for row in out)
    counts = collections.Counter(map(tuple, out))
    tuples = list(itertools.permutations(range(num_items), num_draws))
    assert set(counts) == set(tuples)
    ok, chi2 = chi_square_ok([counts[t] for t in tuples])
    assert ok, chi2


def test_shuffle_is_uniform_over_permutations():
    out = draws(lambda k: shuffle(k, jnp.arange(4)), 4, 24000)
    counts = collections.Counter(map(tuple, out))
    assert len(counts) == 24 and chi_square_ok(list(counts.values()))[0]


@pytest.mark.parametrize(("num_items", "num_draws"), [(5, 3), (7, 2)])
def test_floyd_tiny_case_is_uniform_over_subsets_and_orders(num_items, num_draws):
    out = draws(lambda k: without_replacement(k, num_items, num_draws), 1, 30000)
    subsets = collections.Counter(tuple(sorted(row)) for row in out)
    assert len(subsets) == math.comb(num_items, num_draws)
    assert chi_square_ok(list(subsets.values()))[0]
    orders = collections.Counter(tuple(np.argsort(row)) for row in out)
    assert chi_square_ok(list(orders.values()))[0]


@pytest.mark.parametrize(
    ("num_items", "num_draws"),
    [(1000, 100), (300, 150), (150, 100), (10**6, 10), (5000, 65)],
)
def test_without_replacement_marginal_inclusion(num_items, num_draws):
    """Every item is a candidate with probability K / N (Floyd, first_distinct, top_k)."""
    count = 4000
    out = draws(lambda k: without_replacement(k, num_items, num_draws), 2, count)
    assert out.shape == (count, num_draws) and out.dtype == np.int32
    assert out.min() >= 0 and out.max() < num_items
    assert all(len(set(row)) == num_draws for row in out[:200])
    p = num_draws / num_items
    if num_items > 10**4:  # too many items for per-item counts: the first and last ids
        hits = (out < 1000).sum()
        assert abs(hits - count * num_draws * 1000 / num_items) < 5 * math.sqrt(
            count * num_draws * 1000 / num_items
        )
        return
    inclusion = np.bincount(out.ravel(), minlength=num_items)
    z = (inclusion - count * p) / math.sqrt(count * p * (1 - p))
    assert np.abs(z).max() < 5.0, np.abs(z).max()
    # the first slot is uniform too (a uniformly random order)
    first = np.bincount(out[:, 0], minlength=num_items)
    assert chi_square_ok(first)[0]


def test_large_catalog_has_no_float32_rounding_bias():
    """N = 3 * 2^21 items: scaling a float32 uniform (2^23 values) would make one id in
    three twice as likely; integer draws give each residue mod 3 a third."""
    out = draws(lambda k: without_replacement(k, 3 * 2**21, 1)[0], 3, 30000)
    shares = np.bincount(out % 3, minlength=3) / out.size
    np.testing.assert_allclose(shares, 1 / 3, atol=0.015)


def largest_array(fn, *args):
    """The largest number of elements of an array in ``fn``'s lowered program."""
    text = jax.jit(fn).lower(*args).as_text()
    shapes = re.findall(r"tensor<((?:\d+x)+)[a-z]", text)
    return max(math.prod(int(n) for n in shape.rstrip("x").split("x")) for shape in shapes)


@pytest.mark.parametrize("num_draws", [10, 200])
def test_candidate_work_does_not_grow_with_the_catalog(num_draws):
    key = jax.random.key(0)
    sizes = [
        largest_array(lambda k, n=n: without_replacement(k, n, num_draws), key)
        for n in (10**3, 10**9)
    ]
    assert max(sizes) <= 2 * num_draws + 64, sizes  # about K, never N


def test_a_drifting_users_step_does_not_grow_with_users_or_items():
    def step_size(size):
        env = simulator.make(
            "drifting_users", num_users=size, num_items=size, dim=16, drift="random_walk"
        )
        params = env.default_params()
        state, _ = jax.eval_shape(env.reset, jax.random.key(0), params)
        return largest_array(lambda s: env.step(jax.random.key(1), s, jnp.int32(0), params), state)

    assert step_size(10**5) == step_size(10**8) < 4096  # catalogs too large to keep
