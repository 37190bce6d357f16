"""driftsim environments: users, items and bandits as pure, JIT-compiled functions.

``simulator.make(name, **static)`` builds a registered environment;
``simulator.register(name)`` adds your own (see :mod:`simulator.registry`).
"""

from simulator import (
    bandits,
    capabilities,
    classification,
    click_models,
    drifting,
    ranking,
    streams,
)
from simulator.params import ConfigError, check, knob
from simulator.registry import Registry
from simulator.types import (
    Context,
    Environment,
    EnvSpec,
    Oracle,
    PositionFeedback,
    StepLog,
    TimeStep,
    bandit_log,
    empty_context,
    make_oracle,
    make_timestep,
)

REGISTRY = Registry("environment")
register = REGISTRY.register
make = REGISTRY.make
names = REGISTRY.names

for _module in (bandits, classification, drifting, ranking, streams):
    _module.register_all(REGISTRY)

__all__ = [
    "REGISTRY",
    "ConfigError",
    "Context",
    "EnvSpec",
    "Environment",
    "Oracle",
    "PositionFeedback",
    "StepLog",
    "TimeStep",
    "bandit_log",
    "capabilities",
    "click_models",
    "check",
    "empty_context",
    "knob",
    "make",
    "make_oracle",
    "make_timestep",
    "names",
    "register",
]
