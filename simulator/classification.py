"""Classification as a contextual bandit: each example a context, each class an arm.

The standard reduction of the contextual bandit bake-off (Bietti, Agarwal & Langford 2021):
an example ``(x, y)`` with ``K`` classes becomes a round whose context is ``x`` and whose
arms are the classes; choosing class ``a`` pays ``1[a == y]`` and reveals nothing about
the other classes.  The examples stream in a shuffled order drawn per run from the
environment key (one permutation per seed, repeated when the horizon is longer than the
dataset), inside the compiled loop.  The dataset itself lives in the params as data fields,
so it is held once and shared by every sweep point and seed.

Datasets: ``blobs`` (a synthetic Gaussian mixture, no dependency: the default), the
datasets bundled with scikit-learn (``iris``, ``wine``, ``breast_cancer``, ``digits``; read
from its package files, see :mod:`simulator.datasets`), or your own arrays through
:func:`from_data`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from simulator import capabilities, pytree
from simulator.datasets import (
    CLASSIFICATION_DATASETS,
    ClassificationData,
    blobs,
    classification_from_arrays,
    load_classification,
)
from simulator.params import ConfigError, data_field, knob
from simulator.registry import Registry
from simulator.types import Context, Environment, EnvSpec, make_oracle, make_timestep, require

Array = jax.Array

#: The ``dataset`` value of an environment built from your own arrays (:func:`from_data`).
ARRAYS = "arrays"


@pytree.dataclass
class ClassificationParams:
    flip_prob: float = knob(
        0.0, low=0.0, high=0.5, doc="probability that the 0/1 reward is flipped (label noise)"
    )
    features: Any = data_field("(num_examples, num_features) float32 standardised features")
    labels: Any = data_field("(num_examples,) int32 class labels in [0, num_classes)")


class ClassificationState(NamedTuple):
    """The stream of one run.

    Attributes:
      order: ``(num_examples,)`` int32, the run's permutation of the examples.
      t: ``()`` int32, the position in the stream of the current context's example.
    """

    order: Array
    t: Array


@dataclasses.dataclass(frozen=True)
class ClassificationBandit(Environment):
    """A classification dataset as a K-armed contextual bandit.

    Round ``t`` shows the features ``x_t`` of example ``i_t = order[t mod n]`` (``order`` a
    uniform permutation of the ``n`` examples drawn in ``reset``); choosing arm ``a`` pays::

        r_t = 1[a == y_t] XOR 1[u_t < flip_prob],      u_t ~ U(0, 1)

    (one uniform per round, the same whatever the agent chose: common random numbers).  The
    oracle's expected reward is ``(1 - f) * onehot(y_t) + f * (1 - onehot(y_t))`` with
    ``f = flip_prob``: the one-hot of the true class when ``f = 0``, so the pseudo-regret is
    the classification error and ``optimal`` is the accuracy.  ``Context.features`` is
    ``x_t`` ``(num_features,)``, standardised over the dataset; ``Context.arm_features`` is
    empty ``(num_classes, 0)``: agents with per-arm (disjoint) linear models fit it.

    Args:
      dataset: ``"blobs"`` (synthetic), ``"iris"``, ``"wine"``, ``"breast_cancer"``,
        ``"digits"`` (need scikit-learn installed), or ``"arrays"`` (your own data: build it
        with :func:`from_data`, which returns the environment and its params).
      num_examples, num_features, num_classes: the dataset's shape.  None takes it from the
        named dataset; for ``blobs`` they set the generated mixture's size; a value that
        contradicts a named dataset is an error.

    Example::

        env = ClassificationBandit(dataset="digits")         # 10 arms, 64 features
        agent = agents.make("linucb", num_arms=10, context_dim=64, arm_dim=0, mode="disjoint")

    Reference: A. Bietti, A. Agarwal & J. Langford, "A Contextual Bandit Bake-off", JMLR 22
    (2021); the reduction goes back to Langford & Zhang (2007).
    """

    dataset: str = "blobs"
    num_examples: int | None = None
    num_features: int | None = None
    num_classes: int | None = None

    def __post_init__(self):
        allowed = (*CLASSIFICATION_DATASETS, ARRAYS)
        require(
            isinstance(self.dataset, str) and self.dataset in allowed,
            f"env.dataset = {self.dataset!r}: unknown; allowed: {', '.join(allowed)}",
        )
        for name in ("num_examples", "num_features", "num_classes"):
            value = getattr(self, name)
            low = 2 if name == "num_classes" else 1
            require(
                value is None
                or (isinstance(value, int) and not isinstance(value, bool))
                and value >= low,
                f"env.{name} = {value!r}: must be None or an integer >= {low}",
            )
        if self.dataset == ARRAYS:
            require(
                self.num_features is not None and self.num_classes is not None,
                "env.dataset = 'arrays': give num_features and num_classes, or build the "
                "environment and its params with simulator.classification.from_data(data)",
            )
            return
        info = CLASSIFICATION_DATASETS[self.dataset]
        for name in ("num_examples", "num_features", "num_classes"):
            value, known = getattr(self, name), getattr(info, name)
            if value is None:
                object.__setattr__(self, name, known)
            elif self.dataset != "blobs":
                require(
                    value == known,
                    f"env.{name} = {value}: dataset {self.dataset!r} has {name} = {known}",
                )

    @property
    def spec(self) -> EnvSpec:
        # Rewards in {0, 1} (the mean reward is the rate of right guesses); arm a is
        # always "predict class a", so the best fixed arm (the majority class) is defined.
        return EnvSpec(
            num_arms=self.num_classes,
            context_dim=self.num_features,
            arm_dim=0,
            reward=capabilities.clicks(),
            fixed_arms=True,
        )

    def load(self) -> ClassificationData:
        """The dataset (read once per process; ConfigError if its files are missing)."""
        if self.dataset == ARRAYS:
            raise ConfigError(
                "env.dataset = 'arrays' holds no data of its own: build the environment and "
                "its params with simulator.classification.from_data(data)"
            )
        if self.dataset == "blobs":
            info = CLASSIFICATION_DATASETS["blobs"]
            if (self.num_examples, self.num_features, self.num_classes) != info[:3]:
                return blobs(self.num_examples, self.num_features, self.num_classes)
        return load_classification(self.dataset)

    def default_params(self) -> ClassificationParams:
        data = self.load()
        return ClassificationParams(features=data.features, labels=data.labels)

    # pieces --------------------------------------------------------------------------
    def _data(self, params) -> tuple[Array, Array]:
        if params.features is None or params.labels is None:
            raise ConfigError(
                "env.features / env.labels are None: use env.default_params() or from_data()"
            )
        features = jnp.asarray(params.features, jnp.float32)
        labels = jnp.asarray(params.labels, jnp.int32)
        if features.ndim != 2 or features.shape[1] != self.num_features:
            raise ConfigError(
                f"env.features has shape {tuple(features.shape)}: must be "
                f"(num_examples, num_features = {self.num_features})"
            )
        if labels.shape != features.shape[:1]:
            raise ConfigError(
                f"env.labels has shape {tuple(labels.shape)}: must be (num_examples,) = "
                f"({features.shape[0]},)"
            )
        return features, labels

    def _timestep(self, state: ClassificationState, reward, params):
        features, labels = self._data(params)
        example = state.order[state.t % state.order.shape[0]]
        truth = jnp.arange(self.num_classes) == labels[example]
        flip = params.flip_prob
        expected = jnp.where(truth, 1.0 - flip, flip)
        context = Context(
            features=features[example],
            arm_features=jnp.zeros((self.num_classes, 0), jnp.float32),
        )
        return make_timestep(context, reward, make_oracle(expected))

    # contract ------------------------------------------------------------------------
    def reset(self, key, params):
        features, _ = self._data(params)
        order = jax.random.permutation(key, features.shape[0]).astype(jnp.int32)
        state = ClassificationState(order=order, t=jnp.zeros((), jnp.int32))
        return state, self._timestep(state, 0.0, params)

    def step(self, key, state, action, params):
        _, labels = self._data(params)
        label = labels[state.order[state.t % state.order.shape[0]]]
        correct = jnp.asarray(action, jnp.int32) == label
        flipped = jax.random.uniform(key) < params.flip_prob
        reward = (correct != flipped).astype(jnp.float32)
        next_state = ClassificationState(order=state.order, t=state.t + 1)
        return next_state, self._timestep(next_state, reward, params)


class HeldData:
    """Your arrays as a static field: hashable and compared by a digest of their content,
    so an environment holding them stays a hashable frozen dataclass."""

    def __init__(self, data: ClassificationData):
        self.data = data
        digest = hashlib.sha1(np.ascontiguousarray(data.features).tobytes())
        digest.update(np.ascontiguousarray(data.labels).tobytes())
        self.digest = digest.hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeldData) and other.digest == self.digest

    def __repr__(self) -> str:
        n, d = self.data.features.shape
        return f"HeldData({self.data.name!r}, {n}x{d}, sha1 {self.digest[:10]})"


@dataclasses.dataclass(frozen=True)
class ArraysClassificationBandit(ClassificationBandit):
    """A :class:`ClassificationBandit` over your own arrays (built by :func:`from_data`):
    ``default_params()`` holds them."""

    held: HeldData | None = None

    def load(self) -> ClassificationData:
        if self.held is None:
            return super().load()
        return self.held.data


def from_data(
    data: ClassificationData | Any, labels: Any = None
) -> tuple[ArraysClassificationBandit, ClassificationParams]:
    """The environment and its params for your own data.

    Args:
      data: a :class:`~simulator.datasets.ClassificationData`, or a ``(n, d)`` features
        array with ``labels`` ``(n,)`` (then standardised and validated by
        :func:`~simulator.datasets.classification_from_arrays`).
      labels: the labels when ``data`` is an array.

    Returns:
      ``(env, params)``; ``env.default_params()`` gives the same params again.

    Example::

        env, params = from_data(x, y)
        log = jax.jit(make_run(env, agent, 500))(key, params, agent.default_hparams())
    """
    if not isinstance(data, ClassificationData):
        data = classification_from_arrays(data, labels)
    env = ArraysClassificationBandit(
        dataset=ARRAYS,
        num_examples=int(data.features.shape[0]),
        num_features=int(data.features.shape[1]),
        num_classes=int(data.num_classes),
        held=HeldData(data),
    )
    return env, env.default_params()


def register_all(registry: Registry) -> None:
    """Register ``classification_bandit``."""
    registry.register("classification_bandit", ClassificationBandit)


__all__ = [
    "ARRAYS",
    "ArraysClassificationBandit",
    "ClassificationBandit",
    "ClassificationParams",
    "ClassificationState",
    "HeldData",
    "from_data",
    "register_all",
]
