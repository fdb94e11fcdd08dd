"""The log loss of XGBoost, LightGBM, CatBoost and optax, element by element, as each computes it.

The rules are data (``bcecli.core.options.LIBRARIES``); these kernels read them. Measured
against the libraries themselves (docs/gbdt-semantics.md):

* XGBoost: float32 throughout; ``x * log(max(q, 1e-16f))`` per term, a term with weight 0 is 0;
  logits through its float32 sigmoid ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16f)`` and softmax.
* LightGBM: double; binary_logloss makes any label > 0 a positive; the true class's
  probability at or below 1e-15f scores ``-log(1e-15f)`` (taken in float); cross_entropy bounds
  each log's argument at 1e-12 and keeps soft (float32) labels.
* CatBoost: raw scores (probabilities as ``logit(p)`` or ``log p``), double, no clip:
  ``log(1 + exp(a)) - y a`` (``(1 - y) a`` where exp overflows); Logloss makes labels above 0.5
  positives; MultiClass is the log-softmax of the scores.
* optax: logits (probabilities as ``logit(p)`` or ``log p``), no clip, no ``0 log 0 = 0``:
  ``y softplus(-x) + (1 - y) softplus(x)`` and ``-sum y log_softmax(x)``, in float32 unless
  float64 is asked for (JAX_ENABLE_X64).
"""

from __future__ import annotations

import numpy as np

from bcecli.core.common import negate
from bcecli.core.options import Compat, Floor, Labels, Library, LossOptions


def library_labels(lib: Library, y: np.ndarray, dt: type[np.floating]) -> np.ndarray:
    """The binary labels as the library uses them, in ``dt``."""
    if lib.float32_labels:
        y = y.astype(np.float32)
    if lib.labels is Labels.ABOVE_0:
        return (y > 0).astype(dt)
    if lib.labels is Labels.ABOVE_HALF:
        return (y > 0.5).astype(dt)
    return y.astype(dt, copy=False)


def xgboost_sigmoid(x: np.ndarray) -> np.ndarray:
    """XGBoost's float32 ``Sigmoid`` (common/math.h)."""
    x = x.astype(np.float32, copy=False)
    with np.errstate(over="ignore"):
        e = np.exp(np.minimum(-x, np.float32(88.7)))
    return np.float32(1) / (e + np.float32(1) + np.float32(1e-16))


def binary_elements(lib: Library, compat: Compat, y: np.ndarray, x: np.ndarray,
                    from_logits: bool) -> np.ndarray:  # fmt: skip
    """Element losses ``(n, K)`` in x's float type (``y`` already smoothed where the library
    smooths)."""
    dt = x.dtype.type
    yl = library_labels(lib, y, dt)
    with np.errstate(all="ignore"):
        if lib.raw_scores:
            a = x if from_logits else np.log(x) - np.log1p(-x)
            if compat is Compat.OPTAX:
                # -y log_sigmoid(a) - (1 - y) log_sigmoid(-a), softplus = logaddexp(., 0)
                zero = dt(0)
                return yl * np.logaddexp(-a, zero) + (dt(1) - yl) * np.logaddexp(a, zero)
            a = a.astype(np.float64, copy=False)  # CatBoost: approx in double
            yd = yl.astype(np.float64)
            e = np.exp(a)
            return np.where(np.isfinite(e), np.log(1 + e) - yd * a, (1 - yd) * a)
        if from_logits:
            p = xgboost_sigmoid(x) if compat is Compat.XGBOOST else 1 / (1 + np.exp(-x))
        else:
            p = x
        one = dt(1)
        if lib.floor is Floor.TRUE_CLASS:  # LightGBM binary_logloss
            eps, cap = dt(lib.eps), dt(lib.cap)
            q = np.where(yl > 0, p, one - p)
            return np.where(q > eps, negate(np.log(q)), cap)
        assert lib.eps is not None
        eps = dt(lib.eps)
        if compat is Compat.XGBOOST:
            neg = one - yl
            pos_term = np.where(yl == 0, dt(0), yl * np.log(np.maximum(p, eps)))
            neg_term = np.where(neg == 0, dt(0), neg * np.log(np.maximum(one - p, eps)))
            return negate(pos_term + neg_term)
        # LightGBM cross_entropy: (1.0f - label) in float, the logs' arguments bounded at 1e-12
        neg = (np.float32(1) - yl.astype(np.float32)).astype(dt)
        log_eps = np.log(eps)
        a_term = yl * np.where(p > eps, np.log(p), log_eps)
        b_term = neg * np.where(one - p > eps, np.log(one - p), log_eps)
        return negate(a_term + b_term)


def _xgboost_softmax(x: np.ndarray) -> np.ndarray:
    """XGBoost's softmax: float32 ``expf(x - max)``, summed in double, divided in float32."""
    x = x.astype(np.float32, copy=False)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    total = e.sum(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    return np.asarray(e / total)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    m = np.max(a, axis=1, keepdims=True)
    z = a - m
    return np.asarray(z - np.log(np.sum(np.exp(z), axis=1, keepdims=True)))


def categorical_losses(lib: Library, opts: LossOptions, y: np.ndarray | None,
                       idx: np.ndarray | None, x: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per-row loss ``(n,)`` in x's float type, from class indices ``idx`` or (optax only)
    label rows ``y``. An index the row does not have (optax: K or more) scores nan."""
    dt = x.dtype.type
    compat = opts.compat
    rows = np.arange(len(x))
    with np.errstate(all="ignore"):
        if lib.raw_scores:  # CatBoost MultiClass, optax: the log-softmax of the scores
            a = x if opts.from_logits else np.log(x)
            logq = _log_softmax(a)
            ls = opts.label_smoothing
            if idx is not None and not ls:
                k = x.shape[1]
                inside = (idx >= 0) & (idx < k)
                true = logq[rows, np.where(inside, idx, 0)]
                return np.where(inside, negate(true), dt(np.nan))
            if y is None:  # optax smooths the one-hot of an index
                assert idx is not None
                y = np.eye(x.shape[1], dtype=dt)[idx]
            yd = y.astype(dt)
            if ls:
                yd = yd * dt(1 - ls) + dt(ls) / dt(x.shape[1])
            return negate((yd * logq).sum(axis=1, dtype=dt))  # 0 * -inf is nan, as in jax
        assert idx is not None and lib.eps is not None
        if opts.from_logits:
            if compat is Compat.XGBOOST:
                p = _xgboost_softmax(x)
            else:  # LightGBM divides exp(x - max) by its sum, in double
                z = np.exp(x - x.max(axis=1, keepdims=True))
                p = z / z.sum(axis=1, keepdims=True)
        else:
            p = x
        q = p[rows, idx]
        return np.asarray(np.where(q > dt(lib.eps), negate(np.log(q)), dt(lib.cap)))


def weight_denominator(lib: Library, weight: np.ndarray, k: int) -> np.ndarray:
    """What each row adds to the mean's denominator: its weight, or (CatBoost's multi-label
    metrics) the weight truncated to an integer."""
    if lib.truncated_weight_sum and k > 1:
        return np.trunc(weight)
    return weight


# the largest float64 below 1 that float32 rounds to 1, and the largest that it rounds to 0
_ROUNDS_TO_1 = 1 - 2.0**-25
_ROUNDS_TO_0 = 2.0**-150


def trap_rows(lib: Library, compat: Compat, y: np.ndarray, x: np.ndarray, from_logits: bool,
              hard: bool, x_range: tuple[float, float]) -> np.ndarray | None:  # fmt: skip
    """Rows the library scores far from the literal formula because of a rule a user would not
    expect (None: none, found from the ranges where they show there can be none): a label
    other than 0 and 1 that LightGBM's binary_logloss or CatBoost's Logloss binarises, a
    probability that XGBoost's float32 rounds to exactly 0 or 1."""
    if lib.labels is not Labels.AS_GIVEN and not hard:
        rows = ((y != 0) & (y != 1)).any(axis=1)
    elif compat is Compat.XGBOOST and not from_logits:
        lo, hi = x_range
        if not (lo <= _ROUNDS_TO_0 or hi >= _ROUNDS_TO_1):
            return None
        rounded = ((x > 0) & (x <= _ROUNDS_TO_0)) | ((x < 1) & (x >= _ROUNDS_TO_1))
        rows = rounded.any(axis=1)
    else:
        return None
    return rows if rows.any() else None
