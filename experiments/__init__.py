"""driftsim experiments: the scan runner, sweeps, results on disk, figures, CLI, presets.

import experiments
results = experiments.run("testbed")            # a preset, a TOML path, a dict or an Experiment
results["greedy"].reward.mean(axis=(0, 1))      # (steps,)
results = experiments.load("results/testbed")   # the same object from a results folder
"""

from experiments.api import InvalidActionWarning, run
from experiments.results import AgentResults, Results, load
from experiments.runner import make_run
from experiments.schema import AgentConfig, EnvConfig, Experiment, SweepConfig, from_dict, load_toml
from simulator.params import ConfigError

__all__ = [
    "AgentConfig",
    "AgentResults",
    "ConfigError",
    "EnvConfig",
    "Experiment",
    "InvalidActionWarning",
    "Results",
    "SweepConfig",
    "from_dict",
    "load",
    "load_toml",
    "make_run",
    "run",
]
