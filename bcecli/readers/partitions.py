"""A partitioned dataset: a directory or a glob of Parquet or CSV files read as one input.

The partition files are read in sorted path order, one after the other, and their rows are
numbered across them (the first row of the second file follows the last row of the first), so
the core sees one stream of chunks with global row numbers. The columns are resolved on the
first partition; every later partition must hold them (an error names the one that does not).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from bcecli.errors import InputError
from bcecli.readers.base import Batch, Source, display_name
from bcecli.readers.dataset import Files
from bcecli.readers.detect import read_head, sniff_format
from bcecli.readers.display import show, show_names
from bcecli.readers.formats import Opened, open_source

GLOB_CHARS = "*?["
# What a directory's partition files are called (other files, and names starting with '.' or
# '_' such as _SUCCESS or _metadata, are not data).
PARTITION_SUFFIXES = (".parquet", ".parq", ".pq", ".csv", ".tsv", ".tab", ".txt", ".csv.gz",
                      ".tsv.gz")  # fmt: skip
_FAMILY = {"parquet": "Parquet", "csv": "CSV", "tsv": "CSV"}


def is_glob(path: str) -> bool:
    """A pattern to expand: glob characters, and no file of that very name."""
    return any(c in path for c in GLOB_CHARS) and not os.path.exists(path)


def is_partitioned(path: str) -> bool:
    return path != "-" and (os.path.isdir(path) or is_glob(path))


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def partition_files(path: str) -> list[str]:
    """The partition files of a directory (recursively) or a glob, in sorted path order."""
    name = display_name(path)
    if os.path.isdir(path):
        found: list[str] = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not _hidden(d)]
            found.extend(
                os.path.join(folder, f)
                for f in files
                if not _hidden(f) and f.lower().endswith(PARTITION_SUFFIXES)
            )
        if not found:
            raise InputError(
                "is a directory without CSV or Parquet files",
                "give a file, or a directory or a quoted glob of partition files "
                "(e.g. 'data/*.parquet')",
                source=name,
            )
        return sorted(found)
    import glob

    found = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p)]
    if not found:
        raise InputError(
            "matches no file",
            "check the pattern (quote it, so that bce expands it: bce score 'data/*.parquet')",
            source=name,
        )
    return sorted(found)


def partition_names(paths: list[str]) -> list[str]:
    """Short names for messages: each path relative to the folder the partitions share."""
    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    return [show(os.path.relpath(os.path.abspath(p), root), 200) for p in paths]


def format_of(path: str) -> str:
    """'parquet', 'csv' or 'tsv' (or 'npy'/'npz', which partitions cannot be)."""
    return sniff_format(path, read_head(path))


def check_partition(first: Source, opened: Opened, fmt: str, columns: list[str]) -> None:
    """A later partition must be in the first one's format and hold the columns read from it."""
    src = opened.source
    if _FAMILY.get(opened.fmt) != _FAMILY.get(fmt):
        raise InputError(
            f"is {_FAMILY.get(opened.fmt, opened.fmt.upper())}, but the first partition "
            f"({first.name}) is {_FAMILY[fmt]}",
            "all the partitions of a dataset must have the same format",
            source=src.name,
        )
    missing = [c for c in columns if c not in src.columns]
    if missing:
        raise InputError(
            f"has no column{'s' if len(missing) > 1 else ''} {show_names(missing)} (its columns: "
            f"{show_names(src.columns)})",
            f"every partition must hold the columns read from the first ({first.name})",
            source=src.name,
        )
    for c in columns:
        kind, first_kind = src.kind(c), first.kind(c)
        if kind == "other" or (kind == "string" and first_kind != "string"):
            problem = src.text_problem(c) if kind == "string" else None
            if problem is not None:
                raise InputError(*problem, source=src.name)
            raise InputError(
                f"column {show(c, 40)} holds {src.type_name(c)}, but numbers in the first "
                f"partition ({first.name})",
                "every partition must store the column as numbers",
                source=src.name,
            )


class PartitionedSource(Source):
    """The partition files of a directory or a glob, read one after the other as one source.

    ``partitions`` lists (global row of its first row, short name) for every partition read so
    far (for Parquet, every partition from the start: the row counts are in the files' footers).
    """

    def __init__(self, path: str, role: str) -> None:
        self.name = display_name(path)
        self.role = role
        paths = partition_files(path)
        self.fmt = format_of(paths[0])
        if self.fmt not in _FAMILY:
            raise InputError(
                f"holds {self.fmt.upper()} files ({show(paths[0], 200)})",
                "partitioned data must be Parquet or CSV files: give the NPY/NPZ files one by "
                "one, or convert them",
                source=self.name,
            )
        names = partition_names(paths)
        counts: list[int | None] = [None] * len(paths)
        empty = 0
        if self.fmt == "parquet":
            counts = [self._parquet_rows(p, n) for p, n in zip(paths, names, strict=True)]
            keep = [i for i, c in enumerate(counts) if c]
            empty = len(paths) - len(keep)
            if not keep:
                raise InputError(
                    f"all {len(paths)} partitions hold no rows", "check the data", source=self.name
                )
            paths, names = [paths[i] for i in keep], [names[i] for i in keep]
            counts = [counts[i] for i in keep]
        self.paths, self.names, self.row_counts = paths, names, counts
        opened = open_source(paths[0], role)
        self._first = opened.source
        self.columns = self._first.columns
        self.positional = self._first.positional
        self.fmt_text = self._first.fmt_text
        n_rows = [c for c in counts if c is not None]
        self.n_rows = sum(n_rows) if len(n_rows) == len(counts) else None
        self.partitions: list[tuple[int, str]] = []
        if self.n_rows is not None:
            self.partitions = list(zip(self.starts(n_rows), names, strict=True))
        read = (
            f"{self.name}: {len(paths)} {_FAMILY[self.fmt]} partition"
            f"{'s' if len(paths) > 1 else ''} read as one dataset in sorted path order (row "
            "numbers run across them)"
        )
        if empty:
            read += f"; {empty} empty partition{'s' if empty > 1 else ''} skipped"
        self.notes = (*self._first.notes, read)

    def _parquet_rows(self, path: str, name: str) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return int(pq.read_metadata(path).num_rows)
        except (pa.ArrowException, OSError, ValueError) as e:
            raise InputError(
                f"is not a readable Parquet file ({show(str(e).splitlines()[0], 120)})",
                "all the partitions of a dataset must be Parquet files like the first: check "
                "that this one is complete",
                source=display_name(path),
            ) from None

    @staticmethod
    def starts(counts: list[int]) -> list[int]:
        out, at = [], 0
        for c in counts:
            out.append(at)
            at += c
        return out

    @property
    def first(self) -> Source:
        return self._first

    def kind(self, column: str) -> str:
        return self._first.kind(column)

    def width(self, column: str) -> int:
        return self._first.width(column)

    def type_name(self, column: str) -> str:
        return self._first.type_name(column)

    def text_problem(self, column: str) -> tuple[str, str] | None:
        return self._first.text_problem(column)

    def open_partition(self, i: int, columns: list[str]) -> Source:
        """Partition ``i`` opened and checked against the first (the caller closes it)."""
        if i == 0:
            return self._first
        opened = open_source(self.paths[i], self.role)
        try:
            check_partition(self._first, opened, self.fmt, columns)
        except BaseException:
            opened.source.close()
            raise
        return opened.source

    def files(self, columns: list[str]) -> Files:
        """Every partition, each opened and checked against the first (its row count read
        where the data need not be)."""
        rows = list(self.row_counts)
        for i in range(1, len(self.paths)):
            part = self.open_partition(i, columns)
            try:
                rows[i] = part.n_rows
            finally:
                part.close()
        rows[0] = self._first.n_rows
        first = self._first.files(columns)
        dialect = None if first is None else first.dialect
        fmt = "parquet" if self.fmt == "parquet" else "csv"
        return Files(fmt, tuple(self.paths), tuple(self.names), tuple(rows), True, dialect)

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        start = 0
        seen: list[tuple[int, str]] = []
        for i, name in enumerate(self.names):
            src = self.open_partition(i, columns)
            try:
                seen.append((start, name))
                if self.n_rows is None:
                    self.partitions = list(seen)
                for batch in src.batches(columns):
                    start += len(next(iter(batch.values()))) if batch else 0
                    yield batch
            finally:
                if i:
                    src.close()

    def close(self) -> None:
        self._first.close()
