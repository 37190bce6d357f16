"""Click models: how a user's attraction to items becomes clicks on a ranked slate.

A slate ``A = (a_1, ..., a_k)`` is examined from the top.  Every click model here is one
*examination chain* with per-position probabilities ``kappa_j`` (the position is examined
when the user is still browsing) and ``lambda_j`` (the user goes on browsing after a click
at ``j``); item ``a`` attracts with probability ``w(a)``, independently::

    browsing_1 = 1
    examined_j = browsing_j * E_j,        E_j ~ Bernoulli(kappa_j)
    click_j    = examined_j * V_j,        V_j ~ Bernoulli(w(a_j))
    browsing_{j+1} = browsing_j * (1 - click_j * (1 - C_j)),   C_j ~ Bernoulli(lambda_j)

so that ``P(click_j) = b_j kappa_j w(a_j)`` with ``b_1 = 1`` and
``b_{j+1} = b_j (1 - kappa_j w(a_j) (1 - lambda_j))``, and the expected number of clicks is
``f(A, w) = sum_j b_j kappa_j w(a_j)``.  The three models of the literature:

* ``"cascade"`` (Craswell et al. 2008): ``kappa = 1``, ``lambda = 0``: the user clicks the
  first attractive item and leaves; ``f(A, w) = 1 - prod_j (1 - w(a_j))``, the same for
  every order of ``A``.  Observed: the positions up to and including the click (all ``k``
  without a click).
* ``"pbm"``, the position-based model (Richardson et al. 2007; Lagrée, Vernade & Cappé
  2016): ``lambda = 1`` and ``kappa`` non-increasing (default ``kappa_j = 1 / j``):
  ``P(click_j) = kappa_j w(a_j)`` independently.  Every position is observed (examination
  is not: a learner that knows ``kappa`` corrects for it).
* ``"dcm"``, the dependent click model (Guo, Liu & Wang 2009): ``kappa = 1`` and ``lambda``
  non-increasing (default ``lambda_j = 0.5``).  Observed: the positions up to the last
  click (all ``k`` without a click): what follows the last click is unknowable.

With ``kappa`` and ``lambda`` non-increasing the best slate is the ``k`` most attractive
items in decreasing order of ``w`` (an exchange argument: swapping a more attractive item
up never lowers the clicks at the two positions and never lowers the chance of browsing
on), so the best value is ``f`` of a top-``k``: ``O(L log k)``, no sort of the catalog.

Randomness: ``V`` is one uniform per item per round (as Kveton et al. 2015 draw the
weights ``w_t(e)``), a function of the round's key and the item, so the click an item
*would* give is the same whatever slate an agent shows (common random numbers across
agents), and only the ``k`` shown items' are drawn; ``E`` and ``C`` are drawn per
position.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from simulator.params import ConfigError
from simulator.types import PositionFeedback

Array = jax.Array

CASCADE = "cascade"
PBM = "pbm"
DCM = "dcm"
CLICK_MODELS = (CASCADE, PBM, DCM)


class ClickChain(NamedTuple):
    """The static per-position probabilities of a click model (``(k,)`` tuples of floats).

    Attributes:
      model: ``"cascade"``, ``"pbm"`` or ``"dcm"``.
      examination: ``kappa``, the probability of examining each position while browsing.
      continuation: ``lambda``, the probability of browsing on after a click there.
    """

    model: str
    examination: tuple[float, ...]
    continuation: tuple[float, ...]

    @property
    def all_observed(self) -> bool:
        """Whether every position is observed (the PBM) rather than up to the last click."""
        return self.model == PBM


def _non_increasing_probabilities(values, field: str, slate_size: int) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if len(values) != slate_size:
        raise ConfigError(f"{field} has {len(values)} entries: must have slate_size = {slate_size}")
    if not all(0.0 <= v <= 1.0 for v in values):
        raise ConfigError(f"{field} = {list(values)}: every entry must be in [0, 1]")
    if any(b > a for a, b in zip(values, values[1:])):
        raise ConfigError(
            f"{field} = {list(values)}: must be non-increasing (position 1 first), so that "
            "the best slate is the most attractive items in decreasing order"
        )
    return values


def chain(
    model: str,
    slate_size: int,
    examination: tuple[float, ...] | None = None,
    continuation: tuple[float, ...] | None = None,
    field: str = "env",
) -> ClickChain:
    """The :class:`ClickChain` of ``model`` with its defaults (PBM ``kappa_j = 1 / j``, DCM
    ``lambda_j = 0.5``), validated; a field a model does not use must be left unset."""
    if model not in CLICK_MODELS:
        raise ConfigError(
            f"{field}.click_model = {model!r}: must be one of {', '.join(CLICK_MODELS)}"
        )
    if examination is not None and model != PBM:
        raise ConfigError(
            f"{field}.examination is the position-based model's; click_model = {model!r} "
            "examines every position it reaches (use click_model = 'pbm')"
        )
    if continuation is not None and model != DCM:
        raise ConfigError(
            f"{field}.continuation is the dependent click model's; click_model = {model!r} "
            "(use click_model = 'dcm')"
        )
    ones, zeros = (1.0,) * slate_size, (0.0,) * slate_size
    if model == CASCADE:
        return ClickChain(CASCADE, ones, zeros)
    if model == PBM:
        kappa = tuple(1.0 / j for j in range(1, slate_size + 1))
        if examination is not None:
            kappa = _non_increasing_probabilities(examination, f"{field}.examination", slate_size)
        return ClickChain(PBM, kappa, ones)
    lam = (0.5,) * slate_size
    if continuation is not None:
        lam = _non_increasing_probabilities(continuation, f"{field}.continuation", slate_size)
    return ClickChain(DCM, ones, lam)


def click_probabilities(click_chain: ClickChain, w_slate: Array) -> Array:
    """``P(click_j) = b_j kappa_j w(a_j)`` for the attractions ``w_slate (k,)`` of a slate's
    items (position 1 first); ``(k,)`` float32."""
    w_slate = jnp.asarray(w_slate, jnp.float32)
    kappa = jnp.asarray(click_chain.examination, jnp.float32)
    stop = kappa * w_slate * (1.0 - jnp.asarray(click_chain.continuation, jnp.float32))
    browsing = jnp.cumprod(jnp.concatenate([jnp.ones((1,), jnp.float32), 1.0 - stop[:-1]]))
    return browsing * kappa * w_slate


def expected_clicks(click_chain: ClickChain, w_slate: Array) -> Array:
    """``f(A, w) = sum_j P(click_j)``, the expected number of clicks of a slate (for the
    cascade ``1 - prod_j (1 - w(a_j))``); ``()`` float32."""
    if click_chain.model == CASCADE:
        return 1.0 - jnp.prod(1.0 - jnp.asarray(w_slate, jnp.float32))
    return jnp.sum(click_probabilities(click_chain, w_slate))


def largest(values: Array, k: int) -> tuple[Array, Array]:
    """``(values, indices)`` of the ``k`` largest of ``values (L,)`` in decreasing order
    (ties to the lower index), by ``k`` passes of max and argmax: ``O(k L)`` and, for the
    small ``k`` of a slate, many times faster on a CPU than ``jax.lax.top_k`` (a sort)."""
    remaining = jnp.asarray(values, jnp.float32)
    arms = jnp.arange(remaining.shape[0])
    tops, indices = [], []
    for _ in range(k):  # k is small and static
        top = jnp.max(remaining)
        # The first index attaining it, by a min (a plain reduction: XLA's CPU argmax, a
        # variadic reduction, is several times slower under vmap).
        index = jnp.min(jnp.where(remaining >= top, arms, remaining.shape[0]))
        tops.append(top)
        indices.append(index)
        remaining = jnp.where(arms == index, -jnp.inf, remaining)
    return jnp.stack(tops), jnp.stack(indices).astype(jnp.int32)


def best_slate(w: Array, slate_size: int) -> Array:
    """The ``k`` most attractive arms of ``w (L,)`` in decreasing order (the best slate of
    every chain with non-increasing ``kappa`` and ``lambda``); ``(k,)`` int32."""
    return largest(w, slate_size)[1]


def best_value(click_chain: ClickChain, w: Array) -> Array:
    """``max_A f(A, w)``: ``f`` of the top ``k`` of ``w`` in decreasing order."""
    return expected_clicks(click_chain, largest(w, len(click_chain.examination))[0])


def first_click(feedback: PositionFeedback) -> tuple[Array, Array]:
    """``(position, clicked)``: the first clicked position (0 when none) and whether there
    was a click; what a slate's user consumed, for the drift processes."""
    clicked = feedback.clicks > 0
    return jnp.argmax(clicked), jnp.any(clicked)


def sample(click_chain: ClickChain, key: Array, w_slate: Array, arms: Array) -> PositionFeedback:
    """One user's clicks on a slate, given its arms' attractions ``w_slate (k,)`` in position
    order and their ids ``arms (k,)`` (which key each arm's attraction draw).

    Arm ``a``'s attraction ``V`` is decided by its own uniform, drawn from
    ``fold_in(key, a)`` (the same for every slate that shows ``a``: common random numbers
    across agents, at ``O(k)`` cost whatever the catalog's size) and, where the model has
    them, one uniform per position for ``E`` and ``C``.

    Returns:
      The :class:`~simulator.types.PositionFeedback`: clicks and the observed positions.
    """
    key_attract, key_examine, key_continue = jax.random.split(key, 3)
    w_slate = jnp.asarray(w_slate, jnp.float32)
    k = arms.shape[0]
    uniforms = jax.vmap(lambda arm: jax.random.uniform(jax.random.fold_in(key_attract, arm)))
    attracted = uniforms(arms) < w_slate
    if click_chain.model == PBM:
        kappa = jnp.asarray(click_chain.examination, jnp.float32)
        examined = jax.random.uniform(key_examine, (k,), jnp.float32) < kappa
        clicks = examined & attracted
        return PositionFeedback(clicks.astype(jnp.float32), jnp.ones((k,), jnp.bool_))
    if click_chain.model == DCM:
        lam = jnp.asarray(click_chain.continuation, jnp.float32)
        goes_on = jax.random.uniform(key_continue, (k,), jnp.float32) < lam
    else:
        goes_on = jnp.zeros((k,), jnp.bool_)
    stops = attracted & ~goes_on
    stopped_before = jnp.cumsum(stops.astype(jnp.int32)) - stops.astype(jnp.int32) > 0
    clicks = attracted & ~stopped_before
    # Observed: through the last click, every position when there is none.
    positions = jnp.arange(k)
    last_click = jnp.max(jnp.where(clicks, positions, -1))
    observed = jnp.where(last_click >= 0, positions <= last_click, True)
    return PositionFeedback(clicks.astype(jnp.float32), observed)
