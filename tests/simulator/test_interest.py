"""The ``interest`` drift (Jiang et al. 2019; Khritankov & Pilkevich 2021) against numpy,
its exposure contract, and the users' one-hot items and logit noise."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import simulator
from simulator import drift as D
from simulator.params import ConfigError


def numpy_react(theta, items, clicks, seen, delta, coins, fresh, params):
    """The interest update written item by item from the docstring (``delta``, ``coins``,
    ``fresh``: the uniform draws, ``delta`` in [0, 1), ``fresh`` in [-1, 1))."""
    theta = np.array(theta, np.float64)
    items = np.asarray(items, np.float64)
    start = theta.copy()
    for j, v in enumerate(items):  # every position moves from the round's theta
        theta += seen[j] * params["rate"] * delta[j] * (2 * clicks[j] - 1) * v
    moved = theta.copy()
    for j, v in enumerate(items):
        if seen[j] and coins[j] < params["reset"]:
            interest = v @ moved
            target = params["reset_scale"] * interest + (1 - params["reset_scale"]) * (
                params["reset_range"] * fresh[j]
            )
            theta += (target - interest) * v / (v @ v)
    assert start.shape == theta.shape
    return theta


def draws(key, k):
    key_step, key_coin, key_fresh = jax.random.split(key, 3)
    return (
        np.asarray(jax.random.uniform(key_step, (k,))),
        np.asarray(jax.random.uniform(key_coin, (k,))),
        np.asarray(jax.random.uniform(key_fresh, (k,), jnp.float32, -1.0, 1.0)),
    )


@pytest.mark.parametrize("one_hot", [True, False])
def test_react_matches_numpy_with_and_without_resets(one_hot):
    rng = np.random.default_rng(0)
    d, k = 6, 3
    items = np.eye(d)[[4, 1, 2]] if one_hot else rng.normal(size=(k, d)) / np.sqrt(d)
    theta = rng.normal(size=d)
    clicks = np.array([1.0, 0.0, 1.0])
    seen = np.array([1.0, 1.0, 0.0])  # the third position was not examined
    drift = D.make("interest")
    for reset in (0.0, 0.5, 1.0):
        params = drift.default_params().replace(rate=0.3, reset=reset, reset_scale=0.25)
        key = jax.random.key(7)
        got = drift.react(
            key,
            jnp.asarray(theta, jnp.float32),
            params,
            D.Exposure(jnp.asarray(items, jnp.float32), jnp.asarray(clicks), jnp.asarray(seen)),
        )
        names = ("rate", "reset", "reset_scale", "reset_range")
        ref = numpy_react(
            theta,
            items,
            clicks,
            seen,
            *draws(key, k),
            {n: float(getattr(params, n)) for n in names},
        )
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-5, atol=1e-6)
        if one_hot:  # untouched interests stay exactly; the unseen third item too
            np.testing.assert_array_equal(
                np.asarray(got)[[0, 2, 3, 5]], theta[[0, 2, 3, 5]].astype(np.float32)
            )
            if reset == 1.0:  # a full reset keeps s of the moved interest
                assert abs(float(got[4]) - theta[4]) < abs(theta[4]) + 0.3


def test_one_hot_steps_are_up_on_clicks_and_down_otherwise():
    drift = D.make("interest")
    params = drift.default_params()
    theta = jnp.zeros(4)
    exposure = D.Exposure(jnp.eye(4)[:2], jnp.array([1.0, 0.0]), jnp.ones(2))
    moved = np.asarray(drift.react(jax.random.key(0), theta, params, exposure))
    assert 0 < moved[0] <= 0.01 and -0.01 <= moved[1] < 0 and moved[2] == moved[3] == 0


def test_lazy_population_equals_the_eager_step_row_by_row():
    drift = D.make("interest")
    params = drift.default_params().replace(rate=0.2, reset=0.3)
    d, num_users = 3, 5
    anchors = jax.random.normal(jax.random.key(1), (num_users, d))
    pop = drift.population_init(jax.random.key(2), params, num_users, d)
    state = drift.init(jax.random.key(2), anchors, params)
    for t in range(6):
        key = jax.random.key(100 + t)
        row = t % 3
        item = jax.random.normal(jax.random.fold_in(key, 9), (d,))
        click = float(t % 2)
        current = drift.population_rows(pop, params, jnp.array([row]), anchors[row][None])[0]
        pop = drift.population_step(
            key, pop, params, row, current, exposure=D.Exposure.of_consumption(item, click)
        )
        mask = (jnp.arange(num_users) == row).astype(jnp.float32)[:, None]
        target = jnp.broadcast_to(item, (num_users, d))
        state = drift.step(key, state, params, D.Consumption(target, mask, click * mask))
    lazy = drift.population_rows(pop, params, jnp.arange(num_users), anchors)
    np.testing.assert_allclose(np.asarray(lazy), np.asarray(state.theta), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(lazy)[3:], np.asarray(anchors)[3:])  # never shown


def test_only_environments_that_pass_exposure_accept_it():
    with pytest.raises(ConfigError, match="env.drift = 'interest'.*drifting_users"):
        simulator.make("slowly_varying_bernoulli", drift="interest")
    simulator.make("drifting_users", drift="interest")


def test_one_hot_items_need_dim_equal_to_the_catalog():
    with pytest.raises(ConfigError, match="one_hot_items.*dim must equal num_items"):
        simulator.make("drifting_users", one_hot_items=True, num_items=10, dim=8)
    env = simulator.make(
        "drifting_users", one_hot_items=True, num_items=6, num_candidates=6, dim=6, num_users=1
    )
    params = env.default_params()
    state, timestep = env.reset(jax.random.key(0), params)
    np.testing.assert_array_equal(
        np.asarray(env.item_vectors(state, params, jnp.arange(6))), np.eye(6)
    )
    prefs = env.current_preferences(state, params, jnp.array([0]))[0]
    expected = 1 / (1 + np.exp(-(params.scale * np.asarray(prefs) + params.bias)))
    np.testing.assert_allclose(np.asarray(timestep.oracle.expected_reward), expected, rtol=1e-6)


def test_logit_noise_is_uniform_on_the_click_logit():
    """The click rate of one item with logit x and noise w is E sigmoid(x + U[-w, w])."""
    env = simulator.make(
        "drifting_users", one_hot_items=True, num_items=2, num_candidates=2, dim=2, num_users=1
    )
    w = 4.0
    params = env.default_params().replace(scale=1.0, bias=0.0, logit_noise=w)
    state, _ = env.reset(jax.random.key(0), params)
    x = float(env.current_preferences(state, params, jnp.array([0]))[0, 0])

    @jax.jit
    def clicks(keys):
        return jax.vmap(lambda k: env.step(k, state, jnp.int32(0), params)[1].reward)(keys)

    rate = float(jnp.mean(clicks(jax.random.split(jax.random.key(1), 40_000))))
    grid = np.linspace(-w, w, 20_001)
    expected = np.mean(1 / (1 + np.exp(-(x + grid))))
    assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / 40_000)
    assert abs(expected - 1 / (1 + np.exp(-x))) > 0.02  # the noise matters at this w
