"""The init sample: what ``bce check-init`` measures besides the loss, tallied while scoring.

The logits' spread needs a logarithm per output (logits recovered from probabilities), which
would cost a run on a large file more than the whole loss does; any work per chunk costs a
large file (some 150 chunks of a 10M-row NPY pair) a measurable share of its run. So it is
measured on the first ``SAMPLE_HEAD`` rows only, and a chunk past them returns at once. A
batch or a few thousand rows (what an untrained model is checked on) is measured whole; on a
larger file the first 65,536 rows stand for the rest, which misleads only where the file is
sorted (by label or by score). The sample's sums are ``BlockSum``s over the row number and
follow the summary's determinism rule (the same bits whatever the chunking).

The sample holds per column the sum of the logits and of their squares (softmax logits centred
per row: a softmax ignores a constant), the sum of the probabilities (the mean prediction of a
softmax; a sigmoid's comes from every row, ``BinaryTally.p_sum``), the count of saturated
outputs, and the sums that give the standard error of the profile's mean (num^2, num * den,
den^2, of ``sum(num) / sum(den)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bcecli.core.chunk import Chunk
from bcecli.core.init_check import LOGIT_CAP, SATURATION
from bcecli.core.options import LossOptions
from bcecli.core.summary import BinaryTally, Tally

SAMPLE_HEAD = 1 << 16


def sample_positions(start: int, n: int) -> np.ndarray:
    """The positions in the chunk of rows ``start .. start + n - 1`` that are in the sample."""
    return np.arange(0, max(0, min(start + n, SAMPLE_HEAD) - start))


def _at(v: np.ndarray | float, pos: np.ndarray) -> np.ndarray:
    return v[pos] if isinstance(v, np.ndarray) else np.full(len(pos), float(v))


def add_init_sample(
    t: Tally,
    opts: LossOptions,
    chunk: Chunk,
    scored: np.ndarray | None,
    num: np.ndarray | float,
    den: np.ndarray | float,
) -> None:
    """Add the chunk's sampled rows to ``t``: ``scored`` marks the chunk's scored rows (None:
    every row); ``num`` and ``den`` are the headline's per-row terms, over the chunk's rows."""
    if chunk.start >= SAMPLE_HEAD:
        return
    index, pos = chunk.start, sample_positions(chunk.start, len(chunk))
    keep = np.ones(len(pos), dtype=bool) if scored is None else scored[pos]
    x = np.where(keep[:, None], chunk.preds[pos].astype(np.float64), 0.5)
    # huge logits (1e300) overflow their squares: the spread is then inf, as it should read
    with np.errstate(over="ignore", invalid="ignore"):
        if opts.task.is_multiclass:
            z, p, saturated = _softmax_figures(x, opts.from_logits)
        else:
            z, p, saturated = _sigmoid_figures(x, opts.from_logits)
        z, p = np.where(keep[:, None], z, 0.0), np.where(keep[:, None], p, 0.0)
        t.sample_rows += int(np.count_nonzero(keep))
        t.sample_saturated += int(np.count_nonzero(saturated[keep]))
        # added row after row: a chunk whose rows are all excluded adds nothing, and a row
        # left out and a row adding 0 give the same bits (the summary's determinism rule)
        t.sample_logit.add_columns(np.concatenate([z, z * z], axis=1), index)
        t.sample_p.add_columns(p, index)
        a, b = _at(num, pos) * keep, _at(den, pos) * keep
        t.sample_head.add_columns(np.stack([a * a, a * b, b * b], axis=1), index)


def _sigmoid_figures(x: np.ndarray, from_logits: bool) -> tuple[np.ndarray, ...]:
    """(logits, probabilities, saturated outputs) of sigmoid outputs."""
    if from_logits:
        z = x
        p = 0.5 * (1 + np.tanh(0.5 * x))  # the sigmoid, without overflow
        return z, p, np.abs(x) > LOGIT_CAP
    q = np.clip(x, SATURATION, 1 - SATURATION)
    z = np.log(q) - np.log1p(-q)
    return z, x, (x <= SATURATION) | (x >= 1 - SATURATION)


def _softmax_figures(x: np.ndarray, from_logits: bool) -> tuple[np.ndarray, ...]:
    """(logits centred per row, probabilities, saturated rows) of softmax outputs."""
    if from_logits:
        z = x - x.mean(axis=1, keepdims=True)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    else:
        logs = np.log(np.clip(x, SATURATION, None))
        z = logs - logs.mean(axis=1, keepdims=True)
        p = x
    return z, p, p.max(axis=1) >= 1 - SATURATION


@dataclass(frozen=True)
class InitSample:
    """What the init sample measured (NaN where nothing was sampled)."""

    rows: int  # scored rows in the sample
    std_error: float | None  # of the profile's mean loss (None: undefined, an infinite mean)
    mean_prediction: tuple[float, ...]  # per output or class
    logit_std: float  # pooled over the columns (see ``summarise``)
    saturated_share: float  # of the outputs (sigmoid) or rows (softmax)
    constant: float | None  # every prediction in every column the same: the first column's
    outside: tuple[float, float] | None  # (min, max) of predictions where some are outside [0, 1]


def summarise(t: Tally, multiclass: bool, n: int, den_total: float, mean: float) -> InitSample:
    """The sample's figures, for a run of ``n`` scored rows whose mean loss is ``mean`` =
    sum(num) / ``den_total``.

    ``logit_std`` is the square root of the mean over the columns of each column's variance
    across rows (a column's mean, its bias, is no spread). Softmax logits are centred per row,
    which takes 1/K of the variance of K independent logits away: it is given back (K / (K -
    1)), so Gaussian logits of standard deviation s read s for a sigmoid and a softmax alike.
    The standard error is the ratio estimator's: sum((num - mean den)^2) / sum(den)^2, the
    sample's sum scaled to the n rows (with the m / (m - 1) correction for its m rows)."""
    m, k = t.sample_rows, t.k
    if m == 0:
        nan = float("nan")
        return InitSample(0, None, tuple([nan] * k), nan, nan, None, None)
    sums = t.sample_logit.totals()
    s1, s2 = sums[:k] / m, sums[k:] / m
    with np.errstate(over="ignore", invalid="ignore"):
        # E[z^2] - E[z]^2 rounds to a few ulps of E[z^2] where the logits do not vary (a
        # constant output): below that it is 0
        v = s2 - s1 * s1
        v = np.where(v <= 64 * np.finfo(np.float64).eps * s2, 0.0, v)
        per_column = np.where(np.isinf(s2), np.inf, v)
        variance = float(np.mean(per_column))
    if multiclass and k > 1:
        variance *= k / (k - 1)
    nn, nd, dd = (float(v) for v in t.sample_head.totals())
    spread = math.nan
    if math.isfinite(mean) and math.isfinite(nn):
        spread = max(nn - 2 * mean * nd + mean * mean * dd, 0.0)
    se = None
    if m > 1 and den_total > 0 and math.isfinite(spread):
        se = math.sqrt(spread * (n / m) * (m / (m - 1))) / den_total
    per = m if multiclass else m * k
    if isinstance(t, BinaryTally):  # every row's probabilities are summed for calibration
        mean_prediction = t.p_sum() / n
    else:
        mean_prediction = t.sample_p.totals() / m
    return InitSample(
        rows=m,
        std_error=se,
        mean_prediction=tuple(float(v) for v in mean_prediction),
        logit_std=math.sqrt(variance),
        saturated_share=t.sample_saturated / per,
        constant=_constant(t, n),
        outside=None
        if t.x_outside.lo is None or t.x_outside.hi is None
        else (float(t.x_outside.lo.min()), float(t.x_outside.hi.max())),
    )


def _constant(t: Tally, n: int) -> float | None:
    lo, hi = t.raw.lo, t.raw.hi
    if n < 2 or lo is None or hi is None or not np.all(lo == hi):
        return None
    return float(lo[0])
