"""Plugins: your own modules that register environments, agents or drift processes.

A plugin is any importable module whose import registers something (with
``simulator.register``, ``agents.register``, ``agents.register_wrapper`` or
``simulator.drift.DRIFTS.register``).  driftsim imports plugins before an experiment's
names are checked, from three places:

* an experiment file's top-level ``plugins`` list (kept in ``config.json``, so a rerun of
  a results folder imports them again); a module may also sit next to the file::

      plugins = ["my_package.my_agents"]

* the command line: ``driftsim run --import my_package.my_agents`` (repeatable; also
  ``driftsim list --import ...`` to list what the module registers).  Under ``driftsim``
  a module may also sit in the current directory, as under ``python -m experiments``;

* installed packages, through the ``driftsim.plugins`` entry-point group, loaded once per
  process.  A package declares its module in its ``pyproject.toml``::

      [project.entry-points."driftsim.plugins"]
      my_agents = "my_package.my_agents"

A module that cannot be imported is a one-line :class:`ConfigError` naming it:
``plugins: cannot import 'x' (No module named 'x')``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Any

from simulator.params import ConfigError

#: The entry-point group installed packages declare their plugin modules in.
ENTRY_POINT_GROUP = "driftsim.plugins"

_discovered = False


def import_plugins(
    modules: Any, where: str = "plugins", folder: str | Path | None = None
) -> list[str]:
    """Import each named module (in order) and return the names.

    Args:
      modules: a list of dotted module names (``["my_package.my_agents"]``).
      where: how errors name the source (``"plugins"``, ``"--import"``).
      folder: where else to look (the experiment file's folder), appended to
        ``sys.path`` when there are modules, so installed modules of the same name come
        first.

    Raises:
      ConfigError: ``modules`` is not a list of module names, or a module cannot be
        imported (not found, or its import raised), in one line naming the module.
    """
    if not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules):
        raise ConfigError(
            f"{where} = {modules!r}: must be a list of module names, "
            'e.g. plugins = ["my_package.my_agents"]'
        )
    if modules and folder is not None and str(Path(folder).resolve()) not in sys.path:
        sys.path.append(str(Path(folder).resolve()))
    for module in modules:
        _import(module, where)
    return list(modules)


def _import(module: str, where: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"{where}: cannot import {module!r} ({err})") from None
    except Exception as err:  # the plugin's own code failed: say which and how
        raise ConfigError(
            f"{where}: importing {module!r} failed: {type(err).__name__}: {err}"
        ) from None


def discover_entry_points() -> list[str]:
    """Load every entry point of the ``driftsim.plugins`` group (the first call only).

    Returns the names of the entry points loaded by this call (empty after the first).

    Raises:
      ConfigError: an entry point cannot be loaded, naming it and its value.
    """
    global _discovered
    if _discovered:
        return []
    loaded = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as err:
            raise ConfigError(
                f"{ENTRY_POINT_GROUP}: entry point {entry_point.name!r} = "
                f"{entry_point.value!r} failed: {type(err).__name__}: {err}"
            ) from None
        loaded.append(entry_point.name)
    _discovered = True
    return loaded
