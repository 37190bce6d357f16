"""Gradient bandit: softmax action preferences learned by stochastic gradient ascent
(Sutton & Barto 2018, §2.8)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import check_num_arms, softmax_probabilities
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class GradientBanditHParams:
    step_size: float = knob(0.1, low=0.0, low_open=True, doc="alpha, the preference step size")
    baseline: float = knob(
        1.0,
        low=0.0,
        high=1.0,
        doc="weight of the average-reward baseline: 1 with baseline, 0 without",
    )


class PreferenceState(pytree.PyTreeNode):
    """Preferences ``H (K,)``, the average reward so far and the number of rewards, float32."""

    preferences: jax.Array
    mean_reward: jax.Array
    num_rewards: jax.Array


def gradient_bandit_probabilities(state: PreferenceState) -> jax.Array:
    """``pi(a) = exp(H(a)) / sum_b exp(H(b))``, ``(K,)``: the policy ``act`` samples."""
    return softmax_probabilities(state.preferences)


def gradient_bandit(num_arms: int = 10) -> Agent:
    """Softmax policy over preferences ``H``, updated by stochastic gradient ascent.

    Act ``A_t ~ pi_t = softmax(H_t)`` (``pi_t`` is the agent's ``action_probabilities``).
    After reward ``R_t``::

        H(a) <- H(a) + alpha (R_t - b R_bar_t) (1[a = A_t] - pi_t(a))     for every arm a

    where ``R_bar_t`` is the average of the rewards before ``t`` (with ``R_bar_1 = R_1``,
    as in the book's final text) and ``b`` is the ``baseline`` knob: ``b = 1`` is the
    algorithm with baseline, ``b = 0`` without (Figure 2.5 compares the two).  The
    baseline is a traced multiplier rather than a static switch: it sets no shape and no
    control flow, so with and without baseline share one compiled program and Figure 2.5
    is a single sweep; values in between shrink the baseline (any baseline that does not
    depend on ``A_t`` keeps the update an unbiased gradient estimate).

    Args:
      num_arms: K.

    Example::

        agent = gradient_bandit(10)
        hp = agent.default_hparams().replace(step_size=0.4, baseline=0.0)

    Reference: R. S. Sutton & A. G. Barto, *Reinforcement Learning: An Introduction*,
    2nd ed. (2018), §2.8, equation (2.12).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        return PreferenceState(
            preferences=jnp.zeros((num_arms,), jnp.float32),
            mean_reward=jnp.zeros((), jnp.float32),
            num_rewards=jnp.zeros((), jnp.float32),
        )

    def act(key, state, context, hparams):
        return jax.random.categorical(key, state.preferences).astype(jnp.int32)

    def update(key, state, transition, hparams):
        reward = transition.reward
        mean_before = jnp.where(state.num_rewards > 0, state.mean_reward, reward)
        advantage = reward - hparams.baseline * mean_before
        chosen = jax.nn.one_hot(transition.action, num_arms, dtype=jnp.float32)
        step = hparams.step_size * advantage * (chosen - gradient_bandit_probabilities(state))
        num_rewards = state.num_rewards + 1.0
        return PreferenceState(
            preferences=(state.preferences + step).astype(jnp.float32),
            mean_reward=(state.mean_reward + (reward - state.mean_reward) / num_rewards).astype(
                jnp.float32
            ),
            num_rewards=num_rewards,
        )

    def action_probabilities(state, context, hparams):
        return gradient_bandit_probabilities(state)

    return Agent(
        "gradient_bandit",
        init,
        act,
        update,
        GradientBanditHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
