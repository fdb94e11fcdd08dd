"""Score one chunk of a binary or multi-label task into the accumulator: one path for every chunk.

Rows with a missing or infinite value are excluded (and flagged); the others are scored packed
together. The predictions' and labels' ranges decide which checks can find anything and which
work can be skipped (a clip that changes nothing, a search for saturated values, the soft-label
sums), so the common file (0/1 labels, probabilities in [0, 1] or logits) takes few passes. The
statistics follow the summary's determinism rule (``bcecli.core.summary``).
"""

from __future__ import annotations

import math

import numpy as np

from bcecli.core import weight_scale
from bcecli.core.accumulator import Accumulator
from bcecli.core.binary import binary_entropy, sample_losses, smooth_labels
from bcecli.core.bootstrap import add_binary
from bcecli.core.chunk import Chunk, Placer, ScoredChunk, unpacked
from bcecli.core.colwise import column_count, column_max, column_min, row_any, row_count, row_sum
from bcecli.core.common import (
    ROW_SUM_TOL,
    binary_true_class,
    clip_epsilon,
    gives_zero_to_label,
    per_row,
)
from bcecli.core.flags import ROUNDOFF
from bcecli.core.init_sample import add_init_sample
from bcecli.core.library_losses import trap_rows, weight_denominator
from bcecli.core.options import Compat, LossOptions
from bcecli.core.scratch import scratch
from bcecli.core.summary import CALIBRATION_BINS, LABEL_CLASSES, BinaryTally
from bcecli.core.weight_scale import scaled
from bcecli.errors import FrameworkRaises

# the label classes of the calibration cells
LABEL_0, LABEL_1, LABEL_OTHER = 0, 1, 2


_INTP_SAFE = 2.0**52  # p * CALIBRATION_BINS still fits an intp below this


def calibration_bins(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Equal-width bin of each probability (values outside [0, 1] join the end bins); ``lo``
    and ``hi``, p's range, skip the clip where it changes nothing. The array is the thread's
    scratch (``bcecli.core.scratch``): valid until the next call."""
    bins = scratch(p.shape, np.intp)
    # float -> int through a ufunc with an int output: far faster than astype here (a huge
    # value, out of range, casts to any bin: the clip below puts it in an end bin)
    with np.errstate(invalid="ignore", over="ignore"):
        np.multiply(p, CALIBRATION_BINS, out=bins, casting="unsafe")
    # a value too large for an intp casts to its most negative value, so it needs both ends
    if lo < 0 or hi >= _INTP_SAFE:
        np.clip(bins, 0, CALIBRATION_BINS - 1, out=bins)
    elif hi >= 1:
        np.minimum(bins, CALIBRATION_BINS - 1, out=bins)
    return bins


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
    opts: LossOptions, y: np.ndarray, x: np.ndarray, row_of: np.ndarray | None, start: int
) -> None:
    """Raise where PyTorch or scikit-learn would raise on these values (``row_of``: the chunk
    row of each packed row, None if they are the chunk's rows)."""

    def first(mask: np.ndarray) -> tuple[int, int, int]:
        i, j = np.argwhere(mask)[0]
        return start + int(i if row_of is None else row_of[i]), int(i), int(j)

    bad_p = (x < 0) | (x > 1)
    if bad_p.any():
        row, i, j = first(bad_p)
        n_bad = int(np.count_nonzero(bad_p))
        value = float(x[i, j])
        if opts.compat is Compat.TORCH:
            raise FrameworkRaises(
                f"under {{compat=torch}}, F.binary_cross_entropy raises (all elements of input "
                f"should be between 0 and 1): {n_bad} prediction(s) outside [0, 1], first at "
                f"row {row}: {value!r}",
                "clip the predictions, pass logits with {from_logits}, or use {compat=keras} "
                "to see Keras' clipped value",
            )
        side = "greater than 1" if value > 1 else "less than 0"
        raise FrameworkRaises(
            f"under {{compat=sklearn}}, log_loss raises (y_prob contains values {side}): "
            f"{n_bad} prediction(s) outside [0, 1], first at row {row}: {value!r}",
            "clip the predictions, or use {compat=exact} to see the literal value",
        )
    if opts.compat is Compat.TORCH:
        bad_y = (y < 0) | (y > 1)
        if bad_y.any():
            row, i, j = first(bad_y)
            raise FrameworkRaises(
                f"under {{compat=torch}}, F.binary_cross_entropy raises (all elements of target "
                f"should be between 0 and 1): {int(np.count_nonzero(bad_y))} label(s) outside "
                f"[0, 1], first at row {row}: {float(y[i, j])!r}",
                "map the labels to 0/1 (for -1/+1 coding, -1 becomes 0)",
            )
    else:
        bad_y = (y != 0) & (y != 1)
        if bad_y.any():
            row, i, j = first(bad_y)
            raise FrameworkRaises(
                f"under {{compat=sklearn}}, log_loss accepts only hard 0/1 labels here: "
                f"{int(np.count_nonzero(bad_y))} label(s) are not 0 or 1, first at row "
                f"{row}: {float(y[i, j])!r}",
                "use {compat=exact} (or keras) for soft labels",
            )


def _unit_labels(
    opts: LossOptions,
    y: np.ndarray,
    w: np.ndarray | None,
    y_lo: float,
    y_hi: float,
    scored: np.ndarray | None,
    start: int,
) -> None:
    """LightGBM's cross_entropy raises for a label outside [0, 1] and a negative weight."""
    name = f"under {{compat={opts.compat.value}}}, LightGBM's cross_entropy raises"
    if y_lo < 0 or y_hi > 1:
        bad = (y < 0) | (y > 1)
        i, j = np.argwhere(bad)[0]
        row = start + int(i if scored is None else np.flatnonzero(scored)[i])
        raise FrameworkRaises(
            f"{name} (does not tolerate element outside [0, 1]): "
            f"{int(np.count_nonzero(bad))} label(s), first at row {row}: {float(y[i, j])!r}",
            "map the labels into [0, 1], or use {compat=exact}",
        )
    if w is not None and float(w.min()) < 0:
        i = int(np.flatnonzero(w < 0)[0])
        row = start + (i if scored is None else int(np.flatnonzero(scored)[i]))
        raise FrameworkRaises(
            f"{name} (does not tolerate negative weights): "
            f"{int(np.count_nonzero(w < 0))} weight(s), first at row {row}: {float(w[i])!r}",
            "drop the negative weights, or use {compat=exact}",
        )


def effective_weights(
    opts: LossOptions, y: np.ndarray, w: np.ndarray | None, n: int
) -> np.ndarray | None:
    """Sample weight x class weight x (Keras' emulation of pos_weight as a class weight); None
    where every row weighs 1."""
    keras_pw = opts.pos_weight is not None and opts.compat.is_keras
    if w is None and opts.class_weight is None and not keras_pw:
        return None
    eff = np.ones(n) if w is None else np.array(w, dtype=np.float64)
    if opts.class_weight is not None:
        w0, w1 = opts.class_weight
        # class_weight[label]; for a soft label the weight interpolates linearly
        eff *= w0 + (w1 - w0) * y[:, 0]
    if keras_pw:
        assert opts.pos_weight is not None
        # Keras has no pos_weight; model.fit(class_weight={0: 1, 1: pw}) is the same thing
        eff *= 1 + (opts.pos_weight[0] - 1) * y[:, 0]
    return eff


class _Ranges:
    """The range of the predictions and of the labels (NaN where one is NaN), and the counts
    of labels 0 and 1 (``hard``: every label is one of them)."""

    def __init__(self, y: np.ndarray, x: np.ndarray) -> None:
        self.x_lo, self.x_hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        self.ones = np.equal(y, 1.0)
        n_one = int(np.count_nonzero(self.ones))
        # counting a bool array is far faster than counting a float one's non-zeros
        self.n_zero = int(np.count_nonzero(np.equal(y, 0.0)))
        self.hard = n_one + self.n_zero == y.size
        if self.hard:
            self.y_lo, self.y_hi = (0.0 if self.n_zero else 1.0), (1.0 if n_one else 0.0)
        else:
            self.y_lo, self.y_hi = float(y.min()), float(y.max())

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.x_lo, self.x_hi, self.y_lo, self.y_hi))


class _LazyTrueClass:
    """p_true of every row, computed only if per-sample output asks for it (NaN for an
    excluded row)."""

    def __init__(self, y: np.ndarray, p: np.ndarray, hard: bool, scored: np.ndarray | None):
        self._y, self._p, self._hard, self._scored = y, p, hard, scored  # y, p: packed rows

    def of(self, rows: np.ndarray) -> np.ndarray:
        """p_true of some scored rows, numbered in the chunk."""
        if self._scored is not None:
            rows = np.searchsorted(np.flatnonzero(self._scored), rows)
        return per_row(binary_true_class(self._y[rows], self._p[rows], hard=self._hard))

    def __call__(self) -> np.ndarray:
        p_true = per_row(binary_true_class(self._y, self._p, hard=self._hard))
        return p_true if self._scored is None else unpacked(p_true, self._scored, np.nan)


def score_binary_chunk(acc: Accumulator, chunk: Chunk) -> ScoredChunk:
    opts, k, t = acc.opts, acc.n_outputs, acc.binary
    start, n = chunk.start, len(chunk)
    y, x, w = chunk.labels, chunk.preds, scaled(chunk.weights, opts.weight_scale)
    # The values' ranges and label counts say which checks below can find anything; NaN and
    # inf show in them too, so the search for rows to exclude runs only where there are some.
    ranges = _Ranges(y, x)
    scored = None  # the scored rows; None: every row
    with np.errstate(over="ignore", invalid="ignore"):  # huge weights: the sum says inf
        weights_finite = w is None or math.isfinite(float(w.sum()))
    if not ranges.finite or not weights_finite:
        scored = chunk.finite_rows()
        if bool(scored.all()):  # a huge weight, say
            scored = None
    row_flags: dict[str, np.ndarray] = {}
    if scored is not None:
        row_flags["non_finite"] = ~scored
        y, x = y[scored], x[scored]
        w = None if w is None else w[scored]
        ranges = _Ranges(y, x)
    m = len(x)
    acc.rows += n
    acc.excluded += n - m
    if m == 0:
        for fid, mask in row_flags.items():
            acc.flags.add(fid, mask, start)
        nan = np.full(n, np.nan)
        return ScoredChunk(chunk, nan, nan, np.zeros(n), row_flags)
    place = Placer(scored)
    x_lo, x_hi, y_lo, y_hi = ranges.x_lo, ranges.x_hi, ranges.y_lo, ranges.y_hi
    hard, n_zero = ranges.hard, ranges.n_zero

    if opts.compat in (Compat.TORCH, Compat.SKLEARN) and not opts.from_logits:
        # Keras clips silently; BCEWithLogits accepts any finite logit and target
        torch_bad = opts.compat is Compat.TORCH and (y_lo < 0 or y_hi > 1)
        sklearn_bad = opts.compat is Compat.SKLEARN and not hard
        if x_lo < 0 or x_hi > 1 or torch_bad or sklearn_bad:
            row_of = None if scored is None else np.flatnonzero(scored)
            _framework_refusals(opts, y, x, row_of, start)

    lib = opts.compat.library
    if lib is not None and lib.unit_labels:
        _unit_labels(opts, y, w, y_lo, y_hi, scored, start)

    # --- the loss, in the profile's float type ---------------------------------------------
    dt = opts.compute_dtype(chunk.preds.dtype)
    acc.compute_dtype = dt.__name__  # np.dtype(dt).name, without its Python-level lookup
    pos_weight = None
    if opts.pos_weight is not None and not opts.compat.is_keras:
        pw = np.asarray(opts.pos_weight, dtype=np.float64)
        pos_weight = np.broadcast_to(pw, (k,)).copy()
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as the framework gets
        yd, xd = y.astype(dt, copy=False), x.astype(dt, copy=False)
    loss_dt, elements = sample_losses(yd, xd, opts, pos_weight, all_hard=hard, x_range=(x_lo, x_hi))
    loss = loss_dt.astype(np.float64, copy=False)
    loss_lo, loss_hi = float(loss.min()), float(loss.max())

    weight = effective_weights(opts, y, w, m)
    wl = loss
    if weight is not None:
        with np.errstate(invalid="ignore", over="ignore"):  # (weights_out_of_range)
            wl = np.where(weight != 0, weight * loss, 0.0)  # a zero weight drops even inf
    w_col: np.ndarray | float = 1.0 if weight is None else weight
    den = w_col if opts.weighted_mean else 1.0  # weighted means
    lib = opts.compat.library
    if lib is not None and weight is not None:
        den = weight_denominator(lib, weight, k)
    acc.add_head(start, num=place(wl), den=place(den), wl=place(wl), w=place(w_col), l=place(loss))
    t.add_spread(start, place.array(wl), den if isinstance(den, float) else place.array(den), m)
    add_init_sample(t, opts, chunk, scored, place(wl), place(den))
    if lib is not None:
        traps = trap_rows(lib, opts.compat, y, x, opts.from_logits, hard, (x_lo, x_hi))
        if traps is not None:
            _add_traps(t, opts, y, x, loss, weight, traps, place, start)

    # --- row-level checks (each skipped where the ranges show it finds nothing) -------------
    if opts.from_logits:
        t.logits_outside_unit += int(np.count_nonzero(x < 0)) + int(np.count_nonzero(x > 1))
    else:
        if x_lo < 0 or x_hi > 1:
            outside = (x < 0) | (x > 1)
            near = (x >= -ROUNDOFF) & (x <= 1 + ROUNDOFF)
            row_out = row_any(outside)
            hard_row = row_any(outside & ~near)
            row_flags["pred_out_of_range"] = hard_row
            row_flags["pred_roundoff"] = row_out & ~hard_row
            t.x_outside.add(x_lo, x_hi)
        if x_lo <= 0 <= x_hi or x_lo <= 1 <= x_hi:  # an exact 0 or 1 can be there
            saturated = (x == 0) | (x == 1)
            if saturated.any():
                row_flags["saturated_predictions"] = row_any(saturated)
                wrong = gives_zero_to_label(x, y) | gives_zero_to_label(1 - x, 1 - y)
                t.saturated_wrong += int(np.count_nonzero(wrong))
        eps = clip_epsilon(opts.compat, dt)
        if eps is not None and (x_lo < eps or x_hi > 1 - eps):
            row_flags["clipped_predictions"] = row_any((x < eps) | (x > 1 - eps))
    soft = None
    if not hard:
        if y_lo < 0 or y_hi > 1:
            row_flags["label_out_of_range"] = row_any((y < 0) | (y > 1))
        soft = (y > 0) & (y < 1)
        if soft.any():
            row_flags["soft_labels"] = row_any(soft)
        else:
            soft = None
        if y_lo <= -1 <= y_hi:
            t.labels_minus1 += int(np.count_nonzero(y == -1))
        t.labels_not_pm1 += int(np.count_nonzero((y != -1) & (y != 1)))
    else:
        t.labels_not_pm1 += n_zero
    if loss_hi > 1:
        row_flags["loss_above_1"] = loss > 1
    if weight is not None:
        if float(weight.min()) < 0:
            row_flags["negative_weights"] = weight < 0
        extreme = weight_scale.out_of_range(weight)
        if extreme is not None:
            row_flags["weights_out_of_range"] = extreme
    if scored is not None:
        for fid, mask in row_flags.items():
            if fid != "non_finite":
                row_flags[fid] = unpacked(mask, scored, False)
    for fid, mask in row_flags.items():
        acc.flags.add(fid, mask, start)

    # --- statistics over the scored rows ----------------------------------------------------
    acc.sketch.add(loss, lo=loss_lo, hi=loss_hi)
    t.n_elements += y.size
    prob = (sigmoid(x) if opts.from_logits else x).astype(np.float64, copy=False)
    x_cols = (np.array([x_lo]), np.array([x_hi])) if k == 1 else (column_min(x), column_max(x))
    p_cols = (column_min(prob), column_max(prob)) if opts.from_logits else x_cols
    t.raw.add(*x_cols)
    t.p.add(*p_cols)
    t.y.add(
        np.array([y_lo]) if k == 1 else column_min(y), np.array([y_hi]) if k == 1 else column_max(y)
    )
    # the ranking metrics' and the decomposition's histogram: defined for labels and
    # probabilities in [0, 1] and weights of at least 0 (else the flags say what is wrong)
    in_unit = opts.from_logits or (0 <= x_lo and x_hi <= 1)
    ranked = 0 <= y_lo and y_hi <= 1 and in_unit and (w is None or float(w.min()) >= 0)
    if ranked:
        t.scores.add(
            y,
            x,
            w,
            hard=hard,
            from_logits=opts.from_logits,
            start=start,
            lo=x_cols[0],
            hi=x_cols[1],
        )
    else:
        t.scores.unusable()
    _calibration(
        t,
        start,
        prob,
        y,
        ranges.ones if hard else None,
        place,
        float(p_cols[0].min()),
        float(p_cols[1].max()),
    )
    diff = np.subtract(prob, y, out=scratch(prob.shape, np.float64))
    t.brier.add([place.array(diff)], start)  # summed as squares
    if weight is None:
        t.w_sum.add_exact(m)
    else:
        t.w_sum.add([place.array(weight)], start)
    y_eff = smooth_labels(y, opts)
    if weight is not None or opts.label_smoothing:
        wy = y_eff if weight is None else weight[:, None] * y_eff
        t.pos_w.add_columns(place.array(wy), start)  # the weighted prior per output
    if w is not None:  # the calibration ratio's weighted sums (without weights: from the cells)
        t.ratio_w.add_columns(place.array(np.hstack([w[:, None] * prob, w[:, None] * y])), start)
    if t.slices is not None:  # --by (one output: checked before scoring)
        t.slices.add(chunk.groups or {}, scored, loss, weight, prob[:, 0], y[:, 0], ranked)
    if t.boot is not None:
        prior = y_eff if weight is None else weight[:, None] * y_eff
        add_binary(t.boot, start, scored, (wl, den, wl, w_col), prior, prob, y)
    if soft is not None or opts.label_smoothing > 0:
        h = binary_entropy(np.clip(y_eff, 0, 1)).mean(axis=1)
        t.floor_w.add_binned(place.array(h if weight is None else weight * h), None, start)
    if k > 1:
        t.elem_loss.add_columns(place.array(elements.astype(np.float64)), start)
        if not opts.from_logits:
            t.rows_sum_1 += int(np.count_nonzero(np.abs(row_sum(x) - 1) <= ROW_SUM_TOL))
        one_hot = (row_count(y == 1) == 1) & (row_count(y == 0) == k - 1)
        t.rows_one_hot += int(np.count_nonzero(one_hot))
        if one_hot.any():
            # the categorical cross-entropy of the same rows (literal, not renormalised)
            q = (y * prob).sum(axis=1)
            with np.errstate(divide="ignore"):
                cce = np.where(one_hot, -np.log(np.where(one_hot, q, 1.0)), 0.0)
            t.cce_one_hot.add_binned(place.array(cce), None, start)

    # |p - (1 - y)| is y p + (1 - y)(1 - p) only for p in [0, 1] (in_unit)
    p_true = _LazyTrueClass(y, prob, hard and in_unit, scored)
    reported = wl if opts.per_sample_weighted else loss  # what reduction='none' returns
    weights = weight
    if scored is not None:
        loss, reported = unpacked(loss, scored, np.nan), unpacked(reported, scored, np.nan)
        weights = unpacked(np.ones(m) if weight is None else weight, scored, 0.0)
    if opts.weight_scale and weights is not None:  # the per-sample values in the weights' units
        weights = weight_scale.unscale_array(weights, opts.weight_scale)
        if opts.per_sample_weighted:
            reported = weight_scale.unscale_array(reported, opts.weight_scale)
    acc.worst.offer(
        start, loss, chunk.labels, chunk.preds, p_true.of, max_loss=loss_hi, ids=chunk.ids
    )
    return ScoredChunk(chunk, reported, p_true, weights, row_flags)


def _add_traps(
    t: BinaryTally,
    opts: LossOptions,
    y: np.ndarray,
    x: np.ndarray,
    loss: np.ndarray,
    weight: np.ndarray | None,
    traps: np.ndarray,
    place: Placer,
    start: int,
) -> None:
    """Tally the rows a library's rule scores far from the literal formula: their weight, the
    library's loss and the literal one (float64, as given), for the note that says so."""
    rows = np.flatnonzero(traps)
    literal = LossOptions(task=opts.task, from_logits=opts.from_logits)
    exact, _ = sample_losses(y[rows].astype(np.float64), x[rows].astype(np.float64), literal, None)
    w = np.ones(len(rows)) if weight is None else weight[rows]
    cols = np.zeros((len(x), 3))
    with np.errstate(invalid="ignore"):
        cols[rows, 0] = w
        cols[rows, 1] = np.where(w != 0, w * loss[rows], 0.0)
        cols[rows, 2] = np.where(w != 0, w * exact, 0.0)
    t.trap_rows += len(rows)
    t.trap.add_columns(place.array(cols), start)


def _calibration(
    t: BinaryTally,
    start: int,
    prob: np.ndarray,
    y: np.ndarray,
    ones: np.ndarray | None,
    place: Placer,
    p_lo: float,
    p_hi: float,
) -> None:
    """The calibration cells (output, bin, label class) and what comes from them: the table,
    the label and probability sums and the accuracy. 0/1 labels are counted; only the other
    labels' sums are added as floats, so a chunk of 0/1 labels adds one weighted bincount.
    ``ones``: where y is 1, when every label is 0 or 1."""
    k = prob.shape[1]
    key = calibration_bins(prob, p_lo, p_hi)
    key *= LABEL_CLASSES
    if ones is not None:
        key += ones
        other = None
    else:
        cls = np.where(y == 0, LABEL_0, np.where(y == 1, LABEL_1, LABEL_OTHER))
        key += cls
        other = cls == LABEL_OTHER
    if k > 1:
        key += np.arange(k) * (CALIBRATION_BINS * LABEL_CLASSES)
    counts = np.bincount(key.reshape(-1), minlength=len(t.cells_n))
    t.cells_n += counts
    # correct: p > 0.5 for a label of 1 (or a soft label from 0.5 up), p <= 0.5 below it
    by_cell = t.cells(counts)
    correct = by_cell[:, CALIBRATION_BINS // 2 :, LABEL_1].sum(axis=1)
    correct += by_cell[:, : CALIBRATION_BINS // 2, LABEL_0].sum(axis=1)
    half = np.equal(prob, 0.5)  # in bin 5, but right for label 0 and wrong for label 1
    if half.any():
        correct += column_count(half & (y == 0)) - column_count(half & (y == 1))
    if other is not None:  # the other labels' cells say nothing of which side they are on
        correct += column_count(((prob > 0.5) == (y >= 0.5)) & other)
        on_bin = key // LABEL_CLASSES  # output * bins + bin
        t.soft_y.add_binned(place.array(np.where(other, y, 0.0)), place.array(on_bin), start)
        t.soft_py.add_binned(place.array(np.where(other, prob * y, 0.0)), None, start)
    t.correct += correct
    t.cells_p.add_binned(place.array(prob), place.array(key), start, own=True)
