"""Registration of the drifting, contextual and recommender environments.

- ``contextual_linear``, ``contextual_logistic``: K candidates with features, a drifting
  parameter (:mod:`simulator.contextual`).
- ``russac_linear``: the non-stationary linear bandit of Russac, Vernade & Cappé (2019).
- ``drifting_users``: a user population with drifting preferences and a catalog
  (:mod:`simulator.users`), the main showcase.
- ``piecewise_bernoulli``, ``slowly_varying_bernoulli``: non-stationary Bernoulli arms
  (:mod:`simulator.piecewise`).
- ``dynamic_items``: items retiring and arriving (Chapelle & Li 2011).
- ``wheel``: the wheel bandit (Riquelme, Tucker & Snoek 2018).

The drift processes themselves live in :mod:`simulator.drift` (their own registry).
"""

from simulator.contextual import ContextualLinear, ContextualLogistic, RussacLinear
from simulator.dynamic_items import DynamicItems
from simulator.piecewise import PiecewiseBernoulli, SlowlyVaryingBernoulli
from simulator.registry import Registry
from simulator.users import DriftingUsers
from simulator.wheel import Wheel


def register_all(registry: Registry) -> None:
    """Register this module's environments."""
    registry.register("contextual_linear", ContextualLinear)
    registry.register("contextual_logistic", ContextualLogistic)
    registry.register("russac_linear", RussacLinear)
    registry.register("drifting_users", DriftingUsers)
    registry.register("piecewise_bernoulli", PiecewiseBernoulli)
    registry.register("slowly_varying_bernoulli", SlowlyVaryingBernoulli)
    registry.register("dynamic_items", DynamicItems)
    registry.register("wheel", Wheel)
