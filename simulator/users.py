"""A population of users with drifting preferences, recommended items from a catalog.

The main showcase environment of driftsim: each round one user arrives, the agent picks one
of ``K`` candidate items and the user clicks with a logistic probability; the users'
preferences drift under any drift process of :mod:`simulator.drift`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from simulator import capabilities
from simulator import drift as drift_lib
from simulator.drift import DriftState
from simulator.params import ConfigError, data_field, knob
from simulator.sampling import from_cdf, without_replacement, zipf_cdf
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep, require

Array = jax.Array

ARRIVALS = ("uniform", "zipf")
USER_FEATURES = ("initial", "current")


class UsersState(NamedTuple):
    """State of :class:`DriftingUsers`.

    Attributes:
      prefs: drift state of the preferences; ``prefs.theta (U, d)`` the current ones,
        ``prefs.anchor (U, d)`` the initial ones (the users' recorded profiles).
      items: ``(N, d)`` latent item vectors.
      arrival_cdf: ``(U,)`` cumulative arrival law (``(0,)`` for uniform arrivals).
      user: ``()`` int32, the user of the current context.
      candidates: ``(K,)`` int32 catalog indices of the current candidates.
    """

    prefs: DriftState
    items: Array
    arrival_cdf: Array
    user: Array
    candidates: Array


@flax.struct.dataclass
class DriftingUsersParams:
    scale: float = knob(2.0, low=0.0, doc="click sharpness s in sigmoid(s u.v + b)")
    bias: float = knob(-2.0, doc="click logit offset b (sets the base click rate)")
    shared_taste: float = knob(
        0.5, low=0.0, high=1.0, doc="fraction of preference variance shared by all users"
    )
    feature_noise: float = knob(
        0.0, low=0.0, doc="std of fresh Gaussian noise on every observed feature"
    )
    zipf_exponent: float = knob(
        1.0, low=0.0, doc="Zipf exponent of user arrivals (arrival='zipf'; 0 = uniform)"
    )
    drift: Any = None
    users: Any = data_field("fixed (num_users, dim) initial preferences; None: drawn per run")
    items: Any = data_field("fixed (num_items, dim) item vectors; None: drawn per run")


@dataclasses.dataclass(frozen=True)
class DriftingUsers(Environment):
    """Users with drifting preferences and a catalog of items (logistic clicks).

    Latent vectors, drawn per run from the environment key (or given in ``params.users``,
    ``params.items``)::

        v_n ~ N(0, I / sqrt(d))                                 (N items)
        u_i = sqrt(w) c + sqrt(1 - w) e_i,  c, e_i ~ N(0, I / sqrt(d))   (U users)

    so ``u . v`` has variance about 1 and ``w = shared_taste`` is the share of taste common
    to the whole population (``w = 1``: one user; ``w = 0``: independent users).  Each
    round user ``i_t`` arrives (uniformly, or by a Zipf law ``P(i) ∝ (i + 1)^{-s}``), ``K``
    distinct candidates are drawn from the catalog (the whole catalog, in catalog order,
    when ``K = N``), the agent picks candidate ``a`` and the user clicks::

        r_t = 1[x_t < sigmoid(scale * u_{i_t}(t) . v_a + bias)],   x_t ~ U(0, 1)

    then the preferences ``(U, d)`` drift under ``drift``; endogenous processes see the
    consumption "user ``i_t`` consumed ``v_a``" only when clicked (so ``endogenous`` pulls
    ``u_{i_t}`` toward ``v_a``).

    What the agent sees: ``Context.features`` the user's observed features: the first
    ``observed_dims`` entries of the user's preference (``user_features="initial"``: the
    profile recorded at the start of the run, stale once preferences drift; ``"current"``:
    the current preference) plus ``N(0, feature_noise^2)`` noise; ``Context.arm_features``
    ``(K, observed_dims)`` the candidates' first ``observed_dims`` entries plus noise.  The
    oracle gives the click probability of every candidate under the arriving user's current
    preference, and ``true_param`` is that preference ``(d,)`` (a latent: the runner
    compares no agent's estimate with it).  With ``K = N`` the arms are fixed items, so the
    regret against the best fixed item in hindsight is logged too.  ``Context.user_id`` and
    ``Context.item_ids`` give the user's id and the candidates' catalog ids (``EnvSpec``'s
    ``num_users`` and ``num_items`` are U and N), for id-embedding agents (``two_tower``).

    Cost per round: O(K d) for the clicks and the observation, O(N) to draw ``K < N``
    candidates, O(log U) for a Zipf arrival, plus the drift: O(1) stationary, O(d) for the
    row-local endogenous and rotting processes (only the arriving user changes), O(U d)
    for processes that move every user (random walk, mean reverting, abrupt, periodic,
    rotation, boredom's recovery).

    Args:
      num_users: U.
      num_items: N, the catalog size.
      num_candidates: K <= N candidates per round (the number of arms).
      dim: d, the latent dimension.
      observed_dims: how many latent dimensions the agent sees (None: all ``d``).
      arrival: ``"uniform"`` or ``"zipf"`` (exponent ``params.zipf_exponent``).
      user_features: ``"initial"`` or ``"current"`` (see above).
      drift: a drift name (:func:`simulator.drift.names`); knobs in ``params.drift``.
      drift_options: the drift's static options, e.g. ``(("redraw", "negate"),)``.
      catalog_seed: draw the item vectors once from ``key(catalog_seed)`` into
        ``params.items`` (a data field: one copy shared by every point and seed, and kept
        out of the per-run state); None draws a catalog per run.

    Example::

        env = DriftingUsers(num_users=1000, drift="endogenous")
        params = env.default_params()
        params = params.replace(drift=params.drift.replace(rate=0.1))

    References: the interest-evolution users of RecSim (Ie et al. 2019); logistic click
    models as in Chapelle & Li (2011).
    """

    num_users: int = 100
    num_items: int = 500
    num_candidates: int = 10
    dim: int = 8
    observed_dims: int | None = None
    arrival: str = "uniform"
    user_features: str = "initial"
    drift: str = "stationary"
    drift_options: Any = ()
    catalog_seed: int | None = None

    def __post_init__(self):
        for name in ("num_users", "num_items", "num_candidates", "dim"):
            value = getattr(self, name)
            require(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                f"env.{name} = {value!r}: must be an integer >= 1",
            )
        require(
            self.num_candidates <= self.num_items,
            f"env.num_candidates = {self.num_candidates}: more candidates than the catalog "
            f"has (num_items = {self.num_items}); must be <= num_items",
        )
        require(
            self.observed_dims is None
            or (isinstance(self.observed_dims, int) and 1 <= self.observed_dims <= self.dim),
            f"env.observed_dims = {self.observed_dims!r}: must be None or an integer in "
            f"[1, dim = {self.dim}]",
        )
        require(
            self.arrival in ARRIVALS,
            f"env.arrival = {self.arrival!r}: must be one of {', '.join(ARRIVALS)}",
        )
        require(
            self.user_features in USER_FEATURES,
            f"env.user_features = {self.user_features!r}: must be one of "
            f"{', '.join(USER_FEATURES)}",
        )
        require(
            self.catalog_seed is None
            or (
                isinstance(self.catalog_seed, int)
                and not isinstance(self.catalog_seed, bool)
                and self.catalog_seed >= 0
            ),
            f"env.catalog_seed = {self.catalog_seed!r}: must be None or an integer >= 0",
        )
        drift_lib.attach(self)

    @property
    def num_observed(self) -> int:
        return self.dim if self.observed_dims is None else self.observed_dims

    @property
    def spec(self) -> EnvSpec:
        m = self.num_observed
        return EnvSpec(
            num_arms=self.num_candidates,
            context_dim=m,
            arm_dim=m,
            num_users=self.num_users,
            num_items=self.num_items,
            reward=capabilities.clicks(),
            # the whole catalog as the action set (K = N, in catalog order): arm a is item
            # a every round, so the best fixed item is defined
            fixed_arms=self.num_candidates == self.num_items,
            # true_param is the arriving user's latent preference: the linear agents
            # regress the click on the observed item features pooled over users, a
            # different parameter (no param_error is logged rather than a misleading one)
            param_link="latent",
        )

    def default_params(self) -> DriftingUsersParams:
        params = DriftingUsersParams(drift=self.drift_process.default_params())
        if self.catalog_seed is None:
            return params
        key = jax.random.key(self.catalog_seed)
        items = self.dim**-0.25 * jax.random.normal(key, (self.num_items, self.dim), jnp.float32)
        return params.replace(items=np.asarray(items))

    # pieces --------------------------------------------------------------------------
    def _data(self, value, shape, name):
        array = jnp.asarray(value, jnp.float32)
        if array.shape != shape:
            raise ConfigError(f"env.{name} has shape {tuple(array.shape)}: must be {shape}")
        return array

    def _items(self, state: UsersState, params) -> Array:
        """The catalog: ``params.items`` (held once, shared) when given, else the run's."""
        if params.items is not None:
            return jnp.asarray(params.items, jnp.float32)
        return state.items

    def _latents(self, key: Array, params) -> tuple[Array, Array]:
        key_common, key_users, key_items = jax.random.split(key, 3)
        std = self.dim**-0.25  # variance 1 / sqrt(d) per entry
        if params.items is None:
            items = std * jax.random.normal(key_items, (self.num_items, self.dim), jnp.float32)
        else:
            self._data(params.items, (self.num_items, self.dim), "items")  # check the shape
            items = jnp.zeros((0, self.dim), jnp.float32)  # read from params, not the state
        if params.users is None:
            common = std * jax.random.normal(key_common, (self.dim,), jnp.float32)
            own = std * jax.random.normal(key_users, (self.num_users, self.dim), jnp.float32)
            w = params.shared_taste
            users = jnp.sqrt(w) * common + jnp.sqrt(1.0 - w) * own
        else:
            users = self._data(params.users, (self.num_users, self.dim), "users")
        return users, items

    def click_probability(self, prefs: Array, items: Array, params) -> Array:
        """``sigmoid(scale * items @ prefs + bias)`` for items ``(..., d)`` and prefs ``(d,)``."""
        return jax.nn.sigmoid(params.scale * (items @ prefs) + params.bias)

    def _arrive(self, key: Array, arrival_cdf: Array) -> tuple[Array, Array]:
        key_user, key_candidates = jax.random.split(key)
        if self.arrival == "uniform":
            user = jax.random.randint(key_user, (), 0, self.num_users, dtype=jnp.int32)
        else:
            user = from_cdf(key_user, arrival_cdf)
        candidates = without_replacement(key_candidates, self.num_items, self.num_candidates)
        return user, candidates

    def _timestep(self, key: Array, state: UsersState, reward, params):
        m = self.num_observed
        key_user, key_items = jax.random.split(key)
        if self.user_features == "initial":
            profile = state.prefs.anchor[state.user]
        else:
            profile = state.prefs.theta[state.user]
        candidate_items = self._items(state, params)[state.candidates]
        noise = params.feature_noise
        features = profile[:m] + noise * jax.random.normal(key_user, (m,), jnp.float32)
        arm_features = candidate_items[:, :m] + noise * jax.random.normal(
            key_items, (self.num_candidates, m), jnp.float32
        )
        prefs = state.prefs.theta[state.user]
        oracle = make_oracle(
            self.click_probability(prefs, candidate_items, params),
            change_point=state.prefs.change_point,
            true_param=prefs,
        )
        context = Context(features, arm_features, user_id=state.user, item_ids=state.candidates)
        return make_timestep(context, reward, oracle)

    # contract ------------------------------------------------------------------------
    def reset(self, key, params):
        key_latent, key_drift, key_arrive, key_observe = jax.random.split(key, 4)
        users, items = self._latents(key_latent, params)
        prefs = self.drift_process.init(key_drift, users, params.drift)
        if self.arrival == "zipf":
            arrival_cdf = zipf_cdf(self.num_users, params.zipf_exponent)
        else:
            arrival_cdf = jnp.zeros((0,), jnp.float32)
        user, candidates = self._arrive(key_arrive, arrival_cdf)
        state = UsersState(prefs, items, arrival_cdf, user, candidates)
        return state, self._timestep(key_observe, state, 0.0, params)

    def step(self, key, state, action, params):
        key_click, key_drift, key_arrive, key_observe = jax.random.split(key, 4)
        item = self._items(state, params)[state.candidates[action]]
        p_click = self.click_probability(state.prefs.theta[state.user], item, params)
        click = (jax.random.uniform(key_click, (), jnp.float32) < p_click).astype(jnp.float32)
        prefs = self.drift_process.step_row(
            key_drift, state.prefs, params.drift, state.user, item, click
        )
        user, candidates = self._arrive(key_arrive, state.arrival_cdf)
        next_state = UsersState(prefs, state.items, state.arrival_cdf, user, candidates)
        return next_state, self._timestep(key_observe, next_state, click, params)
