"""driftsim agents: learners as bundles of pure functions.

``agents.make(name, **static)`` builds a registered agent; ``agents.register(name)`` adds
your own; ``agents.wrap(agent, wrapper_name, **static)`` applies a registered wrapper.
"""

from agents import classic, contextual, fit, neural, nonstationary, ogd, ranking, wrappers
from agents.fit import check_fits, misfits
from agents.types import Agent, Needs, Transition
from simulator.registry import Registry

REGISTRY = Registry("agent")
WRAPPERS = Registry("wrapper")
register = REGISTRY.register
register_wrapper = WRAPPERS.register
make = REGISTRY.make
names = REGISTRY.names

for _package in (classic, contextual, nonstationary, neural, ogd, ranking):
    _package.register_all(REGISTRY)
wrappers.register_all(WRAPPERS)
WRAPPERS.register("top_k", ranking.with_top_k)


def wrap(agent: Agent, name: str, **static) -> Agent:
    """Apply the registered wrapper ``name`` (e.g. ``delay``) to ``agent``."""
    return WRAPPERS.make(name, agent=agent, **static)


__all__ = [
    "REGISTRY",
    "WRAPPERS",
    "Agent",
    "Needs",
    "Transition",
    "check_fits",
    "fit",
    "make",
    "misfits",
    "names",
    "register",
    "register_wrapper",
    "wrap",
]
