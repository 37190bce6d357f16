"""Thompson sampling for ranking: CascadeTS (Beta posteriors per item) and CascadeLinTS
(a Gaussian posterior on a linear attraction model).

* **CascadeTS** (Cheung, Tan & Zhong 2019; Zhong, Cheung & Tan 2021, with Beta-Bernoulli
  updates): item ``e`` has the posterior ``Beta(a0 + S(e), b0 + T(e) - S(e))`` over its
  attraction, ``S`` its clicks and ``T`` its observations; every round one sample per item,
  the slate is the ``k`` largest samples in decreasing order, and the observed positions
  update the counts.
* **CascadeLinTS** (Zong et al. 2016): ``theta ~ N(theta_hat, sigma^2 A^-1)`` with the ridge
  statistics of CascadeLinUCB; it is LinTS (shared model) behind the ``top_k`` wrapper,
  whose ``v`` is ``sigma`` and whose ``ridge`` is ``lambda sigma^2``.
"""

from __future__ import annotations

import dataclasses

import jax

from agents.contextual.lints import lints
from agents.ranking.cascade_ucb import CascadeState, add_round, empty_stats, mean_estimates
from agents.ranking.slates import check_slate, display, top_k
from agents.ranking.top_k import with_top_k
from agents.sampling import beta
from agents.types import Agent, Needs
from simulator import capabilities, pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class CascadeTSHParams:
    alpha0: float = knob(1.0, low=0.0, low_open=True, doc="Beta prior a0 (1: uniform)")
    beta0: float = knob(1.0, low=0.0, low_open=True, doc="Beta prior b0 (1: uniform)")


def posterior_sample(key: jax.Array, state: CascadeState, hparams) -> jax.Array:
    """One draw per item of ``Beta(a0 + S, b0 + T - S)``; ``(L,)`` float32."""
    failures = state.observations - state.clicks
    return beta(key, hparams.alpha0 + state.clicks, hparams.beta0 + failures)


def cascade_ts(num_arms: int = 16, slate_size: int = 2, order: str = "decreasing") -> Agent:
    """CascadeTS: rank the ``k`` largest Beta posterior samples of the attractions.

    Args:
      num_arms: L.
      slate_size: k.
      order: ``"decreasing"`` or ``"increasing"``.

    Reference: W. C. Cheung, V. Tan & Z. Zhong, "A Thompson sampling algorithm for
    cascading bandits", AISTATS 2019; Z. Zhong, W. C. Cheung & V. Tan, "Thompson sampling
    algorithms for cascading bandits", JMLR 2021.
    """
    check_slate("cascade_ts", num_arms, slate_size, order)

    def init(key, hparams):
        return empty_stats(num_arms)

    def scores(key, state, context, hparams):
        key_sample, _ = split_keys(key)
        return posterior_sample(key_sample, state, hparams)

    def act(key, state, context, hparams):
        _, key_ties = split_keys(key)
        return display(top_k(key_ties, scores(key, state, context, hparams), slate_size), order)

    def update(key, state, transition, hparams):
        return add_round(state, transition.action, transition.positions)

    return Agent(
        "cascade_ts",
        init,
        act,
        update,
        CascadeTSHParams,
        {"num_arms": num_arms, "slate_size": slate_size, "order": order},
        estimate=lambda state: mean_estimates(state.clicks, state.observations),
        needs=Needs(action=capabilities.SLATE, num_arms=num_arms, slate_size=slate_size),
        scores=scores,
    )


def cascade_lints(
    num_arms: int = 16, slate_size: int = 2, arm_dim: int = 4, order: str = "decreasing"
) -> Agent:
    """CascadeLinTS (Zong et al. 2016): ``top_k`` over LinTS with a shared model.

    Args:
      num_arms: L.
      slate_size: k.
      arm_dim: d.
      order: ``"decreasing"`` or ``"increasing"``.

    Its hyperparameters are LinTS's: ``v`` (Zong et al.'s ``sigma``) and ``ridge``
    (``lambda sigma^2``).

    Reference: S. Zong et al., "Cascading bandits for large-scale recommendation problems",
    UAI 2016, Algorithm 2.
    """
    check_slate("cascade_lints", num_arms, slate_size, order)
    inner = lints(num_arms=num_arms, arm_dim=arm_dim, mode="shared")
    ranker = with_top_k(inner, slate_size=slate_size, order=order)
    static = {"num_arms": num_arms, "slate_size": slate_size, "arm_dim": arm_dim, "order": order}
    return dataclasses.replace(ranker, name="cascade_lints", static=static)
