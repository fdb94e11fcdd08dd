"""The local engine cuts the reader's chunks on the sum blocks' boundaries, so that no block is
left in two threads' tallies until the end of a run (memory that would grow with the rows)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bcecli.core.blocksum import BLOCK
from bcecli.core.chunk import Chunk
from bcecli.core.options import LossOptions, Task
from bcecli.core.scoring import Scorer
from bcecli.run.local import block_aligned


def _reader(sizes: list[int], weights: bool) -> list[Chunk]:
    """Chunks of the given sizes over rows numbered 0, 1, ... (their values are their rows)."""
    out, start = [], 0
    for n in sizes:
        rows = np.arange(start, start + n, dtype=np.float64)
        w = rows + 0.5 if weights else None
        out.append(Chunk(start, rows[:, None], np.stack([rows, -rows], axis=1), w))
        start += n
    return out


@pytest.mark.parametrize(
    "sizes",
    [
        [94_752, 94_752, 94_752, 1_000],  # a CSV reader's batches
        [1_000] * 30,  # chunks smaller than a block
        [BLOCK * 3, BLOCK, 7],  # already aligned but for the last
        [BLOCK - 1, 1, BLOCK + 1, BLOCK - 1],
        [5],
    ],
)
@pytest.mark.parametrize("weights", [False, True])
def test_same_rows_in_order_cut_on_block_boundaries(sizes: list[int], weights: bool) -> None:
    got = list(block_aligned(_reader(sizes, weights)))
    n = sum(sizes)
    assert [c.start for c in got] == list(itertools.accumulate([0] + [len(c) for c in got]))[:-1]
    for c in got[:-1]:
        assert (c.start + len(c)) % BLOCK == 0
    rows = np.arange(n, dtype=np.float64)
    np.testing.assert_array_equal(np.concatenate([c.labels[:, 0] for c in got]), rows)
    preds = np.concatenate([c.preds for c in got])
    np.testing.assert_array_equal(preds, np.stack([rows, -rows], axis=1))
    if weights:
        np.testing.assert_array_equal(np.concatenate([c.weights for c in got]), rows + 0.5)
    else:
        assert all(c.weights is None for c in got)


def test_aligned_chunks_pass_without_a_copy() -> None:
    chunks = _reader([BLOCK * 4, BLOCK * 2], weights=False)
    got = list(block_aligned(chunks))
    assert [len(c) for c in got] == [BLOCK * 4, BLOCK * 2]
    assert all(g is c for g, c in zip(got, chunks, strict=True))


def test_threads_keep_no_partial_blocks() -> None:
    """Scored on two threads, the aligned chunks of an unaligned reader leave no block in two
    tallies: every thread's sums are whole blocks but for the input's last."""
    rng = np.random.default_rng(5)
    n, sizes = 60_000, [9_001, 12_345, 7_777, 20_000, 10_877]
    y = (rng.random(n) < 0.4).astype(np.float64)[:, None]
    p = rng.uniform(0.01, 0.99, n)[:, None]
    chunks, start = [], 0
    for m in sizes:
        chunks.append(Chunk(start, y[start : start + m], p[start : start + m]))
        start += m
    scorer = Scorer(LossOptions(task=Task.BINARY), 1)
    pending: list[int] = []
    original = scorer.score_into

    def score_into(acc, chunk):  # type: ignore[no-untyped-def]
        out = original(acc, chunk)
        pending.append(len(acc.head._pending))
        return out

    scorer.score_into = score_into  # type: ignore[method-assign]
    for _ in scorer.score_all(block_aligned(chunks), workers=2):
        pass
    assert max(pending) <= 1  # at most the input's last, partial block
    one = Scorer(LossOptions(task=Task.BINARY), 1)
    one.score(Chunk(0, y, p))
    assert scorer.accumulator.head.totals().tolist() == one.accumulator.head.totals().tolist()
