"""Agent wrappers: change behaviour by wrapping, not subclassing.

Each wrapper is a function ``wrapper(agent, **static) -> Agent``, registered by name:

* ``restart`` (:func:`with_restart`): the oracle-restart baseline, re-initialises any
  agent at the environment's change points (it reads ``transition.oracle.change_point``).
* ``delay`` (:func:`with_delay`): delayed and batched feedback; transitions reach the
  learner ``delay`` steps late and/or all at once every ``every`` steps.

* ``fresh_arms`` (:func:`with_fresh_arms`): forgets an arm's statistics when its item is
  replaced.

Every wrapper acts exactly as the inner agent on the inner state, so it keeps the inner
agent's ``action_probabilities``, ``estimate``, ``estimate_link`` and ``needs`` (``delay``
maps them onto the inner state it keeps, and its needs carry the shapes it buffers).

Example::

    agent = agents.wrap(agents.make("discounted_thompson"), "delay", every=100)
    oracle = agents.wrap(agents.make("linucb", arm_dim=2), "restart")
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from agents.types import Agent, Transition
from simulator import capabilities, pytree
from simulator.params import ConfigError
from simulator.registry import Registry
from simulator.types import Context, Oracle, PositionFeedback, require

_RESTART_SALT = 0x5E57A27  # fold-in data of the re-initialisation key
_BUFFER_SALT = 0xB0FFE2  # fold-in data of the placeholder keys of empty buffers
#: The buffered action of each action kind an agent declares (``needs.action``).
_ACTIONS = {
    capabilities.ARM: jax.ShapeDtypeStruct((), jnp.int32),
    capabilities.PREDICTION: jax.ShapeDtypeStruct((), jnp.float32),
}


def _check_agent(agent: Any, wrapper: str) -> None:
    require(isinstance(agent, Agent), f"wrapper {wrapper!r}: agent must be an Agent, got {agent!r}")


def with_restart(agent: Agent) -> Agent:
    """Restart ``agent`` from scratch at every change point of the environment.

    Update with ``transition`` (the first observation of the new world when
    ``transition.oracle.change_point`` is true)::

        state <- agent.init(fold_in(key, salt), hparams)   if change_point   (fresh start)
        state <- agent.update(key, state, transition, hparams)

    So after a change the state has seen only observations of the new world; the action
    of the change round itself was already chosen by the old state.  Without change points
    it is exactly the bare agent (same keys).  An oracle baseline: it reads the oracle,
    which learning agents never do.

    Args:
      agent: any :class:`~agents.types.Agent`.

    Returns:
      An agent with the same state type and hyperparameters (and the inner agent's
      ``act``, so its ``action_probabilities``, ``estimate`` and ``needs`` too).

    Example::

        oracle_restart = with_restart(agents.make("linucb", arm_dim=2))
    """
    _check_agent(agent, "restart")

    def update(key, state, transition, hparams):
        fresh = agent.init(jax.random.fold_in(key, _RESTART_SALT), hparams)
        flag = jnp.asarray(transition.oracle.change_point, jnp.bool_)
        state = jax.tree.map(lambda new, old: jnp.where(flag, new, old), fresh, state)
        return agent.update(key, state, transition, hparams)

    static = {"agent": agent.name, "agent_static": dict(agent.static)}
    return dataclasses.replace(agent, name=f"restart({agent.name})", update=update, static=static)


def with_fresh_arms(agent: Agent, num_arms: int | None = None) -> Agent:
    """Forget everything about an arm whose item was just replaced.

    Environments with a dynamic candidate set (``dynamic_items``; Chapelle & Li 2011, §3)
    flag a slot whose item is new with ``context.arm_features[a, 0] == 1``.  On update,
    every per-arm entry of the state (each leaf whose leading axis has ``num_arms``
    entries) is reset to its initial value for the flagged arms, before the inner update::

        state[..., a] <- agent.init(key, hparams)[..., a]   for every new arm a
        state <- agent.update(key, state, transition, hparams)

    The round on which the new item first appears was chosen with the old statistics (one
    stale step).  Leaves that are not per-arm (a total count) are kept.  Wrap the bare
    agent, inside any ``delay``, so the reset applies to the agent's own state.

    Args:
      agent: an agent whose per-arm statistics lead their leaves (classic bandits).
      num_arms: K (filled from the environment by experiments).
    """
    _check_agent(agent, "fresh_arms")
    require(
        isinstance(num_arms, int) and num_arms >= 1,
        f"fresh_arms.num_arms = {num_arms!r}: must be an integer >= 1",
    )

    def update(key, state, transition, hparams):
        arm_features = transition.context.arm_features
        new = (
            arm_features[:, 0] > 0.5
            if arm_features.shape[-1] > 0
            else jnp.zeros((num_arms,), jnp.bool_)
        )
        fresh = agent.init(jax.random.fold_in(key, _RESTART_SALT), hparams)

        def reset(initial, current):
            if current.ndim == 0 or current.shape[0] != num_arms:
                return current
            mask = new.reshape((num_arms,) + (1,) * (current.ndim - 1))
            return jnp.where(mask, initial, current)

        state = jax.tree.map(reset, fresh, state)
        return agent.update(key, state, transition, hparams)

    static = {"agent": agent.name, "agent_static": dict(agent.static), "num_arms": num_arms}
    return dataclasses.replace(
        agent, name=f"fresh_arms({agent.name})", update=update, static=static
    )


class DelayState(pytree.PyTreeNode):
    """The inner agent's state and the feedback waiting for it.

    Attributes:
      inner: the wrapped agent's state.
      block: ``every`` stacked transitions waiting for the end of the block.
      block_keys: ``(every,)`` their update keys.
      block_size: ``()`` int32 how many are waiting.
      ring: ``delay`` stacked transitions in flight (``None`` when ``delay = 0``).
      ring_keys: ``(delay,)`` their update keys (``None`` when ``delay = 0``).
      ring_slot: ``()`` int32 slot of the oldest transition in flight.
      ring_count: ``()`` int32 transitions in flight, saturating at ``delay``.
    """

    inner: Any
    block: Transition
    block_keys: jax.Array
    block_size: jax.Array
    ring: Transition | None
    ring_keys: jax.Array | None
    ring_slot: jax.Array
    ring_count: jax.Array


def _template(agent: Agent, num_arms: int, context_dim: int, arm_dim: int) -> Transition:
    """Shapes and dtypes of the transitions the wrapper buffers, from the inner agent's
    ``needs`` (nothing is traced): the action of its kind (an int32 arm, a float32
    prediction, or a ``(k,)`` int32 slate with its per-position clicks and observed mask),
    and the ids only for an agent that embeds them (``two_tower``)."""
    f32, i32 = jnp.float32, jnp.int32
    needs = agent.needs
    require(
        needs.action in (*_ACTIONS, capabilities.SLATE),
        f"wrapper 'delay': the agent {agent.name!r} acts with {needs.action!r}; the wrapper "
        f"buffers one of: {', '.join((*_ACTIONS, capabilities.SLATE))}",
    )
    action, positions = _ACTIONS.get(needs.action), None
    if needs.action == capabilities.SLATE:
        k = needs.slate_size
        action = jax.ShapeDtypeStruct((k,), i32)
        positions = PositionFeedback(
            clicks=jax.ShapeDtypeStruct((k,), f32), observed=jax.ShapeDtypeStruct((k,), jnp.bool_)
        )
    context = Context(
        features=jax.ShapeDtypeStruct((context_dim,), f32),
        arm_features=jax.ShapeDtypeStruct((num_arms, arm_dim), f32),
        user_id=jax.ShapeDtypeStruct((), i32) if needs.num_users else None,
        item_ids=jax.ShapeDtypeStruct((num_arms,), i32) if needs.num_items else None,
    )
    scalar = jax.ShapeDtypeStruct((), f32)
    oracle = Oracle(
        expected_reward=jax.ShapeDtypeStruct((num_arms,), f32),
        change_point=jax.ShapeDtypeStruct((), jnp.bool_),
        true_param=jax.ShapeDtypeStruct((0,), f32),
    )
    return Transition(
        context=context,
        action=action,
        reward=scalar,
        label=scalar,
        oracle=oracle,
        positions=positions,
    )


def _buffered(transition: Transition, template: Transition, keep: tuple[bool, bool]) -> Transition:
    """``transition`` cast to the template; ConfigError at trace time on a shape mismatch.

    ``oracle.true_param`` is dropped (its shape is environment-specific), and so are
    ``context.features`` / ``context.arm_features`` when ``keep`` says the inner agent does
    not read them (its ``needs`` declare no ``context_dim`` / ``arm_dim``), and the ids
    unless the inner agent embeds them.
    """
    context = transition.context
    num_arms = template.oracle.expected_reward.shape[0]
    wanted = template.context
    context = Context(
        features=context.features if keep[0] else jnp.zeros((0,), jnp.float32),
        arm_features=context.arm_features if keep[1] else jnp.zeros((num_arms, 0), jnp.float32),
        user_id=None if wanted.user_id is None else context.user_id,
        item_ids=None if wanted.item_ids is None else context.item_ids,
    )
    transition = transition._replace(
        context=context,
        oracle=transition.oracle._replace(true_param=jnp.zeros((0,), jnp.float32)),
    )
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    leaves = jax.tree.leaves(transition)
    if len(leaves) != len(paths):
        raise ConfigError("delay wrapper: the transition's structure does not match")
    for (path, spec), leaf in zip(paths, leaves):
        if tuple(jnp.shape(leaf)) != tuple(spec.shape):
            name = jax.tree_util.keystr(path)
            raise ConfigError(
                f"delay wrapper: transition{name} has shape {tuple(jnp.shape(leaf))}, expected "
                f"{tuple(spec.shape)} from num_arms/context_dim/arm_dim; pass the environment's "
                "num_arms, context_dim and arm_dim to the wrapper"
            )
    return jax.tree.map(lambda spec, leaf: jnp.asarray(leaf, spec.dtype), template, transition)


def _stack(template: Transition, size: int) -> Transition:
    return jax.tree.map(lambda spec: jnp.zeros((size,) + spec.shape, spec.dtype), template)


def _read(buffer: Transition, index) -> Transition:
    return jax.tree.map(lambda x: x[index], buffer)


def _write(buffer: Transition, index, item: Transition) -> Transition:
    return jax.tree.map(lambda x, y: x.at[index].set(y), buffer, item)


def _static_dim(agent: Agent, field: str, value):
    """The explicit value, else the inner agent's declared one (``agent.needs``), else None
    (0 declared: not read)."""
    if value is None:
        value = getattr(agent.needs, field) or None
    require(
        value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0),
        f"wrapper 'delay': {field} = {value!r}: must be an integer >= 0",
    )
    return value


def with_delay(
    agent: Agent,
    every: int = 1,
    delay: int = 0,
    num_arms: int | None = None,
    context_dim: int | None = None,
    arm_dim: int | None = None,
) -> Agent:
    """Delayed and batched feedback for any agent.

    Each transition (with the update key of the round it happened in) first waits
    ``delay = D`` rounds in a ring buffer, then joins a block; when the block holds
    ``every = B`` transitions they are all delivered, in order, to the inner agent's
    ``update`` (a ``lax.fori_loop`` over the block), each with its own original key::

        round t: transition_t enters the ring; transition_{t-D} leaves it (if t >= D)
                 and joins the block; a full block of B is applied and emptied.

    So with ``B = 1`` a transition reaches the learner exactly ``D`` rounds after it
    happened (acting in round ``t + D`` does not know it yet, round ``t + D + 1`` does),
    with ``D = 0`` the learner is updated every ``B`` rounds with the last ``B``
    transitions (Chapelle & Li 2011, §4's delayed/batched updates), and ``B = 1, D = 0``
    is the bare agent.  Acting always uses the inner agent's current state.

    ``B`` and ``D`` are static (they set buffer shapes and the flush period).  The ring
    and block positions depend only on the round, so under ``vmap`` over seeds or
    hyperparameters they stay unbatched and the flush remains a real ``lax.cond``: a
    round without a flush costs one buffer write, not ``B`` updates.

    The buffers need the transition's shapes: the action's from the kind the inner agent
    declares (``needs.action``: an int32 arm, a float32 prediction, or a slate of
    ``needs.slate_size`` arms with its per-position feedback), and ``num_arms``,
    ``context_dim`` and ``arm_dim`` default to the ones it declares in its ``needs``; the
    experiment layer passes the environment's.  A feature block whose dimension is neither
    given nor declared by the agent (e.g. ``arm_features`` for a K-armed ``ucb``, which
    declares only ``num_arms``) is taken as unread: it is not buffered and reaches the
    inner agent empty (shape ``(0,)`` or ``(K, 0)``).  Buffered transitions carry ``oracle.true_param`` as a
    ``(0,)`` placeholder (its shape is environment-specific; learning agents never read
    the oracle).

    Args:
      agent: any :class:`~agents.types.Agent`.
      every: B >= 1, the feedback period.
      delay: D >= 0, the delay in rounds.
      num_arms, context_dim, arm_dim: the environment's shapes (see above).

    Returns:
      An agent whose state is a :class:`DelayState` and whose hyperparameters are the
      inner agent's.  Acting is the inner agent's on ``state.inner``, so are its
      ``action_probabilities`` and ``estimate``; its ``needs`` are the inner agent's with
      the shapes the wrapper buffers (``num_arms``, and ``context_dim`` / ``arm_dim`` where
      given or declared), which every transition must have.

    Example::

        batched = with_delay(agents.make("ucb", num_arms=10), every=100)

    Reference: O. Chapelle & L. Li, "An empirical evaluation of Thompson sampling",
    NeurIPS 2011, §4 (delayed, batched feedback).
    """
    _check_agent(agent, "delay")
    for field, value, low in (("every", every, 1), ("delay", delay, 0)):
        require(
            isinstance(value, int) and not isinstance(value, bool) and value >= low,
            f"wrapper 'delay': {field} = {value!r}: must be an integer >= {low}",
        )
    num_arms = _static_dim(agent, "num_arms", num_arms)
    require(
        num_arms is not None,
        f"wrapper 'delay': num_arms is required (the agent {agent.name!r} does not declare it)",
    )
    require(num_arms >= 1, f"wrapper 'delay': num_arms = {num_arms}: must be >= 1")
    context_dim = _static_dim(agent, "context_dim", context_dim)
    arm_dim = _static_dim(agent, "arm_dim", arm_dim)
    keep = (context_dim is not None, arm_dim is not None)
    template = _template(agent, num_arms, context_dim or 0, arm_dim or 0)

    def init(key, hparams):
        # The inner agent gets the wrapper's key, as it would bare; the buffered keys are
        # placeholders, always overwritten before they are read.
        key_block, key_ring = jax.random.split(jax.random.fold_in(key, _BUFFER_SALT))
        return DelayState(
            inner=agent.init(key, hparams),
            block=_stack(template, every),
            block_keys=jax.random.split(key_block, every),
            block_size=jnp.zeros((), jnp.int32),
            ring=_stack(template, delay) if delay else None,
            ring_keys=jax.random.split(key_ring, delay) if delay else None,
            ring_slot=jnp.zeros((), jnp.int32),
            ring_count=jnp.zeros((), jnp.int32),
        )

    def act(key, state, context, hparams):
        return agent.act(key, state.inner, context, hparams)

    def to_block(state: DelayState, key, transition, hparams) -> DelayState:
        block = _write(state.block, state.block_size, transition)
        block_keys = state.block_keys.at[state.block_size].set(key)
        size = state.block_size + 1
        full = size == every

        def flush(inner):
            def one(i, inner):
                return agent.update(block_keys[i], inner, _read(block, i), hparams)

            return jax.lax.fori_loop(0, every, one, inner)

        inner = jax.lax.cond(full, flush, lambda inner: inner, state.inner)
        return state.replace(
            inner=inner,
            block=block,
            block_keys=block_keys,
            block_size=jnp.where(full, 0, size).astype(jnp.int32),
        )

    def update(key, state, transition, hparams):
        transition = _buffered(transition, template, keep)
        if not delay:
            return to_block(state, key, transition, hparams)
        slot = state.ring_slot
        arrived = state.ring_count == delay  # the slot holds the transition of round t - D
        leaving, leaving_key = _read(state.ring, slot), state.ring_keys[slot]
        state = state.replace(
            ring=_write(state.ring, slot, transition),
            ring_keys=state.ring_keys.at[slot].set(key),
            ring_slot=(slot + 1) % delay,
            ring_count=jnp.minimum(state.ring_count + 1, delay).astype(jnp.int32),
        )
        return jax.lax.cond(
            arrived, lambda s: to_block(s, leaving_key, leaving, hparams), lambda s: s, state
        )

    static = {
        "agent": agent.name,
        "agent_static": dict(agent.static),
        "every": every,
        "delay": delay,
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
    }
    estimate = None if agent.estimate is None else lambda state: agent.estimate(state.inner)
    action_probabilities = None
    if agent.action_probabilities is not None:

        def action_probabilities(state, context, hparams):
            return agent.action_probabilities(state.inner, context, hparams)

    needs = dataclasses.replace(
        agent.needs, num_arms=num_arms, context_dim=context_dim or 0, arm_dim=arm_dim or 0
    )
    return Agent(
        f"delay({agent.name})",
        init,
        act,
        update,
        agent.default_hparams,
        static,
        estimate=estimate,
        action_probabilities=action_probabilities,
        needs=needs,
        estimate_link=agent.estimate_link,
    )


def register_all(registry: Registry) -> None:
    """Register the wrappers."""
    registry.register("restart", with_restart)
    registry.register("delay", with_delay)
    registry.register("fresh_arms", with_fresh_arms)
