"""The per-sample losses of ``--reduction none``, kept in row order until the report is written.

They are spooled as float64 bytes, in memory up to ``IN_MEMORY_BYTES`` and in a temporary file
beyond, and read back a block at a time, so memory stays flat however long the input is (a
Python list took 2 GB for 10M rows).
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from bcecli.errors import BceError

if TYPE_CHECKING:
    from bcecli.core.chunk import ScoredChunk
    from bcecli.run.sink import RowColumns

IN_MEMORY_BYTES = 64 << 20  # 8M losses; more go to a temporary file
BLOCK_ROWS = 1 << 16


class LossSpool:
    """A row sink (``bcecli.run.sink.RowSink``) that keeps each row's loss; the caller reads
    them back with ``blocks`` and closes it."""

    needs_row_order = (
        "{reduction=none} lists every loss in input order",
        "use {engine=local}, or {reduction=mean} or sum",
    )

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)
        self.n = 0
        # a report from the Python API holds its spool as long as the caller keeps the report:
        # the file goes when the spool does, quietly
        weakref.finalize(self, self._file.close)

    def add(self, losses: np.ndarray) -> None:
        try:
            self._file.write(np.ascontiguousarray(losses, dtype=np.float64).tobytes())
        except OSError as e:
            raise BceError(
                f"cannot keep the per-sample losses of {{reduction=none}} in a temporary file "
                f"({e.strerror})",
                "set TMPDIR to a writable directory with room for 8 bytes a row, or use "
                "--per-sample, which streams them",
            ) from None
        self.n += len(losses)

    def begin(self, columns: RowColumns) -> None:
        pass

    def write(self, scored: ScoredChunk) -> None:
        self.add(scored.loss)

    def finish(self) -> None:
        pass  # the losses stay until the caller has read them

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
        """The losses in row order, ``rows`` at a time."""
        self._file.seek(0)
        while data := self._file.read(rows * 8):
            yield np.frombuffer(data, dtype=np.float64)

    def close(self) -> None:
        self._file.close()
