"""NeuralUCB (Zhou, Li & Gu 2020) and NeuralTS (Zhang, Zhou, Li & Gu 2021), diagonal ``Z``.

Both measure the uncertainty of the network's prediction for arm ``a`` by the gradient
``g_a = grad_theta f_a(z_a; theta)`` (``p`` = number of network parameters) in the metric of
``Z = lambda I + sum_s g_s g_s^T / m``, the sum over the gradients of the arms played.  As in
the experiments of both papers, ``Z`` is replaced by its **diagonal** ``(p,)``::

    Z_0 = lambda 1                     Z <- Z + g_{a_t} ⊙ g_{a_t} / m       (after each round)
    sigma_a^2 = g_a^T Z^{-1} g_a / m = sum_j g_{a,j}^2 / Z_j / m

with ``g_{a_t}`` taken at the parameters the action was chosen with (before training), and
``m`` the network width (``hidden[0]``; the papers' networks have equal hidden widths).

* NeuralUCB: play ``argmax_a f_a(z_a) + gamma * sigma_a`` (ties at random; its
  ``action_probabilities`` are ``1 / |argmax|`` on the tied arms).
* NeuralTS: draw ``r~_a ~ N(f_a(z_a), nu^2 sigma_a^2)`` independently per arm, play the
  largest.  Zhang et al. write the variance ``nu^2 lambda g^T Z^{-1} g / m``; here ``lambda``
  is folded into ``nu`` (their ``nu`` is ``nu / sqrt(lambda)`` here), as in the issue's spec.

The network is trained on the replay buffer as every neural agent
(:mod:`agents.neural.networks`): the papers retrain on all past data each round with
``||theta - theta_0||^2`` regularisation; here a minibatch of the ring buffer every
``train_every`` rounds, without the regulariser.

Cost per step: act needs ``f_a`` and ``g_a`` for every arm, ``K`` forward/backward passes
(``O(K p)``); update one more backward pass and an ``O(p)`` update of ``Z``; plus the
training (see :mod:`agents.neural.networks`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.common import greedy_probabilities, random_argmax
from agents.neural.networks import Learner, RewardNet, Trainer, check_hidden, check_shapes
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys

Array = jax.Array


@pytree.dataclass
class NeuralUCBHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="optimizer learning rate")
    gamma: float = knob(1.0, low=0.0, doc="exploration width: f + gamma sqrt(g^T Z^-1 g / m)")
    ridge: float = knob(1e-3, low=0.0, low_open=True, doc="lambda: Z starts at lambda I")


@pytree.dataclass
class NeuralTSHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="optimizer learning rate")
    nu: float = knob(0.3, low=0.0, doc="exploration scale: r ~ N(f, nu^2 g^T Z^-1 g / m)")
    ridge: float = knob(1e-3, low=0.0, low_open=True, doc="lambda: Z starts at lambda I")


class DiagonalState(pytree.PyTreeNode):
    """State of NeuralUCB / NeuralTS.

    Attributes:
      learner: network params, optimizer state, replay buffer, update count.
      z: ``(p,)`` float32 diagonal of ``Z``.
    """

    learner: Learner
    z: Array


def predictive_std(gradients: Array, z: Array, width: int) -> Array:
    """``(K,)`` ``sigma_a = sqrt(sum_j g_{a,j}^2 / Z_j / m)`` for ``gradients (K, p)``."""
    return jnp.sqrt(jnp.sum(gradients * gradients / z, axis=-1) / width)


def diagonal_update(z: Array, gradient: Array, width: int) -> Array:
    """``Z + g ⊙ g / m``: the diagonal of ``Z + g g^T / m``."""
    return z + gradient * gradient / width


def ucb_scores(net: RewardNet, state: DiagonalState, context, gamma) -> Array:
    """``(K,)`` NeuralUCB indices ``f_a + gamma * sigma_a``."""
    values, gradients = net.gradients(state.learner.params, context)
    return values + gamma * predictive_std(gradients, state.z, net.width)


def ts_moments(net: RewardNet, state: DiagonalState, context, nu) -> tuple[Array, Array]:
    """``(mean (K,), std (K,))`` of NeuralTS's reward samples: ``f_a`` and ``nu * sigma_a``."""
    values, gradients = net.gradients(state.learner.params, context)
    return values, nu * predictive_std(gradients, state.z, net.width)


def ts_sample(key: Array, net: RewardNet, state: DiagonalState, context, nu) -> Array:
    """``(K,)`` NeuralTS samples ``r~_a = f_a + nu sigma_a eps_a``, ``eps ~ N(0, I_K)``."""
    mean, std = ts_moments(net, state, context, nu)
    return mean + std * jax.random.normal(key, mean.shape, jnp.float32)


def _diagonal_agent(
    name: str,
    hparams_type,
    num_arms: int,
    context_dim: int,
    arm_dim: int,
    hidden,
    optimizer: str,
    buffer_size: int,
    batch_size: int,
    train_every: int,
    num_train_steps: int,
) -> Agent:
    check_shapes(name, num_arms, context_dim, arm_dim)
    net = RewardNet(name, num_arms, context_dim, arm_dim, check_hidden(name, hidden))
    trainer = Trainer(net, optimizer, buffer_size, batch_size, train_every, num_train_steps)

    def init(key, hparams):
        learner = trainer.init(key, hparams)
        num_params = sum(leaf.size for leaf in jax.tree.leaves(learner.params))
        z = jnp.full((num_params,), hparams.ridge, jnp.float32)
        return DiagonalState(learner=learner, z=z)

    action_probabilities = None
    if name == "neural_ucb":

        def scores(key, state, context, hparams):
            return ucb_scores(net, state, context, hparams.gamma)

        def act(key, state, context, hparams):
            return random_argmax(key, scores(key, state, context, hparams))

        def action_probabilities(state, context, hparams):
            return greedy_probabilities(ucb_scores(net, state, context, hparams.gamma))

    else:

        def scores(key, state, context, hparams):
            key_sample, _ = split_keys(key)
            return ts_sample(key_sample, net, state, context, hparams.nu)

        def act(key, state, context, hparams):
            _, key_tie = split_keys(key)
            return random_argmax(key_tie, scores(key, state, context, hparams))

    def update(key, state, transition, hparams):
        record = trainer.record(transition)
        gradient = net.gradient(state.learner.params, record.inputs, record.action)
        z = diagonal_update(state.z, gradient, net.width)
        learner = trainer.update(key, state.learner, transition, hparams)
        return DiagonalState(learner=learner, z=z)

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
        name,
        init,
        act,
        update,
        hparams_type,
        static,
        action_probabilities=action_probabilities,
        needs=net.needs(),
        scores=scores,
    )


def neural_ucb(
    num_arms: int = 5,
    context_dim: int = 2,
    arm_dim: int = 0,
    hidden: tuple[int, ...] = (50,),
    optimizer: str = "adam",
    buffer_size: int = 512,
    batch_size: int = 32,
    train_every: int = 1,
    num_train_steps: int = 1,
) -> Agent:
    """NeuralUCB with the diagonal approximation of ``Z`` (see the module docstring).

    Index of arm ``a``: ``U_a = f_a(z_a; theta) + gamma * sqrt(g_a^T Z^{-1} g_a / m)``,
    ``g_a = grad_theta f_a(z_a; theta)``; play ``argmax_a U_a`` (ties at random); then
    ``Z <- Z + g_{a_t} ⊙ g_{a_t} / m`` and train the network on the replay buffer.

    Args:
      num_arms: K.
      context_dim: length of ``context.features``.
      arm_dim: item feature dimension; 0 for per-arm heads.
      hidden: hidden widths; ``m = hidden[0]``.
      optimizer: optax optimizer name (see :mod:`agents.optimizers`).
      buffer_size, batch_size, train_every, num_train_steps: the training schedule
        (:class:`~agents.neural.networks.Trainer`).

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`DiagonalState`; knobs
      ``learning_rate``, ``gamma``, ``ridge`` (lambda).

    Example::

        agent = neural_ucb(num_arms=5, context_dim=2, hidden=(100,))
        hp = agent.default_hparams().replace(gamma=0.1, ridge=1e-3)

    Reference: D. Zhou, L. Li & Q. Gu, "Neural contextual bandits with UCB-based
    exploration", ICML 2020 (Algorithm 1; diagonal ``Z`` as in their §7).
    """
    return _diagonal_agent(
        "neural_ucb",
        NeuralUCBHParams,
        num_arms,
        context_dim,
        arm_dim,
        hidden,
        optimizer,
        buffer_size,
        batch_size,
        train_every,
        num_train_steps,
    )


def neural_ts(
    num_arms: int = 5,
    context_dim: int = 2,
    arm_dim: int = 0,
    hidden: tuple[int, ...] = (50,),
    optimizer: str = "adam",
    buffer_size: int = 512,
    batch_size: int = 32,
    train_every: int = 1,
    num_train_steps: int = 1,
) -> Agent:
    """NeuralTS with the diagonal approximation of ``Z`` (see the module docstring).

    Sample ``r~_a ~ N(f_a(z_a; theta), nu^2 g_a^T Z^{-1} g_a / m)`` independently for each
    arm, play ``argmax_a r~_a``; then ``Z <- Z + g_{a_t} ⊙ g_{a_t} / m`` and train the
    network on the replay buffer.

    Args: as :func:`neural_ucb`.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`DiagonalState`; knobs
      ``learning_rate``, ``nu``, ``ridge`` (lambda).

    Example::

        agent = neural_ts(num_arms=10, context_dim=8, arm_dim=8)
        hp = agent.default_hparams().replace(nu=0.1)

    Reference: W. Zhang, D. Zhou, L. Li & Q. Gu, "Neural Thompson sampling", ICLR 2021
    (Algorithm 1; diagonal ``U`` as in their experiments).
    """
    return _diagonal_agent(
        "neural_ts",
        NeuralTSHParams,
        num_arms,
        context_dim,
        arm_dim,
        hidden,
        optimizer,
        buffer_size,
        batch_size,
        train_every,
        num_train_steps,
    )
