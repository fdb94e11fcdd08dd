"""Confidence intervals by a streaming Poisson bootstrap (``bce score --ci LEVEL``).

Each of the ``B`` replicates gives every row a Poisson(1) weight: the number of times that row
would appear in a resample of the same size, up to the Poisson approximation of the multinomial
(Hanley and MacGibbon 2006; Chamandy et al. 2012). A replicate's statistics are then weighted
sums, so one pass over the rows fills all of them, and two tallies merge by adding.

The weights are a function of (seed, global row number, replicate) only, never of the chunk, the
thread or the partition a row arrives in: rows are taken in the summary's 4096-row blocks
(``bcecli.core.blocksum``), and block ``b`` draws its weights from the counter-based generator
Philox-4x64 keyed by the seed with counter ``(0, 0, b, 0)`` (numpy's ``Philox``, whose stream is
fixed by its key and counter). The block's 4096 x B 16-bit draws (four from each 64-bit word,
little-endian) go through the inverse CDF of Poisson(1): the draw ``u`` has weight ``k``, the
smallest with F(k) >= (u + 1/2) / 65536. A row's weight in replicate ``r`` is the draw at
``(row mod 4096) * B + r`` of its block's stream.

Per replicate the tally keeps, per block, the weighted sums of the per-row statistics (the
headline's num and den, w l and w for NE, each output's or class's weighted labels for the base
rate, correct outputs, the Brier terms, and the rows they are counted over): a block's sums are
a fixed sequence of small matrix products of its rows, and the block sums are combined exactly
(``math.fsum``), the summary's determinism rule. The intervals are percentile intervals of the
replicates.

AUC is not resampled: a replicate would need its own score histogram, a gather of every row's B
weights per output, which costs several times the rest. Its interval is DeLong's: the variance
of the placement values (each positive's share of the negatives below it, ties one half, and
each negative's of the positives above), read off the report's own score table (exact for small
files, logit bins 0.0007 wide beyond), so it costs nothing per row; the interval is normal on
the logit of AUC, so it stays inside (0, 1). Weights count as frequencies there. For several
outputs the headline AUC is their mean, and its standard error is taken as the mean of theirs
(the largest it can be, whatever their correlation).

Every interval describes the test set's sampling variance only: another training run (other
seeds, other data) would move the model, and that variance is not in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bcecli.core.blocksum import BLOCK, BlockSum

DEFAULT_RESAMPLES = 200
DEFAULT_SEED = 20240
MAX_PRIOR_CLASSES = 32  # beyond, NE's replicates keep the whole file's base rates
METHOD = "poisson bootstrap, percentile; auc: DeLong, normal on the logit"
SCOPE = (
    "test-set interval: the variance of sampling these rows, not of training (another "
    "training run would move the model too)"
)


def _poisson_table() -> np.ndarray:
    """Poisson(1) quantile of each 16-bit draw u, at (u + 1/2) / 65536."""
    cdf, term, total, k = [], math.exp(-1.0), 0.0, 0
    while total < 1 - 1e-12:
        total += term
        cdf.append(total)
        k += 1
        term /= k
    u = (np.arange(1 << 16) + 0.5) / (1 << 16)
    return np.searchsorted(np.array(cdf), u).astype(np.float64)


_TABLE = _poisson_table()


@dataclass(frozen=True)
class BootstrapPlan:
    """``--ci LEVEL --bootstrap N --seed S``."""

    level: float
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def replicate_weights(plan: BootstrapPlan, block: int, rows: int) -> np.ndarray:
    """The Poisson(1) weights (rows, B) of the first ``rows`` rows of sum block ``block``."""
    b = plan.n_resamples
    words = -(-rows * b // 4)
    gen = np.random.Philox(key=plan.seed, counter=[0, 0, block, 0])
    raw = gen.random_raw(words).astype("<u8", copy=False)
    return _TABLE[raw.view("<u2")[: rows * b].reshape(rows, b)]


# OpenBLAS multiplies on one thread below this many multiply-adds (M N K); above, its threads
# compete with the scoring threads for the cores
_ONE_THREAD_GEMM = 1 << 18


def _sub_rows(b: int, columns: int) -> int:
    """Rows per product: the largest power of two up to BLOCK under the one-thread size."""
    rows = BLOCK
    while rows > 8 and b * columns * rows > _ONE_THREAD_GEMM:
        rows //= 2
    return rows


def weighted_sums(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(B, columns) = w.T @ values for one block, as products of a fixed number of rows (zero
    rows pad the block's end) and then their sum: the same operations whatever the run."""
    n, b = w.shape
    c = values.shape[1]
    s = _sub_rows(b, c)
    pad = -n % s
    if pad:
        w = np.concatenate([w, np.zeros((pad, b))])
        values = np.concatenate([values, np.zeros((pad, c))])
    parts = w.reshape(-1, s, b).transpose(0, 2, 1) @ values.reshape(-1, s, c)
    return np.asarray(parts.sum(axis=0))


@dataclass(eq=False)
class Replicates(BlockSum):
    """Per replicate, the weighted sums of ``columns`` per-row statistics. A piece of rows is
    (row numbers, statistics (n, columns))."""

    plan: BootstrapPlan = field(default_factory=lambda: BootstrapPlan(0.95))
    columns: int = 1

    def __post_init__(self) -> None:
        self.width = self.plan.n_resamples * self.columns

    def add_rows(self, start: int, values: np.ndarray) -> None:
        """Add the statistics (n, columns) of rows ``start ..`` (0 for an excluded row)."""
        n = len(values)
        if n:
            rows = np.arange(start, start + n, dtype=np.float64)
            self._add(start, n, (rows, np.asarray(values, dtype=np.float64)))

    def _sums(self, piece: tuple[np.ndarray, ...]) -> np.ndarray:
        # BlockSum sums whole blocks, so ``piece`` starts on a block boundary
        rows, values = piece
        n = len(rows)
        first = int(rows[0]) // BLOCK
        out = np.empty((-(-n // BLOCK), self.width))
        for i in range(len(out)):
            part = slice(i * BLOCK, min(n, (i + 1) * BLOCK))
            w = replicate_weights(self.plan, first + i, part.stop - part.start)
            out[i] = weighted_sums(w, values[part]).reshape(-1)
        return out

    def replicate_sums(self) -> np.ndarray:
        """(B, columns): each replicate's weighted sums."""
        return self.totals().reshape(self.plan.n_resamples, self.columns)


@dataclass(frozen=True)
class Intervals:
    """``--ci``: the intervals (lo, hi) of the headline figures; None where a figure is
    undefined (an infinite mean, one class, AUC of a categorical task)."""

    level: float
    n_resamples: int
    seed: int
    mean_loss: tuple[float, float] | None
    ne: tuple[float, float] | None
    accuracy: tuple[float, float] | None
    brier: tuple[float, float] | None
    auc: tuple[float, float] | None
    method: str = METHOD
    scope: str = SCOPE


def interval(values: np.ndarray, level: float) -> tuple[float, float] | None:
    """The percentile interval of the replicates' values (None where fewer than two are
    finite)."""
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return None
    lo, hi = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def delong(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """(AUC, DeLong's standard error) from the weight of positives and of negatives per
    distinct score (or bin), in increasing score order."""
    p, q = float(pos.sum()), float(neg.sum())
    if p <= 1 or q <= 1:
        return math.nan, math.nan
    v10 = (np.cumsum(neg) - 0.5 * neg) / q  # a positive's placement among the negatives
    v01 = (p - np.cumsum(pos) + 0.5 * pos) / p  # a negative's among the positives
    auc = float(np.dot(pos, v10)) / p
    var10 = float(np.dot(pos, (v10 - auc) ** 2)) / (p - 1)
    var01 = float(np.dot(neg, (v01 - auc) ** 2)) / (q - 1)
    return auc, math.sqrt(var10 / p + var01 / q)


def auc_interval(auc: float, se: float, level: float) -> tuple[float, float] | None:
    """Normal interval on the logit of AUC (None where AUC is 0, 1 or undefined)."""
    if not (0 < auc < 1) or not math.isfinite(se):
        return None
    z = normal_quantile((1 + level) / 2)
    centre, half = math.log(auc / (1 - auc)), z * se / (auc * (1 - auc))
    return 1 / (1 + math.exp(half - centre)), 1 / (1 + math.exp(-(centre + half)))


def normal_quantile(p: float) -> float:
    """The standard normal quantile, by bisection on erf (no scipy at run time)."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(-mid / math.sqrt(2)) < p else (lo, mid)
    return (lo + hi) / 2


# The columns of a replicate's sums: the headline's (num, den, w l, w, scored rows), then the
# base rate's numerators (one per output or class, where there are at most MAX_PRIOR_CLASSES),
# then correct outputs, Brier terms and the rows they are counted over.
HEAD_COLUMNS = 5
TAIL_COLUMNS = 3


def new_replicates(plan: BootstrapPlan, k: int) -> Replicates:
    priors = k if k <= MAX_PRIOR_CLASSES else 0
    return Replicates(plan=plan, columns=HEAD_COLUMNS + priors + TAIL_COLUMNS)


def prior_columns(boot: Replicates) -> int:
    return boot.columns - HEAD_COLUMNS - TAIL_COLUMNS


_Head = tuple[np.ndarray, np.ndarray | float, np.ndarray, np.ndarray | float]


def _head(head: _Head, m: int) -> list[np.ndarray]:
    cols = [v if isinstance(v, np.ndarray) else np.full(m, float(v)) for v in head]
    return [*cols, np.ones(m)]


def _placed(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Packed rows back in the chunk's places (0 elsewhere): a row's weights follow its
    number."""
    from bcecli.core.chunk import unpacked

    return values if rows is None else unpacked(values, rows, 0.0)


def add_binary(
    boot: Replicates,
    start: int,
    rows: np.ndarray | None,
    head: _Head,
    prior: np.ndarray,
    prob: np.ndarray,
    y: np.ndarray,
) -> None:
    """Add a binary chunk's scored rows (``rows``: which of the chunk's rows they are; None:
    all): ``head`` = (num, den, w l, w), ``prior`` the base rate's numerators (m, k), and the
    probabilities and labels."""
    m = len(prob)
    cols = _head(head, m)
    if prior_columns(boot):
        cols += list(prior.T)
    correct = np.count_nonzero((prob > 0.5) == (y >= 0.5), axis=1)
    cols += [correct.astype(np.float64), np.square(prob - y).sum(axis=1), np.ones(m)]
    boot.add_rows(start, _placed(np.stack(cols, axis=1), rows))


def add_categorical(
    boot: Replicates,
    start: int,
    head_rows: np.ndarray | None,
    head: _Head,
    stat_rows: np.ndarray | None,
    stats: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    n: int,
) -> None:
    """Add a categorical chunk of ``n`` rows: ``head`` over its scored rows (``head_rows``),
    ``stats`` = (the base rate's numerators (v, K or 0), correct (v,), Brier terms (v,)) over
    the rows whose loss was computed (``stat_rows``; None: every row)."""
    values = np.zeros((n, boot.columns))
    values[:, :HEAD_COLUMNS] = _placed(np.stack(_head(head, len(head[0])), axis=1), head_rows)
    if stats is not None:
        prior, correct, brier = stats
        cols = [*prior.T, correct.astype(np.float64), brier, np.ones(len(brier))]
        values[:, HEAD_COLUMNS:] = _placed(np.stack(cols, axis=1), stat_rows)
    boot.add_rows(start, values)
