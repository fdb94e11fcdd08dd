"""CSV and TSV text, plain, gzip'd or from stdin, read with pyarrow's streaming reader.

A source is built in four steps, each a unit of its own: the input is opened (``_TextInput``:
a file, gzip'd or not, or stdin), its first MiB is read and checked to be text, the dialect is
found from it (``csv_dialect``: a frozen description of where the data starts and how it is
written), and pyarrow streams the data from there. Where pyarrow fails, ``csv_scan`` reads the
rows again to name the bad one."""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.arrow import column_from_arrow, distinct_strings
from bcecli.readers.base import FORMATS, Batch, Source, display_name
from bcecli.readers.cells import NULL_VALUES
from bcecli.readers.csv_dialect import (
    CSV_BLOCK_BYTES,
    PEEK_BYTES,
    Dialect,
    Head,
    SampleError,
    infer,
    is_numbered,
    read_header,
)
from bcecli.readers.csv_scan import READ_ERRORS, find_bad_row
from bcecli.readers.dataset import CsvDialect, Files
from bcecli.readers.detect import article, foreign, is_regular, unsupported
from bcecli.readers.display import show

# pyarrow's block while streaming: small blocks keep parsing and scoring overlapped and memory
# flat. A file whose first MiB holds a line this long gets CSV_BLOCK_BYTES blocks instead.
STREAM_BLOCK_BYTES = 1 << 20
LONG_LINE_BYTES = 1 << 18


class _TextInput:
    """The input's bytes: a file (gzip'd or not) or stdin, and the errors of reading it."""

    def __init__(self, path: str, name: str) -> None:
        self.name = name
        self.opened: os.stat_result | None = None  # a regular file's size and time when opened
        if path == "-":
            if sys.stdin is None:  # started with stdin closed (`bce score - <&-`)
                raise InputError(
                    "stdin is closed", "pipe the data in, e.g. cat preds.csv | bce score -"
                )
            raw: IO[bytes] = sys.stdin.buffer
        else:
            try:
                raw = open(path, "rb")  # noqa: SIM115 (closed in close())
                st = os.fstat(raw.fileno())
            except OSError as e:
                raise InputError(
                    f"cannot be read ({e.strerror})", "check the path", source=name
                ) from None
            if stat.S_ISREG(st.st_mode):
                self.opened = st
        self.raw, self.stream, self.gzipped = raw, raw, False
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if magic == b"\x1f\x8b":
            import gzip

            self.stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            self.gzipped = True

    def read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except READ_ERRORS as e:
            raise self.read_error(e, None) from None

    def changed(self, *, at_end: bool = False) -> InputError | None:
        """A regular file that was written to while it was read (a job rewriting its
        predictions in place while they are scored): its size or time is not what it was when
        opened, or (``at_end``: the reader has reached the end) the reader did not end where the
        file did. None: unchanged (or a pipe)."""
        if self.opened is None:
            return None
        try:
            now = os.fstat(self.raw.fileno())
            end = self.raw.tell()
        except (OSError, ValueError):
            return None
        was = self.opened
        if now.st_size == was.st_size and now.st_mtime_ns == was.st_mtime_ns:
            if not at_end or self.gzipped or end == was.st_size:
                return None
            now_size = end  # shrank and grew back, or the read ended early
        else:
            now_size = now.st_size
        if now_size < was.st_size:
            how = f"shrank from {was.st_size:,} to {now_size:,} bytes"
        elif now_size > was.st_size:
            how = f"grew from {was.st_size:,} to {now_size:,} bytes"
        else:
            how = "was rewritten (same size, new modification time)"
        return InputError(
            f"changed while it was read: it {how}, so its rows are not one version of the file",
            "score it once the program writing it has finished (or score a copy taken then)",
            source=self.name,
        )

    def read_error(self, e: BaseException, rows_done: int | None) -> InputError:
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

    def close(self) -> None:
        for f in (self.stream, self.raw):
            try:
                f.close()
            except READ_ERRORS:
                pass


class CsvSource(Source):
    """CSV or TSV text, plain or gzip'd, from a file or stdin.

    The first MiB is read up front: BOM, leading ``#`` comment lines and an Excel ``sep=`` line
    are skipped, the delimiter and the header are found, and pyarrow infers the column types
    from complete lines. Then pyarrow streams the rest from where the data starts.
    """

    fmt_text = True

    def __init__(
        self,
        path: str,
        *,
        tab: bool = False,
        claimed: str | None = None,
        header: bool | None = None,
        index_col: bool | None = None,
    ) -> None:
        self.path = path
        self.name = display_name(path)
        self.regular = path != "-" and is_regular(path)  # can be opened again to find an error
        self._input = _TextInput(path, self.name)
        try:
            head = Head(self._input.read)
            self._check_text(head.data, claimed)
            dialect, notes = read_header(head, tab=tab, source=self.name, header=header)
            try:
                sniffed = infer(head, dialect, notes, source=self.name, index_col=index_col)
            except SampleError as e:
                data = head.data[e.dialect.data_offset :]
                raise self._arrow_error(e.error, 0, (), e.dialect, data) from None
        except BaseException:
            self.close()
            raise
        self.dialect: Dialect = sniffed.dialect
        self._kinds = sniffed.kinds
        self._texts = sniffed.texts or {}
        self._data = sniffed.data  # the data rows read so far, streamed first
        self.index_column = sniffed.index_column  # pandas' index: not offered as a column
        self.columns = [c for c in self.dialect.columns if c != self.index_column]
        self.positional = self.dialect.positional
        self.header_open = bool(self.dialect.first_cells)
        self.numbered_header = self.dialect.has_header and is_numbered(
            list(self.dialect.header_cells)
        )
        self.notes = sniffed.notes
        if claimed is not None:
            self.notes += (
                f"{self.name}: not {article(claimed)} {claimed} file despite its name (no "
                f"{claimed} signature); read as CSV text",
            )
        if head.exhausted:
            if sniffed.peek_rows == 0:
                self.close()
                raise InputError(
                    "has a header but no data rows",
                    "write one row per sample under the header",
                    source=self.name,
                )
            self.n_rows = sniffed.peek_rows

    def _check_text(self, head: bytes, claimed: str | None) -> None:
        """Refuse what is not UTF-8 text: empty input, UTF-16, binary formats arriving gzip'd
        or through a pipe, binary data."""
        if not head.strip():
            raise InputError(
                "is empty"
                + (" (after decompression)" if self._input.gzipped and head == b"" else ""),
                "write the labels and predictions into it (a header line, then one row per sample)",
                source=self.name,
            )
        wide = _wide_encoding(head)
        if wide is not None:
            encoding, bom = wide
            what = f"{encoding} text" + ("" if bom else " without a byte order mark")
            if encoding.startswith("UTF-16") and bom:
                what += " (Excel's 'Unicode Text')"
            raise InputError(
                f"is {what}, not UTF-8",
                f"save it as 'CSV UTF-8', or convert it: iconv -f {encoding} -t UTF-8",
                source=self.name,
            )
        # Files are sniffed before they get here; these arrive gzip'd or through a pipe.
        inner = {b"\x93NUMPY": "an NPY file", b"PAR1": "a Parquet file", b"PK": "a zip file"}
        for magic, what in inner.items():
            if head.startswith(magic):
                if self._input.gzipped:
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
                    f"is not {article(claimed)} {claimed} file (it does not start with the "
                    f"{claimed} signature) and is not text either",
                    "check that the file is complete, or save it again",
                    source=self.name,
                )
            known = foreign(head)
            if known is not None:
                raise unsupported(known, self.name)
            raise InputError(
                "is binary data, not CSV text",
                f"give a {FORMATS} file (is the extension right?)",
                source=self.name,
            )

    # -- what the source holds -------------------------------------------------------------

    def kind(self, column: str) -> str:
        return self._kinds.get(column, "numeric")

    def type_name(self, column: str) -> str:
        return {"string": "text", "empty": "no values"}.get(self.kind(column), self.kind(column))

    def width(self, column: str) -> int:
        return 1

    def text_values(self, column: str) -> tuple[str, ...] | None:
        return self._texts.get(column)

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        if not self.regular:
            return None
        import pyarrow as pa
        import pyarrow.csv as pacsv

        d = self.dialect
        stream = self._scan_stream(d, b"")
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=d.read_options(self._stream_block_bytes()),
                parse_options=d.parse_options(),
                convert_options=d.convert_options(
                    include_columns=[column], column_types={column: pa.string()}
                ),
            )
            return distinct_strings((batch.column(0) for batch in reader), limit)
        except (pa.ArrowInvalid, *READ_ERRORS):
            return None  # the scoring's own read names the problem
        finally:
            stream.close()

    def text_problem(self, column: str) -> tuple[str, str] | None:
        # the same scan as after a parse error, so a repeated header or a comment line is named
        return self._find_bad_row(0, (column,), must_be_numbers=(column,))

    def files(self, columns: list[str]) -> Files | None:
        if not self.regular:  # a pipe: read once, here
            return None
        d = self.dialect
        dialect = CsvDialect(
            delimiter=d.delimiter,
            header=d.has_header,
            skip_lines=d.lines_before,
            decimal_comma=d.decimal_comma,
            columns=d.columns,
            numeric=frozenset(c for c in d.columns if self.kind(c) in ("numeric", "empty")),
            null_values=NULL_VALUES,
        )
        name = os.path.basename(self.path)
        return Files("csv", (self.path,), (name,), (self.n_rows,), False, dialect)

    # -- streaming -------------------------------------------------------------------------

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        types = {}
        for c in columns:
            k = self.kind(c)
            types[c] = pa.bool_() if k == "bool" else pa.string() if k == "string" else pa.float64()
        stream = io.BufferedReader(_Replay(self._data, self._input.stream), buffer_size=1 << 20)
        d = self.dialect
        done = 0
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=d.read_options(self._stream_block_bytes()),
                parse_options=d.parse_options(),
                convert_options=d.convert_options(include_columns=columns, column_types=types),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    changed = self._input.changed(at_end=True)
                    if changed is not None:
                        raise changed from None
                    return
                out: Batch = {}
                for name, col in zip(batch.schema.names, batch.columns, strict=True):
                    out[name] = column_from_arrow(col)
                done += batch.num_rows
                yield out
        except LongLine as e:
            raise self._long_line(e.offset, done) from None
        except (pa.ArrowInvalid, *READ_ERRORS) as e:
            raise self._arrow_error(e, done, columns, d, self._data) from None

    def _long_line(
        self, offset: int | None, rows_done: int, limit: int = CSV_BLOCK_BYTES
    ) -> InputError:
        """The error for a line longer than ``limit`` bytes, ``offset`` bytes into the data
        (None: the first such line after the first MiB), with its line number where the file
        can be read again to count them."""
        where = f"a line after row {rows_done:,}"
        if self.regular:
            found = _find_line(self._scan_stream(self.dialect, b""), offset, limit)
            if found is not None:
                where = f"line {self.dialect.data_line + found:,}"
        if limit == CSV_BLOCK_BYTES:
            return InputError(
                f"{where} is longer than {limit >> 20} MiB",
                "is this really a CSV file? one line per sample is expected",
                source=self.name,
            )
        return InputError(
            f"{where} is longer than {limit >> 20} MiB, the longest bce reads past the "
            f"first MiB of a file (within it, lines of up to {CSV_BLOCK_BYTES >> 20} MiB)",
            "shorten that line's cells (keep long text out of the file), or drop the column",
            source=self.name,
        )

    def _stream_block_bytes(self) -> int:
        """Small blocks, unless the first lines show that lines can be very long."""
        data = np.frombuffer(self._data, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        bounds = np.concatenate([[-1], ends, [len(data)]])
        longest = int(np.diff(bounds).max()) if len(bounds) > 1 else len(data)
        return CSV_BLOCK_BYTES if longest > LONG_LINE_BYTES else STREAM_BLOCK_BYTES

    # -- the error path --------------------------------------------------------------------

    def _arrow_error(
        self,
        e: BaseException,
        rows_done: int,
        wanted: Iterable[str],
        dialect: Dialect,
        data: bytes,
    ) -> InputError:
        """Turn a pyarrow failure into one line naming the row (and cell) it happened at."""
        import pyarrow as pa

        changed = self._input.changed()
        if changed is not None:
            return changed
        if not isinstance(e, pa.ArrowInvalid):
            return self._input.read_error(e, rows_done)
        if "straddling object" in str(e):  # a line longer than two of pyarrow's blocks
            return self._long_line(None, rows_done, self._stream_block_bytes())
        found = self._find_bad_row(rows_done, wanted, dialect=dialect, data=data)
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

    def _find_bad_row(
        self,
        rows_done: int,
        wanted: Iterable[str],
        *,
        must_be_numbers: Iterable[str] = (),
        dialect: Dialect | None = None,
        data: bytes | None = None,
    ) -> tuple[str, str] | None:
        """The first bad row at or after ``rows_done`` in the columns ``wanted``."""
        dialect = dialect or self.dialect
        wanted_set, numbers = frozenset(wanted), frozenset(must_be_numbers)

        def needs_number(name: str) -> bool:
            if name not in wanted_set:
                return False
            return self.kind(name) in ("numeric", "empty") or name in numbers

        stream = self._scan_stream(dialect, self._data if data is None else data)
        return find_bad_row(
            stream, dialect, wanted=wanted_set, needs_number=needs_number, rows_done=rows_done
        )

    def _scan_stream(self, dialect: Dialect, data: bytes) -> IO[bytes]:
        """The input again from where the data starts (a pipe: only the part already read)."""
        if not self.regular:
            return io.BytesIO(data)
        f: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed by the scan)
        if self._input.gzipped:
            import gzip

            f = gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[assignment]
        f.read(dialect.data_offset)
        return f

    def close(self) -> None:
        if self.path != "-" and hasattr(self, "_input"):
            self._input.close()


def _wide_encoding(head: bytes) -> tuple[str, bool] | None:
    """UTF-32 or UTF-16 text, by its byte order mark or, without one, by where the zero bytes
    of ASCII text written in it fall: (the encoding, as iconv names it; whether a mark was
    found). UTF-32's marks are tested first: UTF-16 LE's is a prefix of UTF-32 LE's."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if head.startswith(bom):
            return name, True
    sample = head[:4096]
    sample = sample[: len(sample) // 4 * 4]
    if len(sample) < 8 or b"\x00" not in sample:  # UTF-8 text holds no zero byte
        return None
    # (width, where the character's low byte is, name): ASCII text leaves every other byte 0
    for width, low, name in ((4, 0, "UTF-32LE"), (4, 3, "UTF-32BE"), (2, 0, "UTF-16LE"),
                             (2, 1, "UTF-16BE")):  # fmt: skip
        chars = sample[low::width]
        rest = bytes(b for i, b in enumerate(sample) if i % width != low)
        if rest.count(0) >= 0.9 * len(rest) and _ascii_text(chars):
            return name, False
    return None


def _find_line(stream: IO[bytes], offset: int | None, limit: int) -> int | None:
    """How many lines come before the one at byte ``offset`` of ``stream`` (None: before the
    first line longer than ``limit`` bytes past the first MiB); None if not found."""
    lines, at, start = 0, 0, 0
    with stream as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return None
            if offset is not None and at + len(block) > offset:
                return lines + block.count(b"\n", 0, offset - at)
            pos = 0
            while offset is None:
                nl = block.find(b"\n", pos)
                end = at + (len(block) if nl < 0 else nl)
                if end - start > limit and start >= PEEK_BYTES:
                    return lines
                if nl < 0:
                    break
                lines, start, pos = lines + 1, at + nl + 1, nl + 1
            if offset is not None:
                lines += block.count(b"\n")
            at += len(block)


def _ascii_text(data: bytes) -> bool:
    """Nearly every byte is printable ASCII, a tab or a line end."""
    text = sum(1 for c in data if c in (9, 10, 13) or 32 <= c < 127)
    return text >= 0.95 * len(data)


class LongLine(Exception):
    """A line longer than ``CSV_BLOCK_BYTES`` starts ``offset`` bytes into the data."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class _Replay(io.RawIOBase):
    """A stream that first replays bytes already read, then continues from the source; a line
    longer than ``CSV_BLOCK_BYTES`` anywhere in it is a ``LongLine`` (pyarrow would grow its
    block to hold it, a 1 GiB line taking 2 GB)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._at = 0  # bytes passed on so far
        self._line_start = 0  # where the line being passed on started

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            self._watch(bytes(b[:n]))
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        self._watch(data)
        return len(data)

    def _watch(self, data: bytes) -> None:
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))  # two memrchr: no cost to measure
        if last < 0:
            if self._at + len(data) - self._line_start > CSV_BLOCK_BYTES:
                raise LongLine(self._line_start)
        else:
            first = min(i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0)
            if self._at + first - self._line_start > CSV_BLOCK_BYTES:
                raise LongLine(self._line_start)
            self._line_start = self._at + last + 1
        self._at += len(data)
