"""``open_source``: a path to the source of its format. Each format's module is imported when a
file needs it: an NPY input loads no CSV code."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bcecli.errors import InputError
from bcecli.readers.base import FORMATS, Source, display_name
from bcecli.readers.detect import (
    BINARY_EXTENSIONS,
    TEXT_NOT_READ,
    extension,
    foreign,
    is_regular,
    read_head,
    sniff_format,
    unsupported,
)


@dataclass(frozen=True, eq=False)
class Opened:
    """An opened input and its format."""

    source: Source
    fmt: str


def open_source(
    path: str, role: str, *, header: bool | None = None, index_col: bool | None = None
) -> Opened:
    """Open ``path`` ('-' for stdin) as a source; ``role`` names a bare NPY array. ``header``
    and ``index_col``: the user's word on a CSV file's first line and first column."""
    if path == "-":
        return _stream_of_text(path, header, index_col)
    name = display_name(path)
    if os.path.isdir(path):
        raise InputError(
            "is a directory, not a file", f"give the path of a {FORMATS} file", source=name
        )
    if os.path.exists(path) and not is_regular(path):
        # a pipe or a device (bce score <(zcat preds.csv.gz)): it can be read only once, so its
        # first bytes are not peeked at here; CSV text is the one format read from a stream
        return _stream_of_text(path, header, index_col)
    head = read_head(path)
    fmt = sniff_format(path, head)
    if fmt in ("npy", "npz"):
        from bcecli.readers.arrays import NpySource, NpzSource

        return Opened(NpySource(path, role) if fmt == "npy" else NpzSource(path), fmt)
    if fmt == "parquet":
        from bcecli.readers.parquet import ParquetSource

        return Opened(ParquetSource(path), fmt)
    what = foreign(head)
    if what is not None:
        raise unsupported(what, name)
    ext = extension(path)
    if ext in TEXT_NOT_READ:
        raise InputError(
            f"is {TEXT_NOT_READ[ext]}, which bce does not read",
            "convert it to CSV, e.g. pandas.read_json(path).to_csv('preds.csv', index=False)",
            source=name,
        )
    from bcecli.readers.text import CsvSource

    src = CsvSource(
        path,
        tab=fmt == "tsv",
        claimed=BINARY_EXTENSIONS.get(ext),
        header=header,
        index_col=index_col,
    )
    return Opened(src, fmt)


def _stream_of_text(path: str, header: bool | None, index_col: bool | None) -> Opened:
    from bcecli.readers.text import CsvSource

    return Opened(CsvSource(path, header=header, index_col=index_col), "csv")
