"""Agent wrappers: change behaviour by wrapping, not subclassing (filled in by its issue)."""

from simulator.registry import Registry


def register_all(registry: Registry) -> None:
    """Register the wrappers."""
