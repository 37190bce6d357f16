"""The CLI: bad input is one line, exit status 2, no traceback, before any compilation."""

import subprocess
import sys

import pytest

import experiments
from experiments import cli, presets
from experiments.schema import ConfigError


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "experiments", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["run", "testbed", "--set", "agent=no_such_agent"], "unknown agent 'no_such_agent'"),
        (["run", "testbed", "--set", "env=no_such_env"], "unknown environment 'no_such_env'"),
        (["run", "testbed", "--set", "agent.epsilon=1.5"], "epsilon = 1.5: must be in [0, 1]"),
        (
            ["run", "testbed", "--set", "agent.no_field=1"],
            "no agent (epsilon_greedy, ucb) has the field 'no_field'",
        ),
        (["run", "testbed", "--set", "agents.nolabel.epsilon=0.1"], "unknown agent label"),
        (["run", "testbed", "--set", "env.noise=-1"], "env.noise = -1: must be >= 0"),
        (["run", "testbed", "--steps", "0"], "must be >= 1"),
        (["run", "testbed", "--seeds", "0"], "must be >= 1"),
        (["run", "testbed", "--sweep", "agent.epsilon=logspace(1,2)"], "SPEC is a comma list"),
        (["run", "testbed", "--sweep", "agent.epsilon=0.1,2"], "epsilon = 2: must be in [0, 1]"),
        (
            ["run", "testbed", "--set", "env.num_arms=1"],
            "env.num_arms = 1: must be an integer >= 2",
        ),
        (
            ["run", "ope-check", "--set", 'log.estimators=["ips", "ipw"]'],
            "log.estimators = ['ips', 'ipw']: a list of distinct names from ips, snips, dm, dr",
        ),
        (["run", "testbed", "--baseline", "nope"], "baseline = 'nope': unknown agent label"),
        (
            ["run", "testbed", "--coordinator", "localhost:1234"],
            "give all of coordinator, num_processes and process_id",
        ),
        (
            ["run", "obd-replay", "--set", "log.policy=bts"],
            "log.policy = 'bts': replay needs the uniform-random log; allowed: random",
        ),
    ],
)
def test_bad_input_is_one_line_with_status_2(args, needle):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_toml_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("num_seeds = [\n")
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert "malformed TOML" in result.stderr


def test_unknown_experiment_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('num_sedes = 3\n[env]\nname = "bernoulli"\n[[agents]]\nname = "random"\n')
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert "num_sedes: unknown experiment key" in result.stderr


def test_parse_spec():
    assert cli.parse_spec("k", "0,0.01,0.1") == [0, 0.01, 0.1]
    assert cli.parse_spec("k", "logspace(-2,0,3)") == [0.01, 0.1, 1.0]
    assert cli.parse_spec("k", "linspace(0, 1, 3)") == [0.0, 0.5, 1.0]
    with pytest.raises(ConfigError, match="integer n"):
        cli.parse_spec("k", "linspace(0, 1, x)")


def test_set_and_sweep_edit_the_experiment():
    args = cli.make_parser().parse_args(
        [
            "run",
            "testbed",
            "--seeds",
            "3",
            "--steps",
            "20",
            "--set",
            "agents.greedy.initial_value=5",
            "--set",
            "agent.epsilon=0.2",
            "--sweep",
            "env.noise=0.5,1",
        ]
    )
    experiment = cli.build_experiment(args)
    assert experiment.num_seeds == 3 and experiment.num_steps == 20
    assert experiment.agents[0].fields == {"epsilon": 0.2, "initial_value": 5}
    greedy = [a for a in experiment.agents if a.name == "epsilon_greedy"]
    assert all(a.fields["epsilon"] == 0.2 for a in greedy)
    assert all("epsilon" not in a.fields for a in experiment.agents if a.name == "ucb")
    assert experiment.sweep.axes == {"env.noise": [0.5, 1]}


def test_logged_presets_are_listed_with_their_sizes():
    lines = {name: cli.preset_line(presets.load(name)) for name in presets.names()}
    assert lines["ope-check"] == (
        "ope, 1000 logs x 400 rounds per logger; logs of classification_bandit by uniform "
        "(random), eps-frozen (epsilon_greedy), eps-learning (epsilon_greedy); "
        "estimators ips, snips, dm, dr; targets linucb-greedy"
    )
    assert lines["obd-ope"].startswith("ope, 1 seed x 10,000 rows per log; Open Bandit Dataset")
    assert lines["obd-replay"] == (
        "replay, 4 seeds x 10,000 log rows; Open Bandit Dataset random log (all); "
        "agents random, eps-0.1, linucb, lints"
    )
    assert lines["testbed"].startswith("2000 seeds x 1,000 steps; env testbed; agents greedy")


def test_set_log_fields_and_refuse_env_without_one():
    args = cli.make_parser().parse_args(
        ["run", "obd-ope", "--set", "log.campaign=men", "--set", "log.policy=bts"]
    )
    experiment = cli.build_experiment(args)
    assert experiment.log.campaign == "men" and experiment.log.policy == ["bts"]
    args = cli.make_parser().parse_args(["run", "ope-check", "--set", "log.agent.epsilon=0.5"])
    assert cli.build_experiment(args).log.agent.fields == {"epsilon": 0.5}
    with pytest.raises(ConfigError, match="no \\[env\\]"):
        cli.build_experiment(cli.make_parser().parse_args(["run", "obd-ope", "--set", "env.x=1"]))
    with pytest.raises(ConfigError, match="no \\[log\\]"):
        cli.build_experiment(
            cli.make_parser().parse_args(["run", "testbed", "--set", "log.level=0.9"])
        )


def test_plot_prints_a_logged_folders_table_and_compare_refuses_it(tmp_path, capsys):
    """One pipeline: a replay / ope folder opens like any other (``experiments.load``);
    ``plot`` prints its table (it has no curves) and ``compare`` says why it cannot."""
    experiment = {
        "name": "tiny-replay",
        "kind": "replay",
        "num_seeds": 2,
        "num_steps": 200,
        "env": {"name": "bernoulli", "num_arms": 3, "means": [0.2, 0.5, 0.8]},
        "log": {"source": "simulate"},
        "agents": [{"label": "uniform", "name": "random"}],
    }
    folder = tmp_path / "replay"
    experiments.run(experiment, out=folder)
    assert cli.main(["plot", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("tiny-replay: replay (Li et al. 2011)") and "uniform" in printed
    assert cli.main(["compare", str(folder), str(folder)]) == 2
    assert "a kind = 'replay' results folder has a table" in capsys.readouterr().err
