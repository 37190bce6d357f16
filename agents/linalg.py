"""Small linear-algebra kernels for linear bandits: rank-one updates, never a per-step inverse.

A ridge model keeps the design matrix ``A = lambda I + sum_s x_s x_s^T``.  Adding an
observation is a rank-one change, so its inverse and its Cholesky factor are updated in
``O(d^2)`` instead of being recomputed in ``O(d^3)``:

* Sherman–Morrison (Sherman & Morrison 1950)::

      (A + x x^T)^{-1} = A^{-1} - (A^{-1} x)(A^{-1} x)^T / (1 + x^T A^{-1} x)

* Cholesky rank-one update (Golub & Van Loan, *Matrix Computations*, 4th ed. 2013, §6.5.4;
  the Givens-like sweep of Gill, Golub, Murray & Saunders 1974): given lower-triangular
  ``L`` with ``A = L L^T``, return ``L'`` with ``L' L'^T = A + x x^T`` in ``d`` sequential
  ``O(d)`` steps.

Where an update is not low-rank (a discounted regulariser), :func:`cholesky` and
:func:`cho_solve` solve in ``O(d^3)`` per step without forming an inverse.

**One LAPACK call at a time.**  On a CPU, jaxlib's LAPACK kernels (``cholesky``,
``triangular_solve``, ...) split a batch over XLA's intra-op thread pool and block until
the pieces finish.  XLA may run two independent operations of one program at once, each
on a pool thread; when every pool thread is blocked in such a kernel, nothing is left to
run the pieces and the program hangs forever (reproducible on a 2-core machine with two
independent batched Cholesky factorisations in one jit).  So a compiled program here must
order its LAPACK calls: batch independent systems into one call (as
:func:`experiments.offpolicy.fit_reward_model` does), or compute them in separate jitted
programs (``jax.lax.optimization_barrier`` does not help: XLA's CPU pipeline removes it).  ``tests/lapack_order.py`` checks the compiled
programs of every agent that uses these kernels.

Example::

    a_inv = jnp.eye(3) / lam
    a_inv = sherman_morrison(a_inv, x)           # (A + x x^T)^{-1}
    chol = cholesky_rank_one_update(chol, x)     # chol(A + x x^T)
    theta = cho_solve(chol, b)                   # A^{-1} b
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

Array = jax.Array


def symmetrize(matrix: Array) -> Array:
    """``(M + M^T) / 2`` over the last two axes (keeps float32 round-off symmetric)."""
    return 0.5 * (matrix + jnp.swapaxes(matrix, -1, -2))


def sherman_morrison(a_inv: Array, x: Array) -> Array:
    """Inverse of ``A + x x^T`` from ``A^{-1}`` in ``O(d^2)``.

    Args:
      a_inv: ``(d, d)`` symmetric positive-definite ``A^{-1}``.
      x: ``(d,)`` the new observation.

    Returns:
      ``(d, d)`` ``(A + x x^T)^{-1}``, symmetrised.
    """
    u = a_inv @ x
    return symmetrize(a_inv - jnp.outer(u, u) / (1.0 + x @ u))


def cholesky_rank_one_update(chol: Array, x: Array) -> Array:
    """Lower Cholesky factor of ``L L^T + x x^T`` from ``L`` in ``O(d^2)``.

    The sweep, for ``k = 0, ..., d-1`` (``x`` is overwritten)::

        r = sqrt(L_kk^2 + x_k^2),  c = r / L_kk,  s = x_k / L_kk,  L_kk <- r
        L_ik <- (L_ik + s x_i) / c,   x_i <- c x_i - s L_ik      for i > k

    Args:
      chol: ``(d, d)`` lower-triangular factor with a positive diagonal.
      x: ``(d,)``.

    Returns:
      ``(d, d)`` the updated lower-triangular factor.
    """
    dim = chol.shape[-1]
    index = jnp.arange(dim)

    def sweep(k, carry):
        chol, x = carry
        diagonal = chol[k, k]
        r = jnp.sqrt(diagonal * diagonal + x[k] * x[k])
        c = r / diagonal
        s = x[k] / diagonal
        below = index > k
        column = jnp.where(below, (chol[:, k] + s * x) / c, chol[:, k]).at[k].set(r)
        x = jnp.where(below, c * x - s * column, x)
        return chol.at[:, k].set(column), x

    chol, _ = jax.lax.fori_loop(0, dim, sweep, (chol, x))
    return chol


def cholesky(matrix: Array) -> Array:
    """Lower Cholesky factor of a symmetric positive-definite ``(d, d)`` matrix, ``O(d^3)``."""
    return jnp.linalg.cholesky(symmetrize(matrix))


def cho_solve(chol: Array, rhs: Array) -> Array:
    """``A^{-1} rhs`` from the lower factor ``L`` of ``A`` (two triangular solves, ``O(d^2)``
    per right-hand side column).  ``rhs`` is ``(d,)`` or ``(d, n)``."""
    return jsl.cho_solve((chol, True), rhs)


def inverse_transpose_solve(chol: Array, z: Array) -> Array:
    """``L^{-T} z`` (one triangular solve, ``O(d^2)``): if ``z ~ N(0, I)`` then
    ``L^{-T} z ~ N(0, (L L^T)^{-1})``, a Gaussian draw with covariance ``A^{-1}``."""
    return jsl.solve_triangular(chol, z, lower=True, trans="T")


def weighted_norms(a_inv: Array, xs: Array) -> Array:
    """``||x_k||_{A^{-1}} = sqrt(x_k^T A^{-1} x_k)`` for each row of ``xs`` ``(K, d)``.

    ``a_inv`` is ``(d, d)`` (one shared model) or ``(K, d, d)`` (one model per row).
    """
    if a_inv.ndim == 2:
        quad = jnp.einsum("kd,de,ke->k", xs, a_inv, xs)
    else:
        quad = jnp.einsum("kd,kde,ke->k", xs, a_inv, xs)
    return jnp.sqrt(jnp.maximum(quad, 0.0))
