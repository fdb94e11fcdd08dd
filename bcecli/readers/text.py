"""CSV and TSV text, plain, gzip'd or from stdin, read with pyarrow's streaming reader."""

from __future__ import annotations

import codecs
import io
import os
import re
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.dataset import CsvDialect, Files
from bcecli.readers.display import show, show_cell
from bcecli.readers.sources import (
    _NUMBER_DECIMAL_COMMA,
    FORMATS,
    Batch,
    Source,
    _article,
    _foreign,
    _is_number,
    _is_regular,
    _looks_numeric,
    _unsupported,
    column_from_arrow,
    display_name,
    not_a_number_fix,
)

PEEK_BYTES = 1 << 20  # read up front: header, type inference, error scans on stdin
CSV_BLOCK_BYTES = 1 << 24  # the longest CSV line bce reads (a pyarrow block must hold it)
# pyarrow's block while streaming: small blocks keep parsing and scoring overlapped and memory
# flat (measured on 10M rows: 1 MiB blocks 0.75 s / 177 MB peak, 16 MiB blocks 1.09 s / 437 MB).
# A file whose first MiB holds a line this long gets CSV_BLOCK_BYTES blocks instead.
STREAM_BLOCK_BYTES = 1 << 20
LONG_LINE_BYTES = 1 << 18
NULL_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "#N/A", "-"]


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

    def dialect(self) -> CsvDialect:
        """How the file is written, for another CSV reader."""
        numeric = {c for c in self.columns if self.kind(c) in ("numeric", "empty")}
        return CsvDialect(
            delimiter=self.delimiter,
            header=self.has_header,
            skip_lines=self._lines_before,
            decimal_comma=self.decimal_comma,
            columns=tuple(self.columns),
            numeric=frozenset(numeric),
            null_values=tuple(NULL_VALUES),
        )

    def files(self, columns: list[str]) -> Files | None:
        if not self.regular:  # a pipe: read once, here
            return None
        name = os.path.basename(self.path)
        return Files("csv", (self.path,), (name,), (self.n_rows,), False, self.dialect())

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
                out[name] = column_from_arrow(col)
            done += batch.num_rows
            yield out

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
