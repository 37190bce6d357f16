"""Per-example losses of a real-valued score, for online learners and their reward models.

Every loss takes the model's score ``s = w·x + b`` and a label ``y`` and returns a scalar:

============  ==========================================  ===========  ==================
name          loss ``l(s, y)``                            labels       prediction
============  ==========================================  ===========  ==================
``squared``   ``(s - y)^2 / 2``                           real         ``s``
``logistic``  ``log(1 + e^s) - y s``                      ``[0, 1]``   ``sigmoid(s)``
``hinge``     ``max(0, 1 - (2y - 1) s)``                  ``{0, 1}``   ``s`` (a margin)
============  ==========================================  ===========  ==================

The gradients with respect to the score are ``s - y``, ``sigmoid(s) - y`` and
``-(2y - 1) 1[(2y - 1) s < 1]``.  The squared loss carries the factor 1/2 of the
article the project started from (``L = 1/2 sum (y - y_hat)^2``).  The logistic loss is
the cross-entropy of ``sigmoid(s)`` against ``y``, so soft labels in ``[0, 1]`` (a
Bernoulli reward's mean) are allowed.

Example::

    loss = LOSSES["logistic"]
    loss(jnp.float32(0.0), jnp.float32(1.0))   # log 2
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def squared(score: jax.Array, label: jax.Array) -> jax.Array:
    """``(s - y)^2 / 2``."""
    return 0.5 * jnp.square(score - label)


def logistic(score: jax.Array, label: jax.Array) -> jax.Array:
    """``log(1 + e^s) - y s``: the log loss of ``P(y = 1) = sigmoid(s)``, stable for any s."""
    return jax.nn.softplus(score) - label * score


def hinge(score: jax.Array, label: jax.Array) -> jax.Array:
    """``max(0, 1 - (2y - 1) s)`` for a label ``y`` in {0, 1}."""
    return jax.nn.relu(1.0 - (2.0 * label - 1.0) * score)


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "squared": squared,
    "logistic": logistic,
    "hinge": hinge,
}


def mean_prediction(loss: str, score: jax.Array) -> jax.Array:
    """The model's estimate of ``E[y]`` from a score: ``sigmoid(s)`` for the logistic loss,
    the score itself otherwise (a hinge score is a margin, not a probability)."""
    if loss == "logistic":
        return jax.nn.sigmoid(score)
    return score
