"""Compiled programs kept across runs: a warm run neither traces, lowers nor compiles.

JAX's persistent compilation cache (:mod:`experiments.compilation_cache`) keys an
executable by the lowered program, so a warm run still traces and lowers every program
before it can look one up: about 1.5 s of a 4.5 s warm ``driftsim run testbed --seeds 10
--steps 100``.  This cache keys the executable by what determines the program *before*
tracing, and stores it serialized (``jax.experimental.serialize_executable``):

* the source of driftsim (every ``.py`` file of ``simulator``, ``agents`` and
  ``experiments``), Python's version and those of jax, jaxlib, numpy, optax, flax, chex
  and ml_dtypes;
* JAX's configuration (``jax.config.values``, the cache's own options left out),
  ``XLA_FLAGS``, the devices, the number of processes and the CPU;
* the function being compiled, walked as data (:func:`fingerprint`): its code, its
  defaults and the values it closes over -- the environment and the agent attribute by
  attribute, their functions by code and closure, arrays by content;
* the shapes, dtypes, weak types and shardings of the arguments, their tree structure and
  the static arguments.

The walk is conservative: an object it cannot describe exactly -- a class, function or
object of a module outside driftsim and the libraries above (a plugin's environment, a
function of a notebook), or an object of an unknown kind -- makes the program uncached: it
is traced and compiled as usual (where the persistent cache may still hold it).  A module
global that code reads is covered by the source (driftsim's) or the version (the
libraries'); a global changed at run time (a monkeypatch) is not, so the cache is off in
:func:`experiments.run` unless switched on (:func:`experiments.enable_compilation_cache`,
which ``driftsim run`` calls; ``--no-cache`` or ``DRIFTSIM_NO_CACHE=1`` turns both off).
With several processes (:mod:`experiments.distributed`) it is off too: every host compiles,
so that their executables stay in step.

A hit runs the very executable a compile would give, so the numbers are bit-identical.  An
entry that cannot be read or loaded (truncated, corrupt, from an incompatible jaxlib) is
removed and the program compiled again; it never fails a run.  Entries live in
``<compilation cache folder>/programs``: ``KEY.program`` (the executable) and ``KEY.json``
(a shared-leaf mask found by tracing).  Results and checkpoints load without pickle; a
program entry cannot, because JAX's executable serialization
(``jax.experimental.serialize_executable``) is itself a pickle stream, kept here with the
call's tree structures.  So, like JAX's own cache, the folder is trusted: it is created
readable by its owner only, and whoever can write to it can make driftsim run code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import hashlib
import importlib.util
import io
import json
import os
import pickle
import platform
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from experiments import atomic

#: Bump when the layout of an entry or of the key changes.
FORMAT = 1
#: driftsim's own packages: their source is part of every key.
PACKAGES = ("simulator", "agents", "experiments")
#: Modules whose classes and functions may appear in a program: driftsim's and libraries
#: whose versions are part of every key.
TRUSTED = PACKAGES + (
    "jax", "jaxlib", "numpy", "optax", "flax", "chex", "ml_dtypes",
    "builtins", "math", "operator", "functools", "typing", "collections", "enum",
    "dataclasses", "abc", "types",
)  # fmt: skip
_LIBRARIES = ("jax", "jaxlib", "numpy", "optax", "flax", "chex", "ml_dtypes")
#: JAX options that do not change a program (the caches' own).
_IGNORED_OPTIONS = ("cache", "log", "explain", "pprint", "traceback", "debug_log")

_folder: Path | None = None
#: ``{key: Compiled}`` of this process: a second group with the same program, a second
#: chunk, or a second run in a notebook never reads the disk again (a key names the
#: program, not the folder it came from).
_loaded: dict[str, Any] = {}
#: What happened in this process: ``hits`` (from disk), ``misses`` (compiled and written),
#: ``uncached`` (a walk that could not describe the program).
stats = {"hits": 0, "misses": 0, "uncached": 0}


class Unknown(Exception):
    """An object the walk cannot describe exactly: the program is left uncached."""


def folder() -> Path | None:
    """The folder in use, or None when the cache is off."""
    return _folder


def set_folder(path: str | os.PathLike | None) -> Path | None:
    """Use ``path`` (created readable by its owner only) or, with None, turn the cache
    off; returns the folder that was in use."""
    global _folder
    previous = _folder
    if path is not None:
        path = Path(path)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _folder = path
    return previous


def forget() -> None:
    """Drop the programs this process has loaded: the next call reads the folder again."""
    _loaded.clear()


@contextlib.contextmanager
def using(path: str | os.PathLike | None) -> Iterator[Path | None]:
    """The cache in ``path`` inside the block, the previous folder afterwards."""
    previous = set_folder(path)
    try:
        yield _folder
    finally:
        set_folder(previous)


# ---------------------------------------------------------------------------------------
# What every key holds
# ---------------------------------------------------------------------------------------


@functools.cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        for root in sorted(spec.submodule_search_locations or []):
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> list[str]:
    from importlib import metadata

    out = []
    for name in _LIBRARIES:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=none")
    return out


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    return platform.processor()


@functools.cache
def _environment_digest() -> str:
    """Source, versions, CPU: fixed for the life of a process."""
    parts = [str(FORMAT), sys.version, _source_digest(), *_versions(), platform.machine(), _cpu()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _runtime_parts() -> list[str]:
    """What may change within a process: JAX's options, XLA_FLAGS, the devices."""
    options = [
        f"{name}={value!r}"
        for name, value in sorted(jax.config.values.items())
        if not any(word in name for word in _IGNORED_OPTIONS)
    ]
    devices = [f"{d.platform}:{d.device_kind}:{d.id}" for d in jax.devices()]
    return [*options, os.environ.get("XLA_FLAGS", ""), *devices, str(jax.process_count())]


# ---------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------


def _trusted(module: str | None) -> bool:
    root = (module or "").split(".", 1)[0]
    return root in TRUSTED


def _code(code: types.CodeType, write: Callable[[Any], None]) -> None:
    write(("code", code.co_name, code.co_firstlineno, code.co_code, code.co_names))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code(const, write)
        elif isinstance(const, frozenset):  # ``x in {"a", "b"}``: its order is per process
            write(("const", "frozenset", sorted(repr(item) for item in const)))
        else:
            write(("const", type(const).__name__, repr(const)))


def fingerprint(value: Any) -> str:
    """A digest of ``value`` as data: equal digests mean the same program wherever the
    value is closed over.  Raises :class:`Unknown` for what it cannot describe."""
    digest = hashlib.sha256()
    seen: dict[int, int] = {}
    keep: list[Any] = []  # ids stay unique while the walk holds the objects

    def write(item: Any) -> None:
        digest.update(repr(item).encode())
        digest.update(b"\0")

    def walk(x: Any) -> None:
        if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
            write((type(x).__name__, x))
            return
        if id(x) in seen:
            write(("ref", seen[id(x)]))
            return
        seen[id(x)] = len(seen)
        keep.append(x)
        if isinstance(x, (np.ndarray, np.generic)):
            array = np.ascontiguousarray(x)
            write(("ndarray", array.dtype.str, array.shape))
            digest.update(array.tobytes())
        elif isinstance(x, jax.Array):
            if isinstance(x, jax.core.Tracer):
                raise Unknown("a traced value")
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                write(("key", str(x.dtype)))
                x = jax.random.key_data(x)
            array = np.asarray(x)
            write(("array", array.dtype.str, array.shape))
            digest.update(np.ascontiguousarray(array).tobytes())
        elif isinstance(x, (tuple, list)):
            write((type(x).__name__, len(x)))
            if type(x) not in (tuple, list):  # a NamedTuple
                _class(type(x))
            for item in x:
                walk(item)
        elif isinstance(x, dict):
            write(("dict", len(x)))
            if type(x) is not dict:
                _class(type(x))
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, (set, frozenset)):
            write((type(x).__name__, sorted(fingerprint(item) for item in x)))
        elif isinstance(x, type):
            _class(x)
        elif isinstance(x, types.ModuleType):
            if not _trusted(x.__name__):
                raise Unknown(f"module {x.__name__}")
            write(("module", x.__name__))
        elif isinstance(x, types.FunctionType):
            if not _trusted(x.__module__):
                raise Unknown(f"function {x.__module__}.{x.__qualname__}")
            write(("function", x.__module__, x.__qualname__))
            _code(x.__code__, write)
            walk(x.__defaults__)
            walk(x.__kwdefaults__)
            walk(tuple(cell.cell_contents for cell in x.__closure__ or ()))
        elif isinstance(x, (types.BuiltinFunctionType, np.ufunc)):
            module = getattr(x, "__module__", None) or "builtins"
            if not _trusted(module):
                raise Unknown(f"builtin {module}.{x.__name__}")
            write(("builtin", module, getattr(x, "__qualname__", x.__name__)))
            walk(getattr(x, "__self__", None) if not isinstance(x, np.ufunc) else None)
        elif isinstance(x, types.MethodType):
            write(("method",))
            walk(x.__func__)
            walk(x.__self__)
        elif isinstance(x, functools.partial):
            write(("partial",))
            walk(x.func)
            walk(x.args)
            walk(x.keywords)
        elif isinstance(x, enum.Enum):
            _class(type(x))
            write(("enum", x.name))
        elif isinstance(x, jax.tree_util.PyTreeDef):
            write(("treedef", str(x)))
        elif isinstance(x, jax.ShapeDtypeStruct):
            write(("shape", x.shape, str(x.dtype), x.weak_type, str(x.sharding)))
        elif dataclasses.is_dataclass(x):
            _class(type(x))
            # every attribute, not only the fields: what __post_init__ derives (a drift
            # process, arrays read from a data file) is part of the program too
            state = getattr(x, "__dict__", None)
            names = sorted(state) if state is not None else []
            names += [f.name for f in dataclasses.fields(x) if f.name not in names]
            for name in names:
                write(("attribute", name))
                walk(getattr(x, name))
        elif isinstance(x, jax.custom_jvp | jax.custom_vjp):
            write(("custom", type(x).__name__))
            walk(x.fun)
            walk(getattr(x, "jvp", None) or getattr(x, "fwd", None))
            walk(getattr(x, "bwd", None))
            walk(getattr(x, "nondiff_argnums", ()))
        else:
            raise Unknown(f"{type(x).__module__}.{type(x).__qualname__}")

    def _class(cls: type) -> None:
        if not _trusted(cls.__module__):
            raise Unknown(f"class {cls.__module__}.{cls.__qualname__}")
        write(("class", cls.__module__, cls.__qualname__))

    walk(value)
    return digest.hexdigest()


def _arguments(args: tuple, static: tuple[int, ...]) -> list[str]:
    """Shapes, dtypes, weak types and shardings of the arguments, their tree structure,
    and the static arguments' values."""
    dynamic = [a for i, a in enumerate(args) if i not in static]
    leaves, treedef = jax.tree.flatten(dynamic)
    parts = [str(treedef)]
    for leaf in leaves:
        parts.append(str(jax.typeof(leaf)))
        sharding = getattr(leaf, "sharding", None)
        if sharding is not None and not isinstance(sharding, jax.sharding.SingleDeviceSharding):
            parts.append(str(sharding))
    parts.extend(f"static {i}={args[i]!r}" for i in static)
    return parts


def key(own: str, args: tuple = (), static: tuple[int, ...] = ()) -> str:
    """The cache key of a program whose function has the fingerprint ``own``, called on
    ``args`` (``static``: the positions of its static arguments)."""
    parts = [_environment_digest(), own, *_runtime_parts(), *_arguments(args, static)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _fingerprint_or_none(function: Any) -> str | None:
    try:
        return fingerprint(function)
    except Unknown:
        return None


# ---------------------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------------------


def _path(entry: str, kind: str) -> Path:
    return _folder / f"{entry}.{kind}"


def _read(entry: str) -> Any:
    """The unpickled program entry, or None where it is missing or unreadable (then
    removed)."""
    path = _path(entry, "program")
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # noqa: BLE001 - a truncated or corrupt entry is rebuilt
        with contextlib.suppress(OSError):
            path.unlink()
        return None


class _Pickler(pickle.Pickler):
    """Pickles a class made at run time (the runner's extended log types) as the call
    that makes it: its ``__driftsim_reduce__ = (factory, args)``."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) and "__driftsim_reduce__" in obj.__dict__:
            return obj.__driftsim_reduce__
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _write(entry: str, value: Any) -> None:
    try:
        data = _dumps(value)
    except Exception:  # noqa: BLE001 - what cannot be stored is simply not kept
        return
    with contextlib.suppress(OSError):  # a full disk or a read-only folder: run on
        atomic.write_bytes(_path(entry, "program"), data)


def cached_flags(
    function: Any, compute: Callable[[], tuple[bool, ...]], args: tuple = ()
) -> tuple[bool, ...]:
    """``compute()``, a tuple of flags found by tracing (a mask of carry leaves), kept as
    JSON under the key of ``function`` (any value :func:`fingerprint` can walk: a function
    and what else the flags depend on) on ``args``."""
    active = _folder is not None and jax.process_count() == 1
    own = _fingerprint_or_none(function) if active else None
    if own is None:
        return compute()
    entry = key(own, args)
    if entry in _loaded:
        return _loaded[entry]
    path = _path(entry, "json")
    flags = None
    with contextlib.suppress(OSError, ValueError):
        stored = json.loads(path.read_bytes())
        if isinstance(stored, list) and all(isinstance(flag, bool) for flag in stored):
            flags = tuple(stored)
    if flags is None:  # missing, unreadable or not a list of flags: traced again
        flags = tuple(bool(flag) for flag in compute())
        with contextlib.suppress(OSError):
            atomic.write_bytes(path, json.dumps(list(flags)).encode())
    _loaded[entry] = flags
    return flags


class Program:
    """``jax.jit(function, static_argnums, donate_argnums)`` that, with the cache on,
    runs a stored executable when there is one.

    ``identity`` (default ``function``) is what :func:`fingerprint` walks: the function,
    or the function and whatever wraps it (``(f, "vmap over points")``).  Called with
    tracers (inside ``jax.eval_shape``), with the cache off, or for a function the walk
    cannot describe, it is the jitted function itself.
    """

    def __init__(
        self,
        function: Callable,
        static_argnums: tuple[int, ...] = (),
        donate_argnums: tuple[int, ...] = (),
        identity: Any = None,
    ):
        self.jitted = jax.jit(
            function, static_argnums=static_argnums, donate_argnums=donate_argnums
        )
        self.static = tuple(static_argnums)
        self.donate = tuple(donate_argnums)
        self.identity = function if identity is None else identity
        self._own: str | None = None
        self._walked = False

    def own(self) -> str | None:
        """The fingerprint of the program (once per object), or None when unknown."""
        if not self._walked:
            walked = _fingerprint_or_none(self.identity)
            if walked is not None:
                options = f"static {self.static} donate {self.donate}"
                walked = hashlib.sha256(f"{walked} {options}".encode()).hexdigest()
            self._own, self._walked = walked, True
        return self._own

    def __call__(self, *args):
        if (
            _folder is None
            or jax.process_count() > 1  # each host compiles: executables stay in step
            or any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(args))
        ):
            return self.jitted(*args)
        own = self.own()
        if own is None:
            stats["uncached"] += 1
            return self.jitted(*args)
        entry = key(own, args, self.static)
        dynamic = tuple(a for i, a in enumerate(args) if i not in self.static)
        compiled = _loaded.get(entry) or _load(entry)
        if compiled is None:
            compiled = _compile_afresh(self.jitted.lower(*args))
            _store(entry, compiled)
        _loaded[entry] = compiled
        return compiled(*dynamic)


def _compile_afresh(lowered: Any) -> Any:
    """``lowered.compile()`` past JAX's persistent cache: an executable JAX loaded from its
    cache cannot be serialized again (XLA:CPU keeps no object code for it, and the stored
    entry would fail with ``Function ... not found``), so what this cache stores is always
    compiled here.  JAX's option is restored afterwards."""
    from jax.experimental.compilation_cache import compilation_cache

    before = jax.config.values["jax_enable_compilation_cache"]
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    try:
        return lowered.compile()
    finally:
        jax.config.update("jax_enable_compilation_cache", before)
        compilation_cache.reset_cache()


def _serialize(compiled: Any) -> tuple:
    """``(payload, in_tree, out_tree, constants)`` of a compiled program.

    ``jax.experimental.serialize_executable.serialize`` refuses a program with hoisted
    constants (``const_args``: arrays a program closes over, passed to the executable as
    arguments; its TODO), so this is its body with the constants kept as numpy arrays
    beside the executable.  They are values the key already holds (:func:`fingerprint`
    walks every array a program closes over)."""
    from jax.experimental import serialize_executable

    unloaded = compiled._executable._unloaded_executable
    if unloaded is None or getattr(getattr(unloaded, "mut", None), "in_mut", None):
        raise ValueError("this executable cannot be serialized")
    constants = [np.asarray(c) for c in compiled._params.const_args]
    args_info, in_tree = jax.tree.flatten(compiled.args_info)
    buffer = io.BytesIO()
    serialize_executable._JaxPjrtPickler(buffer).dump((unloaded, args_info, compiled._no_kwargs))
    return buffer.getvalue(), in_tree, compiled.out_tree, constants


def _deserialize(payload: bytes, in_tree: Any, out_tree: Any, constants: list) -> Any:
    """The :class:`jax.stages.Compiled` of :func:`_serialize`'s tuple, on this process's
    devices (``serialize_executable.deserialize_and_load`` plus the constants)."""
    from jax.experimental import serialize_executable

    compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    if not constants:
        return compiled
    return jax.stages.Compiled(
        compiled._executable,
        [jax.numpy.asarray(c) for c in constants],
        compiled.args_info,
        out_tree,
        no_kwargs=compiled._no_kwargs,
    )


def _load(entry: str) -> Any:
    stored = _read(entry)
    if stored is None:
        return None
    try:
        compiled = _deserialize(*stored)
    except Exception:  # noqa: BLE001 - an entry this jaxlib cannot load: compiled again
        with contextlib.suppress(OSError):
            _path(entry, "program").unlink()
        return None
    stats["hits"] += 1
    return compiled


def _store(entry: str, compiled: Any) -> None:
    stats["misses"] += 1
    try:
        stored = _serialize(compiled)
    except Exception:  # noqa: BLE001 - a program that cannot be serialized runs anyway
        return
    _write(entry, stored)
