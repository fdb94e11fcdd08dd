"""The scoring engine: chunks in, per-sample results out, a mergeable accumulator behind."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bcecli.core.accumulator import Accumulator
from bcecli.core.binary_scoring import score_binary_chunk
from bcecli.core.chunk import Chunk, ScoredChunk
from bcecli.core.options import LossOptions, Task
from bcecli.core.report import Context, Report, finalize


class Scorer:
    """Scores chunks of one input, in any order, into one accumulator."""

    def __init__(self, opts: LossOptions, n_outputs: int) -> None:
        if opts.task is Task.AUTO:
            raise ValueError("resolve the task before scoring")
        opts.check(n_outputs)
        self.opts = opts
        self.accumulator = Accumulator(opts, n_outputs)

    def score(self, chunk: Chunk) -> ScoredChunk:
        if self.opts.task.is_multiclass:
            from bcecli.core.categorical_scoring import score_categorical_chunk

            return score_categorical_chunk(self.accumulator, chunk)
        return score_binary_chunk(self.accumulator, chunk)

    def score_all(self, chunks: Iterable[Chunk]) -> Iterator[ScoredChunk]:
        for chunk in chunks:
            yield self.score(chunk)

    def report(self, context: Context | None = None) -> Report:
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
    scorer = Scorer(opts, x.shape[1])
    scorer.score(Chunk(0, y, x, w))
    return scorer.report(context)
