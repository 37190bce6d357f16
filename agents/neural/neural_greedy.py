"""Neural ε-greedy: exploit an MLP reward model, explore uniformly with probability ε."""

from __future__ import annotations

from agents.common import epsilon_mix, greedy_probabilities, random_argmax
from agents.neural.networks import RewardNet, Trainer, check_hidden, check_shapes
from agents.types import Agent
from simulator import pytree
from simulator.params import knob
from simulator.sampling import split_keys


@pytree.dataclass
class NeuralGreedyHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="optimizer learning rate")
    epsilon: float = knob(0.05, low=0.0, high=1.0, doc="probability of a uniform random arm")


def neural_greedy(
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
    """ε-greedy over a neural reward model ``f(z; theta)`` trained on a replay buffer.

    Act: with probability ε a uniform arm, else ``argmax_a f_a(z_a; theta)`` (ties at
    random), ``z_a = [context.features ; context.arm_features[a]]``; per-arm output heads
    when ``arm_dim == 0`` (see :mod:`agents.neural.networks`).  ``action_probabilities``
    is that distribution: ``epsilon / K + (1 - epsilon) 1[a in argmax f] / |argmax f|``.  Update: store ``(z_a, a, r)``
    in the ring buffer; every ``train_every`` updates take ``num_train_steps`` optax steps on
    minibatches of the squared error ``(f_a(z) - r)^2 / 2``.

    Cost per step: one forward pass to act (``K`` with a shared scorer), plus
    ``num_train_steps * batch_size`` forward/backward passes on training steps (every step
    when the schedule's predicate is batched; see :mod:`agents.neural.networks`).

    Args:
      num_arms: K.
      context_dim: length of ``context.features``.
      arm_dim: item feature dimension; 0 for per-arm heads.
      hidden: hidden widths of the MLP.
      optimizer: optax optimizer name (``adam``, ``adamw``, ``sgd``, ``rmsprop``, ``adagrad``,
        ... or ``"NAME(option=value)"``; see :mod:`agents.optimizers`).
      buffer_size: replay capacity.
      batch_size: minibatch size.
      train_every: B, train every B updates.
      num_train_steps: optimizer steps per training event.

    Returns:
      An :class:`~agents.types.Agent` whose state is a :class:`~agents.neural.networks.Learner`.

    Example::

        agent = neural_greedy(num_arms=5, context_dim=2, hidden=(64, 64))
        hp = agent.default_hparams().replace(epsilon=0.02, learning_rate=3e-3)

    Reference: the "neural greedy" baseline of Riquelme, Tucker & Snoek, "Deep Bayesian
    bandits showdown", ICLR 2018 (ε-greedy: Sutton & Barto 2018, §2.2).
    """
    name = "neural_greedy"
    check_shapes(name, num_arms, context_dim, arm_dim)
    net = RewardNet(name, num_arms, context_dim, arm_dim, check_hidden(name, hidden))
    trainer = Trainer(net, optimizer, buffer_size, batch_size, train_every, num_train_steps)

    def init(key, hparams):
        return trainer.init(key, hparams)

    def act(key, state, context, hparams):
        key_tie, key_mix = split_keys(key)
        greedy = random_argmax(key_tie, net.values(state.params, context))
        return epsilon_mix(key_mix, greedy, num_arms, hparams.epsilon)

    def action_probabilities(state, context, hparams):
        return greedy_probabilities(net.values(state.params, context), hparams.epsilon)

    def update(key, state, transition, hparams):
        return trainer.update(key, state, transition, hparams)

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
        NeuralGreedyHParams,
        static,
        action_probabilities=action_probabilities,
        needs=net.needs(),
        scores=lambda key, state, context, hparams: net.values(state.params, context),
    )
