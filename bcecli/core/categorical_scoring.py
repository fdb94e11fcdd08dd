"""Score one chunk of a categorical (label rows) or sparse (class index) task."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bcecli.core import weight_scale
from bcecli.core.accumulator import Accumulator
from bcecli.core.binary import sample_losses as binary_sample_losses
from bcecli.core.binary_scoring import calibration_bins
from bcecli.core.bootstrap import add_categorical, prior_columns
from bcecli.core.categorical import sample_losses
from bcecli.core.chunk import Chunk, Placer, ScoredChunk, unpacked
from bcecli.core.colwise import (
    column_max,
    column_min,
    largest_ratio,
    row_any,
    row_argmax,
    row_min,
    row_sum,
)
from bcecli.core.common import (
    categorical_true_class,
    clip_epsilon,
    gives_zero_to_label,
    negate,
    rows_off_sum_1,
    xlogy,
)
from bcecli.core.init_sample import add_init_sample
from bcecli.core.library_losses import categorical_losses as library_categorical_losses
from bcecli.core.options import Compat, LossOptions, Task
from bcecli.core.summary import CALIBRATION_BINS, MulticlassTally
from bcecli.errors import FrameworkRaises

FRAMEWORK_OF = {
    Compat.EXACT: "the literal formula",
    Compat.KERAS_TF: "Keras on TensorFlow (SparseSoftmaxCrossEntropyWithLogits)",
    Compat.KERAS2: "Keras 2 (SparseSoftmaxCrossEntropyWithLogits)",
    Compat.TORCH: "PyTorch (IndexError: Target is out of bounds)",
    Compat.SKLEARN: "sklearn's log_loss (y_true contains values not in labels)",
    Compat.XGBOOST: "XGBoost's mlogloss (label must be in [0, num_class))",
    Compat.LIGHTGBM: "LightGBM's multiclass objective (Label must be in [0, K))",
    Compat.CATBOOST: "CatBoost's MultiClass (Inappropriate targetClass)",
}


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x, axis=1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def with_masked_logits(chunk: Chunk, finite: np.ndarray) -> np.ndarray:
    """``finite`` with the rows added whose only non-finite values are logits of -inf, in a row
    with some finite logit: a class masked out (optax's way), probability exactly 0, valid
    input (it costs inf as the true class, 0 otherwise)."""
    rows = np.flatnonzero(~finite)
    x = chunk.preds[rows]
    ok = ((np.isfinite(x) | (x == -np.inf)).all(axis=1)) & np.isfinite(x).any(axis=1)
    ok &= np.isfinite(chunk.labels[rows]).all(axis=1)
    if chunk.weights is not None:
        ok &= np.isfinite(chunk.weights[rows])
    if not ok.any():
        return finite
    out = finite.copy()
    out[rows[ok]] = True
    return out


def _check_sparse_labels(
    opts: LossOptions,
    lab: np.ndarray,
    usable: np.ndarray,
    k: int,
    first_row: Callable[[np.ndarray], int],
) -> np.ndarray:
    """Rows whose sparse label is outside [0, K): an error where the framework raises.
    ``first_row``: the input's row number of the first row a mask marks."""
    if not np.all(lab[usable] == np.floor(lab[usable])):
        bad = usable & (lab != np.floor(lab))
        raise FrameworkRaises(
            f"{int(np.count_nonzero(bad))} sparse label(s) are not integers, first at row "
            f"{first_row(bad)}: {float(lab[np.flatnonzero(bad)[0]])!r}",
            "sparse labels are class indices 0 .. K-1; for one-hot or soft labels give K label "
            "columns ({task=categorical})",
        )
    out = usable & ((lab < 0) | (lab >= k))
    lib = opts.compat.library
    if out.any() and opts.compat is not Compat.KERAS and not (lib and lib.sparse_wraps):
        first = int(np.flatnonzero(out)[0])
        row = first_row(out)
        one_indexed = lab[usable].min() >= 1 and lab[usable].max() == k
        hint = (
            "the labels look 1-indexed: subtract 1 so they run 0 .. K-1"
            if one_indexed
            else f"labels are class indices 0 .. {k - 1}, one per prediction column"
        )
        raise FrameworkRaises(
            f"{int(np.count_nonzero(out))} label(s) outside [0, {k}) for {k} prediction "
            f"columns, first at row {row}: {int(lab[first])} (under "
            f"{{compat={opts.compat.value}}}: an error in {FRAMEWORK_OF[opts.compat]})",
            hint,
        )
    return out


def score_categorical_chunk(acc: Accumulator, chunk: Chunk) -> ScoredChunk:
    opts, k, t = acc.opts, acc.n_outputs, acc.multiclass
    start, n = chunk.start, len(chunk)
    sparse = opts.task is Task.SPARSE
    lib = opts.compat.library
    finite = chunk.finite_rows()
    if opts.from_logits and not finite.all():
        finite = with_masked_logits(chunk, finite)
    scored = None if bool(finite.all()) else finite  # None: every row has finite values
    y, x, sw = chunk.labels, chunk.preds, weight_scale.scaled(chunk.weights, opts.weight_scale)
    row_flags: dict[str, np.ndarray] = {}
    if scored is not None:
        row_flags["non_finite"] = ~scored
        y, x = y[scored], x[scored]
        sw = None if sw is None else sw[scored]
    m = len(x)
    acc.rows += n
    if m == 0:
        acc.excluded += n
        for fid, mask in row_flags.items():
            acc.flags.add(fid, mask, start)
        nan = np.full(n, np.nan)
        return ScoredChunk(chunk, nan, nan, np.zeros(n), row_flags)
    row_of = None if scored is None else np.flatnonzero(scored)

    def first_row(mask: np.ndarray) -> int:  # the chunk's number of the first marked row
        i = int(np.flatnonzero(mask)[0])
        return start + (i if row_of is None else int(row_of[i]))

    # --- the labels: a class per row (idx), or label rows ---------------------------------
    ignored = out_of_range = None  # None: no such row
    hard: np.ndarray | None = None  # label rows that are one class; None: every row
    idx: np.ndarray | None
    if sparse:
        lab = y[:, 0]
        lo, hi = float(lab.min()), float(lab.max())
        if opts.ignore_class is not None and lo <= opts.ignore_class <= hi:
            is_ignored = lab == opts.ignore_class
            if is_ignored.any():
                ignored = is_ignored
                row_flags["ignored_rows"] = ignored
        truncates = lib is not None and lib.truncated_class_labels
        if truncates and not np.array_equal(lab, np.trunc(lab)):
            # XGBoost, LightGBM and CatBoost cast the float label to an int (toward zero)
            lab = np.trunc(lab)
            lo, hi = float(lab.min()), float(lab.max())
        if lib is not None and lib.sparse_wraps and lo < 0:
            # optax's take_along_axis: a label -1 .. -K is a class counted from the end
            wraps = (lab < 0) & (lab >= -k) & (True if ignored is None else ~ignored)
            lab = np.where(wraps, lab + k, lab)
            lo = float(lab.min())
        idx = lab.astype(np.intp) if 0 <= lo and hi < k else None
        if ignored is not None or idx is None or not np.array_equal(idx, lab):
            usable = np.ones(m, dtype=bool) if ignored is None else ~ignored
            oor = _check_sparse_labels(opts, lab, usable, k, first_row)
            if oor.any():
                out_of_range = oor
                row_flags["sparse_label_out_of_range"] = oor
            idx = np.where(usable & ~oor, lab, 0).astype(np.intp)
    else:
        idx = _one_hot_classes(y, k)
        if idx is None and lib is not None and not lib.label_rows:
            metric = lib.metric(opts.task)
            raise FrameworkRaises(
                f"under {{compat={opts.compat.value}}}, {metric} takes class indices: some "
                "label rows are not one-hot",
                "give one-hot label rows (or class indices with {task=sparse}), or use "
                "{compat=exact} for soft labels",
            )
        if idx is None:
            binary_like = (y == 0) | (y == 1)
            # one class per row; a single column holds a 0/1 label (a softmax over one unit)
            hard = binary_like[:, 0] if k == 1 else binary_like.all(axis=1) & (y.sum(axis=1) == 1)
    # rows whose loss is computed (valid), and that count in the mean (usable: Keras counts a
    # label out of range as a loss of 0); None: every row
    usable = None if ignored is None else ~ignored
    valid = _both(usable, None if out_of_range is None else ~out_of_range)
    n_usable = m if usable is None else int(np.count_nonzero(usable))
    acc.excluded += n - n_usable

    # --- checks on the values --------------------------------------------------------------
    x_lo, x_hi = float(x.min()), float(x.max())
    row_sums = off = None
    if not opts.from_logits:
        if x_lo < 0 or x_hi > 1:
            outside = _rows(row_any((x < 0) | (x > 1)), valid)
            if outside.any():
                row_flags["pred_out_of_range"] = outside
                xv = x if valid is None else x[valid]
                t.x_outside.add(float(xv.min()), float(xv.max()))
                if opts.compat is Compat.SKLEARN:
                    raise FrameworkRaises(
                        f"under {{compat=sklearn}}, log_loss raises (y_prob outside [0, 1]): "
                        f"{int(np.count_nonzero(outside))} prediction(s), first at row "
                        f"{first_row(outside)}",
                        "clip the predictions, or use {compat=exact} to see the literal value",
                    )
        if k >= 2:
            row_sums = row_sum(x)
            off = _rows(rows_off_sum_1(row_sums), valid)
            if off.any():
                flagged = _not_rounding(t, x, row_sums, off)
                if flagged.any():
                    row_flags["rows_not_sum_1"] = flagged
            else:
                off = None
    elif k >= 2 and x_lo >= 0 and x_hi <= 1:
        # "logits" all in [0, 1]: softmax outputs fed to a loss that applies its own softmax?
        as_probs = _rows(~rows_off_sum_1(row_sum(x)), valid)
        t.logit_rows_sum_1 += int(np.count_nonzero(as_probs))
    soft = None
    if not sparse:
        if float(y.min()) < 0 or float(y.max()) > 1:
            bad_label = _rows(row_any((y < 0) | (y > 1)), valid)
            if bad_label.any():
                row_flags["label_out_of_range"] = bad_label
        if hard is not None:
            soft = _rows(~hard, valid)
            if soft.any():
                row_flags["soft_labels"] = soft
                t.soft_target_rows += int(np.count_nonzero(soft))
                if opts.compat is Compat.SKLEARN:
                    raise FrameworkRaises(
                        f"under {{compat=sklearn}}, log_loss accepts only hard labels: "
                        f"{int(np.count_nonzero(soft))} label row(s) are not one-hot, first "
                        f"at row {first_row(soft)}",
                        "use {compat=exact} (or keras) for soft labels",
                    )
            else:
                soft = None

    # --- the loss ---------------------------------------------------------------------------
    dt = opts.compute_dtype(chunk.preds.dtype)
    acc.compute_dtype = np.dtype(dt).name
    xd = x.astype(dt, copy=False)
    torch_value = torch_den = None
    prob: np.ndarray | None = None
    # one log per row where each row is one class (the same values as the general kernel,
    # whose sum over a one-hot row adds exact zeros to the true class's term)
    one_class = idx is not None and hard is None and not opts.label_smoothing
    one_log = one_class and not (opts.compat is Compat.TORCH and opts.class_weight is not None)
    if lib is not None:
        # optax scores label rows as rows: a 0 anywhere in the row gives 0 * -inf = nan
        lib_idx = idx if sparse or (hard is None and not lib.label_rows) else None
        if sparse and out_of_range is not None:  # optax: a label of K or more scores nan
            assert idx is not None
            lib_idx = np.where(out_of_range, k, idx)
        loss_dt = library_categorical_losses(lib, opts, None if sparse else y, lib_idx, xd)
    elif one_log and opts.from_logits:
        assert idx is not None
        loss_dt, prob = _softmax_loss(x, xd, idx)
    elif one_log and not (opts.compat is Compat.SKLEARN and k == 1):
        assert idx is not None
        loss_dt = _probability_loss(opts, xd, idx)
    elif opts.compat is Compat.SKLEARN and k == 1:
        # log_loss reads a single column as P(class 1) of a binary problem
        loss_dt, _ = binary_sample_losses(y[:, :1].astype(dt), xd, opts, None)
    else:
        res = sample_losses(
            None if sparse else y.astype(dt),
            idx if sparse else None,
            xd,
            opts,
            hard=np.ones(m, dtype=bool) if hard is None else hard,
        )
        loss_dt, torch_value, torch_den = res.loss, res.torch_value, res.torch_den
    loss = loss_dt.astype(np.float64, copy=False)
    if valid is not None:
        # a label out of range: Keras on JAX's row of zeros (optax's nan)
        loss = np.where(valid, loss, 0.0)
        if lib is not None and out_of_range is not None:
            loss = np.where(out_of_range, np.nan, loss)
    loss_hi = float(loss.max())
    class_w = _class_weights(opts, idx, y, sparse, valid)
    weight = None
    if sw is not None or class_w is not None or usable is not None:
        weight = np.ones(m) if sw is None else np.array(sw, dtype=np.float64)
        if class_w is not None:
            weight *= class_w
        if usable is not None:
            weight[~usable] = 0.0
    wl = loss
    if weight is not None:
        with np.errstate(invalid="ignore"):
            wl = np.where(weight != 0, weight * loss, 0.0)
    num: np.ndarray
    den: np.ndarray | float
    if opts.compat is Compat.TORCH and torch_value is not None and torch_den is not None:
        tv = torch_value.astype(np.float64)
        if valid is not None:
            tv = np.where(valid, tv, 0.0)
        with np.errstate(invalid="ignore"):
            num = tv if sw is None else np.where(sw != 0, sw * tv, 0.0)
        den = torch_den if opts.class_weight is not None else 1.0
        if usable is not None:
            num, den = np.where(usable, num, 0.0), np.where(usable, den, 0.0)
        reported = num
    elif opts.compat.is_keras:
        num, den, reported = wl, _ones(usable), wl
    elif opts.compat is Compat.TORCH:
        num, den, reported = wl, _ones(usable), wl
    else:
        num, den, reported = wl, 1.0 if weight is None else weight, loss
    place = Placer(scored)
    w_col: np.ndarray | float = 1.0 if weight is None else weight
    acc.add_head(start, num=place(num), den=place(den), wl=place(wl), w=place(w_col), l=place(loss))
    t.add_spread(start, place.array(num), den if isinstance(den, float) else place.array(den), m)
    add_init_sample(t, opts, chunk, scored, place(num), place(den))
    if sw is not None:
        t.sample_weighted_rows += m
    if weight is None:
        t.w_sum.add_exact(m)
    else:
        t.w_sum.add([place.array(weight)], start)

    if loss_hi > 1:
        row_flags["loss_above_1"] = _rows(loss > 1, valid)
    if weight is not None:
        if float(weight.min()) < 0:
            row_flags["negative_weights"] = weight < 0
        extreme = None if sw is None else weight_scale.out_of_range(sw)
        if extreme is not None:
            row_flags["weights_out_of_range"] = extreme

    # --- statistics over the rows whose loss was computed ----------------------------------
    if prob is None:
        as64 = x.astype(np.float64, copy=False)
        prob = softmax(as64) if opts.from_logits else as64
    y_rows = None if sparse else y
    p_true = categorical_true_class(prob, idx if hard is None else None, y_rows)
    if not opts.from_logits:
        if y_rows is None or hard is None:
            zero = gives_zero_to_label(p_true, np.ones(1))
        else:
            zero = row_any(gives_zero_to_label(prob, y_rows))
        zero = _rows(zero, valid)
        if zero.any():
            row_flags["saturated_predictions"] = zero
            t.saturated_wrong += int(np.count_nonzero(zero))
    if scored is not None:
        for fid, mask in row_flags.items():
            if fid != "non_finite":
                row_flags[fid] = unpacked(mask, scored, False)
    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)
    boot_stats, stat_rows = None, scored
    if valid is None or valid.any():
        if valid is None:
            stat_rows = scored
        else:
            stat_rows = valid if scored is None else unpacked(valid, scored, False)
        taken = _take(valid, prob, x, y, idx, hard, weight, loss, p_true)
        lv = taken[6]
        assert lv is not None
        acc.sketch.add(lv)
        off_rows = None
        if off is not None and row_sums is not None:
            sums_v, off_v = _take(valid, row_sums, off)
            off_rows = (sums_v, off_v)
        place = Placer(stat_rows)
        boot_stats, (true, correct, top) = _statistics(t, opts, start, place, taken, off_rows)
        if t.scores.usable:
            sw_v = None if sw is None else (sw if valid is None else sw[valid])
            unusable = ("soft_labels", "pred_out_of_range", "label_out_of_range")
            if any(f in row_flags for f in unusable):
                t.scores.unusable()
            else:
                _class_scores(t, opts, start, place, stat_rows, taken, true, correct, top, sw_v)
    if t.boot is not None:
        head = (num, den, wl, w_col)
        add_categorical(t.boot, start, scored, head, stat_rows, boot_stats, n)

    p_true_out = p_true if valid is None else np.where(valid, p_true, np.nan)
    rep = reported if usable is None else np.where(usable, reported, np.nan)
    if ignored is not None:
        rep = np.where(ignored, 0.0, rep)  # frameworks return 0 for ignored rows
    worst_loss = loss if valid is None else np.where(valid, loss, np.nan)
    weight_out = None
    if sw is not None or class_w is not None:
        weight_out = (np.ones(m) if sw is None else sw) * (1.0 if class_w is None else class_w)
    if scored is not None:
        p_true_out = unpacked(p_true_out, scored, np.nan)
        rep = unpacked(rep, scored, np.nan)
        worst_loss = unpacked(worst_loss, scored, np.nan)
        weight_out = unpacked(np.ones(m) if weight_out is None else weight_out, scored, 0.0)
    if opts.weight_scale and sw is not None:  # the per-sample values in the weights' units
        assert weight_out is not None
        weight_out = weight_scale.unscale_array(weight_out, opts.weight_scale)
        if opts.per_sample_weighted:
            rep = weight_scale.unscale_array(rep, opts.weight_scale)
    acc.worst.offer(
        start, worst_loss, chunk.labels, chunk.preds, p_true_out, max_loss=loss_hi, ids=chunk.ids
    )
    return ScoredChunk(chunk, rep, p_true_out, weight_out, row_flags)


MAX_WRITTEN_DECIMALS = 6  # rounder than this, a row that does not sum to 1 is not rounding


def _written_decimals(x: np.ndarray) -> np.ndarray:
    """Per row, the fewest decimals (1 .. MAX_WRITTEN_DECIMALS) that every value of the row has
    (``float_format="%.3f"`` gives 3); 0 where there is no such number. A value has d decimals
    when 10^d times it is an integer up to the float type's round-off."""
    eps = 8 * float(np.finfo(x.dtype if x.dtype.kind == "f" else np.float64).eps)
    found = np.zeros(len(x), dtype=np.int64)
    todo = np.arange(len(x))
    for digits in range(1, MAX_WRITTEN_DECIMALS + 1):
        scaled = x[todo].astype(np.float64) * 10.0**digits
        on_grid = (np.abs(scaled - np.rint(scaled)) <= eps * np.maximum(np.abs(scaled), 1)).all(
            axis=1
        )
        found[todo[on_grid]] = digits
        todo = todo[~on_grid]
        if not len(todo):
            break
    return found


def _not_rounding(
    t: MulticlassTally, x: np.ndarray, row_sums: np.ndarray, off: np.ndarray
) -> np.ndarray:
    """The rows of ``off`` (rows not summing to 1) that rounding does not explain. K values
    rounded to d decimals are each within half a unit of the d-th decimal, so their sum is
    within K / 2 * 10^-d of 1; rows within that are tallied as rounded, not flagged."""
    rows = np.flatnonzero(off)
    digits = _written_decimals(x[rows])
    k = x.shape[1]
    with np.errstate(over="ignore"):
        bound = np.where(digits > 0, k * 0.5 * 10.0 ** (-digits.astype(np.float64)), 0.0)
    dev = np.abs(row_sums[rows] - 1)
    rounded = (digits > 0) & (dev <= bound * (1 + 1e-9))
    if rounded.any():
        t.rounded_rows += int(np.count_nonzero(rounded))
        t.rounded_decimals.add(float(digits[rounded].min()), float(digits[rounded].max()))
        sums = row_sums[rows[rounded]]
        t.rounded_sums.add(float(sums.min()), float(sums.max()))
        off = off.copy()
        off[rows[rounded]] = False
    return off


def _both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Rows marked by both masks (None: every row)."""
    if a is None:
        return b
    return a if b is None else a & b


def _rows(mask: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    return np.asarray(mask if valid is None else mask & valid)


def _ones(rows: np.ndarray | None) -> np.ndarray | float:
    return 1.0 if rows is None else rows.astype(np.float64)


def _take(valid: np.ndarray | None, *arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """The arrays' valid rows (the arrays themselves where every row is valid)."""
    if valid is None:
        return list(arrays)
    return [None if a is None else a[valid] for a in arrays]


def _softmax_loss(x: np.ndarray, xd: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loss of logits (``-log_softmax`` of the true class, in ``xd``'s type) and the softmax
    probabilities in float64, each computed as the general path computes it; one set of
    exponentials serves both when the loss is taken in float64."""
    rows = np.arange(len(x))
    z = xd - np.max(xd, axis=1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(z)
    total = np.sum(e, axis=1, keepdims=True)
    loss = negate(z[rows, idx] - np.log(total[:, 0])).astype(np.float64, copy=False)
    if xd.dtype != np.float64:
        return loss, softmax(x.astype(np.float64))
    return loss, np.asarray(e / total)


def _probability_loss(opts: LossOptions, xd: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The loss of the true class's probability under the profile, from ``xd`` (n, K)."""
    dt = xd.dtype.type
    rows = np.arange(len(xd))
    sparse = opts.task is Task.SPARSE
    compat = opts.compat
    clip = clip_epsilon(compat, dt)
    with np.errstate(all="ignore"):
        if clip is not None and compat.is_keras:
            eps = dt(clip)
            if sparse and compat in (Compat.KERAS_TF, Compat.KERAS2):
                clipped = np.clip(xd, eps, dt(1) - eps)
                true_log = np.log(clipped[rows, idx]) - np.log(clipped.sum(axis=1))
            else:
                q = xd[rows, idx] / xd.sum(axis=1)
                true_log = np.log(np.clip(q, eps, dt(1) - eps))
        elif clip is not None:
            eps = dt(clip)
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


def _class_weights(
    opts: LossOptions,
    idx: np.ndarray | None,
    y: np.ndarray,
    sparse: bool,
    valid: np.ndarray | None,
) -> np.ndarray | None:
    """Each row's class weight (None: there are none)."""
    if opts.class_weight is None:
        return None
    cw = np.asarray(opts.class_weight, dtype=np.float64)
    if sparse:
        assert idx is not None
        return cw[idx] if valid is None else np.where(valid, cw[idx], 0.0)
    return np.asarray((np.clip(y, 0, None) * cw).sum(axis=1))


def _statistics(
    t: MulticlassTally,
    opts: LossOptions,
    start: int,
    place: Placer,
    rows: list[np.ndarray | None],
    off_rows: tuple[np.ndarray | None, np.ndarray | None] | None,
) -> tuple[
    tuple[np.ndarray, np.ndarray, np.ndarray] | None, tuple[np.ndarray, np.ndarray, np.ndarray]
]:
    """Tally the rows whose loss was computed (``rows``: their probabilities, predictions,
    labels, classes, hard-row mask, weights, losses and true-class probabilities; ``off_rows``:
    their row sums and which of them do not sum to 1, if some do not). Returns, with --ci,
    the rows' base-rate numerators, correct flags and Brier terms for the replicates (else
    None), and each row's true class, whether the top class is it, and the top probability."""
    prob, x, y, idx, hard, weight, loss, p_true = rows
    assert prob is not None and x is not None and y is not None
    assert loss is not None and p_true is not None
    k = t.k
    sparse = opts.task is Task.SPARSE
    nv = len(prob)
    true = idx if idx is not None and (sparse or hard is None) else np.argmax(y, axis=1)
    pred, top = row_argmax(prob)  # the predicted class and its probability
    correct = pred == true
    t.correct += int(np.count_nonzero(correct))
    t.n_correct_of += nv
    t.n_elements += nv
    t.class_n += np.bincount(true, minlength=k)[:k]
    t.class_correct += np.bincount(true[correct], minlength=k)[:k]
    t.class_loss.add_binned(place.array(loss), place.array(true), start)
    if t.confusion is not None:
        t.confusion += np.bincount(true * k + pred, minlength=k * k)[: k * k]

    # the prior's numerator: each class's effective weight (its rows' 1s counted exactly)
    ls = opts.label_smoothing
    w = weight
    if ls == 0 and w is None and (sparse or hard is None):
        t.class_w.add_exact(np.bincount(true, minlength=k)[:k])
    elif ls == 0 and sparse:
        assert w is not None
        t.class_w.add_binned(place.array(w), place.array(true), start)
    elif ls == 0 and w is None:
        assert hard is not None
        t.class_w.add_exact(np.bincount(true[hard], minlength=k)[:k])
        t.class_w.add_columns(place.array(np.where(hard[:, None], 0.0, y)), start)
    else:
        y_eff = (np.eye(k)[true] if sparse else y) * (1 - ls) + ls / k
        t.class_w.add_columns(place.array(y_eff if w is None else w[:, None] * y_eff), start)

    # Brier per row: sum p^2 - 2 p_true + 1 for a row of one class, sum (p - y)^2 for the others
    brier = np.einsum("ij,ij->i", prob, prob) - 2 * p_true + 1
    if not sparse and hard is not None and not hard.all():
        brier = np.where(hard, brier, ((prob - y) ** 2).sum(axis=1))
    t.brier.add([place.array(brier)], start)
    boot_stats = None
    if t.boot is not None:
        y_rows = np.eye(k)[true] if sparse else y
        if not prior_columns(t.boot):
            y_rows = np.zeros((nv, 0))
        elif ls:
            y_rows = y_rows * (1 - ls) + ls / k
        boot_stats = (y_rows if w is None else w[:, None] * y_rows, correct, brier)

    # the label entropy: the loss a perfect model would still pay
    h = None
    if sparse and ls > 0:
        h = np.full(nv, _smoothed_onehot_entropy(ls, k))
    elif not sparse and (ls > 0 or (hard is not None and not hard.all())):
        y_eff = y * (1 - ls) + ls / k
        h = -xlogy(y_eff, np.log(np.where(y_eff > 0, y_eff, 1.0))).sum(axis=1)
    if h is not None:
        t.floor_w.add_binned(place.array(h if w is None else w * h), None, start)

    if off_rows is not None:
        # what dividing each row that does not sum to 1 by its sum would change:
        # -sum y log(p/S) = loss + log S
        row_sums, off = off_rows
        assert row_sums is not None and off is not None
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(off, np.log(np.where(off, row_sums, 1.0)), 0.0)
            if w is not None:
                shift = np.where(off & (w != 0), w * shift, 0.0)
        t.renorm_shift_w.add_binned(place.array(shift), None, start)

    x_lo, x_hi = (0.0, 1.0) if opts.from_logits else (float(x.min()), float(x.max()))
    bins = calibration_bins(top, x_lo, x_hi)
    t.cal_n += np.bincount(bins, minlength=CALIBRATION_BINS)
    t.cal_p.add_binned(place.array(top), place.array(bins), start)
    t.cal_y.add_exact(np.bincount(bins[correct], minlength=CALIBRATION_BINS))
    t.raw.add(column_min(prob), column_max(prob))
    if sparse:
        t.label.add(float(true.min()), float(true.max()))
    if k >= 2 and not opts.from_logits:
        ratio = largest_ratio(top, row_min(prob))
        t.row_ratio.add(np.inf, ratio)  # only the largest is of use
    return boot_stats, (true, correct, top)


def _class_scores(
    t: MulticlassTally,
    opts: LossOptions,
    start: int,
    place: Placer,
    stat_rows: np.ndarray | None,
    rows: list[np.ndarray | None],
    true: np.ndarray,
    correct: np.ndarray,
    top: np.ndarray,
    sw: np.ndarray | None,
) -> None:
    """Feed the ranking and recalibration state (core/class_scores.py) with the rows whose
    loss was computed; ``sw``: their sample weights (None: 1 each)."""
    prob, x, _, _, _, _, loss, p_true = rows
    assert prob is not None and x is not None and loss is not None and p_true is not None
    at = np.arange(len(prob)) if stat_rows is None else np.flatnonzero(stat_rows)
    literal_profile = (
        opts.compat is Compat.EXACT and opts.class_weight is None and not opts.label_smoothing
    )
    if literal_profile:
        literal = loss  # the literal formula: -log p_true (of the softmax, with logits)
    elif opts.from_logits:
        z = x.astype(np.float64)
        zt = z[np.arange(len(z)), true]
        hi = z.max(axis=1)
        literal = hi + np.log(np.exp(z - hi[:, None]).sum(axis=1)) - zt
    else:
        with np.errstate(divide="ignore"):
            literal = -np.log(p_true)
    xs = x

    def scores(i: np.ndarray) -> np.ndarray:
        v = xs[i].astype(np.float64)
        if opts.from_logits:
            return v
        with np.errstate(divide="ignore"):
            return np.log(v)

    t.scores.add(
        start,
        place,
        at + start,
        prob,
        true,
        correct,
        top,
        scores,
        literal,
        sw,
        from_logits=opts.from_logits,
    )


def _smoothed_onehot_entropy(ls: float, k: int) -> float:
    hi = 1 - ls + ls / k
    lo = ls / k
    return float(-(hi * np.log(hi) + (k - 1) * (lo * np.log(lo) if lo > 0 else 0.0)))
