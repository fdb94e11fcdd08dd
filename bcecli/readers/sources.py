"""One input file as a stream of column batches: what every format shares, and ``open_source``.

A source knows its column names up front, hands out the first rows for task detection, then
streams batches of ``{column: 1-D or 2-D float array}`` (a text column, labels written as
words, as a :class:`TextColumn`). Formats are found by the file's first bytes, then the
extension; each has a module of its own: ``text`` (CSV/TSV, plain, gzip'd or stdin),
``parquet``, and ``arrays`` (NPY and NPZ). Pickled arrays are always refused, before anything
in them is loaded.

Bad input is an :class:`InputError` naming the file, what was found (with the 0-based data row
and the column where that applies) and what to do. The fast paths (pyarrow's CSV readers, NPY
memory maps) stay as they are; the slower scans that name a bad row or cell run only after
pyarrow has already failed."""

from __future__ import annotations

import os
import re
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.display import show, show_cell

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

_NUMBER = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*", re.IGNORECASE
)
_NUMBER_DECIMAL_COMMA = re.compile(r"\s*[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?\s*")
_THOUSANDS = re.compile(r"\s*[+-]?\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?\s*")


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else show(path, 1000)


# --------------------------------------------------------------------------------------------
# format detection


def sniff_format(path: str, head: bytes) -> str:
    """'csv', 'tsv', 'parquet', 'npy' or 'npz', from the first bytes, then the extension."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if _extension(path) in (".tsv", ".tab"):
        return "tsv"
    return "csv"


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"


def _extension(path: str) -> str:
    """The extension that names the format, past a .gz: 'x.csv.gz' -> '.csv'."""
    lower = path.lower()
    for ext in (".gz", ".gzip"):
        if lower.endswith(ext):
            lower = lower[: -len(ext)]
    return os.path.splitext(lower)[1]


# Binary formats people save classifier outputs in that bce does not read, by their first bytes.
_FOREIGN_MAGIC = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"ARROW1", "an Arrow IPC / Feather file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls) or another OLE document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF", "a PDF document"),
)
_BINARY_EXTENSIONS = {".npy": "NPY", ".npz": "NPZ", ".parquet": "Parquet", ".pq": "Parquet"}
_TEXT_NOT_READ = {".json": "JSON", ".jsonl": "JSON lines", ".ndjson": "JSON lines"}


def _foreign(head: bytes) -> str | None:
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle"
    return None


def _unsupported(what: str, source: str) -> InputError:
    if "pickle" in what:
        return InputError(
            "is a Python pickle, which bce never loads (loading a pickle can run code)",
            f"save the labels and predictions as {FORMATS} (e.g. with pandas' to_csv or np.save)",
            source=source,
        )
    return InputError(
        f"is {what}, which bce does not read",
        f"save the labels and predictions as {FORMATS} (e.g. with pandas' to_csv or np.save)",
        source=source,
    )


def _read_head(path: str, n: int = 16) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except IsADirectoryError:
        raise InputError(
            "is a directory, not a file", f"give the path of a {FORMATS} file", source=path
        ) from None
    except PermissionError:
        raise InputError(
            "cannot be read (permission denied)",
            "check the file's permissions (chmod u+r)",
            source=path,
        ) from None
    except FileNotFoundError:
        raise InputError("no such file", "check the path", source=path) from None
    except OSError as e:
        raise InputError(f"cannot be read ({e.strerror})", "check the path", source=path) from None


class Source(ABC):
    """A file's columns, streamed in batches."""

    name: str
    columns: list[str]
    n_rows: int | None = None
    notes: tuple[str, ...] = ()
    positional: bool = False  # no header: columns are known only by their position
    fmt_text: bool = False  # CSV/TSV text (where a header line can be read as a row)
    claimed_note: str | None = None  # e.g. a '.npy' file that holds CSV text

    @abstractmethod
    def kind(self, column: str) -> str:
        """'numeric', 'bool', 'string', 'empty' (no value in any row) or 'other' (nested ...)."""

    @abstractmethod
    def width(self, column: str) -> int:
        """How many outputs a column holds (2-D arrays hold several)."""

    @abstractmethod
    def batches(self, columns: list[str]) -> Iterator[Batch]:
        """The chosen columns, batch after batch, as float64 (text as a ``TextColumn``)."""

    # Held in memory or memory-mapped: batches are views, so chunks can be small (in cache).
    mapped: bool = False

    def type_name(self, column: str) -> str:
        """The column's type as the file stores it, for messages."""
        return self.kind(column)

    def text_cell(self, column: str) -> tuple[int, str] | None:
        """The first row of a text column whose value is not a number, if it is cheap to find."""
        return None

    def text_problem(self, column: str) -> tuple[str, str] | None:
        """What is wrong with a text column that should hold numbers, and what to do."""
        cell = self.text_cell(column)
        if cell is None:
            return None
        row, value = cell
        return (
            f"row {row}, column {show(column, 40)}: {show_cell(value)} is not a number",
            not_a_number_fix(value),
        )

    def files(self, columns: list[str]) -> Files | None:
        """The files holding ``columns``, for another reader (None: not Parquet or CSV files
        that can be opened again)."""
        return None

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass


def _is_number(cell: str, decimal_comma: bool = False) -> bool:
    pattern = _NUMBER_DECIMAL_COMMA if decimal_comma else _NUMBER
    if pattern.fullmatch(cell) is not None:
        return True
    return decimal_comma and _NUMBER.fullmatch(cell) is not None


def _looks_numeric(cell: str) -> bool:
    return _NUMBER.fullmatch(cell) is not None


def not_a_number_fix(cell: str) -> str:
    """What to do about a cell that should hold a number and does not."""
    c = cell.strip()
    if _THOUSANDS.fullmatch(c):
        return "remove the thousands separators (write 1000.5, not 1,000.5)"
    if c.endswith("%") and _looks_numeric(c[:-1]):
        return "write probabilities as numbers in [0, 1] (0.9, not 90%)"
    if c.startswith("#"):
        return "that is a spreadsheet error value: fix the formula, or leave the cell empty"
    if "," in c and _looks_numeric(c.replace(",", ".")):
        return "write a decimal point, not a decimal comma (0.9, not 0,9)"
    return "fix that cell (an empty cell or NA is read as missing and the row is excluded)"


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _float_values(arr: Any) -> np.ndarray:
    """A float64 arrow array as numpy, nulls as NaN, read straight from its buffers.

    (``Array.to_numpy(zero_copy_only=False)`` would import pandas, half a second of start-up.)
    """
    n, offset = len(arr), arr.offset
    data = arr.buffers()[1]
    if n == 0 or data is None:
        return np.full(n, np.nan)
    values = np.frombuffer(data, dtype=np.float64, count=offset + n)[offset:]
    if arr.null_count:
        values = np.where(_present(arr), values, np.nan)
    return values


def _bool_values(arr: Any) -> np.ndarray:
    """A boolean arrow array as float64 (1.0 for true), nulls as NaN, read from its value
    bitmap: arrow's own cast to float64 took 33 ms for 10M values, this 6 ms."""
    if len(arr) == 0 or arr.buffers()[1] is None:
        return np.full(len(arr), np.nan)
    values = _bits(arr, 1).astype(np.float64)
    if arr.null_count:
        values[~_present(arr)] = np.nan
    return values


def _present(arr: Any) -> np.ndarray:
    """Which rows of an arrow array hold a value, read from its validity bitmap."""
    return _bits(arr, 0).astype(bool)


def _bits(arr: Any, buffer: int) -> np.ndarray:
    """One bit bitmap of an arrow array (0: validity, 1: a boolean array's values), a 0/1
    byte per row."""
    n, offset = len(arr), arr.offset
    bits = np.frombuffer(arr.buffers()[buffer], dtype=np.uint8)
    return np.unpackbits(bits, count=offset + n, bitorder="little")[offset:]


def column_from_arrow(col: Any) -> Column:
    """An arrow column as a batch holds it: float64 (nulls as NaN), or a ``TextColumn``."""
    import pyarrow as pa

    if hasattr(col, "combine_chunks"):  # a ChunkedArray: one contiguous array
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_boolean(t):
        return _bool_values(col)
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return _float_values(col if t == pa.float64() else col.cast(pa.float64()))
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return TextColumn(col)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def dictionary_indices(encoded: Any, missing: int) -> np.ndarray:
    """A dictionary array's indices as numpy, ``missing`` where a value is missing; read from
    the buffers (``fill_null`` makes an arrow scalar, which imports pandas: 0.3 s)."""
    indices = encoded.indices
    n, offset = len(indices), indices.offset
    width = indices.type.bit_width // 8
    data = indices.buffers()[1]
    out = np.frombuffer(data, dtype=f"<i{width}", count=offset + n)[offset:].astype(np.intp)
    if indices.null_count:
        out[~_present(indices)] = missing
    return out


@dataclass(frozen=True, eq=False)
class Opened:
    """An opened input and its format."""

    source: Source
    fmt: str


def open_source(path: str, role: str) -> Opened:
    """Open ``path`` ('-' for stdin) as a source; ``role`` names a bare NPY array. Each
    format's module is imported when a file needs it: an NPY input loads no CSV code."""
    if path == "-":
        return _stream_of_text(path)
    name = display_name(path)
    if os.path.isdir(path):
        raise InputError(
            "is a directory, not a file", f"give the path of a {FORMATS} file", source=name
        )
    if os.path.exists(path) and not _is_regular(path):
        # a pipe or a device (bce score <(zcat preds.csv.gz)): it can be read only once, so its
        # first bytes are not peeked at here; CSV text is the one format read from a stream
        return _stream_of_text(path)
    head = _read_head(path)
    fmt = sniff_format(path, head)
    if fmt in ("npy", "npz"):
        from bcecli.readers.arrays import NpySource, NpzSource

        return Opened(NpySource(path, role) if fmt == "npy" else NpzSource(path), fmt)
    if fmt == "parquet":
        from bcecli.readers.parquet import ParquetSource

        return Opened(ParquetSource(path), fmt)
    foreign = _foreign(head)
    if foreign is not None:
        raise _unsupported(foreign, name)
    ext = _extension(path)
    if ext in _TEXT_NOT_READ:
        raise InputError(
            f"is {_TEXT_NOT_READ[ext]}, which bce does not read",
            "convert it to CSV, e.g. pandas.read_json(path).to_csv('preds.csv', index=False)",
            source=name,
        )
    from bcecli.readers.text import CsvSource

    src = CsvSource(path, tab=fmt == "tsv", claimed=_BINARY_EXTENSIONS.get(ext))
    if src.claimed_note:
        src.notes = (*src.notes, src.claimed_note)
    return Opened(src, fmt)


def _stream_of_text(path: str) -> Opened:
    from bcecli.readers.text import CsvSource

    return Opened(CsvSource(path), "csv")
