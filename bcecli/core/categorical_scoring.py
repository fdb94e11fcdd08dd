"""Score one chunk of a categorical (label rows) or sparse (class index) task."""

from __future__ import annotations

import math

import numpy as np

from bcecli.core.accumulator import CALIBRATION_BINS, Accumulator
from bcecli.core.binary import negate
from bcecli.core.binary import sample_losses as binary_sample_losses
from bcecli.core.binary_scoring import calibration_bins
from bcecli.core.categorical import sample_losses
from bcecli.core.chunk import Chunk, ScoredChunk
from bcecli.core.colwise import (
    column_max,
    column_min,
    largest_ratio,
    row_argmax,
    row_max,
    row_min,
    row_sum,
)
from bcecli.core.options import KERAS_EPSILON, Compat, LossOptions, Task
from bcecli.errors import FrameworkRaises

ROW_SUM_TOL = 1e-4
MAX_CONFUSION_CLASSES = 100
FRAMEWORK_OF = {
    Compat.EXACT: "the literal formula",
    Compat.KERAS_TF: "Keras on TensorFlow (SparseSoftmaxCrossEntropyWithLogits)",
    Compat.KERAS2: "Keras 2 (SparseSoftmaxCrossEntropyWithLogits)",
    Compat.TORCH: "PyTorch (IndexError: Target is out of bounds)",
    Compat.SKLEARN: "sklearn's log_loss (y_true contains values not in labels)",
}


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _check_sparse_labels(
    opts: LossOptions, lab: np.ndarray, usable: np.ndarray, k: int, start: int
) -> np.ndarray:
    """Rows whose sparse label is outside [0, K): an error where the framework raises."""
    if not np.all(lab[usable] == np.floor(lab[usable])):
        bad = np.flatnonzero(usable & (lab != np.floor(lab)))
        raise FrameworkRaises(
            f"{len(bad)} sparse label(s) are not integers, first at row {start + bad[0]}: "
            f"{lab[bad[0]]!r}",
            "sparse labels are class indices 0 .. K-1; for one-hot or soft labels give K label "
            "columns ({task=categorical})",
        )
    out = usable & ((lab < 0) | (lab >= k))
    if out.any() and opts.compat is not Compat.KERAS:
        first = int(np.flatnonzero(out)[0])
        one_indexed = lab[usable].min() >= 1 and lab[usable].max() == k
        hint = (
            "the labels look 1-indexed: subtract 1 so they run 0 .. K-1"
            if one_indexed
            else f"labels are class indices 0 .. {k - 1}, one per prediction column"
        )
        raise FrameworkRaises(
            f"{int(np.count_nonzero(out))} label(s) outside [0, {k}) for {k} prediction "
            f"columns, first at row {start + first}: {int(lab[first])} (under "
            f"{{compat={opts.compat.value}}}: an error in {FRAMEWORK_OF[opts.compat]})",
            hint,
        )
    return out


def _fast_hard_label_path(acc: Accumulator, chunk: Chunk) -> ScoredChunk | None:
    """The common case: one class per row (integer labels in range, or one-hot label rows),
    probabilities in [0, 1] with no zero on the true class (or finite logits), no weights,
    smoothing or ignored class. Logs only the true class's probability (one log per row, not
    K). Returns None for anything else.

    Every value equals what the general path computes (the same operations on the same numbers;
    for one-hot rows, the general path's sum over the row adds exact zeros to the true class's
    term), so the path a chunk takes never changes the report.
    """
    opts = acc.opts
    k = acc.n_outputs
    if (
        k < 2
        or chunk.weights is not None
        or opts.class_weight is not None
        or opts.label_smoothing
        or opts.ignore_class is not None
    ):
        return None
    x = chunk.preds
    n, start = len(x), chunk.start
    if n == 0:
        return None
    sparse = opts.task is Task.SPARSE
    idx: np.ndarray | None
    if sparse:
        lab = chunk.labels[:, 0]
        lo, hi = float(lab.min()), float(lab.max())
        if not (lo >= 0 and hi < k):  # also NaN
            return None
        idx = lab.astype(np.intp)
        if not np.array_equal(idx, lab):
            return None
    else:
        idx = _one_hot_classes(chunk.labels, k)
    if idx is None:
        return None
    x_min, x_max = float(x.min()), float(x.max())
    if opts.from_logits:
        if not (-math.inf < x_min and x_max < math.inf):  # also NaN
            return None
    elif not (x_min >= 0 and x_max <= 1):  # also NaN and inf
        return None
    rows = np.arange(n)
    dt = opts.compute_dtype(x.dtype)
    xd = x.astype(dt, copy=False)
    if opts.from_logits:
        loss, pv = _softmax_loss(x, xd, rows, idx)
        p_true = pv[rows, idx]
    else:
        pv = x.astype(np.float64, copy=False)
        p_true = pv[rows, idx]
        if float(p_true.min()) == 0.0:
            return None  # a saturated wrong prediction: the general path flags it
        loss = _probability_loss(opts, xd, rows, idx)
    acc.compute_dtype = np.dtype(dt).name
    acc.rows += n
    acc.add_head(start, num=loss, den=1.0, wl=loss, w=1.0, l=loss)
    acc.add("w_sum", n)

    row_flags: dict[str, np.ndarray] = {}
    if not opts.from_logits:
        row_sums = row_sum(x)
        off = np.abs(row_sums - 1) > ROW_SUM_TOL
        if off.any():
            row_flags["rows_not_sum_1"] = off
            with np.errstate(divide="ignore", invalid="ignore"):
                acc.add("renorm_shift_w", np.log(row_sums).sum())
    row_flags["loss_above_1"] = loss > 1
    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)

    acc.sketch.add(loss)
    pred, top = row_argmax(pv)  # the predicted class and its probability
    correct = pred == idx
    acc.add("correct", np.count_nonzero(correct))
    acc.add("n_correct_of", n)
    acc.add("n_elements", n)
    class_n = np.bincount(idx, minlength=k)[:k]
    acc.add("class_n", class_n)
    acc.add("class_loss", np.bincount(idx, weights=loss, minlength=k)[:k])
    acc.add("class_correct", np.bincount(idx, weights=correct, minlength=k)[:k])
    acc.add("class_w", class_n.astype(np.float64))
    acc.add("brier", (np.einsum("ij,ij->i", pv, pv) - 2 * p_true + 1).sum())
    if k <= MAX_CONFUSION_CLASSES:
        acc.add("confusion", np.bincount(idx * k + pred, minlength=k * k)[: k * k])
    bins = calibration_bins(top)
    acc.add("cal_n", np.bincount(bins, minlength=CALIBRATION_BINS))
    acc.add("cal_p", np.bincount(bins, weights=top, minlength=CALIBRATION_BINS))
    acc.add("cal_y", np.bincount(bins, weights=correct, minlength=CALIBRATION_BINS))
    acc.low("raw_min", column_min(pv))
    acc.high("raw_max", column_max(pv))
    if sparse:
        acc.low("label_min", lo)
        acc.high("label_max", hi)
    if not opts.from_logits:
        acc.high("row_ratio_max", largest_ratio(top, row_min(pv)))
    acc.worst.offer(start, loss, chunk.labels, chunk.preds, p_true)
    return ScoredChunk(chunk, loss, p_true, None, row_flags)


def _softmax_loss(
    x: np.ndarray, xd: np.ndarray, rows: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The loss of logits (``-log_softmax`` of the true class, in ``xd``'s type) and the softmax
    probabilities in float64, each computed as the general path computes it; one set of
    exponentials serves both when the loss is taken in float64."""
    z = xd - np.max(xd, axis=1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(z)
    total = np.sum(e, axis=1, keepdims=True)
    loss = negate(z[rows, idx] - np.log(total[:, 0])).astype(np.float64, copy=False)
    if xd.dtype != np.float64:
        return loss, softmax(x.astype(np.float64))
    return loss, np.asarray(e / total)


def _probability_loss(
    opts: LossOptions, xd: np.ndarray, rows: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """The loss of the true class's probability under the profile, from ``xd`` (n, K)."""
    dt = xd.dtype.type
    sparse = opts.task is Task.SPARSE
    with np.errstate(all="ignore"):
        compat = opts.compat
        if compat.is_keras:
            eps = dt(KERAS_EPSILON)
            if sparse and compat in (Compat.KERAS_TF, Compat.KERAS2):
                clipped = np.clip(xd, eps, dt(1) - eps)
                true_log = np.log(clipped[rows, idx]) - np.log(clipped.sum(axis=1))
            else:
                q = xd[rows, idx] / xd.sum(axis=1)
                true_log = np.log(np.clip(q, eps, dt(1) - eps))
        elif compat is Compat.SKLEARN:
            eps = dt(np.finfo(dt).eps)
            true_log = np.log(np.clip(xd[rows, idx], eps, dt(1) - eps))
        else:  # exact; PyTorch's nll_loss(log p)
            true_log = np.log(xd[rows, idx])
    return negate(true_log).astype(np.float64, copy=False)


def _one_hot_classes(y: np.ndarray, k: int) -> np.ndarray | None:
    """The class of each label row when every row is one-hot (one 1, the rest 0), else None.

    Exactly one nonzero value per row, and that value 1: n nonzero values in all, and each
    row's largest value is 1 (so no row is all zeros)."""
    if y.shape[1] != k:
        return None
    idx = np.argmax(y, axis=1)
    if np.count_nonzero(y) != len(y) or not np.all(y[np.arange(len(y)), idx] == 1):
        return None
    return idx


def score_categorical_chunk(acc: Accumulator, chunk: Chunk) -> ScoredChunk:
    fast = _fast_hard_label_path(acc, chunk)
    if fast is not None:
        return fast
    opts = acc.opts
    k = acc.n_outputs
    start, n = chunk.start, len(chunk)
    sparse = opts.task is Task.SPARSE
    y_in, x_in, w_in = chunk.labels, chunk.preds, chunk.weights
    row_flags: dict[str, np.ndarray] = {}

    finite = chunk.finite_rows()
    if not finite.all():
        row_flags["non_finite"] = ~finite
    y = np.where(finite[:, None], y_in, 0.0)
    x = np.where(finite[:, None], x_in, 0.0 if opts.from_logits else 1.0 / k)
    sw = np.ones(n) if w_in is None else np.where(finite, w_in, 0.0)

    row_sums = None
    ignored = np.zeros(n, dtype=bool)
    out_of_range = np.zeros(n, dtype=bool)
    if sparse:
        lab = y[:, 0]
        if opts.ignore_class is not None:
            ignored = finite & (lab == opts.ignore_class)
            if ignored.any():
                row_flags["ignored_rows"] = ignored
        usable = finite & ~ignored
        out_of_range = _check_sparse_labels(opts, lab, usable, k, start)
        if out_of_range.any():
            row_flags["sparse_label_out_of_range"] = out_of_range
        idx = np.where(usable & ~out_of_range, lab, 0).astype(np.intp)
        hard = np.ones(n, dtype=bool)
        y_rows = None
    else:
        idx = None
        y_rows = y
        binary_like = (y == 0) | (y == 1)
        # one class per row; a single column holds a 0/1 label (a softmax over one unit)
        hard = binary_like[:, 0] if k == 1 else binary_like.all(axis=1) & (y.sum(axis=1) == 1)
        usable = finite
    valid = usable & ~out_of_range  # rows whose loss is computed
    scored = usable  # rows that count in the mean (Keras counts out-of-range rows as 0)
    n_scored = int(np.count_nonzero(scored))
    acc.rows += n
    acc.excluded += n - n_scored

    # --- checks on the values --------------------------------------------------------------
    vcol = valid[:, None]
    if not opts.from_logits:
        outside = ((x < 0) | (x > 1)) & vcol
        if outside.any():
            row_flags["pred_out_of_range"] = np.asarray(outside.any(axis=1))
            acc.low("x_min", np.where(vcol, x, np.inf).min())
            acc.high("x_max", np.where(vcol, x, -np.inf).max())
            if opts.compat is Compat.SKLEARN:
                first = int(np.flatnonzero(outside.any(axis=1))[0])
                raise FrameworkRaises(
                    f"under {{compat=sklearn}}, log_loss raises (y_prob outside [0, 1]): "
                    f"{int(np.count_nonzero(outside))} prediction(s), first at row "
                    f"{start + first}",
                    "clip the predictions, or use {compat=exact} to see the literal value",
                )
        if k >= 2:
            row_sums = row_sum(x)
            off = valid & (np.abs(row_sums - 1) > ROW_SUM_TOL)
            if off.any():
                row_flags["rows_not_sum_1"] = off
    if not sparse:
        bad_label = ((y < 0) | (y > 1)) & vcol
        if bad_label.any():
            row_flags["label_out_of_range"] = np.asarray(bad_label.any(axis=1))
        soft = valid & ~hard
        if soft.any():
            row_flags["soft_labels"] = soft
            acc.add("soft_target_rows", np.count_nonzero(soft))
            if opts.compat is Compat.SKLEARN:
                first = int(np.flatnonzero(soft)[0])
                raise FrameworkRaises(
                    f"under {{compat=sklearn}}, log_loss accepts only hard labels: "
                    f"{int(np.count_nonzero(soft))} label row(s) are not one-hot, first at row "
                    f"{start + first}",
                    "use {compat=exact} (or keras) for soft labels",
                )

    # --- the loss ---------------------------------------------------------------------------
    dt = opts.compute_dtype(x_in.dtype)
    acc.compute_dtype = np.dtype(dt).name
    xd = x.astype(dt)
    if opts.compat is Compat.SKLEARN and k == 1:
        # log_loss reads a single column as P(class 1) of a binary problem
        bl, _ = binary_sample_losses(y[:, :1].astype(dt), xd, opts, None)
        losses_dt, torch_value, torch_den = bl, None, None
    else:
        res = sample_losses(
            None if sparse else y_rows.astype(dt) if y_rows is not None else None,
            idx, xd, opts, hard=hard,
        )  # fmt: skip
        losses_dt, torch_value, torch_den = res.loss, res.torch_value, res.torch_den
    loss = np.where(valid, losses_dt.astype(np.float64), 0.0)
    if out_of_range.any():
        loss[out_of_range] = 0.0  # what Keras on JAX computes: a row of zeros
    class_w = _class_weights(opts, idx, y, sparse, valid)
    weight = np.where(scored, sw * class_w, 0.0)
    with np.errstate(invalid="ignore"):
        wl = np.where(scored & (weight != 0), weight * loss, 0.0)
    if opts.compat is Compat.TORCH:
        assert torch_value is not None and torch_den is not None
        tv = np.where(valid, torch_value.astype(np.float64), 0.0)
        with np.errstate(invalid="ignore"):
            num = np.where(scored & (sw != 0), sw * tv, 0.0)
        den = np.where(scored, torch_den if opts.class_weight is not None else 1.0, 0.0)
        reported = num
    elif opts.compat.is_keras:
        num, den, reported = wl, scored.astype(np.float64), wl
    else:
        num, den, reported = wl, weight, loss
    acc.add_head(start, num=num, den=den, wl=wl, w=weight, l=np.where(scored, loss, 0.0))
    acc.add("w_sum", weight.sum())
    if row_sums is not None and "rows_not_sum_1" in row_flags:
        # what dividing each row by its sum would change: -sum y log(p/S) = loss + log S
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(valid & (weight != 0), weight * np.log(row_sums), 0.0)
        acc.add("renorm_shift_w", shift.sum())

    row_flags["loss_above_1"] = valid & (loss > 1)
    if (weight < 0).any():
        row_flags["negative_weights"] = weight < 0
    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)

    # --- statistics -----------------------------------------------------------------------
    prob = softmax(x.astype(np.float64)) if opts.from_logits else x.astype(np.float64)
    if sparse:
        assert idx is not None
        true = idx
    else:
        true = np.argmax(y, axis=1)
    p_true = _true_probability(prob, idx, y, sparse, hard)
    zero_true = valid & (p_true == 0) & ~opts.from_logits
    if zero_true.any():
        row_flags["saturated_predictions"] = zero_true
        acc.flags.add("saturated_predictions", zero_true, start)
        acc.add("saturated_wrong", np.count_nonzero(zero_true))
    if n_scored:
        _statistics(acc, prob, y, idx, true, valid, weight, loss, sparse, hard)
    p_true = np.where(valid, p_true, np.nan)
    reported = np.where(scored, reported, np.nan)
    if ignored.any():
        reported = np.where(ignored, 0.0, reported)  # frameworks return 0 for ignored rows
    acc.worst.offer(start, np.where(valid, loss, np.nan), y_in, x_in, p_true)
    weight_out = np.where(finite, sw * class_w, 0.0)
    return ScoredChunk(chunk, reported, p_true, weight_out, row_flags)


def _class_weights(
    opts: LossOptions, idx: np.ndarray | None, y: np.ndarray, sparse: bool, valid: np.ndarray
) -> np.ndarray:
    if opts.class_weight is None:
        return np.ones(len(y))
    cw = np.asarray(opts.class_weight, dtype=np.float64)
    if sparse:
        assert idx is not None
        return np.where(valid, cw[idx], 0.0)
    return np.asarray((np.clip(y, 0, None) * cw).sum(axis=1))


def _true_probability(
    prob: np.ndarray, idx: np.ndarray | None, y: np.ndarray, sparse: bool, hard: np.ndarray
) -> np.ndarray:
    if sparse:
        assert idx is not None
        return np.asarray(np.take_along_axis(prob, idx[:, None], axis=1)[:, 0])
    return np.asarray((y * prob).sum(axis=1))


def _statistics(
    acc: Accumulator,
    prob: np.ndarray,
    y: np.ndarray,
    idx: np.ndarray | None,
    true: np.ndarray,
    valid: np.ndarray,
    weight: np.ndarray,
    loss: np.ndarray,
    sparse: bool,
    hard: np.ndarray,
) -> None:
    opts = acc.opts
    k = acc.n_outputs
    all_valid = bool(valid.all())

    def scored(a: np.ndarray) -> np.ndarray:  # the valid rows: all of them, as they are
        return a if all_valid else a[valid]

    pv, tv, wv, lv = scored(prob), scored(true), scored(weight), scored(loss)
    nv = len(pv)
    acc.sketch.add(lv)
    pred = np.argmax(pv, axis=1)
    correct = pred == tv
    acc.add("correct", np.count_nonzero(correct))
    acc.add("n_correct_of", nv)
    acc.add("n_elements", nv)
    acc.add("class_n", np.bincount(tv, minlength=k)[:k])
    acc.add("class_loss", np.bincount(tv, weights=lv, minlength=k)[:k])
    acc.add("class_correct", np.bincount(tv, weights=correct, minlength=k)[:k])
    ls = opts.label_smoothing
    if sparse:
        eff_w = np.bincount(tv, weights=wv, minlength=k)[:k] * (1 - ls) + wv.sum() * ls / k
        brier = (pv * pv).sum(axis=1) - 2 * np.take_along_axis(pv, tv[:, None], axis=1)[:, 0] + 1
    else:
        yv = scored(y)
        y_eff = yv * (1 - ls) + ls / k
        eff_w = (wv[:, None] * y_eff).sum(axis=0)
        brier = ((pv - yv) ** 2).sum(axis=1)
        if (~scored(hard)).any() or ls > 0:
            with np.errstate(all="ignore"):
                h = -np.where(y_eff > 0, y_eff * np.log(y_eff), 0.0).sum(axis=1)
            acc.add("floor_w", (wv * h).sum())
    if sparse and ls > 0:
        acc.add("floor_w", wv.sum() * _smoothed_onehot_entropy(ls, k))
    acc.add("class_w", eff_w)
    acc.add("brier", brier.sum())
    if k <= MAX_CONFUSION_CLASSES:
        acc.add("confusion", np.bincount(tv * k + pred, minlength=k * k)[: k * k])
    top = row_max(pv)
    bins = calibration_bins(top)
    acc.add("cal_n", np.bincount(bins, minlength=CALIBRATION_BINS))
    acc.add("cal_p", np.bincount(bins, weights=top, minlength=CALIBRATION_BINS))
    acc.add("cal_y", np.bincount(bins, weights=correct, minlength=CALIBRATION_BINS))
    raw = scored(prob) if opts.from_logits else pv
    acc.low("raw_min", column_min(raw))
    acc.high("raw_max", column_max(raw))
    if sparse:
        acc.low("label_min", float(tv.min()))
        acc.high("label_max", float(tv.max()))
    if k >= 2 and not opts.from_logits:
        acc.high("row_ratio_max", largest_ratio(top, row_min(pv)))


def _smoothed_onehot_entropy(ls: float, k: int) -> float:
    hi = 1 - ls + ls / k
    lo = ls / k
    return float(-(hi * np.log(hi) + (k - 1) * (lo * np.log(lo) if lo > 0 else 0.0)))
