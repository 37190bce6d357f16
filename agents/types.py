"""The agent contract: a bundle of pure functions built from static structure.

    agent = agents.make("ucb", num_arms=10)
    hparams = agent.default_hparams()            # traced: sweepable with vmap
    state = agent.init(key_init, hparams)
    action = agent.act(key_act, state, context, hparams)
    state = agent.update(key_update, state, transition, hparams)

``update`` takes a key (a deviation from the first DESIGN sketch) so that agents whose
update is random (differential-privacy noise, replay minibatches, resampling) need no key
in their state.  Every agent receives the same :class:`Transition`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from simulator import capabilities
from simulator.types import Context, Oracle, PositionFeedback

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Needs:
    """What an agent needs from an environment: without it the agent's update is undefined
    (not an assumption behind a regret bound: UCB on Gaussian rewards is accepted).

    Declared by the built agent (static options change it: ``linucb(mode="shared")`` needs
    arm features); :func:`agents.fit.misfits` compares it with an
    :class:`~simulator.types.EnvSpec`.

    Attributes:
      action: what ``act`` returns: ``"arm"`` (int32 index), ``"slate"`` or
        ``"prediction"`` (float32); it must be the action the environment expects.
      num_arms: the number of arms the agent was built for (0: any); must equal the
        environment's.
      slate_size: the number of positions of the slates it ranks (``action == "slate"``;
        must equal the environment's ``slate_size``); 1 for every other agent.
      feedback: ``"bandit"`` (learns from the reward of its action) or ``"label"`` (needs
        the revealed label of a full-information stream).
      reward_range: ``(low, high)`` that every reward must lie in (Beta counts and
        Bernoulli KL need ``(0, 1)``), or None (any real reward).
      context_dim: the width of ``Context.features`` the agent reads (0: reads none); the
        environment's must be equal.
      arm_dim: likewise for ``Context.arm_features``.
      features: ``"none"``, ``"context"`` (needs ``context_dim >= 1``), ``"arm"`` (needs
        ``arm_dim >= 1``) or ``"any"`` (either): a model with no input is undefined.
      num_users, num_items: the id spaces the agent embeds (0: none); the environment's
        must be equal (``two_tower``).
    """

    action: str = capabilities.ARM
    num_arms: int = 0
    slate_size: int = 1
    feedback: str = capabilities.BANDIT
    reward_range: tuple[float, float] | None = None
    context_dim: int = 0
    arm_dim: int = 0
    features: str = "none"
    num_users: int = 0
    num_items: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FEATURE_NEEDS = ("none", "context", "arm", "any")


class Transition(NamedTuple):
    """One round of feedback, the same for every agent.

    Attributes:
      context: the context the action was chosen on.
      action: the action taken (int32 for discrete agents; ``(slate_size,)`` int32 for a
        slate, position 1 first).
      reward: ``()`` float32 reward received (a slate's: its number of clicks).
      label: ``()`` float32 label revealed by full-information streams (NaN if none).
      oracle: the truth behind ``context``. Only oracle baselines (e.g. the ``restart``
        wrapper, which restarts at change points) may read it; learning agents never do.
      positions: a slate's per-position clicks and ``observed`` mask
        (:class:`~simulator.types.PositionFeedback`); None for single-arm environments.
    """

    context: Context
    action: Array
    reward: Array
    label: Array
    oracle: Oracle
    positions: PositionFeedback | None = None


@dataclasses.dataclass(frozen=True)
class Agent:
    """A learner: pure functions closed over static structure.

    Attributes:
      name: registry name (or a wrapper's description).
      init: ``(key, hparams) -> state``.
      act: ``(key, state, context, hparams) -> action``.
      update: ``(key, state, transition, hparams) -> state``.
      default_hparams: ``() -> hparams``, a ``pytree.dataclass`` of traced knobs.
      static: the static structure it was built from (for configs and listings).
      estimate: optional ``state -> parameter estimate`` in the layout of the environment's
        ``oracle.true_param``; when given (and the shapes agree) the runner logs the
        tracking error ``param_error = ||estimate - true_param||`` of the estimate used to
        act, against the parameter that generated the reward.
      action_probabilities: optional ``(state, context, hparams) -> (num_arms,)``, the
        exact distribution of ``act`` (the off-policy code uses it for propensities and
        target policies; without it they estimate it by Monte Carlo).
      scores: optional ``(key, state, context, hparams) -> (num_arms,)`` float32, the
        values whose maximum ``act`` picks (UCB indices, a posterior sample, predicted
        rewards; the key is ``act``'s): the ``top_k`` wrapper ranks by them.
      needs: what the agent needs from an environment (:class:`Needs`).
      estimate_link: the model of ``estimate``: ``"identity"`` (a linear reward model)
        or ``"logit"`` (a logistic one); compared with the environment's
        ``EnvSpec.param_link`` before ``param_error`` is logged.
    """

    name: str
    init: Callable[[Array, Any], Any]
    act: Callable[[Array, Any, Context, Any], Array]
    update: Callable[[Array, Any, Transition, Any], Any]
    default_hparams: Callable[[], Any]
    static: dict[str, Any] = dataclasses.field(default_factory=dict)
    estimate: Callable[[Any], Array] | None = None
    action_probabilities: Callable[[Any, Context, Any], Array] | None = None
    needs: Needs = Needs()
    estimate_link: str = "identity"
    scores: Callable[[Array, Any, Context, Any], Array] | None = None
