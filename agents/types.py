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

from simulator.types import Context, Oracle

Array = jax.Array


class Transition(NamedTuple):
    """One round of feedback, the same for every agent.

    Attributes:
      context: the context the action was chosen on.
      action: the action taken (int32 for discrete agents).
      reward: ``()`` float32 reward received.
      label: ``()`` float32 label revealed by full-information streams (NaN if none).
      oracle: the truth behind ``context``. Only oracle baselines (e.g. the ``restart``
        wrapper, which restarts at change points) may read it; learning agents never do.
    """

    context: Context
    action: Array
    reward: Array
    label: Array
    oracle: Oracle


@dataclasses.dataclass(frozen=True)
class Agent:
    """A learner: pure functions closed over static structure.

    Attributes:
      name: registry name (or a wrapper's description).
      init: ``(key, hparams) -> state``.
      act: ``(key, state, context, hparams) -> action``.
      update: ``(key, state, transition, hparams) -> state``.
      default_hparams: ``() -> hparams``, a ``flax.struct.dataclass`` of traced knobs.
      static: the static structure it was built from (for configs and listings).
      estimate: optional ``state -> parameter estimate`` in the layout of the environment's
        ``oracle.true_param``; when given (and the shapes agree) the runner logs the
        tracking error ``param_error = ||estimate - true_param||`` of the estimate used to
        act, against the parameter that generated the reward.
    """

    name: str
    init: Callable[[Array, Any], Any]
    act: Callable[[Array, Any, Context, Any], Array]
    update: Callable[[Array, Any, Transition, Any], Any]
    default_hparams: Callable[[], Any]
    static: dict[str, Any] = dataclasses.field(default_factory=dict)
    estimate: Callable[[Any], Array] | None = None
    action_probabilities: Callable[[Any, Context, Any], Array] | None = None
