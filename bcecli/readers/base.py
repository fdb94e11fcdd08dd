"""What every reader shares: a ``Source`` (one input file as a stream of column batches) and
the values its batches hold.

A source knows its column names up front, then streams batches of ``{column: 1-D or 2-D float
array}`` (a text column, labels written as words, as a :class:`TextColumn`). Bad input is an
:class:`~bcecli.errors.InputError` naming the file, what was found (with the 0-based data row
and the column where that applies) and what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.display import show

if TYPE_CHECKING:
    from bcecli.readers.dataset import Files

FORMATS = "CSV, TSV, NPY, NPZ or Parquet"


class TextColumn:
    """The values of a text column (labels written as words), kept as arrow strings until the
    label mapper turns them into numbers: its dictionary encoding makes one Python string per
    distinct text, where a numpy object array would make one per row (ten times the time)."""

    __slots__ = ("values",)

    def __init__(self, values: Any) -> None:
        self.values = values  # a pyarrow (large) string array

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, rows: slice) -> TextColumn:
        return TextColumn(self.values[rows])

    @staticmethod
    def concat(parts: Sequence[TextColumn]) -> TextColumn:
        import pyarrow as pa

        return TextColumn(pa.concat_arrays([p.values for p in parts]))


Column = np.ndarray | TextColumn
Batch = dict[str, Column]


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else show(path, 1000)


class Source(ABC):
    """A file's columns, streamed in batches."""

    name: str
    columns: list[str]
    n_rows: int | None = None
    notes: tuple[str, ...] = ()
    positional: bool = False  # no header: columns are known only by their position
    fmt_text: bool = False  # CSV/TSV text (where a header line can be read as a row)
    # Held in memory or memory-mapped: batches are views, so chunks can be small (in cache).
    mapped: bool = False
    # A first line 0 .. K-1 (pandas' names for a frame's columns): read as the header
    # (``numbered_header``), or as data because the rows below hold integers too
    # (``header_open``: the other file may show that it is a header).
    numbered_header: bool = False
    header_open: bool = False

    @abstractmethod
    def kind(self, column: str) -> str:
        """'numeric', 'bool', 'string', 'empty' (no value in any row) or 'other' (nested ...)."""

    @abstractmethod
    def width(self, column: str) -> int:
        """How many outputs a column holds (2-D arrays hold several)."""

    @abstractmethod
    def batches(self, columns: list[str]) -> Iterator[Batch]:
        """The chosen columns, batch after batch, as float64 (text as a ``TextColumn``)."""

    def type_name(self, column: str) -> str:
        """The column's type as the file stores it, for messages."""
        return self.kind(column)

    def text_problem(self, column: str) -> tuple[str, str] | None:
        """What is wrong with a text column that should hold numbers, and what to do (None:
        nothing cheap to name)."""
        return None

    def text_values(self, column: str) -> tuple[str, ...] | None:
        """The distinct values of a text column in the first rows (None: not known cheaply)."""
        return None

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        """Every distinct value of a text column in the whole input (read again for it), at
        most ``limit`` of them; None where there are more, or the input cannot be read twice
        (a pipe). Text labels are mapped from these, not from the first rows alone."""
        return None

    def files(self, columns: list[str]) -> Files | None:
        """The files holding ``columns``, for another reader (None: not Parquet or CSV files
        that can be opened again)."""
        return None

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass


def out_of_memory(source: str, e: BaseException) -> InputError:
    """The error for a run that ran out of memory (numpy's or pyarrow's MemoryError, or no
    memory left for a thread's stack) while ``source`` was read and scored: the user's
    condition (an address-space limit, a busy machine), not a bug."""
    what = "no memory left to start a thread" if isinstance(e, RuntimeError) else "out of memory"
    return InputError(
        f"ran out of memory while it was read and scored ({what})",
        "bce needs a few hundred MB whatever the file's length: free memory or raise the limit "
        "(ulimit -v), or score the data in parts (a directory of partitions with {engine=dask} "
        "spreads them over workers)",
        source=source,
    )


def is_out_of_memory(e: BaseException) -> bool:
    """``e`` says that memory ran out (MemoryError, pyarrow's ArrowMemoryError, or a thread
    that could not be started)."""
    return isinstance(e, MemoryError) or (
        isinstance(e, RuntimeError) and "can't start new thread" in str(e)
    )
