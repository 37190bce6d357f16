"""The fresh_arms wrapper forgets the statistics of arms whose item was replaced."""

import jax
import jax.numpy as jnp
import numpy as np

import agents
from agents.types import Transition
from simulator.types import Context, make_oracle


def transition(action, reward, new_arms):
    flags = jnp.zeros((4, 1), jnp.float32).at[jnp.asarray(new_arms, jnp.int32), 0].set(1.0)
    context = Context(features=jnp.zeros((0,)), arm_features=flags)
    return Transition(
        context,
        jnp.int32(action),
        jnp.float32(reward),
        jnp.float32(jnp.nan),
        make_oracle(jnp.zeros(4)),
    )


def test_new_arms_restart_from_the_prior_and_other_arms_keep_their_counts():
    agent = agents.wrap(agents.make("thompson", num_arms=4), "fresh_arms", num_arms=4)
    hp = agent.default_hparams()
    key = jax.random.key(0)
    state = agent.init(key, hp)
    for action, reward in [(0, 1.0), (2, 1.0), (2, 0.0), (3, 1.0)]:
        state = agent.update(key, state, transition(action, reward, []), hp)
    np.testing.assert_array_equal(state.successes, [1, 0, 1, 1])
    np.testing.assert_array_equal(state.failures, [0, 0, 1, 0])
    # Slots 2 and 3 get new items; the reward of this round is the new item 2's.
    state = agent.update(key, state, transition(2, 1.0, [2, 3]), hp)
    np.testing.assert_array_equal(state.successes, [1, 0, 1, 0])
    np.testing.assert_array_equal(state.failures, [0, 0, 0, 0])


def test_without_new_arms_it_is_the_bare_agent():
    bare = agents.make("thompson", num_arms=4)
    wrapped = agents.wrap(bare, "fresh_arms", num_arms=4)
    hp = bare.default_hparams()
    key = jax.random.key(1)
    s_bare, s_wrapped = bare.init(key, hp), wrapped.init(key, hp)
    for action, reward in [(1, 1.0), (1, 0.0), (0, 1.0)]:
        s_bare = bare.update(key, s_bare, transition(action, reward, []), hp)
        s_wrapped = wrapped.update(key, s_wrapped, transition(action, reward, []), hp)
    for a, b in zip(jax.tree.leaves(s_bare), jax.tree.leaves(s_wrapped)):
        np.testing.assert_array_equal(a, b)
