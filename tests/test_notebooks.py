"""The notebooks in notebooks/: stored executed, with their figures, and still executing.

Each notebook is kept in the repository with its outputs (small sizes, PNG figures), so it
reads on GitHub.  Two tests per notebook (and one of the display hook):

* ``test_stored_notebook`` (no kernel, fast): every code cell was executed, in order, with
  no error; every cell that draws (it calls ``plots.``, ``figures.`` or ``plt.``) holds an
  ``image/png`` output; no volatile metadata (execution timestamps); a bounded file size.
* ``test_notebook_executes``: the notebook runs from top to bottom in a fresh kernel
  (``MPLBACKEND=Agg``, no display, as in CI), with no error, every drawing cell produces an
  image, and the same cells hold the same number of images as the stored copy (so a
  figure that stops displaying, or a stored copy that falls behind, fails).

After editing a notebook, store it executed again (run from the repository root)::

    .venv/bin/python tests/test_notebooks.py                 # every notebook
    .venv/bin/python tests/test_notebooks.py drift neural    # some

``DRIFTSIM_NOTEBOOK_RUNS`` (set by the test, not by the regeneration) shrinks the
notebooks that read it (``reproduce_sutton_barto``: 200 runs instead of 2000).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: A cell that draws: it calls the figure modules (or pyplot).
DRAWS = re.compile(r"\b(?:plots|figures|plt)\.\w+")
#: Largest stored notebook (bytes): small PNGs at modest resolution.
MAX_BYTES = 400_000
#: Runs of the notebooks that read it, in the test (the stored copies use their default).
TEST_RUNS = "200"


def _code(source: str) -> str:
    """``source`` without comments (a comment naming ``plots.`` does not draw)."""
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def drawing_cells(notebook) -> list[int]:
    """Indices of the code cells that draw a figure."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and DRAWS.search(_code(cell.source))
    ]


def image_counts(notebook) -> dict[int, int]:
    """Code cell index -> number of ``image/png`` outputs (cells with at least one)."""
    counts = {}
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        n = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if n:
            counts[i] = n
    return counts


def errors(notebook) -> list[str]:
    """The error outputs (``ename: evalue``) of the notebook's cells."""
    return [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]


def missing_images(notebook) -> list[str]:
    """Drawing cells without an image, each named by its first line."""
    counts = image_counts(notebook)
    return [
        f"cell {i}: {notebook.cells[i].source.splitlines()[0]!r}"
        for i in drawing_cells(notebook)
        if i not in counts
    ]


def execute(notebook, cwd: str, timeout: int = 600):
    """Run ``notebook`` in place in a fresh ``python3`` kernel started in ``cwd``."""
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": cwd}},
    )
    client.execute()
    return notebook


def strip_volatile(notebook):
    """Drop what changes between executions without changing the content: timings,
    the kernel's Python version."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
    info = notebook.metadata.get("language_info")
    if info:
        notebook.metadata["language_info"] = {
            k: info[k] for k in ("name", "pygments_lexer") if k in info
        }
    return notebook


def test_figure_displays_as_png():
    """A figure of :mod:`experiments.plots` gives IPython a PNG with no inline backend."""
    import numpy as np
    from IPython.core.formatters import DisplayFormatter

    from experiments import plots

    fig, _ = plots.plot_regret(np.arange(1, 11), {"a": np.cumsum(np.ones((2, 10)), -1)})
    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"].startswith(b"\x89PNG")
    assert data["image/png"] == plots.figure_png(fig)  # the same bytes every time


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_notebook(path):
    notebook = nbformat.read(path, as_version=4)
    stale = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None
    ]
    assert not stale, f"{path.name}: cells {stale} not executed; regenerate: {__doc__}"
    executed = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    executed = [n for n in executed if n is not None]
    assert executed == list(range(1, len(executed) + 1)), f"{path.name}: not run in order"
    assert not errors(notebook)
    missing = missing_images(notebook)
    assert not missing, f"{path.name}: drawing cells stored without an image: {missing}"
    timed = [i for i, c in enumerate(notebook.cells) if "execution" in c.metadata]
    assert not timed, f"{path.name}: cells {timed} store execution timestamps"
    assert path.stat().st_size <= MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # no inline backend: figures display by _repr_png_
    monkeypatch.setenv("DRIFTSIM_NOTEBOOK_RUNS", TEST_RUNS)
    stored = nbformat.read(path, as_version=4)
    notebook = execute(nbformat.read(path, as_version=4), str(tmp_path))
    assert not errors(notebook)
    missing = missing_images(notebook)
    assert not missing, f"{path.name}: drawing cells that displayed no image: {missing}"
    assert image_counts(notebook) == image_counts(stored), (
        f"{path.name}: images per cell differ from the stored copy; regenerate: {__doc__}"
    )


def regenerate(paths) -> None:
    """Execute each notebook at its stored sizes and write it back with its outputs."""
    os.environ["MPLBACKEND"] = "Agg"
    os.environ.pop("DRIFTSIM_NOTEBOOK_RUNS", None)
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        with tempfile.TemporaryDirectory() as cwd:
            execute(notebook, cwd)
        strip_volatile(notebook)
        problems = errors(notebook) + missing_images(notebook)
        nbformat.write(notebook, path)
        seconds = time.perf_counter() - start
        size = path.stat().st_size
        print(f"{path.name}: {seconds:.0f} s, {size / 1000:.0f} kB", *problems, sep="\n  ")


if __name__ == "__main__":
    names = sys.argv[1:]
    chosen = [p for p in NOTEBOOKS if not names or p.stem in names or p.name in names]
    if names and len(chosen) != len(names):
        sys.exit(f"unknown notebook among {names}; known: {[p.stem for p in NOTEBOOKS]}")
    regenerate(chosen)
