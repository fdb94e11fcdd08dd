"""A mergeable summary of the scores per label, the input of ranking metrics and recalibration.

ROC AUC, average precision, the isotonic (PAV) recalibration and the temperature, bias and Platt
fits all depend on the data only through the weight of positives and of negatives at each score.
``ScoreSummary`` keeps that table as a fine histogram in logit space, so it is small whatever the
input size, and two summaries (two chunks, two files, two partitions) merge into the summary of
both.

The bins are read off the float bits of the odds ``p / (1 - p)`` (``exp(z)`` for a logit z): its
exponent and top ``SUB_BITS`` mantissa bits, 1024 bins per octave of the odds, so no logarithm
is taken per row, and a bin is the same for every chunk (the odds and their bits are exact
functions of the score). In logit a bin is at most ``MAX_WIDTH`` = ln 2 / 1024 = 0.00068 wide
(and at least half that):

====================  ==============================================================
index                 holds
====================  ==============================================================
0                     odds 0: a probability of exactly 0, logit -inf
1                     odds below 2**-92 (logit < -63.8, p < 2e-28), with their logit sum
2 .. ``N_FINE`` + 1   odds in [2**-92, 2**92), 1024 bins per octave
``N_FINE`` + 2        finite odds at or above 2**92, with their logit sum
``N_FINE`` + 3        odds inf: a probability of exactly 1, logit +inf
====================  ==============================================================

A fine bin's score is its centre in logit (a function of the index alone, so the counts are the
whole state); an end bin's is its weighted mean logit.

Weights: a row adds ``w * y`` to the positives and ``w * (1 - y)`` to the negatives, so soft labels
and sample weights need no other case. With hard labels and no weights every weight is a count, an
integer held exactly in float64, and merging is exact in any order. With float weights each bin's
sum is rounded once per chunk and once per merge: the merged totals agree with a one-pass total to
a relative 1e-12 (tests hold it), not to the bit.

While the summary holds at most ``EXACT_LIMIT`` rows it also keeps them, and ``table()`` is then the
exact table (every distinct score its own group, ordered by the score as given), so small files get
exact answers; past that the bins alone answer and ``ScoreTable.exact`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bcecli.core.sketch import EXACT_LIMIT

# a chunk's kept rows: (score, y, w or None), or packed keys (see ScoreSummary.exact_rows)
_Rows = tuple[np.ndarray, np.ndarray, np.ndarray | None] | np.ndarray
SUB_BITS = 10  # bins per octave of the odds: 2**SUB_BITS
OCTAVES = 92  # fine bins cover odds in [2**-OCTAVES, 2**OCTAVES)
RANGE = OCTAVES * math.log(2)  # in logit: [-63.8, 63.8)
MAX_WIDTH = math.log(2) / (1 << SUB_BITS)
N_FINE = (2 * OCTAVES) << SUB_BITS
N_BINS = N_FINE + 4
_NEG_INF, _LOW, _FIRST_FINE, _HIGH, _POS_INF = 0, 1, 2, N_FINE + 2, N_FINE + 3
_SHIFT = 52 - SUB_BITS  # a float64's bits >> _SHIFT: its exponent and top mantissa bits
# (bits >> _SHIFT) - _OFFSET is the index of a fine bin
_OFFSET = ((1023 - OCTAVES) << SUB_BITS) - _FIRST_FINE
_ODDS_LO, _ODDS_HI = 2.0**-OCTAVES, 2.0**OCTAVES
# add() bins a chunk this many rows at a time: the block's temporaries stay in the CPU's cache
BLOCK = 1 << 16


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a @ b`` without BLAS: on a short vector a threaded BLAS costs more in waking its
    threads than the sum (and numpy's pairwise sum is the more accurate)."""
    return float(np.multiply(a, b).sum())


def logit_of(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))``, -inf at 0 and +inf at 1, NaN outside [0, 1]. ``1 - p`` is exact for
    p >= 0.5 and log1p keeps the digits of small p, so this is accurate to a few ulp."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(p)
        # in place: a fresh temporary of a chunk's size costs more (page faults) than the log
        t = np.negative(p)
        np.log1p(t, out=t)
    return np.subtract(x, t, out=x)


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Scores in increasing order, each with the weight of positives and of negatives at it
    (groups of zero weight left out). ``score``: each group's score, a probability if
    ``of_probabilities`` (an exact table of probabilities) else a logit (a fine bin's centre, an
    end bin's mean, the exact value); ``exact`` says whether every group is one distinct score
    (else they are the bins of ``width`` logit)."""

    score: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    exact: bool
    width: float
    of_probabilities: bool = False

    @cached_property
    def logit(self) -> np.ndarray:
        """The groups' scores as logits (only the fits need them: computed when asked)."""
        return logit_of(self.score) if self.of_probabilities else self.score

    @property
    def weight(self) -> np.ndarray:
        return self.pos + self.neg

    @property
    def n_pos(self) -> float:
        return float(self.pos.sum())

    @property
    def n_neg(self) -> float:
        return float(self.neg.sum())


@dataclass(eq=False)
class ScoreSummary:
    """The weight of positives and negatives per logit bin (see the module docstring), and the
    rows themselves while there are at most ``EXACT_LIMIT``. ``from_logits``: the scores given to
    ``add`` are logits, else probabilities. The arrays cover only the bins from the lowest to the
    highest in use (``first`` is the index of their first element), so a summary is as large as
    the span of its scores (16 KB per logit unit)."""

    from_logits: bool = False
    first: int = 0
    pos: np.ndarray = field(default_factory=lambda: np.zeros(0))
    neg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the weighted logit sums of the two finite end bins (low, high)
    tail_logit: np.ndarray = field(default_factory=lambda: np.zeros(2))
    n: int = 0
    # per chunk, while n <= EXACT_LIMIT: its first row's number (None if not given) and its rows,
    # (score as given, y, w or None), or for probabilities with 0/1 labels and no weights one
    # int64 per row, the float's bits * 2 + label (a non-negative float's bits order as the
    # float does, and p <= 1 leaves the top bit free)
    exact_rows: list[tuple[int | None, _Rows]] | None = field(default_factory=list)

    def add(
        self,
        y: np.ndarray,
        score: np.ndarray,
        w: np.ndarray | None = None,
        *,
        hard: bool | None = None,
        start: int | None = None,
        lo: float | None = None,
        hi: float | None = None,
    ) -> None:
        """Add a chunk: labels ``y`` in [0, 1] (soft allowed), scores (probabilities, or logits
        if ``from_logits``), non-negative weights ``w`` or None (1 each). ``hard``: whether every
        label is 0 or 1, when the caller knows (else it is checked). ``lo`` and ``hi``: the
        scores' least and largest, when the caller knows them (and knows none is NaN): they
        spare two passes. ``start``: the global number
        of the chunk's first row, which puts the rows kept for the exact table in row order
        whatever order chunks and merges come in, so that with weights or soft labels its sums
        are the same bits too. Rows with a missing label, score or weight are the caller's to
        exclude: a NaN score raises."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        score = np.asarray(score).reshape(-1)
        if len(y) != len(score) or (w is not None and len(w) != len(y)):
            raise ValueError("labels, scores and weights must have the same length")
        if len(y) == 0:
            return
        if hard is None:
            hard = bool(np.all((y == 0) | (y == 1)))
        whole = lo is not None and hi is not None and len(y) <= BLOCK
        for i in range(0, len(y), BLOCK):
            part = slice(i, i + BLOCK)
            sp = np.asarray(score[part], dtype=np.float64)
            if whole:
                assert lo is not None and hi is not None
                block_lo, block_hi = lo, hi
            else:
                block_lo, block_hi = float(sp.min()), float(sp.max())
            if math.isnan(block_lo) or math.isnan(block_hi):
                what = "logits" if self.from_logits else "probabilities"
                raise ValueError(f"the scores include NaN {what}: exclude those rows first")
            if not self.from_logits and (block_lo < 0 or block_hi > 1):
                raise ValueError("probabilities outside [0, 1]")
            wp = None if w is None else w[part]
            self._count(y[part], sp, wp, hard, block_lo, block_hi)
        self.n += len(y)
        self._keep(score, y, w, hard, start)

    def _count(
        self,
        y: np.ndarray,
        score: np.ndarray,
        w: np.ndarray | None,
        hard: bool,
        lo: float,
        hi: float,
    ) -> None:
        """Add one block of rows, whose scores lie in [lo, hi], to the bins."""
        idx, first, last = self._bins(score, lo, hi)
        self._cover(first, last)
        span = last - first + 1
        at = slice(first - self.first, last - self.first + 1)
        tails = first <= _LOW or last >= _HIGH
        bins = idx.copy() if tails else idx
        rel = np.subtract(idx, first, out=idx)
        if w is None and hard:
            # one count per row: bin * 2 + label, a single integer bincount
            key = np.left_shift(rel, 1, out=rel)
            np.bitwise_or(key, y == 1, out=key)  # (an add through float64 costs 4x the count)
            both = np.bincount(key, minlength=2 * span)
            self.pos[at] += both[1::2]
            self.neg[at] += both[0::2]
            row_w = None
        else:
            row_w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
            wy = row_w * y
            self.pos[at] += np.bincount(rel, weights=wy, minlength=span)
            self.neg[at] += np.bincount(rel, weights=row_w - wy, minlength=span)
        if tails:
            self._add_tails(score, bins, row_w)

    def add_counts(self, first: int, pos: np.ndarray, neg: np.ndarray, n: int) -> None:
        """Add bins counted elsewhere (``core/class_scores.py`` bins every class of a chunk at
        once): the weight of positives and of negatives in bins ``first ..``, of ``n`` rows.
        Only for a summary that no longer keeps its rows."""
        if self.exact_rows is not None:
            raise ValueError("add_counts needs a summary of bins only (buckets_only)")
        if n == 0:
            return
        last = first + len(pos) - 1
        self._cover(first, last)
        at = slice(first - self.first, last - self.first + 1)
        self.pos[at] += pos
        self.neg[at] += neg
        self.n += n

    def _odds(self, score: np.ndarray) -> np.ndarray:
        """The odds of each score: p / (1 - p), or exp(z) (a logit beyond +-700 counted as
        +-700: its bin is an end bin either way, and exp stays finite and non-zero)."""
        with np.errstate(divide="ignore", over="ignore"):
            if self.from_logits:
                return np.exp(np.clip(score, -700.0, 700.0))
            odds = np.subtract(1.0, score)
            return np.divide(score, odds, out=odds)

    def _bins(self, score: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, int, int]:
        """The bin of each score (see the module docstring), and the bins of ``lo`` and ``hi``
        (the lowest and highest: the bins are monotone in the score)."""
        idx = self._odds(score).view(np.int64)  # the odds' bits, turned into bins in place
        np.right_shift(idx, _SHIFT, out=idx)
        idx -= _OFFSET
        ends = self._odds(np.array([lo, hi]))
        special = not (-np.inf < lo and hi < np.inf) if self.from_logits else (lo == 0 or hi == 1)
        if not special and _ODDS_LO <= ends[0] and ends[1] < _ODDS_HI:
            # the common case: every row in a fine bin. The odds of lo and hi are the rows' own
            # (subtract and divide round the same way on any array); exp might not, so logits'
            # ends are read off the rows
            if self.from_logits:
                return idx, int(idx.min()), int(idx.max())
            first, last = ((ends.view(np.int64) >> _SHIFT) - _OFFSET).tolist()
            return idx, first, last
        np.clip(idx, _LOW, _HIGH, out=idx)
        if special:
            if self.from_logits:
                idx[score == -np.inf] = _NEG_INF
                idx[score == np.inf] = _POS_INF
            else:
                idx[score == 0] = _NEG_INF
                idx[score == 1] = _POS_INF
        return idx, int(idx.min()), int(idx.max())

    def _cover(self, lo: int, hi: int) -> None:
        """Extend the arrays to cover bins ``lo`` .. ``hi``."""
        if len(self.pos) == 0:
            self.first = lo
            self.pos, self.neg = np.zeros(hi - lo + 1), np.zeros(hi - lo + 1)
            return
        last = self.first + len(self.pos) - 1
        if lo >= self.first and hi <= last:
            return
        new_first, new_last = min(lo, self.first), max(hi, last)
        at = slice(self.first - new_first, self.first - new_first + len(self.pos))
        pos, neg = np.zeros(new_last - new_first + 1), np.zeros(new_last - new_first + 1)
        pos[at], neg[at] = self.pos, self.neg
        self.first, self.pos, self.neg = new_first, pos, neg

    def _add_tails(self, score: np.ndarray, bins: np.ndarray, w: np.ndarray | None) -> None:
        """The logit sums of the finite end bins (only their rows' logits are computed)."""
        for side, which in enumerate((_LOW, _HIGH)):
            rows = np.flatnonzero(bins == which)
            if len(rows):
                vals = score[rows] if self.from_logits else logit_of(score[rows])
                self.tail_logit[side] += vals.sum() if w is None else dot(vals, w[rows])

    def _keep(
        self, score: np.ndarray, y: np.ndarray, w: np.ndarray | None, hard: bool, start: int | None
    ) -> None:
        if self.exact_rows is None:
            return
        if self.n > EXACT_LIMIT:
            self.exact_rows = None
            return
        if hard and w is None and not self.from_logits:
            key = np.add(score, 0.0, dtype=np.float64).view(np.int64)  # + 0.0: -0.0 becomes 0.0
            np.left_shift(key, 1, out=key)
            np.bitwise_or(key, y == 1, out=key)  # (not through float64: these ints need 63 bits)
            self.exact_rows.append((start, key))
            return
        kept_w = None if w is None else np.array(w, dtype=np.float64)
        self.exact_rows.append((start, (np.array(score), np.array(y), kept_w)))

    def buckets_only(self) -> None:
        """Stop keeping the rows (for a run that will add more than ``EXACT_LIMIT``)."""
        self.exact_rows = None

    @property
    def exact(self) -> bool:
        return self.exact_rows is not None

    def merge(self, other: ScoreSummary) -> None:
        if other.n == 0:
            return
        if self.n == 0:  # an empty summary takes the other's kind of scores
            self.from_logits = other.from_logits
        if other.from_logits != self.from_logits:
            raise ValueError("cannot merge summaries of probabilities and of logits")
        if len(other.pos):
            self._cover(other.first, other.first + len(other.pos) - 1)
            at = slice(other.first - self.first, other.first - self.first + len(other.pos))
            self.pos[at] += other.pos
            self.neg[at] += other.neg
        self.tail_logit += other.tail_logit
        self.n += other.n
        if self.exact_rows is None or other.exact_rows is None or self.n > EXACT_LIMIT:
            self.exact_rows = None
        else:
            self.exact_rows.extend(other.exact_rows)

    def table(self, *, binned: bool = False) -> ScoreTable:
        """The table of the scores: exact while the rows are kept (unless ``binned``), else the
        bins."""
        if self.exact_rows is not None and not binned:
            return self._exact_table(self.exact_rows)
        index = np.arange(self.first, self.first + len(self.pos))
        logit = _centres(index)
        logit[index == _NEG_INF] = -np.inf
        logit[index == _POS_INF] = np.inf
        for side, which, edge in ((0, _LOW, -RANGE), (1, _HIGH, RANGE)):
            at = which - self.first
            if 0 <= at < len(self.pos):
                wt = self.pos[at] + self.neg[at]
                logit[at] = self.tail_logit[side] / wt if wt > 0 else edge
        keep = (self.pos + self.neg) > 0
        return ScoreTable(logit[keep], self.pos[keep], self.neg[keep], False, MAX_WIDTH)

    def _exact_table(self, chunks: list[tuple[int | None, _Rows]]) -> ScoreTable:
        probabilities = not self.from_logits
        # in row order (a stable sort: chunks without a number stay in arrival order)
        rows = [r for _, r in sorted(chunks, key=lambda c: 0 if c[0] is None else c[0])]
        packed = [r for r in rows if isinstance(r, np.ndarray)]
        if rows and len(packed) == len(rows):
            return _packed_table(np.concatenate(packed))
        parts = [_unpacked(r) if isinstance(r, np.ndarray) else r for r in rows]
        if not parts:
            empty = np.empty(0)
            return ScoreTable(empty, empty, empty, True, 0.0, probabilities)
        score = np.concatenate([r[0] for r in parts]).astype(np.float64)
        y = np.concatenate([r[1] for r in parts])
        if any(r[2] is not None for r in parts):
            w = np.concatenate([np.ones(len(r[1])) if r[2] is None else r[2] for r in parts])
        else:
            w = np.ones(len(y))
        # grouped by the score as given: distinct probabilities stay distinct even where their
        # logits round to the same float (near 0, log p has fewer digits than p). A stable sort:
        # tied rows stay in row order, so each group's sum is the same bits however it arrived.
        order = np.argsort(score, kind="stable")
        score = score[order]
        head = np.concatenate(([True], score[1:] != score[:-1]))
        group = np.cumsum(head) - 1
        wy = w * y
        pos = np.bincount(group, weights=wy[order])
        neg = np.bincount(group, weights=(w - wy)[order])
        keep = (pos + neg) > 0
        return ScoreTable(score[head][keep], pos[keep], neg[keep], True, 0.0, probabilities)


def _centres(index: np.ndarray) -> np.ndarray:
    """The logit at the middle (in logit) of each fine bin: bin k of octave e holds the odds
    2**e (1 + k / 1024) up to 2**e (1 + (k + 1) / 1024)."""
    fine = np.clip(index - _FIRST_FINE, 0, N_FINE - 1)
    octave = (fine >> SUB_BITS) - OCTAVES
    k = (fine & ((1 << SUB_BITS) - 1)).astype(np.float64)
    step = 1.0 / (1 << SUB_BITS)
    return octave * math.log(2) + 0.5 * (np.log1p(k * step) + np.log1p((k + 1) * step))


def _unpacked(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
    """(p, y, no weights) of packed rows."""
    return (key >> 1).view(np.float64), (key & 1).astype(np.float64), None


def _packed_table(keys: np.ndarray) -> ScoreTable:
    """The exact table of packed rows: one integer sort (no argsort, no gathers); the groups'
    counts from where the bits change."""
    keys = np.sort(keys)
    bits = keys >> 1
    starts = np.flatnonzero(np.concatenate(([True], bits[1:] != bits[:-1])))
    ends = np.append(starts[1:], len(keys))
    ones = np.concatenate(([0], np.cumsum(keys & 1)))
    pos = (ones[ends] - ones[starts]).astype(np.float64)
    neg = (ends - starts) - pos
    return ScoreTable(bits[starts].view(np.float64), pos, neg, True, 0.0, True)


@dataclass(eq=False)
class ScoreSummaries:
    """One ``ScoreSummary`` per output (binary: one; multi-label: one per label column).
    ``usable`` turns False for good once a chunk held labels outside [0, 1], probabilities
    outside [0, 1] or negative weights: the ranking metrics and the decomposition are then
    undefined (the report's flags say why)."""

    k: int
    outputs: list[ScoreSummary] = field(init=False)
    usable: bool = True

    def __post_init__(self) -> None:
        self.outputs = [ScoreSummary() for _ in range(self.k)]

    def add(
        self,
        y: np.ndarray,
        scores: np.ndarray,
        w: np.ndarray | None,
        *,
        hard: bool,
        from_logits: bool,
        start: int | None = None,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
    ) -> None:
        """Add a chunk of (n, k) labels and scores (NaN rows already excluded); ``lo``, ``hi``:
        each output's least and largest score, when the caller has them."""
        if not self.usable:
            return
        for j, s in enumerate(self.outputs):
            if s.n == 0:
                s.from_logits = from_logits
            lo_j = None if lo is None else float(lo[j])
            hi_j = None if hi is None else float(hi[j])
            s.add(y[:, j], scores[:, j], w, hard=hard, start=start, lo=lo_j, hi=hi_j)

    def unusable(self) -> None:
        self.usable = False
        self.outputs = [ScoreSummary() for _ in range(self.k)]

    def buckets_only(self) -> None:
        for s in self.outputs:
            s.buckets_only()

    def merge(self, other: ScoreSummaries) -> None:
        if other.k != self.k:
            raise ValueError("cannot merge score summaries of different runs")
        if not (self.usable and other.usable):
            self.unusable()
            return
        for mine, theirs in zip(self.outputs, other.outputs, strict=True):
            mine.merge(theirs)
