"""A fixed-size replay buffer (ring buffer) that lives in an agent's scan carry.

The buffer holds the last ``capacity`` items of any pytree record (e.g. the network input of
the chosen arm, the action and the reward); its shapes are static, so the agent state is a
stable ``lax.scan`` carry and its memory does not grow with the horizon.  Item ``n`` (0-based,
in order of arrival) is written at slot ``n mod capacity``::

    slot_t  = count mod C
    data[slot_t] <- item_t,   count <- count + 1,   size = min(count, C)

so once full the oldest item is overwritten first.  Minibatches are drawn uniformly **with
replacement** from the filled slots (as in Riquelme, Tucker & Snoek 2018); before anything
was added, :func:`sample` returns a batch whose ``valid`` mask is all zero.

``count`` is created independently of the key, so when :func:`init` runs inside ``vmap``
(e.g. :func:`experiments.runner.make_run` under ``vmap`` over seeds) the write position stays
unbatched and :func:`add` is a ``dynamic_update_slice`` rather than a scatter.

Example::

    buffer = init(Sample(inputs=jnp.zeros(3), action=0, reward=0.0), capacity=512)
    buffer = add(buffer, Sample(inputs=x, action=a, reward=r))
    batch, valid = sample(key, buffer, batch_size=32)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from simulator import pytree

Array = jax.Array


class Replay(pytree.PyTreeNode):
    """A ring buffer of records.

    Attributes:
      data: the records, a pytree whose leaves have a leading ``(capacity,)`` axis.
      count: ``()`` int32, the number of records added so far (not capped).
    """

    data: Any
    count: Array

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[0]


def init(example: Any, capacity: int) -> Replay:
    """An empty buffer for records shaped like ``example`` (a pytree of arrays or scalars).

    Leaves keep ``example``'s dtypes (Python ints become int32, floats float32).
    """
    if not (isinstance(capacity, int) and capacity >= 1):
        raise ValueError(f"capacity = {capacity!r}: must be an integer >= 1")

    def empty(leaf):
        leaf = jnp.asarray(leaf)
        if leaf.dtype == jnp.int64:
            leaf = leaf.astype(jnp.int32)
        elif leaf.dtype == jnp.float64:
            leaf = leaf.astype(jnp.float32)
        return jnp.zeros((capacity,) + leaf.shape, leaf.dtype)

    return Replay(data=jax.tree.map(empty, example), count=jnp.zeros((), jnp.int32))


def size(buffer: Replay) -> Array:
    """``()`` int32 number of filled slots, ``min(count, capacity)``."""
    return jnp.minimum(buffer.count, buffer.capacity)


def add(buffer: Replay, item: Any) -> Replay:
    """Write ``item`` at slot ``count mod capacity`` (overwriting the oldest when full)."""
    slot = jnp.mod(buffer.count, buffer.capacity)

    def write(column, value):
        value = jnp.asarray(value, column.dtype)
        return jax.lax.dynamic_update_index_in_dim(column, value, slot, axis=0)

    return Replay(data=jax.tree.map(write, buffer.data, item), count=buffer.count + 1)


def valid_mask(buffer: Replay) -> Array:
    """``(capacity,)`` float32: 1 on filled slots, 0 on empty ones."""
    return (jnp.arange(buffer.capacity) < buffer.count).astype(jnp.float32)


def sample(key: Array, buffer: Replay, batch_size: int) -> tuple[Any, Array]:
    """A minibatch of ``batch_size`` records drawn uniformly with replacement.

    Returns:
      ``(batch, valid)``: the records (leading axis ``batch_size``) and a ``(batch_size,)``
      float32 mask, all ones once anything was added and all zeros before.
    """
    filled = size(buffer)
    index = jax.random.randint(key, (batch_size,), 0, jnp.maximum(filled, 1), dtype=jnp.int32)
    batch = jax.tree.map(lambda column: column[index], buffer.data)
    valid = jnp.broadcast_to((filled > 0).astype(jnp.float32), (batch_size,))
    return batch, valid


def latest(buffer: Replay) -> Any:
    """The most recently added record (slot ``(count - 1) mod capacity``)."""
    slot = jnp.mod(buffer.count - 1, buffer.capacity)
    return jax.tree.map(lambda column: column[slot], buffer.data)
