"""Placeholder package, filled in by its issue's work (registers nothing yet)."""

from simulator.registry import Registry


def register_all(registry: Registry) -> None:
    """Register this package's agents."""
