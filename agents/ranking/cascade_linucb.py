"""CascadeLinUCB (Zong, Ni, Sung, Ke, Wen & Kveton 2016): cascading bandits whose
attraction probabilities are linear in the items' features, ``w(e) ~ x_e . theta``.

With ``sigma`` the noise scale, ``lambda`` the ridge and ``c`` the exploration constant::

    M = lambda I + sigma^-2 sum x x^T        B = sum x click        theta = sigma^-2 M^-1 B
    U(e) = min(x_e . theta + c sqrt(x_e^T M^-1 x_e), 1)

over the observed positions of every past round; the slate is the ``k`` largest ``U`` in
decreasing order (ties, e.g. among clipped ``U = 1``, at random).  Kept as the equivalent
ridge regression ``A = sigma^2 M = lambda sigma^2 I + sum x x^T``, ``theta = A^-1 B`` and
width ``c sigma ||x||_{A^-1}``, by Sherman–Morrison rank-one updates (``O(d^2)`` per
observed position; never an inverse).  The paper's ``M_0 = I`` is ``lambda = 1``.

Reference: S. Zong, H. Ni, K. Sung, N. R. Ke, Z. Wen & B. Kveton, "Cascading bandits for
large-scale recommendation problems", UAI 2016, Algorithm 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.contextual.linucb import LinearState, ridge_update
from agents.linalg import weighted_norms
from agents.ranking.slates import check_slate, display, top_k
from agents.types import Agent, Needs
from simulator import capabilities, pytree
from simulator.params import knob
from simulator.types import require

Array = jax.Array


@pytree.dataclass
class CascadeLinUCBHParams:
    alpha: float = knob(0.5, low=0.0, doc="c, the exploration constant")
    sigma: float = knob(1.0, low=0.0, low_open=True, doc="sigma, the noise scale")
    ridge: float = knob(1.0, low=0.0, low_open=True, doc="lambda: M_0 = lambda I")


def cascade_linucb_indices(state: LinearState, features: Array, hparams) -> Array:
    """``U(e) = min(x_e . theta + c sigma ||x_e||_{A^-1}, 1)`` for ``features (L, d)``."""
    means = features @ state.theta[0]
    widths = weighted_norms(state.a_inv[0], features)
    return jnp.minimum(means + hparams.alpha * hparams.sigma * widths, 1.0)


def cascade_linucb(
    num_arms: int = 16, slate_size: int = 2, arm_dim: int = 4, order: str = "decreasing"
) -> Agent:
    """CascadeLinUCB: rank by linear upper confidence bounds on the attractions.

    Args:
      num_arms: L.
      slate_size: k.
      arm_dim: d, the width of ``context.arm_features``.
      order: ``"decreasing"`` or ``"increasing"``.

    Example::

        agent = cascade_linucb(num_arms=16, slate_size=4, arm_dim=6)

    Its ``estimate`` is ``theta`` (for ``param_error`` on the linear cascade).
    """
    check_slate("cascade_linucb", num_arms, slate_size, order)
    require(
        isinstance(arm_dim, int) and not isinstance(arm_dim, bool) and arm_dim >= 1,
        f"agent.arm_dim = {arm_dim!r}: cascade_linucb needs arm features (an integer >= 1)",
    )

    def init(key, hparams):
        eye = jnp.eye(arm_dim, dtype=jnp.float32) / (hparams.ridge * hparams.sigma**2)
        return LinearState(
            a_inv=eye[None],
            b=jnp.zeros((1, arm_dim), jnp.float32),
            theta=jnp.zeros((1, arm_dim), jnp.float32),
            counts=jnp.zeros((1,), jnp.float32),
        )

    def scores(key, state, context, hparams):
        return cascade_linucb_indices(state, context.arm_features, hparams)

    def act(key, state, context, hparams):
        return display(top_k(key, scores(key, state, context, hparams), slate_size), order)

    def update(key, state, transition, hparams):
        features = transition.context.arm_features
        positions = transition.positions

        def one(state, position):
            arm, click, observed = position
            new = ridge_update(state, 0, features[arm], click)
            return jax.tree.map(lambda n, o: jnp.where(observed, n, o), new, state), None

        per_position = (transition.action, positions.clicks, positions.observed)
        return jax.lax.scan(one, state, per_position)[0]

    return Agent(
        "cascade_linucb",
        init,
        act,
        update,
        CascadeLinUCBHParams,
        {"num_arms": num_arms, "slate_size": slate_size, "arm_dim": arm_dim, "order": order},
        estimate=lambda state: state.theta[0],
        needs=Needs(
            action=capabilities.SLATE,
            num_arms=num_arms,
            slate_size=slate_size,
            arm_dim=arm_dim,
            features="arm",
        ),
        scores=scores,
    )
