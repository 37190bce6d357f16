"""PBM-UCB (Lagrée, Vernade & Cappé 2016): multiple-play bandits in the position-based
model with known examination probabilities ``kappa``.

A click at position ``l`` is ``kappa_l theta_a``, so a display at ``l`` is worth
``kappa_l`` observations.  With ``S(a)`` the clicks of item ``a``, ``N(a)`` its displays
and ``Ñ(a) = sum kappa_l`` over its displays::

    theta_hat(a) = S(a) / Ñ(a)                       (unbiased under the PBM)
    U_t(a) = theta_hat(a) + sqrt(N(a) delta_t / 2) / Ñ(a),   delta_t = (1 + epsilon) log t

(``+inf`` while ``Ñ(a) = 0``; ``log t`` taken as 0 below ``t = 1``).  The slate puts the
largest ``U`` at the position of largest ``kappa`` and so on: with non-increasing ``kappa``,
the ``k`` largest in decreasing order.  Every displayed position updates (under the PBM
each display is an observation, censored by examination).

Reference: P. Lagrée, C. Vernade & O. Cappé, "Multiple-play bandits in the position-based
model", NeurIPS 2016, §4 (PBM-UCB).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.ranking.slates import check_slate, top_k
from agents.types import Agent, Needs
from simulator import capabilities, pytree
from simulator.params import knob
from simulator.types import require


class PBMState(pytree.PyTreeNode):
    """``clicks``, ``displays`` and ``weighted`` (κ-weighted displays), ``(L,)`` float32
    each, and ``t`` the rounds played."""

    clicks: jax.Array
    displays: jax.Array
    weighted: jax.Array
    t: jax.Array


@pytree.dataclass
class PBMUCBHParams:
    epsilon: float = knob(0.0, low=0.0, doc="epsilon in delta_t = (1 + epsilon) log t")


def pbm_ucb_indices(state: PBMState, hparams) -> jax.Array:
    t = (state.t + 1).astype(jnp.float32)
    delta = (1.0 + hparams.epsilon) * jnp.log(jnp.maximum(t, 1.0))
    seen = state.weighted > 0
    safe = jnp.where(seen, state.weighted, 1.0)
    index = state.clicks / safe + jnp.sqrt(state.displays * delta / 2.0) / safe
    return jnp.where(seen, index, jnp.inf)


def pbm_ucb(
    num_arms: int = 16, slate_size: int = 2, examination: tuple[float, ...] | None = None
) -> Agent:
    """PBM-UCB with known examination probabilities.

    Args:
      num_arms: L.
      slate_size: k.
      examination: ``kappa (k,)``, non-increasing in (0, 1] (default ``1 / j``, the
        ``cascade`` environment's PBM default); set it to the environment's.
    """
    check_slate("pbm_ucb", num_arms, slate_size)
    if examination is None:
        examination = tuple(1.0 / j for j in range(1, slate_size + 1))
    examination = tuple(float(x) for x in examination)
    require(
        len(examination) == slate_size
        and all(0.0 < x <= 1.0 for x in examination)
        and all(b <= a for a, b in zip(examination, examination[1:])),
        f"agent.examination = {list(examination)}: must be {slate_size} non-increasing "
        "probabilities in (0, 1]",
    )
    kappa = jnp.asarray(examination, jnp.float32)

    def init(key, hparams):
        zeros = jnp.zeros((num_arms,), jnp.float32)
        return PBMState(zeros, zeros, zeros, jnp.zeros((), jnp.int32))

    def scores(key, state, context, hparams):
        return pbm_ucb_indices(state, hparams)

    def act(key, state, context, hparams):
        return top_k(key, pbm_ucb_indices(state, hparams), slate_size)

    def update(key, state, transition, hparams):
        slate = transition.action
        return PBMState(
            clicks=state.clicks.at[slate].add(transition.positions.clicks),
            displays=state.displays.at[slate].add(1.0),
            weighted=state.weighted.at[slate].add(kappa),
            t=state.t + 1,
        )

    return Agent(
        "pbm_ucb",
        init,
        act,
        update,
        PBMUCBHParams,
        {"num_arms": num_arms, "slate_size": slate_size, "examination": examination},
        estimate=lambda state: state.clicks / jnp.maximum(state.weighted, 1e-30),
        needs=Needs(action=capabilities.SLATE, num_arms=num_arms, slate_size=slate_size),
        scores=scores,
    )
