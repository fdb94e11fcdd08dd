"""Parquet files, read one batch at a time through a buffered stream."""

from __future__ import annotations

import os
from collections.abc import Iterator

from bcecli.errors import InputError
from bcecli.readers.arrow import column_from_arrow, distinct_strings
from bcecli.readers.base import Batch, Source, display_name
from bcecli.readers.cells import is_number, not_a_number
from bcecli.readers.dataset import Files
from bcecli.readers.display import show, show_cell

PARQUET_BUFFER_BYTES = 1 << 20  # the read buffer of each Parquet column


class ParquetSource(Source):
    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.path = path
        self.name = display_name(path)
        try:
            # Column chunks are read through a 1 MiB buffered stream, not pre-buffered: with
            # pre-buffering (pyarrow's default) the reader keeps what it read for the whole file,
            # so memory grew with it (a 40M-row file: 550 MB).
            self._file = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as e:
            raise InputError(
                f"is not a readable Parquet file ({show(str(e).splitlines()[0], 120)})",
                "check that the file is complete: copy or write it again",
                source=self.name,
            ) from None
        self.columns = list(schema.names)
        seen: set[str] = set()
        for c in self.columns:
            if c in seen:
                raise InputError(
                    f"column name {show_cell(c)} appears twice",
                    "rename one of them before writing the file",
                    source=self.name,
                )
            seen.add(c)
        self.n_rows = self._file.metadata.num_rows
        if self.n_rows == 0:
            raise InputError("holds no rows", "write one row per sample into it", source=self.name)
        self._types = {f.name: f.type for f in schema}
        self.index_columns = _pandas_index(schema, self.columns)
        if self.index_columns:
            shown = ", ".join(show(c) for c in self.index_columns)
            self.notes = (
                f"{self.name}: {shown} is pandas' index (the file's pandas metadata): not read as "
                f"a label or prediction; --id-col {show(self.index_columns[0])} carries it into "
                "the per-sample records",
            )

    def kind(self, column: str) -> str:
        pa, t = self._pa, self._types[column]
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
            return "numeric"
        if pa.types.is_null(t):
            return "empty"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "string"
        return "other"

    def type_name(self, column: str) -> str:
        t = self._types[column]
        pa = self._pa
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            return f"lists ({t})"
        if pa.types.is_struct(t):
            return f"records ({t})"
        if pa.types.is_map(t):
            return f"maps ({t})"
        if self.kind(column) == "string":
            return f"text ({t})"
        return str(t)

    def width(self, column: str) -> int:
        return 1

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        if self.kind(column) != "string":
            return None
        pa = self._pa
        try:
            batches = self._file.iter_batches(batch_size=1 << 20, columns=[column])
            return distinct_strings((b.column(0).cast(pa.string()) for b in batches), limit)
        except (pa.ArrowException, OSError):
            return None

    def text_problem(self, column: str) -> tuple[str, str] | None:
        """The first cell of a text column that is not a number."""
        if self.kind(column) != "string":
            return None
        start = 0
        for batch in self._file.iter_batches(batch_size=1 << 16, columns=[column]):
            values = batch.column(0).to_pylist()
            for i, v in enumerate(values):
                if v is not None and not is_number(str(v)):
                    return not_a_number(start + i, column, str(v))
            start += len(values)
        return None

    def files(self, columns: list[str]) -> Files:
        name = os.path.basename(self.path)
        return Files("parquet", (self.path,), (name,), (self.n_rows,), False, None)

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        pa = self._pa
        for c in columns:
            if self.kind(c) == "other":
                raise InputError(
                    f"column {show(c, 40)} holds {self.type_name(c)}, not numbers",
                    "flatten it into one numeric column per output",
                    source=self.name,
                )
        try:
            for batch in self._file.iter_batches(batch_size=1 << 20, columns=columns):
                yield {
                    n: column_from_arrow(
                        col.cast(pa.float64(), safe=False)
                        if self.kind(n) in ("numeric", "empty")
                        else col
                    )
                    for n, col in zip(batch.schema.names, batch.columns, strict=True)
                }
        except (pa.ArrowException, OSError) as e:
            raise InputError(
                f"cannot be read ({show(str(e).splitlines()[0], 120)})",
                "check that the file is complete: copy or write it again",
                source=self.name,
            ) from None


def _pandas_index(schema: object, columns: list[str]) -> tuple[str, ...]:
    """The columns ``DataFrame.to_parquet`` wrote for a frame's index (``__index_level_0__``,
    or the index's name), as its metadata lists them; a RangeIndex is stored as metadata
    only, not as a column."""
    try:
        meta = schema.pandas_metadata  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no or unreadable pandas metadata
        return ()
    if not isinstance(meta, dict):
        return ()
    found = meta.get("index_columns") or []
    return tuple(c for c in found if isinstance(c, str) and c in columns)
