"""Score one chunk of a binary or multi-label task into the accumulator."""

from __future__ import annotations

import math

import numpy as np

from bcecli.core.accumulator import CALIBRATION_BINS, Accumulator
from bcecli.core.binary import (
    binary_entropy,
    element_losses,
    hard_losses,
    sample_losses,
    smooth_labels,
    true_class_probability,
)
from bcecli.core.chunk import Chunk, ScoredChunk
from bcecli.core.colwise import (
    column_count,
    column_max,
    column_min,
    column_sum,
    row_count,
    row_sum,
)
from bcecli.core.flags import ROUNDOFF
from bcecli.core.options import KERAS_EPSILON, Compat, LossOptions
from bcecli.errors import FrameworkRaises

# A row of predictions "sums to 1" (softmax output) within this tolerance.
ROW_SUM_TOL = 1e-4


def calibration_bins(p: np.ndarray) -> np.ndarray:
    """Equal-width bin of each probability (values outside [0, 1] join the end bins)."""
    bins = np.empty(p.shape, dtype=np.int64)
    # float -> int64 through a ufunc with an int64 output: far faster than astype here
    np.multiply(p, CALIBRATION_BINS, out=bins, casting="unsafe")
    return np.clip(bins, 0, CALIBRATION_BINS - 1, out=bins)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, accurate in both tails: with e = exp(-|x|) (never above 1), it is
    1 / (1 + e) for x >= 0 and e / (1 + e) below. Within 3 ulp of the exact value, where
    exp(-logaddexp(0, -x)) was off by up to 16, and five times faster."""
    e = np.exp(-np.abs(x))
    r = np.add(e, 1.0)
    np.reciprocal(r, out=r)  # 1 / (1 + e)
    np.multiply(e, r, out=e)  # e / (1 + e)
    return np.where(x >= 0, r, e)


def _framework_refusals(
    opts: LossOptions, y: np.ndarray, x: np.ndarray, valid: np.ndarray, start: int
) -> None:
    """Raise where PyTorch or scikit-learn would raise on these values."""
    if opts.compat not in (Compat.TORCH, Compat.SKLEARN) or opts.from_logits:
        return  # Keras clips silently; BCEWithLogits accepts any finite logit and target
    v = valid[:, None]
    bad_p = ((x < 0) | (x > 1)) & v
    if bad_p.any():
        i, j = np.argwhere(bad_p)[0]
        n_bad = int(np.count_nonzero(bad_p))
        value = float(x[i, j])
        if opts.compat is Compat.TORCH:
            raise FrameworkRaises(
                f"under {{compat=torch}}, F.binary_cross_entropy raises (all elements of input "
                f"should be between 0 and 1): {n_bad} prediction(s) outside [0, 1], first at "
                f"row {start + i}: {value!r}",
                "clip the predictions, pass logits with {from_logits}, or use {compat=keras} "
                "to see Keras' clipped value",
            )
        side = "greater than 1" if value > 1 else "less than 0"
        raise FrameworkRaises(
            f"under {{compat=sklearn}}, log_loss raises (y_prob contains values {side}): "
            f"{n_bad} prediction(s) outside [0, 1], first at row {start + i}: {value!r}",
            "clip the predictions, or use {compat=exact} to see the literal value",
        )
    if opts.compat is Compat.TORCH:
        bad_y = ((y < 0) | (y > 1)) & v
        if bad_y.any():
            i, j = np.argwhere(bad_y)[0]
            raise FrameworkRaises(
                f"under {{compat=torch}}, F.binary_cross_entropy raises (all elements of target "
                f"should be between 0 and 1): {int(np.count_nonzero(bad_y))} label(s) outside "
                f"[0, 1], first at row {start + i}: {float(y[i, j])!r}",
                "map the labels to 0/1 (for -1/+1 coding, -1 becomes 0)",
            )
    else:
        bad_y = (y != 0) & (y != 1) & v
        if bad_y.any():
            i, j = np.argwhere(bad_y)[0]
            raise FrameworkRaises(
                f"under {{compat=sklearn}}, log_loss accepts only hard 0/1 labels here: "
                f"{int(np.count_nonzero(bad_y))} label(s) are not 0 or 1, first at row "
                f"{start + i}: {float(y[i, j])!r}",
                "use {compat=exact} (or keras) for soft labels",
            )


def effective_weights(opts: LossOptions, y: np.ndarray, w: np.ndarray | None, n: int) -> np.ndarray:
    """Sample weight x class weight x (Keras' emulation of pos_weight as a class weight)."""
    eff = np.ones(n) if w is None else np.array(w, dtype=np.float64)
    if opts.class_weight is not None:
        w0, w1 = opts.class_weight
        # class_weight[label]; for a soft label the weight interpolates linearly
        eff *= w0 + (w1 - w0) * y[:, 0]
    if opts.pos_weight is not None and opts.compat.is_keras:
        # Keras has no pos_weight; model.fit(class_weight={0: 1, 1: pw}) is the same thing
        eff *= 1 + (opts.pos_weight[0] - 1) * y[:, 0]
    return eff


def _fast_path(acc: Accumulator, chunk: Chunk) -> ScoredChunk | None:
    """The common case in few passes: one output, hard 0/1 labels, probabilities in [0, 1] (or
    logits), sample weights or none (no class or positive-class weights, no label smoothing).
    Rows with a missing or infinite value are excluded as the general path excludes them: the
    others are scored packed together. Returns None when the chunk is anything else.

    It adds exactly what the general path would (the same element kernel, the same tallies),
    so which path a chunk takes never changes the report. Every pass reads a chunk that stays
    in the CPU cache; the calibration table gives the class counts, accuracy and prediction
    sums.
    """
    opts = acc.opts
    if (
        acc.n_outputs != 1
        or opts.class_weight is not None
        or opts.pos_weight is not None
        or opts.label_smoothing
    ):
        return None
    y, x, w = chunk.labels[:, 0], chunk.preds[:, 0], chunk.weights
    n, start = len(x), chunk.start
    if n == 0:
        return None
    dt = opts.compute_dtype(chunk.preds.dtype)
    x_min, x_max = float(x.min()), float(x.max())
    n_pos = int(np.count_nonzero(np.equal(y, 1.0)))
    n_neg = int(np.count_nonzero(np.equal(y, 0.0)))
    missing = (
        not (-math.inf < x_min and x_max < math.inf)  # a missing or infinite prediction
        or (w is not None and not math.isfinite(float(w.sum())))  # a missing (or huge) weight
        or (n_pos + n_neg != n and bool(np.isnan(y).any()))  # a missing label
    )
    finite = chunk.finite_rows() if missing else None  # the scored rows; None: all of them
    if finite is not None:  # score the other rows packed together
        if not finite.any():
            return None
        y, x = y[finite], x[finite]
        w = None if w is None else w[finite]
        x_min, x_max = float(x.min()), float(x.max())
        n_pos = int(np.count_nonzero(np.equal(y, 1.0)))
        n_neg = int(np.count_nonzero(np.equal(y, 0.0)))
    if n_pos + n_neg != len(y):
        return None
    if not opts.from_logits and not (0.0 <= x_min and x_max <= 1.0):
        return None

    pv = (sigmoid(x) if opts.from_logits else x).astype(np.float64, copy=False)
    if opts.from_logits:
        p_min, p_max = float(pv.min()), float(pv.max())
    else:
        p_min, p_max = x_min, x_max
    tallies = _calibration_tallies(y, pv, p_max)

    acc.compute_dtype = dt.__name__
    xd = x.astype(dt, copy=False)
    if opts.from_logits:  # the general path's kernel, on the one output
        loss = element_losses(y.astype(dt)[:, None], xd[:, None], opts, None)[:, 0]
    else:
        loss = hard_losses(y, xd, opts.compat, x_min=x_min, x_max=x_max)
    loss = loss.astype(np.float64, copy=False)
    counts, sums, brier, n_half, n_half_pos = tallies
    loss_min, loss_max = float(loss.min()), float(loss.max())
    acc.sketch.add(loss, lo=loss_min, hi=loss_max)
    # correct: label 1 with p > 0.5, label 0 with p <= 0.5 (p = 0.5 sits in bin 5)
    half = CALIBRATION_BINS // 2
    correct = int(counts[2 * half + 1 :: 2].sum()) + int(counts[: 2 * half : 2].sum())
    correct += n_half - 2 * n_half_pos
    acc.rows += n
    w_col: np.ndarray | float = 1.0  # the weight column (1.0: every row weighs 1)
    wl = loss
    if w is not None:
        with np.errstate(invalid="ignore"):
            wl = np.where(w != 0, w * loss, 0.0)  # a zero weight drops even an infinite loss
        w_col = w
    den = w_col if opts.compat in (Compat.EXACT, Compat.SKLEARN) else 1.0  # weighted means
    heads: dict[str, np.ndarray | float] = {"num": wl, "den": den, "wl": wl, "w": w_col, "l": loss}
    if finite is not None:
        acc.excluded += n - len(loss)
        heads = {name: _placed(v, finite) for name, v in heads.items()}
    acc.add_head(start, **heads)

    row_flags: dict[str, np.ndarray] = {}
    if finite is not None:
        row_flags["non_finite"] = ~finite
    if opts.from_logits:
        acc.add("logits_outside_unit", np.count_nonzero(x < 0) + np.count_nonzero(x > 1))
    elif x_min == 0.0 or x_max == 1.0:  # exactly 0 or 1 (a saturated float32 sigmoid, say)
        zero = np.equal(x, 0.0)
        saturated = zero | np.equal(x, 1.0)
        row_flags["saturated_predictions"] = saturated
        # wrong: 0 given to a positive, 1 to a negative
        acc.add("saturated_wrong", np.count_nonzero(saturated & (zero == np.equal(y, 1.0))))
    clips = opts.compat in (Compat.KERAS, Compat.KERAS_TF, Compat.KERAS2, Compat.SKLEARN)
    if clips and not opts.from_logits:
        eps = KERAS_EPSILON if opts.compat.is_keras else float(np.finfo(dt).eps)
        if x_min < eps or x_max > 1 - eps:
            row_flags["clipped_predictions"] = (x < eps) | (x > 1 - eps)
    if loss_max > 1:
        row_flags["loss_above_1"] = np.greater(loss, 1.0)
    if w is not None and float(w.min()) < 0:
        row_flags["negative_weights"] = np.less(w, 0.0)
    if finite is not None:
        for fid, mask in row_flags.items():
            if fid != "non_finite":
                row_flags[fid] = _unpacked(mask, finite, False)
    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)

    p_sum = float(sums.sum())
    acc.add("labels_minus1", 0)
    acc.add("labels_not_pm1", n_neg)
    acc.add("n_elements", len(y))
    if w is None:
        acc.add("w_sum", len(y))
        acc.add("pos_w", np.array([n_pos]))
    else:
        acc.add("w_sum", float(w.sum()))
        acc.add("pos_w", np.array([float((w * y).sum())]))  # the weighted prior
    acc.add("pos", np.array([n_pos]))
    acc.add("correct", np.array([correct]))
    acc.add("p_sum", np.array([p_sum]))
    acc.add("brier", brier)
    acc.add("py_sum", float(sums[1::2].sum()))
    acc.low("p_min", np.array([p_min]))
    acc.low("raw_min", np.array([x_min]))
    acc.high("p_max", np.array([p_max]))
    acc.high("raw_max", np.array([x_max]))
    acc.low("y_min", np.array([0.0 if n_neg else 1.0]))
    acc.high("y_max", np.array([1.0 if n_pos else 0.0]))
    acc.add("cal_n", counts[0::2] + counts[1::2])
    acc.add("cal_p", sums[0::2] + sums[1::2])
    acc.add("cal_y", counts[1::2])

    p_true = _LazyTrueClass(y, pv, finite)
    reported = wl if opts.per_sample_weighted else loss  # what reduction='none' returns
    weights = None if isinstance(w_col, float) else w_col
    if finite is not None:
        loss, reported = _unpacked(loss, finite, np.nan), _unpacked(reported, finite, np.nan)
        weights = _placed(w_col, finite)
    acc.worst.offer(start, loss, chunk.labels, chunk.preds, p_true.of, max_loss=loss_max)
    return ScoredChunk(chunk, reported, p_true, weights, row_flags)


# The calibration tallies: counts and sums of p by 2 * bin + label, the Brier sum, how many p
# are exactly 0.5 and how many of those have label 1.
Tallies = tuple[np.ndarray, np.ndarray, float, int, int]


def _calibration_tallies(y: np.ndarray, p: np.ndarray, p_max: float) -> Tallies:
    """The calibration tallies of probabilities p in [0, 1] for labels y, each 0 or 1 (one pair
    of bincounts for the table)."""
    pos = np.equal(y, 1.0)
    # floor(10 p) is in 0..9, and 10 for p = 1 (the top bin)
    key = np.multiply(p, CALIBRATION_BINS, out=np.empty(len(p), dtype=np.intp), casting="unsafe")
    if p_max == 1.0:
        np.minimum(key, CALIBRATION_BINS - 1, out=key)
    np.left_shift(key, 1, out=key)
    np.add(key, pos, out=key)
    counts = np.bincount(key, minlength=2 * CALIBRATION_BINS)
    sums = np.bincount(key, weights=p, minlength=2 * CALIBRATION_BINS)
    del key
    is_half = np.equal(p, 0.5)
    n_half = n_half_pos = 0
    if is_half.any():
        n_half = int(np.count_nonzero(is_half))
        n_half_pos = int(np.count_nonzero(is_half & pos))
    diff = np.subtract(p, y)
    # einsum, not np.dot: no BLAS, whose threads stall a busy two-core machine and do not
    # survive a fork well
    brier = float(np.einsum("i,i->", diff, diff))
    return counts, sums, brier, n_half, n_half_pos


def _unpacked(packed: np.ndarray, rows: np.ndarray, fill: float | bool) -> np.ndarray:
    """Values of the rows ``rows`` marks, back in their places; ``fill`` elsewhere."""
    out = np.full(len(rows), fill, dtype=packed.dtype)
    out[rows] = packed
    return out


def _placed(values: np.ndarray | float, rows: np.ndarray) -> np.ndarray:
    """``_unpacked`` with 0 for an excluded row; a number stands for each scored row's value."""
    if isinstance(values, float):
        return np.where(rows, values, 0.0)
    return _unpacked(values, rows, 0.0)


class _LazyTrueClass:
    """p_true of every row, computed only if per-sample output asks for it (NaN for an
    excluded row)."""

    def __init__(self, y: np.ndarray, p: np.ndarray, scored: np.ndarray | None) -> None:
        self._y, self._p, self._scored = y, p, scored  # y, p: the scored rows, packed

    def of(self, rows: np.ndarray) -> np.ndarray:
        """p_true of some scored rows, numbered in the chunk."""
        if self._scored is not None:
            rows = np.searchsorted(np.flatnonzero(self._scored), rows)
        return true_class_probability(self._y[rows], self._p[rows])

    def __call__(self) -> np.ndarray:
        p_true = true_class_probability(self._y, self._p)
        return p_true if self._scored is None else _unpacked(p_true, self._scored, np.nan)


def score_binary_chunk(acc: Accumulator, chunk: Chunk) -> ScoredChunk:
    fast = _fast_path(acc, chunk)
    if fast is not None:
        return fast
    opts = acc.opts
    k = acc.n_outputs
    start, n = chunk.start, len(chunk)
    y_in, x_in, w_in = chunk.labels, chunk.preds, chunk.weights
    row_flags: dict[str, np.ndarray] = {}

    finite = chunk.finite_rows()
    all_valid = bool(finite.all())
    if all_valid:
        y, x, w = y_in, x_in, w_in
    else:
        row_flags["non_finite"] = ~finite
        # Neutral placeholders keep the arithmetic quiet; these rows are excluded below.
        y = np.where(finite[:, None], y_in, 0.0)
        x = np.where(finite[:, None], x_in, 0.0 if opts.from_logits else 0.5)
        w = None if w_in is None else np.where(finite, w_in, 0.0)
    valid = finite
    n_valid = int(np.count_nonzero(valid))
    acc.rows += n
    acc.excluded += n - n_valid

    _framework_refusals(opts, y, x, valid, start)

    # --- the loss, in the profile's float type ---------------------------------------------
    dt = opts.compute_dtype(x_in.dtype)
    acc.compute_dtype = np.dtype(dt).name
    pos_weight = None
    if opts.pos_weight is not None and not opts.compat.is_keras:
        pw = np.asarray(opts.pos_weight, dtype=np.float64)
        pos_weight = np.broadcast_to(pw, (k,)).copy()
    loss_dt, elements = sample_losses(y.astype(dt), x.astype(dt), opts, pos_weight)
    loss = loss_dt.astype(np.float64)
    weight = effective_weights(opts, y, w, n)
    if not all_valid:
        loss[~valid] = np.nan
        weight[~valid] = 0.0
    with np.errstate(invalid="ignore"):
        wl = np.where(valid & (weight != 0), weight * loss, 0.0)
    weighted_mean = opts.compat in (Compat.EXACT, Compat.SKLEARN)
    acc.add_head(
        start,
        num=wl,
        den=weight if weighted_mean else valid.astype(np.float64),
        wl=wl,
        w=weight,
        l=np.where(valid, loss, 0.0),
    )

    # --- probabilities, for accuracy, calibration and the checks ---------------------------
    # in float64 whatever the input's type, as the fast path: float32 sums and calibration bins
    # of float32 probabilities would differ from it
    prob = (sigmoid(x) if opts.from_logits else x).astype(np.float64, copy=False)
    y_eff = smooth_labels(y, opts)

    # --- row-level checks (each skipped where the values' range shows it finds nothing) -------
    vcol = valid[:, None]
    x_lo, x_hi = float(x.min()), float(x.max())  # excluded rows hold neutral placeholders
    y_lo, y_hi = float(y.min()), float(y.max())
    if not opts.from_logits:
        outside = ((x < 0) | (x > 1)) & vcol if x_lo < 0 or x_hi > 1 else None
        if outside is not None and outside.any():
            near = (x >= -ROUNDOFF) & (x <= 1 + ROUNDOFF)
            row_out = outside.any(axis=1)
            hard_row = (outside & ~near).any(axis=1)
            row_flags["pred_out_of_range"] = hard_row
            row_flags["pred_roundoff"] = row_out & ~hard_row
            acc.low("x_min", np.where(vcol, x, np.inf).min())
            acc.high("x_max", np.where(vcol, x, -np.inf).max())
        if x_lo <= 0 <= x_hi or x_lo <= 1 <= x_hi:  # an exact 0 or 1 can be there
            saturated = ((x == 0) | (x == 1)) & vcol
            if saturated.any():
                row_flags["saturated_predictions"] = saturated.any(axis=1)
                wrong = ((x == 0) & (y > 0)) | ((x == 1) & (y < 1))
                acc.add("saturated_wrong", np.count_nonzero(wrong & vcol))
        if opts.compat is not Compat.EXACT and opts.compat is not Compat.TORCH:
            eps = KERAS_EPSILON if opts.compat.is_keras else float(np.finfo(dt).eps)
            if x_lo < eps or x_hi > 1 - eps:
                clipped = ((x < eps) | (x > 1 - eps)) & vcol
                if clipped.any():
                    row_flags["clipped_predictions"] = clipped.any(axis=1)
    else:
        acc.add("logits_outside_unit", np.count_nonzero(((x < 0) | (x > 1)) & vcol))
    if y_lo < 0 or y_hi > 1:
        bad_label = ((y < 0) | (y > 1)) & vcol
        if bad_label.any():
            row_flags["label_out_of_range"] = bad_label.any(axis=1)
    soft = (y > 0) & (y < 1) & vcol
    if soft.any():
        row_flags["soft_labels"] = soft.any(axis=1)
    acc.add("labels_minus1", np.count_nonzero((y == -1) & vcol) if y_lo <= -1 <= y_hi else 0)
    acc.add("labels_not_pm1", np.count_nonzero((y != -1) & (y != 1) & vcol))
    row_flags["loss_above_1"] = valid & (loss > 1)
    neg_w = valid & (weight < 0)
    if neg_w.any():
        row_flags["negative_weights"] = neg_w

    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)

    # --- statistics over the scored rows ------------------------------------------------------
    if n_valid:

        def scored(a: np.ndarray) -> np.ndarray:  # the valid rows: all of them, as they are
            return a if all_valid else a[valid]

        yv, pv, ev = scored(y), scored(prob), scored(y_eff)
        wv, lv = scored(weight), scored(loss)
        acc.sketch.add(lv)
        acc.add("n_elements", yv.size)
        acc.add("w_sum", wv.sum())
        acc.add("pos_w", column_sum(wv[:, None] * ev))  # weighted prior per output
        acc.add("pos", column_sum(yv))
        hard_pos = yv >= 0.5
        correct = (pv > 0.5) == hard_pos
        acc.add("correct", column_count(correct))
        if k > 1:
            acc.add("elem_loss", column_sum(scored(elements).astype(np.float64)))
        acc.add("p_sum", column_sum(pv))
        diff = pv - yv
        # per row, then over the rows: the same sum whatever the arrays' memory order
        acc.add("brier", np.einsum("ij,ij->i", diff, diff).sum() / k)
        del diff
        acc.add("py_sum", (pv * yv).sum())
        if soft.any() or opts.label_smoothing > 0:
            acc.add("floor_w", (wv * binary_entropy(np.clip(ev, 0, 1)).mean(axis=1)).sum())
        acc.low("p_min", column_min(pv))
        acc.high("p_max", column_max(pv))
        acc.low("raw_min", column_min(scored(x)))
        acc.high("raw_max", column_max(scored(x)))
        acc.low("y_min", column_min(yv))
        acc.high("y_max", column_max(yv))
        flat = calibration_bins(pv.ravel())
        acc.add("cal_n", np.bincount(flat, minlength=CALIBRATION_BINS))
        acc.add("cal_p", np.bincount(flat, weights=pv.ravel(), minlength=CALIBRATION_BINS))
        acc.add("cal_y", np.bincount(flat, weights=yv.ravel(), minlength=CALIBRATION_BINS))
        if k >= 2:
            if not opts.from_logits:
                sums = row_sum(scored(x))
                acc.add("rows_sum_1", np.count_nonzero(np.abs(sums - 1) <= ROW_SUM_TOL))
            one_hot = (row_count(yv == 1) == 1) & (row_count(yv == 0) == k - 1)
            acc.add("rows_one_hot", np.count_nonzero(one_hot))
            if one_hot.any():
                # the categorical cross-entropy of the same rows (literal, not renormalised)
                q = (yv[one_hot] * pv[one_hot]).sum(axis=1)
                with np.errstate(divide="ignore"):
                    acc.add("cce_one_hot", -np.log(q).sum())

    def true_class(rows: np.ndarray) -> np.ndarray:  # of the worst rows
        return _true_class_probability(y[rows], prob[rows])

    def every_true_class() -> np.ndarray:  # for per-sample output, when it asks
        p_true = _true_class_probability(y, prob)
        if not all_valid:
            p_true[~valid] = np.nan
        return p_true

    reported = wl if opts.per_sample_weighted else loss
    if not all_valid:
        reported = np.where(valid, reported, np.nan)
    acc.worst.offer(start, np.where(valid, loss, np.nan), y_in, x_in, true_class)
    return ScoredChunk(chunk, reported, every_true_class, weight, row_flags)


def _true_class_probability(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Probability given to the true class; for several outputs, their geometric mean."""
    with np.errstate(all="ignore"):
        q = y * prob + (1 - y) * (1 - prob)
        if q.shape[1] == 1:
            return np.array(q[:, 0], dtype=np.float64)
        return np.exp(np.log(q).mean(axis=1))
