"""Plugins: the README's own environment and agent reach TOML files and the CLI.

The README example runs in subprocesses only, so its registrations never leak into the
registries of this test process.
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from experiments import cli, plugins
from experiments.schema import ConfigError, from_dict, to_toml

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Your own environment or agent"
EXPERIMENT = {"env": {"name": "bernoulli"}, "agents": [{"name": "random"}]}


def readme_blocks(language: str) -> list[str]:
    """The code blocks in ``language`` of the README's section on your own code."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def driftsim(*args, cwd, pythonpath=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    repo = str(README.parent)
    env["PYTHONPATH"] = os.pathsep.join([repo, *([str(pythonpath)] if pythonpath else [])])
    return subprocess.run(
        [sys.executable, "-m", "experiments", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def readme_project(tmp_path_factory):
    """The README's module and experiment file, side by side in a project folder."""
    project = tmp_path_factory.mktemp("project")
    experiment = next(b for b in readme_blocks("toml") if "plugins" in tomllib.loads(b))
    (module,) = tomllib.loads(experiment)["plugins"]
    (project / f"{module}.py").write_text("\n\n".join(readme_blocks("python")))
    (project / "flip.toml").write_text(experiment)
    return project, module


def test_readme_agent_runs_from_toml_and_plots_without_the_plugin(readme_project, tmp_path):
    project, module = readme_project
    out = tmp_path / "results"
    # my_bandits.py sits next to flip.toml; this process's cwd and path do not have it
    result = driftsim(
        "run", str(project / "flip.toml"), "--seeds", "3", "--steps", "50", "--out", str(out),
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["plugins"] == [module]
    assert {a["label"] for a in config["agents"]} == {"softmax", "ucb"}
    assert (out / "metrics.npz").is_file() and (out / "summary.csv").is_file()
    for figure in out.glob("*.png"):
        figure.unlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = driftsim("plot", str(out), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    drawn = [Path(line) for line in result.stdout.splitlines()]
    assert drawn and all(p.is_file() for p in drawn)
    assert {"regret", "optimal"} <= {p.stem.split("_")[0] for p in drawn}


def test_import_option_lists_the_plugin_entries(readme_project):
    project, module = readme_project
    result = driftsim("list", "--import", module, cwd=project)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  flip: ", result.stdout, flags=re.M)
    assert re.search(r"^  softmax: num_arms=2  \[fits e.g. flip\]", result.stdout, flags=re.M)
    assert "temperature = 0.1" in result.stdout


def test_unknown_import_is_one_line_with_status_2(capsys):
    assert cli.main(["run", "testbed", "--import", "nonexistent_mod"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "driftsim: error: --import: cannot import 'nonexistent_mod' "
        "(No module named 'nonexistent_mod')"
    ]


def test_plugins_must_be_a_list_of_module_names():
    with pytest.raises(ConfigError, match=r"plugins = 'x': must be a list of module names"):
        from_dict({**EXPERIMENT, "plugins": "x"})
    with pytest.raises(ConfigError, match=r"plugins: cannot import 'no_such_plugin'"):
        from_dict({**EXPERIMENT, "plugins": ["no_such_plugin"]})


def test_a_failing_plugin_is_one_line_naming_it(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin.py").write_text("raise ValueError('bad knob')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as err:
        from_dict({**EXPERIMENT, "plugins": ["broken_plugin"]})
    assert str(err.value) == "plugins: importing 'broken_plugin' failed: ValueError: bad knob"


def test_plugins_are_kept_in_the_resolved_experiment():
    experiment = from_dict({**EXPERIMENT, "plugins": ["json"]})  # any importable module
    assert experiment.to_dict()["plugins"] == ["json"]
    assert to_toml(experiment).startswith('plugins = ["json"]\n')
    assert from_dict(tomllib.loads(to_toml(experiment))).plugins == ["json"]
    assert "plugins" not in from_dict(EXPERIMENT).to_dict()


def test_entry_points_are_discovered_once(tmp_path, monkeypatch):
    (tmp_path / "entry_point_plugin.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "entry_point_plugin", raising=False)
    entry_point = importlib.metadata.EntryPoint(
        name="mine", value="entry_point_plugin", group=plugins.ENTRY_POINT_GROUP
    )
    groups = []

    def entry_points(group):
        groups.append(group)
        return [entry_point]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(plugins, "_discovered", False)
    from_dict(EXPERIMENT)
    assert groups == [plugins.ENTRY_POINT_GROUP]
    assert sys.modules["entry_point_plugin"].LOADED
    assert plugins.discover_entry_points() == [] and len(groups) == 1
