"""The mergeable summary: everything a report needs, built chunk by chunk.

An ``Accumulator`` holds only counts, sums, minima/maxima, histograms and a few worst rows, so it
is small whatever the input size, and ``merge`` combines two of them (from two chunks, two files or
two partitions of a distributed dataframe) into exactly what one pass over both would give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from bcecli.core.blocksum import BlockSum
from bcecli.core.bootstrap import new_replicates
from bcecli.core.flags import FlagTally
from bcecli.core.options import LossOptions
from bcecli.core.score_summary import ScoreSummaries
from bcecli.core.sketch import LossSketch
from bcecli.core.slices import Slices
from bcecli.core.summary import CALIBRATION_BINS, BinaryTally, MulticlassTally, Tally

__all__ = ["CALIBRATION_BINS", "HEAD", "Accumulator", "HeadTotals", "WorstK"]

WORST_K = 10
# The headline sums. Every profile's reduction is sum(num) / sum(den): num is what the framework
# adds up (w*l, or PyTorch's own weighted value), den is 1 per row (divide by N), w (weighted
# mean) or the true class's weight (PyTorch with class weights). wl / w give the weighted mean
# used for NE and Keras' metric; l is the unweighted per-sample loss.
HEAD = ("num", "den", "wl", "w", "l")


@dataclass(eq=False)
class WorstK:
    """The K rows with the largest per-sample loss (ties: the earlier row first)."""

    k: int = WORST_K
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    preds: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    p_true: np.ndarray = field(default_factory=lambda: np.empty(0))
    ids: np.ndarray | None = None  # (rows, id columns) of Python values, with --id-col
    last_row: int = -1  # rows arrive in order while streaming: ties then never win

    def threshold(self) -> float:
        return float(self.loss[-1]) if len(self.loss) >= self.k else -np.inf

    def offer(
        self,
        start: int,
        loss: np.ndarray,
        labels: np.ndarray,
        preds: np.ndarray,
        p_true: np.ndarray | Callable[[np.ndarray], np.ndarray],
        *,
        max_loss: float | None = None,
        ids: Mapping[str, Any] | None = None,
    ) -> None:
        """Consider rows ``start ..`` of a chunk (a NaN loss, an excluded row, never wins).
        ``max_loss``, the chunk's largest loss when the caller knows it, skips a chunk that
        cannot win without looking at its rows; ``ids``: the chunk's id columns, kept with
        the rows that win."""
        if len(loss) == 0:
            return
        thr = self.threshold()
        # Streaming in row order, a tie with a kept row never wins (the kept row is earlier).
        in_order = start > self.last_row
        if in_order and max_loss is not None and max_loss <= thr:
            self.last_row = start + len(loss) - 1
            return
        idx = np.flatnonzero((loss > thr) if in_order else (loss >= thr))
        if len(idx) > self.k:
            # the k largest, ties broken by row: keep everything above the k-th value, then
            # the earliest rows equal to it (every row: no NaN among them, and no copy)
            vals = loss if len(idx) == len(loss) else loss[idx]
            cutoff = np.partition(vals, len(vals) - self.k)[len(vals) - self.k]
            idx = np.concatenate([idx[vals > cutoff], idx[vals == cutoff][: self.k]])
        self.last_row = max(self.last_row, start + len(loss) - 1)
        if len(idx) == 0:
            return
        chosen_p = p_true(idx) if callable(p_true) else p_true[idx]
        chosen_ids = None if not ids else _id_values(ids, idx)
        self._combine(idx + start, loss[idx], labels[idx], preds[idx], chosen_p, chosen_ids)

    def _combine(
        self,
        rows: np.ndarray,
        loss: np.ndarray,
        labels: np.ndarray,
        preds: np.ndarray,
        p_true: np.ndarray,
        ids: np.ndarray | None = None,
    ) -> None:
        if len(self.rows):
            rows = np.concatenate([self.rows, rows])
            loss = np.concatenate([self.loss, loss])
            labels = np.concatenate([self.labels, labels])
            preds = np.concatenate([self.preds, preds])
            p_true = np.concatenate([self.p_true, p_true])
            if ids is not None and self.ids is not None:
                ids = np.concatenate([self.ids, ids])
        order = np.lexsort((rows, -loss))[: self.k]
        self.rows, self.loss = rows[order], loss[order]
        self.labels, self.preds, self.p_true = labels[order], preds[order], p_true[order]
        self.ids = None if ids is None else ids[order]

    def merge(self, other: WorstK) -> None:
        self.last_row = max(self.last_row, other.last_row)
        if len(other.rows):
            self._combine(
                other.rows, other.loss, other.labels, other.preds, other.p_true, other.ids
            )


def _id_values(ids: Mapping[str, Any], idx: np.ndarray) -> np.ndarray:
    """The id columns' values at rows ``idx``, as Python values (a float array's numbers, a
    text column's strings), one row per index."""
    out = np.empty((len(idx), len(ids)), dtype=object)
    for j, col in enumerate(ids.values()):
        if isinstance(col, np.ndarray):
            out[:, j] = col[idx].tolist()
        else:  # a reader's text column: its arrow strings
            values = col.values
            out[:, j] = [values[int(i)].as_py() for i in idx]
    return out


@dataclass(frozen=True)
class HeadTotals:
    """The headline sums (see ``HEAD``)."""

    num: float
    den: float
    wl: float
    w: float
    l: float  # noqa: E741


@dataclass(eq=False)
class Accumulator:
    """Mergeable state of one scoring run."""

    opts: LossOptions
    n_outputs: int
    compute_dtype: str = "float64"
    rows: int = 0
    excluded: int = 0
    # Split-invariant headline sums over the scored rows, in HEAD order.
    head: BlockSum = field(default_factory=lambda: BlockSum(len(HEAD)))
    sketch: LossSketch = field(default_factory=LossSketch)
    worst: WorstK = field(default_factory=WorstK)
    flags: FlagTally = field(default_factory=FlagTally)
    tally: Tally = field(init=False)

    def __post_init__(self) -> None:
        k = self.n_outputs
        self.tally = MulticlassTally(k) if self.opts.task.is_multiclass else BinaryTally(k)
        if self.opts.bootstrap is not None:  # --ci
            self.tally.boot = new_replicates(self.opts.bootstrap, k)
        if self.opts.slices is not None:  # --by
            self.tally.slices = Slices(self.opts.slices)

    @property
    def binary(self) -> BinaryTally:
        assert isinstance(self.tally, BinaryTally)
        return self.tally

    @property
    def multiclass(self) -> MulticlassTally:
        assert isinstance(self.tally, MulticlassTally)
        return self.tally

    def add_head(self, start: int, **columns: np.ndarray | float) -> None:
        """Add the rows' headline values; a number stands for that value on every row (a 0 or
        1: the rows' total is exact)."""
        n = next(len(c) for c in columns.values() if isinstance(c, np.ndarray))
        values = [columns[h] for h in HEAD]
        self.head.add([c if isinstance(c, np.ndarray) else None for c in values], start)
        constants = [0.0 if isinstance(c, np.ndarray) else float(c) * n for c in values]
        if any(constants):
            self.head.add_exact(np.array(constants))

    def buckets_only(self) -> None:
        """Keep none of the rows for exact quantiles and exact score tables: for a run known to
        score more than ``EXACT_LIMIT`` rows, which would drop them at that point anyway."""
        self.sketch.buckets_only()
        for f in fields(self.tally):
            summaries = getattr(self.tally, f.name)
            if isinstance(summaries, ScoreSummaries):
                summaries.buckets_only()

    @property
    def keeps_rows(self) -> bool:
        """Whether rows are kept for exact quantiles (until there are too many)."""
        return self.sketch.exact

    def head_totals(self) -> HeadTotals:
        return HeadTotals(*(float(t) for t in self.head.totals()))

    def merge(self, other: Accumulator) -> None:
        if other.opts != self.opts or other.n_outputs != self.n_outputs:
            raise ValueError("cannot merge accumulators of different runs")
        if other.rows:
            self.compute_dtype = other.compute_dtype
        self.rows += other.rows
        self.excluded += other.excluded
        self.head.merge(other.head)
        self.sketch.merge(other.sketch)
        self.worst.merge(other.worst)
        self.flags.merge(other.flags)
        self.tally.merge(other.tally)
