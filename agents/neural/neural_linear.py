"""Neural-Linear: Bayesian linear regression on a network's last hidden layer, Thompson
sampling (Riquelme, Tucker & Snoek 2018).

Model, per posterior ``m`` (one per arm with per-arm heads, ``arm_dim == 0``; one shared
posterior over ``phi([x ; y_a])`` with a shared scorer)::

    r = phi(z)^T beta + eps,   eps ~ N(0, sigma^2)
    sigma^2 ~ IG(a0, b0),      beta | sigma^2 ~ N(0, sigma^2 / lambda I)

``phi (h,)`` is the last hidden layer of the reward network (:mod:`agents.neural.networks`).
After observations ``(Phi (n, h), r (n,))`` the posterior is Normal–inverse-gamma::

    Lambda = lambda I + Phi^T Phi,   mu = Lambda^{-1} Phi^T r
    a = a0 + n / 2,                  b = b0 + (r^T r - mu^T Lambda mu) / 2
                                       = b0 + (||r - Phi mu||^2 + lambda ||mu||^2) / 2

Act (Thompson sampling): for every posterior draw ``sigma^2 ~ IG(a, b)`` (as ``b / G``,
``G ~ Gamma(a)``) and ``beta ~ N(mu, sigma^2 Lambda^{-1})``; play ``argmax_a phi(z_a)^T
beta_{m(a)}``.

Update, exact and without a per-step inverse or triangular solve: between retrains each
observation ``(phi, r)`` of posterior ``m`` is a rank-one update of a square root ``S`` of
the covariance (Potter's form, ``O(h^2)``; the formulas are in :mod:`agents.contextual.nig`),
with ``phi`` under the current network.

Every ``train_every`` updates the network is retrained (``num_train_steps`` minibatches of
the replay buffer) and, since ``phi`` has changed, the posterior is **recomputed from the
buffer's records** under the new network with the batch formulas above: ``Lambda`` from the
features, its Cholesky factor ``L``, ``S = L^{-T}`` (``O(C M h^2 + M h^3)`` for capacity
``C``, once per retrain).  So the posterior after a retrain covers the last ``C``
observations (the buffer is a window), and the rank-one updates then add the new ones.
``b`` is recomputed from residuals, not from ``r^T r - mu^T Lambda mu``, to avoid
cancellation in float32.

The posterior maths (:class:`NIGPosterior`, the rank-one and batch updates, the draws) live
in :mod:`agents.contextual.nig`, shared with ``lin_full_post`` (the same posterior on the
raw features plus an intercept).

Cost per step: act one forward pass (``K`` with a shared scorer), ``M`` Gamma draws and
``O(M h^2)`` matrix–vector products; update one forward pass and an ``O(h^2)`` update;
every retrain the training plus the recomputation (every step when the schedule's predicate
is batched, see :mod:`agents.neural.networks`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import random_argmax
from agents.contextual.nig import (  # noqa: F401 (lower_triangular_inverse re-exported)
    NIGPosterior,
    batch_posterior,
    lower_triangular_inverse,
    prior,
    rank_one_update,
    sample_weights,
)
from agents.neural import replay
from agents.neural.networks import Learner, RewardNet, Trainer, check_hidden, check_shapes
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys

Array = jax.Array


@pytree.dataclass
class NeuralLinearHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="optimizer learning rate")
    ridge: float = knob(
        0.25, low=0.0, low_open=True, doc="lambda: prior beta | sigma^2 ~ N(0, sigma^2/lambda I)"
    )
    a0: float = knob(6.0, low=0.0, low_open=True, doc="prior shape: sigma^2 ~ IG(a0, b0)")
    b0: float = knob(6.0, low=0.0, low_open=True, doc="prior scale: sigma^2 ~ IG(a0, b0)")


class NeuralLinearState(pytree.PyTreeNode):
    """Network learner and the posterior over its last-layer features."""

    learner: Learner
    posterior: NIGPosterior


def neural_linear(
    num_arms: int = 5,
    context_dim: int = 2,
    arm_dim: int = 0,
    hidden: tuple[int, ...] = (50,),
    optimizer: str = "adam",
    buffer_size: int = 512,
    batch_size: int = 32,
    train_every: int = 20,
    num_train_steps: int = 20,
) -> Agent:
    """Neural-Linear Thompson sampling (see the module docstring for the maths).

    Args:
      num_arms: K.
      context_dim: length of ``context.features``.
      arm_dim: item feature dimension; 0 for per-arm heads and one posterior per arm,
        otherwise one shared posterior over ``phi([x ; y_a])``.
      hidden: hidden widths; ``h = hidden[-1]`` features.
      optimizer: optax optimizer name (see :mod:`agents.optimizers`).
      buffer_size: replay capacity C (also the window of the recomputed posterior).
      batch_size: minibatch size.
      train_every: retrain (and recompute the posterior) every this many updates.
      num_train_steps: optimizer steps per retrain.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`NeuralLinearState`; knobs
      ``learning_rate``, ``ridge`` (lambda), ``a0``, ``b0``.

    Example::

        agent = neural_linear(num_arms=5, context_dim=2, hidden=(50,), train_every=20)
        hp = agent.default_hparams().replace(ridge=0.25, a0=6.0, b0=6.0)

    Reference: C. Riquelme, G. Tucker & J. Snoek, "Deep Bayesian bandits showdown: an
    empirical comparison of Bayesian deep networks for Thompson sampling", ICLR 2018
    (NeuralLinear, §3; prior defaults ``a0 = b0 = 6``, ``lambda = 0.25`` of their code).
    """
    name = "neural_linear"
    check_shapes(name, num_arms, context_dim, arm_dim)
    net = RewardNet(name, num_arms, context_dim, arm_dim, check_hidden(name, hidden))
    trainer = Trainer(net, optimizer, buffer_size, batch_size, train_every, num_train_steps)
    num_models = num_arms if net.per_arm_heads else 1
    dim = net.feature_dim

    def init(key, hparams):
        return NeuralLinearState(trainer.init(key, hparams), prior(num_models, dim, hparams))

    def scores(key, state, context, hparams):
        """The sampled heads' predicted rewards (the sample of ``act`` with its key)."""
        key_sample, _ = split_keys(key)
        beta = sample_weights(key_sample, state.posterior)  # (M, h)
        inputs = net.arm_inputs(context)
        if net.per_arm_heads:
            phi = net.features(state.learner.params, inputs[0])
            return beta @ phi
        phis = jax.vmap(net.features, in_axes=(None, 0))(state.learner.params, inputs)
        return phis @ beta[0]

    def act(key, state, context, hparams):
        _, key_tie = split_keys(key)
        return random_argmax(key_tie, scores(key, state, context, hparams))

    def recompute(learner: Learner, hparams) -> NIGPosterior:
        """The posteriors of the buffer's records under the current network."""
        records = learner.buffer.data
        features = jax.vmap(net.features, in_axes=(None, 0))(learner.params, records.inputs)
        valid = replay.valid_mask(learner.buffer)
        if net.per_arm_heads:
            weights = valid[:, None] * jax.nn.one_hot(records.action, num_arms, dtype=jnp.float32)
        else:
            weights = valid[:, None]
        return batch_posterior(features, records.reward, weights, hparams)

    def update(key, state, transition, hparams):
        record = trainer.record(transition)
        phi = net.features(state.learner.params, record.inputs)
        model = record.action if net.per_arm_heads else 0
        posterior = rank_one_update(state.posterior, model, phi, record.reward)
        learner = trainer.observe(state.learner, transition)

        def retrain(operand):  # the buffer is read, not passed through the cond
            params, opt_state, _ = operand
            trained = learner.replace(params=params, opt_state=opt_state)
            trained = trainer.train(key, trained, hparams)
            return trained.params, trained.opt_state, recompute(trained, hparams)

        params, opt_state, posterior = trainer.scheduled(
            learner, retrain, lambda op: op, (learner.params, learner.opt_state, posterior)
        )
        return NeuralLinearState(learner.replace(params=params, opt_state=opt_state), posterior)

    static = {
        "num_arms": num_arms,
        "context_dim": context_dim,
        "arm_dim": arm_dim,
        "hidden": net.hidden,
        "optimizer": optimizer,
        "buffer_size": buffer_size,
        "batch_size": batch_size,
        "train_every": train_every,
        "num_train_steps": num_train_steps,
    }
    return Agent(
        name, init, act, update, NeuralLinearHParams, static, needs=net.needs(), scores=scores
    )
