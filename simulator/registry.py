"""Name → factory registries, for environments and for agents.

User code registers its own without touching the package::

    import simulator

    @simulator.register("my_env")
    @dataclasses.dataclass(frozen=True)
    class MyEnv(simulator.Environment):
        ...

    env = simulator.make("my_env", num_arms=5)

Names are snake_case.  ``make`` checks the static keyword arguments against the factory's
signature and raises :class:`ConfigError` naming the allowed ones, before any compilation.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from simulator.params import ConfigError

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class Registry:
    """A named collection of factories (``kind`` is "environment" or "agent")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., Any] | None = None,
        *,
        replace: bool = False,
        **meta: Any,
    ):
        """Register ``factory`` under ``name``; usable as a decorator when ``factory`` is omitted.

        ``meta`` is free-form information about the entry; agents give ``example_env``, the
        name (or ``(name, static_fields)``) of an environment they fit, used by
        ``driftsim list`` and the conformance tests.
        """
        if not _SNAKE_CASE.match(name):
            raise ConfigError(f"{self.kind} name {name!r} must be snake_case")

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._factories and not replace and self._factories[name] is not fn:
                raise ConfigError(f"{self.kind} {name!r} is already registered (pass replace=True)")
            self._factories[name] = fn
            self._meta[name] = dict(meta)
            return fn

        return add if factory is None else add(factory)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def factory(self, name: str) -> Callable[..., Any]:
        if name not in self._factories:
            raise ConfigError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}")
        return self._factories[name]

    def meta(self, name: str) -> dict[str, Any]:
        """The information given at registration (empty if none)."""
        self.factory(name)
        return dict(self._meta.get(name, {}))

    def static_fields(self, name: str) -> dict[str, Any]:
        """The factory's keyword arguments and their defaults (``inspect.Parameter.empty``
        where required)."""
        signature = inspect.signature(self.factory(name))
        return {
            p.name: p.default
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def make(self, name: str, **static: Any) -> Any:
        """Build the named object from its static fields."""
        factory = self.factory(name)
        allowed = self.static_fields(name)
        unknown = sorted(set(static) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{self.kind} {name!r} has no static field {unknown[0]!r}; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )
        try:
            return factory(**static)
        except TypeError as err:  # wrong types caught here rather than at trace time
            raise ConfigError(f"{self.kind} {name!r}: {err}") from None
