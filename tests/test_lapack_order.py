"""The LAPACK-order check finds the pattern that hangs, and passes its fix."""

import jax
import jax.numpy as jnp
import pytest

from tests.lapack_order import assert_lapack_calls_ordered, unordered_lapack_calls

GRAMS = jnp.broadcast_to(2.0 * jnp.eye(4), (6, 4, 4))


def independent(grams):
    return jnp.linalg.cholesky(grams[:2]).sum() + jnp.linalg.cholesky(grams[2:]).sum()


def batched(grams):
    return jnp.linalg.cholesky(grams).sum()


def chained(grams):
    first = jnp.linalg.cholesky(grams[:2]).sum()
    return jnp.linalg.cholesky(grams[2:] + first).sum()


def looped(grams):
    loop = jax.lax.fori_loop(0, 2, lambda i, g: jnp.linalg.cholesky(g) + g, grams[:2]).sum()
    return loop + jnp.linalg.cholesky(grams[2:]).sum()


@pytest.mark.parametrize("program", [independent, looped])
def test_independent_lapack_calls_are_found(program):
    hlo = jax.jit(program).lower(GRAMS).compile().as_text()
    assert unordered_lapack_calls(hlo)
    with pytest.raises(AssertionError, match="may run at once"):
        assert_lapack_calls_ordered(jax.jit(program), GRAMS)


@pytest.mark.parametrize("program", [batched, chained])
def test_ordered_lapack_calls_pass(program):
    assert_lapack_calls_ordered(jax.jit(program), GRAMS)
