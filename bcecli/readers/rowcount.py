"""Row counts known before streaming, so that per-sample output never streams records of
files whose lengths differ (issue 21: millions of plausible records, then exit 3).

NPY, NPZ and Parquet know their rows from their headers; a CSV file (a regular, uncompressed
one) is counted by its line ends, a pass over its bytes at memory speed. The count is exact
where no cell is quoted and no line is blank, else only an upper bound (a quoted cell may
hold a line end; a blank line is skipped), which still proves a file too short.
"""

from __future__ import annotations

from bcecli.readers.base import Source

_BLOCK = 1 << 24


def csv_rows(src: Source) -> tuple[int, bool] | None:
    """(rows, exact) of a CSV source by its line ends, or None where it cannot be counted
    cheaply (a pipe, a gzip'd file, not CSV text)."""
    path = getattr(src, "path", None)
    dialect = getattr(src, "dialect", None)
    text_input = getattr(src, "_input", None)
    if not src.fmt_text or path is None or dialect is None or not getattr(src, "regular", False):
        return None
    if text_input is None or getattr(text_input, "gzipped", True):
        return None
    lines, exact, last = 0, True, b""
    with open(path, "rb") as f:
        f.seek(dialect.data_offset)
        while block := f.read(_BLOCK):
            lines += block.count(b"\n")
            seam = last == b"\n" and block.startswith((b"\n", b"\r\n"))  # a blank line
            if exact and (seam or b'"' in block or b"\n\n" in block or b"\n\r\n" in block):
                exact = False
            last = block[-1:]
    if last not in (b"\n", b""):
        lines += 1  # the last line has no line end
    return lines, exact
