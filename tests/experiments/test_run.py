"""The executor: results API, common random numbers, chunking, resume, devices, divergence."""

import dataclasses
import json
import os
import subprocess
import sys

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import experiments
import simulator
from experiments import execute
from experiments.api import run
from experiments.runner import make_run
from experiments.schema import ConfigError, from_dict
from simulator.bandits import BernoulliBandit
from simulator.params import knob

BASE = {
    "name": "small",
    "num_seeds": 3,
    "num_steps": 40,
    "seed": 5,
    "figures": ["regret"],
    "env": {"name": "bernoulli", "num_arms": 4},
    "agents": [{"label": "greedy", "name": "epsilon_greedy", "epsilon": 0.1}],
}


def experiment(**overrides):
    data = json.loads(json.dumps(BASE))
    data.update(overrides)
    return from_dict(data)


def test_results_match_make_run_and_round_trip(tmp_path):
    sweep = {"mode": "grid", "agent.epsilon": [0.0, 0.5]}
    results = run(experiment(sweep=sweep), out=tmp_path / "r", figures=False)
    r = results["greedy"]
    assert r.reward.shape == (2, 3, 40) and r.diverged.shape == (2, 3)
    assert r.points == [{"agent.epsilon": 0.0}, {"agent.epsilon": 0.5}]
    np.testing.assert_array_equal(results.steps, np.arange(1, 41))

    env = experiments.plan.build_env("bernoulli", {"num_arms": 4})[0]
    agent = agents.make("epsilon_greedy", num_arms=4)
    hp = agent.default_hparams().replace(epsilon=0.5)
    keys = execute.seed_keys(5, 3)
    log = jax.vmap(make_run(env, agent, 40), in_axes=(0, None, None))(
        keys, env.default_params(), hp
    )
    np.testing.assert_allclose(r.reward[1], log.reward)
    np.testing.assert_allclose(r.regret[1], log.regret)

    loaded = experiments.load(tmp_path / "r")
    assert loaded.agents == ["greedy"]
    np.testing.assert_array_equal(loaded["greedy"].regret, r.regret)
    assert loaded["greedy"].points == r.points
    assert loaded.config["num_seeds"] == 3 and loaded.config["versions"]["jax"]
    assert (tmp_path / "r" / "summary.csv").read_text().count("\n") == 3
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "metrics.npz", "summary.csv"):  # shared like any file
        assert (tmp_path / "r" / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_common_random_numbers_across_agents_and_points():
    data = dict(agents=[{"label": "a", "name": "random"}, {"label": "b", "name": "random"}])
    env = {"name": "testbed", "num_arms": 4}
    results = run(experiment(**data, env=env, sweep={"env.noise": [1.0, 2.0]}), figures=False)
    np.testing.assert_array_equal(results["a"].reward, results["b"].reward)
    # Same seeds at every point: same arms drawn, same actions, so the same regret.
    np.testing.assert_array_equal(results["a"].regret[0], results["a"].regret[1])
    assert not np.array_equal(results["a"].reward[0], results["a"].reward[1])
    assert not np.array_equal(results["a"].regret[:, 0], results["a"].regret[:, 1])


def test_chunking_and_recording_do_not_change_numbers():
    whole = run(experiment(), figures=False)["greedy"]
    chunked = run(experiment(chunk_size=8), figures=False)["greedy"]
    np.testing.assert_array_equal(whole.reward, chunked.reward)
    coarse = run(experiment(chunk_size=20, record_every=10), figures=False)["greedy"]
    np.testing.assert_allclose(coarse.regret, whole.regret.reshape(1, 3, 4, 10).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(
        coarse.cumulative_regret()[..., -1], whole.cumulative_regret()[..., -1], rtol=1e-5
    )


def test_resume_after_interrupt_equals_uninterrupted(tmp_path, monkeypatch):
    out = tmp_path / "interrupted"
    # The delay wrapper keeps typed PRNG keys in its buffer: they must survive a checkpoint.
    delayed = [
        {"label": "greedy", "name": "epsilon_greedy", "wrappers": [{"name": "delay", "every": 3}]}
    ]
    reference = run(experiment(chunk_size=10, agents=delayed), figures=False)
    calls = []

    def interrupt(self, label, steps, runs):
        calls.append(steps)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(execute.Progress, "tick", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(experiment(chunk_size=10, agents=delayed), out=out, figures=False)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="not a complete results folder"):
        experiments.load(out)
    resumed = run(None, out=out, resume=True, figures=False)
    np.testing.assert_array_equal(resumed["greedy"].reward, reference["greedy"].reward)
    assert not (out / "checkpoint").exists()
    assert experiments.load(out).agents == ["greedy"]


def test_sharded_over_four_cpu_devices_equals_one_device(tmp_path):
    script = (
        "import json, sys, numpy as np, jax; from experiments.api import run;"
        "from tests.experiments.test_run import experiment;"
        "r = run(experiment(num_seeds=6), figures=False)['greedy'];"
        "print(json.dumps({'n': jax.device_count(), 'reward': r.reward.tolist()}))"
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    sharded = json.loads(result.stdout.strip().splitlines()[-1])
    assert sharded["n"] == 4
    single = run(experiment(num_seeds=6), figures=False)["greedy"]
    np.testing.assert_allclose(np.asarray(sharded["reward"]), single.reward, rtol=1e-6)


@flax.struct.dataclass
class FragileParams:
    blow_up: float = knob(0.0, low=0.0, doc="rewards are NaN when above 1")


@dataclasses.dataclass(frozen=True)
class FragileBandit(BernoulliBandit):
    """A user-registered environment whose rewards are NaN when ``blow_up > 1``."""

    def default_params(self):
        return FragileParams()

    def step(self, key, state, action, params):
        state, timestep = super().step(key, state, action, params)
        bad = jnp.where(params.blow_up > 1.0, jnp.nan, 0.0)
        return state, timestep._replace(reward=timestep.reward + bad)


def test_diverged_runs_are_flagged_and_do_not_poison_other_points():
    simulator.register("fragile_test_env", FragileBandit, replace=True)
    try:
        data = dict(env={"name": "fragile_test_env", "num_arms": 4})
        swept = run(experiment(**data, sweep={"env.blow_up": [0.5, 2.0]}), figures=False)["greedy"]
        alone = run(experiment(**data), figures=False)["greedy"]
    finally:
        simulator.REGISTRY._factories.pop("fragile_test_env")
        simulator.REGISTRY._meta.pop("fragile_test_env")
    np.testing.assert_array_equal(swept.diverged, [[False] * 3, [True] * 3])
    assert np.isnan(swept.regret[1]).all()
    np.testing.assert_array_equal(swept.reward[0], alone.reward[0])

    metrics = {
        "regret": np.array([[[0.1, 0.2], [np.inf, 0.0]], [[0.3, 1e30], [0.1, 0.1]]], np.float32)
    }
    diverged = experiments.api.mark_diverged(metrics)
    np.testing.assert_array_equal(diverged, [[False, True], [True, False]])
    assert np.isnan(metrics["regret"][0, 1]).all() and np.isfinite(metrics["regret"][0, 0]).all()


def test_point_batching_equals_one_vectorised_batch(monkeypatch):
    sweep = {"mode": "grid", "agent.epsilon": [0.0, 0.1, 0.2, 0.3, 0.4]}
    whole = run(experiment(sweep=sweep), figures=False)["greedy"]
    monkeypatch.setattr(execute, "MAX_LANES", 6)  # 2 points of 3 seeds per batch
    assert execute.point_batch_size(5, 3) == 2
    batched = run(experiment(sweep=sweep), figures=False)["greedy"]
    np.testing.assert_array_equal(whole.reward, batched.reward)


def test_tracking_error_is_logged_for_agents_with_an_estimate():
    data = dict(
        env={"name": "regression_stream", "context_dim": 4},
        agents=[{"label": "sgd", "name": "ogd", "optimizer": "sgd", "learning_rate": 0.05}],
    )
    r = run(experiment(**data, num_steps=400), figures=False)["sgd"]
    error = r.param_error[0]
    assert error.shape == (3, 400)
    # The learner starts at theta = 0, so the first error is ||theta*||; it then shrinks.
    assert np.all(error[:, -50:].mean(-1) < 0.5 * error[:, 0])


def test_loss_blow_up_counts_as_diverged():
    rng = np.random.default_rng(0)
    healthy = rng.chisquare(1, size=(1, 2, 200)).astype(np.float32)
    exploding = healthy.copy()
    exploding[0, 1, 100:] *= 1e5
    np.testing.assert_array_equal(experiments.api.loss_blew_up(healthy), [[False, False]])
    np.testing.assert_array_equal(experiments.api.loss_blew_up(exploding), [[False, True]])


def test_leaves_equal_across_runs_enter_the_chunk_unbatched():
    carry = {
        "counter": jnp.zeros((2, 3), jnp.int32),
        "values": jnp.arange(6.0).reshape(2, 3, 1),
        "empty": jnp.zeros((2, 3, 0)),
        "key": jax.random.split(jax.random.key(0), 6).reshape(2, 3),
    }
    mask = execute.shared_leaves_mask(carry)
    flags = dict(zip(sorted(carry), mask))  # dict leaves flatten in sorted key order
    assert flags == {"counter": True, "empty": True, "key": False, "values": False}


def test_a_list_for_a_scalar_field_is_an_error_naming_the_field():
    bad = experiment(agents=[{"label": "greedy", "name": "epsilon_greedy", "epsilon": [0.1, 0.2]}])
    with pytest.raises(ConfigError, match=r"epsilon: must be a single value, got 2 values"):
        run(bad, figures=False)
