"""Binary and multi-label cross-entropy per element, as each framework computes it.

Every function takes labels ``y`` and predictions ``x`` shaped ``(n, K)`` already cast to the
profile's float type and returns the element losses in that type. Formulas and their sources are
in docs/semantics.md; the short version:

* exact: ``-(pw*y*log p + (1-y)*log(1-p))`` with ``0*log 0 = 0``, no clipping, float64.
* Keras 3: clip p to ``[1e-7, 1-1e-7]``; Keras 2 also adds 1e-7 inside both logs.
* PyTorch: no clipping, each log clamped at -100; raises outside [0, 1].
* scikit-learn: clip to ``[eps, 1-eps]`` with eps the dtype's machine epsilon.
"""

from __future__ import annotations

import numpy as np

from bcecli.core.common import binary_true_class, clip_epsilon, negate, xlogy
from bcecli.core.library_losses import binary_elements
from bcecli.core.options import TORCH_LOG_FLOOR, Compat, LossOptions


def smooth_labels(y: np.ndarray, opts: LossOptions) -> np.ndarray:
    """Keras' binary label smoothing: ``y * (1 - ls) + ls / 2``."""
    ls = opts.label_smoothing
    if ls == 0:
        return y
    dt = y.dtype.type
    return y * dt(1 - ls) + dt(0.5 * ls)


def _softplus_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softplus(x), softplus(-x))`` without overflow: max(±x, 0) + log1p(exp(-|x|))."""
    tail = np.log1p(np.exp(-np.abs(x)))
    return np.maximum(x, 0) + tail, np.maximum(-x, 0) + tail


# What the caller knows of the values: whether every label is 0 or 1, and x's range (None: not
# known).
Hints = tuple[bool | None, tuple[float, float] | None]

# Below this, -log(1 - p) loses relative precision to the rounding of 1 - p: use log1p.
LOG1P_BELOW = 1e-4


def hard_losses(
    y: np.ndarray,
    x: np.ndarray,
    compat: Compat,
    *,
    x_min: float | None = None,
    x_max: float | None = None,
) -> np.ndarray:
    """Element losses where the labels are 0 or 1 (other elements get meaningless values that
    the caller replaces): one log per element. ``x_min`` and ``x_max``: ``x.min()`` and
    ``x.max()``, when the caller has them (a clip they show to change nothing is skipped).

    ``q`` is the probability given to the true class (clipped as the profile clips). The general
    formula gives the same values for 0/1 labels; this form is cheaper, and every code path uses
    it for hard labels, so a value never depends on which path (or chunk) computed it.
    """
    dt = x.dtype.type
    one = dt(1)
    eps = clip_epsilon(compat, dt)
    with np.errstate(all="ignore"):
        if eps is not None and compat.is_keras:  # Keras clips p
            e = dt(eps)
            inside = x_min is not None and x_max is not None and e <= x_min <= x_max <= one - e
            q = binary_true_class(y, x if inside else np.clip(x, e, one - e), hard=True)
            if compat is Compat.KERAS2:
                q += e  # tf_keras adds epsilon inside the log as well
        else:
            q = binary_true_class(y, x, hard=True)
            if eps is not None:  # log_loss clips p and 1 - p
                np.clip(q, dt(eps), one - dt(eps), out=q)
        out = np.log(q, out=q)
        if compat is Compat.TORCH:
            np.maximum(out, dt(TORCH_LOG_FLOOR), out=out)
        elif (
            compat is Compat.EXACT
            and x.size
            and not (x.min() if x_min is None else x_min) >= LOG1P_BELOW
        ):
            flat_x, flat_y = x.reshape(-1), y.reshape(-1)
            tiny = np.flatnonzero(flat_x < LOG1P_BELOW)
            tiny = tiny[flat_y[tiny] != 1]
            out.reshape(-1)[tiny] = np.log1p(-flat_x[tiny])
        return negate(out, out=out)


def element_losses(
    y: np.ndarray, x: np.ndarray, opts: LossOptions, pos_weight: np.ndarray | None, hints: Hints
) -> np.ndarray:
    """Binary cross-entropy of every element under ``opts.compat``.

    ``pos_weight`` (shape ``(K,)``) is applied inside the loss (exact, PyTorch with logits);
    the Keras profiles emulate it as a sample weight instead, outside this function.
    """
    all_hard, x_range = hints
    y = smooth_labels(y, opts)
    lib = opts.compat.library
    if lib is not None:
        return binary_elements(lib, opts.compat, y, x, opts.from_logits)
    if opts.from_logits:
        with np.errstate(all="ignore"):
            return _from_logits(y, x, opts.compat, pos_weight)
    if all_hard and not opts.label_smoothing:
        hard = None
    else:
        hard = (y == 0) | (y == 1)
        all_hard = bool(hard.all())
    out = None
    if all_hard or (hard is not None and hard.any()):
        pos = y == 1
        lo, hi = x_range if x_range is not None else (None, None)
        out = hard_losses(y, x, opts.compat, x_min=lo, x_max=hi)
        if pos_weight is not None and opts.compat is Compat.EXACT:
            out = np.where(pos, out * pos_weight.astype(x.dtype), out)
        if all_hard:
            return out
    assert hard is not None
    soft = _soft_losses(y, x, opts.compat, pos_weight)
    return soft if out is None else np.where(hard, out, soft)


def _soft_losses(
    y: np.ndarray, x: np.ndarray, compat: Compat, pos_weight: np.ndarray | None
) -> np.ndarray:
    """The general formula, for labels anywhere in [0, 1] (and beyond, literally)."""
    dt = x.dtype.type
    clip = clip_epsilon(compat, dt)
    eps = dt(0 if clip is None else clip)
    with np.errstate(all="ignore"):
        if compat is Compat.EXACT:
            log_p = np.log(x)
            log_q = np.log1p(-x)
            pos = xlogy(y, log_p)
            if pos_weight is not None:
                pos = pos * pos_weight.astype(dt)
            return negate(pos + xlogy(dt(1) - y, log_q))
        if compat in (Compat.KERAS, Compat.KERAS_TF):
            p = np.clip(x, eps, dt(1) - eps)
            return negate(y * np.log(p) + (dt(1) - y) * np.log(dt(1) - p))
        if compat is Compat.KERAS2:
            p = np.clip(x, eps, dt(1) - eps)
            return negate(y * np.log(p + eps) + (dt(1) - y) * np.log(dt(1) - p + eps))
        if compat is Compat.TORCH:
            floor = dt(TORCH_LOG_FLOOR)
            log_p = np.maximum(np.log(x), floor)
            log_q = np.maximum(np.log(dt(1) - x), floor)
            return (y - dt(1)) * log_q - y * log_p
        if compat is Compat.SKLEARN:
            p = np.clip(x, eps, dt(1) - eps)
            q = np.clip(dt(1) - x, eps, dt(1) - eps)
            return negate(xlogy(y, np.log(p)) + xlogy(dt(1) - y, np.log(q)))
    raise AssertionError(f"unhandled profile {compat}")


def _from_logits(
    y: np.ndarray, x: np.ndarray, compat: Compat, pos_weight: np.ndarray | None
) -> np.ndarray:
    dt = x.dtype.type
    one = dt(1)
    if compat in (Compat.KERAS_TF, Compat.KERAS2):
        # tf.nn.sigmoid_cross_entropy_with_logits
        return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    if compat is Compat.TORCH:
        # F.binary_cross_entropy_with_logits: (1-y)*x + (1 + (pw-1)*y) * softplus(-x)
        _, sp_neg = _softplus_pair(x)
        log_weight = one if pos_weight is None else (pos_weight.astype(dt) - one) * y + one
        return (one - y) * x + log_weight * sp_neg
    # exact and Keras 3 (jax): y*softplus(-x) + (1-y)*softplus(x), each term accurate on its own
    sp_pos, sp_neg = _softplus_pair(x)
    pos = y * sp_neg
    if pos_weight is not None and compat is Compat.EXACT:
        pos = pos * pos_weight.astype(dt)
    return pos + (one - y) * sp_pos


def sample_losses(
    y: np.ndarray,
    x: np.ndarray,
    opts: LossOptions,
    pos_weight: np.ndarray | None,
    *,
    all_hard: bool | None = None,
    x_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss (shape ``(n,)``) and element losses (``(n, K)``), in the profile's type
    ``all_hard`` (every label is 0 or 1) and ``x_range`` (x's min and max), where the caller
    knows them, spare the passes that would find them.

    Every framework takes the mean over the K outputs, except scikit-learn: its log_loss on an
    indicator matrix sums ``-y_k * log p_k`` over the outputs and ignores the ``1 - p`` terms.
    """
    dt = x.dtype.type
    elements = element_losses(y, x, opts, pos_weight, (all_hard, x_range))
    if x.shape[1] == 1:
        return elements[:, 0], elements
    if opts.compat is Compat.SKLEARN:
        eps = dt(clip_epsilon(opts.compat, dt))
        with np.errstate(all="ignore"):
            terms = -xlogy(y, np.log(np.clip(x, eps, dt(1) - eps)))
        return terms.sum(axis=1, dtype=dt), elements
    return elements.mean(axis=1, dtype=dt), elements


def binary_entropy(y: np.ndarray) -> np.ndarray:
    """-(y log y + (1-y) log(1-y)) with 0 log 0 = 0 (labels in [0, 1])."""
    with np.errstate(all="ignore"):
        a = np.where(y > 0, y * np.log(y), 0.0)
        b = np.where(y < 1, (1 - y) * np.log1p(-y), 0.0)
    return -(a + b)
