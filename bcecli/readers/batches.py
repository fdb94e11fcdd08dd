"""Batches cut into chunks of a given number of rows, and chunks assembled from a batch's
columns (text labels mapped to numbers, predictions stacked)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bcecli.core.chunk import Chunk
from bcecli.readers.base import Batch, Column, TextColumn
from bcecli.readers.labels import LabelMapper


def assemble_chunk(
    start: int,
    labels: list[tuple[str, Column]],
    preds: list[Column],
    weights: Column | None,
    mapper: LabelMapper | None,
) -> Chunk:
    """The chunk of rows ``start ..`` from its columns: ``labels`` as (column name, values),
    text labels mapped to numbers by ``mapper``, predictions stacked in float32 (float16) only
    when every column is float32 (float16)."""
    if mapper is not None:
        label_arrays = [mapper.map(a, start, column=c) for c, a in labels]
    else:
        label_arrays = [_numbers(a) for _, a in labels]
    pred_arrays = [_numbers(a) for a in preds]
    # a narrow float type is kept where every column has it: scikit-learn clips with its eps
    narrow = [t for t in (np.float32, np.float16) if all(a.dtype == t for a in pred_arrays)]
    dtype = narrow[0] if narrow else np.float64
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


def batch_len(b: Batch | None) -> int:
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


def rechunk(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """Re-cut batches into chunks of exactly ``rows`` rows (the last one shorter)."""
    pending: list[Batch] = []
    have = 0
    for b in batches:
        n = batch_len(b)
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
                yield concat(pending)
                pending, have = [], 0
    if pending:
        yield concat(pending)


def resize(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """Batches of at most ``rows`` rows: large ones split (views), small ones gathered until
    they reach a quarter of ``rows``, the rest passed on as they come (no copy)."""
    pending: list[Batch] = []
    have = 0
    for b in batches:
        n = batch_len(b)
        if n >= rows // 4 and not pending:
            for offset in range(0, n, rows):
                yield {k: v[offset : offset + rows] for k, v in b.items()}
            continue
        pending.append(b)
        have += n
        if have >= rows // 4:
            yield from resize(iter([concat(pending)]), rows)
            pending, have = [], 0
    if pending:
        yield concat(pending)


def concat(pieces: list[Batch]) -> Batch:
    if len(pieces) == 1:
        return pieces[0]
    return {k: concat_columns([p[k] for p in pieces]) for k in pieces[0]}


def concat_columns(parts: list[Column]) -> Column:
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
