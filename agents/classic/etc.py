"""Explore-then-commit (Lattimore & Szepesvári 2020, chapter 6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.classic.epsilon_greedy import ValueState
from agents.classic.estimates import sample_average
from agents.common import check_num_arms, one_hot_probabilities, random_argmax
from agents.types import Agent, Needs
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class ETCHParams:
    m: float = knob(10.0, low=1.0, doc="pulls of every arm before committing (round robin)")


class ETCState(pytree.PyTreeNode):
    """Sample averages, the round index and the arm committed to.

    Attributes:
      values: ``(K,)`` float32 sample-average rewards ``Q``.
      counts: ``(K,)`` float32 pulls ``N``.
      step: ``()`` int32 rounds played so far ``t``.
      committed: ``()`` int32 the arm played after exploration (set when it ends).
    """

    values: jax.Array
    counts: jax.Array
    step: jax.Array
    committed: jax.Array


def etc(num_arms: int = 10) -> Agent:
    """Explore-then-commit: ``m`` round-robin pulls of every arm, then the best one forever.

    With ``t = 0, 1, ...`` the round index::

        A_t = t mod K                         while t < m K      (exploration)
        A_t = argmax_a Q(a)  (fixed)          for t >= m K       (commitment)

    where ``Q`` are the sample averages at the end of exploration; the committed arm is
    chosen once (ties at random, in the update that ends exploration) and never revised,
    so ``act`` is deterministic given the state (``action_probabilities`` is one-hot).
    ``m`` is a traced knob, compared with the round counter, so a sweep over ``m`` shares
    one compiled program; it is meant to be an integer (a fractional ``m`` explores for ``ceil(m K)`` rounds).  With
    the horizon ``n`` and gap ``Delta`` known, ``m = max(1, ceil(4/Delta^2 ln(n Delta^2/4)))``
    is the book's tuning for 1-subgaussian rewards (Theorem 6.1 with K = 2).

    Args:
      num_arms: K.

    Example::

        agent = etc(10)
        hp = agent.default_hparams().replace(m=25.0)

    Reference: T. Lattimore & C. Szepesvári, *Bandit Algorithms*, Cambridge University
    Press (2020), chapter 6.
    """
    check_num_arms(num_arms)

    def init(key, hparams):
        zeros = jnp.zeros((num_arms,), jnp.float32)
        return ETCState(
            values=zeros,
            counts=zeros,
            step=jnp.zeros((), jnp.int32),
            committed=jnp.zeros((), jnp.int32),
        )

    def exploring(step, hparams):
        return step.astype(jnp.float32) < hparams.m * num_arms

    def choice(state, hparams):
        round_robin = (state.step % num_arms).astype(jnp.int32)
        return jnp.where(exploring(state.step, hparams), round_robin, state.committed)

    def act(key, state, context, hparams):
        return choice(state, hparams)

    def action_probabilities(state, context, hparams):
        return one_hot_probabilities(choice(state, hparams), num_arms)

    def update(key, state, transition, hparams):
        estimates = sample_average(
            ValueState(values=state.values, counts=state.counts),
            transition.action,
            transition.reward,
        )
        step = state.step + 1
        ends_now = exploring(state.step, hparams) & ~exploring(step, hparams)
        best = random_argmax(key, estimates.values)
        return ETCState(
            values=estimates.values,
            counts=estimates.counts,
            step=step,
            committed=jnp.where(ends_now, best, state.committed),
        )

    return Agent(
        "etc",
        init,
        act,
        update,
        ETCHParams,
        {"num_arms": num_arms},
        action_probabilities=action_probabilities,
        needs=Needs(num_arms=num_arms),
    )
