"""The mergeable summary: everything a report needs, built chunk by chunk.

An ``Accumulator`` holds only counts, sums, minima/maxima, histograms and a few worst rows, so it
is small whatever the input size, and ``merge`` combines two of them (from two chunks, two files or
two partitions of a distributed dataframe) into exactly what one pass over both would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bcecli.core.blocksum import BlockSum
from bcecli.core.flags import FlagTally
from bcecli.core.options import LossOptions
from bcecli.core.sketch import LossSketch

Numbers = npt.ArrayLike

WORST_K = 10
CALIBRATION_BINS = 10
# The headline sums. Every profile's reduction is sum(num) / sum(den): num is what the framework
# adds up (w*l, or PyTorch's own weighted value), den is 1 per row (divide by N), w (weighted
# mean) or the true class's weight (PyTorch with class weights). wl / w give the weighted mean
# used for NE and Keras' metric; l is the unweighted per-sample loss.
HEAD = ("num", "den", "wl", "w", "l")


@dataclass
class WorstK:
    """The K rows with the largest per-sample loss (ties: the earlier row first)."""

    k: int = WORST_K
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    labels: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    preds: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    p_true: np.ndarray = field(default_factory=lambda: np.empty(0))
    last_row: int = -1  # rows arrive in order while streaming: ties then never win

    def threshold(self) -> float:
        return float(self.loss[-1]) if len(self.loss) >= self.k else -np.inf

    def offer(
        self,
        rows: np.ndarray,
        loss: np.ndarray,
        labels: np.ndarray,
        preds: np.ndarray,
        p_true: np.ndarray,
    ) -> None:
        """Consider candidate rows (loss NaN for excluded rows is ignored)."""
        thr = self.threshold()
        in_order = len(rows) > 0 and int(rows[0]) > self.last_row
        keep = (loss > thr) if in_order else (loss >= thr)
        idx = np.flatnonzero(keep)
        if len(idx) > self.k:
            # the k largest, ties broken by row: lexsort on (row, -loss)
            part = idx[np.argpartition(-loss[idx], self.k - 1)[: self.k]]
            cutoff = loss[part].min()
            idx = np.concatenate([idx[loss[idx] > cutoff], idx[loss[idx] == cutoff][: self.k]])
        if len(rows):
            self.last_row = max(self.last_row, int(rows[-1]))
        if len(idx) == 0:
            return
        self._combine(rows[idx], loss[idx], labels[idx], preds[idx], p_true[idx])

    def _combine(
        self,
        rows: np.ndarray,
        loss: np.ndarray,
        labels: np.ndarray,
        preds: np.ndarray,
        p_true: np.ndarray,
    ) -> None:
        if len(self.rows):
            rows = np.concatenate([self.rows, rows])
            loss = np.concatenate([self.loss, loss])
            labels = np.concatenate([self.labels, labels])
            preds = np.concatenate([self.preds, preds])
            p_true = np.concatenate([self.p_true, p_true])
        order = np.lexsort((rows, -loss))[: self.k]
        self.rows, self.loss = rows[order], loss[order]
        self.labels, self.preds, self.p_true = labels[order], preds[order], p_true[order]

    def merge(self, other: WorstK) -> None:
        self.last_row = max(self.last_row, other.last_row)
        if len(other.rows):
            self._combine(other.rows, other.loss, other.labels, other.preds, other.p_true)


@dataclass
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
    # Additive tallies (scalars and per-output vectors), keyed by name.
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    mins: dict[str, np.ndarray] = field(default_factory=dict)
    maxs: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, name: str, value: Numbers) -> None:
        v = np.asarray(value, dtype=np.float64)
        if name in self.sums:
            self.sums[name] = self.sums[name] + v
        else:
            self.sums[name] = v.copy()

    def low(self, name: str, value: Numbers) -> None:
        v = np.asarray(value, dtype=np.float64)
        self.mins[name] = np.fmin(self.mins[name], v) if name in self.mins else v.copy()

    def high(self, name: str, value: Numbers) -> None:
        v = np.asarray(value, dtype=np.float64)
        self.maxs[name] = np.fmax(self.maxs[name], v) if name in self.maxs else v.copy()

    def total(self, name: str) -> np.ndarray:
        """An additive tally (zero if never added)."""
        return self.sums.get(name, np.zeros(()))

    def scalar(self, name: str) -> float:
        return float(np.sum(self.total(name)))

    def add_head(self, start: int, **columns: np.ndarray) -> None:
        self.head.add([columns[name] for name in HEAD], start)

    def head_totals(self) -> dict[str, float]:
        return dict(zip(HEAD, self.head.totals(), strict=True))

    def merge(self, other: Accumulator) -> None:
        if other.opts != self.opts or other.n_outputs != self.n_outputs:
            raise ValueError("cannot merge accumulators of different runs")
        self.rows += other.rows
        self.excluded += other.excluded
        self.head.merge(other.head)
        self.sketch.merge(other.sketch)
        self.worst.merge(other.worst)
        self.flags.merge(other.flags)
        for name, v in other.sums.items():
            self.add(name, v)
        for name, v in other.mins.items():
            self.low(name, v)
        for name, v in other.maxs.items():
            self.high(name, v)
