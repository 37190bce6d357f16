"""Sliding windows traced below a static ``max_window`` (``sw_linucb``, ``sliding_window_ucb``).

* the same bits as the static-window implementations they replaced (kept below, verbatim
  but for their docstrings), for any ``max_window >= window``, alone and under ``vmap`` over
  different windows;
* a sweep over windows is one compile group and compiles one chunk program;
* the ring buffer's write slot stays shared by every run of such a sweep (the executor's
  shared-leaf mask), so the step does not select over the buffer;
* the planner sizes ``max_window`` to the experiment's largest window and refuses a window
  above an explicit one before compiling.
"""

from __future__ import annotations

import logging

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents
import simulator
from agents.common import random_argmax
from agents.contextual.common import arm_inputs, feature_dim, input_bound
from agents.linalg import cho_solve, cholesky
from agents.nonstationary.discounted_ucb import SlidingWindowUCBHParams, WindowState
from agents.nonstationary.sw_linucb import SWLinUCBHParams, SWLinUCBState
from agents.types import Agent
from experiments import api
from experiments.execute import compile_group, shared_leaves_mask, stable_shared_mask
from experiments.plan import plan
from experiments.runner import make_run
from simulator.params import ConfigError

# ------------------------------------------------- the static-window code this replaced


def static_sw_linucb(num_arms, arm_dim, window, feature_bound=1.0) -> Agent:
    """``sw_linucb`` as it was with a static ``window`` (no intercept)."""
    bound = input_bound(feature_bound, False)
    dim = feature_dim("shared", 0, arm_dim)

    def radius(hparams):
        return jnp.sqrt(hparams.ridge) * hparams.param_bound + hparams.noise * jnp.sqrt(
            dim * jnp.log((1.0 + window * bound**2 / hparams.ridge) / hparams.delta)
        )

    def init(key, hparams):
        eye = jnp.eye(dim, dtype=jnp.float32)
        return SWLinUCBState(
            inputs=jnp.zeros((window, dim), jnp.float32),
            rewards=jnp.zeros((window,), jnp.float32),
            position=jnp.zeros((), jnp.int32),
            v=(hparams.ridge * eye).astype(jnp.float32),
            b=jnp.zeros((dim,), jnp.float32),
            chol=(jnp.sqrt(hparams.ridge) * eye).astype(jnp.float32),
            theta=jnp.zeros((dim,), jnp.float32),
        )

    def act(key, state, context, hparams):
        inputs = arm_inputs(context, "shared", num_arms, 0, False)
        u = cho_solve(state.chol, inputs.T)
        widths = jnp.sqrt(jnp.maximum(jnp.sum(inputs.T * u, axis=0), 0.0))
        return random_argmax(key, inputs @ state.theta + radius(hparams) * widths)

    def update(key, state, transition, hparams):
        inputs = arm_inputs(transition.context, "shared", num_arms, 0, False)
        x = inputs[transition.action]
        reward = jnp.asarray(transition.reward, jnp.float32)
        old_x = state.inputs[state.position]
        old_r = state.rewards[state.position]
        v = state.v + jnp.outer(x, x) - jnp.outer(old_x, old_x)
        b = state.b + reward * x - old_r * old_x
        chol = cholesky(v)
        return SWLinUCBState(
            inputs=state.inputs.at[state.position].set(x),
            rewards=state.rewards.at[state.position].set(reward),
            position=(state.position + 1) % window,
            v=v,
            b=b,
            chol=chol,
            theta=cho_solve(chol, b),
        )

    return Agent(
        "static_sw_linucb",
        init,
        act,
        update,
        StaticSWLinUCBHParams,
        estimate=lambda state: state.theta,
    )


def static_sliding_window_ucb(num_arms, window) -> Agent:
    """``sliding_window_ucb`` as it was with a static ``window``."""

    def indices(state, hparams):
        counts = state.counts.astype(jnp.float32)
        played = counts > 0
        safe = jnp.where(played, counts, 1.0)
        horizon = jnp.maximum(state.filled.astype(jnp.float32), 1.0)
        padding = hparams.bound * jnp.sqrt(hparams.xi * jnp.log(horizon) / safe)
        return jnp.where(played, state.sums / safe + padding, jnp.inf)

    def init(key, hparams):
        return WindowState(
            actions=jnp.full((window,), -1, jnp.int32),
            rewards=jnp.zeros((window,), jnp.float32),
            position=jnp.zeros((), jnp.int32),
            filled=jnp.zeros((), jnp.int32),
            counts=jnp.zeros((num_arms,), jnp.int32),
            sums=jnp.zeros((num_arms,), jnp.float32),
        )

    def act(key, state, context, hparams):
        return random_argmax(key, indices(state, hparams))

    def update(key, state, transition, hparams):
        action = jnp.asarray(transition.action, jnp.int32)
        reward = jnp.asarray(transition.reward, jnp.float32)
        old_action = state.actions[state.position]
        old_reward = state.rewards[state.position]
        leaving = (old_action >= 0).astype(jnp.int32)
        old_index = jnp.maximum(old_action, 0)
        counts = state.counts.at[old_index].add(-leaving).at[action].add(1)
        sums = state.sums.at[old_index].add(-leaving * old_reward).at[action].add(reward)
        return WindowState(
            actions=state.actions.at[state.position].set(action),
            rewards=state.rewards.at[state.position].set(reward),
            position=(state.position + 1) % window,
            filled=jnp.minimum(state.filled + 1, window),
            counts=counts,
            sums=jnp.where(counts > 0, sums, 0.0),
        )

    return Agent("static_sliding_window_ucb", init, act, update, StaticSWUCBHParams)


@flax.struct.dataclass
class StaticSWLinUCBHParams:
    ridge: float = 0.1
    param_bound: float = 1.0
    noise: float = 1.0
    delta: float = 0.01


@flax.struct.dataclass
class StaticSWUCBHParams:
    bound: float = 1.0
    xi: float = 0.6


# ------------------------------------------------------------------------------ helpers

NUM_ARMS, ARM_DIM, STEPS, SEEDS = 5, 3, 150, 3


def _cases():
    linear = simulator.make("contextual_linear", num_arms=NUM_ARMS, dim=ARM_DIM)
    bernoulli = simulator.make("bernoulli", num_arms=NUM_ARMS)
    return {
        "sw_linucb": (
            linear,
            lambda window, **kw: agents.make(
                "sw_linucb", num_arms=NUM_ARMS, arm_dim=ARM_DIM, window=window, **kw
            ),
            lambda window: static_sw_linucb(NUM_ARMS, ARM_DIM, window),
            StaticSWLinUCBHParams(),
        ),
        "sliding_window_ucb": (
            bernoulli,
            lambda window, **kw: agents.make(
                "sliding_window_ucb", num_arms=NUM_ARMS, window=window, **kw
            ),
            lambda window: static_sliding_window_ucb(NUM_ARMS, window),
            StaticSWUCBHParams(),
        ),
    }


def _logs(env, agent, hparams, hparams_axis=None):
    """Every logged array of ``SEEDS`` runs (``vmap`` over the hparams' leading axis too
    with ``hparams_axis = 0``)."""
    run = jax.vmap(make_run(env, agent, STEPS), in_axes=(0, None, None))
    if hparams_axis is not None:
        run = jax.vmap(run, in_axes=(None, None, hparams_axis))
    keys = jax.random.split(jax.random.key(11), SEEDS)
    log = jax.jit(run)(keys, env.default_params(), hparams)
    return {name: np.asarray(value) for name, value in log._asdict().items() if value is not None}


def _assert_same_bits(got, want, label):
    assert set(got) == set(want), label
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=f"{label}: {name}")


# ------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", ["sw_linucb", "sliding_window_ucb"])
def test_a_traced_window_gives_the_bits_of_the_static_window(name):
    env, make, make_static, static_hparams = _cases()[name]
    window = 7
    want = _logs(env, make_static(window), static_hparams)
    for max_window in (window, 3 * window + 2):
        agent = make(window, max_window=max_window)
        got = _logs(env, agent, agent.default_hparams())
        _assert_same_bits(got, want, f"{name}, max_window {max_window}")
    # a window below the buffer, set as the traced knob
    agent = make(None, max_window=40)
    got = _logs(env, agent, agent.default_hparams().replace(window=window))
    _assert_same_bits(got, want, f"{name}, traced window under max_window 40")


@pytest.mark.parametrize("name", ["sw_linucb", "sliding_window_ucb"])
def test_windows_batched_under_vmap_give_the_bits_of_each_static_window(name):
    env, make, make_static, static_hparams = _cases()[name]
    windows = (1, 4, 9, 30)
    agent = make(None, max_window=max(windows))
    stacked = jax.tree.map(
        lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]),
        *[agent.default_hparams().replace(window=w) for w in windows],
    )
    got = _logs(env, agent, stacked, hparams_axis=0)
    # The static agent under the same vmap (copies of its hparams): XLA batches the
    # environment's arithmetic the same way, so only the agents differ.
    copies = jax.tree.map(lambda x: jnp.full((len(windows),), x), static_hparams)
    for i, window in enumerate(windows):
        want = _logs(env, make_static(window), copies, hparams_axis=0)
        _assert_same_bits(
            {k: v[i] for k, v in got.items()},
            {k: v[i] for k, v in want.items()},
            f"{name}, window {window}",
        )


def test_window_and_max_window_at_construction():
    agent = agents.make("sw_linucb", num_arms=4, arm_dim=2, window=30)
    assert agent.static["max_window"] == 30 and agent.default_hparams().window == 30
    assert agents.make("sw_linucb", num_arms=4, arm_dim=2).default_hparams().window == 100
    small = agents.make("sliding_window_ucb", num_arms=3, max_window=20)
    assert small.static["max_window"] == 20 and small.default_hparams().window == 20
    with pytest.raises(ConfigError, match="agent.window = 50: larger than agent.max_window = 20"):
        agents.make("sliding_window_ucb", num_arms=3, window=50, max_window=20)
    with pytest.raises(ConfigError, match="agent.max_window = 0"):
        agents.make("sw_linucb", num_arms=4, arm_dim=2, max_window=0)
    assert SWLinUCBHParams().window == SlidingWindowUCBHParams().window == 100


def _experiment(windows, **agent_fields):
    return api.as_experiment(
        {
            "name": "windows",
            "num_seeds": 2,
            "num_steps": 40,
            "env": {"name": "contextual_linear", "num_arms": 4, "dim": 3},
            "agents": [{"label": "sw", "name": "sw_linucb", **agent_fields}],
            "sweep": {"agent.window": list(windows)},
        }
    )


WINDOWS = (3, 5, 10, 20, 37)


def test_a_sweep_over_five_windows_compiles_one_program():
    (agent_plan,) = plan(_experiment(WINDOWS))
    (group,) = agent_plan.groups
    assert group.agent.static["max_window"] == max(WINDOWS)  # sized to the largest window
    np.testing.assert_array_equal(group.traced["agent.window"], WINDOWS)

    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            results = api.run(_experiment(WINDOWS))
    finally:
        logger.removeHandler(handler)
    chunks = [m for m in messages if m.startswith("Compiling") and "chunk_points" in m]
    assert len(chunks) == 1, chunks
    regret = results["sw"].cumulative_regret()
    assert regret.shape[0] == len(WINDOWS) and np.isfinite(regret).all()


def test_the_ring_buffer_write_slot_stays_shared_when_windows_differ():
    """The executor passes leaves that no step can make differ unbatched: the write slot
    (``position``) must be one of them, so writing the ring is a ``dynamic_update_slice``
    and the step never selects over the ``(max_window, d)`` buffer."""
    (agent_plan,) = plan(_experiment(WINDOWS))
    (group,) = agent_plan.groups
    compiled = compile_group(group, record_every=1, num_seeds=2)
    keys = jax.random.split(jax.random.key(0), 2)
    traced = {k: jnp.asarray(v) for k, v in group.traced.items()}
    carry = compiled.init(traced, keys, group.env_params, group.hparams)
    mask = stable_shared_mask(group, carry, keys, traced)
    flags = jax.tree.unflatten(jax.tree.structure(carry), list(mask))
    assert flags.agent_state.position  # shared by every point and seed
    assert not flags.agent_state.inputs  # the buffers differ across windows
    assert shared_leaves_mask(carry)  # (the value-based mask agrees at init)

    # No select over a buffer-sized array anywhere in one chunk of the sweep.
    leaves = jax.tree.leaves(carry)
    batched = [x for x, shared in zip(leaves, mask) if not shared]
    shared = [x[0, 0] for x, is_shared in zip(leaves, mask) if is_shared]
    program = compiled.chunk(mask, jax.tree.structure(carry))
    jaxpr = jax.make_jaxpr(
        lambda b, s: program(b, s, traced, keys, group.env_params, group.hparams, 0, 4)
    )(batched, shared)
    buffer = (max(WINDOWS), 3)
    selects = [
        eqn
        for eqn in _equations(jaxpr.jaxpr)
        if eqn.primitive.name == "select_n"
        and any(tuple(v.aval.shape[-2:]) == buffer for v in eqn.outvars)
    ]
    assert not selects, selects


def _equations(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)


def test_the_planner_refuses_a_window_above_an_explicit_max_window():
    with pytest.raises(ConfigError, match=r"agents.sw.window = 37: larger than agents.sw.max"):
        plan(_experiment(WINDOWS, max_window=30))
    (agent_plan,) = plan(_experiment(WINDOWS, max_window=64))
    assert agent_plan.groups[0].agent.static["max_window"] == 64
    # a configured window (no sweep) sizes the buffer as the static window did
    experiment = _experiment(WINDOWS, window=12)
    experiment.sweep.axes.clear()
    (agent_plan,) = plan(experiment)
    (group,) = agent_plan.groups
    assert group.agent.static["max_window"] == 12 and group.hparams.window == 12
    with pytest.raises(ConfigError, match="agents.sw.window = 2.5: must be an integer"):
        plan(_experiment([2.5, 4]))
    with pytest.raises(ConfigError, match="agents.sw.window = 12: larger than"):
        experiment = _experiment(WINDOWS, window=12, max_window=8)
        experiment.sweep.axes.clear()
        plan(experiment)
