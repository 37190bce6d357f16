"""Shared agent pieces: tie-breaking argmax, the rank of a maximiser."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.common import maximiser_rank, random_argmax


def test_random_argmax_is_uniform_over_ties_and_never_picks_a_non_maximum():
    values = jnp.array([0.3, 1.0, -2.0, 1.0, 1.0, 0.9])
    keys = jax.random.split(jax.random.key(0), 6000)
    picks = np.asarray(jax.jit(jax.vmap(random_argmax, in_axes=(0, None)))(keys, values))
    counts = np.bincount(picks, minlength=6)
    assert counts[[0, 2, 5]].sum() == 0
    # Each of the three tied maxima: 2000 expected, binomial sd ~ 36.5; 4 sd tolerance.
    np.testing.assert_allclose(counts[[1, 3, 4]], 2000, atol=150)
    assert int(random_argmax(jax.random.key(1), jnp.array([jnp.inf, 5.0, jnp.inf]))) in (0, 2)


def _numpy_random_argmax(u: float, values: np.ndarray) -> int:
    """The documented rule: the floor(u m)-th of the m maximisers, in index order."""
    tied = np.flatnonzero(values >= values.max())
    return int(tied[min(int(np.float32(u) * np.float32(len(tied))), len(tied) - 1)])


def test_random_argmax_picks_the_floor_u_m_th_maximiser_for_every_catalog_size():
    # up to 32 arms the rank is a popcount of a packed mask, beyond it a cumulative sum
    rng = np.random.default_rng(0)
    for num_arms in (1, 2, 7, 31, 32, 33, 100):
        for trial in range(20):
            values = rng.integers(0, 3, num_arms).astype(np.float32)  # many ties
            key = jax.random.key(1000 * num_arms + trial)
            u = float(jax.random.uniform(key))
            want = _numpy_random_argmax(u, values)
            assert int(random_argmax(key, jnp.asarray(values))) == want, (num_arms, trial)


def test_maximiser_rank_is_the_cumulative_count_minus_one():
    rng = np.random.default_rng(1)
    for num_arms in (1, 5, 32, 33, 64):
        mask = rng.random((4, num_arms)) < 0.4
        want = np.cumsum(mask, axis=-1) - 1
        np.testing.assert_array_equal(np.asarray(maximiser_rank(jnp.asarray(mask))), want)
