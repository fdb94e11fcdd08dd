"""Reductions of an (n, K) array along one axis, for the small K of multi-label outputs.

numpy reduces a C-ordered (n, K) array over axis 0 K elements at a time, which for K = 5 is
three to five times slower than reducing each column on its own (measured: 1.4 ms against
0.5 ms for 65,536 x 5 float64), and reduces each row little faster. Only reductions whose
result does not depend on the order of the values (min, max, counts) are done column by column;
sums keep numpy's pairwise order.
"""

from __future__ import annotations

import numpy as np

# Up to this many columns, one reduction per column; beyond, numpy's axis-0 reduction.
MAX_COLUMNS = 16


def column_min(a: np.ndarray) -> np.ndarray:
    if a.shape[1] > MAX_COLUMNS:
        return np.asarray(a.min(axis=0))
    return np.array([a[:, j].min() for j in range(a.shape[1])])


def column_max(a: np.ndarray) -> np.ndarray:
    if a.shape[1] > MAX_COLUMNS:
        return np.asarray(a.max(axis=0))
    return np.array([a[:, j].max() for j in range(a.shape[1])])


def column_count(a: np.ndarray) -> np.ndarray:
    """True values per column of a boolean array."""
    if a.shape[1] > MAX_COLUMNS:
        return np.asarray(np.count_nonzero(a, axis=0))
    return np.array([np.count_nonzero(a[:, j]) for j in range(a.shape[1])])


def row_count(a: np.ndarray) -> np.ndarray:
    """True values per row of a boolean array."""
    if a.shape[1] > MAX_COLUMNS:
        return np.asarray(np.count_nonzero(a, axis=1))
    counts = np.zeros(len(a), dtype=np.int64)
    for j in range(a.shape[1]):
        counts += a[:, j]
    return counts
