"""The local engine: every chunk of the input scored in this process, on threads, each passed
on in row order to the caller's row sink and progress callback."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from bcecli.core.blocksum import BLOCK
from bcecli.core.chunk import Chunk
from bcecli.core.sketch import EXACT_LIMIT
from bcecli.errors import BceError
from bcecli.run.prepare import Prepared, prepare
from bcecli.run.request import LocalEngine, ScoreRequest
from bcecli.run.sink import Progress, RowSink

if TYPE_CHECKING:
    from bcecli.core.report import Report


def run_local(
    req: ScoreRequest,
    engine: LocalEngine,
    sink: RowSink | None,
    progress: Progress | None,
    *,
    keep_rows: bool = False,
) -> Report:
    """Score ``req`` here. ``keep_rows``: keep the rows for exact quantiles even when the input
    says it has more than ``EXACT_LIMIT`` (the second pass over a file of excluded rows)."""
    prep = prepare(req)
    try:
        n_rows = prep.inp.layout.n_rows
        # a large file's first EXACT_LIMIT rows would be copied only to be dropped
        bucketed = not keep_rows and sink is None and (n_rows or 0) > EXACT_LIMIT
        if bucketed:
            prep.scorer.accumulator.buckets_only()
        if sink is not None:
            try:
                prep.inp.check_row_counts()  # before a record is streamed
            except BceError as e:
                raise e.with_source(prep.sources) from None
            sink.begin(prep.row_columns())
        # the reader's own chunks are re-cut; chunks of a size the caller chose pass as they are
        threads = engine.threads_for(prep.inp.mapped, prep.opts.task.is_multiclass)
        _stream(prep, threads, sink, progress, aligned=engine.chunk_rows is None)
        if sink is not None:
            sink.finish()
        if bucketed and prep.scorer.accumulator.sketch.n <= EXACT_LIMIT:
            # so many rows were excluded that the quantiles can be exact after all (rare): score
            # again keeping the rows, for the report a small file gets
            return run_local(req, engine, sink, progress, keep_rows=True)
        try:
            return prep.scorer.report(prep.context(prep.inp.partitions))
        except BceError as e:
            raise e.with_source(prep.sources) from None
    finally:
        prep.inp.close()


def _stream(
    prep: Prepared,
    threads: int,
    sink: RowSink | None,
    progress: Progress | None,
    *,
    aligned: bool,
) -> None:
    """Score every chunk into ``prep.scorer``, passing each on as it comes (``aligned``: cut on
    the sum blocks' boundaries first, ``block_aligned``)."""
    n_rows = prep.inp.layout.n_rows
    done = 0
    chunks: Iterable[Chunk] = itertools.chain([prep.first], prep.rest)
    if aligned:
        chunks = block_aligned(chunks)
    stream = prep.scorer.score_all(chunks, workers=threads)
    while True:
        try:
            scored = next(stream, None)
        except BceError as e:
            raise e.with_source(prep.sources) from None
        if scored is None:
            return
        if sink is not None:
            sink.write(scored)
        done += len(scored.chunk)
        if progress is not None:
            progress(done, n_rows)


def block_aligned(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """The same rows in the same order, in chunks that end on a boundary of the summary's sum
    blocks (a multiple of ``BLOCK`` rows; only the last chunk may end elsewhere).

    A block that two chunks share is summed once both halves are in, and with chunk i scored
    on thread i % threads the halves sit in two threads' tallies until the end of the run: a
    reader whose chunks end anywhere (a CSV file's batches) would leave two pieces of a block
    at every chunk boundary, memory that grows with the rows. The rows after a chunk's last
    boundary (fewer than ``BLOCK``) are carried into the next chunk instead; chunks that
    already end on a boundary (NPY, Parquet) pass as they are, with no copy.
    """
    carry: Chunk | None = None
    for chunk in chunks:
        if carry is not None:
            chunk = _joined(carry, chunk)
            carry = None
        end = (chunk.start + len(chunk)) // BLOCK * BLOCK - chunk.start
        if end <= 0:  # not yet at a boundary
            carry = chunk
            continue
        if end < len(chunk):
            carry = _rows(chunk, end, len(chunk))
            chunk = _rows(chunk, 0, end)
        yield chunk
    if carry is not None:
        yield carry


def _rows(chunk: Chunk, a: int, b: int) -> Chunk:
    w = None if chunk.weights is None else chunk.weights[a:b]
    ids = None if chunk.ids is None else {k: v[a:b] for k, v in chunk.ids.items()}
    groups = None if chunk.groups is None else {k: v[a:b] for k, v in chunk.groups.items()}
    return Chunk(chunk.start + a, chunk.labels[a:b], chunk.preds[a:b], w, ids, groups)


def _joined(head: Chunk, rest: Chunk) -> Chunk:
    w = None
    if head.weights is not None or rest.weights is not None:
        assert head.weights is not None and rest.weights is not None  # one reader's chunks
        w = np.concatenate([head.weights, rest.weights])
    ids = None
    if head.ids is not None and rest.ids is not None:
        from bcecli.readers.batches import concat_columns

        ids = {k: concat_columns([v, rest.ids[k]]) for k, v in head.ids.items()}
    groups = None
    if head.groups is not None and rest.groups is not None:
        from bcecli.readers.batches import concat_columns

        groups = {k: concat_columns([v, rest.groups[k]]) for k, v in head.groups.items()}
    return Chunk(
        head.start,
        np.concatenate([head.labels, rest.labels]),
        np.concatenate([head.preds, rest.preds]),
        w,
        ids,
        groups,
    )
