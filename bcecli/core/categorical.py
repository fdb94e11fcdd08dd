"""Categorical and sparse categorical cross-entropy per sample, as each framework computes it.

Each profile first turns the predictions into the log-probabilities it actually uses:

* exact: ``log p`` as given (no renormalising, no clipping); logits: ``log_softmax``.
* Keras 3 (and Keras 2 / Keras-TF for one-hot labels): ``p / sum(p)``, clipped to
  ``[1e-7, 1 - 1e-7]``. Keras-TF and Keras 2 with integer labels clip first and then divide by
  the clipped row's sum (``sparse_softmax_cross_entropy_with_logits(log p)``).
* PyTorch: ``nll_loss(log p)`` for hard labels (no clip, log 0 = -inf); ``cross_entropy(log p)``,
  which renormalises, for soft targets or label smoothing; logits through ``cross_entropy``.
* scikit-learn: ``p`` clipped to ``[eps, 1 - eps]``, not renormalised.

then takes ``-sum_c y_c * logq_c`` (labels smoothed to ``y (1 - ls) + ls / K``). PyTorch's own
weighted value (class weights inside, smoothing term weighted per class) is computed beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bcecli.core.common import clip_epsilon, negate, xlogy
from bcecli.core.options import Compat, LossOptions, Task


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for logits of any size."""
    m = np.max(x, axis=1, keepdims=True)
    z = x - m
    with np.errstate(over="ignore"):
        return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def log_probabilities(
    x: np.ndarray, opts: LossOptions, *, renormalised: np.ndarray | bool
) -> np.ndarray:
    """The log-probabilities ``(n, K)`` the profile takes the loss of, in x's float type.
    ``renormalised``: the rows PyTorch scores with cross_entropy(log p) (soft targets, or every
    row under label smoothing); it scores the others, class indices, with nll_loss(log p)."""
    dt = x.dtype.type
    compat = opts.compat
    clip = clip_epsilon(compat, dt)
    with np.errstate(all="ignore"):
        if opts.from_logits:
            return log_softmax(x)
        if compat is Compat.EXACT:
            return np.log(x)
        if clip is not None and compat.is_keras:
            eps = dt(clip)
            if opts.task is Task.SPARSE and compat in (Compat.KERAS_TF, Compat.KERAS2):
                clipped = np.clip(x, eps, dt(1) - eps)
                return np.log(clipped) - np.log(clipped.sum(axis=1, keepdims=True))
            q = x / x.sum(axis=1, keepdims=True)
            return np.log(np.clip(q, eps, dt(1) - eps))
        if compat is Compat.TORCH:
            logp = np.log(x)
            if renormalised is True:
                return log_softmax(logp)  # cross_entropy(log p) renormalises the rows
            if renormalised is not False and bool(np.any(renormalised)):
                rows = np.asarray(renormalised)
                logp[rows] = log_softmax(logp[rows])
            return logp
        if clip is not None:  # scikit-learn
            eps = dt(clip)
            return np.log(np.clip(x, eps, dt(1) - eps))
    raise AssertionError(f"unhandled profile {compat}")


@dataclass(frozen=True, eq=False)
class CategoricalLosses:
    loss: np.ndarray  # (n,) the unweighted per-sample loss, in the profile's float type
    torch_value: np.ndarray | None  # (n,) what PyTorch's reduction='none' returns
    torch_den: np.ndarray | None  # (n,) PyTorch's denominator per row (w[y] or 1)


def sample_losses(
    y: np.ndarray | None,
    idx: np.ndarray | None,
    x: np.ndarray,
    opts: LossOptions,
    *,
    hard: np.ndarray,
) -> CategoricalLosses:
    """Per-sample categorical cross-entropy.

    Give either ``y`` (label rows ``(n, K)``) or ``idx`` (class indices ``(n,)``). ``hard`` marks
    the rows whose label is one class (PyTorch treats those as class indices).
    """
    dt = x.dtype.type
    n, k = x.shape
    ls = dt(opts.label_smoothing)
    soft_rows = ~hard if idx is None else False
    logq = log_probabilities(x, opts, renormalised=True if ls > 0 else soft_rows)
    if idx is not None:
        true_logq = np.take_along_axis(logq, idx[:, None], axis=1)[:, 0]
    else:
        assert y is not None
        true_logq = xlogy(y.astype(dt), logq).sum(axis=1, dtype=dt)
    if ls > 0:
        # -sum_c y'_c log q_c with y' = y (1 - ls) + ls / K
        with np.errstate(invalid="ignore"):
            mean_logq = logq.sum(axis=1, dtype=dt) / dt(k)
        loss = negate((dt(1) - ls) * true_logq + ls * mean_logq)
    else:
        loss = negate(true_logq)
    torch_value = torch_den = None
    if opts.compat is Compat.TORCH:
        torch_value, torch_den = _torch_weighted(y, idx, logq, loss, opts, hard)
    return CategoricalLosses(loss, torch_value, torch_den)


def _torch_weighted(
    y: np.ndarray | None,
    idx: np.ndarray | None,
    logq: np.ndarray,
    loss: np.ndarray,
    opts: LossOptions,
    hard: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's per-sample value and denominator with class weights.

    Class indices: ``w[y] * nll`` and, with smoothing, ``(1-ls) w[y] nll + ls/K sum_c w_c
    (-log q_c)``, averaged over ``sum(w[y])``. Probability targets: ``-sum_c w_c y_c log q_c``,
    averaged over N.
    """
    dt = logq.dtype.type
    n, k = logq.shape
    if opts.class_weight is None:
        return loss, np.ones(n)
    cw = np.asarray(opts.class_weight, dtype=dt)
    ls = dt(opts.label_smoothing)
    if idx is not None:
        w_true = cw[idx]
        true_logq = np.take_along_axis(logq, idx[:, None], axis=1)[:, 0]
    else:
        assert y is not None
        yv = y.astype(dt)
        w_true = (yv * cw).sum(axis=1, dtype=dt)
        true_logq = xlogy(yv, logq).sum(axis=1, dtype=dt)
    with np.errstate(invalid="ignore"):
        smooth_term = (-(logq * cw)).sum(axis=1, dtype=dt) / dt(k)
    value = (dt(1) - ls) * w_true * negate(true_logq) + (ls * smooth_term if ls > 0 else dt(0))
    den = w_true.astype(np.float64)
    if idx is None and not hard.all():
        # probability targets: -sum_c w_c y'_c log q_c, mean over N
        yv = y.astype(dt) * (dt(1) - ls) + ls / dt(k)  # type: ignore[union-attr]
        soft_value = -xlogy(yv, logq * cw).sum(axis=1, dtype=dt)
        value = np.where(hard, value, soft_value)
        den = np.ones(n)
    return value, den
