"""An opened input: its layout (which columns of which files), then its rows as chunks, the
files cut the same way so that their rows line up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from bcecli.core.chunk import Chunk
from bcecli.errors import InputError, OptionError
from bcecli.readers.base import Batch, Source
from bcecli.readers.batches import assemble_chunk, batch_len, rechunk, resize
from bcecli.readers.dataset import Dataset, Files
from bcecli.readers.labels import LabelMapper
from bcecli.readers.partitions import PartitionedSource

CHUNK_ROWS = 1 << 18  # a multiple of the core's 4096-row sum blocks


@dataclass(frozen=True)
class Layout:
    """Where the numbers come from; shown in every report."""

    sources: tuple[str, ...]
    label_columns: tuple[str, ...]
    pred_columns: tuple[str, ...]
    weight_column: str | None
    how: str
    notes: tuple[str, ...]
    n_rows: int | None
    n_label_outputs: int
    n_pred_outputs: int
    class_names: tuple[str, ...]  # from a prediction family's suffixes (prob_cat, prob_dog)
    id_columns: tuple[str, ...] = ()  # --id-col, carried to the chunks' ``ids``


@dataclass(eq=False)
class Part:
    """The columns one source contributes, in output order."""

    source: Source
    columns: list[str]
    labels: list[str]
    preds: list[str]
    weight: str | None
    ids: list[str] = field(default_factory=list)  # --id-col columns of this source
    by: list[str] = field(default_factory=list)  # --by columns of this source


class Input:
    """An opened input: its layout, then its rows as chunks (read once)."""

    def __init__(self, parts: list[Part], layout: Layout, mapper: LabelMapper | None) -> None:
        # each source's batches keyed by '<source id>:<column>', so two files may share a name
        self._parts = [
            Part(_KeyedSource(p.source), p.columns, p.labels, p.preds, p.weight, p.ids, p.by)
            for p in parts
        ]
        self.layout = layout
        self._mapper = mapper

    @property
    def mapped(self) -> bool:
        """Every file is held in memory or memory-mapped: chunks are views into it."""
        return all(p.source.mapped for p in self._parts)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """The rows, ``rows`` at a time (read once)."""
        start = 0
        if len(self._parts) == 1:  # one file: its own batches will do, no copies
            streams = [resize(self._parts[0].source.batches(self._parts[0].columns), rows)]
        else:  # several files: cut them the same way so the rows line up
            streams = [rechunk(p.source.batches(p.columns), rows) for p in self._parts]
        while True:
            pieces: list[Batch | None] = [next(s, None) for s in streams]
            if all(p is None for p in pieces):
                return
            if any(p is None for p in pieces) or len({batch_len(p) for p in pieces}) > 1:
                raise self._length_mismatch(pieces, start, rows)
            merged: Batch = {}
            for p in pieces:
                assert p is not None
                merged.update(p)
            n = batch_len(merged)
            yield self._assemble(merged, start, n)
            start += n

    def check_row_counts(self) -> None:
        """Before any record is streamed: files whose lengths differ, from their headers or
        their line ends (``rowcount``), refused now rather than after the rows they share."""
        if len(self._parts) < 2:
            return
        from bcecli.readers.rowcount import csv_rows

        exact: list[tuple[str, int]] = []  # (file, rows)
        bounds: list[tuple[str, int]] = []  # (file, at most so many rows)
        for p in self._parts:
            src = p.source.inner if isinstance(p.source, _KeyedSource) else p.source
            counted = (src.n_rows, True) if src.n_rows is not None else csv_rows(src)
            if counted is not None:
                (exact if counted[1] else bounds).append((src.name, counted[0]))
        if len({n for _, n in exact}) > 1:
            raise mismatch_error([(name, n, True) for name, n in exact], text=any_text(self._parts))
        for name, most in bounds:
            if exact and most < exact[0][1]:
                raise InputError(
                    f"has {exact[0][1]:,} rows but {name} has at most {most:,} (its line ends)",
                    "the files must match row for row: check that they come from the same data",
                    source=exact[0][0],
                )

    def _length_mismatch(self, pieces: list[Batch | None], start: int, rows: int) -> InputError:
        """Which file is longer; exact counts when a file has ended (its piece is short)."""
        counts: list[tuple[str, int, bool]] = []
        for part, piece in zip(self._parts, pieces, strict=True):
            n = batch_len(piece)
            counts.append((part.source.name, start + n, piece is None or n < rows))
        return mismatch_error(counts, text=any_text(self._parts))

    def _assemble(self, batch: Batch, start: int, n: int) -> Chunk:
        labels = [(c, batch[_key(p, c)]) for p in self._parts for c in p.labels]
        preds = [batch[_key(p, c)] for p in self._parts for c in p.preds]
        wpart = next((p for p in self._parts if p.weight), None)
        weights = None if wpart is None or not wpart.weight else batch[_key(wpart, wpart.weight)]
        chunk = assemble_chunk(start, labels, preds, weights, self._mapper)
        if any(p.ids for p in self._parts):
            ids = {c: batch[_key(p, c)] for p in self._parts for c in p.ids}
            chunk = replace(chunk, ids=ids)
        if any(p.by for p in self._parts):
            groups = {c: batch[_key(p, c)] for p in self._parts for c in p.by}
            chunk = replace(chunk, groups=groups)
        return chunk

    @property
    def mapper(self) -> LabelMapper | None:
        """How text labels map to numbers (decided on the first chunk), if they are text."""
        return self._mapper

    @property
    def partitions(self) -> tuple[tuple[int, str], ...]:
        """(global first row, name) of each partition of a partitioned input read so far."""
        for p in self._parts:
            src = p.source.inner if isinstance(p.source, _KeyedSource) else p.source
            if isinstance(src, PartitionedSource):
                return tuple(src.partitions)
        return ()

    def dataset(self) -> Dataset | None:
        """The input as files another reader can read (each partition checked against the
        first), with the columns read from them; None where it is not Parquet or CSV files
        (NPY, NPZ, a pipe). An ``OptionError`` when the columns come from several inputs."""
        if len(self._parts) != 1:
            raise OptionError(
                "labels, predictions and weights must come from one input here",
                "drop {labels} (and give {sample_weight} as a column of the input)",
                param="labels",
            )
        p = self._parts[0]
        files = p.source.files(p.columns)
        if files is None:
            return None
        return Dataset(files, tuple(p.labels), tuple(p.preds), p.weight)

    def close(self) -> None:
        for p in self._parts:
            p.source.close()


def _key(part: Part, column: str) -> str:
    return f"{id(part.source)}:{column}"


class _KeyedSource(Source):
    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        self.columns = inner.columns
        self.n_rows = inner.n_rows
        self.fmt_text = inner.fmt_text
        self.mapped = inner.mapped

    def kind(self, column: str) -> str:
        return self.inner.kind(column)

    def width(self, column: str) -> int:
        return self.inner.width(column)

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        return self._keyed(self.inner.batches(columns))

    def files(self, columns: list[str]) -> Files | None:
        return self.inner.files(columns)

    def distinct_values(self, column: str, limit: int) -> list[str] | None:
        return self.inner.distinct_values(column, limit)

    def _keyed(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for b in batches:
            yield {f"{id(self)}:{c}": v for c, v in b.items()}

    def close(self) -> None:
        self.inner.close()


def check_lengths(parts: list[Part]) -> None:
    """Files whose row counts are known must have the same."""
    known = [(p.source.name, p.source.n_rows) for p in parts if p.source.n_rows is not None]
    if len({n for _, n in known}) > 1:
        raise mismatch_error([(name, n, True) for name, n in known], text=any_text(parts))


def any_text(parts: list[Part]) -> bool:
    return any(p.source.fmt_text for p in parts)


def mismatch_error(counts: list[tuple[str, int, bool]], *, text: bool) -> InputError:
    """``counts``: (file, rows, exact) per file; 'at least' where a file has not ended yet."""
    first, *others = counts

    def rows(n: int, exact: bool) -> str:
        return f"{'' if exact else 'at least '}{n:,} row{'s' if n != 1 else ''}"

    what = f"has {rows(first[1], first[2])} but " + ", ".join(
        f"{name} has {rows(n, exact)}" for name, n, exact in others
    )
    fix = "the files must match row for row: check that they come from the same data"
    if text and all(exact for _, _, exact in counts) and len(counts) == 2:
        if abs(counts[0][1] - counts[1][1]) == 1:
            fix = (
                "one file has exactly one extra row: a header line read as data (a file without "
                "a header?), or a total line at the end? the files must match row for row"
            )
    return InputError(what, fix, source=first[0])
