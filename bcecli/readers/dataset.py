"""An input described as files, for an engine that reads them itself (the Dask engine): which
files, in which format, and how a CSV file is written, so that another reader reads every cell
as bce's own does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV or TSV file is written, as bce found it."""

    delimiter: str
    header: bool  # the first line read names the columns (else they are column_1, ...)
    skip_lines: int  # lines before the header or the first row (comments, a 'sep=' line)
    decimal_comma: bool
    columns: tuple[str, ...]  # every column, as bce names them
    numeric: frozenset[str]  # the columns read as numbers (float64), not as text or booleans
    null_values: tuple[str, ...]  # the spellings of a missing value


@dataclass(frozen=True)
class Files:
    """The files a source reads."""

    fmt: str  # "parquet" or "csv" (TSV is CSV with its own delimiter)
    paths: tuple[str, ...]
    names: tuple[str, ...]  # short names, for messages
    rows: tuple[int | None, ...]  # per file, where known without reading the data
    partitioned: bool  # a directory or a glob (its files' first rows are shown in the report)
    dialect: CsvDialect | None  # CSV: the first file's (every partition is read with it)


@dataclass(frozen=True)
class Dataset:
    """An input's files, and the columns read from them."""

    files: Files
    labels: tuple[str, ...]
    preds: tuple[str, ...]
    weight: str | None

    @property
    def columns(self) -> list[str]:
        """Every column read, each once."""
        return list(dict.fromkeys([*self.labels, *self.preds, *filter(None, [self.weight])]))
