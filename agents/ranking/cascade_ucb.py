"""CascadeUCB1 and CascadeKL-UCB (Kveton, Szepesvári, Wen & Ashkan 2015): rank the ``k``
items with the largest upper confidence bounds on their attraction probabilities.

Each item ``e`` keeps ``T(e)``, the rounds in which it was *observed* (shown at a position
the user is known to have examined), and ``ŵ(e)``, the share of those rounds it was
clicked.  In round ``t`` (1-based) the slate is the ``k`` items with the largest index
``U_t(e)`` in decreasing order (ties at random; unseen items, ``T(e) = 0``, have
``U = +inf`` and come first: the O(L) initialisation of the paper's §3.3, played inside the
``n`` rounds instead of Algorithm 1's free observation of every item)::

    CascadeUCB1:    U_t(e) = ŵ(e) + sqrt(c log(t - 1) / T(e))            (c = 1.5)
    CascadeKL-UCB:  U_t(e) = max{q in [ŵ(e), 1] : T(e) kl(ŵ(e), q) <= max(log t + c log log t, 0)}
                                                                         (c = 3)

with ``log(t - 1)`` taken as 0 for ``t <= 2`` and the KL level as 0 where it is negative or
undefined (``t <= 2``).  After the round every observed item updates ``T`` and ``ŵ``.
Both need click feedback per position, i.e. a slate environment
(``simulator.make("cascade")``).

Reference: B. Kveton, C. Szepesvári, Z. Wen & A. Ashkan, "Cascading bandits: learning to
rank in the cascade model", ICML 2015, Algorithm 1 and §3.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.kl_ucb import NUM_BISECTIONS, bernoulli_kl_upper
from agents.ranking.slates import check_slate, display, item_feedback, top_k
from agents.types import Agent, Needs
from simulator import capabilities, pytree
from simulator.params import knob

Array = jax.Array


class CascadeState(pytree.PyTreeNode):
    """Per-item statistics of the observed positions.

    Attributes:
      clicks: ``(L,)`` float32 clicks of each item while observed.
      observations: ``(L,)`` float32 ``T(e)``, the rounds each item was observed.
      t: ``()`` int32 rounds played so far (the next round is ``t + 1``).
    """

    clicks: Array
    observations: Array
    t: Array


@pytree.dataclass
class CascadeUCB1HParams:
    exploration: float = knob(
        1.5, low=0.0, doc="c in sqrt(c log(t - 1) / T(e)) (1.5 in Kveton et al. 2015)"
    )


@pytree.dataclass
class CascadeKLUCBHParams:
    c: float = knob(3.0, low=0.0, doc="c in the level log t + c log log t (3 in Kveton et al.)")


def empty_stats(num_arms: int) -> CascadeState:
    zeros = jnp.zeros((num_arms,), jnp.float32)
    return CascadeState(clicks=zeros, observations=zeros, t=jnp.zeros((), jnp.int32))


def add_round(state: CascadeState, slate: Array, positions) -> CascadeState:
    """The statistics after one round's feedback on ``slate``."""
    clicks, observations = item_feedback(state.clicks.shape[0], slate, positions)
    return CascadeState(
        clicks=state.clicks + clicks, observations=state.observations + observations, t=state.t + 1
    )


def mean_estimates(clicks: Array, observations: Array) -> Array:
    """``ŵ(e) = clicks / T(e)`` (0 for unseen items)."""
    return clicks / jnp.maximum(observations, 1e-30)


def ucb1_indices(state: CascadeState, hparams) -> Array:
    """CascadeUCB1's ``U_t(e)`` for the next round ``t = state.t + 1``; ``+inf`` if unseen."""
    t = (state.t + 1).astype(jnp.float32)
    log_term = jnp.where(t > 2.0, jnp.log(jnp.maximum(t - 1.0, 1.0)), 0.0)
    seen = state.observations > 0
    safe = jnp.where(seen, state.observations, 1.0)
    index = mean_estimates(state.clicks, state.observations) + jnp.sqrt(
        hparams.exploration * log_term / safe
    )
    return jnp.where(seen, index, jnp.inf)


def kl_level(t: Array, c) -> Array:
    """``max(log t + c log log t, 0)``, 0 for ``t <= 2`` (where ``log log t`` is negative or
    undefined)."""
    t = jnp.asarray(t, jnp.float32)
    log_t = jnp.log(jnp.maximum(t, 1.0))
    level = log_t + c * jnp.log(jnp.maximum(log_t, 1e-30))
    return jnp.where(t >= 3.0, jnp.maximum(level, 0.0), 0.0)


def kl_ucb_indices(state: CascadeState, hparams, num_bisections: int = NUM_BISECTIONS) -> Array:
    """CascadeKL-UCB's ``U_t(e)`` for the next round; ``+inf`` if unseen."""
    seen = state.observations > 0
    safe = jnp.where(seen, state.observations, 1.0)
    level = kl_level(state.t + 1, hparams.c) / safe
    mean = mean_estimates(state.clicks, state.observations)
    return jnp.where(seen, bernoulli_kl_upper(mean, level, num_bisections), jnp.inf)


def index_ranker(
    name: str,
    num_arms: int,
    slate_size: int,
    order: str,
    indices,
    hparams_type,
    static: dict,
    init_state=None,
    update_state=None,
    estimate=None,
) -> Agent:
    """An :class:`Agent` that shows the top ``k`` of ``indices(state, hparams) (L,)`` in
    ``order`` and folds each round's feedback into its state (by default the
    :class:`CascadeState` counts)."""
    check_slate(name, num_arms, slate_size, order)
    init_state = init_state or (lambda hparams: empty_stats(num_arms))
    update_state = update_state or (
        lambda state, slate, positions, hparams: add_round(state, slate, positions)
    )

    def init(key, hparams):
        return init_state(hparams)

    def scores(key, state, context, hparams):
        return indices(state, hparams)

    def act(key, state, context, hparams):
        return display(top_k(key, indices(state, hparams), slate_size), order)

    def update(key, state, transition, hparams):
        return update_state(state, transition.action, transition.positions, hparams)

    if estimate is None:

        def estimate(state):
            return mean_estimates(state.clicks, state.observations)

    return Agent(
        name,
        init,
        act,
        update,
        hparams_type,
        {"num_arms": num_arms, "slate_size": slate_size, "order": order, **static},
        estimate=estimate,
        needs=Needs(
            action=capabilities.SLATE,
            num_arms=num_arms,
            slate_size=slate_size,
            reward_range=None,
        ),
        scores=scores,
    )


def cascade_ucb1(num_arms: int = 16, slate_size: int = 2, order: str = "decreasing") -> Agent:
    """CascadeUCB1 (Kveton et al. 2015): the ``k`` largest ``ŵ(e) + sqrt(1.5 log(t-1)/T(e))``.

    Args:
      num_arms: L, the items.
      slate_size: k, the positions (the environment's).
      order: ``"decreasing"`` (position 1 holds the largest index) or ``"increasing"``.

    Example::

        agent = cascade_ucb1(num_arms=16, slate_size=4)
    """
    return index_ranker(
        "cascade_ucb1", num_arms, slate_size, order, ucb1_indices, CascadeUCB1HParams, {}
    )


def cascade_kl_ucb(
    num_arms: int = 16,
    slate_size: int = 2,
    order: str = "decreasing",
    num_bisections: int = NUM_BISECTIONS,
) -> Agent:
    """CascadeKL-UCB (Kveton et al. 2015): the ``k`` largest KL upper confidence bounds
    ``max{q >= ŵ(e) : T(e) kl(ŵ(e), q) <= log t + 3 log log t}`` (Bernoulli KL).

    Args:
      num_arms, slate_size, order: as :func:`cascade_ucb1`.
      num_bisections: static bisection steps for the bound (float32 resolution at 24).
    """

    def indices(state, hparams):
        return kl_ucb_indices(state, hparams, num_bisections)

    return index_ranker(
        "cascade_kl_ucb",
        num_arms,
        slate_size,
        order,
        indices,
        CascadeKLUCBHParams,
        {"num_bisections": num_bisections},
    )
