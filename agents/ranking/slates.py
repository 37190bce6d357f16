"""Pieces every ranker shares: the top-``k`` slate with random tie-breaks, the display
order, per-item views of a slate's feedback, and the static checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from simulator.types import require

Array = jax.Array

ORDERS = ("decreasing", "increasing")
"""Display orders of a ranker's ``k`` chosen items: by decreasing score (position 1 holds
the best-scored item; Kveton et al. 2015, Algorithm 1) or increasing (the reverse)."""


def top_k(key: Array, scores: Array, slate_size: int) -> Array:
    """The ``k`` arms with the largest ``scores (L,)``, in decreasing order of score; ties
    (``+inf`` for unseen arms included) broken uniformly at random.  ``(k,)`` int32.

    ``O(L log k)``: one ``top_k`` finds the ``k``-th largest score ``s_k``; the arms above
    it are all chosen, and the rest of the slate is the tied arms (score ``s_k``) with the
    largest of one uniform priority each (a uniformly random subset); the ``k`` chosen arms
    are then sorted by (score, priority), so tied arms appear in random order.
    """
    scores = jnp.asarray(scores, jnp.float32)
    threshold = jax.lax.top_k(scores, slate_size)[0][-1]
    priority = jax.random.uniform(key, scores.shape, jnp.float32)
    rank_key = jnp.where(scores > threshold, 2.0, jnp.where(scores == threshold, priority, -1.0))
    chosen = jax.lax.top_k(rank_key, slate_size)[1]
    _, _, order = jax.lax.sort(
        (-scores[chosen], -priority[chosen], chosen.astype(jnp.int32)), num_keys=2
    )
    return order.astype(jnp.int32)


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


def check_slate(name: str, num_arms: int, slate_size: int, order: str = "decreasing") -> None:
    """ConfigError naming the field unless ``1 <= slate_size <= num_arms`` and ``order`` is
    known."""
    require(
        isinstance(num_arms, int) and not isinstance(num_arms, bool) and num_arms >= 2,
        f"agent.num_arms = {num_arms!r}: {name} needs an integer >= 2",
    )
    require(
        isinstance(slate_size, int)
        and not isinstance(slate_size, bool)
        and 1 <= slate_size <= num_arms,
        f"agent.slate_size = {slate_size!r}: {name} needs an integer in [1, num_arms = {num_arms}]",
    )
    require(order in ORDERS, f"agent.order = {order!r}: must be one of {', '.join(ORDERS)}")
