"""The scoring engine: chunks in, per-sample results out, a mergeable accumulator behind."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from bcecli.core.accumulator import Accumulator
from bcecli.core.binary_scoring import score_binary_chunk
from bcecli.core.chunk import Chunk, ScoredChunk
from bcecli.core.options import LossOptions, Task

if TYPE_CHECKING:  # the report's modules load when a report is asked for
    from bcecli.core.report import Context, Report


class Scorer:
    """Scores chunks of one input, in any order, into one accumulator."""

    def __init__(self, opts: LossOptions, n_outputs: int) -> None:
        if opts.task is Task.AUTO:
            raise ValueError("resolve the task before scoring")
        opts.check(n_outputs)
        self.opts = opts
        self.accumulator = Accumulator(opts, n_outputs)

    def score(self, chunk: Chunk) -> ScoredChunk:
        return self.score_into(self.accumulator, chunk)

    def score_into(self, acc: Accumulator, chunk: Chunk) -> ScoredChunk:
        """Score ``chunk`` into ``acc`` (an accumulator of this run: a thread's or a
        process's, merged into this one later)."""
        if self.opts.task.is_multiclass:
            from bcecli.core.categorical_scoring import score_categorical_chunk

            return score_categorical_chunk(acc, chunk)
        return score_binary_chunk(acc, chunk)

    def score_all(self, chunks: Iterable[Chunk], *, workers: int = 1) -> Iterator[ScoredChunk]:
        """Score a stream of chunks, yielding results in input order.

        With ``workers > 1`` chunks are scored on that many threads (numpy releases the GIL),
        chunk i on thread i % workers into that thread's own accumulator; they are merged into
        this one at the end. Which chunks each accumulator adds, and in which order, never
        depends on timing, so a run gives the same report, to the last bit, every time (the
        headline sums are exactly those of one thread: the accumulator merges them exactly).
        """
        it = iter(chunks)
        if workers > 1:
            head = list(itertools.islice(it, 2))
            if len(head) < 2:
                workers = 1  # a single chunk: a thread would only add its start-up
            it = itertools.chain(head, it)
        if workers <= 1:
            for chunk in it:
                yield self.score(chunk)
            return
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        partials = [Accumulator(self.opts, self.accumulator.n_outputs) for _ in range(workers)]
        for acc in partials:
            if not self.accumulator.keeps_rows:
                acc.buckets_only()
        # one thread per accumulator: it adds its chunks in row order
        pools = [ThreadPoolExecutor(1, thread_name_prefix="bce-score") for _ in range(workers)]
        try:
            pending: deque[Future[ScoredChunk]] = deque()
            for i, chunk in enumerate(it):
                j = i % workers
                pending.append(pools[j].submit(self.score_into, partials[j], chunk))
                if len(pending) > workers:  # bounded read-ahead: memory stays per chunk
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for pool in pools:
                pool.shutdown(cancel_futures=True)
        for acc in partials:
            if acc.rows:
                self.accumulator.merge(acc)

    def report(self, context: Context | None = None) -> Report:
        from bcecli.core.report import Context, finalize

        return finalize(self.accumulator, context or Context())


def score_arrays(
    labels: object,
    preds: object,
    opts: LossOptions,
    weights: object = None,
    context: Context | None = None,
) -> Report:
    """One-shot scoring of in-memory arrays (lists, numpy arrays or pandas Series)."""
    import numpy as np

    y = np.asarray(labels, dtype=np.float64)
    x = np.asarray(preds)
    x = x.astype(np.float32 if x.dtype == np.float32 else np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None and w.size:
        from dataclasses import replace

        from bcecli.core.weight_scale import scale_for

        opts = replace(opts, weight_scale=scale_for(float(w.reshape(-1)[0])))
    scorer = Scorer(opts, x.shape[1])
    scorer.score(Chunk(0, y, x, w))
    return scorer.report(context)
