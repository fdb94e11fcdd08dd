"""The arrays that flow from the readers through the core."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Chunk:
    """Rows ``start .. start + n - 1`` of the input.

    ``labels`` is ``(n, L)`` (L = 1 for binary and sparse labels, K for one-hot or multi-label),
    ``preds`` is ``(n, K)``, ``weights`` is ``(n,)`` or None. Float arrays; NaN marks a missing
    cell. ``ids``: the ``--id-col`` columns, carried untouched to the per-sample records and
    the worst rows (float arrays, or a reader's text columns).
    """

    start: int
    labels: np.ndarray
    preds: np.ndarray
    weights: np.ndarray | None = None
    ids: Mapping[str, Any] | None = None
    groups: Mapping[str, Any] | None = None  # --by: the slice columns, as ``ids``

    def __len__(self) -> int:
        return len(self.preds)

    def finite_rows(self) -> np.ndarray:
        """Rows whose labels, predictions and weight are all finite (the others are excluded)."""
        arrays = [self.labels, self.preds] + ([] if self.weights is None else [self.weights])
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf; huge finite values
            sums = [float(a.sum()) for a in arrays]
        if all(math.isfinite(v) for v in sums):  # NaN and inf carry into a sum
            return np.ones(len(self), dtype=bool)
        finite = np.isfinite(self.labels).all(axis=1) & np.isfinite(self.preds).all(axis=1)
        if self.weights is not None:
            finite &= np.isfinite(self.weights)
        return np.asarray(finite)


@dataclass(frozen=True, eq=False)
class ScoredChunk:
    """Per-sample results of one chunk, in input order, for streaming per-sample output.

    ``loss`` is what the profile's ``reduction='none'`` returns (Keras and PyTorch multiply the
    weight in; exact and scikit-learn do not) and NaN for an excluded row; ``row_flags`` maps a
    flag id to the rows it applies to.
    """

    chunk: Chunk
    loss: np.ndarray
    p_true_values: np.ndarray | Callable[[], np.ndarray]
    weight_values: np.ndarray | None  # None: every row weighs 1
    row_flags: dict[str, np.ndarray]

    @property
    def p_true(self) -> np.ndarray:
        """Probability given to the true class (computed on demand on the fast path)."""
        v = self.p_true_values
        return v() if callable(v) else v

    @property
    def weight(self) -> np.ndarray:
        return np.ones(len(self.loss)) if self.weight_values is None else self.weight_values


def unpacked(packed: np.ndarray, rows: np.ndarray, fill: float | bool) -> np.ndarray:
    """Values of the rows ``rows`` marks, back in their places; ``fill`` elsewhere."""
    out = np.full((len(rows), *packed.shape[1:]), fill, dtype=packed.dtype)
    out[rows] = packed
    return out


class Placer:
    """Puts the values of some of a chunk's rows (those ``rows`` marks, packed together) back in
    the chunk's rows, 0 for the others: the summary's sums are by global row number."""

    def __init__(self, rows: np.ndarray | None) -> None:
        self.rows = rows  # None: every row

    def __call__(self, values: np.ndarray | float) -> np.ndarray | float:
        if self.rows is None:
            return values
        if isinstance(values, float):
            return np.where(self.rows, values, 0.0)
        return unpacked(values, self.rows, 0)

    def array(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else unpacked(values, self.rows, 0)
