"""Shared agent pieces: tie-breaking argmax."""

import jax
import jax.numpy as jnp
import numpy as np

from agents.common import random_argmax


def test_random_argmax_is_uniform_over_ties_and_never_picks_a_non_maximum():
    values = jnp.array([0.3, 1.0, -2.0, 1.0, 1.0, 0.9])
    keys = jax.random.split(jax.random.key(0), 6000)
    picks = np.asarray(jax.jit(jax.vmap(random_argmax, in_axes=(0, None)))(keys, values))
    counts = np.bincount(picks, minlength=6)
    assert counts[[0, 2, 5]].sum() == 0
    # Each of the three tied maxima: 2000 expected, binomial sd ~ 36.5; 4 sd tolerance.
    np.testing.assert_allclose(counts[[1, 3, 4]], 2000, atol=150)
    assert int(random_argmax(jax.random.key(1), jnp.array([jnp.inf, 5.0, jnp.inf]))) in (0, 2)
