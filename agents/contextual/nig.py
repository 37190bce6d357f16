"""Bayesian linear regression with a Normal–inverse-gamma prior: the posterior shared by
``lin_full_post`` (raw features, :mod:`agents.contextual.lin_full_post`) and Neural-Linear
(a network's last hidden layer, :mod:`agents.neural.neural_linear`); Riquelme, Tucker &
Snoek (2018).

Model, per posterior ``m`` (``M`` of them, e.g. one per arm) over ``h`` features::

    r = phi^T beta + eps,      eps ~ N(0, sigma^2)
    sigma^2 ~ IG(a0, b0),      beta | sigma^2 ~ N(0, sigma^2 / lambda I)

After observations ``(Phi (n, h), r (n,))`` the posterior is Normal–inverse-gamma::

    Lambda = lambda I + Phi^T Phi,   mu = Lambda^{-1} Phi^T r
    a = a0 + n / 2,                  b = b0 + (r^T r - mu^T Lambda mu) / 2
                                       = b0 + (||r - Phi mu||^2 + lambda ||mu||^2) / 2

Thompson draw (:func:`sample_weights`): ``sigma^2 ~ IG(a, b)`` (as ``b / G``,
``G ~ Gamma(a)``), then ``beta ~ N(mu, sigma^2 Lambda^{-1})``.

Update without a per-step inverse or triangular solve (:func:`rank_one_update`).  The
posterior holds a square root ``S (h, h)`` of the covariance, ``S S^T = Lambda^{-1}``
(Potter's square-root form), ``Phi^T r``, ``a`` and ``b``; an observation ``(phi, r)`` is
a rank-one update in ``O(h^2)`` matrix–vector products::

    v = S^T phi,   q = v^T v = phi^T Lambda^{-1} phi,   mu = S S^T Phi^T r
    b <- b + (r - phi^T mu)^2 / (2 (1 + q))                     (recursive least squares)
    S <- S - c (S v) v^T,   c = 1 / (sqrt(1 + q) (sqrt(1 + q) + 1))
    Phi^T r <- Phi^T r + r phi,   a <- a + 1/2

(``(I - c v v^T)^2 = I - v v^T / (1 + q)``, so ``S' S'^T = (Lambda + phi phi^T)^{-1}`` by
Sherman–Morrison; Potter 1963, see Bierman, *Factorization Methods for Discrete Sequential
Estimation*, 1977.)  The square root is preferred to a Cholesky factor of ``Lambda``
because sampling, the mean and the update are then matrix–vector products, whereas
triangular solves are slow under ``vmap`` on a CPU.  :func:`batch_posterior` computes the
same posterior from a batch of weighted records (Neural-Linear after a retrain); ``b`` is
computed there from residuals, not from ``r^T r - mu^T Lambda mu``, to avoid cancellation
in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.linalg import cholesky
from agents.sampling import gamma as gamma_sample
from simulator import pytree
from simulator.sampling import split_keys

Array = jax.Array


class NIGPosterior(pytree.PyTreeNode):
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
    key_gamma, key_normal = split_keys(key)
    sigma2 = posterior.b / gamma_sample(key_gamma, posterior.a)
    eps = jax.random.normal(key_normal, posterior.phi_r.shape, jnp.float32)
    noise = jnp.einsum("mhk,mk->mh", posterior.root, eps)
    return posterior.mean() + jnp.sqrt(sigma2)[:, None] * noise
