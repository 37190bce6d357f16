"""The experiment schema: TOML round trip, presets, and validation before compilation."""

import pytest

from experiments import presets
from experiments.plan import plan
from experiments.schema import ConfigError, from_dict, load_toml, to_toml


def small(**overrides):
    data = {
        "name": "small",
        "num_seeds": 2,
        "num_steps": 10,
        "env": {"name": "testbed"},
        "agents": [
            {"label": "greedy", "name": "epsilon_greedy", "epsilon": 0.0},
            {"label": "uniform", "name": "random"},
        ],
    }
    data.update(overrides)
    return from_dict(data)


def test_toml_round_trip(tmp_path):
    experiment = small(sweep={"mode": "grid", "agent.epsilon": [0.0, 0.1], "env.noise": [1.0, 2.0]})
    path = tmp_path / "e.toml"
    path.write_text(to_toml(experiment))
    assert load_toml(path).to_dict() == experiment.to_dict()


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_resolves(name):
    plan(presets.load(name))


def test_grid_points_are_per_agent():
    experiment = small(sweep={"mode": "grid", "agent.epsilon": [0.0, 0.1], "env.noise": [1.0, 2.0]})
    greedy, uniform = plan(experiment)
    assert greedy.points == [
        {"agent.epsilon": 0.0, "env.noise": 1.0},
        {"agent.epsilon": 0.0, "env.noise": 2.0},
        {"agent.epsilon": 0.1, "env.noise": 1.0},
        {"agent.epsilon": 0.1, "env.noise": 2.0},
    ]
    assert len(greedy.groups) == 1, "traced sweeps share one compilation"
    assert uniform.points == [{"env.noise": 1.0}, {"env.noise": 2.0}]
    assert greedy.grid == {"agent.epsilon": [0.0, 0.1], "env.noise": [1.0, 2.0]}


def test_static_sweep_recompiles_per_value():
    experiment = small(sweep={"mode": "grid", "env.num_arms": [3, 5], "agent.epsilon": [0.0, 0.1]})
    greedy, _ = plan(experiment)
    assert [g.indices for g in greedy.groups] == [[0, 1], [2, 3]]
    assert [g.agent.static["num_arms"] for g in greedy.groups] == [3, 5]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_steps": 0}, "num_steps = 0: must be an integer >= 1"),
        ({"num_seeds": -1}, "num_seeds = -1"),
        ({"env": {"name": "testbed", "noise": -0.5}}, "env.noise = -0.5: must be >= 0"),
        ({"env": {"name": "testbed", "colour": 1}}, "env.colour: unknown field"),
        ({"agents": []}, "agents: must be a non-empty list"),
        (
            {"agents": [{"name": "epsilon_greedy", "epsilon": -0.1}]},
            "epsilon = -0.1: must be in [0, 1]",
        ),
        (
            {"agents": [{"name": "epsilon_greedy", "num_arms": 4}]},
            "does not match the environment's num_arms = 10",
        ),
        ({"agents": [{"name": "random"}, {"name": "random"}]}, "label 'random' is used twice"),
        ({"sweep": {"mode": "spiral"}}, "sweep.mode = 'spiral': allowed: grid, list"),
        ({"sweep": {"agent.nope": [1]}}, "no agent (epsilon_greedy, random) has that field"),
        ({"sweep": {"agent.epsilon": [0.5, 3.0]}}, "epsilon = 3.0: must be in [0, 1]"),
        ({"sweep": {"bogus": [1]}}, "a sweep key must be env.FIELD"),
        ({"figures": ["pie"]}, "figures = ['pie']"),
    ],
)
def test_bad_experiments_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        plan(small(**overrides))
    assert message in str(info.value)
