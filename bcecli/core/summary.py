"""The typed tallies of the summary: what scoring adds up, per task, and how two of them merge.

Every statistic is a field: an ``int`` (or an int array) for a count, a ``Range`` for minima and
maxima, a ``BlockSum`` for a float sum. ``Tally.merge`` merges every field by its type, so adding
a statistic is one field here and the one place in the task's scoring that computes it.

Determinism rule (every float tally): **its total is the same bits whatever the path, the
chunking, the reader (disk or pipe), the number of threads or processes, and the order in which
partitions are merged.** Each float tally is a ``BlockSum``: per-row terms summed in fixed
4096-row blocks aligned to the global row number, the block sums combined exactly (``fsum``).
For that to hold, scoring keeps three habits:

* a row's term is computed by one formula whatever chunk it arrives in (a chunk may pick a
  cheaper form of the same formula only where the two give the same bits, e.g. one log per row
  for hard labels);
* a sum that a chunk may skip (no row of it contributes: no soft label, no row off 1) is added
  row after row (``add_binned``), where a skipped row and a row adding 0 give the same bits;
  pairwise sums (``add``) get every row of every chunk, an excluded row adding 0;
* a part that is exact (a count of 0/1 labels, a sum of 1s) is added as a number
  (``add_exact``); a tally is split that way by a property of each row, never of its chunk.

Counts, minima and maxima are exact anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from bcecli.core.blocksum import BlockSum
from bcecli.core.bootstrap import Replicates
from bcecli.core.class_scores import ClassScores
from bcecli.core.score_summary import ScoreSummaries
from bcecli.core.slices import Slices

CALIBRATION_BINS = 10
# The binary calibration table is kept by (output, bin, label class): the label is 0, 1, or
# anything else (a soft or out-of-range label), so that 0/1 labels are counted exactly.
LABEL_CLASSES = 3
MAX_CONFUSION_CLASSES = 100


@dataclass(eq=False)
class Range:
    """Smallest and largest values seen, per column (NaN-ignoring); None until a value is seen."""

    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    def add(self, lo: np.ndarray | float, hi: np.ndarray | float) -> None:
        a = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        b = np.atleast_1d(np.asarray(hi, dtype=np.float64))
        self.lo = a.copy() if self.lo is None else np.fmin(self.lo, a)
        self.hi = b.copy() if self.hi is None else np.fmax(self.hi, b)

    def merge(self, other: Range) -> None:
        if other.lo is not None and other.hi is not None:
            self.add(other.lo, other.hi)

    @property
    def seen(self) -> bool:
        return self.lo is not None


def _sum(width: int = 1) -> Any:
    return field(default_factory=lambda: BlockSum(width))


@dataclass(eq=False)
class Tally:
    """What both tasks tally. ``k`` is the number of prediction columns."""

    k: int
    n_elements: int = 0  # scored elements (rows x outputs for binary, rows for categorical)
    w_sum: BlockSum = _sum()  # sum of the effective weights (w x class weight)
    brier: BlockSum = field(init=False)  # sum of (p - y)^2: see each task's
    raw: Range = field(default_factory=Range)  # probabilities per column (softmax of logits)
    x_outside: Range = field(default_factory=Range)  # predictions, where some are outside [0, 1]
    saturated_wrong: int = 0  # predictions of 0 for a labelled outcome (literal loss inf)
    floor_w: BlockSum = _sum()  # weighted label entropy (seen: some label is soft or smoothed)
    # The init sample (bce check-init, core/init_sample.py): the first 65,536 rows, so a
    # large file's later chunks pay nothing for it.
    sample_rows: int = 0  # scored rows in the sample
    sample_saturated: int = 0  # outputs (sigmoid) or rows (softmax) within 1e-7 of 0 or 1
    sample_logit: BlockSum = field(init=False)  # per column: sum of the logits, then of squares
    sample_p: BlockSum = field(init=False)  # per column: sum of the probabilities
    sample_head: BlockSum = field(init=False)  # num^2, num den, den^2 (the mean's spread)
    # The standard error of the headline mean sum(num) / sum(den), over every scored row:
    # sums of num^2, den^2 and num den (see ``add_spread``)
    spread: BlockSum = _sum(3)
    # --ci: each bootstrap replicate's sums (bcecli.core.bootstrap); None without it
    boot: Replicates | None = None
    # --by: each slice's tally (bcecli.core.slices); None without it
    slices: Slices | None = None

    def __post_init__(self) -> None:
        self.sample_logit = BlockSum(2 * self.k)
        self.sample_p = BlockSum(self.k)
        self.sample_head = BlockSum(3)

    def add_spread(self, start: int, num: np.ndarray, den: np.ndarray | float, rows: int) -> None:
        """Add the headline's per-row terms (``num`` over the chunk's rows, 0 for an excluded
        row; ``den`` likewise, or one number for each of the ``rows`` scored rows)."""
        # the squares are made here and summed as plain columns: the same bits on any
        # chunking (einsum's sum of squares is not, where a block's values start unaligned)
        with np.errstate(over="ignore", invalid="ignore"):
            if isinstance(den, np.ndarray):
                self.spread.add([num * num, den * den, num * den], start)
            else:
                self.spread.add([num * num, None, num if den == 1 else num * den], start)
                self.spread.add_exact(np.array([0.0, den * den * rows, 0.0]))

    def mean_se(self, n: int, mean: float, den_total: float) -> float | None:
        """Standard error of the ratio mean R = sum(num) / sum(den) over n rows, by the
        linearised (delta-method) ratio estimator:
            se^2 = n / (n - 1) * sum((num_i - R den_i)^2) / sum(den)^2,
        expanded as sum(num^2) - 2 R sum(num den) + R^2 sum(den^2). Unweighted (den = 1) it is
        the sample standard deviation over sqrt(n). None where the mean is not finite or n < 2."""
        if n < 2 or not math.isfinite(mean) or den_total <= 0:
            return None
        nn, dd, nd = (float(v) for v in self.spread.totals())
        if not all(math.isfinite(v) for v in (nn, nd, dd)):
            return None
        spread = max(nn - 2 * mean * nd + mean * mean * dd, 0.0)
        return math.sqrt(spread * n / (n - 1)) / den_total

    def accuracy_counts(self) -> tuple[float, float]:
        """(correct, out of): the accuracy's numerator and denominator."""
        raise NotImplementedError

    def calibration(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The calibration table: per bin, the count, the sum of the binned probability and
        the sum of the label (binary) or of "correct" (categorical)."""
        raise NotImplementedError

    def merge(self, other: Tally) -> None:
        """Add ``other``'s statistics (of the same run) to these, field by field."""
        if type(other) is not type(self) or other.k != self.k:
            raise ValueError("cannot merge tallies of different runs")
        for f in fields(self):
            if f.name == "k":
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, (BlockSum, Range, ScoreSummaries, Slices, ClassScores)):
                mine.merge(theirs)
            elif isinstance(mine, np.ndarray):
                mine += theirs
            elif mine is None or theirs is None:
                setattr(self, f.name, None)
            else:
                setattr(self, f.name, mine + theirs)


@dataclass(eq=False)
class BinaryTally(Tally):
    """Binary and multi-label statistics, per output where an array."""

    labels_minus1: int = 0  # labels equal to -1
    labels_not_pm1: int = 0  # labels neither -1 nor 1
    correct: np.ndarray = field(init=False)  # per output: (p > 0.5) == (y >= 0.5)
    # per (output, bin, label class): counts, sums of p, of y (soft), of p * y (soft)
    cells_n: np.ndarray = field(init=False)
    cells_p: BlockSum = field(init=False)
    soft_y: BlockSum = field(init=False)  # per (output, bin): the soft labels' y
    soft_py: BlockSum = _sum()  # the soft labels' p * y
    pos_w: BlockSum = field(init=False)  # per output: sum of w * y (seen: weights or smoothing)
    p: Range = field(default_factory=Range)  # probabilities per output
    y: Range = field(default_factory=Range)  # labels per output
    logits_outside_unit: int = 0  # logits outside [0, 1]
    elem_loss: BlockSum = field(init=False)  # per output: sum of the element loss (K > 1)
    rows_sum_1: int = 0  # prediction rows summing to 1 (K > 1, probabilities)
    rows_one_hot: int = 0  # label rows that are one-hot (K > 1)
    cce_one_hot: BlockSum = _sum()  # categorical cross-entropy of the one-hot rows
    # per output: the scores' logit histogram (counts; with weights or soft labels, float sums
    # that agree to 1e-12 relative, not to the bit, whatever the split: see score_summary)
    scores: ScoreSummaries = field(init=False)
    # rows a library's rule scores far from the literal formula (a soft label LightGBM counts
    # as a positive, a probability XGBoost's float32 turns into 0 or 1): their count, and the
    # sums of w, w * the library's loss, w * the literal loss over them
    trap_rows: int = 0
    trap: BlockSum = _sum(3)
    # per output: sums of w * p, then of w * y, with sample weights (the calibration ratio's;
    # without weights it comes from the calibration cells)
    ratio_w: BlockSum = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.brier = BlockSum(squares=True)  # over the elements
        cells = self.k * CALIBRATION_BINS * LABEL_CLASSES
        self.correct = np.zeros(self.k, dtype=np.int64)
        self.cells_n = np.zeros(cells, dtype=np.int64)
        self.cells_p = BlockSum(cells)
        self.soft_y = BlockSum(self.k * CALIBRATION_BINS)
        self.pos_w = BlockSum(self.k)
        self.elem_loss = BlockSum(self.k)
        self.scores = ScoreSummaries(self.k)
        self.ratio_w = BlockSum(2 * self.k)

    def accuracy_counts(self) -> tuple[float, float]:
        return float(self.correct.sum()), float(self.n_elements)

    def calibration(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.cells(self.cells_n).sum(axis=(0, 2))
        p = self.cells(self.cells_p.totals()).sum(axis=(0, 2))
        return n, p, self.label_sums().sum(axis=0)

    def cells(self, a: np.ndarray) -> np.ndarray:
        """A per-cell array as (output, bin, label class)."""
        return a.reshape(self.k, CALIBRATION_BINS, LABEL_CLASSES)

    def label_sums(self) -> np.ndarray:
        """Sum of the labels per (output, bin): the 1s counted, the soft labels summed."""
        ones = self.cells(self.cells_n)[:, :, 1].astype(np.float64)
        return ones + self.soft_y.totals().reshape(self.k, CALIBRATION_BINS)

    def pos(self) -> np.ndarray:
        """Sum of the labels per output."""
        return self.label_sums().sum(axis=1)

    def p_sum(self) -> np.ndarray:
        """Sum of the probabilities per output."""
        return self.cells(self.cells_p.totals()).sum(axis=(1, 2))

    def calibration_ratio(self) -> tuple[np.ndarray, float]:
        """sum(w p) / sum(w y) per output and over every element (torchrec's calibration;
        NaN where the labels sum to 0)."""
        if self.ratio_w.seen:
            t = self.ratio_w.totals()
            p, y = t[: self.k], t[self.k :]
        else:
            p, y = self.p_sum(), self.pos()
        with np.errstate(all="ignore"):
            per = np.where(y != 0, p / np.where(y != 0, y, 1.0), np.nan)
        pooled = float(p.sum() / y.sum()) if y.sum() != 0 else float("nan")
        return per, pooled

    def py_sum(self) -> float:
        """Sum of p * y over every element."""
        return float(self.cells(self.cells_p.totals())[:, :, 1].sum() + self.soft_py.total())


@dataclass(eq=False)
class MulticlassTally(Tally):
    """Categorical and sparse statistics, per class where an array."""

    correct: int = 0  # rows whose argmax is the true class
    n_correct_of: int = 0  # rows whose loss was computed
    class_n: np.ndarray = field(init=False)  # rows per true class
    class_correct: np.ndarray = field(init=False)  # correct rows per true class
    class_loss: BlockSum = field(init=False)  # loss per true class
    class_w: BlockSum = field(init=False)  # effective weight per class (the prior's numerator)
    confusion: np.ndarray | None = field(init=False)  # (true, predicted) counts, K <= 100
    label: Range = field(default_factory=Range)  # sparse labels
    row_ratio: Range = field(default_factory=Range)  # hi: the largest max / min of a row
    soft_target_rows: int = 0  # label rows that are not one-hot
    sample_weighted_rows: int = 0  # rows scored with a sample weight (Keras' metric masks then)
    rounded_rows: int = 0  # rows off 1 by no more than the rounding of their decimals
    rounded_decimals: Range = field(
        default_factory=Range
    )  # the decimals those rows were written with
    rounded_sums: Range = field(default_factory=Range)  # the sums of those rows
    logit_rows_sum_1: int = 0  # with --from-logits: rows in [0, 1] that sum to 1 (softmax outputs)
    renorm_shift_w: BlockSum = _sum()  # sum of w log(row sum) over rows that do not sum to 1
    cal_n: np.ndarray = field(init=False)  # calibration of the top probability: count per bin
    cal_p: BlockSum = field(init=False)  # sum of the top probability per bin
    cal_y: BlockSum = field(init=False)  # correct rows per bin
    # ranking, decomposition and recalibration of the scores (core/class_scores.py)
    scores: ClassScores = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        k = self.k
        self.scores = ClassScores(k)
        self.brier = BlockSum()  # of each row's sum over the classes
        self.cal_n = np.zeros(CALIBRATION_BINS, dtype=np.int64)
        self.cal_p = BlockSum(CALIBRATION_BINS)
        self.cal_y = BlockSum(CALIBRATION_BINS)
        self.class_n = np.zeros(k, dtype=np.int64)
        self.class_correct = np.zeros(k, dtype=np.int64)
        self.class_loss = BlockSum(k)
        self.class_w = BlockSum(k)
        self.confusion = np.zeros(k * k, dtype=np.int64) if k <= MAX_CONFUSION_CLASSES else None

    def accuracy_counts(self) -> tuple[float, float]:
        return float(self.correct), float(self.n_correct_of or self.n_elements)

    def calibration(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.cal_n, self.cal_p.totals(), self.cal_y.totals()
