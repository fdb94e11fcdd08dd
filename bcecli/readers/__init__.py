"""Readers: files in, aligned chunks of labels, predictions and weights out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bcecli.core.chunk import Chunk
from bcecli.errors import InputError, OptionError
from bcecli.readers.columns import WEIGHT_NAMES, Selection, normalize, select_columns
from bcecli.readers.dataset import CsvDialect, Dataset, Files
from bcecli.readers.display import show, show_cell, show_names
from bcecli.readers.labels import LabelMapper
from bcecli.readers.partitions import PartitionedSource, is_partitioned
from bcecli.readers.sources import (
    Batch,
    Column,
    Source,
    TextColumn,
    column_from_arrow,
    open_source,
)

CHUNK_ROWS = 1 << 18  # a multiple of the core's 4096-row sum blocks


@dataclass(frozen=True)
class ColumnRequest:
    """The columns the user named (None: bce finds them)."""

    label_cols: tuple[str, ...] | None = None
    pred_cols: tuple[str, ...] | None = None
    sample_weight: str | None = None


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


@dataclass(eq=False)
class _Part:
    """The columns one source contributes, in output order."""

    source: Source
    columns: list[str]
    labels: list[str]
    preds: list[str]
    weight: str | None


class Input:
    """An opened input: its layout, then its rows as chunks (read once)."""

    def __init__(self, parts: list[_Part], layout: Layout, mapper: LabelMapper | None) -> None:
        self._parts = parts
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
            streams = [_resize(self._parts[0].source.batches(self._parts[0].columns), rows)]
        else:  # several files: cut them the same way so the rows line up
            streams = [_rechunk(p.source.batches(p.columns), rows) for p in self._parts]
        while True:
            pieces: list[Batch | None] = [next(s, None) for s in streams]
            if all(p is None for p in pieces):
                return
            if any(p is None for p in pieces) or len({_batch_len(p) for p in pieces}) > 1:
                raise self._length_mismatch(pieces, start, rows)
            merged: Batch = {}
            for p in pieces:
                assert p is not None
                merged.update(p)
            n = _batch_len(merged)
            yield self._assemble(merged, start, n)
            start += n

    def _length_mismatch(self, pieces: list[Batch | None], start: int, rows: int) -> InputError:
        """Which file is longer; exact counts when a file has ended (its piece is short)."""
        counts: list[tuple[str, int, bool]] = []
        for part, piece in zip(self._parts, pieces, strict=True):
            n = _batch_len(piece)
            counts.append((part.source.name, start + n, piece is None or n < rows))
        return mismatch_error(counts, text=_any_text(self._parts))

    def _assemble(self, batch: Batch, start: int, n: int) -> Chunk:
        labels = [(c, batch[_key(p, c)]) for p in self._parts for c in p.labels]
        preds = [batch[_key(p, c)] for p in self._parts for c in p.preds]
        wpart = next((p for p in self._parts if p.weight), None)
        weights = None if wpart is None or not wpart.weight else batch[_key(wpart, wpart.weight)]
        return assemble_chunk(start, labels, preds, weights, self._mapper)

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


def assemble_chunk(
    start: int,
    labels: list[tuple[str, Column]],
    preds: list[Column],
    weights: Column | None,
    mapper: LabelMapper | None,
) -> Chunk:
    """The chunk of rows ``start ..`` from its columns: ``labels`` as (column name, values),
    text labels mapped to numbers by ``mapper``, predictions stacked in float32 only when every
    column is float32."""
    if mapper is not None:
        label_arrays = [mapper.map(a, start, column=c) for c, a in labels]
    else:
        label_arrays = [_numbers(a) for _, a in labels]
    pred_arrays = [_numbers(a) for a in preds]
    dtype = np.float32 if all(a.dtype == np.float32 for a in pred_arrays) else np.float64
    w = None
    if weights is not None:
        w = np.asarray(_numbers(weights), dtype=np.float64).reshape(len(weights))
    return Chunk(start, _stack(label_arrays, np.float64), _stack(pred_arrays, dtype), w)


def _numbers(column: Column) -> np.ndarray:
    """A column as numbers (text read as the numbers it spells; the column checks have
    refused text that is not)."""
    if isinstance(column, TextColumn):
        return np.asarray(column.values.to_pylist(), dtype=np.float64)
    return column


def _key(part: _Part, column: str) -> str:
    return f"{id(part.source)}:{column}"


def _batch_len(b: Batch | None) -> int:
    return len(next(iter(b.values()))) if b else 0


def _stack(arrays: list[np.ndarray], dtype: type[np.floating]) -> np.ndarray:
    if len(arrays) == 1:
        a = arrays[0]
        if a.dtype == object:
            a = np.asarray(a, dtype=np.float64)
        a = np.asarray(a, dtype=dtype) if a.dtype != dtype else np.asarray(a)
        return a.reshape(len(a), -1)
    cols = [np.asarray(a, dtype=dtype).reshape(len(a), -1) for a in arrays]
    return np.concatenate(cols, axis=1)


def _rechunk(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """Re-cut batches into chunks of exactly ``rows`` rows (the last one shorter)."""
    pending: list[Batch] = []
    have = 0
    for b in batches:
        n = _batch_len(b)
        offset = 0
        while offset < n:
            if not pending and n - offset >= rows:
                yield {k: v[offset : offset + rows] for k, v in b.items()}  # a view, no copy
                offset += rows
                continue
            take = min(rows - have, n - offset)
            pending.append({k: v[offset : offset + take] for k, v in b.items()})
            have += take
            offset += take
            if have == rows:
                yield _concat(pending)
                pending, have = [], 0
    if pending:
        yield _concat(pending)


def _resize(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """Batches of at most ``rows`` rows: large ones split (views), small ones gathered until
    they reach a quarter of ``rows``, the rest passed on as they come (no copy)."""
    pending: list[Batch] = []
    have = 0
    for b in batches:
        n = _batch_len(b)
        if n >= rows // 4 and not pending:
            for offset in range(0, n, rows):
                yield {k: v[offset : offset + rows] for k, v in b.items()}
            continue
        pending.append(b)
        have += n
        if have >= rows // 4:
            yield from _resize(iter([_concat(pending)]), rows)
            pending, have = [], 0
    if pending:
        yield _concat(pending)


def _concat(pieces: list[Batch]) -> Batch:
    if len(pieces) == 1:
        return pieces[0]
    return {k: _concat_columns([p[k] for p in pieces]) for k in pieces[0]}


def _concat_columns(parts: list[Column]) -> Column:
    texts = [p for p in parts if isinstance(p, TextColumn)]
    if texts:
        return TextColumn.concat(texts) if len(texts) == len(parts) else _mixed_concat(parts)
    return np.concatenate([p for p in parts if not isinstance(p, TextColumn)])


def _mixed_concat(parts: list[Column]) -> Column:
    """Pieces of one column read as text in one batch and as numbers in another (a batch of
    empty cells, say): an object array, None for a missing value, as the label mapper reads."""
    pieces = []
    for p in parts:
        if isinstance(p, TextColumn):
            pieces.append(np.asarray(p.values.to_pylist(), dtype=object))
        else:
            obj = p.astype(object)
            if p.dtype.kind == "f":
                obj[np.isnan(p)] = None
            pieces.append(obj)
    return np.concatenate(pieces)


# --------------------------------------------------------------------------------------------


def open_input(
    preds_path: str | Source, labels_path: str | Source | None, request: ColumnRequest
) -> Input:
    """Open the input files (or take sources already open, such as arrays in memory) and
    decide which columns are labels, predictions and weights."""
    if preds_path == "-" and labels_path == "-":
        raise OptionError("only one input can come from stdin ('-')", "write one of them to a file")
    opened: list[Source] = [_open(preds_path, "preds")]
    try:
        labels_src = None
        if labels_path is not None:
            labels_src = _open(labels_path, "labels")
            opened.append(labels_src)
        return _build(opened[0], labels_src, request, opened)
    except BaseException:
        for src in opened:
            src.close()
        raise


def _open(path: str | Source, role: str) -> Source:
    """A file, or the partition files of a directory or a glob read as one source."""
    if isinstance(path, Source):
        return path
    if is_partitioned(path):
        return PartitionedSource(path, role)
    return open_source(path, role).source


def _weight_column(src: Source, wanted: str) -> str | None:
    if wanted in src.columns:
        return wanted
    return None


def _build(
    preds_src: Source, labels_src: Source | None, req: ColumnRequest, opened: list[Source]
) -> Input:
    """``opened`` collects every source opened here, for the caller to close on an error."""
    notes: list[str] = list(preds_src.notes)
    weight_src: Source | None = None
    weight_col: str | None = None
    weight_name: str | None = None
    if req.sample_weight is not None:
        for src in (preds_src, labels_src):
            if src is not None and _weight_column(src, req.sample_weight):
                weight_src, weight_col = src, req.sample_weight
                weight_name = f"{show(req.sample_weight)} ({src.name})"
                break
        else:
            if not os.path.exists(req.sample_weight):
                raise OptionError(
                    f"{{sample_weight}} {show_cell(req.sample_weight)} is neither a column of the "
                    "input nor a file",
                    "name a column, or the path of a file of weights",
                    param="sample_weight",
                )
            weight_src = open_source(req.sample_weight, "weight").source
            opened.append(weight_src)
            notes.extend(weight_src.notes)
            named = [c for c in weight_src.columns if normalize(c) in WEIGHT_NAMES]
            if len(weight_src.columns) == 1:
                weight_col = weight_src.columns[0]
            elif len(named) == 1:
                weight_col = named[0]
            else:
                raise InputError(
                    f"cannot tell which column holds the weights (columns: "
                    f"{show_names(weight_src.columns)})",
                    "give a file with one column, or one named weight",
                    source=weight_src.name,
                )
            weight_name = f"{show(weight_col)} ({weight_src.name})"
    exclude = (weight_col,) if weight_col and weight_src is preds_src else ()

    if labels_src is None:
        if preds_src.columns == ["preds"] and not req.label_cols:
            raise InputError(
                "holds one array (the predictions), and no labels",
                "give the labels with {labels=FILE}",
                source=preds_src.name,
                param="labels",
            )
        try:
            sel = _positional(preds_src, req) or select_columns(
                preds_src.columns, want_labels=True, want_preds=True,
                label_cols=req.label_cols, pred_cols=req.pred_cols, exclude=exclude,
                source=preds_src.name,
            )  # fmt: skip
        except InputError as e:
            if not preds_src.positional:
                raise
            raise InputError(
                f"has no header row and {len(preds_src.columns)} columns "
                f"({show_names(preds_src.columns)}): which holds the labels is not clear",
                "name them, e.g. {label_col=column_2} {pred_col=column_3}, or add a header line "
                "such as id,y_true,y_pred",
                source=preds_src.name,
                param="label_col",
            ) from e
        parts = [
            _Part(preds_src, [*sel.labels, *sel.preds], list(sel.labels), list(sel.preds), None)
        ]
        how = sel.how
        suffixes = sel.suffixes
    else:
        psel = select_columns(
            preds_src.columns, want_labels=False, want_preds=True, label_cols=None,
            pred_cols=req.pred_cols, exclude=exclude, source=preds_src.name,
        )  # fmt: skip
        lexclude = (weight_col,) if weight_col and weight_src is labels_src else ()
        lsel = select_columns(
            labels_src.columns, want_labels=True, want_preds=False, label_cols=req.label_cols,
            pred_cols=None, exclude=lexclude, source=labels_src.name,
        )  # fmt: skip
        notes.extend(labels_src.notes)
        parts = [
            _Part(preds_src, list(psel.preds), [], list(psel.preds), None),
            _Part(labels_src, list(lsel.labels), list(lsel.labels), [], None),
        ]
        how = f"{psel.how} in {preds_src.name}; {lsel.how} in {labels_src.name}"
        suffixes = psel.suffixes
    # attach the weight column to the part of its source, or as a part of its own
    if weight_src is not None and weight_col is not None:
        owner = next((p for p in parts if p.source is weight_src), None)
        if owner is None:
            owner = _Part(weight_src, [], [], [], None)
            parts.append(owner)
        owner.columns.append(weight_col)
        owner.weight = weight_col
    elif req.sample_weight is None:
        unused = [c for c in preds_src.columns if normalize(c) in WEIGHT_NAMES]
        if unused:
            notes.append(
                f"column {show(unused[0])} is not used as a weight; pass --sample-weight "
                f"{show(unused[0])} to use it"
            )
    _check_lengths(parts)
    for p in parts:
        for c in [*p.labels, *p.preds] + ([p.weight] if p.weight else []):
            _check_kind(p.source, c, "labels" if c in p.labels else "")
    string_labels = [c for p in parts for c in p.labels if p.source.kind(c) == "string"]
    mapper = LabelMapper(suffixes, source=_label_source(parts).name) if string_labels else None
    widths_l = sum(p.source.width(c) for p in parts for c in p.labels)
    widths_p = sum(p.source.width(c) for p in parts for c in p.preds)
    n_rows = next((p.source.n_rows for p in parts if p.source.n_rows is not None), None)
    layout = Layout(
        sources=tuple(p.source.name for p in parts),
        label_columns=tuple(c for p in parts for c in p.labels),
        pred_columns=tuple(c for p in parts for c in p.preds),
        weight_column=weight_name,
        how=how,
        notes=tuple(notes),
        n_rows=n_rows,
        n_label_outputs=widths_l,
        n_pred_outputs=widths_p,
        class_names=suffixes,
    )
    return Input(_keyed_parts(parts), layout, mapper)


def _label_source(parts: list[_Part]) -> Source:
    return next(p.source for p in parts if p.labels)


def _keyed_parts(parts: list[_Part]) -> list[_Part]:
    """Key each source's batches by '<source id>:<column>', so two files may share a name."""
    return [_Part(_KeyedSource(p.source), p.columns, p.labels, p.preds, p.weight) for p in parts]


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

    def _keyed(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for b in batches:
            yield {f"{id(self)}:{c}": v for c, v in b.items()}

    def close(self) -> None:
        self.inner.close()


def _check_lengths(parts: list[_Part]) -> None:
    known = [(p.source.name, p.source.n_rows) for p in parts if p.source.n_rows is not None]
    if len({n for _, n in known}) > 1:
        raise mismatch_error([(name, n, True) for name, n in known], text=_any_text(parts))


def _any_text(parts: list[_Part]) -> bool:
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


def _positional(src: Source, req: ColumnRequest) -> Selection | None:
    """A headerless file of two columns: the first holds the labels, the second the predictions."""
    if not src.positional or len(src.columns) != 2 or req.label_cols or req.pred_cols:
        return None
    first, second = src.columns
    return Selection(
        (first,),
        (second,),
        f"no header: {first} as labels, {second} as predictions (by position; name them with "
        "--label-col / --pred-col if that is wrong)",
    )


def _check_kind(src: Source, column: str, role: str) -> None:
    """Labels may be text (mapped to numbers); predictions and weights must be numbers."""
    kind = src.kind(column)
    name = show(column, 40)
    if kind == "empty":
        raise InputError(
            f"column {name} holds no number in any row (every cell is empty, NA or NaN)",
            "fill it in, or name another column with "
            + ("{label_col}" if role == "labels" else "{pred_col}"),
            source=src.name,
            param="label_col" if role == "labels" else "pred_col",
        )
    if kind == "other" or (kind == "string" and role != "labels"):
        problem = src.text_problem(column) if kind == "string" else None
        if problem is not None:
            raise InputError(*problem, source=src.name)
        raise InputError(
            f"column {name} holds {src.type_name(column)}, not numbers",
            "predictions and weights must be numbers: "
            + (
                "flatten it into one numeric column per output"
                if kind == "other"
                else "save them as numbers, not text"
            ),
            source=src.name,
        )


__all__ = [
    "CHUNK_ROWS",
    "Column",
    "ColumnRequest",
    "CsvDialect",
    "Dataset",
    "Files",
    "Input",
    "LabelMapper",
    "Layout",
    "Selection",
    "assemble_chunk",
    "column_from_arrow",
    "open_input",
]
