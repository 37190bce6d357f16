"""The runner's extra metrics and their summaries: the compensated running sums behind the
hindsight regret (against float64 numpy), ``final_hindsight_regret`` and the ``ctr``
column of the summary table."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import simulator
from experiments import stats
from experiments.runner import empty_totals, hindsight_step
from tests.experiments.test_stats import FakeAgentResults, FakeResults, bandit_agent


def test_hindsight_sums_stay_exact_over_a_long_run():
    """2^18 rounds, 4 arms: the compensated float32 sums give ``max_a S_a(t) - sum_s
    mu_s(a_s)`` to 1e-4 at every t (observed 6e-8), where plain float32 running sums
    (numpy, the naive scheme) are off by about 5 -- the check can fail."""
    num_steps, num_arms = 1 << 18, 4
    rng = np.random.default_rng(0)
    mu = (0.2 * rng.random((num_steps, num_arms)) + [0.3, 0.4, 0.45, 0.5]).astype(np.float32)
    actions = rng.integers(0, num_arms, num_steps).astype(np.int32)

    @jax.jit
    def increments(mu, actions):
        def body(totals, inputs):
            return hindsight_step(totals, *inputs)

        return jax.lax.scan(body, empty_totals(num_arms), (mu, actions))[1]

    mu64 = mu.astype(np.float64)
    chosen = mu64[np.arange(num_steps), actions]
    expected = np.cumsum(mu64, axis=0).max(axis=1) - np.cumsum(chosen)
    got = np.cumsum(np.asarray(increments(mu, actions), np.float64))
    assert np.abs(got - expected).max() < 1e-4

    totals32 = np.cumsum(mu, axis=0, dtype=np.float32)  # sequential float32 sums
    naive = (
        np.diff(totals32.max(axis=1), prepend=np.float32(0.0)) - mu[np.arange(num_steps), actions]
    )
    assert np.abs(np.cumsum(naive.astype(np.float64)) - expected).max() > 0.1


def _declared_config(env_name: str) -> dict:
    """A config.json as experiments.run writes it: the environment's declared spec."""
    spec = simulator.make(env_name).spec.as_dict()
    return {"env": {"name": env_name}, "capabilities": {"env": spec, "agents": {}}}


def test_final_hindsight_regret_and_ctr_in_the_summary():
    rng = np.random.default_rng(1)
    hindsight = rng.normal(size=(2, 5, 40))
    agent = bandit_agent(rng, 2, 5, 40, record_every=2, extra={"hindsight_regret": hindsight})
    steps = 2 * np.arange(1, 41)
    clicks = FakeResults({"a": agent}, steps, 2, config=_declared_config("bernoulli"))
    rows = stats.summary_rows(clicks, num_resamples=10)
    runs = stats.run_summaries(clicks)["a"]
    final = 2 * hindsight.sum(axis=-1)  # stored values are means over 2 steps
    np.testing.assert_allclose(runs["final_hindsight_regret"], final)
    for i, row in enumerate(rows):
        assert row["final_hindsight_regret"] == pytest.approx(final[i].mean())
        assert row["ctr"] == row["avg_reward"] == pytest.approx(agent.reward[i].mean())
    assert list(rows[0]).index("ctr") == list(rows[0]).index("avg_reward") + 1

    old_folder = {"env": {"name": "bernoulli"}}  # written before capabilities were stored
    for config in (_declared_config("gaussian"), _declared_config("testbed"), old_folder, {}):
        real = FakeResults({"a": agent}, steps, 2, config=config)
        assert "ctr" not in stats.summary_rows(real, num_resamples=10)[0]
    for name, kind in [
        ("piecewise_bernoulli", "click"),
        ("contextual_logistic", "click"),
        ("drifting_users", "click"),
        ("dynamic_items", "click"),
        ("classification_bandit", "click"),
        ("contextual_linear", "real"),
        ("russac_linear", "real"),
    ]:
        assert stats.reward_kind(_declared_config(name)) == kind, name
    plain = FakeAgentResults({"regret": hindsight, "reward": hindsight}, [{}, {}])
    no_metric = stats.run_summaries(FakeResults({"a": plain}, np.arange(1, 41)))["a"]
    assert "final_hindsight_regret" not in no_metric and "ctr" not in no_metric
