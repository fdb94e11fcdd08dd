"""How a CSV or TSV file is written, found once from its first MiB: what comes before the
header (a BOM, '#' comment lines, an Excel 'sep=' line), the delimiter, whether the first line
names the columns, the decimal mark, and each column's kind. The result is frozen: reading the
file afterwards changes none of it."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bcecli.errors import InputError, OptionError
from bcecli.readers.cells import NULL_VALUES, is_decimal_comma_number, looks_numeric
from bcecli.readers.display import show_cell

PEEK_BYTES = 1 << 20  # read up front: header, type inference, error scans on stdin
CSV_BLOCK_BYTES = 1 << 24  # the longest CSV line bce reads (a pyarrow block must hold it)
DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "pipes"}
_LINE_END_BYTES = re.compile(rb"\r\n|\n|\r")
MAX_TEXT_VALUES = 1000  # a text column with more distinct values is not read as class names


class Head:
    """The input's first bytes, read up front and grown a block at a time where a line does
    not fit (``read`` reads on from the input)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.data = read(PEEK_BYTES)
        self.exhausted = len(self.data) < PEEK_BYTES  # the whole input is in ``data``

    def line(self, pos: int, number: int, source: str) -> tuple[bytes, int]:
        """Line ``number`` (1-based, for messages), starting at ``pos``, without its end, and
        where the next line starts."""
        while True:
            m = _LINE_END_BYTES.search(self.data, pos)
            if m is not None and (m.end() < len(self.data) or self.exhausted):
                return self.data[pos : m.start()], m.end()
            if self.exhausted:
                return self.data[pos:], len(self.data)
            if len(self.data) - pos > CSV_BLOCK_BYTES:
                start = self.data[pos : pos + 30].decode("utf-8", "replace")
                raise InputError(
                    f"line {number} is longer than {CSV_BLOCK_BYTES >> 20} MiB "
                    f"(it starts {show_cell(start)})",
                    "is this really a CSV file? one line per sample is expected",
                    source=source,
                )
            extra = self._read(PEEK_BYTES)
            self.exhausted = len(extra) < PEEK_BYTES
            self.data += extra


@dataclass(frozen=True)
class Dialect:
    """Where the data starts and how its cells are written."""

    delimiter: str
    has_header: bool
    header_cells: tuple[str, ...]  # the header's cells as written (empty without a header)
    columns: tuple[str, ...]  # every column's name (column_N where the file has none)
    lines_before: int  # lines before the header or first row (comments, 'sep=')
    data_offset: int  # where the first data row starts, in bytes of the (decompressed) input
    data_line: int  # the first data row's line number (1-based)
    positional: bool  # no header: columns are known by position only
    decimal_comma: bool = False
    # The first line is 0 .. K-1 (pandas' names for a frame's columns) and is read as data for
    # now: a header or a data row, decided from the rows below it (``infer``) or the other file.
    first_cells: tuple[str, ...] = ()
    after_first_line: int = 0  # where the line after the first starts

    def read_options(self, block_size: int, *, threads: bool = True) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.ReadOptions(
            block_size=block_size, use_threads=threads, column_names=list(self.columns)
        )

    def parse_options(self) -> Any:
        import pyarrow.csv as pacsv

        # A quoted cell may hold a line end; allowing it costs the streaming reader nothing
        # measurable, and without it a quoted line end at one of its block boundaries stopped
        # the run ("parser got out of sync with chunker").
        return pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)

    def convert_options(self, **kw: Any) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.ConvertOptions(
            null_values=list(NULL_VALUES),
            strings_can_be_null=True,
            decimal_point="," if self.decimal_comma else ".",
            **kw,
        )


@dataclass(frozen=True)
class Sniffed:
    """What the first MiB says: the dialect, each column's kind, and the notes for the
    report."""

    dialect: Dialect
    kinds: dict[str, str]  # 'numeric', 'bool', 'string' or 'empty' (no value at all)
    peek_rows: int  # complete data rows in ``data``
    data: bytes  # the data rows read so far (from the dialect's data_offset)
    notes: tuple[str, ...]
    index_column: str | None = None  # pandas' index: skipped
    texts: dict[str, tuple[str, ...]] | None = None  # a text column's distinct values (few)


class SampleError(Exception):
    """pyarrow could not parse the first rows under ``dialect`` (the caller names the bad
    row)."""

    def __init__(self, dialect: Dialect, error: Exception) -> None:
        super().__init__(error)
        self.dialect = dialect
        self.error = error


def read_header(
    head: Head, *, tab: bool, source: str, header: bool | None = None
) -> tuple[Dialect, list[str]]:
    """The lines before the data: comments and 'sep=' skipped, then the header (or, where
    the first line holds numbers, no header); and the notes for the report. A TSV file's
    default delimiter is a tab. ``header``: the user's word (None: decided here, and for a
    first line 0 .. K-1 by ``infer`` from the rows below it)."""
    pos = len(codecs.BOM_UTF8) if head.data.startswith(codecs.BOM_UTF8) else 0
    lines_before = 0
    delimiter: str | None = None
    comments = 0
    notes: list[str] = []
    while True:
        if pos >= len(head.data) and head.exhausted:
            raise InputError(
                f"holds no header and no data (only {comments} comment line(s))",
                "write the labels and predictions into it",
                source=source,
            )
        line, nxt = head.line(pos, lines_before + 1, source)
        stripped = line.strip()
        if stripped.startswith(b"#"):
            comments += 1
        elif lines_before == 0 and re.fullmatch(rb"sep=.", stripped):
            delimiter = chr(stripped[-1])
            notes.append(f"{source}: delimiter {delimiter!r} from its 'sep=' line")
        elif stripped:
            break
        pos = nxt
        lines_before += 1
    if comments:
        notes.append(f"{source}: skipped {comments} comment line(s) at the top")
    line, nxt, header_lines = _quoted_line_ends(head, pos, line, nxt, lines_before, source)
    try:
        first_line = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"line {lines_before + 1} is not UTF-8 text (byte 0x{line[e.start]:02x} in "
            f"{show_cell(line.decode('utf-8', 'surrogateescape'))})",
            "save the file as UTF-8 (in Excel: 'CSV UTF-8'), or convert it: "
            "iconv -f LATIN1 -t UTF-8",
            source=source,
        ) from None
    sep = delimiter or _sniff_delimiter(first_line, "\t" if tab else ",")
    if sep not in (",", "\t") and delimiter is None:
        notes.append(f"{source}: columns separated by {DELIMITER_NAMES[sep]}")
    limit = csv.field_size_limit(CSV_BLOCK_BYTES)  # a long column name, as pyarrow reads it
    try:
        row = next(csv.reader([first_line], delimiter=sep))
    except (csv.Error, StopIteration) as e:
        raise InputError(
            f"line {lines_before + 1} (the header) cannot be parsed ({e})",
            "check the quotes in the header",
            source=source,
        ) from None
    finally:
        csv.field_size_limit(limit)
    cells = [h.strip() for h in row]
    numbered = header is None and is_numbered(cells)
    if header is not None:
        has_header = header
    else:
        has_header = not numbered and (
            any(c and not looks_numeric(c) for c in cells) or not any(cells)
        )
    if has_header:
        names = list(cells)
        data_offset, data_line = nxt, lines_before + 1 + header_lines
        if header and not any(c and not looks_numeric(c) for c in cells):
            notes.append(f"{source}: first line read as a header (--header)")
    else:
        names = [f"column_{i + 1}" for i in range(len(cells))]
        data_offset, data_line = pos, lines_before + 1
        if not numbered:
            why = "--no-header" if header is False else "the first line holds numbers"
            notes.append(
                f"{source}: no header row ({why}); columns named column_1 .. column_{len(cells)}"
            )
    if has_header:
        names, renamed = _named(cells, source)
        notes.extend(renamed)
    dialect = Dialect(
        delimiter=sep,
        has_header=has_header,
        header_cells=tuple(cells) if has_header else (),
        columns=tuple(names),
        lines_before=lines_before,
        data_offset=data_offset,
        data_line=data_line,
        positional=not has_header,
        first_cells=tuple(cells) if numbered else (),
        after_first_line=nxt,
    )
    return dialect, notes


# The most physical lines a header with quoted line ends in its names may span.
HEADER_LINES = 20


def _quoted_line_ends(
    head: Head, pos: int, line: bytes, nxt: int, lines_before: int, source: str
) -> tuple[bytes, int, int]:
    """The header line that starts at ``pos``, with the lines that follow it while a quote is
    open (a quoted line end in a column name, valid RFC 4180), where the next line starts, and
    how many lines it spans. A quote still open after ``HEADER_LINES`` lines is an unclosed
    one: the first line alone is the header, as it would be without quotes."""
    end, spans = nxt, 1
    while line.count(b'"') % 2 and end < len(head.data) and spans < HEADER_LINES:
        _, end = head.line(end, lines_before + spans + 1, source)
        line, spans = head.data[pos:end].rstrip(b"\r\n"), spans + 1
    if line.count(b'"') % 2:
        return head.data[pos:nxt].rstrip(b"\r\n"), nxt, 1
    return line, end, spans


def _named(cells: list[str], source: str) -> tuple[list[str], list[str]]:
    """The header's cells as column names (an empty one called column_N), and the notes."""
    names = list(cells)
    _check_names(names, source)
    notes = []
    taken = set(names)
    for i, nm in enumerate(names):
        if not nm:
            new = f"column_{i + 1}"
            while new in taken:
                new = "_" + new
            names[i] = new
            taken.add(new)
            notes.append(f"{source}: column {i + 1} has no name; called {new}")
    return names, notes


def as_header(dialect: Dialect, source: str) -> tuple[Dialect, list[str]]:
    """``dialect`` with its first line read as the header (a first line 0 .. K-1)."""
    names, notes = _named(list(dialect.first_cells), source)
    return replace(
        dialect,
        has_header=True,
        header_cells=dialect.first_cells,
        columns=tuple(names),
        data_offset=dialect.after_first_line,
        data_line=dialect.data_line + 1,
        positional=False,
        first_cells=(),
    ), notes


def is_numbered(cells: list[str]) -> bool:
    """The cells are 0 .. K-1 as pandas names a frame's columns, after an empty cell where the
    frame's index was written too (``,0,1,2``)."""
    if len(cells) >= 2 and cells[0] in ("", "Unnamed: 0"):
        cells = cells[1:]
    return bool(cells) and cells == [str(i) for i in range(len(cells))]


def infer(
    head: Head, dialect: Dialect, notes: list[str], *, source: str, index_col: bool | None = None
) -> Sniffed:
    """The first rows parsed by pyarrow: whether a first line 0 .. K-1 is the header, each
    column's kind, whether numbers are written with a decimal comma (a ``SampleError`` where
    they cannot be parsed), and whether the first column is pandas' index (``index_col``: the
    user's word)."""
    import pyarrow as pa

    if dialect.first_cells:
        dialect, notes = _numbered_first_line(head, dialect, notes, source)
    sample = _sample(head, dialect, source)
    data = head.data[dialect.data_offset :]
    if not sample.strip():
        return Sniffed(dialect, {}, 0, data, tuple(notes))
    try:
        table = _parse(sample, dialect)
        if dialect.delimiter != "," and _decimal_comma_columns(table):
            dialect = replace(dialect, decimal_comma=True)
            notes = [*notes, f"{source}: numbers read with a decimal comma (0,9)"]
            table = _parse(sample, dialect)
    except pa.ArrowInvalid as e:
        raise SampleError(dialect, e) from None
    kinds = _kinds(table, exhausted=head.exhausted)
    index, why = _index_column(dialect, table, index_col)
    if index is not None:
        notes = [n for n in notes if not n.startswith(f"{source}: column 1 has no name")]
        notes.append(f"{source}: column 1 {why}")
    texts = _texts(table, kinds)
    return Sniffed(dialect, kinds, table.num_rows, data, tuple(notes), index, texts)


def _texts(table: Any, kinds: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The distinct values of each text column of the sample, where there are few (labels)."""
    import pyarrow.compute as pc

    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if kinds.get(name) == "string":
            distinct = pc.unique(col)
            if len(distinct) <= MAX_TEXT_VALUES:
                out[name] = tuple(v for v in distinct.to_pylist() if v is not None)
    return out


def _numbered_first_line(
    head: Head, dialect: Dialect, notes: list[str], source: str
) -> tuple[Dialect, list[str]]:
    """A first line 0 .. K-1 (pandas' names for a frame's columns) is the header when the rows
    below are written otherwise (decimals, text) in every column, a data row when they are
    integers too (the other file may still say otherwise: ``first_cells`` stays set); where
    columns disagree the two readings give different numbers, and the user chooses."""
    import pyarrow as pa

    cells = dialect.first_cells
    shown = show_cell(",".join(cells if len(cells) <= 4 else [*cells[:2], "...", cells[-1]]))
    header, renamed = as_header(dialect, source)
    if cells[0] in ("", "Unnamed: 0"):  # an index's empty name: a data row never starts so
        return header, [
            *notes,
            f"{source}: first line {shown} read as a header (pandas' "
            "column names, after its index's empty one; --no-header reads it as data)",
        ]
    sample = _sample(head, header, source)
    votes: set[str] = set()
    if sample.strip():
        try:
            table = _parse(sample, header)
        except pa.ArrowInvalid:
            table = None
        for col in [] if table is None else table.columns:
            if pa.types.is_integer(col.type):
                votes.add("data")
            elif not pa.types.is_null(col.type):
                votes.add("header")
    if votes == {"header"}:
        return header, [
            *notes,
            *renamed,
            f"{source}: first line {shown} read as a header (pandas' "
            "names for a frame's columns above rows of decimals; --no-header reads it "
            "as data)",
        ]
    if votes == {"header", "data"}:
        raise OptionError(
            f"the first line {shown} may be a header (pandas' names for a frame's columns) or a "
            "data row, and the two readings give different numbers",
            "say which with {header=True} or {header=False}",
            source=source,
            param="header",
        )
    return dialect, [
        *notes,
        f"{source}: no header row (the first line {shown}, like the rows "
        f"below it, holds integers); columns named column_1 .. column_{len(cells)}; "
        "--header reads it as a header",
    ]


def _index_column(dialect: Dialect, table: Any, wanted: bool | None) -> tuple[str | None, str]:
    """pandas' index, written first by ``DataFrame.to_csv`` by default: a column with an empty
    or ``Unnamed: 0`` name holding distinct integers (0 .. N-1 unless the frame was shuffled
    or split); or the first column where the user says so."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if wanted is False or len(dialect.columns) < 2 or table.num_columns < 2:
        return None, ""
    first = dialect.columns[0]
    if wanted:
        cell = dialect.header_cells[0] if dialect.has_header else ""
        return (
            first,
            f"({show_cell(cell) if cell else 'no name'}) skipped as the index (--index-col)",
        )
    if not dialect.has_header or dialect.header_cells[0] not in ("", "Unnamed: 0"):
        return None, ""
    col = table.column(0)
    if not pa.types.is_integer(col.type) or col.null_count or len(col) == 0:
        return None, ""
    n = len(col)
    if pc.count_distinct(col).as_py() != n:
        return None, ""
    name = "has no name" if dialect.header_cells[0] == "" else "is named 'Unnamed: 0'"
    held = "distinct integers"
    if pc.all(pc.equal(col, pa.array(range(n), type=col.type))).as_py():
        held = f"0 .. {n - 1}"
    return first, f"{name} and holds {held}: pandas' index, skipped (--no-index-col reads it)"


def _sniff_delimiter(header_line: str, default: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return default
    if counts[default] > 0:
        return default
    return best


def _check_names(names: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for i, nm in enumerate(names):
        if nm and nm in seen:
            raise InputError(
                f"column name {show_cell(nm)} appears twice (columns {seen[nm] + 1} and {i + 1})",
                "rename one of them in the header line",
                source=source,
            )
        seen[nm] = i


def _sample(head: Head, dialect: Dialect, source: str) -> bytes:
    """The complete data lines of the head (reading on to the end of the first one where the
    head holds none)."""
    data = head.data[dialect.data_offset :]
    if head.exhausted:
        return data
    cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
    if cut < 0:  # not one complete data line in the first MiB: read on to the line's end
        _, end = head.line(dialect.data_offset, dialect.data_line, source)
        return head.data[dialect.data_offset : end]
    return data[: cut + 1]


def _parse(sample: bytes, dialect: Dialect) -> Any:
    """The sample parsed by pyarrow, which infers the columns' types."""
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        io.BytesIO(sample),
        # one thread: a MiB parses in milliseconds, and no thread pool is started for
        # inputs that fail before streaming (pyarrow can abort at exit with live threads)
        read_options=dialect.read_options(max(len(sample), 1 << 16), threads=False),
        parse_options=dialect.parse_options(),
        convert_options=dialect.convert_options(),
    )


def _decimal_comma_columns(table: Any) -> bool:
    """Text columns that all read as numbers with a decimal comma, one of them at least with
    a comma, and none that holds a comma otherwise."""
    import pyarrow as pa

    found = False
    for col in table.columns:
        if not pa.types.is_string(col.type):
            continue
        values = [v for v in col.to_pylist() if v is not None]
        if values and all(is_decimal_comma_number(v) for v in values):
            if any("," in v for v in values):
                found = True
        elif values and any("," in v for v in values):
            return False
    return found


def _kinds(table: Any, *, exhausted: bool) -> dict[str, str]:
    import pyarrow as pa

    kinds = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if pa.types.is_null(t) and exhausted:
            kinds[name] = "empty"
        elif pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_null(t):
            kinds[name] = "numeric"
        elif pa.types.is_boolean(t):
            kinds[name] = "bool"
        else:
            kinds[name] = "string"
    return kinds
