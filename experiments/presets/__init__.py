"""Named experiments shipped with driftsim: one TOML file each, names in kebab-case."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from experiments.schema import Experiment, from_dict, load_toml
from simulator.params import ConfigError

FOLDER = Path(__file__).resolve().parent
DEFAULT = "drifting-users"
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def names() -> list[str]:
    """Every shipped preset."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


def path(name: str) -> Path:
    if not _KEBAB.match(name) or name not in names():
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(names())}")
    return FOLDER / f"{name}.toml"


def load(name: str) -> Experiment:
    """The preset as an :class:`Experiment`."""
    return load_toml(path(name))


def as_experiment(experiment: Any) -> Experiment:
    """Accept an :class:`Experiment`, a dict, a preset name or a path to a TOML file."""
    if isinstance(experiment, Experiment):
        return experiment.copy()
    if isinstance(experiment, dict):
        return from_dict(experiment)
    if isinstance(experiment, (str, Path)):
        text = str(experiment)
        if text.endswith(".toml") or Path(text).is_file():
            return load_toml(text)
        return load(text)
    raise ConfigError(
        f"cannot run {type(experiment).__name__}: give an Experiment, dict, preset or file"
    )
