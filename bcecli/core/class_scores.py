"""Ranking, decomposition and recalibration of a multi-class score, streaming and mergeable.

What a categorical or sparse run keeps, chunk by chunk, for them:

* one ``ScoreSummary`` per class of the one-vs-rest problem (label: the row is of class j;
  score: p_j), for the one-vs-rest AUC, average precision and decomposition per class (up to
  ``MAX_OVR_CLASSES`` classes: each histogram is up to 16 KB per logit unit that its scores
  span);
* the ``ScoreSummary`` of the top-label problem (label: the top class is the true one; score:
  the top probability) and the exact sum of its binary log loss, for the top-label
  decomposition;
* the rank of the true class in each row (the classes ahead of it, ties broken as scikit-learn
  breaks them), counted per rank: the top-k accuracy for every k at once;
* a ``RowSample`` of log p (or of the logits), for the temperature and bias-vector fits;
* the literal log loss, -log p_true weighted by the sample weights, which the fits start from.

The one-vs-rest summaries keep their rows (exact tables) while the run has at most
``EXACT_LIMIT`` scores in all (rows x classes), then the bins alone; a chunk whose scores all
lie in the fine bins and that has no weights is binned for every class at once (one bincount
over rows x classes), the same bins as ``ScoreSummary.add`` gives each class.

Only rows of one class each (one-hot or sparse labels) count: a run with a soft label row has
no multi-class ranking (``usable`` False), as scikit-learn's metrics take class labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bcecli.core.blocksum import BlockSum
from bcecli.core.chunk import Placer
from bcecli.core.decomposition import Curve, Decomposition, curve, decompose, isotonic
from bcecli.core.ranking import OneVsRest, Ranking, one_vs_rest, ranking
from bcecli.core.score_summary import (
    _HIGH,
    _OFFSET,
    _SHIFT,
    ScoreSummary,
)
from bcecli.core.scratch import scratch
from bcecli.core.sketch import EXACT_LIMIT
from bcecli.core.softmax_fit import SAMPLE_ROWS, RowSample, SoftmaxRecalibration
from bcecli.core.softmax_fit import recalibrate_softmax as fit_softmax

MAX_OVR_CLASSES = 100
# the row sample holds at most this many scores (rows x classes): 32 MB of float64
SAMPLE_SCORES = 1 << 22
_FIRST_FINE_BITS = 2 + _OFFSET  # odds bits >> _SHIFT of the first fine bin


def sample_capacity(k: int) -> int:
    return max(1024, min(SAMPLE_ROWS, SAMPLE_SCORES // max(k, 1)))


@dataclass(eq=False)
class ClassScores:
    """The multi-class state described in the module docstring."""

    k: int
    usable: bool = True
    n: int = 0  # rows added
    weighted: bool = False  # some chunk had sample weights
    from_logits: bool = False  # the fits' scores are logits (else log p)
    ovr: list[ScoreSummary] = field(init=False)
    top: ScoreSummary = field(default_factory=ScoreSummary)
    top_loss: BlockSum = field(default_factory=BlockSum)  # sum of w x the top label's log loss
    literal: BlockSum = field(default_factory=lambda: BlockSum(2))  # sum of w x -log p_true, w
    rank_n: np.ndarray = field(init=False)  # unweighted rows per rank of the true class
    rank_w: BlockSum = field(init=False)  # the weights per rank (with weights)
    sample: RowSample = field(init=False)

    def __post_init__(self) -> None:
        self.ovr = [ScoreSummary() for _ in range(self.k if self.k <= MAX_OVR_CLASSES else 0)]
        self.rank_n = np.zeros(self.k, dtype=np.int64)
        self.rank_w = BlockSum(self.k)
        self.sample = RowSample(self.k, capacity=sample_capacity(self.k))

    def add(
        self,
        start: int,
        place: Placer,
        rows: np.ndarray,
        prob: np.ndarray,
        true: np.ndarray,
        correct: np.ndarray,
        top: np.ndarray,
        scores: Callable[[np.ndarray], np.ndarray],
        literal: np.ndarray,
        w: np.ndarray | None,
        *,
        from_logits: bool = False,
    ) -> None:
        """Add rows of one class each: ``rows`` their global row numbers, ``prob`` (n, K)
        probabilities, ``true`` their classes, ``correct`` whether the top class (the first
        maximum) is the true one, ``top`` the top probability, ``scores`` the
        fits' scores (log p or the logits) of the rows at given indices, ``literal`` their
        literal loss -log p_true, ``w`` sample weights (None: 1 each); ``from_logits``: the
        scores are logits. ``place`` puts per-row
        values back at their rows of the chunk that begins at ``start`` (for the
        split-invariant sums)."""
        if not self.usable or len(prob) == 0:
            return
        if w is not None and float(w.min()) < 0:
            self.unusable()
            return
        m = len(prob)
        self.n += m
        self.from_logits = from_logits
        self.weighted |= w is not None
        p_true = prob[np.arange(m), true]
        with np.errstate(divide="ignore"):
            top_l = -np.log(top)
            wrong = ~correct
            top_l[wrong] = -np.log1p(-top[wrong])
        if w is None:
            self.top_loss.add([place.array(top_l)], start)
            self.literal.add([place.array(literal), None], start)
            self.literal.add_exact(np.array([0.0, float(m)]))
        else:
            with np.errstate(invalid="ignore"):  # w = 0 on an infinite loss adds 0
                self.top_loss.add([place.array(np.where(w != 0, w * top_l, 0.0))], start)
                wl = np.where(w != 0, w * literal, 0.0)
            self.literal.add([place.array(wl), place.array(w)], start)
        self.top.add(correct.astype(np.float64), top, w, hard=True, start=start)
        self._add_ranks(start, place, prob, p_true, true, w)
        self.sample.add(rows, true, scores, w)
        if self.ovr:
            self._add_ovr(start, prob, true, w)

    def _add_ranks(
        self,
        start: int,
        place: Placer,
        prob: np.ndarray,
        p_true: np.ndarray,
        true: np.ndarray,
        w: np.ndarray | None,
    ) -> None:
        """The classes ranked ahead of the true one: those of higher probability, and among
        equal ones those of higher index (scikit-learn's top_k_accuracy_score)."""
        # counted a column at a time (a row-wise count_nonzero over K columns costs 7x)
        above = np.zeros(len(prob), dtype=np.uint8 if self.k < 256 else np.int64)
        for j in range(self.k):
            above += prob[:, j] > p_true
        rank = above.astype(np.intp)
        # ties with the true class, looked for row by row only where there are some
        same = prob == p_true[:, None]
        if np.count_nonzero(same) > len(prob):
            rows = np.flatnonzero(np.count_nonzero(same, axis=1) > 1)
            later = np.arange(self.k)[None, :] > true[rows, None]
            rank[rows] += np.count_nonzero((prob[rows] == p_true[rows, None]) & later, axis=1)
        if w is None:
            self.rank_n += np.bincount(rank, minlength=self.k)[: self.k]
        else:
            self.rank_w.add_binned(place.array(w), place.array(rank), start)

    def _add_ovr(
        self, start: int, prob: np.ndarray, true: np.ndarray, w: np.ndarray | None
    ) -> None:
        total = sum(s.n for s in self.ovr) + prob.size
        if total > EXACT_LIMIT:
            for s in self.ovr:
                s.buckets_only()
        if w is None and not self.ovr[0].exact and self._add_fine(prob, true):
            return
        y = np.zeros(len(prob))
        for j, s in enumerate(self.ovr):
            np.equal(true, j, out=y, casting="unsafe")
            s.add(y, prob[:, j], w, hard=True, start=start)

    def _add_fine(self, prob: np.ndarray, true: np.ndarray) -> bool:
        """Bin every class at once where every score is in a fine bin (False: it is not, and
        nothing was added)."""
        m, k = prob.shape
        odds = scratch(prob.shape, np.float64)
        np.subtract(1.0, prob, out=odds)
        with np.errstate(divide="ignore"):  # p = 1: odds inf, an end bin (seen below)
            np.divide(prob, odds, out=odds)
        bits = odds.view(np.int64)
        np.right_shift(bits, _SHIFT, out=bits)
        lo, hi = int(bits.min()), int(bits.max())
        first, last = lo - _OFFSET, hi - _OFFSET
        if lo < _FIRST_FINE_BITS or last >= _HIGH:  # a 0, a 1, or an end bin: class by class
            return False
        span = last - first + 1
        # key = (class * 2 + label) * span + bin - first: each class's counts of each label
        # come out contiguous
        bits += np.arange(k) * (2 * span) - lo
        flat = bits.reshape(-1)
        flat[np.arange(0, m * k, k) + true] += span
        counts = np.bincount(flat, minlength=2 * k * span).reshape(k, 2, span)
        for j, s in enumerate(self.ovr):
            s.add_counts(first, counts[j, 1], counts[j, 0], m)
        return True

    def unusable(self) -> None:
        self.usable = False
        self.ovr = []
        self.top = ScoreSummary()
        self.sample = RowSample(self.k, capacity=sample_capacity(self.k))

    def merge(self, other: ClassScores) -> None:
        if other.k != self.k:
            raise ValueError("cannot merge class scores of different runs")
        if not (self.usable and other.usable):
            self.unusable()
            return
        self.n += other.n
        self.weighted |= other.weighted
        self.from_logits |= other.from_logits
        for mine, theirs in zip(self.ovr, other.ovr, strict=True):
            mine.merge(theirs)
        if sum(s.n for s in self.ovr) > EXACT_LIMIT:
            for s in self.ovr:
                s.buckets_only()
        self.top.merge(other.top)
        self.top_loss.merge(other.top_loss)
        self.literal.merge(other.literal)
        self.rank_n += other.rank_n
        self.rank_w.merge(other.rank_w)
        self.sample.merge(other.sample)


@dataclass(frozen=True)
class ClassAnalysis:
    """What a multi-class report says about ranking and calibration. ``per_class``: the
    one-vs-rest ranking and decomposition of each class (empty past ``MAX_OVR_CLASSES``);
    ``top_k``: the accuracy for k = 1 .. K; ``literal_loss``: the mean -log p_true that the
    recalibration starts from."""

    ovr: OneVsRest | None
    per_class: tuple[tuple[Ranking, Decomposition], ...]
    top_label: Decomposition
    top_curve: Curve | None  # the top-label CORP curve
    top_k: tuple[float, ...]
    recalibration: SoftmaxRecalibration
    literal_loss: float


def analyse_classes(c: ClassScores) -> ClassAnalysis | None:
    """The analysis of a run's class scores (None: not usable, or no rows)."""
    if not c.usable or c.n == 0:
        return None
    lit, w_sum = (float(v) for v in c.literal.totals())
    literal = lit / w_sum if w_sum > 0 else math.nan
    per_class: list[tuple[Ranking, Decomposition]] = []
    tables = []
    for s in c.ovr:
        t = s.table()
        tables.append(t)
        if t.n_pos + t.n_neg > 0:
            a, d = ranking(t), decompose(t)
        else:
            a = Ranking(math.nan, math.nan, math.nan)
            d = Decomposition(math.nan, math.nan, math.nan, math.nan, "", t.width, math.nan)
        per_class.append((a, _labelled(d, "one-vs-rest")))
    top_mean = c.top_loss.total() / w_sum if w_sum > 0 else math.nan
    top_table = c.top.table()
    top_curve = None
    if top_table.n_pos + top_table.n_neg > 0:
        iso = isotonic(top_table)
        top = decompose(top_table, top_mean, iso)
        top_curve = curve(top_table, iso)
    else:
        top = Decomposition(top_mean, math.nan, math.nan, math.nan, "", 0.0, math.nan)
    ranks = c.rank_w.totals() + c.rank_n  # weighted chunks, and the others (1 each)
    top_k = tuple((np.cumsum(ranks) / w_sum).tolist()) if w_sum > 0 else (math.nan,) * c.k
    return ClassAnalysis(
        ovr=one_vs_rest(tables) if tables else None,
        per_class=tuple(per_class),
        top_label=_labelled(top, "top-label"),
        top_curve=top_curve,
        top_k=top_k,
        recalibration=fit_softmax(c.sample, literal, logits=c.from_logits),
        literal_loss=literal,
    )


def _labelled(d: Decomposition, kind: str) -> Decomposition:
    """The decomposition with its method named for the binary problem it is of."""
    exact = d.resolution == 0.0
    return replace(d, method=f"{kind} isotonic ({'exact' if exact else 'binned'})")
