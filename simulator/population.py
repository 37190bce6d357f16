"""The contract of an environment whose rounds are users of a population meeting a catalog.

An environment *declares* a user population by implementing :class:`UserPopulation` (and
a non-zero ``EnvSpec.num_users``): the feedback-loop metrics of
:mod:`experiments.feedback_metrics` (``user_drift``, ``homogeneity``, ``utility_initial``,
the catalog's initial popularity) read the users through it, never the environment's state
directly.  ``drifting_users`` is the built-in one; a plugin environment that implements the
four methods gets the same metrics.

Every method is pure, traceable and reads the state of the current round (the state whose
context the agent acts on); ``user_ids`` and ``item_ids`` may have any shape and the result
adds the latent dimension ``d`` (or, for attractions, the item axis).

Example::

    env = simulator.make("drifting_users", num_users=10_000)
    has_population(env)                                  # True
    prefs = env.current_preferences(state, params, jnp.arange(8))   # (8, d)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

Array = jax.Array


@runtime_checkable
class UserPopulation(Protocol):
    """What an environment with a user population offers (see the module docstring)."""

    def initial_preferences(self, state: Any, params: Any, user_ids: Array) -> Array:
        """``theta_u(0)`` of ``user_ids``: ``user_ids.shape + (d,)``."""
        ...

    def current_preferences(self, state: Any, params: Any, user_ids: Array) -> Array:
        """``theta_u(t)`` of ``user_ids`` at the state's round: ``user_ids.shape + (d,)``."""
        ...

    def attractions(self, state: Any, params: Any, prefs: Array, item_ids: Array) -> Array:
        """The expected reward (click probability) of items ``item_ids (m,)`` for users of
        preferences ``prefs (n, d)``: ``(n, m)``."""
        ...

    def initial_attractions(self, state: Any, params: Any) -> Array:
        """The expected reward of each of this round's candidates ``(K,)`` under the
        arriving user's *initial* preference (what the user wanted before the loop)."""
        ...


def has_population(env: Any) -> bool:
    """Whether ``env`` declares a user population (implements :class:`UserPopulation`
    and has users)."""
    return isinstance(env, UserPopulation) and env.spec.num_users > 0


__all__ = ["UserPopulation", "has_population"]
