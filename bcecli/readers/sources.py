"""One input file as a stream of column batches: CSV/TSV (plain, gzip'd or stdin), Parquet,
NPY and NPZ.

A source knows its column names up front, hands out the first rows for task detection, then
streams batches of ``{column: 1-D or 2-D float array}``. Formats are found by the file's first
bytes, then the extension. NPY is memory-mapped; pickled arrays are always refused, before
anything in them is loaded.

Bad input is an :class:`InputError` naming the file, what was found (with the 0-based data row
and the column where that applies) and what to do. The fast paths (pyarrow's streaming CSV
reader, NPY memory maps) stay as they are; the slower scans that name a bad row or cell run only
after pyarrow has already failed.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import sys
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.display import show, show_cell, show_names

if TYPE_CHECKING:
    import zipfile

# csv, gzip and zipfile are imported where a format needs them: an NPY input pays for none.

PEEK_BYTES = 1 << 20  # read up front: header, type inference, error scans on stdin
CSV_BLOCK_BYTES = 1 << 24  # the longest CSV line bce reads (a pyarrow block must hold it)
# pyarrow's block while streaming: small blocks keep parsing and scoring overlapped and memory
# flat (measured on 10M rows: 1 MiB blocks 0.75 s / 177 MB peak, 16 MiB blocks 1.09 s / 437 MB).
# A file whose first MiB holds a line this long gets CSV_BLOCK_BYTES blocks instead.
STREAM_BLOCK_BYTES = 1 << 20
# A plain file is cut into pieces of this size, parsed on SPLIT_THREADS threads (measured on
# 10M rows: pyarrow's streaming reader 0.65-0.85 s, two threads on 8 MiB pieces ~0.4 s).
SPLIT_BYTES = 8 << 20
# ... or fewer, for a file of short lines: a piece holds at most about this many rows (a column of
# 0/1 labels takes 2 bytes a row as text but 8 parsed, so 8 MiB pieces held 4M rows each).
SPLIT_ROWS = 1 << 20
MIN_SPLIT_BYTES = 1 << 20
PARQUET_BUFFER_BYTES = 1 << 20  # the read buffer of each Parquet column
SPLIT_THREADS = 2
LONG_LINE_BYTES = 1 << 18
NULL_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "#N/A", "-"]
FORMATS = "CSV, TSV, NPY, NPZ or Parquet"

Batch = dict[str, np.ndarray]

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
        """The chosen columns, batch after batch, as float64 (strings as object arrays)."""

    # Sources held in memory or memory-mapped can start reading at any row (``batches_from``);
    # several processes can then each read a range of rows.
    seekable: bool = False

    def batches_from(self, columns: list[str], start: int) -> Iterator[Batch]:
        """Like ``batches``, from row ``start`` on (only where ``seekable``)."""
        raise NotImplementedError(f"{type(self).__name__} is read from its first row only")

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


# --------------------------------------------------------------------------------------------
# CSV / TSV


class _Replay(io.RawIOBase):
    """A stream that first replays bytes already read, then continues from the source."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _sniff_delimiter(header_line: str, default: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return default
    if counts[default] > 0:
        return default
    return best


_LINE_END = re.compile(r"\r\n|\n|\r")
_LINE_END_BYTES = re.compile(rb"\r\n|\n|\r")
_DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "pipes"}
_READ_ERRORS = (OSError, EOFError, zlib.error)


class _QuotedLineEnd(Exception):
    """A piece of a file cut at line ends holds an odd number of quote characters: its last
    line end (or the one it was cut at) lies inside a quoted cell."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset  # where the piece starts: outside any quotes


class CsvSource(Source):
    """CSV or TSV text, plain or gzip'd, from a file or stdin.

    The first MiB is read up front: BOM, leading ``#`` comment lines and an Excel ``sep=`` line
    are skipped, the delimiter and the header are found, and pyarrow infers the column types
    from complete lines. Then pyarrow streams the rest from where the data starts.
    """

    def __init__(self, path: str, *, tab: bool = False, claimed: str | None = None) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self._pa, self._pacsv = pa, pacsv
        self.path = path
        self.name = display_name(path)
        self.fmt_text = True
        self.regular = path != "-" and _is_regular(path)  # can be opened again to find an error
        self._kinds: dict[str, str] = {}
        self._wanted: list[str] = []
        self._must_be_numbers: set[str] = set()
        self.decimal_comma = False
        self._raw, self._stream, self.gzipped = self._open()
        try:
            self._setup(tab, claimed)
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------

    def _open(self) -> tuple[IO[bytes], IO[bytes], bool]:
        if self.path == "-":
            raw: IO[bytes] = sys.stdin.buffer
        else:
            try:
                raw = open(self.path, "rb")  # noqa: SIM115 (closed in close())
            except OSError as e:
                raise InputError(
                    f"cannot be read ({e.strerror})", "check the path", source=self.name
                ) from None
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if magic == b"\x1f\x8b":
            import gzip

            return raw, gzip.GzipFile(fileobj=raw, mode="rb"), True  # type: ignore[return-value]
        return raw, raw, False

    def _read(self, n: int) -> bytes:
        try:
            return self._stream.read(n)
        except _READ_ERRORS as e:
            raise self._read_error(e, None) from None

    def _read_error(self, e: BaseException, rows_done: int | None) -> InputError:
        where = "" if rows_done is None else f" after row {rows_done}"
        msg = show(str(e) or type(e).__name__, 120)
        if self.gzipped:
            return InputError(
                f"is a truncated or corrupt gzip file: decompression failed{where} ({msg})",
                "copy or download it again (gzip -t checks a file)",
                source=self.name,
            )
        return InputError(
            f"cannot be read{where} ({msg})", "check the file and the disk", source=self.name
        )

    def _setup(self, tab: bool, claimed: str | None) -> None:
        head = self._read(PEEK_BYTES)
        self._exhausted = len(head) < PEEK_BYTES
        if not head.strip():
            raise InputError(
                "is empty" + (" (after decompression)" if self.gzipped and head == b"" else ""),
                "write the labels and predictions into it (a header line, then one row per sample)",
                source=self.name,
            )
        self._check_text(head, claimed)
        head = self._find_header(head, tab)
        self._head = head
        self._data = head[self._data_offset :]
        self._kinds = self._infer_kinds()
        if self._exhausted and self.peek_rows == 0:
            raise InputError(
                "has a header but no data rows",
                "write one row per sample under the header",
                source=self.name,
            )
        if self._exhausted:
            self.n_rows = self.peek_rows

    def _check_text(self, head: bytes, claimed: str | None) -> None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise InputError(
                "is UTF-16 text (Excel's 'Unicode Text'), not UTF-8",
                "save it as 'CSV UTF-8', or convert it: iconv -f UTF-16 -t UTF-8",
                source=self.name,
            )
        # Files are sniffed before they get here; these arrive gzip'd or through a pipe.
        inner = {b"\x93NUMPY": "an NPY file", b"PAR1": "a Parquet file", b"PK": "a zip file"}
        for magic, what in inner.items():
            if head.startswith(magic):
                if self.gzipped:
                    raise InputError(
                        f"is {what} compressed with gzip",
                        "decompress it first (gunzip)",
                        source=self.name,
                    )
                raise InputError(
                    f"is {what} arriving through a pipe; only CSV text can be read that way",
                    "save it to a file and pass its path",
                    source=self.name,
                )
        if b"\x00" in head[:4096]:
            if claimed is not None:
                raise InputError(
                    f"is not {_article(claimed)} {claimed} file (it does not start with the "
                    f"{claimed} signature) and is not text either",
                    "check that the file is complete, or save it again",
                    source=self.name,
                )
            foreign = _foreign(head)
            if foreign is not None:
                raise _unsupported(foreign, self.name)
            raise InputError(
                "is binary data, not CSV text",
                f"give a {FORMATS} file (is the extension right?)",
                source=self.name,
            )
        if claimed is not None:
            self.claimed_note = (
                f"{self.name}: not {_article(claimed)} {claimed} file despite its name (no "
                f"{claimed} signature); "
                "read as CSV text"
            )

    def _more(self, head: bytes) -> bytes:
        """Extend the head by another block (a very long line); mark the end of the input."""
        extra = self._read(PEEK_BYTES)
        if len(extra) < PEEK_BYTES:
            self._exhausted = True
        return head + extra

    def _line_end(self, head: bytes, pos: int) -> tuple[bytes, int]:
        """The line starting at ``pos`` (without its end) and where the next line starts."""
        while True:
            m = _LINE_END_BYTES.search(head, pos)
            if m is not None and (m.end() < len(head) or self._exhausted):
                return head[pos : m.start()], m.end()
            if self._exhausted:
                return head[pos:], len(head)
            if len(head) - pos > CSV_BLOCK_BYTES:
                start = head[pos : pos + 30].decode("utf-8", "replace")
                raise InputError(
                    f"line {self._lines_before + 1} is longer than {CSV_BLOCK_BYTES >> 20} MiB "
                    f"(it starts {show_cell(start)})",
                    "is this really a CSV file? one line per sample is expected",
                    source=self.name,
                )
            head = self._more(head)
            self._head_grown = head

    def _find_header(self, head: bytes, tab: bool) -> bytes:
        pos = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        self._lines_before = 0
        self._head_grown = head
        delimiter: str | None = None
        comments = 0
        notes: list[str] = []
        while True:
            if pos >= len(self._head_grown) and self._exhausted:
                raise InputError(
                    f"holds no header and no data (only {comments} comment line(s))",
                    "write the labels and predictions into it",
                    source=self.name,
                )
            line, nxt = self._line_end(self._head_grown, pos)
            stripped = line.strip()
            if stripped.startswith(b"#"):
                comments += 1
            elif self._lines_before == 0 and re.fullmatch(rb"sep=.", stripped):
                delimiter = chr(stripped[-1])
                notes.append(f"{self.name}: delimiter {delimiter!r} from its 'sep=' line")
            elif stripped:
                break
            pos = nxt
            self._lines_before += 1
        head = self._head_grown
        if comments:
            notes.append(f"{self.name}: skipped {comments} comment line(s) at the top")
        try:
            first_line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(
                f"line {self._lines_before + 1} is not UTF-8 text (byte 0x{line[e.start]:02x} in "
                f"{show_cell(line.decode('utf-8', 'surrogateescape'))})",
                "save the file as UTF-8 (in Excel: 'CSV UTF-8'), or convert it: "
                "iconv -f LATIN1 -t UTF-8",
                source=self.name,
            ) from None
        self.delimiter = delimiter or _sniff_delimiter(first_line, "\t" if tab else ",")
        if self.delimiter not in (",", "\t") and delimiter is None:
            notes.append(f"{self.name}: columns separated by {_DELIMITER_NAMES[self.delimiter]}")
        import csv

        try:
            header = next(csv.reader([first_line], delimiter=self.delimiter))
        except (csv.Error, StopIteration) as e:
            raise InputError(
                f"line {self._lines_before + 1} (the header) cannot be parsed ({e})",
                "check the quotes in the header",
                source=self.name,
            ) from None
        cells = [h.strip() for h in header]
        self.has_header = any(c and not _looks_numeric(c) for c in cells) or not any(cells)
        if self.has_header:
            names = cells
            self._header_cells = cells
            self._data_offset = nxt
            self._data_line = self._lines_before + 2
        else:
            names = [f"column_{i + 1}" for i in range(len(cells))]
            self._header_cells = []
            self._data_offset = pos
            self._data_line = self._lines_before + 1
            self.positional = True
            notes.append(
                f"{self.name}: no header row (the first line holds numbers); columns named "
                f"column_1 .. column_{len(cells)}"
            )
        self._check_names(names)
        taken = set(names)
        for i, nm in enumerate(names):
            if not nm:
                new = f"column_{i + 1}"
                while new in taken:
                    new = "_" + new
                names[i] = new
                taken.add(new)
                notes.append(f"{self.name}: column {i + 1} has no name; called {new}")
        self.columns = names
        self.notes = tuple(notes)
        return head

    def _check_names(self, names: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, nm in enumerate(names):
            if nm and nm in seen:
                raise InputError(
                    f"column name {show_cell(nm)} appears twice (columns {seen[nm] + 1} and "
                    f"{i + 1})",
                    "rename one of them in the header line",
                    source=self.name,
                )
            seen[nm] = i

    # -- pyarrow options -----------------------------------------------------------------

    def _read_options(self, block_size: int, *, threads: bool = True) -> Any:
        return self._pacsv.ReadOptions(
            block_size=block_size, use_threads=threads, column_names=self.columns
        )

    def _parse_options(self) -> Any:
        # A quoted cell may hold a line end; allowing it costs the streaming reader nothing
        # measurable (10M rows: 0.83 s either way), and without it a quoted line end at one of
        # its block boundaries stopped the run ("parser got out of sync with chunker").
        return self._pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)

    def _convert_options(self, **kw: Any) -> Any:
        return self._pacsv.ConvertOptions(
            null_values=NULL_VALUES,
            strings_can_be_null=True,
            decimal_point="," if self.decimal_comma else ".",
            **kw,
        )

    # -- type inference on the first complete lines ----------------------------------------

    def _sample(self) -> bytes:
        if self._exhausted:
            return self._data
        cut = max(self._data.rfind(b"\n"), self._data.rfind(b"\r"))
        if cut < 0:  # not one complete data line in the first MiB: read on to the line's end
            _, end = self._line_end(self._head_grown, self._data_offset)
            self._head = self._head_grown
            self._data = self._head[self._data_offset :]
            return self._data[: end - self._data_offset]
        return self._data[: cut + 1]

    def _parse_sample(self, sample: bytes) -> Any:
        pa = self._pa
        try:
            return self._pacsv.read_csv(
                io.BytesIO(sample),
                # one thread: a MiB parses in milliseconds, and no thread pool is started for
                # inputs that fail before streaming (pyarrow can abort at exit with live threads)
                read_options=self._read_options(max(len(sample), 1 << 16), threads=False),
                parse_options=self._parse_options(),
                convert_options=self._convert_options(),
            )
        except (pa.ArrowInvalid, *_READ_ERRORS) as e:
            raise self._arrow_error(e, 0) from None

    def _infer_kinds(self) -> dict[str, str]:
        pa = self._pa
        sample = self._sample()
        if not sample.strip():
            self.peek_rows = 0
            return {}
        table = self._parse_sample(sample)
        if self.delimiter != "," and self._decimal_comma_columns(table):
            self.decimal_comma = True
            self.notes = (*self.notes, f"{self.name}: numbers read with a decimal comma (0,9)")
            table = self._parse_sample(sample)
        kinds = {}
        for name, col in zip(table.column_names, table.columns, strict=True):
            t = col.type
            if pa.types.is_null(t) and self._exhausted:
                kinds[name] = "empty"
            elif pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_null(t):
                kinds[name] = "numeric"
            elif pa.types.is_boolean(t):
                kinds[name] = "bool"
            else:
                kinds[name] = "string"
        self.peek_rows = table.num_rows
        return kinds

    def _decimal_comma_columns(self, table: Any) -> bool:
        pa = self._pa
        found = False
        for col in table.columns:
            if not pa.types.is_string(col.type):
                continue
            values = [v for v in col.to_pylist() if v is not None]
            if values and all(_NUMBER_DECIMAL_COMMA.fullmatch(v) for v in values):
                if any("," in v for v in values):
                    found = True
            elif values and any("," in v for v in values):
                return False
        return found

    def kind(self, column: str) -> str:
        return self._kinds.get(column, "numeric")

    def type_name(self, column: str) -> str:
        return {"string": "text", "empty": "no values"}.get(self.kind(column), self.kind(column))

    def width(self, column: str) -> int:
        return 1

    def text_problem(self, column: str) -> tuple[str, str] | None:
        # the same scan as after a parse error, so a repeated header or a comment line is named
        self._wanted = [column]
        self._must_be_numbers = {column}
        return self._locate_bad_row(0)

    # -- streaming -----------------------------------------------------------------------

    def _stream_block_bytes(self) -> int:
        """Small blocks, unless the first lines show that lines can be very long."""
        data = np.frombuffer(self._data, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        bounds = np.concatenate([[-1], ends, [len(data)]])
        longest = int(np.diff(bounds).max()) if len(bounds) > 1 else len(data)
        return CSV_BLOCK_BYTES if longest > LONG_LINE_BYTES else STREAM_BLOCK_BYTES

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        pa = self._pa
        self._wanted = list(columns)
        types = {}
        for c in columns:
            k = self.kind(c)
            types[c] = pa.bool_() if k == "bool" else pa.string() if k == "string" else pa.float64()
        if self._can_split():
            yield from self._split_batches(columns, types)
            return
        stream = io.BufferedReader(_Replay(self._data, self._stream), buffer_size=1 << 20)
        yield from self._streamed_batches(stream, columns, types)

    def _streamed_batches(
        self, stream: IO[bytes], columns: list[str], types: dict[str, Any], done: int = 0
    ) -> Iterator[Batch]:
        """Batches parsed by pyarrow's streaming reader from ``stream`` (data rows, no header;
        ``done`` rows came before them, for messages)."""
        pa, pacsv = self._pa, self._pacsv
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=self._read_options(self._stream_block_bytes()),
                parse_options=self._parse_options(),
                convert_options=self._convert_options(include_columns=columns, column_types=types),
            )
        except (pa.ArrowInvalid, *_READ_ERRORS) as e:
            raise self._arrow_error(e, done) from None
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, *_READ_ERRORS) as e:
                raise self._arrow_error(e, done) from None
            out: Batch = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                out[name] = _arrow_to_numpy(col)
            done += batch.num_rows
            yield out

    # -- parallel parsing of a plain file -------------------------------------------------

    def _can_split(self) -> bool:
        """A plain file can be cut at line ends and parsed in parallel (pyarrow's streaming
        reader parses on one thread). The cuts fall just after a "\n", so CRLF files (Windows,
        Python's csv module) split as well; CR-only files have no "\n" to cut at and stream.
        A quoted cell can hold a line end: a piece with an odd number of quote characters
        ends inside one, and the rest of the file from that piece on streams instead."""
        return (
            self.regular
            and not self.gzipped
            and b"\n" in self._data
            and os.path.getsize(self.path) >= 2 * SPLIT_BYTES
        )

    def _segments(self, fd: int, size: int) -> Iterator[tuple[int, int]]:
        """Byte ranges of about SPLIT_BYTES (fewer for short lines: about SPLIT_ROWS lines, as
        the first lines go), each ending just after a line end."""
        line_bytes = len(self._data) / max(1, self._data.count(b"\n"))
        piece = int(min(SPLIT_BYTES, max(MIN_SPLIT_BYTES, SPLIT_ROWS * line_bytes)))
        pos = self._data_offset
        while pos < size:
            end = pos + piece
            while end < size:
                window = os.pread(fd, 1 << 16, end)
                nl = window.find(b"\n")
                if nl >= 0:
                    end += nl + 1
                    break
                end += len(window)
            end = min(end, size)
            yield pos, end
            pos = end

    def _split_batches(self, columns: list[str], types: dict[str, Any]) -> Iterator[Batch]:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        pa, pacsv = self._pa, self._pacsv
        convert = self._convert_options(include_columns=columns, column_types=types)
        parse_options = self._parse_options()

        def parse(fd: int, a: int, b: int) -> Batch:
            data = os.pread(fd, b - a, a)
            if b'"' in data and data.count(b'"') % 2:
                raise _QuotedLineEnd(a)
            table = pacsv.read_csv(
                pa.BufferReader(data),
                read_options=self._read_options(len(data) + 1, threads=False),
                parse_options=parse_options,
                convert_options=convert,
            )
            names, cols = table.column_names, table.columns
            return {n: _arrow_to_numpy(c) for n, c in zip(names, cols, strict=True)}

        fd = os.open(self.path, os.O_RDONLY)
        done = 0
        try:
            with ThreadPoolExecutor(SPLIT_THREADS, thread_name_prefix="bce-csv") as pool:
                pending: deque[Future[Batch]] = deque()
                segments = self._segments(fd, os.fstat(fd).st_size)
                while True:
                    for seg in segments:  # keep a few segments parsing ahead, no more
                        pending.append(pool.submit(parse, fd, *seg))
                        if len(pending) > SPLIT_THREADS:
                            break
                    if not pending:
                        return
                    try:
                        batch = pending.popleft().result()
                    except _QuotedLineEnd as cut:
                        for f in pending:
                            f.cancel()
                        with open(self.path, "rb") as rest:
                            rest.seek(cut.offset)
                            yield from self._streamed_batches(rest, columns, types, done)
                        return
                    except (pa.ArrowInvalid, *_READ_ERRORS) as e:
                        for f in pending:
                            f.cancel()
                        raise self._arrow_error(e, done) from None
                    done += len(next(iter(batch.values()))) if batch else 0
                    yield batch
        finally:
            os.close(fd)

    # -- the error path ------------------------------------------------------------------

    def _arrow_error(self, e: BaseException, rows_done: int) -> InputError:
        """Turn a pyarrow failure into one line naming the row (and cell) it happened at."""
        if not isinstance(e, self._pa.ArrowInvalid):
            return self._read_error(e, rows_done)
        found = self._locate_bad_row(rows_done)
        if found is not None:
            what, fix = found
            return InputError(what, fix, source=self.name)
        msg = show(str(e).split("\n")[0], 160)
        if "UTF8" in msg or "utf8" in msg.lower():
            return InputError(
                f"is not UTF-8 text (after row {rows_done}: {msg})",
                "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
                source=self.name,
            )
        return InputError(
            f"cannot be parsed after row {rows_done} ({msg})",
            "check the file's format",
            source=self.name,
        )

    def _scan_stream(self) -> IO[bytes]:
        """The input again from where the data starts (a pipe: only the part already read)."""
        if not self.regular:
            return io.BytesIO(self._data)
        f: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed by the caller)
        if self.gzipped:
            import gzip

            f = gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[assignment]
        f.read(self._data_offset)
        return f

    def _locate_bad_row(self, rows_done: int) -> tuple[str, str] | None:
        """Scan with Python's csv module to name the first bad row or cell (error path only)."""
        import csv

        limit = csv.field_size_limit(CSV_BLOCK_BYTES)  # pyarrow's limit, not csv's 128 KiB
        try:
            return self._scan(rows_done)
        finally:
            csv.field_size_limit(limit)

    def _scan(self, rows_done: int) -> tuple[str, str] | None:
        import csv

        try:
            with self._scan_stream() as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
                reader = csv.reader(text, delimiter=self.delimiter)
                row_no = 0
                ended = 0  # physical lines read before the current record
                try:
                    for row in reader:
                        line, ended = self._data_line + ended, reader.line_num
                        if not row:  # pyarrow skips empty lines too
                            continue
                        if row_no >= rows_done:
                            found = self._row_problem(row, row_no, line)
                            if found is not None:
                                return found
                        row_no += 1
                        if row_no > rows_done + 5_000_000:
                            break
                except csv.Error as e:
                    line = self._data_line + ended
                    return (
                        f"row {row_no} (line {line}) cannot be parsed ({show(str(e), 80)})",
                        "fix that line (an unclosed quote?)",
                    )
        except (*_READ_ERRORS, UnicodeError):
            return None
        return None

    def _row_problem(self, row: list[str], r: int, line: int) -> tuple[str, str] | None:
        where = f"row {r} (line {line})"
        if row[0].lstrip().startswith("#"):
            return (
                f"{where} is a comment line ({show_cell(','.join(row))})",
                "bce skips '#' comment lines only at the top of the file: delete this one",
            )
        if self._header_cells and [c.strip() for c in row] == self._header_cells:
            return (
                f"{where} repeats the header",
                "were two files concatenated? delete the repeated header line",
            )
        width = len(self.columns)
        for name, cell in zip(self.columns, row, strict=False):
            if ("\n" in cell or "\r" in cell) and (len(row) != width or self._needs_number(name)):
                lines = len(_LINE_END.findall(cell)) + 1
                return (
                    f"{where}, column {show(name, 40)}: a quoted cell runs over {lines} lines "
                    "(an unclosed quote?)",
                    'close the quote, or remove it (write "" for a quote inside a quoted cell)',
                )
        if len(row) != width:
            first = "the header" if self.has_header else "the first line"
            sep = _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))
            return (
                f"{where} has {len(row)} field{'s' if len(row) != 1 else ''}, {first} has {width}",
                f"fix that line (quote cells that contain {sep})",
            )
        for name, cell in zip(self.columns, row, strict=True):
            if name not in self._wanted:
                continue
            if re.search(r"[\udc80-\udcff]", cell):
                return (
                    f"{where}, column {show(name, 40)}: {show_cell(cell)} is not UTF-8 text",
                    "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
                )
            if (
                self._needs_number(name)
                and cell.strip() not in NULL_VALUES
                and not _is_number(cell, self.decimal_comma)
            ):
                return (
                    f"{where}, column {show(name, 40)}: {show_cell(cell)} is not a number",
                    not_a_number_fix(cell),
                )
        return None

    def _needs_number(self, name: str) -> bool:
        if name not in self._wanted:
            return False
        return self.kind(name) in ("numeric", "empty") or name in self._must_be_numbers

    def close(self) -> None:
        if self.path == "-":
            return
        for f in (self._stream, self._raw):
            try:
                f.close()
            except _READ_ERRORS:
                pass


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _float_values(arr: Any) -> np.ndarray:
    """A float64 arrow array as numpy, nulls as NaN, read straight from its buffers.

    (``Array.to_numpy(zero_copy_only=False)`` would import pandas, half a second of start-up.)
    """
    if hasattr(arr, "combine_chunks"):  # a ChunkedArray
        arr = arr.combine_chunks()
    n, offset = len(arr), arr.offset
    validity, data = arr.buffers()[:2]
    if n == 0 or data is None:
        return np.full(n, np.nan)
    values = np.frombuffer(data, dtype=np.float64, count=offset + n)[offset:]
    if arr.null_count:
        bits = np.frombuffer(validity, dtype=np.uint8)
        valid = np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
        values = np.where(valid, values, np.nan)
    return values


def _arrow_to_numpy(col: Any) -> np.ndarray:
    import pyarrow as pa

    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
        return _float_values(col if t == pa.float64() else col.cast(pa.float64()))
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


# --------------------------------------------------------------------------------------------
# Parquet


class ParquetSource(Source):
    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.path = path
        self.name = display_name(path)
        try:
            # Column chunks are read through a 1 MiB buffered stream, not pre-buffered: with
            # pre-buffering (pyarrow's default) the reader keeps what it read for the whole file,
            # so memory grew with it (a 40M-row file: 550 MB).
            self._file = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as e:
            raise InputError(
                f"is not a readable Parquet file ({show(str(e).splitlines()[0], 120)})",
                "check that the file is complete: copy or write it again",
                source=self.name,
            ) from None
        self.columns = list(schema.names)
        seen: set[str] = set()
        for c in self.columns:
            if c in seen:
                raise InputError(
                    f"column name {show_cell(c)} appears twice",
                    "rename one of them before writing the file",
                    source=self.name,
                )
            seen.add(c)
        self.n_rows = self._file.metadata.num_rows
        if self.n_rows == 0:
            raise InputError("holds no rows", "write one row per sample into it", source=self.name)
        self._types = {f.name: f.type for f in schema}

    def kind(self, column: str) -> str:
        pa, t = self._pa, self._types[column]
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
            return "numeric"
        if pa.types.is_null(t):
            return "empty"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "string"
        return "other"

    def type_name(self, column: str) -> str:
        t = self._types[column]
        pa = self._pa
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            return f"lists ({t})"
        if pa.types.is_struct(t):
            return f"records ({t})"
        if pa.types.is_map(t):
            return f"maps ({t})"
        if self.kind(column) == "string":
            return f"text ({t})"
        return str(t)

    def width(self, column: str) -> int:
        return 1

    def text_cell(self, column: str) -> tuple[int, str] | None:
        if self.kind(column) != "string":
            return None
        start = 0
        for batch in self._file.iter_batches(batch_size=1 << 16, columns=[column]):
            values = batch.column(0).to_pylist()
            for i, v in enumerate(values):
                if v is not None and not _is_number(str(v)):
                    return start + i, str(v)
            start += len(values)
        return None

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        pa = self._pa
        for c in columns:
            if self.kind(c) == "other":
                raise InputError(
                    f"column {show(c, 40)} holds {self.type_name(c)}, not numbers",
                    "flatten it into one numeric column per output",
                    source=self.name,
                )
        try:
            for batch in self._file.iter_batches(batch_size=1 << 20, columns=columns):
                yield {
                    n: _arrow_to_numpy(
                        col.cast(pa.float64()) if self.kind(n) in ("numeric", "empty") else col
                    )
                    for n, col in zip(batch.schema.names, batch.columns, strict=True)
                }
        except (pa.ArrowException, OSError) as e:
            raise InputError(
                f"cannot be read ({show(str(e).splitlines()[0], 120)})",
                "check that the file is complete: copy or write it again",
                source=self.name,
            ) from None


# --------------------------------------------------------------------------------------------
# NPY / NPZ

_DTYPE_WORDS = {
    "O": "Python objects",
    "U": "text",
    "S": "bytes",
    "c": "complex numbers",
    "V": "raw records",
    "M": "dates",
    "m": "time spans",
}
_NPY_FIX = "save a float array, e.g. np.save(path, np.asarray(preds, dtype='float32'))"


def _pickle_refused(source: str) -> InputError:
    return InputError(
        "holds pickled Python objects (dtype object), which bce never loads (loading a pickle "
        "can run code)",
        "save a plain numeric array: np.save(path, np.asarray(values, dtype='float64'))",
        source=source,
    )


def _check_dtype(dtype: np.dtype[Any], what: str, source: str) -> None:
    """Refuse anything that is not plain numbers; pickles before a byte of them is loaded."""
    if dtype.hasobject:
        raise _pickle_refused(source)
    if dtype.names:
        for n in dtype.names:
            field = dtype.fields[n][0] if dtype.fields else dtype
            _check_dtype(field, f"field {show_cell(n)}", source)
        return
    if dtype.subdtype is not None:
        _check_dtype(dtype.subdtype[0], what, source)
        return
    if dtype.kind not in "fiub":
        word = _DTYPE_WORDS.get(dtype.kind, str(dtype))
        raise InputError(
            f"{what} holds {word} (dtype {dtype}), not numbers", _NPY_FIX, source=source
        )


def _check_shape(shape: tuple[int, ...], what: str, source: str) -> None:
    if len(shape) == 0:
        raise InputError(
            f"{what} is a single number (shape ())",
            "save one value per sample: shape (n,) or (n, K)",
            source=source,
        )
    if len(shape) > 2:
        raise InputError(
            f"{what} has shape {shape}; expected (n,) or (n, K)",
            "reshape it to one row per sample, e.g. arr.reshape(len(arr), -1)",
            source=source,
        )
    if shape[0] == 0:
        raise InputError(
            f"{what} is empty (shape {shape})", "save one row per sample", source=source
        )


def _read_npy_header(fp: IO[bytes], source: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Shape, Fortran order and dtype from an NPY header, without loading (or unpickling) any
    data; ``fp`` is left where the data starts."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as e:
        raise InputError(
            f"has a corrupt NPY header ({show(str(e), 100)})",
            "save the array again with np.save",
            source=source,
        ) from None
    return tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


# Rows of a memory-mapped array read per batch. Once a batch's rows are scored, its pages are
# dropped from the process (see _release_pages), so the resident set stays near two batches
# whatever the file's length.
MAPPED_BATCH_ROWS = 1 << 20
# Rows of a compressed NPZ array decompressed at a time (each read briefly holds two copies).
DECOMPRESSED_BATCH_ROWS = 1 << 18


def _release_pages(view: np.ndarray) -> None:
    """Drop the whole pages under ``view``, a contiguous view into a read-only memory map, from
    this process's resident set. They stay in the page cache; a later read of them (a chunk
    still being scored, a second pass) maps them back in, so nothing changes but the memory
    the process is charged with. A view not backed by a map is left alone."""
    import mmap

    if not (view.flags.c_contiguous or view.flags.f_contiguous) or view.nbytes == 0:
        return
    base: Any = view
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is None or not hasattr(base, "madvise"):
        return
    try:
        start = np.frombuffer(base, dtype=np.uint8).ctypes.data  # the map's first byte
    except ValueError:  # closed
        return
    page = mmap.PAGESIZE
    lo = view.ctypes.data - start
    lo, hi = -(-lo // page) * page, (lo + view.nbytes) // page * page
    if hi > lo:
        base.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _mapped_batches(arrays: dict[str, np.ndarray], start: int, n: int) -> Iterator[Batch]:
    """Batches of rows ``start..n`` of equally long arrays; the pages of memory-mapped ones are
    released one batch behind the reader."""
    done: list[np.ndarray] = []
    for s in range(start, n, MAPPED_BATCH_ROWS):
        batch = {c: a[s : s + MAPPED_BATCH_ROWS] for c, a in arrays.items()}
        yield batch
        # The caller has taken every chunk of this batch, so the batch before it is scored.
        for view in done:
            _release_pages(view)
        done = list(batch.values())


class NpySource(Source):
    def __init__(self, path: str, role: str) -> None:
        self.path = path
        self.name = display_name(path)
        try:
            with open(path, "rb") as fp:
                shape, _, dtype = _read_npy_header(fp, self.name)
                data_at = fp.tell()
        except OSError as e:
            raise InputError(
                f"cannot be read ({e.strerror})", "check the path", source=self.name
            ) from None
        _check_dtype(dtype, "the array", self.name)
        what = "the array"
        _check_shape(shape, what, self.name)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        have = os.path.getsize(path) - data_at
        if have < need:
            raise InputError(
                f"is truncated: its header promises shape {shape} of {dtype} ({need:,} bytes "
                f"of data) but the file holds {have:,}",
                "copy the file again, or save it again with np.save",
                source=self.name,
            )
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as e:
            if "pickle" in str(e).lower() or "object" in str(e).lower():
                raise _pickle_refused(self.name) from None
            raise InputError(
                f"is not a valid NPY file ({show(str(e), 100)})",
                "save it again with np.save",
                source=self.name,
            ) from None
        except (OSError, EOFError) as e:
            raise InputError(
                f"is not a readable NPY file ({show(str(e), 100)})",
                "check that the file is complete",
                source=self.name,
            ) from None
        if arr.dtype.names:  # a structured array: its fields are named columns
            self._fields = {n: arr[n] for n in arr.dtype.names}
            for n, a in self._fields.items():
                _check_shape(a.shape, f"field {show_cell(n)}", self.name)
        else:
            self._fields = {role: arr}
        self.columns = list(self._fields)
        self.n_rows = len(arr)

    def kind(self, column: str) -> str:
        return "numeric"

    def type_name(self, column: str) -> str:
        return str(self._fields[column].dtype)

    def width(self, column: str) -> int:
        a = self._fields[column]
        return 1 if a.ndim == 1 else int(a.shape[1])

    seekable = True

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        return self.batches_from(columns, 0)

    def batches_from(self, columns: list[str], start: int) -> Iterator[Batch]:
        return _mapped_batches({c: self._fields[c] for c in columns}, start, self.n_rows or 0)


def _stored(info: zipfile.ZipInfo) -> bool:
    """A zip member kept as plain bytes in the archive (not compressed, not encrypted)."""
    return info.compress_type == 0 and not info.flag_bits & 0x1  # 0: ZIP_STORED; 0x1: encrypted


class NpzSource(Source):
    """The arrays of an ``np.savez`` archive, each a column named by its key.

    Only the headers are read up front, and arrays the run does not use are never read. Arrays
    stored uncompressed (``np.savez``, the default) are memory-mapped in place like an NPY file;
    compressed ones (``np.savez_compressed``) are decompressed a batch of rows at a time, front
    to back. Either way memory does not grow with the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = display_name(path)
        import zipfile

        self._members: dict[str, zipfile.ZipInfo] = {}
        self._headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
        self._fortran: set[str] = set()  # arrays stored in Fortran (column-major) order
        self._arrays: dict[str, np.ndarray] = {}  # the arrays loaded so far
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                arrays = [i for i in members if i.filename.endswith(".npy")]
                if not arrays:
                    raise self._not_npz([i.filename for i in members])
                for info in arrays:
                    key = info.filename[: -len(".npy")]
                    self._members[key] = info
                    shape, fortran, dtype = self._check_member(zf, info, key)
                    self._headers[key] = shape, dtype
                    if fortran:
                        self._fortran.add(key)
                others = [i.filename for i in members if not i.filename.endswith(".npy")]
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise self._unreadable(e) from None
        if others:
            self.notes = (
                f"{self.name}: ignored {len(others)} member(s) that are not arrays "
                f"({show_names(others, 4)})",
            )
        self.columns = list(self._members)
        lengths = {shape[0] for shape, _ in self._headers.values()}
        self.n_rows = lengths.pop() if len(lengths) == 1 else None
        # Any row can be read first only when every array is mapped, not decompressed.
        self.seekable = all(_stored(info) for info in self._members.values())

    def _unreadable(self, e: BaseException) -> InputError:
        return InputError(
            f"is not a readable NPZ file ({show(str(e), 100)}): a zip archive cut short?",
            "copy it again, or save it again with np.savez",
            source=self.name,
        )

    def _not_npz(self, names: list[str]) -> InputError:
        if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
            return _unsupported("an Excel workbook (.xlsx)", self.name)
        if any(n.endswith("data.pkl") for n in names):
            return _unsupported("a PyTorch file (torch.save)", self.name)
        if not names:
            return InputError(
                "is an empty zip archive (no arrays)",
                "save the labels and predictions into it with np.savez",
                source=self.name,
            )
        return InputError(
            f"is a zip archive without NPY arrays inside (it holds {show_names(names, 4)})",
            "unzip it and pass the file inside, or save the arrays with np.savez",
            source=self.name,
        )

    def _check_member(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str
    ) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
        """A member's shape, Fortran order and dtype, refused (pickles first) before any data
        is read."""
        where = f"array {show_cell(key)}"
        with zf.open(info) as fp:
            shape, fortran, dtype = _read_npy_header(fp, f"{self.name}[{show(key, 40)}]")
        _check_dtype(dtype, where, f"{self.name}[{show(key, 40)}]")
        _check_shape(shape, where, self.name)
        if dtype.names:
            raise InputError(
                f"{where} is a structured array (fields {show_names(list(dtype.names))})",
                "save each field as an array of its own: np.savez(path, y_true=..., y_pred=...)",
                source=self.name,
            )
        return shape, fortran, dtype

    def _array(self, key: str) -> np.ndarray:
        arr = self._arrays.get(key)
        if arr is None:
            import zipfile

            try:
                arr = self._mapped(key)
                if arr is None:
                    with zipfile.ZipFile(self.path) as zf, zf.open(self._members[key]) as fp:
                        arr = np.lib.format.read_array(fp, allow_pickle=False)
            except ValueError as e:
                raise InputError(
                    f"array {show_cell(key)} is truncated or corrupt ({show(str(e), 100)})",
                    "save the archive again with np.savez",
                    source=self.name,
                ) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise self._unreadable(e) from None
            self._arrays[key] = arr
        return arr

    def _mapped(self, key: str) -> np.ndarray | None:
        """The member memory-mapped where it lies in the archive, if it is stored uncompressed
        and whole (None otherwise: it is read instead)."""
        info = self._members[key]
        if not _stored(info):
            return None
        with open(self.path, "rb") as fp:
            fp.seek(info.header_offset)
            local = fp.read(30)  # the local file header; its name and extra field follow
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                return None
            begin = info.header_offset + 30
            begin += int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            fp.seek(begin)
            shape, fortran, dtype = _read_npy_header(fp, self.name)
            data_at = fp.tell()
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size == 0 or data_at - begin + size > info.file_size:
            return None  # nothing to map, or cut short: the read reports it
        return np.memmap(
            self.path,
            dtype=dtype,
            mode="r",
            offset=data_at,
            shape=shape,
            order="F" if fortran else "C",
        )

    def kind(self, column: str) -> str:
        return "numeric"

    def type_name(self, column: str) -> str:
        return str(self._headers[column][1])

    def width(self, column: str) -> int:
        shape = self._headers[column][0]
        return 1 if len(shape) == 1 else int(shape[1])

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        return self.batches_from(columns, 0)

    def batches_from(self, columns: list[str], start: int) -> Iterator[Batch]:
        lengths = {c: self._headers[c][0][0] for c in columns}
        if len(set(lengths.values())) > 1:
            raise InputError(
                "holds arrays of different lengths: "
                + ", ".join(f"{show(c, 40)} has {n}" for c, n in lengths.items()),
                "save one entry per sample in every array",
                source=self.name,
            )
        n = next(iter(lengths.values()), 0)
        if self.seekable:
            yield from _mapped_batches({c: self._array(c) for c in columns}, start, n)
        else:
            yield from self._decompressed_batches(columns, start, n)

    def _decompressed_batches(self, columns: list[str], start: int, n: int) -> Iterator[Batch]:
        """Rows ``start..n``, each compressed array decompressed one batch of rows at a time (an
        array in Fortran order holds its rows scattered, so it is loaded whole instead)."""
        import contextlib
        import zipfile

        try:
            with contextlib.ExitStack() as stack:
                zf = stack.enter_context(zipfile.ZipFile(self.path))
                streams: dict[str, IO[bytes]] = {}
                whole: dict[str, np.ndarray] = {}
                for c in columns:
                    if _stored(self._members[c]) or c in self._fortran:
                        whole[c] = self._array(c)
                    else:
                        streams[c] = stack.enter_context(zf.open(self._members[c]))
                        _read_npy_header(streams[c], self.name)  # to where the data starts
                done: list[np.ndarray] = []
                for s in range(0, n, DECOMPRESSED_BATCH_ROWS):
                    rows = min(DECOMPRESSED_BATCH_ROWS, n - s)
                    batch = {c: a[s : s + rows] for c, a in whole.items()}
                    for c, fp in streams.items():
                        batch[c] = self._read_rows(fp, c, rows)
                    if s + rows > start:
                        yield {c: v[max(0, start - s) :] for c, v in batch.items()}
                    for view in done:  # a mapped array's rows, one batch behind
                        _release_pages(view)
                    done = [batch[c] for c in whole]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:  # a bad CRC, ...
            raise self._unreadable(e) from None

    def _read_rows(self, fp: IO[bytes], key: str, rows: int) -> np.ndarray:
        shape, dtype = self._headers[key]
        want = rows * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        data = fp.read(want)
        if len(data) < want:
            raise InputError(
                f"array {show_cell(key)} is truncated or corrupt (its header promises "
                f"{shape[0]:,} rows)",
                "save the archive again with np.savez",
                source=self.name,
            )
        return np.frombuffer(data, dtype=dtype).reshape((rows, *shape[1:]))


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    source: Source
    fmt: str


def open_source(path: str, role: str) -> Opened:
    """Open ``path`` ('-' for stdin) as a source; ``role`` names a bare NPY array."""
    if path == "-":
        return Opened(CsvSource(path), "csv")
    name = display_name(path)
    if os.path.isdir(path):
        raise InputError(
            "is a directory, not a file", f"give the path of a {FORMATS} file", source=name
        )
    if os.path.exists(path) and not _is_regular(path):
        # a pipe or a device (bce score <(zcat preds.csv.gz)): it can be read only once, so its
        # first bytes are not peeked at here; CSV text is the one format read from a stream
        return Opened(CsvSource(path), "csv")
    head = _read_head(path)
    fmt = sniff_format(path, head)
    if fmt == "npy":
        return Opened(NpySource(path, role), fmt)
    if fmt == "npz":
        return Opened(NpzSource(path), fmt)
    if fmt == "parquet":
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
    src = CsvSource(path, tab=fmt == "tsv", claimed=_BINARY_EXTENSIONS.get(ext))
    if src.claimed_note:
        src.notes = (*src.notes, src.claimed_note)
    return Opened(src, fmt)
