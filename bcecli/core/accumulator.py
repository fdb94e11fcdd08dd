"""The mergeable summary: everything a report needs, built chunk by chunk.

An ``Accumulator`` holds only counts, sums, minima/maxima, histograms and a few worst rows, so it
is small whatever the input size, and ``merge`` combines two of them (from two chunks, two files or
two partitions of a distributed dataframe) into exactly what one pass over both would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bcecli.core.blocksum import BlockSum
from bcecli.core.flags import FlagTally
from bcecli.core.options import LossOptions
from bcecli.core.sketch import LossSketch

if TYPE_CHECKING:  # numpy.typing costs 1 ms to import, on every run
    import numpy.typing as npt

    Numbers = npt.ArrayLike

WORST_K = 10
CALIBRATION_BINS = 10
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
    ) -> None:
        """Consider rows ``start ..`` of a chunk (a NaN loss, an excluded row, never wins).
        ``max_loss``, the chunk's largest loss when the caller knows it, skips a chunk that
        cannot win without looking at its rows."""
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
        self._combine(idx + start, loss[idx], labels[idx], preds[idx], chosen_p)

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
    head_const: dict[str, float] = field(default_factory=dict)
    sketch: LossSketch = field(default_factory=LossSketch)
    worst: WorstK = field(default_factory=WorstK)
    flags: FlagTally = field(default_factory=FlagTally)
    # Additive tallies (scalars and per-output vectors), keyed by name.
    # (A tally added only as plain numbers is kept as a float.)
    sums: dict[str, np.ndarray | float] = field(default_factory=dict)
    mins: dict[str, np.ndarray] = field(default_factory=dict)
    maxs: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, name: str, value: Numbers) -> None:
        if isinstance(value, (int, float)):  # a plain number (np.float64 too): no array trip
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
            return
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
        """An additive tally as an array (zero if never added)."""
        return np.asarray(self.sums.get(name, 0.0))

    def scalar(self, name: str) -> float:
        return float(np.sum(self.total(name)))

    def add_head(self, start: int, **columns: np.ndarray | float) -> None:
        """Add the rows' headline values; a number stands for that value on every row."""
        n = next(len(c) for c in columns.values() if isinstance(c, np.ndarray))
        arrays: list[np.ndarray | None] = []
        for name in HEAD:
            c = columns[name]
            if isinstance(c, np.ndarray):
                arrays.append(c)
            else:
                # 0 or 1 on every row (no weights): counted exactly, no array needed
                self.head_const[name] = self.head_const.get(name, 0.0) + float(c) * n
                arrays.append(None)
        self.head.add(arrays, start)

    def head_totals(self) -> dict[str, float]:
        totals = self.head.totals()
        return {name: totals[i] + self.head_const.get(name, 0.0) for i, name in enumerate(HEAD)}

    def merge(self, other: Accumulator) -> None:
        if other.opts != self.opts or other.n_outputs != self.n_outputs:
            raise ValueError("cannot merge accumulators of different runs")
        if other.rows:
            self.compute_dtype = other.compute_dtype
        self.rows += other.rows
        self.excluded += other.excluded
        self.head.merge(other.head)
        for name, const in other.head_const.items():
            self.head_const[name] = self.head_const.get(name, 0.0) + const
        self.sketch.merge(other.sketch)
        self.worst.merge(other.worst)
        self.flags.merge(other.flags)
        for name, v in other.sums.items():
            self.add(name, v)
        for name, v in other.mins.items():
            self.low(name, v)
        for name, v in other.maxs.items():
            self.high(name, v)
