"""The ``top_k`` wrapper: any scoring agent becomes a ranker.

An agent that scores every arm before it picks the best (its ``scores``: LinUCB's upper
confidence bounds, LinTS's or a neural posterior sample, a network's predicted rewards)
shows the ``k`` best-scored arms instead, in decreasing order of score (ties at random), and
learns from every observed position as from a one-arm round: the arm at position ``j`` with
the click there as its reward, in position order.  Unobserved positions (below a cascade
click) teach it nothing.  This is how CascadeLinUCB (Zong et al. 2016) extends LinUCB, and
it lets the linear, neural and two-tower recommenders rank.

    ranker = agents.wrap(agents.make("linucb", num_arms=20, arm_dim=8), "top_k", slate_size=5)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from agents.ranking.slates import check_slate, display, top_k
from agents.types import Agent, Transition
from simulator import capabilities
from simulator.sampling import split_keys
from simulator.types import require


def with_top_k(agent: Agent, slate_size: int = 2, order: str = "decreasing") -> Agent:
    """Rank with ``agent``'s scores and learn from every observed position.

    Args:
      agent: an agent that acts with one arm and declares ``scores``.
      slate_size: k (the experiment layer passes the environment's).
      order: ``"decreasing"`` (best score first) or ``"increasing"``.

    Returns:
      An agent acting with ``(k,)`` int32 slates; its state and hyperparameters are the
      inner agent's, its ``estimate`` too.  Its update applies the inner update once per
      position ``j = 1..k`` (a ``lax.scan``), with the transition
      ``(context, arm a_j, reward click_j)`` where position ``j`` was observed, and leaves
      the state as it was where it was not.
    """
    require(
        isinstance(agent, Agent),
        f"wrapper 'top_k': expected an agent, got {type(agent).__name__}",
    )
    require(
        agent.needs.action == capabilities.ARM and agent.scores is not None,
        f"wrapper 'top_k': the agent {agent.name!r} does not score its arms (no `scores`; "
        "LinUCB, LinTS, D-LinUCB, SW-LinUCB, the neural agents and two_tower do)",
    )
    check_slate("top_k", agent.needs.num_arms or None, slate_size, order)

    def act(key, state, context, hparams):
        key_scores, key_ties = split_keys(key)
        scores = agent.scores(key_scores, state, context, hparams)
        return display(top_k(key_ties, scores, slate_size), order)

    def update(key, state, transition, hparams):
        positions = transition.positions
        per_position = (
            transition.action,
            positions.clicks,
            positions.observed,
            jax.random.split(key, slate_size),
        )

        def one(state, position):
            arm, click, observed, key_j = position
            single = Transition(
                context=transition.context,
                action=arm,
                reward=click,
                label=transition.label,
                oracle=transition.oracle,
            )
            new = agent.update(key_j, state, single, hparams)
            return jax.tree.map(lambda n, o: jnp.where(observed, n, o), new, state), None

        return jax.lax.scan(one, state, per_position)[0]

    needs = dataclasses.replace(
        agent.needs, action=capabilities.SLATE, slate_size=slate_size, reward_range=None
    )
    static = {
        "agent": agent.name,
        "agent_static": dict(agent.static),
        "slate_size": slate_size,
        "order": order,
    }
    return Agent(
        f"top_k({agent.name})",
        agent.init,
        act,
        update,
        agent.default_hparams,
        static,
        estimate=agent.estimate,
        needs=needs,
        estimate_link=agent.estimate_link,
    )
