"""Discounted Beta–Bernoulli Thompson sampling (Raj & Kalyani 2017)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.thompson import BetaState  # S, F: here the discounted counts
from agents.common import check_num_arms, random_argmax
from agents.sampling import beta
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class DiscountedThompsonHParams:
    discount: float = knob(0.99, low=0.0, high=1.0, low_open=True, doc="gamma in (0, 1]")
    alpha0: float = knob(1.0, low=0.0, low_open=True, doc="prior Beta(alpha0, beta0) successes")
    beta0: float = knob(1.0, low=0.0, low_open=True, doc="prior Beta(alpha0, beta0) failures")


def discounted_thompson(num_arms: int = 10) -> Agent:
    """Thompson sampling on a Beta posterior whose counts decay geometrically.

    Every round all arms' counts decay and the chosen arm ``a`` adds its reward ``r``::

        S <- gamma S + r 1[a],    F <- gamma F + (1 - r) 1[a]
        theta_i ~ Beta(alpha0 + S_i, beta0 + F_i),    a_{t+1} = argmax_i theta_i

    so old evidence fades and the posterior stays wide enough to notice a change.
    ``gamma = 1`` is the stationary Beta–Bernoulli sampler.  Rewards are clipped to
    ``[0, 1]``, the model's range (fractional rewards count fractionally): the agent needs
    rewards in ``[0, 1]`` (``needs.reward_range``), outside it the counts are no Beta
    posterior.  Beta draws use
    :func:`agents.sampling.beta` (exact, vectorised); ties at random.

    Args:
      num_arms: K.

    Example::

        agent = discounted_thompson(10)
        hp = agent.default_hparams().replace(discount=0.95)

    Reference: V. Raj & S. Kalyani, "Taming non-stationary bandits: a Bayesian approach",
    arXiv:1707.09727 (2017), discounted Thompson sampling (dTS).
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        zeros = jnp.zeros((num_arms,), jnp.float32)
        return BetaState(successes=zeros, failures=zeros)

    def act(key, state, context, hparams):
        key_sample, key_tie = split_keys(key)
        theta = beta(key_sample, hparams.alpha0 + state.successes, hparams.beta0 + state.failures)
        return random_argmax(key_tie, theta)

    def update(key, state, transition, hparams):
        chosen = jax.nn.one_hot(transition.action, num_arms, dtype=jnp.float32)
        reward = jnp.clip(transition.reward, 0.0, 1.0)
        gamma = hparams.discount
        return BetaState(
            successes=gamma * state.successes + reward * chosen,
            failures=gamma * state.failures + (1.0 - reward) * chosen,
        )

    return Agent(
        "discounted_thompson",
        init,
        act,
        update,
        DiscountedThompsonHParams,
        {"num_arms": num_arms},
        needs=Needs(num_arms=num_arms, reward_range=(0.0, 1.0)),
    )
