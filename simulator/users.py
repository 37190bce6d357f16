"""A population of users with drifting preferences, recommended items from a catalog.

The main showcase environment of driftsim: each round one user arrives, the agent picks one
of ``K`` candidate items and the user clicks with a logistic probability; the users'
preferences drift under any drift process of :mod:`simulator.drift`.

Users scale like items: nothing of size ``U x d`` or ``N x d`` is drawn or stored.  User
``u``'s initial taste and item ``n``'s vector are fixed functions of the run's key and the
id, drawn when needed, and a user's preference is brought up to date only when the user
arrives, from the drift's lazy form (:meth:`simulator.drift.Drift.population_rows`), which
has exactly the law of moving every user every step.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from simulator import capabilities, click_models, pytree
from simulator import drift as drift_lib
from simulator.params import ConfigError, data_field, knob
from simulator.ranking import slate_log
from simulator.sampling import from_cdf, without_replacement, zipf_cdf
from simulator.types import (
    Context,
    Environment,
    EnvSpec,
    make_oracle,
    make_timestep,
    no_positions,
    require,
)

Array = jax.Array

ARRIVALS = ("uniform", "zipf")
USER_FEATURES = ("initial", "current")
#: fold-in index of the logit noise's key in the click key (never an item id).
LOGIT_NOISE = 0xFFFFFFFF
#: A run keeps its catalog (drawn at reset, the same vectors as on demand) when it holds at
#: most this many floats (256 KiB) or is shown whole: a gather is cheaper than K draws.
KEEP_CATALOG = 1 << 16


class UsersState(NamedTuple):
    """State of :class:`DriftingUsers`.

    Read preferences and items through :meth:`DriftingUsers.current_preferences`,
    :meth:`~DriftingUsers.initial_preferences` and :meth:`~DriftingUsers.item_vectors`.

    Attributes:
      prefs: the drift of the preferences: a lazy :class:`~simulator.drift.Population`
        (every registered process; O(1) for exogenous drift, one memory row per user for
        the consumption-driven ones), or, for a process without a lazy form (a plugin's),
        the eager :class:`~simulator.drift.DriftState` of all ``(U, d)`` preferences.
      people: typed key: user ``u``'s own taste is drawn from ``fold_in(people, u)``.
      common: ``(d,)`` the taste component shared by every user (``c`` below).
      catalog: typed key: item ``n``'s vector is drawn from ``fold_in(catalog, n)``.
      items: ``(N, d)`` the run's catalog, kept when it is not given in ``params.items``
        and is small (``N d <= KEEP_CATALOG``) or shown whole (``K = N``); ``(0, d)``
        otherwise (drawn on demand).
      arrival_cdf: ``(U,)`` cumulative arrival law (``(0,)`` for uniform arrivals).
      user: ``()`` int32, the user of the current context.
      candidates: ``(K,)`` int32 catalog indices of the current candidates.
      pref: ``(d,)`` the current preference of ``user``.
      profile: ``(d,)`` the initial preference of ``user`` (the recorded profile).
    """

    prefs: Any
    people: Array
    common: Array
    catalog: Array
    items: Array
    arrival_cdf: Array
    user: Array
    candidates: Array
    pref: Array
    profile: Array


@pytree.dataclass
class DriftingUsersParams:
    scale: float = knob(2.0, low=0.0, doc="click sharpness s in sigmoid(s u.v + b)")
    bias: float = knob(-2.0, doc="click logit offset b (sets the base click rate)")
    shared_taste: float = knob(
        0.5, low=0.0, high=1.0, doc="fraction of preference variance shared by all users"
    )
    feature_noise: float = knob(
        0.0, low=0.0, doc="std of fresh Gaussian noise on every observed feature"
    )
    logit_noise: float = knob(
        0.0, low=0.0, doc="w: fresh U[-w, w] noise on each shown item's click logit"
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
    to the whole population (``w = 1``: one user; ``w = 0``: independent users).  They are
    drawn on demand: ``v_n`` from the run's key folded with ``n`` when item ``n`` is a
    candidate, ``e_i`` from the run's key folded with ``i`` when user ``i`` arrives, so no
    ``(N, d)`` or ``(U, d)`` array exists (``population_seed`` draws the users from a fixed
    key instead: the same population in every run).  Each
    round user ``i_t`` arrives (uniformly, or by a Zipf law ``P(i) ∝ (i + 1)^{-s}``), ``K``
    distinct candidates are drawn from the catalog (the whole catalog, in catalog order,
    when ``K = N``), the agent picks candidate ``a`` and the user clicks::

        r_t = 1[x_t < sigmoid(scale * u_{i_t}(t) . v_a + bias)],   x_t ~ U(0, 1)

    then the preferences ``(U, d)`` drift under ``drift``; endogenous processes see the
    consumption "user ``i_t`` consumed ``v_a``" only when clicked (so ``endogenous`` pulls
    ``u_{i_t}`` toward ``v_a``), and ``interest`` sees the exposure: every shown (and, in
    a cascade, examined) item with its reaction, clicked or not.  With ``logit_noise = w``
    each shown item's click logit gets fresh ``U[-w, w]`` noise (Khritankov & Pilkevich's
    additive noise); the oracle's click probabilities leave it out.  The drift is evaluated lazily: the arriving user's
    preference is computed at their arrival from the drift's lazy form, exactly in law
    (jointly over users and time) the process that moves all ``U`` users every step; the
    exogenous processes' randomness comes from the environment key only, so every agent
    meets the same preferences at the same time for a seed (:mod:`simulator.drift`).

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

    Cost per round, independent of U and N: O(K d) for the clicks, the observation and the
    candidates' vectors, O(K^2) (K <= 64) or O(K log K) to draw ``K`` candidates
    (:func:`simulator.sampling.without_replacement`), O(log U) for a Zipf arrival, and
    O(d) for the arriving user's preference (O(32 d) for the random walk and the
    mean-reverting process, whose paths are read through a Gaussian bridge).  State per
    run: O(d) for the exogenous processes; ``(U, d)`` for endogenous and boredom and
    ``(U,)`` for rotting, which remember what each user consumed; ``(U,)`` for a Zipf
    arrival law; a small catalog (``N d <= 65536``) or one shown whole is kept per run
    (the same vectors as on demand; a gather beats ``K`` draws).  Reset: O(1), except
    O(U d) work (no memory) to take the population's ``rms`` for the abrupt ``gaussian``
    redraw, and O(N d) for a kept catalog.

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
      one_hot_items: item ``n`` is the unit vector ``e_n`` (needs ``dim = num_items``): a
        preference is then the vector of the user's interests in every item, the setting
        of Jiang et al. (2019) and Khritankov & Pilkevich (2021) (with ``scale = 1``,
        ``bias = 0`` the click probability is ``sigmoid(interest)``).
      population_seed: draw the users' initial tastes from ``key(population_seed)``
        instead of the run's key: one population for every run (seed and point), still
        drawn on demand, so nothing is stored and ``shared_taste`` stays a traced knob;
        None draws a population per run.  ``params.users``, when given, wins.
      slate_size: k; above 1 the agent shows a ranked slate of ``k`` of the ``K``
        candidates and the user clicks by ``click_model`` (see below).
      click_model, examination, continuation, num_relevant: the slate's click model
        (``"cascade"``, ``"pbm"`` with ``kappa``, ``"dcm"`` with ``lambda``) and the size of
        the relevant set of the ranking metrics, as in
        :class:`~simulator.ranking.RankingBandit`.

    Slates (``slate_size = k > 1``): a candidate's attraction is its click probability
    above, and the click model turns the slate's attractions into position clicks
    (:mod:`simulator.click_models`); the reward is the number of clicks, the consumption
    the first clicked item; the log is :func:`simulator.ranking.slate_log` (regret against
    the best slate of the candidates, precision, recall and NDCG@k, clicks by position).

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
    population_seed: int | None = None
    one_hot_items: bool = False
    slate_size: int = 1
    click_model: str = click_models.CASCADE
    examination: tuple[float, ...] | None = None
    continuation: tuple[float, ...] | None = None
    num_relevant: int | None = None

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
            not self.one_hot_items or (self.dim == self.num_items and self.catalog_seed is None),
            f"env.one_hot_items = true: item n is the unit vector e_n, so dim must equal "
            f"num_items (dim = {self.dim}, num_items = {self.num_items}) and catalog_seed "
            f"must be unset",
        )
        for name in ("catalog_seed", "population_seed"):
            value = getattr(self, name)
            require(
                value is None
                or (isinstance(value, int) and not isinstance(value, bool) and value >= 0),
                f"env.{name} = {value!r}: must be None or an integer >= 0",
            )
        require(
            isinstance(self.slate_size, int)
            and not isinstance(self.slate_size, bool)
            and 1 <= self.slate_size <= self.num_candidates,
            f"env.slate_size = {self.slate_size!r}: must be an integer in "
            f"[1, num_candidates = {self.num_candidates}]",
        )
        object.__setattr__(
            self,
            "click_chain",
            click_models.chain(
                self.click_model, self.slate_size, self.examination, self.continuation
            ),
        )
        for field in ("examination", "continuation"):
            if getattr(self, field) is not None:
                object.__setattr__(self, field, tuple(float(v) for v in getattr(self, field)))
        require(
            self.num_relevant is None
            or (
                isinstance(self.num_relevant, int) and 1 <= self.num_relevant <= self.num_candidates
            ),
            f"env.num_relevant = {self.num_relevant!r}: must be None or an integer in "
            f"[1, num_candidates = {self.num_candidates}]",
        )
        drift_lib.attach(self, exposure=True)

    @property
    def slates(self) -> bool:
        """Whether the action is a ranked slate (``slate_size > 1``)."""
        return self.slate_size > 1

    @property
    def _keeps_catalog(self) -> bool:
        if self.one_hot_items:
            return False
        small = self.num_items * self.dim <= KEEP_CATALOG
        return small or self.num_candidates == self.num_items

    @property
    def lazy(self) -> bool:
        """Whether the preferences are evaluated lazily (every registered drift process);
        False only for a process without a lazy form, which moves all ``(U, d)``."""
        return bool(self.drift_process.lazy)

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
            action=capabilities.SLATE if self.slates else capabilities.ARM,
            slate_size=self.slate_size,
            reward=(
                capabilities.clicks()
                if not self.slates or self.click_model == click_models.CASCADE
                else capabilities.bounded(0.0, float(self.slate_size))
            ),
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

    def _std(self) -> float:
        return self.dim**-0.25  # variance 1 / sqrt(d) per entry

    def _draw_rows(self, key: Array, ids: Array) -> Array:
        """``std * N(0, I)`` rows ``(n, d)`` drawn from ``fold_in(key, id)`` for ids ``(n,)``."""
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)
        draw = jax.vmap(lambda k: jax.random.normal(k, (self.dim,), jnp.float32))
        return self._std() * draw(keys)

    def _anchors(self, people: Array, common: Array, params, ids: Array) -> Array:
        """Initial preferences ``(n, d)`` of users ``ids (n,)``."""
        if params.users is not None:
            users = self._data(params.users, (self.num_users, self.dim), "users")
            return users[ids]
        w = params.shared_taste
        return jnp.sqrt(w) * common + jnp.sqrt(1.0 - w) * self._draw_rows(people, ids)

    def _anchor_rms(self, people: Array, common: Array, params) -> Array:
        """``sqrt(mean(u_i^2))`` over the whole population, block by block (O(U d) work,
        O(d) memory): the scale of the abrupt ``gaussian`` redraw."""
        if params.users is not None:
            users = self._data(params.users, (self.num_users, self.dim), "users")
            return jnp.sqrt(jnp.mean(jnp.square(users)))
        block = min(self.num_users, 4096)
        num_blocks = -(-self.num_users // block)

        def add(i, total):
            ids = i * block + jnp.arange(block, dtype=jnp.int32)
            rows = self._anchors(people, common, params, jnp.minimum(ids, self.num_users - 1))
            inside = (ids < self.num_users)[:, None]
            return total + jnp.sum(jnp.where(inside, jnp.square(rows), 0.0))

        total = jax.lax.fori_loop(0, num_blocks, add, jnp.zeros((), jnp.float32))
        return jnp.sqrt(total / (self.num_users * self.dim))

    def _rows(self, fn, ids) -> Array:
        """``fn(flat ids (n,)) -> (n, d)`` for ids of any shape: ``ids.shape + (d,)``."""
        ids = jnp.asarray(ids, jnp.int32)
        return fn(ids.reshape(-1)).reshape(ids.shape + (self.dim,))

    def initial_preferences(self, state: UsersState, params, user_ids) -> Array:
        """The initial preferences ``u_i`` (recorded profiles) of ``user_ids`` (any shape),
        ``user_ids.shape + (d,)``; O(d) per user."""
        if not self.lazy:
            return self._rows(lambda ids: state.prefs.anchor[ids], user_ids)
        return self._rows(
            lambda ids: self._anchors(state.people, state.common, params, ids), user_ids
        )

    def current_preferences(self, state: UsersState, params, user_ids) -> Array:
        """The preferences ``u_i(t)`` of ``user_ids`` (any shape) at the state's step ``t``
        (the round of ``state``'s context), ``user_ids.shape + (d,)``.

        Lazy: O(d) per user (O(32 d) for the random walk and mean reversion), the very
        values those users would meet if they arrived now (a metric may read a fixed
        subsample of users every step).
        """
        if not self.lazy:
            return self._rows(lambda ids: state.prefs.theta[ids], user_ids)

        def current(ids):
            anchors = self._anchors(state.people, state.common, params, ids)
            return self.drift_process.population_rows(state.prefs, params.drift, ids, anchors)

        return self._rows(current, user_ids)

    def item_vectors(self, state: UsersState, params, item_ids) -> Array:
        """The latent vectors ``v_n`` of ``item_ids`` (any shape), ``item_ids.shape + (d,)``:
        ``params.items`` when given, else the run's catalog (drawn on demand)."""
        if params.items is not None:
            items = jnp.asarray(params.items, jnp.float32)
            return self._rows(lambda ids: items[ids], item_ids)
        if self.one_hot_items:
            return self._rows(
                lambda ids: jax.nn.one_hot(ids, self.dim, dtype=jnp.float32), item_ids
            )
        if state.items.shape[0] == self.num_items:
            return self._rows(lambda ids: state.items[ids], item_ids)
        return self._rows(lambda ids: self._draw_rows(state.catalog, ids), item_ids)

    def click_probability(self, prefs: Array, items: Array, params) -> Array:
        """``sigmoid(scale * items @ prefs + bias)`` for items ``(..., d)`` and prefs ``(d,)``."""
        return jax.nn.sigmoid(params.scale * (items @ prefs) + params.bias)

    def _noisy_click_probability(self, key: Array, prefs: Array, items: Array, params) -> Array:
        """The click probabilities of the shown ``items (k, d)`` with the round's logit noise
        ``U[-w, w]`` (one draw per item from ``fold_in(key, LOGIT_NOISE)``; ``w = 0`` gives
        :meth:`click_probability` exactly)."""
        key = jax.random.fold_in(key, LOGIT_NOISE)
        noise = jax.random.uniform(key, items.shape[:-1], jnp.float32, -1.0, 1.0)
        logits = params.scale * (items @ prefs) + params.bias + params.logit_noise * noise
        return jax.nn.sigmoid(logits)

    def attractions(self, state: UsersState, params, prefs: Array, item_ids: Array) -> Array:
        """Click probabilities ``(n, m)`` of items ``item_ids (m,)`` for preferences
        ``prefs (n, d)`` (:class:`simulator.population.UserPopulation`)."""
        items = self.item_vectors(state, params, item_ids)
        return jax.nn.sigmoid(params.scale * (prefs @ items.T) + params.bias)

    def initial_attractions(self, state: UsersState, params) -> Array:
        """The candidates' click probabilities ``(K,)`` under the arriving user's initial
        preference (the recorded profile)."""
        items = self.item_vectors(state, params, state.candidates)
        return self.click_probability(state.profile, items, params)

    def _arrive(self, key: Array, arrival_cdf: Array) -> tuple[Array, Array]:
        key_user, key_candidates = jax.random.split(key)
        if self.arrival == "uniform":
            user = jax.random.randint(key_user, (), 0, self.num_users, dtype=jnp.int32)
        else:
            user = from_cdf(key_user, arrival_cdf)
        candidates = without_replacement(key_candidates, self.num_items, self.num_candidates)
        return user, candidates

    def _meet(self, state: UsersState, params, first: bool = False) -> UsersState:
        """Fill in the arriving user's initial and current preference (``first``: at
        reset, where every drift process is still at its anchor)."""
        if not self.lazy:
            return state._replace(
                pref=state.prefs.theta[state.user], profile=state.prefs.anchor[state.user]
            )
        ids = state.user[None]
        profile = self._anchors(state.people, state.common, params, ids)
        if first:
            return state._replace(pref=profile[0], profile=profile[0])
        pref = self.drift_process.population_rows(state.prefs, params.drift, ids, profile)
        return state._replace(pref=pref[0], profile=profile[0])

    def _timestep(self, key: Array, state: UsersState, reward, params, positions=None):
        m = self.num_observed
        key_user, key_items = jax.random.split(key)
        profile = state.profile if self.user_features == "initial" else state.pref
        candidate_items = self.item_vectors(state, params, state.candidates)
        noise = params.feature_noise
        features = profile[:m] + noise * jax.random.normal(key_user, (m,), jnp.float32)
        arm_features = candidate_items[:, :m] + noise * jax.random.normal(
            key_items, (self.num_candidates, m), jnp.float32
        )
        oracle = make_oracle(
            self.click_probability(state.pref, candidate_items, params),
            change_point=state.prefs.change_point,
            true_param=state.pref,
        )
        context = Context(features, arm_features, user_id=state.user, item_ids=state.candidates)
        if self.slates and positions is None:
            positions = no_positions(self.slate_size)
        return make_timestep(context, reward, oracle, positions=positions)

    # contract ------------------------------------------------------------------------
    def reset(self, key, params):
        if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)  # a raw uint32 key (jax.random.PRNGKey)
        key_people, key_items, key_drift, key_arrive, key_observe = jax.random.split(key, 5)
        if self.population_seed is not None:  # the same population in every run
            key_people = jax.random.key(self.population_seed, impl=jax.random.key_impl(key))
        key_common, people = jax.random.split(key_people)
        common = self._std() * jax.random.normal(key_common, (self.dim,), jnp.float32)
        if params.items is not None:
            self._data(params.items, (self.num_items, self.dim), "items")  # check the shape
        if params.users is not None:
            self._data(params.users, (self.num_users, self.dim), "users")
        items = jnp.zeros((0, self.dim), jnp.float32)
        if params.items is None and self._keeps_catalog:
            items = self._draw_rows(key_items, jnp.arange(self.num_items, dtype=jnp.int32))
        drift = self.drift_process
        if self.lazy:
            rms = None
            if drift.needs_anchor_rms:
                rms = self._anchor_rms(people, common, params)
            prefs = drift.population_init(
                key_drift, params.drift, self.num_users, self.dim, anchor_rms=rms
            )
        else:  # a process without a lazy form moves every user: materialise them
            users = self._anchors(
                people, common, params, jnp.arange(self.num_users, dtype=jnp.int32)
            )
            prefs = drift.init(key_drift, users, params.drift)
        if self.arrival == "zipf":
            arrival_cdf = zipf_cdf(self.num_users, params.zipf_exponent)
        else:
            arrival_cdf = jnp.zeros((0,), jnp.float32)
        user, candidates = self._arrive(key_arrive, arrival_cdf)
        empty = jnp.zeros((self.dim,), jnp.float32)
        state = UsersState(
            prefs, people, common, key_items, items, arrival_cdf, user, candidates, empty, empty
        )
        state = self._meet(state, params, first=True)
        return state, self._timestep(key_observe, state, 0.0, params)

    def step(self, key, state, action, params):
        key_click, key_drift, key_arrive, key_observe = jax.random.split(key, 4)
        positions = None
        if self.slates:
            shown = state.candidates[action]
            shown_items = self.item_vectors(state, params, shown)
            w_slate = self._noisy_click_probability(key_click, state.pref, shown_items, params)
            positions = click_models.sample(self.click_chain, key_click, w_slate, shown)
            position, clicked = click_models.first_click(positions)
            item = shown_items[position]
            click = clicked.astype(jnp.float32)
            reward = jnp.sum(positions.clicks)
            seen = positions.observed.astype(jnp.float32)
            exposure = drift_lib.Exposure(shown_items, positions.clicks, seen)
        else:
            item = self.item_vectors(state, params, state.candidates[action])
            p_click = self._noisy_click_probability(key_click, state.pref, item[None], params)[0]
            click = (jax.random.uniform(key_click, (), jnp.float32) < p_click).astype(jnp.float32)
            reward = click
            exposure = drift_lib.Exposure.of_consumption(item, click)
        drift = self.drift_process
        if self.lazy:
            exposure = exposure if drift.reads_exposure else None
            prefs = drift.population_step(
                key_drift, state.prefs, params.drift, state.user, state.pref, item, click, exposure
            )
        else:
            prefs = drift.step_row(key_drift, state.prefs, params.drift, state.user, item, click)
        user, candidates = self._arrive(key_arrive, state.arrival_cdf)
        next_state = self._meet(
            state._replace(prefs=prefs, user=user, candidates=candidates), params
        )
        return next_state, self._timestep(key_observe, next_state, reward, params, positions)

    def log(self, timestep, action, next_timestep):
        """The bandit log, or for slates :func:`simulator.ranking.slate_log`."""
        if not self.slates:
            return super().log(timestep, action, next_timestep)
        return slate_log(self.click_chain, self.num_relevant, timestep, action, next_timestep)
