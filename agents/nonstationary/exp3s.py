"""EXP3.S: exponential weights with fixed-share mixing, for switching adversaries (Auer et al. 2002)."""

from __future__ import annotations

from agents.classic.exp3 import exponential_weights
from agents.types import Agent
from simulator import pytree
from simulator.params import knob


@pytree.dataclass
class EXP3SHParams:
    exploration: float = knob(
        0.1,
        low=0.0,
        high=1.0,
        low_open=True,
        doc="gamma in (0, 1]: uniform mixing and learning rate",
    )
    share: float = knob(1e-3, low=0.0, doc="alpha >= 0: weight shared with every arm each round")


def exp3s(num_arms: int = 10) -> Agent:
    """EXP3.S: EXP3 whose weights share a fraction of their mass every round.

    With rewards ``x in [0, 1]``, ``gamma in (0, 1]``, ``alpha >= 0``, ``w_i(1) = 1``::

        p_i(t) = (1 - gamma) w_i(t) / sum_j w_j(t) + gamma / K,     i_t ~ p(t)
        x_hat_j(t) = x(t) / p_j(t) if j = i_t else 0
        w_j(t+1) = w_j(t) exp(gamma x_hat_j(t) / K) + (e alpha / K) sum_i w_i(t)

    The sharing term lets a weight recover after the best arm switches.  The state, the
    probabilities and the update are EXP3's (:mod:`agents.classic.exp3`, which is this
    agent with ``alpha = 0``): ``log w`` normalised to ``sum w = 1`` (exact, since the
    recursion is homogeneous in ``w``, and free of overflow), and the probability used in
    ``x_hat`` recomputed from the state at update time (the one the action was drawn from
    unless feedback is delayed).  :func:`~agents.classic.exp3.exp3_probabilities` is the
    agent's ``action_probabilities``.

    Args:
      num_arms: K.

    Example::

        agent = exp3s(10)
        hp = agent.default_hparams().replace(exploration=0.05, share=1 / 10_000)

    Reference: P. Auer, N. Cesa-Bianchi, Y. Freund & R. E. Schapire, "The nonstochastic
    multiarmed bandit problem", SIAM J. Computing 32(1), 2002, Section 8 (Exp3.S; their
    tuning ``alpha = 1/T``, ``gamma = min(1, sqrt(K (S ln(K T) + e) / ((e - 1) T)))``).
    """
    return exponential_weights("exp3s", num_arms, EXP3SHParams, sharing=True)
