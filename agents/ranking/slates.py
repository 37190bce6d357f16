"""Pieces every ranker shares: the top-``k`` slate with random tie-breaks, the display
order, per-item views of a slate's feedback, and the static checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import first_true
from simulator.types import require

Array = jax.Array

ORDERS = ("decreasing", "increasing")
"""Display orders of a ranker's ``k`` chosen items: by decreasing score (position 1 holds
the best-scored item; Kveton et al. 2015, Algorithm 1) or increasing (the reverse)."""


def top_k(key: Array, scores: Array, slate_size: int) -> Array:
    """The ``k`` arms with the largest ``scores (L,)``, in decreasing order of score; ties
    (``+inf`` for unseen arms included) broken uniformly at random.  ``(k,)`` int32.

    Every arm gets one uniform priority; position ``j`` takes, among the arms not taken
    above it, those of the largest score, and of them the one of largest priority: the
    ``k`` largest in the lexicographic order of (score, priority), so tied arms enter the
    slate as a uniformly random subset and in uniformly random order.  ``k`` passes of
    max reductions, ``O(k L)``: for the small ``k`` of a slate many times faster on a CPU
    than ``jax.lax.top_k`` (which sorts) or ``jnp.argmax`` (see :func:`first_true`).
    """
    scores = jnp.asarray(scores, jnp.float32)
    priority = jax.random.uniform(key, scores.shape, jnp.float32)
    arms = jnp.arange(scores.shape[0])
    slate = []
    for _ in range(slate_size):  # k is small and static
        tied_priority = jnp.where(scores >= jnp.max(scores), priority, -1.0)
        arm = first_true(tied_priority >= jnp.max(tied_priority))
        slate.append(arm)
        # Taken arms drop below every score (-inf included) and every priority.
        scores = jnp.where(arms == arm, -jnp.inf, scores)
        priority = jnp.where(arms == arm, -2.0, priority)
    return jnp.stack(slate).astype(jnp.int32)


def display(slate: Array, order: str) -> Array:
    """``slate`` (decreasing order of score) shown in ``order``."""
    return slate if order == "decreasing" else slate[::-1]


def item_feedback(num_arms: int, slate: Array, positions) -> tuple[Array, Array]:
    """``(clicks (L,), observations (L,))`` float32 of one round: 1 at each observed
    position's arm, its click; 0 for arms not shown or not observed."""
    observed = positions.observed.astype(jnp.float32)
    observations = jnp.zeros((num_arms,), jnp.float32).at[slate].add(observed)
    clicks = jnp.zeros((num_arms,), jnp.float32).at[slate].add(positions.clicks * observed)
    return clicks, observations


def check_slate(
    name: str, num_arms: int | None, slate_size: int, order: str = "decreasing"
) -> None:
    """ConfigError naming the field unless ``1 <= slate_size <= num_arms`` and ``order`` is
    known (``num_arms`` None: an agent built for any number of arms, only ``k >= 1``)."""
    if num_arms is not None:
        require(
            isinstance(num_arms, int) and not isinstance(num_arms, bool) and num_arms >= 2,
            f"agent.num_arms = {num_arms!r}: {name} needs an integer >= 2",
        )
    high = "" if num_arms is None else f", num_arms = {num_arms}"
    require(
        isinstance(slate_size, int)
        and not isinstance(slate_size, bool)
        and 1 <= slate_size <= (num_arms or slate_size),
        f"agent.slate_size = {slate_size!r}: {name} needs an integer in [1{high}]",
    )
    require(order in ORDERS, f"agent.order = {order!r}: must be one of {', '.join(ORDERS)}")
