"""Arrays already in memory (what ``bcecli.score`` is given) as a source, read like a file.

Each array is one named column, 1-D or 2-D (several outputs); text labels (numpy strings or
objects) become a ``TextColumn`` so that the label mapper reads them as it reads a CSV's words.
Batches are views of the arrays: nothing is copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bcecli.readers.base import Batch, Column, Source, TextColumn

# Rows per batch: views, so their size only bounds the chunks the run cuts from them.
BATCH_ROWS = 1 << 20


class ArraySource(Source):
    """Named arrays of equal length; ``name`` stands for the file in reports and messages."""

    mapped = True  # batches are views of the arrays

    def __init__(self, name: str, columns: dict[str, np.ndarray]) -> None:
        self.name = name
        self._arrays: dict[str, Column] = {c: _column(a) for c, a in columns.items()}
        self._kinds = {c: _kind(a) for c, a in columns.items()}
        self._widths = {c: 1 if a.ndim == 1 else int(a.shape[1]) for c, a in columns.items()}
        self.columns = list(columns)
        self.n_rows = len(next(iter(columns.values())))

    def kind(self, column: str) -> str:
        return self._kinds[column]

    def width(self, column: str) -> int:
        return self._widths[column]

    def type_name(self, column: str) -> str:
        a = self._arrays[column]
        return "text" if isinstance(a, TextColumn) else str(a.dtype)

    def text_values(self, column: str) -> tuple[str, ...] | None:
        import pyarrow.compute as pc

        a = self._arrays[column]
        if not isinstance(a, TextColumn):
            return None
        distinct = pc.unique(a.values[:BATCH_ROWS])
        return tuple(v for v in distinct.to_pylist() if v is not None)

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        import pyarrow.compute as pc

        a = self._arrays[column]
        if not isinstance(a, TextColumn):
            return None
        found = sorted(v for v in pc.unique(a.values).to_pylist() if v)
        return found if len(found) <= limit else None

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        for s in range(0, self.n_rows or 0, BATCH_ROWS):
            yield {c: self._arrays[c][s : s + BATCH_ROWS] for c in columns}


def _kind(a: np.ndarray) -> str:
    if a.dtype.kind == "b":
        return "bool"
    if a.dtype.kind in "fiu":
        return "numeric"
    if a.dtype.kind in "USO" and a.ndim == 1:
        return "string"
    return "other"


def _column(a: np.ndarray) -> Column:
    if a.dtype.kind == "b":
        return a.astype(np.float64)
    if _kind(a) == "string":
        import pyarrow as pa

        values: list[Any] = [None if v is None else str(v) for v in a.tolist()]
        return TextColumn(pa.array(values, type=pa.string()))
    return a
