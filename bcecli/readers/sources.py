"""One input file as a stream of column batches: CSV/TSV (plain, gzip'd or stdin), Parquet,
NPY and NPZ.

A source knows its column names up front, hands out the first rows for task detection, then
streams batches of ``{column: 1-D or 2-D float array}``. Formats are found by extension and
confirmed by the file's first bytes. NPY is memory-mapped; pickled arrays are always refused.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import sys
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from bcecli.errors import InputError

PEEK_BYTES = 1 << 20
CSV_BLOCK_BYTES = 1 << 24
NULL_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "#N/A", "-"]

Batch = dict[str, np.ndarray]


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


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
    lower = path.lower()
    for ext in (".gz", ".gzip"):
        if lower.endswith(ext):
            lower = lower[: -len(ext)]
    if lower.endswith((".tsv", ".tab")):
        return "tsv"
    return "csv"


def _read_head(path: str, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except IsADirectoryError:
        raise InputError(
            "is a directory, not a file", "give the path of a CSV, TSV, NPY, NPZ or Parquet file",
            source=path,
        ) from None
    except PermissionError:
        raise InputError(
            "cannot be read (permission denied)", "check the file's permissions", source=path
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

    @abstractmethod
    def kind(self, column: str) -> str:
        """'numeric', 'bool', 'string' or 'other' (nested, binary ...)."""

    @abstractmethod
    def width(self, column: str) -> int:
        """How many outputs a column holds (2-D arrays hold several)."""

    @abstractmethod
    def batches(self, columns: list[str]) -> Iterator[Batch]:
        """The chosen columns, batch after batch, as float64 (strings as object arrays)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass


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


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


class CsvSource(Source):
    def __init__(self, path: str, *, tab: bool = False) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self._pa, self._pacsv = pa, pacsv
        self.path = path
        self.name = display_name(path)
        self._stream = self._open()
        try:
            head = self._stream.read(PEEK_BYTES)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise InputError(
                f"cannot be decompressed ({e})", "check that the file is complete",
                source=self.name,
            ) from None
        if not head.strip():
            raise InputError("is empty", "write the labels and predictions into it",
                             source=self.name)
        if b"\x00" in head[:4096]:
            raise InputError(
                "is binary data, not CSV text",
                "give a CSV, TSV, NPY, NPZ or Parquet file", source=self.name,
            )
        self._head = head
        text = head.decode("utf-8-sig", errors="replace")
        first_line = text.splitlines()[0] if text.splitlines() else ""
        self.delimiter = _sniff_delimiter(first_line, "\t" if tab else ",")
        header = next(csv.reader([first_line], delimiter=self.delimiter))
        notes = []
        if self.delimiter not in (",", "\t"):
            notes.append(f"{self.name}: columns separated by {self.delimiter!r}")
        self.has_header = not all(_looks_numeric(c) for c in header if c.strip())
        if self.has_header:
            names = [h.strip() for h in header]
        else:
            names = [f"column_{i + 1}" for i in range(len(header))]
            notes.append(f"{self.name}: no header row; columns named column_1 .. column_"
                         f"{len(header)}")
        self._check_names(names)
        for i, nm in enumerate(names):
            if not nm:
                names[i] = f"column_{i + 1}"
                notes.append(f"{self.name}: column {i + 1} has no name; called {names[i]}")
        self.columns = names
        self.notes = tuple(notes)
        self._kinds = self._infer_kinds()

    def _open(self) -> IO[bytes]:
        if self.path == "-":
            raw: IO[bytes] = sys.stdin.buffer
        else:
            raw = open(self.path, "rb")  # noqa: SIM115 (closed in close())
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if magic == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw

    def _check_names(self, names: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, nm in enumerate(names):
            if nm and nm in seen:
                raise InputError(
                    f"column name {nm!r} appears twice (columns {seen[nm] + 1} and {i + 1})",
                    "rename one of them",
                    source=self.name,
                )
            seen[nm] = i

    def _read_options(self, block_size: int) -> Any:
        return self._pacsv.ReadOptions(
            block_size=block_size,
            use_threads=True,
            column_names=self.columns,
            skip_rows=1 if self.has_header else 0,
        )

    def _parse_options(self) -> Any:
        return self._pacsv.ParseOptions(delimiter=self.delimiter)

    def _infer_kinds(self) -> dict[str, str]:
        pa = self._pa
        # Parse only complete lines of the peeked bytes for type inference.
        cut = self._head.rfind(b"\n")
        sample = self._head if cut < 0 else self._head[: cut + 1]
        try:
            table = self._pacsv.read_csv(
                io.BytesIO(sample),
                read_options=self._read_options(max(len(sample), 1)),
                parse_options=self._parse_options(),
                convert_options=self._pacsv.ConvertOptions(
                    null_values=NULL_VALUES, strings_can_be_null=True
                ),
            )
        except pa.ArrowInvalid as e:
            raise self._arrow_error(e, 0) from None
        kinds = {}
        for name, col in zip(table.column_names, table.columns, strict=True):
            t = col.type
            if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_null(t):
                kinds[name] = "numeric"
            elif pa.types.is_boolean(t):
                kinds[name] = "bool"
            else:
                kinds[name] = "string"
        self.peek_rows = table.num_rows
        return kinds

    def kind(self, column: str) -> str:
        return self._kinds.get(column, "numeric")

    def width(self, column: str) -> int:
        return 1

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        pa, pacsv = self._pa, self._pacsv
        types = {}
        for c in columns:
            k = self.kind(c)
            types[c] = pa.float64() if k == "numeric" else pa.bool_() if k == "bool" else pa.string()
        reader = pacsv.open_csv(
            io.BufferedReader(_Replay(self._head, self._stream), buffer_size=1 << 20),
            read_options=self._read_options(CSV_BLOCK_BYTES),
            parse_options=self._parse_options(),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types=types,
                null_values=NULL_VALUES,
                strings_can_be_null=True,
            ),
        )
        done = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError, EOFError) as e:
                raise self._arrow_error(e, done) from None
            out: Batch = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                out[name] = _arrow_to_numpy(col)
            done += batch.num_rows
            yield out

    def _arrow_error(self, e: Exception, rows_done: int) -> InputError:
        """Turn a pyarrow parse error into one line with the row it happened at."""
        msg = str(e).split("\n")[0]
        if isinstance(e, (OSError, EOFError)) and "Arrow" not in type(e).__name__:
            return InputError(
                f"cannot be read past row {rows_done} ({msg})",
                "check that the file is complete (a truncated gzip?)",
                source=self.name,
            )
        found = self._locate_bad_row(rows_done)
        if found:
            return InputError(found, "fix that cell or row, then run again", source=self.name)
        return InputError(f"cannot be parsed after row {rows_done}: {msg}",
                          "check the file's format", source=self.name)

    def _locate_bad_row(self, rows_done: int) -> str | None:
        """Scan the rows after ``rows_done`` with Python's csv module to name the bad cell."""
        if self.path == "-":
            return None
        try:
            f = gzip.open(self.path, "rt", encoding="utf-8-sig", errors="replace") \
                if _is_gzip(self.path) else open(self.path, encoding="utf-8-sig", errors="replace")
            with f:
                reader = csv.reader(f, delimiter=self.delimiter)
                if self.has_header:
                    next(reader, None)
                width = len(self.columns)
                for row_no, row in enumerate(reader):
                    if row_no < rows_done:
                        continue
                    if not row:
                        continue
                    if len(row) != width:
                        return (f"row {row_no} has {len(row)} fields, the header has {width} "
                                f"(line {row_no + 1 + self.has_header})")
                    for name, cell in zip(self.columns, row, strict=True):
                        if self._kinds.get(name) == "numeric" and cell.strip() not in NULL_VALUES \
                                and not _looks_numeric(cell):
                            return f"row {row_no}, column {name}: {cell[:40]!r} is not a number"
                    if row_no > rows_done + 5_000_000:
                        break
        except (OSError, EOFError, gzip.BadGzipFile, csv.Error):
            return None
        return None

    def close(self) -> None:
        if self.path != "-":
            self._stream.close()


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _arrow_to_numpy(col: Any) -> np.ndarray:
    import pyarrow as pa

    t = col.type
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_boolean(t):
        arr = col.to_numpy(zero_copy_only=False)
        return np.where(np.equal(arr, None), np.nan, arr).astype(np.float64)
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
        self.path = self.name = path
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(
                f"is not a readable Parquet file ({str(e).splitlines()[0]})",
                "check that the file is complete",
                source=path,
            ) from None
        schema = self._file.schema_arrow
        self.columns = list(schema.names)
        self.n_rows = self._file.metadata.num_rows
        self._types = {f.name: f.type for f in schema}

    def kind(self, column: str) -> str:
        pa, t = self._pa, self._types[column]
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
            return "numeric"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
            return "string"
        return "other"

    def width(self, column: str) -> int:
        return 1

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        for c in columns:
            if self.kind(c) == "other":
                raise InputError(
                    f"column {c} has type {self._types[c]}, not numbers",
                    "flatten it into one numeric column per output",
                    source=self.name,
                )
        try:
            for batch in self._file.iter_batches(batch_size=1 << 20, columns=columns):
                yield {n: _arrow_to_numpy(col.cast(self._pa.float64())
                                          if self.kind(n) == "numeric" else col)
                       for n, col in zip(batch.schema.names, batch.columns, strict=True)}
        except (self._pa.ArrowInvalid, OSError) as e:
            raise InputError(
                f"cannot be read ({str(e).splitlines()[0]})", "check that the file is complete",
                source=self.name,
            ) from None


# --------------------------------------------------------------------------------------------
# NPY / NPZ


def _check_array(arr: np.ndarray, name: str, source: str) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        what = {"O": "Python objects", "U": "text", "S": "bytes", "c": "complex numbers",
                "V": "records"}.get(arr.dtype.kind, str(arr.dtype))
        raise InputError(
            f"{name} holds {what} (dtype {arr.dtype}), not numbers",
            "save a float array, e.g. np.save(path, preds.astype('float32'))",
            source=source,
        )
    if arr.ndim == 0:
        raise InputError(f"{name} is a single number (shape ())",
                         "save one value per sample, shape (n,) or (n, K)", source=source)
    if arr.ndim > 2:
        raise InputError(
            f"{name} has shape {arr.shape}; expected (n,) or (n, K)",
            "reshape it to one row per sample, e.g. arr.reshape(len(arr), -1)",
            source=source,
        )
    return arr


def _pickle_refused(source: str) -> InputError:
    return InputError(
        "holds pickled Python objects, which bce never loads (loading a pickle can run code)",
        "save a plain numeric array: np.save(path, np.asarray(values, dtype='float64'))",
        source=source,
    )


class NpySource(Source):
    def __init__(self, path: str, role: str) -> None:
        self.path = self.name = path
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as e:
            if "pickle" in str(e).lower() or "object" in str(e).lower():
                raise _pickle_refused(path) from None
            raise InputError(f"is not a valid NPY file ({e})", "re-save it with np.save",
                             source=path) from None
        except (OSError, EOFError) as e:
            raise InputError(f"is not a readable NPY file ({e})",
                             "check that the file is complete", source=path) from None
        if arr.dtype.names:  # a structured array: its fields are named columns
            self._fields = {n: arr[n] for n in arr.dtype.names}
        else:
            self._fields = {role: arr}
        for n, a in self._fields.items():
            _check_array(a, f"array {n}" if arr.dtype.names else "the array", path)
        self.columns = list(self._fields)
        self.n_rows = len(arr)

    def kind(self, column: str) -> str:
        return "numeric"

    def width(self, column: str) -> int:
        a = self._fields[column]
        return 1 if a.ndim == 1 else int(a.shape[1])

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        step = 1 << 20
        n = self.n_rows or 0
        for s in range(0, n, step):
            yield {c: self._fields[c][s : s + step] for c in columns}


class NpzSource(Source):
    def __init__(self, path: str) -> None:
        self.path = self.name = path
        try:
            z = np.load(path, allow_pickle=False)
            self._arrays = {}
            for key in z.files:
                try:
                    self._arrays[key] = z[key]
                except ValueError as e:
                    if "pickle" in str(e).lower() or "object" in str(e).lower():
                        raise _pickle_refused(f"{path}[{key}]") from None
                    raise
        except InputError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"is not a readable NPZ file ({e})",
                             "check that the file is complete", source=path) from None
        if not self._arrays:
            raise InputError("holds no arrays", "save labels and predictions into it",
                             source=path)
        for k, a in self._arrays.items():
            _check_array(a, f"array {k!r}", path)
        self.columns = list(self._arrays)
        lengths = {len(a) for a in self._arrays.values()}
        self.n_rows = lengths.pop() if len(lengths) == 1 else None

    def kind(self, column: str) -> str:
        return "numeric"

    def width(self, column: str) -> int:
        a = self._arrays[column]
        return 1 if a.ndim == 1 else int(a.shape[1])

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        lengths = {c: len(self._arrays[c]) for c in columns}
        if len(set(lengths.values())) > 1:
            raise InputError(
                "arrays of different lengths: "
                + ", ".join(f"{c} has {n}" for c, n in lengths.items()),
                "save one entry per sample in every array",
                source=self.name,
            )
        n = next(iter(lengths.values()), 0)
        step = 1 << 20
        for s in range(0, n, step):
            yield {c: self._arrays[c][s : s + step] for c in columns}


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    source: Source
    fmt: str


def open_source(path: str, role: str) -> Opened:
    """Open ``path`` ('-' for stdin) as a source; ``role`` names a bare NPY array."""
    if path == "-":
        return Opened(CsvSource(path), "csv")
    if os.path.isdir(path):
        raise InputError(
            "is a directory, not a file",
            "give the path of a CSV, TSV, NPY, NPZ or Parquet file", source=path,
        )
    fmt = sniff_format(path, _read_head(path))
    if fmt == "npy":
        return Opened(NpySource(path, role), fmt)
    if fmt == "npz":
        return Opened(NpzSource(path), fmt)
    if fmt == "parquet":
        return Opened(ParquetSource(path), fmt)
    return Opened(CsvSource(path, tab=fmt == "tsv"), fmt)
