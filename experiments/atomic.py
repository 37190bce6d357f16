"""The one atomic file writer: results, figures, checkpoints and bench reports.

A file is written to a temporary name in its own folder, flushed to disk, then renamed
into place (``os.replace``), so an interrupted run never leaves a half-written file that
looks complete; on an error the temporary file is removed and nothing else changes.

The temporary file is created with mode ``0o666``, which the kernel masks with the
process's umask: files get the usual ``0666 & ~umask`` permissions, as ``open`` would give
them, without reading or changing the umask (``tempfile.mkstemp`` would make them
owner-only).

Example::

    write_bytes(out / "summary.csv", text.encode())
    write_with(out / "regret.png", lambda f: fig.savefig(f, format="png"))
"""

from __future__ import annotations

import contextlib
import os
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np


def write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a fresh binary file and move it to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_with(path, lambda handle: handle.write(data))


def write_npz(
    path: str | os.PathLike, arrays: dict[str, np.ndarray], *, compress: bool = True
) -> Path:
    """Write ``arrays`` as an ``.npz`` (``np.load`` reads it without pickle) atomically.

    ``compress`` (the default) deflates every array, losslessly (zlib level 1): the 96 MB
    ``metrics.npz`` of a 12-point, 50-seed, 10^4-step sweep becomes 25 MB -- mostly the
    per-step rewards, whose float32 mantissas hardly compress -- written in about 0.9 s
    instead of 0.15 s and read in 0.2 s instead of 0.05 s (level 6 saves 4% more for 1.4x
    the time).  ``compress=False`` stores them as ``np.savez`` does, for files written
    often and read rarely (checkpoints, after every chunk).  ``np.load`` reads either
    kind.  The archive is streamed into the file, without a second copy in memory.
    """
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    level = 1 if compress else None

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w", compression, allowZip64=True, compresslevel=level) as zf:
            for name, value in arrays.items():  # as np.savez names and writes them
                with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

    return write_with(path, write)
