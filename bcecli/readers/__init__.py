"""Readers: files in, aligned chunks of labels, predictions and weights out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bcecli.core.chunk import Chunk
from bcecli.errors import InputError, OptionError
from bcecli.readers.columns import WEIGHT_NAMES, Selection, normalize, select_columns
from bcecli.readers.labels import LabelMapper
from bcecli.readers.sources import Batch, Source, open_source

CHUNK_ROWS = 1 << 18  # a multiple of the core's 4096-row sum blocks


@dataclass(frozen=True)
class ColumnRequest:
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


@dataclass
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

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        streams = [_rechunk(p.source.batches(p.columns), rows) for p in self._parts]
        start = 0
        while True:
            pieces: list[Batch | None] = [next(s, None) for s in streams]
            if all(p is None for p in pieces):
                return
            if any(p is None for p in pieces) or len({_batch_len(p) for p in pieces}) > 1:
                raise self._length_mismatch(pieces, start)
            merged: Batch = {}
            for p in pieces:
                assert p is not None
                merged.update(p)
            n = _batch_len(merged)
            yield self._assemble(merged, start, n)
            start += n

    def _length_mismatch(self, pieces: list[Batch | None], start: int) -> InputError:
        counts = []
        for part, piece in zip(self._parts, pieces, strict=True):
            n = start + (_batch_len(piece) if piece is not None else 0)
            counts.append(f"{part.source.name} has {'at least ' if piece else ''}{n} rows")
        return InputError(
            "labels and predictions have different lengths: " + ", ".join(counts),
            "they must match row for row; check that both files come from the same data",
        )

    def _assemble(self, batch: Batch, start: int, n: int) -> Chunk:
        weight = next((p.weight for p in self._parts if p.weight), None)
        label_arrays = [batch[_key(p, c)] for p in self._parts for c in p.labels]
        if self._mapper is not None:
            label_arrays = [self._mapper.map(a, start) for a in label_arrays]
        labels = _stack(label_arrays, np.float64)
        preds_list = [batch[_key(p, c)] for p in self._parts for c in p.preds]
        dtype = np.float32 if all(a.dtype == np.float32 for a in preds_list) else np.float64
        preds = _stack(preds_list, dtype)
        weights = None
        if weight is not None:
            wpart = next(p for p in self._parts if p.weight)
            weights = np.asarray(batch[_key(wpart, weight)], dtype=np.float64).reshape(n)
        return Chunk(start, labels, preds, weights)

    def close(self) -> None:
        for p in self._parts:
            p.source.close()


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


def _concat(pieces: list[Batch]) -> Batch:
    if len(pieces) == 1:
        return pieces[0]
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}


# --------------------------------------------------------------------------------------------


def open_input(preds_path: str, labels_path: str | None, request: ColumnRequest) -> Input:
    """Open the input files and decide which columns are labels, predictions and weights."""
    if preds_path == "-" and labels_path == "-":
        raise OptionError("only one input can come from stdin ('-')",
                          "write one of them to a file")
    preds_src = open_source(preds_path, "preds").source
    labels_src = None if labels_path is None else open_source(labels_path, "labels").source
    try:
        return _build(preds_src, labels_src, request)
    except BaseException:
        preds_src.close()
        if labels_src is not None:
            labels_src.close()
        raise


def _weight_column(src: Source, wanted: str) -> str | None:
    if wanted in src.columns:
        return wanted
    return None


def _build(preds_src: Source, labels_src: Source | None, req: ColumnRequest) -> Input:
    notes: list[str] = list(preds_src.notes)
    weight_src: Source | None = None
    weight_col: str | None = None
    weight_name: str | None = None
    if req.sample_weight is not None:
        for src in (preds_src, labels_src):
            if src is not None and _weight_column(src, req.sample_weight):
                weight_src, weight_col = src, req.sample_weight
                weight_name = f"{req.sample_weight} ({src.name})"
                break
        else:
            if not os.path.exists(req.sample_weight):
                raise OptionError(
                    f"--sample-weight {req.sample_weight!r} is neither a column of the input "
                    "nor a file",
                    "name a column, or the path of a file of weights",
                )
            weight_src = open_source(req.sample_weight, "weight").source
            named = [c for c in weight_src.columns if normalize(c) in WEIGHT_NAMES]
            if len(weight_src.columns) == 1:
                weight_col = weight_src.columns[0]
            elif len(named) == 1:
                weight_col = named[0]
            else:
                raise InputError(
                    f"cannot tell which column holds the weights (columns: "
                    f"{', '.join(weight_src.columns)})",
                    "give a file with one column, or one named weight",
                    source=weight_src.name,
                )
            weight_name = f"{weight_col} ({weight_src.name})"
    exclude = (weight_col,) if weight_col and weight_src is preds_src else ()

    if labels_src is None:
        sel = select_columns(
            preds_src.columns, want_labels=True, want_preds=True,
            label_cols=req.label_cols, pred_cols=req.pred_cols, exclude=exclude,
            source=preds_src.name,
        )  # fmt: skip
        if preds_src.columns == ["preds"] and not req.label_cols:
            raise InputError("an NPY file holds one array",
                             "give the labels with --labels FILE", source=preds_src.name)
        parts = [_Part(preds_src, [*sel.labels, *sel.preds], list(sel.labels),
                       list(sel.preds), None)]
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
            notes.append(f"column {unused[0]} is not used as a weight; pass --sample-weight "
                         f"{unused[0]} to use it")
    _check_lengths(parts)
    for p in parts:
        for c in [*p.labels, *p.preds] + ([p.weight] if p.weight else []):
            kind = p.source.kind(c)
            if kind == "other" or (kind == "string" and c not in p.labels):
                raise InputError(
                    f"column {c} holds {'text' if kind == 'string' else 'non-numeric values'}, "
                    "not numbers",
                    "predictions and weights must be numeric",
                    source=p.source.name,
                )
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
    return [
        _Part(_KeyedSource(p.source), p.columns, p.labels, p.preds, p.weight) for p in parts
    ]


class _KeyedSource(Source):
    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        self.columns = inner.columns
        self.n_rows = inner.n_rows

    def kind(self, column: str) -> str:
        return self.inner.kind(column)

    def width(self, column: str) -> int:
        return self.inner.width(column)

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        for b in self.inner.batches(columns):
            yield {f"{id(self)}:{c}": v for c, v in b.items()}

    def close(self) -> None:
        self.inner.close()


def _check_lengths(parts: list[_Part]) -> None:
    known = [(p.source.name, p.source.n_rows) for p in parts if p.source.n_rows is not None]
    if len({n for _, n in known}) > 1:
        raise InputError(
            "labels and predictions have different lengths: "
            + ", ".join(f"{name} has {n} rows" for name, n in known),
            "they must match row for row; check that both files come from the same data",
        )


__all__ = ["CHUNK_ROWS", "ColumnRequest", "Input", "Layout", "Selection", "open_input"]
