"""Reductions of an (n, K) array along one axis, for the columns of multi-label outputs and
softmax rows of up to ``FEW_COLUMNS`` classes.

numpy reduces a C-ordered (n, K) array over either axis K elements at a time, which for small
K is slow: a chain of whole-column operations (``np.minimum`` of the columns, one column's
minimum after another) is several times faster up to some 16 columns, where the strided
columns start to cost more than they save (``benchmarks/variants.py`` times the shapes).
Minima, maxima and counts do not depend on the order of the values; sums do, so ``row_sum``
and ``column_sum`` serve tolerance checks and tallies only (a tally takes them the same way
for every chunk of a run).
"""

from __future__ import annotations

import numpy as np

FEW_COLUMNS = 16
COUNT_COLUMNS = 16
# row_argmax's column loop (a masked copy per column) pays only for the fewest columns
ARGMAX_COLUMNS = 5


def column_min(a: np.ndarray) -> np.ndarray:
    if a.shape[1] > FEW_COLUMNS:
        return np.asarray(a.min(axis=0))
    return np.array([a[:, j].min() for j in range(a.shape[1])])


def column_max(a: np.ndarray) -> np.ndarray:
    if a.shape[1] > FEW_COLUMNS:
        return np.asarray(a.max(axis=0))
    return np.array([a[:, j].max() for j in range(a.shape[1])])


def column_sum(a: np.ndarray) -> np.ndarray:
    """Each column's sum. Column by column, numpy sums pairwise; over axis 0 it adds row after
    row: the column sums are the more precise as well as the faster."""
    if a.shape[1] > FEW_COLUMNS:
        return np.asarray(a.sum(axis=0))
    return np.array([a[:, j].sum() for j in range(a.shape[1])])


def column_count(a: np.ndarray) -> np.ndarray:
    """True values per column of a boolean array."""
    if a.shape[1] > COUNT_COLUMNS:
        return np.asarray(np.count_nonzero(a, axis=0))
    return np.array([np.count_nonzero(a[:, j]) for j in range(a.shape[1])])


def row_count(a: np.ndarray) -> np.ndarray:
    """True values per row of a boolean array."""
    if a.shape[1] > COUNT_COLUMNS:
        return np.asarray(np.count_nonzero(a, axis=1))
    counts = np.zeros(len(a), dtype=np.int64)
    for j in range(a.shape[1]):
        counts += a[:, j]
    return counts


def row_any(a: np.ndarray) -> np.ndarray:
    """Whether each row of a boolean array holds a true value."""
    return np.asarray(a.any(axis=1))


def _fold_rows(a: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """``combine.reduce`` over each row: a chain of whole-column operations for few columns."""
    if a.shape[1] > FEW_COLUMNS:
        return np.asarray(combine.reduce(a, axis=1))
    out = np.array(a[:, 0], dtype=a.dtype)
    for j in range(1, a.shape[1]):
        combine(out, a[:, j], out=out)
    return out


def row_min(a: np.ndarray) -> np.ndarray:
    return _fold_rows(a, np.minimum)


def row_max(a: np.ndarray) -> np.ndarray:
    return _fold_rows(a, np.maximum)


def row_sum(a: np.ndarray) -> np.ndarray:
    """Each row's sum, for checks with a tolerance and for tallies (up to ``FEW_COLUMNS`` added
    left to right): a loss that must match a framework's bit for bit keeps numpy's own sum."""
    return _fold_rows(a, np.add)


def row_argmax(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first largest value's column and that value, for finite values (numpy's
    argmax also ranks NaN first)."""
    if a.shape[1] > ARGMAX_COLUMNS:
        pred = np.argmax(a, axis=1)
        return pred, a[np.arange(len(a)), pred]
    if a.shape[1] == 2:  # a softmax over two units
        return (a[:, 1] > a[:, 0]).astype(np.intp), np.maximum(a[:, 0], a[:, 1])
    pred = np.zeros(len(a), dtype=np.intp)
    best = np.array(a[:, 0], dtype=a.dtype)
    for j in range(1, a.shape[1]):
        above = a[:, j] > best  # strictly: a tie keeps the earlier column
        np.copyto(pred, j, where=above)
        np.maximum(best, a[:, j], out=best)
    return pred, best


def largest_ratio(top: np.ndarray, low: np.ndarray) -> float:
    """max(top / low) over the rows, inf if some ``low`` is not above 0."""
    if not bool((low > 0).all()):
        return float(np.inf)
    return float((top / low).max())
