"""JAX's persistent compilation cache, as the ``driftsim`` command uses it.

Most of a small run is compiling.  ``driftsim run`` keeps every program it compiles in a
per-user folder, ``$XDG_CACHE_HOME/driftsim/jax`` (``~/.cache/driftsim/jax`` when
``XDG_CACHE_HOME`` is unset), and a second run of the same experiment loads them instead
of compiling again.  ``driftsim run --no-cache`` or ``DRIFTSIM_NO_CACHE=1`` turns it off;
``driftsim list`` prints the folder.  Every program is cached, however quickly it compiled
(JAX's default keeps only those that took a second or more, which are few of driftsim's).

Importing driftsim or calling :func:`experiments.run` changes nothing process-wide; a
script or notebook that wants the cache asks for it::

    import experiments
    experiments.enable_compilation_cache()          # the folder above, for this process
    experiments.run("testbed")

A cached program is the very executable a compile would give (JAX keys each entry by the
program, the compile options, the devices and the JAX / jaxlib versions), so a cache hit
gives bit-identical numbers.  An entry written by another JAX version is never looked up.
An entry that cannot be read (truncated, corrupt) is never fatal: JAX compiles the program
again, and here the entry is removed first, so that the fresh executable replaces it; the
run prints one ``driftsim: warning:`` line.  The folder may be deleted at any time.

JAX keys its entries by the lowered program, so a warm run would still trace and lower
every program: driftsim also keeps each program ready to run, keyed by what determines it
before tracing, in the subfolder ``programs`` (:mod:`experiments.program_cache`); a warm
run then neither traces, lowers nor compiles the programs it has run before.

Like JAX's own cache, the folder is trusted: whoever can write to it can make driftsim run
code, so it is created readable by its owner only.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import sys
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

#: Set (to anything but ``0``, ``false``, ``no``, ``off`` or nothing) to turn the cache off.
ENV_VAR = "DRIFTSIM_NO_CACHE"

#: The JAX options :func:`enable_compilation_cache` sets (:func:`enabled` restores them).
SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_raise_persistent_cache_errors",
)

# The warnings JAX gives (and otherwise survives) when an entry cannot be read or written.
_READ_ERROR = re.compile(r"^Error reading persistent compilation cache entry for '([^']+)'")
_WRITE_ERROR = "Error writing persistent compilation cache entry"
_ANY_ERROR = r"Error (reading|writing) persistent compilation cache entry"
_SUFFIX = "-cache"  # JAX's file names: ``<program name>-<hash>-cache`` (+ ``-atime``)
#: The subfolder of driftsim's own program cache (:mod:`experiments.program_cache`).
PROGRAMS = "programs"


def folder() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/driftsim/jax``, or
    ``~/.cache/driftsim/jax`` where ``XDG_CACHE_HOME`` is unset or not an absolute path
    (the XDG rule)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "driftsim" / "jax"


def disabled_by_env() -> bool:
    """Does ``DRIFTSIM_NO_CACHE`` turn the cache off?"""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def describe(path: Path | None = None) -> str:
    """One line for ``driftsim list``: the folder, what it holds, and whether it is on."""
    path = folder() if path is None else Path(path)
    if disabled_by_env():
        state = f"off ({ENV_VAR} is set)"
    else:
        state = f"on for driftsim run; off with --no-cache or {ENV_VAR}=1"
    entries = list(path.glob(f"*{_SUFFIX}")) if path.is_dir() else []
    size = 0
    for entry in entries:
        with contextlib.suppress(OSError):
            size += entry.stat().st_size
    held = f"{len(entries)} programs, {size / 1e6:.1f} MB" if entries else "empty"
    stored = list((path / PROGRAMS).glob("*.program")) if (path / PROGRAMS).is_dir() else []
    if stored:
        with contextlib.suppress(OSError):
            megabytes = sum(entry.stat().st_size for entry in stored) / 1e6
            held += f"; {len(stored)} ready to run in {PROGRAMS}/, {megabytes:.1f} MB"
    return f"{path}  ({held}; {state})"


def _make_folder(path: Path) -> None:
    """Create ``path`` readable by its owner only (its parents as usual)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache in ``path`` for this process.

    ``path`` defaults to :func:`folder`.  Sets the process-wide JAX options
    ``jax_compilation_cache_dir`` (the folder), ``jax_persistent_cache_min_compile_time_secs
    = 0`` (cache every program) and ``jax_raise_persistent_cache_errors = False`` (an
    unreadable entry is compiled again, never an error); programs compiled from now on are
    read from and written to the folder.  driftsim's own programs are kept ready to run in
    its subfolder ``programs`` (:mod:`experiments.program_cache`).  :func:`enabled` undoes
    it on exit.

    Returns:
      The folder.

    Raises:
      OSError: the folder cannot be created.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    from experiments import program_cache

    path = Path(path) if path is not None else folder()
    _make_folder(path)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_raise_persistent_cache_errors", False)
    compilation_cache.reset_cache()  # a folder set earlier in this process is replaced
    try:
        program_cache.set_folder(path / PROGRAMS)
    except OSError:  # JAX's cache alone: every program is traced, none compiled twice
        program_cache.set_folder(None)
    return path


@contextlib.contextmanager
def enabled(path: str | os.PathLike | None = None) -> Iterator[Path | None]:
    """The cache in ``path`` (default :func:`folder`) inside the block, JAX's options as
    they were afterwards; yields the folder, or None where it cannot be created (one
    warning line; the block runs without a cache).

    Inside the block an entry JAX cannot read is removed (then rewritten by the compile
    that replaces it) and JAX's warnings about the cache print one line (the first of each
    kind: unreadable entries, failed writes)."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    from experiments import program_cache

    saved = {name: jax.config.values[name] for name in SETTINGS}
    saved_programs = program_cache.folder()
    try:
        path = enable_compilation_cache(path)
    except OSError as err:
        print(f"driftsim: warning: no compilation cache ({err}); compiling", file=sys.stderr)
        path = None
    if path is None:
        yield None
        return
    try:
        with warnings.catch_warnings():  # restores the filters and showwarning on exit
            # every such warning, not once per message: each unreadable entry is removed
            warnings.filterwarnings("always", message=_ANY_ERROR, category=UserWarning)
            warnings.showwarning = _CacheWarnings(path, warnings.showwarning)
            yield path
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
        program_cache.set_folder(saved_programs)


class _CacheWarnings:
    """``warnings.showwarning`` inside :func:`enabled`: JAX's warning about an unreadable
    entry removes the entry; the first such warning, and the first about a failed write,
    print one line each (later ones nothing); any other warning goes to ``show``."""

    def __init__(self, path: Path, show):
        self.path = path
        self.show = show
        self.warned: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        text = str(message)
        match = _READ_ERROR.match(text)
        if match:
            remove_unreadable(self.path, match.group(1))
            self._once(
                "read",
                f"unreadable entries are removed and compiled again (the first: "
                f"{match.group(1)!r})",
            )
        elif text.startswith(_WRITE_ERROR):
            self._once("write", f"cannot write ({text.split(': ', 1)[-1]}); the run goes on")
        else:
            self.show(message, category, filename, lineno, file, line)

    def _once(self, kind: str, text: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            print(f"driftsim: warning: compilation cache {self.path}: {text}", file=sys.stderr)


def _readable(data: bytes) -> bool:
    """Does a cache entry decompress (JAX writes zlib, or zstandard where installed)?"""
    decompressors = [zlib.decompress]
    with contextlib.suppress(ImportError):
        from compression import zstd  # Python 3.14

        decompressors.append(zstd.decompress)
    with contextlib.suppress(ImportError):
        import zstandard

        decompressors.append(zstandard.ZstdDecompressor().decompress)
    for decompress in decompressors:
        with contextlib.suppress(Exception):
            decompress(data)
            return True
    return False


def remove_unreadable(path: str | os.PathLike, program: str) -> int:
    """Remove the entries of ``program`` (a name such as ``jit_chunk_points``) in ``path``
    that do not decompress -- or, where all do (the executable inside was bad), every entry
    of that name; returns how many were removed.  Errors are ignored: another process may
    be removing or writing the same files."""
    entries = sorted(Path(path).glob(f"{glob.escape(program)}-*{_SUFFIX}"))
    bad = []
    for entry in entries:
        with contextlib.suppress(OSError):
            if not _readable(entry.read_bytes()):
                bad.append(entry)
    removed = 0
    for entry in bad or entries:
        with contextlib.suppress(OSError):
            entry.unlink()
            removed += 1
        with contextlib.suppress(OSError):
            entry.with_name(entry.name[: -len(_SUFFIX)] + "-atime").unlink()
    return removed
