"""driftsim experiments: the scan runner, sweeps, results on disk, figures, CLI, presets.

import experiments
results = experiments.run("testbed")            # a preset, a TOML path, a dict or an Experiment
results["greedy"].reward.mean(axis=(0, 1))      # (steps,)
results = experiments.load("results/testbed")   # the same object from a results folder
experiments.enable_compilation_cache()          # opt in: reuse compiled programs across runs

The names below (and the submodules, ``experiments.stats``) are imported on first use, so
that a command that runs nothing (``driftsim --help``, ``driftsim list``) does not import
the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.api import InvalidActionWarning, run
    from experiments.compilation_cache import enable_compilation_cache
    from experiments.results import AgentResults, Results, load
    from experiments.runner import make_run
    from experiments.schema import (
        AgentConfig,
        EnvConfig,
        Experiment,
        SweepConfig,
        from_dict,
        load_toml,
    )
    from simulator.params import ConfigError

#: Where each public name is defined.
_HOME = {
    "AgentConfig": "experiments.schema",
    "AgentResults": "experiments.results",
    "ConfigError": "simulator.params",
    "EnvConfig": "experiments.schema",
    "Experiment": "experiments.schema",
    "InvalidActionWarning": "experiments.api",
    "Results": "experiments.results",
    "SweepConfig": "experiments.schema",
    "enable_compilation_cache": "experiments.compilation_cache",
    "from_dict": "experiments.schema",
    "load": "experiments.results",
    "load_toml": "experiments.schema",
    "make_run": "experiments.runner",
    "run": "experiments.api",
}

__all__ = [
    "AgentConfig",
    "AgentResults",
    "ConfigError",
    "EnvConfig",
    "Experiment",
    "InvalidActionWarning",
    "Results",
    "SweepConfig",
    "enable_compilation_cache",
    "from_dict",
    "load",
    "load_toml",
    "make_run",
    "run",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("_"):  # a submodule not imported yet: experiments.stats
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
