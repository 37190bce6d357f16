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

Update, exact and without a per-step inverse or triangular solve.  The state holds a square
root ``S (h, h)`` of the covariance, ``S S^T = Lambda^{-1}`` (Potter's square-root form),
``Phi^T r``, ``a`` and ``b``.  Between retrains each observation ``(phi, r)`` of posterior
``m`` is a rank-one update in ``O(h^2)`` matrix–vector products (``phi`` under the current
network)::

    v = S^T phi,   q = v^T v = phi^T Lambda^{-1} phi,   mu = S S^T Phi^T r
    b <- b + (r - phi^T mu)^2 / (2 (1 + q))                     (recursive least squares)
    S <- S - c (S v) v^T,   c = 1 / (sqrt(1 + q) (sqrt(1 + q) + 1))
    Phi^T r <- Phi^T r + r phi,   a <- a + 1/2

(``(I - c v v^T)^2 = I - v v^T / (1 + q)``, so ``S' S'^T = (Lambda + phi phi^T)^{-1}`` by
Sherman–Morrison; Potter 1963, see Bierman, *Factorization Methods for Discrete Sequential
Estimation*, 1977.)  The square root is preferred to a Cholesky factor of ``Lambda``
because sampling, the mean and the update are then matrix–vector products, whereas
triangular solves are slow under ``vmap`` on a CPU.

Every ``train_every`` updates the network is retrained (``num_train_steps`` minibatches of
the replay buffer) and, since ``phi`` has changed, the posterior is **recomputed from the
buffer's records** under the new network with the batch formulas above: ``Lambda`` from the
features, its Cholesky factor ``L``, ``S = L^{-T}`` (``O(C M h^2 + M h^3)`` for capacity
``C``, once per retrain).  So the posterior after a retrain covers the last ``C``
observations (the buffer is a window), and the rank-one updates then add the new ones.
``b`` is recomputed from residuals, not from ``r^T r - mu^T Lambda mu``, to avoid
cancellation in float32.

Cost per step: act one forward pass (``K`` with a shared scorer), ``M`` Gamma draws and
``O(M h^2)`` matrix–vector products; update one forward pass and an ``O(h^2)`` update;
every retrain the training plus the recomputation (every step when the schedule's predicate
is batched, see :mod:`agents.neural.networks`).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from agents.common import random_argmax
from agents.linalg import cholesky
from agents.neural import replay
from agents.neural.networks import Learner, RewardNet, Trainer, check_hidden, check_shapes
from agents.sampling import gamma as gamma_sample
from agents.types import Agent
from simulator.params import knob

Array = jax.Array


@flax.struct.dataclass
class NeuralLinearHParams:
    learning_rate: float = knob(1e-2, low=0.0, low_open=True, doc="optimizer learning rate")
    ridge: float = knob(
        0.25, low=0.0, low_open=True, doc="lambda: prior beta | sigma^2 ~ N(0, sigma^2/lambda I)"
    )
    a0: float = knob(6.0, low=0.0, low_open=True, doc="prior shape: sigma^2 ~ IG(a0, b0)")
    b0: float = knob(6.0, low=0.0, low_open=True, doc="prior scale: sigma^2 ~ IG(a0, b0)")


class NIGPosterior(flax.struct.PyTreeNode):
    """``M`` Normal–inverse-gamma posteriors over ``h`` features.

    Attributes:
      root: ``(M, h, h)`` square root ``S`` of the covariance, ``S S^T = Lambda^{-1}``.
      phi_r: ``(M, h)`` ``Phi^T r``.
      a: ``(M,)`` shape of ``IG(a, b)``.
      b: ``(M,)`` scale of ``IG(a, b)``.
    """

    root: Array
    phi_r: Array
    a: Array
    b: Array

    def covariance(self) -> Array:
        """``(M, h, h)`` ``Lambda^{-1} = S S^T``."""
        return self.root @ jnp.swapaxes(self.root, -1, -2)

    def mean(self) -> Array:
        """``(M, h)`` posterior means ``mu = S S^T Phi^T r``."""
        return jnp.einsum("mhk,mk->mh", self.root, jnp.einsum("mkh,mk->mh", self.root, self.phi_r))


class NeuralLinearState(flax.struct.PyTreeNode):
    """Network learner and the posterior over its last-layer features."""

    learner: Learner
    posterior: NIGPosterior


def prior(num_models: int, dim: int, hparams) -> NIGPosterior:
    """The prior: ``Lambda = lambda I`` (``S = I / sqrt(lambda)``), ``Phi^T r = 0``,
    ``(a, b) = (a0, b0)``."""
    eye = jnp.eye(dim, dtype=jnp.float32) / jnp.sqrt(hparams.ridge)
    return NIGPosterior(
        root=jnp.broadcast_to(eye, (num_models, dim, dim)).astype(jnp.float32),
        phi_r=jnp.zeros((num_models, dim), jnp.float32),
        a=jnp.full((num_models,), hparams.a0, jnp.float32),
        b=jnp.full((num_models,), hparams.b0, jnp.float32),
    )


def rank_one_update(posterior: NIGPosterior, model: Array, phi: Array, reward: Array):
    """Add one observation ``(phi (h,), r)`` to posterior ``model`` in ``O(h^2)``."""
    root = posterior.root[model]
    phi_r = posterior.phi_r[model]
    v = root.T @ phi
    q = v @ v
    mu = root @ (root.T @ phi_r)
    b = posterior.b[model] + 0.5 * (reward - phi @ mu) ** 2 / (1.0 + q)
    s = jnp.sqrt(1.0 + q)
    root = root - jnp.outer(root @ v, v) / (s * (s + 1.0))
    return NIGPosterior(
        root=posterior.root.at[model].set(root),
        phi_r=posterior.phi_r.at[model].set(phi_r + reward * phi),
        a=posterior.a.at[model].add(0.5),
        b=posterior.b.at[model].set(b),
    )


def lower_triangular_inverse(chol: Array, block: int = 8) -> Array:
    """``L^{-1}`` of lower-triangular ``(..., n, n)`` matrices, by blocks of ``block``.

    ``L`` is padded with the identity to ``p`` blocks; the ``p`` diagonal blocks are
    inverted together by forward substitution, then the block rows of ``X = L^{-1}`` follow
    by block forward substitution::

        X_ii = L_ii^{-1},   X_i,:i = -X_ii (L_i,:i X_:i,:i)

    ``O(n^3)`` in matrix products.  Used instead of a triangular solve against the identity,
    which XLA runs about 100x slower on a CPU, and of a 1x1-block recursion, which compiles
    slower.
    """
    n = chol.shape[-1]
    num_blocks = -(-n // block)
    m = num_blocks * block
    batch = chol.shape[:-2]
    padding = jnp.concatenate([jnp.zeros(n), jnp.ones(m - n)]).astype(chol.dtype)
    full = jnp.pad(chol, [(0, 0)] * len(batch) + [(0, m - n), (0, m - n)]) + jnp.diag(padding)

    def part(i, j):
        return full[..., i * block : (i + 1) * block, j * block : (j + 1) * block]

    diagonal = jnp.stack([part(i, i) for i in range(num_blocks)], axis=-3)  # (..., p, b, b)
    eye = jnp.eye(block, dtype=chol.dtype)
    rows = []
    for i in range(block):  # forward substitution, all diagonal blocks at once
        row = jnp.broadcast_to(eye[i], diagonal.shape[:-2] + (block,))
        if i:
            done = jnp.stack(rows, axis=-2)
            row = row - jnp.einsum("...k,...kj->...j", diagonal[..., i, :i], done)
        rows.append(row / diagonal[..., i, i : i + 1])
    diagonal_inv = jnp.stack(rows, axis=-2)
    inverse = diagonal_inv[..., 0, :, :]
    for i in range(1, num_blocks):
        strip = full[..., i * block : (i + 1) * block, : i * block]
        lower = -diagonal_inv[..., i, :, :] @ (strip @ inverse)
        zeros = jnp.zeros(batch + (i * block, block), chol.dtype)
        top = jnp.concatenate([inverse, zeros], axis=-1)
        bottom = jnp.concatenate([lower, diagonal_inv[..., i, :, :]], axis=-1)
        inverse = jnp.concatenate([top, bottom], axis=-2)
    return inverse[..., :n, :n]


def batch_posterior(features: Array, rewards: Array, weights: Array, hparams) -> NIGPosterior:
    """The posteriors of ``M`` models from weighted data, by the batch formulas.

    Args:
      features: ``(n, h)`` ``phi`` of each record.
      rewards: ``(n,)``.
      weights: ``(n, M)`` 1 where record ``i`` belongs to model ``m`` (0 for empty slots).
      hparams: ``ridge`` (lambda), ``a0``, ``b0``.

    Returns:
      An :class:`NIGPosterior` with ``M`` models; ``S = L^{-T}``, ``L = chol(Lambda)``.
    """
    dim = features.shape[1]
    weighted = weights[:, :, None] * features[:, None, :]  # (n, M, h); faster than one einsum
    gram = jnp.einsum("nmh,ng->mhg", weighted, features)
    chol = jax.vmap(cholesky)(gram + hparams.ridge * jnp.eye(dim, dtype=jnp.float32))
    root = jnp.swapaxes(lower_triangular_inverse(chol), -1, -2)
    phi_r = jnp.einsum("nm,n,nh->mh", weights, rewards, features)
    posterior = NIGPosterior(root=root, phi_r=phi_r, a=jnp.zeros_like(phi_r[:, 0]), b=None)
    mu = posterior.mean()
    residuals = rewards[:, None] - features @ mu.T  # (n, M)
    sse = jnp.sum(weights * residuals**2, axis=0) + hparams.ridge * jnp.sum(mu * mu, axis=1)
    counts = jnp.sum(weights, axis=0)
    return NIGPosterior(
        root=root.astype(jnp.float32),
        phi_r=phi_r.astype(jnp.float32),
        a=(hparams.a0 + 0.5 * counts).astype(jnp.float32),
        b=(hparams.b0 + 0.5 * sse).astype(jnp.float32),
    )


def sample_weights(key: Array, posterior: NIGPosterior) -> Array:
    """``(M, h)`` Thompson draws: ``sigma^2 = b / G``, ``G ~ Gamma(a)``;
    ``beta = mu + sigma S eps``, ``eps ~ N(0, I)``, so ``beta ~ N(mu, sigma^2 Lambda^{-1})``."""
    key_gamma, key_normal = jax.random.split(key)
    sigma2 = posterior.b / gamma_sample(key_gamma, posterior.a)
    eps = jax.random.normal(key_normal, posterior.phi_r.shape, jnp.float32)
    noise = jnp.einsum("mhk,mk->mh", posterior.root, eps)
    return posterior.mean() + jnp.sqrt(sigma2)[:, None] * noise


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
      optimizer: optax optimizer name.
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

    def act(key, state, context, hparams):
        key_sample, key_tie = jax.random.split(key)
        beta = sample_weights(key_sample, state.posterior)  # (M, h)
        inputs = net.arm_inputs(context)
        if net.per_arm_heads:
            phi = net.features(state.learner.params, inputs[0])
            scores = beta @ phi
        else:
            phis = jax.vmap(net.features, in_axes=(None, 0))(state.learner.params, inputs)
            scores = phis @ beta[0]
        return random_argmax(key_tie, scores)

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
    return Agent(name, init, act, update, NeuralLinearHParams, static, needs=net.needs())
