"""The numeric rules that binary and categorical scoring share: each is stated here once.

* ``clip_epsilon``: where a framework clips probabilities, and by how much.
* ``xlogy``: ``y * log q`` with ``0 * log(anything) = 0``.
* ``negate``: a loss of ``-log(1)`` is 0, never -0.
* ``rows_off_sum_1``: a row of probabilities that does not sum to 1 within ``ROW_SUM_TOL``.
* ``gives_zero_to_label``: a saturated prediction is on the wrong side where it gives probability 0
  to an outcome the label gives weight to (the literal loss is then infinite).
* ``binary_true_class``, ``categorical_true_class``: the probability a prediction gives to what
  the label says.
"""

from __future__ import annotations

import numpy as np

from bcecli.core.options import KERAS_EPSILON, Compat

# A row of predictions "sums to 1" (softmax output) within this tolerance.
ROW_SUM_TOL = 1e-4


def clip_epsilon(compat: Compat, dtype: type[np.floating]) -> float | None:
    """The eps of the profile's clip to ``[eps, 1 - eps]`` (None: it does not clip): Keras'
    fixed 1e-7, scikit-learn's machine epsilon of the float type."""
    if compat.is_keras:
        return KERAS_EPSILON
    if compat is Compat.SKLEARN:
        return float(np.finfo(dtype).eps)
    return None


def xlogy(y: np.ndarray, logq: np.ndarray) -> np.ndarray:
    """``y * logq`` with the convention 0 * log(anything) = 0 (also for log 0 = -inf)."""
    with np.errstate(invalid="ignore"):
        return np.where(y == 0, 0, y * logq)


def negate(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``-a`` with a zero's sign dropped: the loss of a certain right prediction, -log(1), is 0,
    not -0 (which per-sample output would print). ``0 - a`` is as exact as ``-a``."""
    return np.subtract(a.dtype.type(0), a, out=out)


def rows_off_sum_1(row_sums: np.ndarray) -> np.ndarray:
    """Rows whose sum is not 1 within ``ROW_SUM_TOL`` (NaN sums are off)."""
    return np.asarray(~(np.abs(row_sums - 1) <= ROW_SUM_TOL))


def gives_zero_to_label(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elements where probability 0 goes to an outcome with label weight above 0. For a binary
    element, call it for the positive (p, y) and the negative outcome (1 - p, 1 - y)."""
    return np.asarray((p == 0) & (y > 0))


def binary_true_class(y: np.ndarray, p: np.ndarray, *, hard: bool) -> np.ndarray:
    """The probability ``y p + (1 - y)(1 - p)`` that each prediction gives to its label, as a
    new array in p's type and shape.

    With 0/1 labels (``hard``) it is computed as ``|p - (1 - y)|``: for y = 1 that is p, and
    for y = 0 it is ``|p - 1|``, which rounds exactly as ``1 - p`` does (round-to-nearest is
    symmetric), so both forms give the same bits there. Three in-place passes, no mask."""
    if hard:
        q = np.subtract(p.dtype.type(1), y, dtype=p.dtype)
        np.subtract(p, q, out=q)
        return np.abs(q, out=q)
    with np.errstate(all="ignore"):
        return np.asarray(y * p + (1 - y) * (1 - p))


def per_row(q: np.ndarray) -> np.ndarray:
    """One true-class probability per row of (n, K): the geometric mean over K outputs."""
    if q.shape[1] == 1:
        return np.array(q[:, 0], dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.asarray(np.exp(np.log(q).mean(axis=1)))


def categorical_true_class(
    p: np.ndarray, idx: np.ndarray | None, y: np.ndarray | None
) -> np.ndarray:
    """The probability each row (n, K) gives to its class: ``p[i, idx[i]]`` for class indices,
    else ``sum_c y_c p_c`` (the same value for a one-hot row: the other terms are exact zeros)."""
    if idx is not None:
        return np.asarray(p[np.arange(len(p)), idx])
    assert y is not None
    return np.asarray((y * p).sum(axis=1))
