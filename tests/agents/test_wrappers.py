"""The restart and delay wrappers against references built from the bare agent."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from agents.types import Agent, Needs
from agents.wrappers import _RESTART_SALT, with_delay, with_fresh_arms, with_restart
from experiments.runner import make_run
from simulator.params import ConfigError
from simulator.types import Context
from tests.agents.test_contextual import feed, random_transitions

STEPS = 14


@flax.struct.dataclass
class NoHParams:
    pass


class ProbeState(flax.struct.PyTreeNode):
    total: jax.Array  # discounted reward sum: depends on the order of the updates
    noise: jax.Array  # discounted sum of uniform(update key): depends on the keys too
    count: jax.Array  # int32 number of updates
    mark: jax.Array  # uniform(init key): changes exactly when the state is re-initialised


def probe_agent(num_arms: int = 3) -> Agent:
    """A tiny agent whose state records which transitions, keys and inits it saw."""

    def init(key, hparams):
        zero = jnp.zeros((), jnp.float32)
        return ProbeState(zero, zero, jnp.zeros((), jnp.int32), jax.random.uniform(key))

    def act(key, state, context, hparams):
        return (state.count % num_arms).astype(jnp.int32)

    def update(key, state, transition, hparams):
        return ProbeState(
            total=0.9 * state.total + transition.reward + transition.action,
            noise=0.5 * state.noise + jax.random.uniform(key),
            count=state.count + 1,
            mark=state.mark,
        )

    return Agent(
        "probe",
        init,
        act,
        update,
        NoHParams,
        {"num_arms": num_arms},
        needs=Needs(num_arms=num_arms),
    )


def transitions_with_changes(change_rounds=()):
    transitions = random_transitions(20, STEPS, 3, 0, 0)[0]
    flags = np.isin(np.arange(STEPS), change_rounds)
    return transitions._replace(oracle=transitions.oracle._replace(change_point=jnp.asarray(flags)))


def bare_states(agent, transitions):
    """``[state after k updates for k = 0..T]`` of the bare agent with :func:`feed`'s keys."""
    init = agent.init(jax.random.split(jax.random.key(0), STEPS + 1)[0], agent.default_hparams())
    states = feed(agent, agent.default_hparams(), transitions)
    return [init] + [jax.tree.map(lambda x, t=t: x[t], states) for t in range(STEPS)]


def assert_same(state, expected):
    """Integers exactly; floats to 1e-6 (separately compiled programs may fuse
    ``0.9 total + r`` differently, a last-bit difference)."""
    for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(expected)):
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype and got.shape == want.shape
        if np.issubdtype(got.dtype, np.integer):
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- restart


def test_restart_reinitialises_exactly_at_change_points():
    probe = probe_agent()
    changes = (4, 9)
    transitions = transitions_with_changes(changes)
    states = feed(with_restart(probe), probe.default_hparams(), transitions)

    keys = jax.random.split(jax.random.key(0), STEPS + 1)
    hp = probe.default_hparams()
    expected = probe.init(keys[0], hp)
    for t in range(STEPS):
        transition = jax.tree.map(lambda x, t=t: x[t], transitions)
        if t in changes:
            expected = probe.init(jax.random.fold_in(keys[t + 1], _RESTART_SALT), hp)
        expected = probe.update(keys[t + 1], expected, transition, hp)
        assert_same(jax.tree.map(lambda x, t=t: x[t], states), expected)
    np.testing.assert_array_equal(states.count, [1, 2, 3, 4, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5])
    new_mark = np.diff(np.asarray(states.mark)) != 0
    np.testing.assert_array_equal(np.flatnonzero(new_mark) + 1, changes)

    # Without change points it is the bare agent.
    plain = transitions_with_changes()
    assert_same(feed(with_restart(probe), hp, plain), feed(probe, hp, plain))


# --------------------------------------------------------------------------- delay


@pytest.mark.parametrize("every, delay", [(1, 0), (4, 0), (1, 3), (2, 3)])
def test_delay_feeds_the_bare_updates_late_and_in_blocks(every, delay):
    """After round t (0-based) the inner agent has applied exactly the first
    ``B floor(max(0, t + 1 - D) / B)`` transitions, in order, each with its own round's key:
    its state is the bare agent's after that many updates.  (1, 0) is the bare agent."""
    probe = probe_agent()
    transitions = transitions_with_changes()
    wrapped = with_delay(probe, every=every, delay=delay)
    states = feed(wrapped, probe.default_hparams(), transitions)
    reference = bare_states(probe, transitions)
    applied = []
    for t in range(STEPS):
        delivered = max(0, t + 1 - delay)
        applied.append(every * (delivered // every))
        assert_same(jax.tree.map(lambda x, t=t: x[t], states.inner), reference[applied[-1]])
    assert applied[-1] > 0 and len(set(applied)) > 2, "the test must exercise deliveries"
    context = Context(jnp.zeros((0,)), jnp.zeros((3, 0)))
    last = jax.tree.map(lambda x: x[-1], states)
    assert int(wrapped.act(jax.random.key(1), last, context, NoHParams())) == applied[-1] % 3


def test_delay_in_the_runner_bare_equivalence_and_an_unbatched_flush():
    """Through the runner under vmap: ``every=1`` reproduces the bare agent's log, and with
    ``every=5`` the flush stays a ``cond`` (its counter is not batched), so a round
    without a flush does not pay for ``every`` updates."""
    env = simulator.make("bernoulli", num_arms=4)
    bare = agents.make("discounted_ucb", num_arms=4)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(5), i))(jnp.arange(3))
    params, hp = env.default_params(), bare.default_hparams()

    def regret(agent):
        run = jax.jit(jax.vmap(make_run(env, agent, 60), in_axes=(0, None, None)))
        return np.asarray(run(keys, params, hp).regret)

    np.testing.assert_array_equal(regret(with_delay(bare, every=1)), regret(bare))

    batched = with_delay(bare, every=5)
    jaxpr = jax.make_jaxpr(jax.vmap(make_run(env, batched, 10), in_axes=(0, None, None)))
    text = str(jaxpr(keys, params, hp))
    assert "cond[" in text, "the flush became a select under vmap"


# --------------------------------------------------------------------------- bad input


def test_wrappers_reject_bad_input():
    probe = probe_agent()
    with pytest.raises(ConfigError, match="every = 0"):
        agents.wrap(probe, "delay", every=0)
    with pytest.raises(ConfigError, match="delay = -1"):
        agents.wrap(probe, "delay", delay=-1)
    with pytest.raises(ConfigError, match="must be an Agent"):
        agents.wrap("ucb", "restart")
    anonymous = Agent("anon", probe.init, probe.act, probe.update, NoHParams, {})
    with pytest.raises(ConfigError, match="num_arms is required"):
        with_delay(anonymous, every=2)
    with_delay(anonymous, every=2, num_arms=3)  # explicit shapes are enough

    # The probe declares no feature dimensions: its transitions' features are not buffered.
    transition = jax.tree.map(lambda x: x[0], random_transitions(1, 1, 3, 2, 4)[0])
    wrapped = with_delay(probe, every=2)
    state = wrapped.init(jax.random.key(0), NoHParams())
    state = jax.jit(wrapped.update)(jax.random.key(1), state, transition, NoHParams())
    assert state.block.context.features.shape == (2, 0)
    assert state.block.context.arm_features.shape == (2, 3, 0)
    # Declared (or given) dimensions are checked against the transitions at trace time.
    wrapped = with_delay(probe, every=2, context_dim=0)
    state = wrapped.init(jax.random.key(0), NoHParams())
    with pytest.raises(ConfigError, match=r"context.*features.*\(2,\).*expected \(0,\)"):
        jax.jit(wrapped.update)(jax.random.key(1), state, transition, NoHParams())


def test_wrappers_keep_the_inner_agents_estimate():
    inner = agents.make("linucb", arm_dim=3, num_arms=4)
    hparams = inner.default_hparams
    state = inner.init(jax.random.key(0), hparams)
    for wrapped in (
        with_restart(inner),
        with_fresh_arms(inner, num_arms=4),
        with_delay(inner, every=2, num_arms=4, context_dim=0, arm_dim=3),
    ):
        wrapped_state = wrapped.init(jax.random.key(0), hparams)
        np.testing.assert_array_equal(wrapped.estimate(wrapped_state), inner.estimate(state))


def test_delay_buffers_the_ids_an_embedding_agent_reads():
    from agents.wrappers import _buffered, _template
    from simulator.types import Context

    inner = agents.make("two_tower", num_arms=3, context_dim=2, arm_dim=2, num_users=5, num_items=7)
    template = _template(inner, num_arms=3, context_dim=2, arm_dim=2)
    assert template.context.user_id.dtype == jnp.int32
    assert template.context.item_ids.shape == (3,)
    transition = random_transitions(1, 1, 3, 2, 2)[0]
    transition = jax.tree.map(lambda x: x[0], transition)
    with_ids = transition._replace(
        context=Context(
            transition.context.features,
            transition.context.arm_features,
            user_id=jnp.int32(4),
            item_ids=jnp.array([6, 0, 2], jnp.int32),
        )
    )
    kept = _buffered(with_ids, template, (True, True))
    assert int(kept.context.user_id) == 4 and kept.context.item_ids.tolist() == [6, 0, 2]
    with pytest.raises(ConfigError, match="structure does not match"):
        _buffered(transition, template, (True, True))  # the environment gives no ids
    plain = _template(agents.make("ucb", num_arms=3), num_arms=3, context_dim=0, arm_dim=0)
    assert plain.context.user_id is None and plain.context.item_ids is None
