"""Feedback-loop metrics: what a learning recommender does to its users and its catalog.

Opt-in through the experiment's ``metrics = [...]`` (so every other run keeps its numbers
and its speed), computed inside the scan.  With ``S`` a fixed subsample of at most
``SUBSAMPLE = 256`` users (uniform without replacement, drawn from the run key folded with
``WATCH_INDEX``: never from the environment's or the agent's streams, and the same users
for every agent of a seed), ``theta_u(t)`` a user's preference, ``E_i(t)`` the number of
rounds item ``i`` of the ``N``-item catalog was shown so far and ``mu`` expected rewards::

    user_drift       mean_{u in S} ||theta_u(t) - theta_u(0)||         (Jiang et al. 2019's
                     degeneracy is its growth without bound)
    homogeneity      mean_{u < v in S} cos(theta_u(t), theta_v(t))
    coverage         #{i : E_i(t) > 0} / N
    exposure_gini    sum_j (2 j - N - 1) E_(j) / (N sum_i E_i),  E_(1) <= ... <= E_(N)
                     (0 while nothing was shown)
    popularity_bias  Spearman's rho between E_i(t) and the initial popularity
                     p_i = mean_{u in S} mu(theta_u(0), i)  (average ranks for ties; 0 while
                     the exposures are all equal)
    utility          mu_t(a_t) / max_a mu_t(a), the expected reward of what was shown
                     under the user's current preference over the best candidate's (for a
                     slate, its expected clicks over the best slate's)
    utility_initial  the same under the arriving user's initial preference theta_u(0)

``user_drift``, ``homogeneity``, ``exposure_gini`` and ``popularity_bias`` are *snapshots*:
taken once per stored value, at the end of its block of ``record_every`` steps (every
step when ``record_every = 1``), so their cost (``O(S d)`` preference reads, ``O(S^2 d)``,
``O(N log N)``) is paid once per block.  ``coverage``, ``utility`` and ``utility_initial``
are per-round values averaged over the block like every other metric; the exposure counts
are a running ``(N,)`` sum in the carry (``O(k)`` per round).

Who has what: the user metrics (``user_drift``, ``homogeneity``, ``utility_initial``)
need an environment that declares a user population
(:class:`simulator.population.UserPopulation`); the catalog metrics need a catalog the
shown items can be named in: item ids in the context (``EnvSpec.num_items``) or fixed
arms; ``popularity_bias`` also needs an initial popularity: a population's (above) or, with
fixed arms, the first round's expected rewards; ``utility`` needs non-negative expected
rewards.  Slates of fixed arms log ``coverage`` always (:func:`logged`).

At the horizon the executor also keeps each run's exposure Lorenz curve
(:func:`lorenz_curve`, ``LORENZ_POINTS`` values) when ``exposure_gini`` is asked for.

References: Jiang, Chiappa, Lattimore, György & Kohli (2019), "Degenerate feedback loops in
recommender systems", AIES; Chaney, Stewart & Engelhardt (2018), "How algorithmic
confounding in recommendation systems increases homogeneity and decreases utility",
RecSys; Mansoury et al. (2020), "Feedback loop and bias amplification in recommender
systems", CIKM.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.schema import METRICS
from simulator import capabilities, click_models
from simulator.params import ConfigError
from simulator.population import has_population
from simulator.sampling import without_replacement

Array = jax.Array

USER_METRICS = ("user_drift", "homogeneity", "utility_initial")
CATALOG_METRICS = ("coverage", "exposure_gini", "popularity_bias")
#: Every opt-in metric (logged per-round ones first, then the snapshots, each in this order);
#: the schema's list, which it keeps without importing jax.
NAMES = METRICS
#: The metrics taken once per stored value (the others are per-round means).
SNAPSHOTS = ("user_drift", "homogeneity", "exposure_gini", "popularity_bias")
#: At most this many users are followed by the user metrics.
SUBSAMPLE = 256
#: fold-in index of the subsample's key in the run key (never a step index).
WATCH_INDEX = 0xFFFFFFFE
#: Values of the Lorenz curve kept at the horizon (shares 0, 1/100, ..., 1 of the items).
LORENZ_POINTS = 101
#: Items per block when the initial popularity of a large catalog is computed.
POPULARITY_BLOCK = 4096


class Watch(NamedTuple):
    """The carry of the feedback-loop metrics (None where a metric is not asked for).

    Attributes:
      users: ``(S,)`` int32 the followed users.
      exposure: ``(N,)`` int32 rounds each item was shown so far.
      distinct: ``()`` int32 items shown at least once.
      popularity: ``(N,)`` float32 the items' initial popularity.
    """

    users: Any = None
    exposure: Any = None
    distinct: Any = None
    popularity: Any = None


# Who has what --------------------------------------------------------------------------
def catalog_size(env: Any) -> int:
    """``N``: the catalog ids' range (``EnvSpec.num_items``, or the arms where they are
    fixed); 0 where shown items cannot be named."""
    spec = env.spec
    if spec.action not in (capabilities.ARM, capabilities.SLATE):
        return 0
    if spec.num_items > 0:
        return spec.num_items
    return spec.num_arms if spec.fixed_arms else 0


def missing(env: Any, name: str) -> str | None:
    """Why ``env`` cannot log metric ``name`` (None when it can)."""
    spec = env.spec
    population = has_population(env)
    if name in USER_METRICS and not population:
        return "needs an environment with a user population (drifting_users)"
    if name in CATALOG_METRICS and not catalog_size(env):
        return "needs a catalog (item ids in the context, or fixed arms) and arm or slate actions"
    if name == "popularity_bias" and not (population or spec.fixed_arms):
        return "needs the items' initial popularity (a user population, or fixed arms)"
    if name == "utility" and (
        spec.action not in (capabilities.ARM, capabilities.SLATE) or spec.reward.low < 0
    ):
        return "needs arm or slate actions with non-negative expected rewards"
    return None


def check(env: Any, names: Any, field: str = "metrics") -> tuple[str, ...]:
    """Validate an experiment's ``metrics`` for ``env`` (ConfigError naming ``field`` and
    the allowed values), before any compilation; returns them as a tuple in log order."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ConfigError(f"{field} = {names!r}: a list of names from {', '.join(NAMES)}")
    for name in names:
        if name not in NAMES:
            raise ConfigError(f"{field}: unknown metric {name!r}; allowed: {', '.join(NAMES)}")
        why = missing(env, name)
        if why is not None:
            raise ConfigError(f"{field}: {name!r} {why}; {type(env).__name__} has none")
    return tuple(n for n in NAMES if n in names)


def logged(env: Any, names: Any = ()) -> tuple[str, ...]:
    """The metrics a run of ``env`` logs, in log order: ``names`` (checked by :func:`check`)
    and, where the environment shows slates of fixed arms, ``coverage`` always (the share
    of the arms a ranker has shown is part of every slate experiment's log)."""
    spec = env.spec
    always = ("coverage",) if spec.action == capabilities.SLATE and spec.fixed_arms else ()
    return tuple(n for n in NAMES if n in names or n in always)


# In the scan ---------------------------------------------------------------------------
def shown_items(env: Any, timestep: Any, action: Array) -> Array:
    """The catalog ids ``(k,)`` the action shows (``(1,)`` for one arm)."""
    ids = jnp.atleast_1d(jnp.asarray(action, jnp.int32))
    item_ids = timestep.context.item_ids
    if item_ids is not None and env.spec.num_items > 0:
        return jnp.asarray(item_ids, jnp.int32)[ids]
    return ids


def init(env, names, key, env_state, env_params, timestep) -> Watch:
    """The metrics' carry at reset (``key``: the subsample's own key)."""
    if not names:
        return Watch()
    users = exposure = distinct = popularity = None
    follows_users = any(n in names for n in ("user_drift", "homogeneity", "popularity_bias"))
    if follows_users and has_population(env):
        num_users = env.spec.num_users
        users = without_replacement(key, num_users, min(SUBSAMPLE, num_users))
    if any(n in names for n in CATALOG_METRICS):
        exposure = jnp.zeros((catalog_size(env),), jnp.int32)
        distinct = jnp.zeros((), jnp.int32)
    if "popularity_bias" in names:
        popularity = initial_popularity(env, env_state, env_params, timestep, users)
    return Watch(users, exposure, distinct, popularity)


def initial_popularity(env, env_state, env_params, timestep, users) -> Array:
    """``p_i``: the mean initial expected reward of item ``i`` over the followed users (a
    population), or the first round's expected rewards (fixed arms); ``(N,)`` float32."""
    if users is None:
        return jnp.asarray(timestep.oracle.expected_reward, jnp.float32)
    num_items = catalog_size(env)
    prefs = env.initial_preferences(env_state, env_params, users)
    block = min(num_items, POPULARITY_BLOCK)
    num_blocks = -(-num_items // block)

    def one_block(start):
        ids = jnp.minimum(start + jnp.arange(block, dtype=jnp.int32), num_items - 1)
        return jnp.mean(env.attractions(env_state, env_params, prefs, ids), axis=0)

    starts = block * jnp.arange(num_blocks, dtype=jnp.int32)
    return jax.lax.map(one_block, starts).reshape(-1)[:num_items].astype(jnp.float32)


def observe(env, names, watch: Watch, env_state, env_params, timestep, action):
    """One round: count the exposure; returns ``(watch, {name: per-round value})``."""
    out: dict[str, Array] = {}
    if watch.exposure is not None:
        ids = shown_items(env, timestep, action)
        first_time = jnp.sum(watch.exposure[ids] == 0, dtype=jnp.int32)
        watch = watch._replace(
            exposure=watch.exposure.at[ids].add(1), distinct=watch.distinct + first_time
        )
        if "coverage" in names:
            out["coverage"] = watch.distinct.astype(jnp.float32) / watch.exposure.shape[0]
    if "utility" in names:
        out["utility"] = utility(env, timestep.oracle.expected_reward, action)
    if "utility_initial" in names:
        initial = env.initial_attractions(env_state, env_params)
        out["utility_initial"] = utility(env, initial, action)
    return watch, out


def utility(env, mu: Array, action: Array) -> Array:
    """``value(action) / best value`` under expected rewards ``mu (K,)``: ``mu[a] / max mu``
    for one arm, expected clicks of the slate over the best slate's (1 where the best is 0)."""
    mu = jnp.asarray(mu, jnp.float32)
    if env.spec.action == capabilities.SLATE:
        chain = env.click_chain
        chosen = click_models.expected_clicks(chain, mu[action])
        best = click_models.best_value(chain, mu)
    else:
        chosen, best = mu[action], jnp.max(mu)
    return jnp.where(best > 0, chosen / jnp.where(best > 0, best, 1.0), 1.0).astype(jnp.float32)


def snapshot(env, names, watch: Watch, env_state, env_params) -> dict[str, Array]:
    """The snapshot metrics (:data:`SNAPSHOTS`) of the state at the end of a block."""
    out: dict[str, Array] = {}
    if "user_drift" in names or "homogeneity" in names:
        now = env.current_preferences(env_state, env_params, watch.users)
        if "user_drift" in names:
            start = env.initial_preferences(env_state, env_params, watch.users)
            out["user_drift"] = jnp.mean(jnp.linalg.norm(now - start, axis=-1))
        if "homogeneity" in names:
            out["homogeneity"] = mean_pairwise_cosine(now)
    if "exposure_gini" in names:
        out["exposure_gini"] = gini(watch.exposure)
    if "popularity_bias" in names:
        out["popularity_bias"] = spearman(watch.exposure, watch.popularity)
    return {n: jnp.asarray(out[n], jnp.float32) for n in NAMES if n in out}


# The statistics (each checked against numpy in the tests) --------------------------------
def mean_pairwise_cosine(vectors: Array) -> Array:
    """``mean_{u < v} cos(x_u, x_v)`` of the rows of ``vectors (S, d)`` (``S >= 2``; 1 for
    one row); a zero row has cosine 0 with every other."""
    count = vectors.shape[0]
    if count < 2:
        return jnp.ones((), jnp.float32)
    norms = jnp.linalg.norm(vectors, axis=-1, keepdims=True)
    unit = vectors / jnp.maximum(norms, 1e-12)
    cosines = unit @ unit.T
    off_diagonal = jnp.sum(cosines) - jnp.sum(jnp.diagonal(cosines))
    return off_diagonal / (count * (count - 1))


def gini(counts: Array) -> Array:
    """Gini coefficient of non-negative ``counts (N,)``: 0 when equal (or all 0), ``1 -
    1/N`` when one item has everything."""
    x = jnp.sort(jnp.asarray(counts, jnp.float32))
    n = x.shape[0]
    weights = 2.0 * jnp.arange(1, n + 1, dtype=jnp.float32) - n - 1.0
    total = jnp.sum(x)
    return jnp.where(total > 0, jnp.sum(weights * x) / (n * jnp.where(total > 0, total, 1.0)), 0.0)


def average_ranks(x: Array) -> Array:
    """1-based ranks of ``x (N,)`` with ties given their average rank."""
    x = jnp.asarray(x, jnp.float32)
    ordered = jnp.sort(x)
    below = jnp.searchsorted(ordered, x, side="left")
    through = jnp.searchsorted(ordered, x, side="right")
    return (below + through + 1).astype(jnp.float32) / 2.0


def spearman(x: Array, y: Array) -> Array:
    """Spearman's rank correlation of ``x`` and ``y (N,)`` (average ranks for ties); 0 when
    either is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - jnp.mean(rx), ry - jnp.mean(ry)
    scale = jnp.sqrt(jnp.sum(rx * rx) * jnp.sum(ry * ry))
    return jnp.where(scale > 0, jnp.sum(rx * ry) / jnp.where(scale > 0, scale, 1.0), 0.0)


def lorenz_curve(counts: np.ndarray, num_points: int = LORENZ_POINTS) -> np.ndarray:
    """The exposure Lorenz curve of ``counts (..., N)``: at shares ``p = 0, 1/(P-1), ...,
    1`` of the items, least exposed first, the share of all exposure they received
    (linear between the items); the diagonal when nothing was shown.  ``(..., P)``."""
    counts = np.sort(np.asarray(counts, np.float64), axis=-1)
    n = counts.shape[-1]
    cumulative = np.concatenate([np.zeros(counts.shape[:-1] + (1,)), counts.cumsum(-1)], -1)
    total = cumulative[..., -1:]
    items = np.linspace(0.0, 1.0, n + 1)
    shares = np.where(total > 0, cumulative / np.where(total > 0, total, 1.0), items)
    grid = np.linspace(0.0, 1.0, num_points)
    flat = shares.reshape(-1, n + 1)
    curves = np.stack([np.interp(grid, items, row) for row in flat])
    return curves.reshape(counts.shape[:-1] + (num_points,)).astype(np.float32)


__all__ = [
    "NAMES",
    "SNAPSHOTS",
    "SUBSAMPLE",
    "Watch",
    "average_ranks",
    "check",
    "gini",
    "init",
    "lorenz_curve",
    "mean_pairwise_cosine",
    "observe",
    "snapshot",
    "spearman",
    "utility",
]
