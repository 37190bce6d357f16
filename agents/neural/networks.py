"""Flax reward networks for the neural agents, and their training on a replay buffer.

Inputs.  The network scores arm ``a`` of a :class:`~simulator.types.Context` from the
concatenation of the shared features and the arm's own features::

    z_a = [context.features ; context.arm_features[a]]          (context_dim + arm_dim,)

Two modes, fixed by the environment's shapes (static):

* **per-arm heads** (``arm_dim == 0``, e.g. the wheel): one trunk over ``x =
  context.features`` and ``K`` outputs, ``f(x) in R^K``, ``f_a(x)`` the reward of arm ``a``
  (Riquelme, Tucker & Snoek 2018; Zhou, Li & Gu 2020 instead give each arm a disjoint copy of
  the context, which is the same model family with tied weights removed);
* **shared scorer** (``arm_dim > 0``, e.g. ``drifting_users``: user features and candidate
  item features): one network ``f([x ; y_a]) in R`` applied to every candidate, so it scales
  to any number of candidates and generalises across items.

A network with no input (``context_dim = arm_dim = 0``) is undefined: the agents still
build, and declare that they need features (:meth:`RewardNet.needs`), so
:func:`agents.fit.misfits` refuses them on an environment without any.

The network is a ReLU MLP with static widths ``hidden = (h_1, ..., h_L)``
(:class:`agents.neural.mlp.MLP`, flax.linen, params kept in the agent state as a plain pytree)::

    phi(z) = relu(W_L ... relu(W_1 z + c_1) ... + c_L)   (h_L,)   last hidden layer
    f(z)   = W_out phi(z) + c_out                          (K,) or (1,)

Training.  Every agent keeps a :class:`Learner`: the params, the optax state and a replay
ring buffer (:mod:`agents.neural.replay`) of ``(z, a, r)`` records, ``z`` the input of the
chosen arm.  Each update adds the record; every ``train_every = B`` updates (static) it
takes ``num_train_steps`` optimizer steps, each on a minibatch of ``batch_size`` records
drawn uniformly with replacement from the buffer, on the squared error::

    L(theta) = (1 / 2|batch|) sum_{(z, a, r) in batch} (f_a(z; theta) - r)^2

The optimizer is any optax optimizer named as in :mod:`agents.optimizers` (a static name,
``"NAME(option=value)"`` or optax object; its options keep their values), built inside
traced code from the traced ``hparams.learning_rate``.

Schedule and cost.  "Train now?" is ``count mod B == 0`` with ``count`` the number of
updates so far, decided by ``lax.cond``.  ``count`` is created independently of the key, so
when the agent is initialised inside ``vmap`` and run in one ``lax.scan`` (as
:func:`experiments.runner.make_run` under ``vmap`` does) it stays unbatched and ``cond``
really skips the training: the cost per step is one forward pass (act) + one record write +
``num_train_steps * batch_size`` forward/backward passes every ``B``-th step.  When the
carry has been through a ``vmap`` boundary (the chunked experiment executor passes the carry
between jitted chunks with ``in_axes=0``), the predicate is batched, ``cond`` becomes a
``select`` and *both* branches run every step: the results are identical but every step
pays the training branch.  Keep ``num_train_steps * batch_size`` small (the defaults train
one minibatch of 32 per step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from agents.common import check_num_arms
from agents.neural import replay
from agents.optimizers import OptimizerSpec, resolve_optimizer
from agents.types import Needs
from simulator import pytree
from simulator.params import ConfigError
from simulator.types import Context, require

Array = jax.Array


class Sample(pytree.PyTreeNode):
    """A replay record: ``inputs (input_dim,)`` of the chosen arm, ``action ()`` int32,
    ``reward ()`` float32."""

    inputs: Array
    action: Array
    reward: Array


class Learner(pytree.PyTreeNode):
    """What every neural agent learns with.

    Attributes:
      params: the flax params of the reward network.
      opt_state: the optax state.
      buffer: the :class:`~agents.neural.replay.Replay` of :class:`Sample` records.
      count: ``()`` int32 number of updates so far (drives the training schedule).
    """

    params: Any
    opt_state: Any
    buffer: replay.Replay
    count: Array


# --------------------------------------------------------------------------------------
# Static checks
# --------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_shapes(name: str, num_arms: int, context_dim: int, arm_dim: int) -> None:
    """ConfigError unless the shapes are non-negative integers (``num_arms >= 1``)."""
    check_num_arms(num_arms)
    for field, value in (("context_dim", context_dim), ("arm_dim", arm_dim)):
        require(
            _is_int(value) and value >= 0,
            f"agent.{field} = {value!r}: must be an integer >= 0 ({name})",
        )


def check_hidden(name: str, hidden) -> tuple[int, ...]:
    """The hidden widths as a tuple of positive integers (ConfigError otherwise)."""
    ok = isinstance(hidden, (tuple, list)) and len(hidden) >= 1
    ok = ok and all(_is_int(w) and w >= 1 for w in hidden)
    require(
        ok,
        f"agent.hidden = {hidden!r}: must be a non-empty list of positive integer widths ({name})",
    )
    return tuple(int(w) for w in hidden)


def check_positive_int(name: str, field: str, value) -> None:
    require(
        _is_int(value) and value >= 1,
        f"agent.{field} = {value!r}: must be an integer >= 1 ({name})",
    )


# --------------------------------------------------------------------------------------
# The reward network
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RewardNet:
    """Static description of a reward network over a context (see the module docstring).

    Attributes:
      name: the agent's name, for error messages.
      num_arms: K.
      context_dim: length of ``context.features``.
      arm_dim: ``d`` of ``context.arm_features (K, d)``; 0 selects per-arm heads.
      hidden: hidden widths.
    """

    name: str
    num_arms: int
    context_dim: int
    arm_dim: int
    hidden: tuple[int, ...]

    @property
    def per_arm_heads(self) -> bool:
        return self.arm_dim == 0

    @property
    def input_dim(self) -> int:
        return self.context_dim + self.arm_dim

    @property
    def feature_dim(self) -> int:
        """Width of the last hidden layer ``phi``."""
        return self.hidden[-1]

    @property
    def width(self) -> int:
        """The network width ``m`` of NeuralUCB / NeuralTS: the first hidden width."""
        return self.hidden[0]

    @property
    def module(self):
        """The flax module (:class:`agents.neural.mlp.MLP`; flax is imported here)."""
        from agents.neural.mlp import MLP

        return MLP(self.hidden, self.num_arms if self.per_arm_heads else 1)

    def init(self, key: Array) -> Any:
        """Fresh params (flax default initialisers)."""
        return self.module.init(key, jnp.zeros((self.input_dim,), jnp.float32))["params"]

    def apply(self, params, z: Array) -> tuple[Array, Array]:
        """``(f(z), phi(z))`` for one input ``z (input_dim,)``."""
        return self.module.apply({"params": params}, z)

    def needs(self) -> Needs:
        """Its number of arms, the widths it reads (both blocks, exactly: see
        :meth:`check`) and some features (``"any"``): a network needs an input."""
        return Needs(
            num_arms=self.num_arms,
            context_dim=self.context_dim,
            arm_dim=self.arm_dim,
            features="any",
        )

    def check(self, context: Context) -> None:
        """ConfigError at trace time when the context does not have the agent's shapes."""
        got_arms = tuple(context.arm_features.shape)
        if got_arms != (self.num_arms, self.arm_dim):
            raise ConfigError(
                f"agent.num_arms = {self.num_arms}, agent.arm_dim = {self.arm_dim}: do not "
                f"match the environment, whose context.arm_features has shape {got_arms} "
                f"({self.name})"
            )
        got = tuple(context.features.shape)
        if got != (self.context_dim,):
            raise ConfigError(
                f"agent.context_dim = {self.context_dim}: does not match the environment, "
                f"whose context.features has shape {got} ({self.name})"
            )

    def arm_inputs(self, context: Context) -> Array:
        """``(K, input_dim)`` the input ``z_a = [features ; arm_features[a]]`` of every arm."""
        self.check(context)
        features = jnp.asarray(context.features, jnp.float32)
        shared = jnp.broadcast_to(features, (self.num_arms, self.context_dim))
        if self.per_arm_heads:
            return shared
        return jnp.concatenate([shared, jnp.asarray(context.arm_features, jnp.float32)], axis=1)

    def predict(self, params, z: Array, action: Array) -> Array:
        """``()`` predicted reward ``f_a(z)`` of arm ``action`` with input ``z``."""
        out, _ = self.apply(params, z)
        return out[action] if self.per_arm_heads else out[0]

    def values(self, params, context: Context) -> Array:
        """``(K,)`` predicted rewards of every arm (one forward pass with per-arm heads,
        ``K`` with a shared scorer)."""
        inputs = self.arm_inputs(context)
        if self.per_arm_heads:
            return self.apply(params, inputs[0])[0]
        return jax.vmap(lambda z: self.apply(params, z)[0][0])(inputs)

    def features(self, params, z: Array) -> Array:
        """``(h_L,)`` last hidden layer ``phi(z)``."""
        return self.apply(params, z)[1]

    def gradient(self, params, z: Array, action: Array) -> Array:
        """``(p,)`` flattened ``grad_theta f_a(z; theta)``."""
        grads = jax.grad(self.predict)(params, z, action)
        return ravel_pytree(grads)[0]

    def gradients(self, params, context: Context) -> tuple[Array, Array]:
        """``(values (K,), gradients (K, p))``: ``f_a`` and ``grad_theta f_a`` of every arm."""
        inputs = self.arm_inputs(context)
        actions = jnp.arange(self.num_arms, dtype=jnp.int32)

        def one(z, a):
            value, grads = jax.value_and_grad(self.predict)(params, z, a)
            return value, ravel_pytree(grads)[0]

        return jax.vmap(one)(inputs, actions)


# --------------------------------------------------------------------------------------
# Training on the replay buffer
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Trainer:
    """Static training configuration of a :class:`Learner` (see the module docstring).

    Attributes:
      net: the reward network.
      optimizer: an optimizer as named in :mod:`agents.optimizers` (e.g. ``"adam"``).
      buffer_size: replay capacity C.
      batch_size: minibatch size.
      train_every: B, train every B updates.
      num_train_steps: optimizer steps per training event.
      spec: the resolved ``optimizer`` (:func:`agents.optimizers.resolve_optimizer`).
    """

    net: RewardNet
    optimizer: Any = "adam"
    buffer_size: int = 512
    batch_size: int = 32
    train_every: int = 1
    num_train_steps: int = 1
    spec: OptimizerSpec = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        name = self.net.name
        object.__setattr__(self, "spec", resolve_optimizer(self.optimizer))
        for field in ("buffer_size", "batch_size", "train_every", "num_train_steps"):
            check_positive_int(name, field, getattr(self, field))

    def init(self, key: Array, hparams) -> Learner:
        params = self.net.init(key)
        example = Sample(
            inputs=jnp.zeros((self.net.input_dim,), jnp.float32),
            action=jnp.zeros((), jnp.int32),
            reward=jnp.zeros((), jnp.float32),
        )
        return Learner(
            params=params,
            opt_state=self.spec.build(hparams.learning_rate).init(params),
            buffer=replay.init(example, self.buffer_size),
            count=jnp.zeros((), jnp.int32),
        )

    def record(self, transition) -> Sample:
        """The replay record of a transition: the chosen arm's input, action, reward."""
        inputs = self.net.arm_inputs(transition.context)
        action = jnp.asarray(transition.action, jnp.int32)
        return Sample(
            inputs=inputs[action], action=action, reward=jnp.asarray(transition.reward, jnp.float32)
        )

    def loss(self, params, batch: Sample, valid: Array) -> Array:
        """Mean squared error ``(1/2n) sum valid (f_a(z) - r)^2`` over a minibatch."""
        preds = jax.vmap(self.net.predict, in_axes=(None, 0, 0))(params, batch.inputs, batch.action)
        errors = valid * (preds - batch.reward) ** 2
        return 0.5 * jnp.sum(errors) / jnp.maximum(jnp.sum(valid), 1.0)

    def train(self, key: Array, learner: Learner, hparams) -> Learner:
        """``num_train_steps`` optimizer steps on minibatches of the buffer."""
        tx = self.spec.build(hparams.learning_rate)

        def one_step(carry, key_batch):
            params, opt_state = carry
            batch, valid = replay.sample(key_batch, learner.buffer, self.batch_size)
            grads = jax.grad(self.loss)(params, batch, valid)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        keys = jax.random.split(key, self.num_train_steps)
        (params, opt_state), _ = jax.lax.scan(one_step, (learner.params, learner.opt_state), keys)
        return learner.replace(params=params, opt_state=opt_state)

    def observe(self, learner: Learner, transition) -> Learner:
        """Add the transition's record to the buffer and count the update."""
        buffer = replay.add(learner.buffer, self.record(transition))
        return learner.replace(buffer=buffer, count=learner.count + 1)

    def due(self, learner: Learner) -> Array:
        """``()`` bool: train at this update (``count mod B == 0``, after :meth:`observe`)."""
        return jnp.mod(learner.count, self.train_every) == 0

    def scheduled(
        self, learner: Learner, train: Callable[[Any], Any], skip: Callable[[Any], Any], operand
    ):
        """``train(operand)`` when due, else ``skip(operand)`` (``lax.cond``; no cond when
        ``train_every == 1``)."""
        if self.train_every == 1:
            return train(operand)
        return jax.lax.cond(self.due(learner), train, skip, operand)

    def update(self, key: Array, learner: Learner, transition, hparams) -> Learner:
        """Observe the transition, then train if due.

        Only ``(params, opt_state)`` pass through the ``cond`` (the buffer is read, not
        returned), so a ``select`` under a batched predicate never copies the buffer.
        """
        learner = self.observe(learner, transition)

        def train(operand):
            params, opt_state = operand
            trained = self.train(key, learner.replace(params=params, opt_state=opt_state), hparams)
            return trained.params, trained.opt_state

        params, opt_state = self.scheduled(
            learner, train, lambda op: op, (learner.params, learner.opt_state)
        )
        return learner.replace(params=params, opt_state=opt_state)


def tree_bytes(tree) -> int:
    """Total bytes of the array leaves of a pytree (concrete or abstract)."""
    return sum(int(x.size) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))
