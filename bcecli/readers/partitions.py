"""A partitioned dataset: a directory or a glob of Parquet or CSV files read as one input.

The partition files are read in sorted path order, one after the other, and their rows are
numbered across them (the first row of the second file follows the last row of the first), so
the core sees one stream of chunks with global row numbers. The columns are resolved on the
first partition; every later partition must hold them (an error names the one that does not).
"""

from __future__ import annotations

import codecs
import fnmatch
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bcecli.errors import InputError
from bcecli.readers.base import Batch, Source, display_name
from bcecli.readers.cells import looks_numeric
from bcecli.readers.csv_dialect import PEEK_BYTES
from bcecli.readers.dataset import Files
from bcecli.readers.detect import read_head, sniff_format
from bcecli.readers.display import show, show_names
from bcecli.readers.formats import Opened, open_source

GLOB_CHARS = "*?["
# What partition files are called, in a directory and in a glob alike (other files, and in a
# directory names starting with '.' or '_' such as _SUCCESS or _metadata, are not data).
PARTITION_SUFFIXES = (".parquet", ".parq", ".pq", ".csv", ".tsv", ".tab", ".csv.gz",
                      ".tsv.gz")  # fmt: skip
_FAMILY = {"parquet": "Parquet", "csv": "CSV", "tsv": "CSV"}


def is_glob(path: str) -> bool:
    """A pattern to expand: glob characters, and no file of that very name."""
    return any(c in path for c in GLOB_CHARS) and not os.path.exists(path)


def is_partitioned(path: str) -> bool:
    return path != "-" and (os.path.isdir(path) or is_glob(path))


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


@dataclass(frozen=True)
class Found:
    """The partition files of a directory or a glob, in sorted path order, and what was left
    out (for the report's notes)."""

    paths: list[str]
    notes: tuple[str, ...]


def partition_files(path: str) -> list[str]:
    """The partition files of a directory (recursively) or a glob, in sorted path order."""
    return find_partitions(path).paths


def find_partitions(path: str) -> Found:
    """The partition files of a directory (every file with a partition suffix, at any depth,
    outside hidden folders) or a glob (the files it matches, with a partition suffix). Links
    are followed, but a folder is entered once however many paths reach it (a link to itself
    ends no walk), and a file reached by several paths is taken once, by its device and inode,
    with a note; only regular files are partitions (a named pipe would block the run)."""
    name = display_name(path)
    if os.path.isdir(path):
        segments, root, directory = ["**", "*"], path, True
    else:
        parts = path.split(os.sep)
        fixed = 0
        while fixed < len(parts) - 1 and not any(c in parts[fixed] for c in GLOB_CHARS):
            fixed += 1
        root = os.sep.join(parts[:fixed]) or ("" if not path.startswith(os.sep) else os.sep)
        segments, directory = [p for p in parts[fixed:] if p], False
        if segments and segments[-1] == "**":
            segments.append("*")
    walk = _Walk(hide_folders=directory, base=root)
    walk.expand(root, segments)
    found, notes = _partitions(walk.matched, name, walk.short)
    if walk.again:
        notes += (
            f"{name}: {len(walk.again)} folder{'s' if len(walk.again) > 1 else ''} reached by "
            "a second path (a link) read once: "
            + "; ".join(walk.again[:4])
            + (f"; ... ({len(walk.again)} in all)" if len(walk.again) > 4 else ""),
        )
    if not found:
        if directory:
            raise InputError(
                "is a directory without CSV or Parquet files",
                "give a file, or a directory or a quoted glob of partition files "
                "(e.g. 'data/*.parquet')",
                source=name,
            )
        if walk.matched:
            raise InputError(
                f"matches no partition file ({'; '.join(n.split(': ', 1)[1] for n in notes)})",
                f"partition files end in {', '.join(PARTITION_SUFFIXES)}: rename them, or give "
                "a file by its path",
                source=name,
            )
        raise InputError(
            "matches no file",
            "check the pattern (quote it, so that bce expands it: bce score 'data/*.parquet')",
            source=name,
        )
    return Found(found, notes)


class _Walk:
    """A glob's segments matched against the file tree, each folder entered once per
    segment position (by device and inode), so that links that loop end."""

    def __init__(self, *, hide_folders: bool, base: str) -> None:
        self.hide_folders = hide_folders  # a directory's walk skips '.'/'_' folders
        self.base = base or "."
        self.entered: set[tuple[int, int, int]] = set()
        self.folders: dict[tuple[int, int], str] = {}  # the first path to each folder
        self.again: list[str] = []  # folders reached by a second path (a link), not entered
        self.matched: list[str] = []  # every path matched, files or not

    def short(self, path: str) -> str:
        """``path`` for a message: relative to where the walk started."""
        return show(os.path.relpath(path or ".", self.base), 200)

    def expand(self, folder: str, segments: list[str]) -> None:
        try:
            st = os.stat(folder or ".")
        except OSError:
            return
        first = self.folders.setdefault((st.st_dev, st.st_ino), folder)
        key = (st.st_dev, st.st_ino, len(segments))
        if key in self.entered:
            if first != folder:
                self.again.append(f"{self.short(folder)} = {self.short(first)}")
            return
        self.entered.add(key)
        seg, rest = segments[0], segments[1:]
        if seg == "**":
            self.expand(folder, rest)  # no folder at all
        try:
            with os.scandir(folder or ".") as it:
                # a folder's own entries before links to others: a path without a link is
                # the one kept where two reach the same folder
                entries = sorted(it, key=lambda e: (e.is_symlink(), e.name))
        except OSError:
            return
        for entry in entries:
            full = os.path.join(folder, entry.name) if folder else entry.name
            try:
                is_dir = entry.is_dir()  # follows a link
            except OSError:
                is_dir = False
            if seg == "**":
                if (
                    is_dir
                    and not entry.name.startswith(".")
                    and not (self.hide_folders and _hidden(entry.name))
                ):
                    self.expand(full, segments)  # one folder more
                continue
            if not fnmatch.fnmatchcase(entry.name, seg):
                continue
            if entry.name.startswith(".") and not seg.startswith("."):
                continue  # as glob: a wildcard never matches a leading dot
            if rest:
                if is_dir:
                    self.expand(full, rest)
            elif not is_dir:
                self.matched.append(full)


_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))  # fmt: skip


def _partitions(
    matched: list[str], name: str, short: Callable[[str], str]
) -> tuple[list[str], tuple[str, ...]]:
    """The regular files with a partition suffix among ``matched``, each once (by device and
    inode, the first path in sorted order kept), and the notes on what was left out."""
    kept: list[str] = []
    seen: dict[tuple[int, int], str] = {}
    other: list[str] = []
    special: list[str] = []
    twice: list[str] = []
    for path in sorted(matched):
        base = os.path.basename(path)
        if not base.lower().endswith(PARTITION_SUFFIXES) or _hidden(base):
            if not _hidden(base):
                other.append(short(path))
            continue
        try:
            st = os.stat(path)
        except OSError:
            special.append(f"{short(path)} (a broken link)")
            continue
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
            special.append(f"{short(path)} ({kind})")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            twice.append(f"{short(path)} = {short(seen[key])}")
            continue
        seen[key] = path
        kept.append(path)
    notes = []
    if other:
        notes.append(
            f"{name}: skipped {len(other)} file{'s' if len(other) > 1 else ''} without a "
            f"partition suffix: {', '.join(other[:4])}"
            + (f", ... ({len(other)} in all)" if len(other) > 4 else "")
        )
    if special:
        notes.append(
            f"{name}: skipped {len(special)} entr{'ies' if len(special) > 1 else 'y'} that "
            f"{'are' if len(special) > 1 else 'is'} not a regular file: {'; '.join(special[:4])}"
        )
    if twice:
        notes.append(
            f"{name}: {len(twice)} file{'s' if len(twice) > 1 else ''} reached by more than one "
            f"path (a link?), read once: {'; '.join(twice[:4])}"
            + (f"; ... ({len(twice)} in all)" if len(twice) > 4 else "")
        )
    return kept, tuple(notes)


def _csv_without_rows(path: str) -> bool:
    """A CSV partition without a data row: 0 bytes, or (a small file, gzip'd or not) nothing but
    blank lines, '#' comment lines and one header line."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return True
        if size > PEEK_BYTES:
            return False
        with open(path, "rb") as raw:
            if raw.read(2) == b"\x1f\x8b":
                import gzip

                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as gz:
                    data = gz.read(PEEK_BYTES + 1)
                if len(data) > PEEK_BYTES:
                    return False
            else:
                raw.seek(0)
                data = raw.read()
    except (OSError, EOFError, zlib.error):
        return False  # read as a partition, whose own reader names the problem
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    lines = [x for x in data.splitlines() if x.strip() and not x.lstrip().startswith(b"#")]
    if lines and re.fullmatch(rb"sep=.", lines[0].strip()):  # Excel's delimiter line
        lines = lines[1:]
    if len(lines) != 1:
        return not lines
    # one line: a header, unless it holds numbers only (a headerless file's one row)
    cells = re.split(rb"[,;\t|]", lines[0])
    return not all(looks_numeric(c.decode("utf-8", "replace")) or not c.strip() for c in cells)


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

    def __init__(
        self, path: str, role: str, *, header: bool | None = None, index_col: bool | None = None
    ) -> None:
        self.name = display_name(path)
        self.role = role
        self._layout = {"header": header, "index_col": index_col}  # --header, --index-col
        found = find_partitions(path)
        paths = found.paths
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
        if self.fmt == "parquet":
            counts = [self._parquet_rows(p, n) for p, n in zip(paths, names, strict=True)]
            keep = [i for i, c in enumerate(counts) if c]
        else:  # a 0-byte or header-only CSV file (as Spark and pandas write for no rows)
            keep = [i for i, p in enumerate(paths) if not _csv_without_rows(p)]
        empty = [names[i] for i in range(len(paths)) if i not in set(keep)]
        if not keep:
            raise InputError(
                f"all {len(paths)} partitions hold no rows", "check the data", source=self.name
            )
        paths, names = [paths[i] for i in keep], [names[i] for i in keep]
        counts = [counts[i] for i in keep]
        self.paths, self.names, self.row_counts = paths, names, counts
        opened = open_source(paths[0], role, **self._layout)
        self._first = opened.source
        self.columns = self._first.columns
        self.index_columns = getattr(self._first, "index_columns", ())  # pandas' (Parquet)
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
            read += (
                f"; {len(empty)} empty partition{'s' if len(empty) > 1 else ''} skipped (no "
                f"rows): {show_names(empty, 4)}"
            )
        self.notes = (*self._first.notes, read, *found.notes)

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

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        seen: set[str] = set()
        for i in range(len(self.paths)):
            src = self.open_partition(i, [column])
            try:
                found = src.distinct_values(column, limit)
            finally:
                if i:
                    src.close()
            if found is None:
                return None
            seen.update(found)
            if len(seen) > limit:
                return None
        return sorted(seen)

    def open_partition(self, i: int, columns: list[str]) -> Source:
        """Partition ``i`` opened and checked against the first (the caller closes it)."""
        if i == 0:
            return self._first
        opened = open_source(self.paths[i], self.role, **self._layout)
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
