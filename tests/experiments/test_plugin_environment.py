"""A plugin environment that declares its capabilities only through its spec goes through
the runner, the statistics, the figures and the off-policy estimators with no change to
driftsim: nothing asks for its class, its registry name or an attribute beyond the
contract."""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

import experiments
import simulator
from simulator import capabilities
from simulator.params import knob


@flax.struct.dataclass
class CoinParams:
    p: float = knob(0.7, low=0.0, high=1.0, doc="click probability of the last arm")


@dataclasses.dataclass(frozen=True)
class Coins(simulator.Environment):
    """K coins; coin a clicks with probability p * (a + 1) / K (one uniform per round)."""

    num_arms: int = 3

    @property
    def spec(self):
        return simulator.EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=0,
            reward=capabilities.clicks(),
            fixed_arms=True,
            param_link="identity",
        )

    def default_params(self):
        return CoinParams()

    def _means(self, params):
        return params.p * jnp.arange(1, self.num_arms + 1, dtype=jnp.float32) / self.num_arms

    def _timestep(self, params, reward):
        means = self._means(params)
        oracle = simulator.make_oracle(means, true_param=means)
        return simulator.make_timestep(simulator.empty_context(self.num_arms), reward, oracle)

    def reset(self, key, params):
        return jnp.zeros(()), self._timestep(params, 0.0)

    def step(self, key, state, action, params):
        reward = jax.random.uniform(key) < self._means(params)[action]
        return state, self._timestep(params, reward)


simulator.register("coins_plugin_for_test", Coins, replace=True)


def test_runner_statistics_and_figures_read_the_declared_spec(tmp_path):
    experiment = {
        "name": "coins",
        "env": {"name": "coins_plugin_for_test", "num_arms": 3},
        "agents": [{"label": "ucb", "name": "ucb"}, {"label": "ts", "name": "thompson"}],
        "num_seeds": 4,
        "num_steps": 60,
        "figures": ["regret", "regret_log", "optimal"],
    }
    results = experiments.run(experiment, out=tmp_path)
    for label in ("ucb", "ts"):
        r = results[label]
        # fixed arms declared: the hindsight regret is logged and equals the pseudo-regret
        # (means never change)
        np.testing.assert_allclose(r.hindsight_regret, r.regret, atol=1e-6)
    rows = experiments.load(tmp_path).summary
    assert all("ctr" in row and "final_hindsight_regret" in row for row in rows)  # clicks
    stored = experiments.load(tmp_path).config["capabilities"]
    assert stored["env"]["reward"]["kind"] == "click" and stored["env"]["fixed_arms"]
    assert stored["agents"]["ts"]["needs"]["reward_range"] == [0.0, 1.0]
    for name in ("regret", "regret_log", "optimal"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_off_policy_estimators_on_the_plugin_environment():
    results = experiments.run(
        {
            "kind": "ope",
            "num_seeds": 4,
            "num_steps": 200,
            "env": {"name": "coins_plugin_for_test", "num_arms": 3},
            "log": {
                "source": "simulate",
                "agent": {"name": "epsilon_greedy", "epsilon": 0.5},
                "propensity": "exact",
                "estimators": ["ips", "snips"],
                "num_bootstrap": 20,
            },
            "agents": [{"label": "random", "name": "random"}],
        }
    )
    truth = 0.7 * (1 + 2 + 3) / 9  # the uniform target's value on the declared means
    assert {row["estimator"] for row in results.summary} == {"ips", "snips"}
    for row in results.summary:
        assert abs(row["truth"] - truth) < 1e-5
        assert abs(row["estimate"] - truth) < 0.1 and row["low"] < row["high"]
