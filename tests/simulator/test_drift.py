"""Drift processes: closed forms, statistics, zero-knob stationarity, row steps, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simulator import drift as D
from simulator.params import ConfigError, check

THETA0 = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)), jnp.float32)

# Every process and static variant, with the knobs that switch its drift off.
ZERO_KNOBS = {
    ("stationary", ()): {},
    ("random_walk", ()): {"rate": 0.0},
    ("mean_reverting", ()): {"rate": 0.0, "reversion": 0.3},
    ("abrupt", (("redraw", "gaussian"),)): {"hazard": 0.0, "period": 0.0},
    ("abrupt", (("redraw", "uniform"),)): {"hazard": 0.0, "period": 0.0},
    ("abrupt", (("redraw", "negate"),)): {"hazard": 0.0, "period": 0.0},
    ("periodic", ()): {"amplitude": 0.0, "period": 7.0},
    ("rotation", ()): {"speed": 0.0},
    ("rotation", (("plane", "first"),)): {"speed": 0.0},
    ("endogenous", ()): {"rate": 0.0},
    ("boredom", ()): {"rate": 0.0, "recovery": 0.2},
    ("rotting", ()): {"rate": 0.0},
    ("interest", ()): {"rate": 0.0},
}


def trajectory(drift, params, theta0, num_steps, key=None, consumed=None):
    """``(initial state, states after steps 1..num_steps)``; ``consumed`` is None, targets
    ``(num_steps, ...)`` (mask 1) or a Consumption with a leading time axis."""
    key = jax.random.key(0) if key is None else key
    state = drift.init(jax.random.fold_in(key, 12345), theta0, params)

    def body(state, inputs):
        t, c = inputs
        state = drift.step(jax.random.fold_in(key, t), state, params, c)
        return state, state

    _, states = jax.lax.scan(body, state, (jnp.arange(num_steps), consumed))
    return state, states


def test_every_process_is_registered_and_starts_at_theta0():
    assert set(D.names()) == {
        "stationary",
        "random_walk",
        "mean_reverting",
        "abrupt",
        "periodic",
        "rotation",
        "endogenous",
        "boredom",
        "rotting",
        "interest",
    }
    assert {name for name, _ in ZERO_KNOBS} == set(D.names())


def test_zero_knobs_leave_every_process_exactly_stationary():
    targets = jax.random.normal(jax.random.key(3), (40,) + THETA0.shape)
    consumed = D.Consumption(targets, jnp.ones((40, 3, 1)))

    @jax.jit
    def run_all():
        out = {}
        for (name, options), knobs in ZERO_KNOBS.items():
            drift = D.make(name, **dict(options))
            params = drift.default_params().replace(**knobs)
            init, states = trajectory(drift, params, THETA0, 40, consumed=consumed)
            out[f"{name}{options}"] = (init.theta, states.theta, states.change_point)
        return out

    for label, (init_theta, thetas, flags) in run_all().items():
        np.testing.assert_array_equal(np.asarray(init_theta), np.asarray(THETA0), err_msg=label)
        np.testing.assert_array_equal(
            np.asarray(thetas), np.broadcast_to(np.asarray(THETA0), thetas.shape), err_msg=label
        )
        assert not np.any(np.asarray(flags)), label


@jax.jit
def _random_walk_and_ou():
    theta0 = jnp.zeros((20000,), jnp.float32)
    walk = D.make("random_walk")
    _, walk_states = trajectory(walk, D.RandomWalkParams(rate=0.1), theta0, 100)
    ou = D.make("mean_reverting")
    ou_params = D.MeanRevertingParams(rate=0.2, reversion=0.1)
    _, ou_states = trajectory(ou, ou_params, theta0 + 1.0, 200)
    return walk_states.theta, ou_states.theta


def test_random_walk_variance_grows_linearly():
    # Var(theta_t - theta_0) = rate^2 t; 20000 entries: relative s.e. of a variance 1%.
    walk, _ = _random_walk_and_ou()
    for t in (1, 25, 100):
        var = float(np.var(np.asarray(walk[t - 1])))
        assert var == pytest.approx(0.01 * t, rel=0.05), t


def test_mean_reverting_variance_closed_form():
    # theta_t - anchor = a (theta_{t-1} - anchor) + rate z, a = 1 - reversion:
    # Var_t = rate^2 (1 - a^(2t)) / (1 - a^2) -> rate^2 / (1 - a^2) = 0.04 / 0.19.
    _, ou = _random_walk_and_ou()
    a = 0.9
    for t in (5, 200):
        expected = 0.04 * (1 - a ** (2 * t)) / (1 - a**2)
        gap = np.asarray(ou[t - 1]) - 1.0
        assert np.var(gap) == pytest.approx(expected, rel=0.05), t
        assert abs(np.mean(gap)) < 5 * np.sqrt(expected / gap.size)


def test_abrupt_scheduled_changes_negate_and_flag():
    drift = D.make("abrupt", redraw="negate")
    params = D.AbruptParams(hazard=0.0, period=10.0)
    _, states = jax.jit(lambda: trajectory(drift, params, THETA0, 35))()
    t = np.arange(1, 36)
    np.testing.assert_array_equal(np.asarray(states.change_point), t % 10 == 0)
    signs = (-1.0) ** (t // 10)
    np.testing.assert_array_equal(
        np.asarray(states.theta), signs[:, None, None] * np.asarray(THETA0)[None]
    )
    np.testing.assert_array_equal(np.asarray(states.t), t)


def test_abrupt_random_times_and_redraws():
    theta0 = jnp.linspace(0.0, 1.0, 64)

    @jax.jit
    def run():
        out = {}
        for redraw in ("gaussian", "uniform"):
            drift = D.make("abrupt", redraw=redraw)
            _, states = trajectory(drift, D.AbruptParams(hazard=0.05, period=0.0), theta0, 4000)
            out[redraw] = states
        return out

    out = run()
    for redraw, states in out.items():
        flags = np.asarray(states.change_point)
        # Binomial(4000, 0.05): mean 200, sd 13.8; 5 sd tolerance.
        assert abs(flags.sum() - 200) < 70, redraw
        thetas = np.asarray(states.theta)
        moved = np.any(thetas[1:] != thetas[:-1], axis=1)
        np.testing.assert_array_equal(moved, flags[1:])
    uniform = np.asarray(out["uniform"].theta)[np.asarray(out["uniform"].change_point)]
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert np.mean(uniform) == pytest.approx(0.5, abs=0.02)
    gaussian = np.asarray(out["gaussian"].theta)[np.asarray(out["gaussian"].change_point)]
    rms = float(np.sqrt(np.mean(np.square(np.asarray(theta0)))))
    assert np.std(gaussian) == pytest.approx(rms, rel=0.05)
    assert abs(np.mean(gaussian)) < 0.02


def test_periodic_closed_form_and_return():
    drift = D.make("periodic")
    params = D.PeriodicParams(amplitude=0.3, period=8.0)
    init, states = jax.jit(lambda: trajectory(drift, params, THETA0, 16))()
    phase = np.asarray(init.extra)
    assert phase.shape == THETA0.shape and phase.min() >= 0 and phase.max() <= 2 * np.pi
    t = np.arange(1, 17)[:, None, None]
    expected = np.asarray(THETA0) + 0.3 * (np.sin(2 * np.pi * t / 8 + phase) - np.sin(phase))
    np.testing.assert_allclose(np.asarray(states.theta), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(states.theta[7]), np.asarray(THETA0), atol=1e-6)


def test_rotation_first_plane_and_random_plane_preserve_norms():
    theta0 = jnp.asarray([[1.0, 0.0, 0.5], [0.0, 2.0, -1.0]])

    @jax.jit
    def run():
        first = D.make("rotation", plane="first")
        _, s_first = trajectory(first, D.RotationParams(speed=0.1), theta0, 20)
        rand = D.make("rotation")
        init, s_rand = trajectory(rand, D.RotationParams(speed=0.05), THETA0, 20)
        return s_first.theta, init.extra, s_rand.theta

    first, plane, rand = run()
    angle = 0.1 * np.arange(1, 21)
    np.testing.assert_allclose(np.asarray(first[:, 0, 0]), np.cos(angle), atol=1e-5)
    np.testing.assert_allclose(np.asarray(first[:, 0, 1]), np.sin(angle), atol=1e-5)
    np.testing.assert_allclose(np.asarray(first[:, 1, 0]), -2 * np.sin(angle), atol=1e-5)
    np.testing.assert_allclose(np.asarray(first[:, :, 2]), [[0.5, -1.0]] * 20, atol=1e-6)
    plane = np.asarray(plane)
    np.testing.assert_allclose(plane @ plane.T, np.eye(2), atol=1e-5)
    norms = np.linalg.norm(np.asarray(rand), axis=-1)
    np.testing.assert_allclose(
        norms, np.broadcast_to(np.linalg.norm(THETA0, axis=-1), norms.shape), rtol=1e-5
    )


def test_endogenous_boredom_rotting_against_numpy():
    rng = np.random.default_rng(1)
    num_steps = 30
    targets = rng.normal(size=(num_steps, 3, 4)).astype(np.float32)
    rows = rng.integers(0, 3, size=num_steps)
    masks = (np.arange(3)[None, :] == rows[:, None]).astype(np.float32)[..., None]
    masks *= rng.integers(0, 2, size=(num_steps, 1, 1))  # some steps consume nothing
    consumed = D.Consumption(jnp.asarray(targets), jnp.asarray(masks))
    p_endo = D.EndogenousParams(rate=0.2)
    p_bore = D.BoredomParams(rate=0.3, recovery=0.1)
    p_rot = D.RottingParams(rate=0.05)

    @jax.jit
    def run():
        out = []
        for name, params in (("endogenous", p_endo), ("boredom", p_bore), ("rotting", p_rot)):
            _, states = trajectory(D.make(name), params, THETA0, num_steps, consumed=consumed)
            out.append(states.theta)
        return out

    endo, bore, rot = (np.asarray(x) for x in run())
    theta = np.asarray(THETA0, np.float64).copy()
    satiation = np.zeros_like(theta)
    counts = np.zeros_like(theta)
    for t in range(num_steps):
        m, c = masks[t], targets[t]
        theta = theta + 0.2 * m * (c - theta)
        satiation = 0.9 * (satiation + m * c)
        counts = counts + m
        np.testing.assert_allclose(endo[t], theta, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(bore[t], np.asarray(THETA0) - 0.3 * satiation, atol=1e-5)
        np.testing.assert_allclose(rot[t], np.asarray(THETA0) * 0.95**counts, rtol=1e-5)


@pytest.mark.parametrize("name", ["stationary", "endogenous", "rotting", "boredom", "random_walk"])
def test_step_row_equals_dense_step(name):
    drift = D.make(name)
    params = drift.default_params()
    state = drift.init(jax.random.key(0), THETA0, params)
    target = jnp.asarray([0.5, -1.0, 2.0, 0.0])
    key = jax.random.key(4)

    def both(state):
        row = drift.step_row(key, state, params, 1, target, 1.0)
        full = state.theta.at[1].set(target)
        mask = jnp.asarray([[0.0], [1.0], [0.0]])
        dense = drift.step(key, state, params, D.Consumption(full, mask))
        return row, dense

    both = jax.jit(both)
    for _ in range(3):
        row, dense = both(state)
        for a, b in zip(row, dense):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
        state = row
    assert drift.row_local == (name in ("stationary", "endogenous", "rotting"))


def test_exogenous_drift_ignores_consumption_and_depends_on_key_only():
    drift = D.make("random_walk")
    params = drift.default_params()

    @jax.jit
    def run(consumed, key):
        return trajectory(drift, params, THETA0, 20, key=key, consumed=consumed)[1].theta

    c1 = jax.random.normal(jax.random.key(1), (20,) + THETA0.shape)
    c2 = jax.random.normal(jax.random.key(2), (20,) + THETA0.shape)
    same = run(c1, jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(same), np.asarray(run(c2, jax.random.key(7))))
    assert not np.array_equal(np.asarray(same), np.asarray(run(c1, jax.random.key(8))))


def test_knobs_are_traced_and_sweepable():
    drift = D.make("random_walk")
    rates = jnp.asarray([0.0, 0.1, 1.0])

    def final(rate):
        _, states = trajectory(drift, D.RandomWalkParams(rate=rate), jnp.zeros((500,)), 10)
        return jnp.std(states.theta[-1])

    stds = np.asarray(jax.jit(jax.vmap(final))(rates))
    assert stds[0] == 0.0
    np.testing.assert_allclose(stds[1:], np.asarray([0.1, 1.0]) * np.sqrt(10), rtol=0.15)


def test_bad_input():
    with pytest.raises(ConfigError, match="allowed: abrupt, boredom"):
        D.build("brownian")
    with pytest.raises(ConfigError, match=r"env.drift.rate = -0.1: must be >= 0"):
        check(D.RandomWalkParams(rate=-0.1), "env.drift")
    with pytest.raises(ConfigError, match="env.drift.reversion"):
        check(D.MeanRevertingParams(reversion=1.5), "env.drift")
    with pytest.raises(ConfigError, match="redraw"):
        D.build("abrupt", (("redraw", "shuffle"),))
    with pytest.raises(ConfigError, match="no static field 'speed'"):
        D.build("rotation", {"speed": 1.0})
    with pytest.raises(ConfigError, match="last axis"):
        D.make("rotation").init(jax.random.key(0), jnp.zeros((5, 1)), D.RotationParams())
