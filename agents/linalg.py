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

**No LAPACK on a CPU.**  jaxlib's CPU LAPACK kernels (``cholesky``, ``triangular_solve``)
split a large enough batch over XLA's intra-op thread pool and block a pool thread until
the pieces finish.  When every pool thread is blocked so (two independent calls in one
program, or one call per device when a sweep is sharded over several CPU devices), nothing
is left to run the pieces and the program hangs forever: on a 2-core machine, D-LinUCB
with 256 runs at ``d = 16`` sharded over two CPU devices hangs in the first chunk.  So on a
CPU :func:`cholesky`, :func:`cho_solve` and :func:`inverse_transpose_solve` are loops of
vector operations in ``jnp`` (column-by-column Cholesky and forward / back substitution,
Golub & Van Loan §4.2.5 and §3.1): ``d`` sequential steps of ``O(d^2)`` and ``O(d n)``
work, as fast as LAPACK's batched calls for ``d <= 16`` and half as fast at ``d = 32``.
Other platforms use the library kernels (``jax.lax.platform_dependent``).

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


def _unroll(dim: int) -> int | bool:
    """Unroll the ``d`` steps of a loop for small ``d`` (measured faster up to 16)."""
    return True if dim <= 16 else 1


def _cholesky_columns(matrix: Array) -> Array:
    """Column ``j`` of ``L``: ``v = A[:, j] - L L[j]^T`` (columns ``>= j`` of ``L`` are still
    0), ``L[i, j] = v_i / sqrt(v_j)`` for ``i >= j``.  Not positive definite: NaN."""
    dim = matrix.shape[-1]
    rows = jnp.arange(dim)

    def column(j, chol):
        v = matrix[:, j] - chol @ chol[j]
        return chol.at[:, j].set(jnp.where(rows >= j, v / jnp.sqrt(v[j]), 0.0))

    return jax.lax.fori_loop(0, dim, column, jnp.zeros_like(matrix), unroll=_unroll(dim))


def _solve_lower(chol: Array, rhs: Array) -> Array:
    """``L^{-1} rhs`` by forward substitution: ``y_i = (rhs_i - L[i] y) / L_ii``."""
    dim = chol.shape[-1]

    def row(i, y):
        return y.at[i].set((rhs[i] - chol[i] @ y) / chol[i, i])

    return jax.lax.fori_loop(0, dim, row, jnp.zeros_like(rhs), unroll=_unroll(dim))


def _solve_lower_transpose(chol: Array, rhs: Array) -> Array:
    """``L^{-T} rhs`` by back substitution: ``x_i = (rhs_i - L[:, i] . x) / L_ii``, ``i``
    from ``d - 1`` down."""
    dim = chol.shape[-1]

    def row(k, x):
        i = dim - 1 - k
        return x.at[i].set((rhs[i] - chol[:, i] @ x) / chol[i, i])

    return jax.lax.fori_loop(0, dim, row, jnp.zeros_like(rhs), unroll=_unroll(dim))


def cholesky(matrix: Array) -> Array:
    """Lower Cholesky factor of symmetric positive-definite ``(..., d, d)`` matrices,
    ``O(d^3)`` each (NaN if one is not positive definite)."""
    return jax.lax.platform_dependent(
        symmetrize(matrix),
        cpu=jnp.vectorize(_cholesky_columns, signature="(d,d)->(d,d)"),
        default=jnp.linalg.cholesky,
    )


def _check_factor(chol: Array) -> None:
    if chol.ndim != 2:
        raise ValueError(f"chol has shape {chol.shape}: expected one (d, d) factor (vmap a batch)")


def cho_solve(chol: Array, rhs: Array) -> Array:
    """``A^{-1} rhs`` from the ``(d, d)`` lower factor ``L`` of ``A`` (two triangular solves,
    ``O(d^2)`` per right-hand side column).  ``rhs`` is ``(d,)`` or ``(d, n)``."""
    _check_factor(chol)
    return jax.lax.platform_dependent(
        chol,
        rhs,
        cpu=lambda c, r: _solve_lower_transpose(c, _solve_lower(c, r)),
        default=lambda c, r: jsl.cho_solve((c, True), r),
    )


def inverse_transpose_solve(chol: Array, z: Array) -> Array:
    """``L^{-T} z`` (one triangular solve, ``O(d^2)``): if ``z ~ N(0, I)`` then
    ``L^{-T} z ~ N(0, (L L^T)^{-1})``, a Gaussian draw with covariance ``A^{-1}``."""
    _check_factor(chol)
    return jax.lax.platform_dependent(
        chol,
        z,
        cpu=_solve_lower_transpose,
        default=lambda c, r: jsl.solve_triangular(c, r, lower=True, trans="T"),
    )


def weighted_norms(a_inv: Array, xs: Array) -> Array:
    """``||x_k||_{A^{-1}} = sqrt(x_k^T A^{-1} x_k)`` for each row of ``xs`` ``(K, d)``.

    ``a_inv`` is ``(d, d)`` (one shared model) or ``(K, d, d)`` (one model per row).
    """
    if a_inv.ndim == 2:
        quad = jnp.einsum("kd,de,ke->k", xs, a_inv, xs)
    else:
        quad = jnp.einsum("kd,kde,ke->k", xs, a_inv, xs)
    return jnp.sqrt(jnp.maximum(quad, 0.0))
