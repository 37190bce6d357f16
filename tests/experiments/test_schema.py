"""The experiment schema: TOML round trip, presets, and validation before compilation."""

import pytest

from experiments import offpolicy, presets
from experiments.offpolicy.experiment import prepare
from experiments.plan import plan
from experiments.schema import ESTIMATORS, ConfigError, from_dict, load_toml, to_toml


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
    experiment = presets.load(name)
    if experiment.kind == "simulate":
        plan(experiment)
    elif experiment.log.source == "obd" and not offpolicy.obd_available():
        with pytest.raises(ConfigError, match="pip install --no-deps obp"):
            prepare(experiment)  # the install message, before any compilation
    else:
        prepare(experiment)


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
        (
            {"agents": [{"name": "ucb", "sweep": {"c": [0.5, 1.0]}}]},
            "agent 'ucb' has no field or wrapper 'sweep'; allowed: num_arms, c (a sweep goes in "
            'the top-level [sweep] table: "agent.FIELD" = [...])',
        ),
        ({"sweep": {"bogus": [1]}}, "a sweep key must be env.FIELD"),
        ({"figures": ["pie"]}, "figures = ['pie']"),
    ],
)
def test_bad_experiments_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        plan(small(**overrides))
    assert message in str(info.value)


# --------------------------------------------------------------------------------------
# kind = "replay" / "ope": the [log] table
# --------------------------------------------------------------------------------------


def logged(kind="ope", table=None, **overrides):
    """A small off-policy experiment (a simulated log unless ``table`` says otherwise);
    an override ``None`` leaves the key out."""
    data = {
        "name": "logged",
        "kind": kind,
        "num_seeds": 2,
        "num_steps": 20,
        "env": {"name": "bernoulli", "num_arms": 3},
        "agents": [{"label": "greedy", "name": "epsilon_greedy", "epsilon": 0.0}],
        "log": table or {"source": "simulate", "agent": {"name": "epsilon_greedy", "epsilon": 0.3}},
    }
    data.update(overrides)
    return from_dict({k: v for k, v in data.items() if v is not None})


OBD_OPE = {"source": "obd", "campaign": "men"}


def test_kind_defaults_to_simulate_and_logged_round_trip(tmp_path):
    assert small().kind == "simulate" and small().log is None
    assert "kind" not in small().to_dict()  # online experiments are written as before
    experiments = [
        logged(),
        logged("replay", {"source": "simulate"}),
        logged(
            log={**OBD_OPE, "policy": "bts", "path": "/data/obd"},
            env=None,
            agents=None,
            num_seeds=None,
        ),
        logged("replay", {"source": "obd"}, env=None),
    ]
    for experiment in experiments:
        path = tmp_path / "e.toml"
        path.write_text(to_toml(experiment))
        assert load_toml(path).to_dict() == experiment.to_dict()
    ope, replay, obd_ope, obd_replay = experiments
    assert ope.log.estimators == list(ESTIMATORS) == list(offpolicy.ESTIMATORS)
    assert ope.log.train_steps is None and ope.log.propensity == "auto"
    assert replay.log.agent.name == "random"  # a uniform log by default
    assert obd_ope.env is None and obd_ope.num_seeds == 1 and obd_ope.log.policy == ["bts"]
    assert obd_replay.log.policy == ["random"] and obd_replay.num_steps == 20


@pytest.mark.parametrize(
    "kind, log, overrides, message",
    [
        ("vr", None, {}, "kind = 'vr': unknown; allowed: simulate, replay, ope"),
        ("replay", None, {"log": None}, "log: missing; kind = 'replay' needs a [log] table"),
        ("ope", {"source": "s3"}, {}, "log.source = 's3': unknown; allowed: obd, simulate"),
        ("ope", {**OBD_OPE, "estimators": ["ips", "x"]}, {"env": None, "agents": None},
         "log.estimators = ['ips', 'x']: a list of distinct names from ips, snips, dm, dr"),
        ("ope", {**OBD_OPE, "campaign": "kids"}, {"env": None, "agents": None},
         "log.campaign = 'kids': unknown; allowed: all, men, women"),
        ("ope", {**OBD_OPE, "policy": ["bts", "bts"]}, {"env": None, "agents": None},
         "a policy is listed twice"),
        ("replay", {"source": "obd", "policy": "bts"}, {"env": None},
         "log.policy = 'bts': replay needs the uniform-random log; allowed: random"),
        ("ope", OBD_OPE, {"agents": None}, "env: not used with log.source = 'obd'"),
        ("ope", OBD_OPE, {"env": None}, "agents: not used with kind = 'ope' and log.source"),
        ("ope", OBD_OPE, {"env": None, "agents": None, "num_seeds": 3}, "num_seeds = 3"),
        ("ope", None, {"env": None}, "env: missing; log.source = 'simulate' records"),
        ("ope", None, {"agents": None}, "agents: must be a non-empty list"),
        ("ope", {"source": "simulate"}, {}, "log.agent: missing; the logging agent"),
        ("replay", {"source": "simulate", "agent": "epsilon_greedy"}, {},
         "log.agent.name = 'epsilon_greedy': replay needs a uniform-random log"),
        ("replay", {"source": "simulate", "num_bootstrap": 10}, {},
         "log.num_bootstrap: not used with kind = 'replay'"),
        ("ope", {"source": "simulate", "agent": "random", "campaign": "men"}, {},
         "log.campaign: not used with kind = 'ope' and log.source = 'simulate'"),
        ("ope", {"source": "simulate", "agent": "random", "propensity": "guess"}, {},
         "log.propensity = 'guess': unknown; allowed: auto, exact, monte_carlo"),
        ("ope", {"source": "simulate", "agent": "random", "level": 1.5}, {},
         "log.level = 1.5: must be a number in (0, 1)"),
        ("ope", {"source": "simulate", "agent": "random", "ridge": 0}, {},
         "log.ridge = 0: must be a number > 0"),
        ("ope", None, {"figures": ["regret"]}, "figures: only with kind = 'simulate'"),
        ("ope", None, {"sweep": {"agent.epsilon": [0.1]}}, "sweep: only with kind = 'simulate'"),
        ("simulate", None, {}, "log: only with kind = 'replay' or 'ope'"),
    ],
)  # fmt: skip
def test_bad_logged_experiments_name_the_field(kind, log, overrides, message):
    with pytest.raises(ConfigError) as info:
        logged(kind, log, **overrides)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "log, message",
    [
        ({"source": "simulate", "agent": {"name": "epsilon_greedy", "epsilon": 2.0}},
         "log.agent.epsilon = 2.0: must be in [0, 1]"),
        ({"source": "simulate", "agent": "thompson", "propensity": "exact"},
         "log.propensity = 'exact': agent 'thompson' has no exact action distribution"),
    ],
)  # fmt: skip
def test_logging_agent_is_checked_before_compilation(log, message):
    with pytest.raises(ConfigError) as info:
        prepare(logged(table=log))
    assert message in str(info.value)


def test_missing_obp_gives_the_install_message(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    experiment = logged(table={"source": "obd"}, env=None, agents=None, num_seeds=1, num_steps=77)
    with pytest.raises(ConfigError, match=r"obp package, which is not installed.*pip install"):
        prepare(experiment)
