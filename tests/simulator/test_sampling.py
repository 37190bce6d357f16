"""Sampling helpers: split_keys gives the bits of jax.random.split."""

import jax
import numpy as np
import pytest

from simulator.sampling import split_keys


def _bits(key):
    return np.asarray(
        jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    )


@pytest.mark.parametrize(
    "make_key",
    [
        lambda seed: jax.random.key(seed),
        lambda seed: jax.random.PRNGKey(seed),  # a raw uint32 key
        lambda seed: jax.random.key(seed, impl="rbg"),  # not Threefry: split itself
    ],
)
@pytest.mark.parametrize("num", [1, 2, 5])
def test_split_keys_are_the_keys_of_split(make_key, num):
    key = jax.random.fold_in(make_key(3), 12345)
    got = split_keys(key, num)
    want = jax.random.split(key, num)
    assert len(got) == num
    for i in range(num):
        np.testing.assert_array_equal(_bits(got[i]), _bits(want[i]))
    # and under jit, where the fold-ins are traced
    traced = jax.jit(lambda k: split_keys(k, num))(key)
    for i in range(num):
        np.testing.assert_array_equal(_bits(traced[i]), _bits(want[i]))


def test_split_keys_falls_back_to_split_without_partitionable_threefry():
    key = jax.random.key(7)
    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", False)
    try:
        want = jax.random.split(key, 3)
        got = split_keys(key, 3)
        for i in range(3):
            np.testing.assert_array_equal(_bits(got[i]), _bits(want[i]))
    finally:
        jax.config.update("jax_threefry_partitionable", previous)
