"""Capabilities: the words environments and agents use to say what fits together.

An environment's :class:`~simulator.types.EnvSpec` says what it *offers*; an agent's
:class:`~agents.types.Needs` says what it *needs* (see :func:`agents.fit.misfits`).  Both
are declared by the built instance (a static option such as ``lints``' ``mode`` changes
them), never guessed from a registry name.  This module holds the shared vocabulary:

* the **action** an environment expects: ``"arm"`` (one int32 index in ``[0, num_arms)``),
  ``"slate"`` (``slate_size`` distinct arms, int32 ``(slate_size,)``, position 1 first;
  the feedback adds per-position clicks and an ``observed`` mask,
  :class:`~simulator.types.PositionFeedback`) or ``"prediction"`` (a float32 real number: the regression or log-odds
  prediction of a full-information stream);
* the **feedback** it gives: ``"bandit"`` (the reward of the action taken) or ``"label"``
  (full information: the label of the previous context is revealed as well);
* the reward's kind, a :class:`RewardRange`: clicks in {0, 1}, bounded in ``[a, b]``, or
  real-valued;
* how the oracle's ``true_param`` relates to the reward (``PARAM_LINKS``): ``"identity"``
  (the reward is linear in the features), ``"logit"`` (a logistic click), ``"latent"`` (a
  hidden preference no agent estimates) or ``"none"`` (no parameter).

Example::

    spec = env.spec
    spec.reward.within(0.0, 1.0)        # rewards in [0, 1]?  (Beta counts need it)
    spec.fixed_arms                     # is arm a the same action every round?
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

ARM = "arm"
SLATE = "slate"
PREDICTION = "prediction"
ACTION_KINDS = (ARM, SLATE, PREDICTION)

BANDIT = "bandit"
LABEL = "label"
FEEDBACK_KINDS = (BANDIT, LABEL)

CLICK = "click"
BOUNDED = "bounded"
REAL = "real"
REWARD_KINDS = (CLICK, BOUNDED, REAL)

PARAM_LINKS = ("none", "identity", "logit", "latent")


class RewardRange(NamedTuple):
    """The values a reward can take.

    Attributes:
      kind: ``"click"`` (exactly 0 or 1), ``"bounded"`` (in ``[low, high]``) or ``"real"``.
      low, high: the bounds (``0, 1`` for clicks; infinite for real rewards).
    """

    kind: str = REAL
    low: float = -math.inf
    high: float = math.inf

    def within(self, low: float, high: float) -> bool:
        """Whether every reward lies in ``[low, high]``."""
        return self.low >= low and self.high <= high

    def describe(self) -> str:
        """E.g. ``"click rewards in {0, 1}"``, ``"rewards in [0, 1]"``."""
        if self.kind == CLICK:
            return "click rewards in {0, 1}"
        if self.kind == BOUNDED:
            return f"rewards in [{self.low:g}, {self.high:g}]"
        return "real-valued rewards"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (infinite bounds become None)."""
        return {
            "kind": self.kind,
            "low": None if math.isinf(self.low) else self.low,
            "high": None if math.isinf(self.high) else self.high,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardRange:
        low, high = data.get("low"), data.get("high")
        return cls(
            kind=data.get("kind", REAL),
            low=-math.inf if low is None else float(low),
            high=math.inf if high is None else float(high),
        )


def clicks() -> RewardRange:
    """Rewards that are clicks: exactly 0 or 1."""
    return RewardRange(CLICK, 0.0, 1.0)


def bounded(low: float, high: float) -> RewardRange:
    """Rewards in ``[low, high]``."""
    return RewardRange(BOUNDED, float(low), float(high))


def real() -> RewardRange:
    """Real-valued rewards (Gaussian noise, a negative loss)."""
    return RewardRange()
