"""The ``ogd`` agent: online gradient descent on a full-information stream.

The agent predicts with the online linear model of :mod:`agents.linear_model`
(``s = w·x + b``, one optimizer step per revealed label; the update, L2, clipping and
differential privacy are described there), with any optax optimizer and learning-rate
schedule named as in :mod:`agents.optimizers`.  Every float option of the optimizer is a
traced knob, so a grid of learning rates (or of ``b2``) × seeds is one compiled program.

References: Zinkevich (2003), online gradient descent; Duchi, Hazan & Singer (2011),
AdaGrad; Kingma & Ba (2015), Adam; Abadi et al. (2016), DP-SGD.
"""

from __future__ import annotations

from typing import Any

from agents.knobs import hparams_class
from agents.linear_model import estimate, online_linear
from agents.types import Agent, Needs
from simulator import capabilities


def ogd(
    context_dim: int = 16,
    optimizer: Any = "sgd",
    schedule: Any = "constant",
    loss: str = "squared",
    private: bool = False,
) -> Agent:
    """Online gradient descent on a full-information stream, with any optax optimizer.

    Predict ``s_t = w_t·x_t + b_t``, then learn from the revealed label ``y_t``
    (``transition.label``) with one step of the optimizer on ``l(s_t, y_t)``; see
    :mod:`agents.linear_model` for the update and privacy, :mod:`agents.optimizers` for
    the optimizers and schedules.

    The action is the score ``s_t`` (float32 ``()``): the prediction of ``y`` for the
    squared loss, the log-odds of ``P(y = 1)`` for the logistic loss, a margin for the
    hinge loss.  So the agent needs an environment that expects a prediction and reveals
    the label (``needs``: action ``"prediction"``, feedback ``"label"``), and its
    ``estimate_link`` is ``"logit"`` for the logistic loss (``"identity"`` otherwise).

    Args:
      context_dim: ``d``, the stream's feature dimension (filled from the environment).
      optimizer: optimizer name, ``"name(option=value)"``, optax factory or
        GradientTransformation (see :func:`agents.optimizers.optimizer_names`).
      schedule: learning-rate schedule (see :func:`agents.optimizers.schedule_names`).
      loss: ``squared``, ``logistic`` or ``hinge``.
      private: differentially private updates (knobs ``dp_clip_norm``, ``noise_multiplier``).

    Returns:
      An :class:`~agents.types.Agent`; its state is a
      :class:`~agents.linear_model.ModelState` and :func:`~agents.linear_model.estimate`
      turns it into ``theta_hat = (w, b)``.

    Example::

        agent = ogd(16, optimizer="adam", schedule="inverse_sqrt")
        hp = agent.default_hparams().replace(learning_rate=0.05, b2=0.99)

    Reference: Zinkevich, "Online convex programming and generalized infinitesimal
    gradient ascent" (ICML 2003).
    """
    model = online_linear(
        context_dim, optimizer=optimizer, schedule=schedule, loss=loss, private=private
    )
    hparams_type = hparams_class("OGDHParams", model.knob_specs())

    def init(key, hparams):
        return model.init(hparams)

    def act(key, state, context, hparams):
        return model.score(state.params, context.features)

    def update(key, state, transition, hparams):
        return model.update(key, state, transition.context.features, transition.label, hparams)

    static = {
        "context_dim": context_dim,
        "optimizer": model.optimizer.name,
        "schedule": model.schedule.name,
        "loss": loss,
        "private": private,
    }
    needs = Needs(
        action=capabilities.PREDICTION,
        feedback=capabilities.LABEL,
        context_dim=context_dim,
    )
    return Agent(
        "ogd",
        init,
        act,
        update,
        hparams_type,
        static,
        estimate=estimate,
        needs=needs,
        estimate_link="logit" if loss == "logistic" else "identity",
    )


def register_all(registry) -> None:
    """Register ``ogd`` (the agents package calls this)."""
    registry.register("ogd", ogd, example_env="regression_stream")
