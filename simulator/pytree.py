"""Immutable dataclasses that are JAX pytrees: the states, parameters and carries.

``@pytree.dataclass`` (or subclassing :class:`PyTreeNode`) makes a frozen dataclass whose
every field is a pytree child, registered with :func:`jax.tree_util.register_dataclass`
(children in field order, as attributes in key paths), plus ``x.replace(**changes)``.
This is what ``flax.struct`` does for a class without static fields; driftsim keeps its
own so that a run without a neural agent never imports flax (a fifth of a second at every
start).  A class may appear in a compiled program's arguments, so changing a field's order
changes the flattened order of its leaves, never the numbers.

Example::

    @pytree.dataclass
    class Counts:
        pulls: jax.Array
        rewards: jax.Array

    counts = Counts(jnp.zeros(3), jnp.zeros(3)).replace(pulls=jnp.ones(3))
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, TypeVar

import jax

T = TypeVar("T")


def _replace(self: Any, **changes: Any) -> Any:
    """A copy with ``changes`` to some fields (``dataclasses.replace``)."""
    return dataclasses.replace(self, **changes)


def dataclass(cls: type[T] | None = None, **options: Any) -> Any:
    """A frozen dataclass registered as a pytree whose fields are all children.

    ``options`` go to :func:`dataclasses.dataclass` (``frozen`` defaults to True).
    """
    if cls is None:
        return functools.partial(dataclass, **options)
    if "_driftsim_pytree" in cls.__dict__:  # already one (a subclass re-decorated)
        return cls
    options.setdefault("frozen", True)
    data = dataclasses.dataclass(**options)(cls)
    data.replace = _replace
    data._driftsim_pytree = True
    names = [field.name for field in dataclasses.fields(data)]
    jax.tree_util.register_dataclass(data, data_fields=names, meta_fields=[])
    return data


class PyTreeNode:
    """Base class form of :func:`dataclass`: ``class State(pytree.PyTreeNode): ...``."""

    def __init_subclass__(cls, **options: Any):
        super().__init_subclass__()
        dataclass(cls, **options)

    def replace(self: T, **changes: Any) -> T:  # replaced by the dataclass's own
        """A copy with ``changes`` to some fields."""
        raise NotImplementedError
