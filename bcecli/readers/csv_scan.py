"""The slow, exact reading of a CSV file that runs only after pyarrow has failed on it (or a
column that should hold numbers holds text): Python's csv module reads the rows again and names
the first bad row or cell, with its line number and what to do."""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Callable
from typing import IO

from bcecli.readers.cells import NULL_VALUES, is_number, not_a_number_fix
from bcecli.readers.csv_dialect import CSV_BLOCK_BYTES, DELIMITER_NAMES, Dialect
from bcecli.readers.display import show, show_cell

READ_ERRORS = (OSError, EOFError, zlib.error)
_LINE_END = re.compile(r"\r\n|\n|\r")
# Rows read past the one pyarrow stopped at before the scan gives up.
SCAN_ROWS = 5_000_000


def find_bad_row(
    data: IO[bytes],
    dialect: Dialect,
    *,
    wanted: frozenset[str],
    needs_number: Callable[[str], bool],
    rows_done: int,
) -> tuple[str, str] | None:
    """The first problem in the data rows of ``data`` at or after row ``rows_done``, as (what
    was found, what to do); None where the csv module finds none. ``wanted``: the columns
    read (only their cells are checked), ``needs_number``: which of them must hold numbers."""
    limit = csv.field_size_limit(CSV_BLOCK_BYTES)  # pyarrow's limit, not csv's 128 KiB
    try:
        with data as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=dialect.delimiter)
            row_no = 0
            ended = 0  # physical lines read before the current record
            try:
                for row in reader:
                    line, ended = dialect.data_line + ended, reader.line_num
                    if not row:  # pyarrow skips empty lines too
                        continue
                    if row_no >= rows_done:
                        found = _row_problem(row, row_no, line, dialect, wanted, needs_number)
                        if found is not None:
                            return found
                    row_no += 1
                    if row_no > rows_done + SCAN_ROWS:
                        break
            except csv.Error as e:
                line = dialect.data_line + ended
                return (
                    f"row {row_no} (line {line}) cannot be parsed ({show(str(e), 80)})",
                    "fix that line (an unclosed quote?)",
                )
    except (*READ_ERRORS, UnicodeError):
        return None
    finally:
        csv.field_size_limit(limit)
    return None


def _row_problem(
    row: list[str],
    r: int,
    line: int,
    dialect: Dialect,
    wanted: frozenset[str],
    needs_number: Callable[[str], bool],
) -> tuple[str, str] | None:
    where = f"row {r} (line {line})"
    if row[0].lstrip().startswith("#"):
        return (
            f"{where} is a comment line ({show_cell(','.join(row))})",
            "bce skips '#' comment lines only at the top of the file: delete this one",
        )
    if dialect.header_cells and tuple(c.strip() for c in row) == dialect.header_cells:
        return (
            f"{where} repeats the header",
            "were two files concatenated? delete the repeated header line",
        )
    columns = dialect.columns
    width = len(columns)
    for name, cell in zip(columns, row, strict=False):
        if ("\n" in cell or "\r" in cell) and (len(row) != width or needs_number(name)):
            lines = len(_LINE_END.findall(cell)) + 1
            return (
                f"{where}, column {show(name, 40)}: a quoted cell runs over {lines} lines "
                "(an unclosed quote?)",
                'close the quote, or remove it (write "" for a quote inside a quoted cell)',
            )
    if len(row) != width:
        first = "the header" if dialect.has_header else "the first line"
        sep = DELIMITER_NAMES.get(dialect.delimiter, repr(dialect.delimiter))
        return (
            f"{where} has {len(row)} field{'s' if len(row) != 1 else ''}, {first} has {width}",
            f"fix that line (quote cells that contain {sep})",
        )
    for name, cell in zip(columns, row, strict=True):
        if name not in wanted:
            continue
        if re.search(r"[\udc80-\udcff]", cell):
            return (
                f"{where}, column {show(name, 40)}: {show_cell(cell)} is not UTF-8 text",
                "save the file as UTF-8 (in Excel: 'CSV UTF-8')",
            )
        if (
            needs_number(name)
            and cell.strip() not in NULL_VALUES
            and not is_number(cell, dialect.decimal_comma)
        ):
            return (
                f"{where}, column {show(name, 40)}: {show_cell(cell)} is not a number",
                not_a_number_fix(cell),
            )
    return None
