"""A printable table: a title, rows of dicts (columns in first-seen order) and a note.

``driftsim run`` prints a logged-data experiment's summary with it, and
:func:`experiments.bakeoff.bakeoff_table` returns one.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np


class Table(NamedTuple):
    """``title``, ``rows`` (dicts, for CSV or pandas) and a ``note`` printed under them."""

    title: str
    rows: list[dict[str, Any]]
    note: str = ""

    def format(self) -> str:
        if not self.rows:
            return f"{self.title}\n(no rows)\n{self.note}"
        columns: list[str] = []
        for row in self.rows:
            columns += [c for c in row if c not in columns]
        text = [[cell(row.get(c)) for c in columns] for row in self.rows]
        widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
        lines = [self.title, "  ".join(c.ljust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(t, widths)) for t in text]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def cell(value: Any) -> str:
    """A value as printed: floats to 4 significant digits."""
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)
