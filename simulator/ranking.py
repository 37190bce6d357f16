"""Ranked slates: a catalog of ``L`` items, a slate of ``k`` of them, clicks by a click model.

The environment of the cascading-bandit literature (Kveton et al. 2015): every round the
agent shows a ranked slate ``A = (a_1, ..., a_k)`` of distinct items and the user clicks by
the :mod:`~simulator.click_models` chain (cascade, position-based or dependent click model);
the reward is the number of clicks, the feedback the per-position clicks and the positions
the agent knows were examined.  Regret is against the best slate: the ``k`` most attractive
items in decreasing order.

Attractions ``w (L,)``:

* by default Kveton et al.'s synthetic problem (2015, §5): the ``num_best`` first items
  (default ``k``) attract with probability ``p = attraction`` and the others with
  ``p - gap``; or ``means``, fixed;
* with ``arm_dim = d >= 2``, a linear cascade (Zong et al. 2016): item ``e`` has features
  ``x_e = (1, u_e)``, ``u_e`` uniform on the unit sphere of ``R^{d-1}``, the preference is
  ``theta = (p, gap * v)`` with ``v`` uniform on that sphere (both drawn per run), and
  ``w(e) = x_e . theta`` in ``[p - gap, p + gap]`` (true_param: ``theta``);
* moved by any drift process of :mod:`simulator.drift` (``drift``; default stationary):
  the drift acts on ``w`` itself, or on ``theta`` in the linear case, and ``w`` is clipped
  (or reflected: ``bound``) into ``[0, 1]``, so abrupt changes of attractions give
  Li & de Rijke's (2019) non-stationary cascade.  A click is the consumption of the
  clicked item (the first one where several are clicked): ``endogenous`` drift pulls its
  attraction (linear case: ``theta`` toward its features).

Common random numbers: one uniform per item per round (a function of the round's key and
the item) decides attraction, so every agent's slate meets the same user for a seed (see
:func:`simulator.click_models.sample`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from simulator import capabilities, click_models, pytree
from simulator import drift as drift_lib
from simulator.drift import Consumption, DriftState
from simulator.params import knob
from simulator.piecewise import BOUNDS, reflect_unit, unit_means
from simulator.registry import Registry
from simulator.types import (
    Context,
    Environment,
    EnvSpec,
    StepLog,
    empty_context,
    make_oracle,
    make_timestep,
    no_positions,
    require,
)

Array = jax.Array


class RankingState(NamedTuple):
    """One run's world: the drift state of ``w (L,)`` (or of ``theta (d,)``), and the item
    features ``(L, d)`` (``(L, 0)`` without features)."""

    drift: DriftState
    features: Array


@pytree.dataclass
class RankingParams:
    attraction: float = knob(
        0.2, low=0.0, high=1.0, doc="p: attraction of the best items (Kveton et al. 2015)"
    )
    gap: float = knob(0.15, low=0.0, high=1.0, doc="Delta: the other items attract with p - Delta")
    drift: Any = None


@dataclasses.dataclass(frozen=True)
class RankingBandit(Environment):
    """Ranked slates of ``slate_size`` out of ``num_arms`` items under a click model.

    Args:
      num_arms: L, the items of the catalog.
      slate_size: k, the positions of a slate (``1 <= k <= L``).
      click_model: ``"cascade"`` (default), ``"pbm"`` or ``"dcm"``.
      examination: the PBM's ``kappa (k,)``, non-increasing (default ``1 / j``).
      continuation: the DCM's ``lambda (k,)``, non-increasing (default 0.5).
      num_best: how many items attract with ``p`` (default ``k``); the rest ``p - gap``.
      means: fixed attractions ``(L,)`` in [0, 1] instead (``attraction``/``gap`` unused).
      arm_dim: 0, or ``d >= 2`` for the linear cascade above.
      drift, drift_options: the drift process of the attractions (default stationary).
      bound: ``"clip"`` (default) or ``"reflect"`` a drifted attraction into [0, 1].
      num_relevant: m, the size of the relevant set of precision and recall (default
        ``2 k``, so that the two differ).

    The per-step log (:func:`slate_log_type`): ``reward`` (clicks), ``regret`` against the
    best slate, ``optimal``, the ranking metrics of :func:`ranking_metrics` against the true
    attractions (``precision``, ``recall``, ``ndcg``), the intra-slate ``diversity`` where
    items have features, and the clicks at each position (``click_1`` .. ``click_k``: their
    means are the CTR by position); the runner adds ``coverage``, the share of the catalog
    shown so far.

    Example::

        env = RankingBandit(num_arms=16, slate_size=4)                 # Kveton et al. §5
        env = RankingBandit(num_arms=10, slate_size=3, click_model="pbm")

    References: N. Craswell, O. Zoeter, M. Taylor & B. Ramsey, "An experimental comparison
    of click position-bias models", WSDM 2008; B. Kveton, C. Szepesvári, Z. Wen & A. Ashkan,
    "Cascading bandits: learning to rank in the cascade model", ICML 2015; S. Zong et al.,
    "Cascading bandits for large-scale recommendation problems", UAI 2016; C. Li &
    M. de Rijke, "Cascading non-stationary bandits", IJCAI 2019.
    """

    num_arms: int = 16
    slate_size: int = 2
    click_model: str = click_models.CASCADE
    examination: tuple[float, ...] | None = None
    continuation: tuple[float, ...] | None = None
    num_best: int | None = None
    means: tuple[float, ...] | None = None
    arm_dim: int = 0
    drift: str = "stationary"
    drift_options: Any = ()
    bound: str = "clip"
    num_relevant: int | None = None

    def __post_init__(self):
        require(
            isinstance(self.num_arms, int) and self.num_arms >= 2,
            f"env.num_arms = {self.num_arms!r}: must be an integer >= 2",
        )
        require(
            isinstance(self.slate_size, int) and 1 <= self.slate_size <= self.num_arms,
            f"env.slate_size = {self.slate_size!r}: must be an integer in "
            f"[1, num_arms = {self.num_arms}]",
        )
        chain = click_models.chain(
            self.click_model, self.slate_size, self.examination, self.continuation
        )
        object.__setattr__(self, "click_chain", chain)
        for field in ("examination", "continuation"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, tuple(float(v) for v in value))
        if self.num_best is not None:
            require(
                isinstance(self.num_best, int) and 1 <= self.num_best <= self.num_arms,
                f"env.num_best = {self.num_best!r}: must be an integer in [1, {self.num_arms}]",
            )
        if self.means is not None:
            object.__setattr__(self, "means", unit_means(self.means, self.num_arms, "attraction"))
        require(
            isinstance(self.arm_dim, int) and (self.arm_dim == 0 or self.arm_dim >= 2),
            f"env.arm_dim = {self.arm_dim!r}: must be 0 (no features) or an integer >= 2 "
            "(the linear cascade: features (1, u) with u on the unit sphere of R^(d-1))",
        )
        require(
            not (self.arm_dim and self.means is not None),
            "env.means: fixed attractions have no features; leave arm_dim = 0",
        )
        if self.num_relevant is not None:
            require(
                isinstance(self.num_relevant, int) and 1 <= self.num_relevant <= self.num_arms,
                f"env.num_relevant = {self.num_relevant!r}: must be an integer in "
                f"[1, num_arms = {self.num_arms}]",
            )
        require(
            self.bound in BOUNDS,
            f"env.bound = {self.bound!r}: must be one of {', '.join(BOUNDS)}",
        )
        drift_lib.attach(self)

    @property
    def spec(self) -> EnvSpec:
        # The cascade's reward (one click at most) is a click; the PBM's and the DCM's
        # count up to k clicks.
        if self.click_model == click_models.CASCADE:
            reward = capabilities.clicks()
        else:
            reward = capabilities.bounded(0.0, float(self.slate_size))
        return EnvSpec(
            num_arms=self.num_arms,
            context_dim=0,
            arm_dim=self.arm_dim,
            action=capabilities.SLATE,
            slate_size=self.slate_size,
            reward=reward,
            fixed_arms=True,
            feature_bound=math.sqrt(2.0) if self.arm_dim else math.inf,
            param_link="identity",
        )

    def default_params(self) -> RankingParams:
        return RankingParams(drift=self.drift_process.default_params())

    # The world ----------------------------------------------------------------------------
    def _initial(self, key: Array, params) -> tuple[Array, Array]:
        """``(theta_0, features)``: the attractions ``(L,)`` (or ``theta (d,)`` and the item
        features ``(L, d)`` of the linear cascade)."""
        if self.arm_dim:
            key_items, key_pref = jax.random.split(key)
            d = self.arm_dim
            u = jax.random.normal(key_items, (self.num_arms, d - 1), jnp.float32)
            u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
            v = jax.random.normal(key_pref, (d - 1,), jnp.float32)
            v = v / jnp.linalg.norm(v)
            features = jnp.concatenate([jnp.ones((self.num_arms, 1), jnp.float32), u], axis=1)
            theta = jnp.concatenate([jnp.reshape(params.attraction, (1,)), params.gap * v])
            return theta.astype(jnp.float32), features
        features = jnp.zeros((self.num_arms, 0), jnp.float32)
        if self.means is not None:
            return jnp.asarray(self.means, jnp.float32), features
        num_best = self.slate_size if self.num_best is None else self.num_best
        best = jnp.arange(self.num_arms) < num_best
        w = jnp.where(best, params.attraction, params.attraction - params.gap)
        return w.astype(jnp.float32), features

    def attractions(self, state: RankingState) -> Array:
        """``w (L,)`` in [0, 1] of the current state."""
        theta = state.drift.theta
        raw = state.features @ theta if self.arm_dim else theta
        if self.bound == "reflect":
            return reflect_unit(raw)
        return jnp.clip(raw, 0.0, 1.0)

    def _timestep(self, state: RankingState, reward, positions):
        w = self.attractions(state)
        oracle = make_oracle(w, change_point=state.drift.change_point, true_param=state.drift.theta)
        context = (
            Context(features=jnp.zeros((0,), jnp.float32), arm_features=state.features)
            if self.arm_dim
            else empty_context(self.num_arms)
        )
        return make_timestep(context, reward, oracle, positions=positions)

    def reset(self, key, params):
        key_world, key_drift = jax.random.split(key)
        theta0, features = self._initial(key_world, params)
        drift_state = self.drift_process.init(key_drift, theta0, params.drift)
        state = RankingState(drift=drift_state, features=features)
        return state, self._timestep(state, 0.0, no_positions(self.slate_size))

    def step(self, key, state, action, params):
        key_click, key_drift = jax.random.split(key)
        slate = jnp.asarray(action, jnp.int32)
        w = self.attractions(state)
        positions = click_models.sample(self.click_chain, key_click, w[slate], slate)
        position, clicked = click_models.first_click(positions)
        consumed = slate[position]
        weight = clicked.astype(jnp.float32)
        if self.arm_dim:
            drift_state = self.drift_process.step(
                key_drift,
                state.drift,
                params.drift,
                Consumption(target=state.features[consumed], mask=weight),
            )
        else:
            drift_state = self.drift_process.step_row(
                key_drift, state.drift, params.drift, consumed, jnp.ones((), jnp.float32), weight
            )
        state = RankingState(drift=drift_state, features=state.features)
        reward = jnp.sum(positions.clicks)
        return state, self._timestep(state, reward, positions)

    def log(self, timestep, action, next_timestep):
        """Reward (clicks), regret against the best slate, the ranking metrics and the
        clicks by position (:func:`slate_log`)."""
        return slate_log(self.click_chain, self.num_relevant, timestep, action, next_timestep)


def slate_log(click_chain, num_relevant: int | None, timestep, action, next_timestep):
    """The per-step log of a slate ``action (k,)`` shown on ``timestep``: reward (clicks),
    regret against the best slate ``max_A f(A, w) - f(A_t, w)`` and optimality (``f(A_t, w)``
    within 1e-6 of the best) under ``click_chain``, with ``w = oracle.expected_reward`` the
    candidates' attractions, the :class:`RankingMetrics` against ``w`` (``num_relevant``
    None: ``2 k``) and the clicks by position (:func:`slate_log_type`)."""
    w = timestep.oracle.expected_reward
    k = action.shape[0]
    num_relevant = min(2 * k if num_relevant is None else num_relevant, w.shape[0])
    tops = click_models.largest(w, min(max(num_relevant + 1, k), w.shape[0]))[0]
    chosen = click_models.expected_clicks(click_chain, w[action])
    best = click_models.expected_clicks(click_chain, tops[:k])
    regret = best - chosen
    metrics = ranking_metrics(w, action, num_relevant, tops)
    clicks = next_timestep.positions.clicks
    features = timestep.context.arm_features
    diversity = features.shape[-1] > 0 and k >= 2
    extra = (intra_slate_diversity(features[action]),) if diversity else ()
    return slate_log_type(k, diversity)(
        jnp.asarray(next_timestep.reward, jnp.float32),
        regret.astype(jnp.float32),
        (regret <= 1e-6).astype(jnp.float32),
        *metrics,
        *extra,
        *(clicks[j] for j in range(k)),
    )


def intra_slate_diversity(features: Array) -> Array:
    """``1 - mean_{i < j} cos(x_i, x_j)`` over the slate's items' features ``(k, m)``
    (``k >= 2``): 0 for a slate of one direction, 1 for orthogonal items.  The features are
    what the agent sees (``Context.arm_features``)."""
    norms = jnp.linalg.norm(features, axis=-1, keepdims=True)
    unit = features / jnp.maximum(norms, 1e-12)
    cosine = unit @ unit.T
    k = features.shape[0]
    pairs = jnp.sum(jnp.triu(cosine, k=1)) / (k * (k - 1) / 2)
    return (1.0 - pairs).astype(jnp.float32)


class RankingMetrics(NamedTuple):
    """Precision@k, recall@k and NDCG@k of one slate against the true attractions."""

    precision: Array
    recall: Array
    ndcg: Array


def ranking_metrics(
    w: Array, slate: Array, num_relevant: int, tops: Array | None = None
) -> RankingMetrics:
    """The ranking metrics of ``slate (k,)`` against the attractions ``w (L,)``.

    Relevant items: ``R = {e : w(e) > w_(m+1)}``, the ``m`` most attractive items less
    those tied with the ``(m+1)``-th (so a tie never makes relevance arbitrary: on Kveton
    et al.'s problem, the ``k`` best of ``m = 2k``); every item when ``m = L`` or when all
    attractions are equal::

        precision@k = |A ∩ R| / k        recall@k = |A ∩ R| / |R|
        NDCG@k = sum_j w(a_j) / log2(j + 1)  /  sum_j w_(j) / log2(j + 1)

    with graded gains equal to the true attraction and ``w_(j)`` the ``j``-th largest
    (positions ``j = 1..k``; 1 when every attraction is 0).  ``O(L m)``
    (:func:`~simulator.click_models.largest`; pass ``tops``, the
    ``min(max(m + 1, k), L)`` largest attractions in decreasing order, when at hand).
    """
    k = slate.shape[0]
    if tops is None:
        tops = click_models.largest(w, min(max(num_relevant + 1, k), w.shape[0]))[0]
    if num_relevant < w.shape[0]:
        relevant = w > tops[num_relevant]
        relevant = jnp.where(jnp.any(relevant), relevant, True)
    else:
        relevant = jnp.ones(w.shape, jnp.bool_)
    hits = jnp.sum(relevant[slate]).astype(jnp.float32)
    discounts = 1.0 / jnp.log2(jnp.arange(k, dtype=jnp.float32) + 2.0)
    ideal = jnp.sum(tops[:k] * discounts)
    dcg = jnp.sum(w[slate] * discounts)
    ndcg = jnp.where(ideal > 0, dcg / jnp.maximum(ideal, 1e-30), 1.0)
    return RankingMetrics(
        precision=hits / k,
        recall=hits / jnp.sum(relevant).astype(jnp.float32),
        ndcg=ndcg.astype(jnp.float32),
    )


@functools.cache
def slate_log_type(slate_size: int, diversity: bool = False) -> type:
    """The per-step log of a ``slate_size``-position environment: :class:`StepLog`'s fields,
    the :class:`RankingMetrics`, ``diversity`` where the items have features
    (:func:`intra_slate_diversity`) and ``click_1 .. click_k``."""
    fields = (
        *StepLog._fields,
        *RankingMetrics._fields,
        *(("diversity",) if diversity else ()),
        *(f"click_{j}" for j in range(1, slate_size + 1)),
    )
    name = f"SlateLog{slate_size}" + ("Diversity" if diversity else "")
    log_type = NamedTuple(name, [(f, Any) for f in fields])
    # how a stored program's output structure names it (experiments.program_cache)
    log_type.__driftsim_reduce__ = (slate_log_type, (slate_size, diversity))
    return log_type


def register_all(registry: Registry) -> None:
    registry.register("cascade", RankingBandit)  # click_model = "pbm" / "dcm" too
