"""Drift processes: how a parameter (preferences, arm means, a regression weight) changes.

A drift process is a frozen dataclass of *static* structure with two pure functions over a
:class:`DriftState`::

    drift = drift_module.make("random_walk")
    params = drift.default_params()                  # traced knobs, e.g. params.rate
    state = drift.init(key_init, theta0, params)     # state.theta == theta0
    state = drift.step(key_step, state, params)      # one step of drift
    state.theta, state.change_point

``theta`` may have any shape: ``(d,)`` for one user or a regression parameter, ``(U, d)`` for
a population of users (rows are users), ``(K,)`` for arm means.  Every process starts at
``theta0`` exactly, and every knob is a traced leaf (a sweep can ``vmap`` over
``env.drift.rate``); a zero rate / amplitude / speed / hazard leaves ``theta`` exactly equal
to ``theta0`` forever.

Processes (registry name: update, with ``theta_0`` the anchor and ``t`` the step count)::

    stationary      theta_t = theta_0
    random_walk     theta_t = theta_{t-1} + rate * z_t,                    z_t ~ N(0, I)
    mean_reverting  theta_t = theta_0 + (1 - reversion) (theta_{t-1} - theta_0) + rate * z_t
    abrupt          at change points theta_t = a fresh draw (or -theta_{t-1}); else unchanged
    periodic        theta_t = theta_0 + amplitude (sin(2 pi t / period + phi) - sin(phi))
    rotation        theta_t = R(speed * t) theta_0, a rotation in a fixed 2-d plane
    endogenous      theta_t = theta_{t-1} + rate * m_t (c_t - theta_{t-1})   (toward consumed)
    boredom         s_t = (1 - recovery)(s_{t-1} + m_t c_t),  theta_t = theta_0 - rate * s_t
    rotting         n_t = n_{t-1} + m_t,  theta_t = theta_0 * (1 - rate) ** n_t
    interest        every shown item's interest theta . v moves by U[0, rate] up if
                    clicked, down if not; with probability reset it shrinks toward a
                    fresh draw (Jiang et al. 2019; Khritankov & Pilkevich 2021)

Consumption (endogenous processes).  ``step(..., consumed=...)`` takes ``None`` (nothing
consumed), a bare array ``c`` of ``theta``'s shape (everything consumed ``c``: mask 1), or a
:class:`Consumption` ``(target, mask)``: ``target`` has ``theta``'s shape and holds, in the
entries that consumed something, what they consumed (an item's feature vector in the arriving
user's row; a 1 in a consumed arm's entry); ``mask`` is broadcastable to ``theta`` (e.g.
``(U, 1)``), 1 where something was consumed and 0 elsewhere (it may be a click, so only
clicked items count).  Exogenous processes ignore it.  :meth:`Drift.step_row` is the common
case "row ``i`` (index along axis 0) consumed ``target``"; for processes whose step only
touches consuming rows (``row_local``: stationary, endogenous, rotting) it updates that
row's slice only, in O(d) rather than O(U d).

Exposure (``interest``).  A process with ``reads_exposure`` reacts to what was *shown*,
clicked or not, not only to what was consumed: the lazy step takes an :class:`Exposure`
(the shown items' vectors, the clicks, the examined positions; one design for one arm and
for slates) and the eager step a :class:`Consumption` whose ``mask`` marks what was shown
and whose ``reaction`` holds the clicks.  Only environments that pass exposures accept such
a process (``attach(env, exposure=True)``: ``drifting_users``).

Common random numbers: the randomness of a step comes only from its ``key``.  Environments
derive that key from the environment's step key, never from the agent's action, so with an
exogenous process every agent of an experiment faces the very same drift sequence.

Cost per step: O(size of theta) for the exogenous processes (a random walk over U users
touches all U d entries), O(1) for ``stationary`` and O(d) for a row step of a row-local
process.

Lazy populations.  A population of ``U`` rows of which one is read per step (the arriving
user of ``drifting_users``) need not be moved every step: every registered process also has
an exact *lazy* form (``lazy = True``) over a :class:`Population`, whose state is O(1) for
the exogenous processes and one memory row per consuming row for the endogenous ones::

    pop = drift.population_init(key, params, num_rows=U, dim=d)  # no (U, d) array
    pop = drift.population_step(key_step, pop, params, row, theta_row, target, weight)
    theta = drift.population_rows(pop, params, rows, anchors)     # (n, d) at pop.t

Row ``u`` of the population has the law, jointly over time, of row ``u`` of the eager
process started at ``theta0[u] = anchors[u]``; every random number of an exogenous process
is a fixed function of ``(key, row, ...)``, so a row read twice at the same step gives the
same value and two readers see the same population (common random numbers).  How each
process does it (``t`` the step count, ``r`` the reversion, ``a = 1 - r``)::

    stationary      theta_u = theta0_u
    random_walk     theta0_u + rate Y_u(t), Y_u an AR(1) path with a = 1 (see ar1_at)
    mean_reverting  theta0_u + rate Y_u(t), the AR(1) path with a = 1 - reversion
    abrupt          the change times are population-wide: one draw per step, kept as a
                    change counter n_t; gaussian / uniform: theta0_u while n_t = 0, else
                    draw number n_t of row u (a fixed function of (key, n_t, u)); negate:
                    (-1)^{n_t} theta0_u
    periodic        a function of t; row u's phases a fixed function of (key, u)
    rotation        R(speed t) theta0_u, the plane drawn once (O(d) state)
    endogenous      only the consuming row moves: its current value is remembered
    boredom         row u's satiation s and the step tau of its last consumption are
                    remembered; at step t it is (1 - recovery)^{t - tau} s
    rotting         row u's consumption count is remembered
    interest        like endogenous: only the row shown items moves; its value is remembered

The AR(1) path ``Y_u`` is not stored: its value at step ``t`` is built by a dyadic Gaussian
bridge (Lévy's construction) from normals keyed by the tree nodes on the way to ``t``
(:func:`ar1_at`), 32 draws of ``d`` per read whatever ``t`` and ``U``.

Static options (``make(name, **options)``; environments take them as ``drift_options``):
``abrupt``: ``redraw`` in ``gaussian`` (default), ``uniform``, ``negate``; ``rotation``:
``plane`` in ``random`` (default), ``first``.

In an environment: a static field ``drift: str`` (a name here) and ``drift_options`` (a
tuple of ``(key, value)`` pairs or a dict), validated by :func:`attach` in
``__post_init__``; the params dataclass nests the drift's knobs as its field ``drift``, so a
sweep key is ``env.drift.rate``.

A new process: subclass :class:`Drift` as a frozen dataclass (static options as fields),
set ``params_type`` to a ``pytree.dataclass`` of :func:`~simulator.params.knob` fields,
override ``_next`` (and ``_init_extra`` if it needs auxiliary state), and
``DRIFTS.register("name", YourDrift)``.  For a lazy form, also set ``lazy = True`` and
override ``_lazy_rows`` (and ``_lazy_step``, ``_lazy_memory``, ``_lazy_shared`` as needed);
without it (``lazy = False``, the default) environments move every row eagerly.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from simulator import pytree
from simulator.params import ConfigError, knob
from simulator.registry import Registry
from simulator.types import require

Array = jax.Array

DRIFTS = Registry("drift")


class DriftState(NamedTuple):
    """The state of a drift process (one type for every process; a stable scan carry).

    Attributes:
      theta: the current parameter, float32, the shape of ``theta0``.
      change_point: ``()`` bool, true when an abrupt change happened in the last step.
      anchor: ``theta0`` (float32), the reference of mean reversion, periodic, rotation,
        boredom and rotting.
      t: ``()`` int32, the number of steps taken since ``init``.
      extra: process-specific float32 array: the phases of ``periodic`` (theta's shape),
        the plane of ``rotation`` ``(2, d)``, the satiation of ``boredom`` and the
        consumption counts of ``rotting`` (theta's shape); shape ``(0,)`` when unused.
    """

    theta: Array
    change_point: Array
    anchor: Array
    t: Array
    extra: Array


class Consumption(NamedTuple):
    """What was consumed in a step (see the module docstring).

    Attributes:
      target: theta's shape; what each consuming entry consumed.
      mask: broadcastable to theta; 1 where something was consumed, 0 elsewhere.
      reaction: for the processes that react to exposure (``reads_exposure``: ``interest``),
        the reaction to what was shown, broadcastable like ``mask``, which then marks what
        was *shown*; None: the mask is the reaction (only what was consumed counts).
    """

    target: Array
    mask: Array
    reaction: Any = None


class Exposure(NamedTuple):
    """What one user was shown in a round and how they reacted (a lazy population's step).

    The processes that react to exposure (``reads_exposure``: ``interest``) read all of
    it; the others read the consumption it implies, the first clicked item
    (:meth:`consumed`).

    Attributes:
      items: ``(k, d)`` the shown items' vectors, position 1 first (``k = 1`` for one arm).
      clicks: ``(k,)`` float32 the reactions, 1 for a click.
      seen: ``(k,)`` float32, 1 where the user examined the position (a cascade stops at
        the last click; everything shown is seen otherwise).
    """

    items: Array
    clicks: Array
    seen: Array

    @classmethod
    def of_consumption(cls, target: Array, weight: Any = 1.0) -> Exposure:
        """One item ``target (d,)`` shown and reacted to with ``weight``."""
        target = jnp.asarray(target, jnp.float32)
        weight = jnp.asarray(weight, jnp.float32)
        return cls(target[None], weight[None], jnp.ones((1,), jnp.float32))

    def consumed(self) -> tuple[Array, Array]:
        """``(target (d,), weight ())``: the first clicked item and whether there was one
        (the first item and 0 without a click)."""
        clicked = self.clicks * self.seen > 0
        position = jnp.argmax(clicked)
        return self.items[position], jnp.any(clicked).astype(jnp.float32)


def as_consumption(consumed: Any, theta: Array) -> Consumption | None:
    """Normalise ``consumed`` (None, a bare array, or a :class:`Consumption`)."""
    if consumed is None:
        return None
    reaction = None
    if isinstance(consumed, Consumption):
        target, mask, reaction = consumed
    else:
        target, mask = consumed, 1.0
    target = jnp.broadcast_to(jnp.asarray(target, jnp.float32), theta.shape)
    mask = jnp.asarray(mask, jnp.float32)
    if reaction is not None:
        reaction = jnp.asarray(reaction, jnp.float32)
    return Consumption(target=target, mask=mask, reaction=reaction)


_NO_EXTRA = (0,)


class Population(NamedTuple):
    """The state of a lazily evaluated population of rows (one type for every process).

    Row ``u``'s current value is ``population_rows(pop, params, [u], anchors)``; nothing of
    size ``U x d`` is held except the memory of the processes that remember consumption.

    Attributes:
      key: typed PRNG key of the population's own randomness (AR(1) paths, phases, abrupt
        redraws are fixed functions of it and the row).
      t: ``()`` int32, the number of steps taken since ``population_init``.
      change_point: ``()`` bool, true when an abrupt change happened in the last step.
      changes: ``()`` int32, the number of abrupt changes so far.
      scale: ``()`` float32, ``rms(theta_0)`` over the whole population for the abrupt
        ``gaussian`` redraw (0 otherwise).
      shared: the rotation plane ``(2, d)``; shape ``(0,)`` otherwise.
      rows: ``(U, w)`` float32 memory of the consuming rows (endogenous: current value,
        boredom: satiation at step ``since``, rotting: ``(U, 1)`` consumption counts);
        shape ``(0, d)`` for the exogenous processes.
      since: ``(U,)`` int32 step of each row's last consumption, 0 for never (endogenous,
        boredom); shape ``(0,)`` otherwise.
    """

    key: Array
    t: Array
    change_point: Array
    changes: Array
    scale: Array
    shared: Array
    rows: Array
    since: Array


@dataclasses.dataclass(frozen=True)
class Drift:
    """Base class of the drift processes: static structure only.

    Subclasses set ``params_type`` (the knobs) and override ``_init_extra`` and ``_next``.
    ``row_local`` is true when a step changes only entries with consumption and each row's
    update depends only on that row (then :meth:`step_row` slices the row).  ``lazy`` is
    true when the process also has an exact lazy population form (:meth:`population_init`,
    :meth:`population_step`, :meth:`population_rows`; see the module docstring).
    """

    params_type: ClassVar[type] = None
    row_local: ClassVar[bool] = False
    lazy: ClassVar[bool] = False
    #: Reacts to what was shown, clicked or not (an :class:`Exposure`), not only to what
    #: was consumed: only environments that pass exposures may use it (see :func:`attach`).
    reads_exposure: ClassVar[bool] = False

    def default_params(self) -> Any:
        """The traced knobs with their defaults."""
        return self.params_type()

    def init(self, key: Array, theta0: Array, params: Any) -> DriftState:
        """Start the process at ``theta0`` (any shape): ``state.theta == theta0``.

        Args:
          key: randomness of the process' own structure (random phases, a random plane).
          theta0: the initial parameter, any shape, cast to float32.
          params: the process' knobs (``default_params()`` or swept values).
        """
        theta0 = jnp.asarray(theta0, jnp.float32)
        return DriftState(
            theta=theta0,
            change_point=jnp.zeros((), jnp.bool_),
            anchor=theta0,
            t=jnp.zeros((), jnp.int32),
            extra=jnp.asarray(self._init_extra(key, theta0, params), jnp.float32),
        )

    def step(self, key: Array, state: DriftState, params: Any, consumed: Any = None) -> DriftState:
        """One step of drift.

        Args:
          key: the step's randomness (derive it from the environment key only).
          state: the current state.
          params: the knobs.
          consumed: None, an array of theta's shape, or a :class:`Consumption`; read by
            the endogenous processes only.

        Returns:
          The next state, with ``t`` incremented and ``change_point`` set by abrupt changes.
        """
        t = state.t + 1
        theta, change_point, extra = self._next(
            key, state, params, as_consumption(consumed, state.theta), t
        )
        return DriftState(
            theta=jnp.asarray(theta, jnp.float32),
            change_point=jnp.asarray(change_point, jnp.bool_),
            anchor=state.anchor,
            t=t,
            extra=jnp.asarray(extra, jnp.float32),
        )

    def step_row(
        self,
        key: Array,
        state: DriftState,
        params: Any,
        row: Array,
        target: Array,
        weight: Any = 1.0,
    ) -> DriftState:
        """One step where only row ``row`` (axis 0 of theta) consumed ``target``.

        Equivalent to ``step(key, state, params, Consumption(T, M))`` with ``T`` equal to
        theta except ``T[row] = target`` and ``M`` one-hot at ``row`` (times ``weight``,
        e.g. the click).  Row-local processes update the row's slice only: O(row size).

        Args:
          row: ``()`` int index along axis 0.
          target: ``theta.shape[1:]``, what the row consumed.
          weight: ``()`` 0/1 (or in [0, 1]): whether it was consumed.
        """
        weight = jnp.asarray(weight, jnp.float32)
        if self.row_local:
            row_extra = state.extra.shape[:1] == state.theta.shape[:1] and state.extra.ndim > 0
            extra_row = state.extra[row] if row_extra else state.extra
            sub = DriftState(
                theta=state.theta[row],
                change_point=state.change_point,
                anchor=state.anchor[row],
                t=state.t,
                extra=extra_row,
            )
            new = self.step(key, sub, params, Consumption(jnp.asarray(target, jnp.float32), weight))
            return DriftState(
                theta=state.theta.at[row].set(new.theta),
                change_point=new.change_point,
                anchor=state.anchor,
                t=new.t,
                extra=state.extra.at[row].set(new.extra) if row_extra else new.extra,
            )
        num_rows = state.theta.shape[0]
        one_hot = (jnp.arange(num_rows) == row).astype(jnp.float32) * weight
        mask = one_hot.reshape((num_rows,) + (1,) * (state.theta.ndim - 1))
        full_target = state.theta.at[row].set(jnp.asarray(target, jnp.float32))
        return self.step(key, state, params, Consumption(full_target, mask))

    # Lazy populations ----------------------------------------------------------------
    @property
    def needs_anchor_rms(self) -> bool:
        """Whether :meth:`population_init` needs ``rms(theta_0)`` over the population."""
        return False

    def population_init(
        self, key: Array, params: Any, num_rows: int, dim: int, anchor_rms: Any = None
    ) -> Population:
        """Start a lazy population of ``num_rows`` rows of length ``dim`` (see the module
        docstring), every row at its anchor.

        Args:
          key: the population's randomness (a typed key); every later draw derives from it.
          params: the process' knobs.
          num_rows, dim: U and d (static).
          anchor_rms: ``sqrt(mean(theta_0^2))`` over all ``U x d`` anchors, when
            :attr:`needs_anchor_rms` (the abrupt gaussian redraw's scale).

        Returns:
          A :class:`Population` at step 0; O(1) state for an exogenous process.
        """
        if not self.lazy:
            raise TypeError(f"{type(self).__name__} has no lazy population form")
        key_rows, key_shared = jax.random.split(key)
        rows, since = self._lazy_memory(num_rows, dim)
        scale = 0.0 if anchor_rms is None else anchor_rms
        return Population(
            key=key_rows,
            t=jnp.zeros((), jnp.int32),
            change_point=jnp.zeros((), jnp.bool_),
            changes=jnp.zeros((), jnp.int32),
            scale=jnp.asarray(scale, jnp.float32),
            shared=jnp.asarray(self._lazy_shared(key_shared, dim, params), jnp.float32),
            rows=rows,
            since=since,
        )

    def population_step(
        self,
        key: Array,
        pop: Population,
        params: Any,
        row: Array,
        theta_row: Array,
        target: Any = None,
        weight: Any = 1.0,
        exposure: Exposure | None = None,
    ) -> Population:
        """One step in which row ``row`` consumed ``target`` (with ``weight``, e.g. the
        click), as :meth:`step_row`, in O(1) (exogenous) or O(d) (consumption memory).

        Args:
          key: the step's randomness (abrupt change times, the reaction's steps); derive
            it from the environment key only.
          row: ``()`` int index of the consuming row.
          theta_row: ``(d,)`` that row's current value (``population_rows`` at ``pop.t``).
          target: ``(d,)`` what it consumed (None: ``exposure.consumed()``).
          weight: ``()`` 0/1 (or in [0, 1]): whether it was consumed.
          exposure: what the row was shown and its reactions (:class:`Exposure`); the
            processes that react to exposure (``reads_exposure``) need it (without it,
            ``target`` shown and reacted to with ``weight``).
        """
        pop = pop._replace(t=pop.t + 1, change_point=jnp.zeros((), jnp.bool_))
        if target is None:
            target, weight = exposure.consumed()
        weight = jnp.asarray(weight, jnp.float32)
        target = jnp.asarray(target, jnp.float32)
        if self.reads_exposure:
            if exposure is None:
                exposure = Exposure.of_consumption(target, weight)
            return self._lazy_expose(key, pop, params, row, theta_row, exposure)
        return self._lazy_step(key, pop, params, row, theta_row, target, weight)

    def population_rows(self, pop: Population, params: Any, rows: Array, anchors: Array) -> Array:
        """The current values ``(n, d)`` of rows ``rows (n,)`` whose anchors (``theta_0``)
        are ``anchors (n, d)``: O(n d) (O(32 n d) for the AR(1) processes)."""
        rows = jnp.asarray(rows, jnp.int32)
        anchors = jnp.asarray(anchors, jnp.float32)
        return jnp.asarray(self._lazy_rows(pop, params, rows, anchors), jnp.float32)

    # Subclass hooks ------------------------------------------------------------------
    def _init_extra(self, key: Array, theta0: Array, params: Any) -> Array:
        return jnp.zeros(_NO_EXTRA, jnp.float32)

    def _lazy_memory(self, num_rows: int, dim: int) -> tuple[Array, Array]:
        return jnp.zeros((0, dim), jnp.float32), jnp.zeros((0,), jnp.int32)

    def _lazy_shared(self, key: Array, dim: int, params: Any) -> Array:
        return jnp.zeros(_NO_EXTRA, jnp.float32)

    def _lazy_step(self, key, pop: Population, params, row, theta_row, target, weight):
        """Return the population after step ``pop.t`` (already incremented)."""
        return pop

    def _lazy_expose(self, key, pop: Population, params, row, theta_row, exposure: Exposure):
        """As :meth:`_lazy_step` for a process that reacts to exposure."""
        raise NotImplementedError

    def _lazy_rows(self, pop: Population, params, rows, anchors):
        """Return the values ``(n, d)`` of ``rows`` at step ``pop.t``."""
        raise NotImplementedError

    def _next(self, key, state: DriftState, params, consumption, t):
        """Return ``(theta, change_point, extra)`` of step ``t`` (1-based)."""
        raise NotImplementedError


def _no_change():
    return jnp.zeros((), jnp.bool_)


# --------------------------------------------------------------------------------------
# Exogenous processes
# --------------------------------------------------------------------------------------


@pytree.dataclass
class StationaryParams:
    pass


@dataclasses.dataclass(frozen=True)
class Stationary(Drift):
    """No drift: ``theta_t = theta_0``.  O(1) per step."""

    params_type: ClassVar[type] = StationaryParams
    row_local: ClassVar[bool] = True
    lazy: ClassVar[bool] = True

    def _next(self, key, state, params, consumption, t):
        return state.theta, _no_change(), state.extra

    def _lazy_rows(self, pop, params, rows, anchors):
        return anchors


@pytree.dataclass
class RandomWalkParams:
    rate: float = knob(0.01, low=0.0, doc="standard deviation of each entry's step")


@dataclasses.dataclass(frozen=True)
class RandomWalk(Drift):
    """Gaussian random walk: ``theta_t = theta_{t-1} + rate * z_t``, ``z_t ~ N(0, I)``.

    ``Var(theta_t - theta_0) = rate^2 t`` per entry.  O(size of theta) per step.

    Example::

        drift = RandomWalk(); state = drift.init(key, jnp.zeros(5), RandomWalkParams(0.1))
    """

    params_type: ClassVar[type] = RandomWalkParams
    lazy: ClassVar[bool] = True

    def _next(self, key, state, params, consumption, t):
        noise = jax.random.normal(key, state.theta.shape, jnp.float32)
        return state.theta + params.rate * noise, _no_change(), state.extra

    def _lazy_rows(self, pop, params, rows, anchors):
        # theta_t = theta_0 + rate * (z_1 + ... + z_t): the AR(1) path with a = 1
        return anchors + params.rate * _row_paths(pop, rows, anchors.shape[-1], 0.0)


@pytree.dataclass
class MeanRevertingParams:
    rate: float = knob(0.05, low=0.0, doc="standard deviation of each entry's innovation")
    reversion: float = knob(
        0.01, low=0.0, high=1.0, doc="fraction of the gap to the anchor closed per step"
    )


@dataclasses.dataclass(frozen=True)
class MeanReverting(Drift):
    """Discrete Ornstein–Uhlenbeck (AR(1)) process around the anchor ``theta_0``.

    ``theta_t = theta_0 + (1 - reversion)(theta_{t-1} - theta_0) + rate * z_t``; for
    ``0 < reversion <= 1`` the stationary variance per entry is
    ``rate^2 / (1 - (1 - reversion)^2)``; ``reversion = 0`` is a random walk.
    O(size of theta) per step (Uhlenbeck & Ornstein, 1930).
    """

    params_type: ClassVar[type] = MeanRevertingParams
    lazy: ClassVar[bool] = True

    def _next(self, key, state, params, consumption, t):
        noise = jax.random.normal(key, state.theta.shape, jnp.float32)
        gap = state.theta - state.anchor
        theta = state.anchor + (1.0 - params.reversion) * gap + params.rate * noise
        return theta, _no_change(), state.extra

    def _lazy_rows(self, pop, params, rows, anchors):
        # theta_t - theta_0 = rate * Y_t, Y_t = (1 - reversion) Y_{t-1} + z_t, Y_0 = 0
        paths = _row_paths(pop, rows, anchors.shape[-1], params.reversion)
        return anchors + params.rate * paths


@pytree.dataclass
class AbruptParams:
    hazard: float = knob(
        0.001, low=0.0, high=1.0, doc="probability of a change at each step (random times)"
    )
    period: float = knob(
        0.0, low=0.0, doc="a change every `period` steps (rounded); 0 means no scheduled changes"
    )


_REDRAWS = ("gaussian", "uniform", "negate")


@dataclasses.dataclass(frozen=True)
class Abrupt(Drift):
    """Abrupt change points (piecewise-stationary parameter).

    A change happens after step ``t`` (1-based) when ``period > 0`` and ``t`` is a multiple
    of ``round(period)``, or with probability ``hazard`` (independently at every step).  So
    with ``period = P`` the parameter is ``theta_0`` for rounds ``0 .. P-1`` and new from round
    ``P``.  At a change ``change_point`` is true and ``theta`` becomes, by ``redraw``:

    - ``"gaussian"``: ``rms(theta_0) * z``, ``z ~ N(0, I)``: a fresh zero-mean parameter of
      the size of ``theta_0`` (preferences, regression weights); every entry is redrawn,
      independently of the past.
    - ``"uniform"``: every entry ``~ U(0, 1)`` (arm means, probabilities).
    - ``"negate"``: ``-theta_{t-1}`` (the best item becomes the worst; deterministic).

    Args:
      redraw: ``"gaussian"`` (default), ``"uniform"`` or ``"negate"``.

    O(size of theta) per step.  References: Garivier & Moulines (2011) for piecewise-
    stationary bandits; Adams & MacKay (2007) for the constant-hazard change model.
    """

    redraw: str = "gaussian"
    params_type: ClassVar[type] = AbruptParams
    lazy: ClassVar[bool] = True

    def __post_init__(self):
        require(
            self.redraw in _REDRAWS,
            f"drift.redraw = {self.redraw!r}: must be one of {', '.join(_REDRAWS)}",
        )

    def _next(self, key, state, params, consumption, t):
        key_when, key_draw = jax.random.split(key)
        period = jnp.round(params.period).astype(jnp.int32)
        scheduled = (period > 0) & (jnp.mod(t, jnp.maximum(period, 1)) == 0)
        random_time = jax.random.uniform(key_when) < params.hazard
        change = scheduled | random_time
        shape = state.theta.shape
        if self.redraw == "gaussian":
            rms = jnp.sqrt(jnp.mean(jnp.square(state.anchor)))
            fresh = rms * jax.random.normal(key_draw, shape, jnp.float32)
        elif self.redraw == "uniform":
            fresh = jax.random.uniform(key_draw, shape, jnp.float32)
        else:
            fresh = -state.theta
        return jnp.where(change, fresh, state.theta), change, state.extra

    @property
    def needs_anchor_rms(self) -> bool:
        return self.redraw == "gaussian"

    def _lazy_step(self, key, pop, params, row, theta_row, target, weight):
        # the change times are population-wide: the same draws as the eager step
        key_when, _ = jax.random.split(key)
        period = jnp.round(params.period).astype(jnp.int32)
        scheduled = (period > 0) & (jnp.mod(pop.t, jnp.maximum(period, 1)) == 0)
        change = scheduled | (jax.random.uniform(key_when) < params.hazard)
        return pop._replace(change_point=change, changes=pop.changes + change.astype(jnp.int32))

    def _lazy_rows(self, pop, params, rows, anchors):
        n = pop.changes
        if self.redraw == "negate":  # n sign flips of theta_0
            return jnp.where(jnp.mod(n, 2) == 1, -anchors, anchors)
        # after >= 1 change a row holds draw number n, whatever it held before: one key
        # per change, one per row, so every reader of row u after change n sees the same
        key_change = jax.random.fold_in(pop.key, n)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key_change, rows)
        shape = anchors.shape[-1:]
        if self.redraw == "gaussian":
            fresh = pop.scale * jax.vmap(lambda k: jax.random.normal(k, shape, jnp.float32))(keys)
        else:
            fresh = jax.vmap(lambda k: jax.random.uniform(k, shape, jnp.float32))(keys)
        return jnp.where(n > 0, fresh, anchors)


@pytree.dataclass
class PeriodicParams:
    amplitude: float = knob(0.5, low=0.0, doc="amplitude of the seasonal oscillation")
    period: float = knob(1000.0, low=0.0, low_open=True, doc="steps per cycle")


@dataclasses.dataclass(frozen=True)
class Periodic(Drift):
    """Seasonal oscillation around the anchor, one random phase per entry.

    ``theta_t = theta_0 + amplitude * (sin(2 pi t / period + phi) - sin(phi))`` with
    ``phi ~ U(0, 2 pi)`` per entry drawn at ``init`` (so ``theta`` starts at ``theta_0``
    and returns to it every ``period`` steps).  The phase uses ``t mod period``, so a
    traced period keeps float32 precision over long runs.  O(size of theta) per step.
    """

    params_type: ClassVar[type] = PeriodicParams
    lazy: ClassVar[bool] = True

    def _init_extra(self, key, theta0, params):
        return jax.random.uniform(key, theta0.shape, jnp.float32, 0.0, 2.0 * math.pi)

    def _next(self, key, state, params, consumption, t):
        cycle = jnp.mod(t.astype(jnp.float32), params.period) / params.period
        phase = state.extra
        wave = jnp.sin(2.0 * math.pi * cycle + phase) - jnp.sin(phase)
        return state.anchor + params.amplitude * wave, _no_change(), state.extra

    def _lazy_rows(self, pop, params, rows, anchors):
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(pop.key, rows)
        row_shape = jnp.zeros(anchors.shape[-1:], jnp.float32)  # row u's phases, as in init
        phase = jax.vmap(self._init_extra, in_axes=(0, None, None))(keys, row_shape, params)
        cycle = jnp.mod(pop.t.astype(jnp.float32), params.period) / params.period
        wave = jnp.sin(2.0 * math.pi * cycle + phase) - jnp.sin(phase)
        return anchors + params.amplitude * wave


@pytree.dataclass
class RotationParams:
    speed: float = knob(0.001, doc="angular speed in radians per step (sign = direction)")


_PLANES = ("random", "first")


@dataclasses.dataclass(frozen=True)
class Rotation(Drift):
    """Slow rotation of the last axis in a fixed plane: ``theta_t = R(speed * t) theta_0``.

    The plane is spanned by orthonormal ``p, q`` (``plane="random"``: drawn at ``init``, the
    same for every row, so a population rotates coherently; ``"first"``: the first two
    coordinates).  With ``a = speed * t``, ``x_p = x.p``, ``x_q = x.q``::

        R(a) x = x + (x_p cos a - x_q sin a - x_p) p + (x_p sin a + x_q cos a - x_q) q

    Norms are preserved.  Needs ``theta.shape[-1] >= 2``.  O(size of theta) per step.
    """

    plane: str = "random"
    params_type: ClassVar[type] = RotationParams
    lazy: ClassVar[bool] = True

    def __post_init__(self):
        require(
            self.plane in _PLANES,
            f"drift.plane = {self.plane!r}: must be one of {', '.join(_PLANES)}",
        )

    def _init_extra(self, key, theta0, params):
        dim = theta0.shape[-1] if theta0.ndim else 0
        if dim < 2:
            raise ConfigError(
                f"drift 'rotation' needs a parameter whose last axis has >= 2 entries; "
                f"got shape {tuple(theta0.shape)}"
            )
        if self.plane == "first":
            return jnp.eye(2, dim, dtype=jnp.float32)
        g = jax.random.normal(key, (2, dim), jnp.float32)
        p = g[0] / jnp.linalg.norm(g[0])
        q = g[1] - jnp.dot(g[1], p) * p
        q = q / jnp.linalg.norm(q)
        return jnp.stack([p, q])

    def _next(self, key, state, params, consumption, t):
        angle = params.speed * t.astype(jnp.float32)
        return rotate(state.anchor, state.extra, angle), _no_change(), state.extra

    def _lazy_shared(self, key, dim, params):
        return self._init_extra(key, jnp.zeros((1, dim), jnp.float32), params)

    def _lazy_rows(self, pop, params, rows, anchors):
        return rotate(anchors, pop.shared, params.speed * pop.t.astype(jnp.float32))


def rotate(x: Array, plane: Array, angle: Array) -> Array:
    """Rotate the last axis of ``x`` by ``angle`` in the plane of orthonormal rows
    ``plane (2, d)`` (see :class:`Rotation`)."""
    p, q = plane[0], plane[1]
    x_p = x @ p
    x_q = x @ q
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    along_p = x_p * cos - x_q * sin - x_p
    along_q = x_p * sin + x_q * cos - x_q
    return x + along_p[..., None] * p + along_q[..., None] * q


# --------------------------------------------------------------------------------------
# Endogenous processes (read `consumed`)
# --------------------------------------------------------------------------------------


@pytree.dataclass
class EndogenousParams:
    rate: float = knob(
        0.05, low=0.0, high=1.0, doc="fraction of the way toward the consumed item per consumption"
    )


@dataclasses.dataclass(frozen=True)
class Endogenous(Drift):
    """Preferences move toward what was consumed (the feedback loop of recommendation).

    ``theta_t = theta_{t-1} + rate * m_t (c_t - theta_{t-1})`` with ``(c_t, m_t)`` the
    consumption (target, mask); nothing moves without consumption.  This is the interest
    evolution of RecSim (Ie et al. 2019) in its simplest linear form; repeated exposure
    to similar items narrows the user's taste (a filter bubble).  Row-local: O(d) per step
    through :meth:`Drift.step_row`.
    """

    params_type: ClassVar[type] = EndogenousParams
    row_local: ClassVar[bool] = True
    lazy: ClassVar[bool] = True

    def _next(self, key, state, params, consumption, t):
        if consumption is None:
            return state.theta, _no_change(), state.extra
        pull = params.rate * consumption.mask * (consumption.target - state.theta)
        return state.theta + pull, _no_change(), state.extra

    def _lazy_memory(self, num_rows, dim):
        return jnp.zeros((num_rows, dim), jnp.float32), jnp.zeros((num_rows,), jnp.int32)

    def _lazy_step(self, key, pop, params, row, theta_row, target, weight):
        theta = theta_row + params.rate * weight * (target - theta_row)
        return pop._replace(rows=pop.rows.at[row].set(theta), since=pop.since.at[row].set(pop.t))

    def _lazy_rows(self, pop, params, rows, anchors):
        return jnp.where((pop.since[rows] > 0)[:, None], pop.rows[rows], anchors)


@pytree.dataclass
class BoredomParams:
    rate: float = knob(0.1, low=0.0, doc="appeal lost per unit of satiation")
    recovery: float = knob(0.05, low=0.0, high=1.0, doc="fraction of satiation forgotten per step")


@dataclasses.dataclass(frozen=True)
class Boredom(Drift):
    """Satiation: appeal decays with repeated consumption and recovers with time.

    ``s_t = (1 - recovery)(s_{t-1} + m_t c_t)``, ``theta_t = theta_0 - rate * s_t``.  For
    a user preference and consumed item vectors ``c``, ``theta . c`` falls each time a
    similar item is consumed (the user moves away from it); for arm means with ``c = 1``
    at the pulled arm this is the satiation model of rebounding bandits (Leqi et al.
    2021).  Recovery applies to every entry every step: O(size of theta) per step.
    """

    params_type: ClassVar[type] = BoredomParams
    lazy: ClassVar[bool] = True

    def _init_extra(self, key, theta0, params):
        return jnp.zeros_like(theta0)

    def _lazy_memory(self, num_rows, dim):
        return jnp.zeros((num_rows, dim), jnp.float32), jnp.zeros((num_rows,), jnp.int32)

    def _satiation(self, pop, params, rows, t):
        # s_t = (1 - recovery)^{t - tau} s_tau between consumptions (0 for a row never fed)
        elapsed = (t - pop.since[rows]).astype(jnp.float32)
        decay = jnp.power(1.0 - params.recovery, elapsed)
        return decay[..., None] * pop.rows[rows]

    def _lazy_step(self, key, pop, params, row, theta_row, target, weight):
        before = self._satiation(pop, params, row, pop.t - 1)
        satiation = (1.0 - params.recovery) * (before + weight * target)
        return pop._replace(
            rows=pop.rows.at[row].set(satiation), since=pop.since.at[row].set(pop.t)
        )

    def _lazy_rows(self, pop, params, rows, anchors):
        return anchors - params.rate * self._satiation(pop, params, rows, pop.t)

    def _next(self, key, state, params, consumption, t):
        satiation = state.extra
        if consumption is not None:
            satiation = satiation + consumption.mask * consumption.target
        satiation = (1.0 - params.recovery) * satiation
        return state.anchor - params.rate * satiation, _no_change(), satiation


@pytree.dataclass
class RottingParams:
    rate: float = knob(0.01, low=0.0, high=1.0, doc="fraction of appeal lost per consumption")


@dataclasses.dataclass(frozen=True)
class Rotting(Drift):
    """Rotting appeal: ``n_t = n_{t-1} + m_t`` consumptions, ``theta_t = theta_0 (1 - rate)^{n_t}``.

    Arm means (``theta (K,)``, mask one-hot at the pulled arm) decay geometrically with
    their number of pulls (rotting bandits, Levine, Crammer & Mannor 2017); for a user's
    preference row, the whole row shrinks with each consumption (engagement fatigue).
    Row-local: O(d) per step through :meth:`Drift.step_row`.
    """

    params_type: ClassVar[type] = RottingParams
    row_local: ClassVar[bool] = True
    lazy: ClassVar[bool] = True

    def _init_extra(self, key, theta0, params):
        return jnp.zeros_like(theta0)

    def _lazy_memory(self, num_rows, dim):
        return jnp.zeros((num_rows, 1), jnp.float32), jnp.zeros((0,), jnp.int32)

    def _lazy_step(self, key, pop, params, row, theta_row, target, weight):
        return pop._replace(rows=pop.rows.at[row].add(weight))

    def _lazy_rows(self, pop, params, rows, anchors):
        return anchors * jnp.power(1.0 - params.rate, pop.rows[rows])

    def _next(self, key, state, params, consumption, t):
        counts = state.extra
        if consumption is not None:
            counts = counts + consumption.mask * jnp.ones_like(counts)
        theta = state.anchor * jnp.power(1.0 - params.rate, counts)
        return theta, _no_change(), counts


# --------------------------------------------------------------------------------------
# Reactions to exposure (read what was shown, clicked or not)
# --------------------------------------------------------------------------------------


@pytree.dataclass
class InterestParams:
    rate: float = knob(
        0.01, low=0.0, doc="largest step of the interest in a shown item: delta ~ U[0, rate]"
    )
    reset: float = knob(
        0.0, low=0.0, high=1.0, doc="probability q that a shown item's interest is reset"
    )
    reset_scale: float = knob(
        0.5, low=0.0, high=1.0, doc="share s of the interest a reset keeps (1: no reset)"
    )
    reset_range: float = knob(
        0.5, low=0.0, doc="a reset's fresh part xi ~ U[-reset_range, reset_range]"
    )


@dataclasses.dataclass(frozen=True)
class Interest(Drift):
    """Interest that follows the reaction to what was shown: the degenerate feedback loop.

    The user model of Jiang et al. (2019) as instantiated by Khritankov & Pilkevich (2021).
    A user's interest in item ``j`` is ``mu_j = theta . v_j``; every *shown* item that the
    user examined moves with the reaction ``c_j`` (1 click, 0 none), clicked or not, and
    nothing else moves::

        delta_j ~ U[0, rate]
        mu_j <- mu_j + delta_j (2 c_j - 1)                      (up if clicked, else down)
        with probability q = reset:  mu_j <- s mu_j + (1 - s) xi_j,  xi_j ~ U[-r, r]

    with ``s = reset_scale`` and ``r = reset_range``; in ``theta``, each change of ``mu_j``
    is made along ``v_j`` (``theta += change * v_j / ||v_j||^2``), so with one-hot items
    (``theta`` the vector of interests, ``v_j = e_j``: the papers' setting) it is exactly
    the per-item update above, and with latent item vectors a click pulls the taste toward
    the item and a rejection pushes it away.  The positions of a slate move together from
    the round's ``theta`` (exact for orthogonal items).

    Jiang et al.'s positive-feedback user is ``reset = 0``: a recommender that keeps
    showing what is clicked makes ``||theta_t - theta_0||`` grow without bound (their
    degeneracy; the echo chamber), faster when the candidate pool is small and exploration
    rare (the filter bubble).  Khritankov & Pilkevich show that additive noise in the
    reaction (``drifting_users``' ``logit_noise``) slows that growth but does not stop it,
    while any ``q > 0`` with ``s < 1`` bounds it: an item shown every round settles where a
    step up balances the expected reset, ``mu* = d (1 - q (1 - s)) / (q (1 - s))`` with
    ``d = E delta (2 sigma(mu*) - 1)`` (about ``rate / 2`` once clicks are certain).

    Randomness: the steps, reset coins and fresh draws of row ``u`` come from
    ``fold_in(key, u)`` (the environment's step key), one triple per position.  Reacts to
    exposure (``reads_exposure``): only environments that pass what was shown use it
    (``drifting_users``); O(k d) per step, one memory row per user.

    Choices where the papers leave room: the reset's fresh part is a new draw from
    ``U[-reset_range, reset_range]`` (their code's; 0.5 is their initial law), not the
    user's initial interest; only shown and examined items move or reset; no clipping.

    References: Jiang, Chiappa, Lattimore, György & Kohli (2019), "Degenerate feedback loops
    in recommender systems", AIES; Khritankov & Pilkevich (2021), "Existence conditions for
    hidden feedback loops in online recommender systems", arXiv 2109.05278.
    """

    params_type: ClassVar[type] = InterestParams
    row_local: ClassVar[bool] = True
    lazy: ClassVar[bool] = True
    reads_exposure: ClassVar[bool] = True

    def react(self, key: Array, theta: Array, params: Any, exposure: Exposure) -> Array:
        """One user's ``theta (d,)`` after the reactions of ``exposure``."""
        items = jnp.asarray(exposure.items, jnp.float32)
        k = items.shape[0]
        key_step, key_coin, key_fresh = jax.random.split(key, 3)
        delta = params.rate * jax.random.uniform(key_step, (k,), jnp.float32)
        seen = exposure.seen
        norms = jnp.sum(items * items, axis=-1)
        along = items / jnp.where(norms > 0, norms, 1.0)[:, None]  # v_j / ||v_j||^2
        steps = seen * delta * (2.0 * exposure.clicks - 1.0)
        moved = theta + steps @ items
        interest = items @ moved
        reset = (seen > 0) & (jax.random.uniform(key_coin, (k,), jnp.float32) < params.reset)
        fresh = params.reset_range * jax.random.uniform(key_fresh, (k,), jnp.float32, -1.0, 1.0)
        target = params.reset_scale * interest + (1.0 - params.reset_scale) * fresh
        return moved + jnp.where(reset, target - interest, 0.0) @ along

    def _lazy_memory(self, num_rows, dim):
        return jnp.zeros((num_rows, dim), jnp.float32), jnp.zeros((num_rows,), jnp.int32)

    def _lazy_expose(self, key, pop, params, row, theta_row, exposure):
        theta = self.react(jax.random.fold_in(key, row), theta_row, params, exposure)
        return pop._replace(rows=pop.rows.at[row].set(theta), since=pop.since.at[row].set(pop.t))

    def _lazy_rows(self, pop, params, rows, anchors):
        return jnp.where((pop.since[rows] > 0)[:, None], pop.rows[rows], anchors)

    def _next(self, key, state, params, consumption, t):
        # rows of theta (axis 0; one row for a 1-d theta) were shown their target where the
        # mask is 1, with the reaction (the mask itself when no reaction is given)
        if consumption is None:
            return state.theta, _no_change(), state.extra
        theta = jnp.atleast_2d(state.theta)
        shape = theta.shape[:1]
        shown = jnp.broadcast_to(jnp.asarray(consumption.mask, jnp.float32), shape + (1,))
        reaction = consumption.mask if consumption.reaction is None else consumption.reaction
        clicks = jnp.broadcast_to(jnp.asarray(reaction, jnp.float32), shape + (1,))
        target = jnp.atleast_2d(consumption.target)

        def one_row(row, theta_row, item, click, seen):
            exposure = Exposure(item[None], click, seen)
            return self.react(jax.random.fold_in(key, row), theta_row, params, exposure)

        rows = jnp.arange(shape[0], dtype=jnp.int32)
        new = jax.vmap(one_row)(rows, theta, target, clicks, shown)
        return new.reshape(state.theta.shape), _no_change(), state.extra


# --------------------------------------------------------------------------------------
# AR(1) paths as fixed functions of (key, t): a dyadic Gaussian bridge
# --------------------------------------------------------------------------------------

BRIDGE_LEVELS = 31  # the dyadic tree spans [0, 2^31]: every non-negative int32 step


def _ar1_variance(n: Array, reversion: Array) -> Array:
    """``Var(Y_n) = (1 - a^{2n}) / (1 - a^2)`` for unit innovations, ``a = 1 - r``
    (``n`` at ``r = 0``, 1 at ``r = 1`` and ``n >= 1``), computed without cancellation."""
    r = reversion
    safe = jnp.where(r > 0, r, 1.0)
    ratio = -jnp.expm1(2.0 * n * jnp.log1p(-safe)) / (safe * (2.0 - safe))
    return jnp.where(r > 0, ratio, n)


def ar1_at(key: Array, t: Array, shape: tuple[int, ...], reversion: Any = 0.0) -> Array:
    """The value at step ``t`` of ``Y_s = a Y_{s-1} + z_s``, ``Y_0 = 0``, ``z_s ~ N(0, I)``,
    ``a = 1 - reversion``, as a fixed function of ``(key, t)``: a path of the process that
    is read lazily, one step at a time or out of order, and never stored.

    ``Y`` is a Gaussian Markov chain, so (Lévy's construction of Brownian motion, for any
    ``a``) it can be drawn coarse to fine on the dyadic tree over ``[0, H]``, ``H = 2^31``:
    first ``Y_H ~ N(0, v(H))``, then the midpoint ``m`` of every interval ``[l, l + 2h]``
    given its ends::

        Y_m | Y_l, Y_{l+2h} ~ N(a^h (Y_l + Y_{l+2h}) / (1 + a^{2h}),  v(h) / (1 + a^{2h}))
        v(n) = Var(Y_n) = (1 - a^{2n}) / (1 - a^2)     (= n for a = 1)

    (the Gaussian conditioning of ``Y_m`` on ``Y_{l+2h}`` with ``Cov = a^h v(h)`` and
    ``v(2h) = v(h)(1 + a^{2h})``; for ``a = 1`` the Brownian bridge ``(Y_l + Y_r) / 2 +
    sqrt(h / 2) z``).  Every node's normal is drawn from ``fold_in(key, node)`` (heap
    numbering), so ``Y_t`` needs only the ``BRIDGE_LEVELS + 1 = 32`` nodes on the way to
    ``t``: O(32 * size) work and no state, and the values at all steps have exactly the
    joint law of the chain (the same path whenever it is read).

    Args:
      key: the path's key (one per row of a population).
      t: ``()`` int step in ``[0, 2^31)``.
      shape: the shape of ``Y`` (e.g. ``(d,)``).
      reversion: ``r`` in ``[0, 1]`` (traced); 0 is a Gaussian random walk.

    Returns:
      ``Y_t``, float32 of ``shape`` (exactly 0 at ``t = 0``).

    Example::

        y = jax.vmap(lambda t: ar1_at(key, t, (3,)))(jnp.arange(100))  # one path, 100 steps

    References: P. Lévy (1939) for the midpoint construction; P. Glasserman, *Monte Carlo
    Methods in Financial Engineering* (2004), §3.1 (Brownian bridge construction).
    """
    levels = np.arange(1, BRIDGE_LEVELS + 1)
    r = jnp.asarray(reversion, jnp.float32)
    half = jnp.asarray(2.0 ** (BRIDGE_LEVELS - levels), jnp.float32)  # h at each level
    log_a = jnp.log1p(-jnp.where(r < 1, r, 0.0))
    a_h = jnp.where(r < 1, jnp.exp(half * log_a), 0.0)  # a^h, 0 when a = 0 (h >= 1)
    a_2h = a_h * a_h
    pull = a_h / (1.0 + a_2h)
    spread = jnp.sqrt(_ar1_variance(half, r) / (1.0 + a_2h))
    root = jnp.sqrt(_ar1_variance(jnp.float32(2.0**BRIDGE_LEVELS), r))

    step = jnp.asarray(t, jnp.int32).astype(jnp.uint32)
    shifts = jnp.asarray(BRIDGE_LEVELS + 1 - levels, jnp.uint32)  # interval index at level l
    first = jnp.asarray(2 ** (levels - 1), jnp.uint32)  # heap number of the level's first node
    nodes = jnp.concatenate([jnp.zeros((1,), jnp.uint32), first + (step >> shifts)])
    go_right = ((step >> jnp.asarray(BRIDGE_LEVELS - levels, jnp.uint32)) & 1) == 1
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, nodes)
    z = jax.vmap(lambda k: jax.random.normal(k, shape, jnp.float32))(keys)

    def descend(ends, level):  # invariant l <= t < r; ends with r = l + 1, t = l
        left, right = ends
        pull_l, spread_l, z_l, go_right_l = level
        middle = pull_l * (left + right) + spread_l * z_l
        left = jnp.where(go_right_l, middle, left)
        right = jnp.where(go_right_l, right, middle)
        return (left, right), None

    ends = (jnp.zeros(shape, jnp.float32), root * z[0])  # (Y_0 = 0, Y_H)
    (left, _), _ = jax.lax.scan(descend, ends, (pull, spread, z[1:], go_right))
    return left


def _row_paths(pop: Population, rows: Array, dim: int, reversion: Any) -> Array:
    """``Y_u(pop.t)`` ``(n, dim)`` of the AR(1) paths of ``rows``: row ``u``'s path is keyed
    by ``fold_in(pop.key, u)``."""
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(pop.key, rows)
    return jax.vmap(ar1_at, in_axes=(0, None, None, None))(keys, pop.t, (dim,), reversion)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------

DRIFTS.register("stationary", Stationary)
DRIFTS.register("random_walk", RandomWalk)
DRIFTS.register("mean_reverting", MeanReverting)
DRIFTS.register("abrupt", Abrupt)
DRIFTS.register("periodic", Periodic)
DRIFTS.register("rotation", Rotation)
DRIFTS.register("endogenous", Endogenous)
DRIFTS.register("boredom", Boredom)
DRIFTS.register("rotting", Rotting)
DRIFTS.register("interest", Interest)

make = DRIFTS.make
names = DRIFTS.names


def options_dict(options: Any, field: str = "env.drift_options") -> dict[str, Any]:
    """``drift_options`` as a dict: accepts a dict or a tuple of ``(key, value)`` pairs."""
    if options is None:
        return {}
    if isinstance(options, dict):
        return dict(options)
    try:
        return {str(k): v for k, v in options}
    except (TypeError, ValueError):
        raise ConfigError(
            f"{field} = {options!r}: must be a dict or a tuple of (key, value) pairs"
        ) from None


def options_tuple(options: Any, field: str = "env.drift_options") -> tuple:
    """``drift_options`` as a hashable, sorted tuple of ``(key, value)`` pairs."""
    return tuple(sorted(options_dict(options, field).items()))


def build(name: str, options: Any = (), field: str = "env.drift") -> Drift:
    """Build drift ``name`` with static ``options``; ConfigError naming ``field`` otherwise."""
    if not isinstance(name, str) or name not in DRIFTS:
        raise ConfigError(f"{field} = {name!r}: unknown drift; allowed: {', '.join(names())}")
    try:
        return make(name, **options_dict(options, field + "_options"))
    except ConfigError as err:
        raise ConfigError(f"{field} = {name!r}: {err}") from None


def attach(env: Any, exposure: bool = False) -> Drift:
    """For an environment with static fields ``drift`` and ``drift_options``: validate them
    (ConfigError naming ``env.drift``), store ``drift_options`` as a sorted tuple of pairs
    (a dict is accepted), and keep the built process as ``env.drift_process``.

    Call it from the environment's ``__post_init__``; ``exposure=True`` when the
    environment passes what was shown (:class:`Exposure`) to the drift, so that the
    processes that react to exposure (``interest``) are allowed.
    """
    options = options_tuple(env.drift_options)
    object.__setattr__(env, "drift_options", options)
    process = build(env.drift, options)
    if process.reads_exposure and not exposure:
        readers = ", ".join(n for n in names() if make(n).reads_exposure)
        raise ConfigError(
            f"env.drift = {env.drift!r}: reacts to what the user was shown, clicked or not, "
            f"which {type(env).__name__} does not pass to its drift; use it with "
            f"drifting_users, or pick another drift (allowed here: "
            f"{', '.join(n for n in names() if not make(n).reads_exposure)}; exposure "
            f"drifts: {readers})"
        )
    object.__setattr__(env, "drift_process", process)
    return process


__all__ = [
    "DRIFTS",
    "Abrupt",
    "Boredom",
    "Consumption",
    "Drift",
    "DriftState",
    "Endogenous",
    "Exposure",
    "Interest",
    "MeanReverting",
    "Periodic",
    "Population",
    "RandomWalk",
    "Rotation",
    "Rotting",
    "Stationary",
    "ar1_at",
    "as_consumption",
    "attach",
    "build",
    "make",
    "names",
    "rotate",
]
