"""The finished report: a frozen dataclass built once from a (merged) accumulator.

``finalize`` computes the headline numbers, hands them with the tallies to diagnose, and builds
the report from both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bcecli.core.accumulator import CALIBRATION_BINS, Accumulator
from bcecli.core.bands import band_for
from bcecli.core.binary import binary_entropy
from bcecli.core.bootstrap import (
    HEAD_COLUMNS,
    Intervals,
    auc_interval,
    delong,
    interval,
    prior_columns,
)
from bcecli.core.class_scores import ClassAnalysis, analyse_classes
from bcecli.core.context import Context as Context  # re-exported: callers build one with a report
from bcecli.core.decomposition import (
    Curve,
    Decomposition,
    Recalibration,
    ScoreAnalysis,
    analyse_outputs,
    mean_decomposition,
)
from bcecli.core.diagnose import (
    BinaryFigures,
    Headline,
    Mistake,
    MulticlassFigures,
    TemperatureFit,
    diagnose,
)
from bcecli.core.flags import CATALOGUE, INVALIDATING, Flag
from bcecli.core.init_sample import InitSample, summarise
from bcecli.core.options import FRAMEWORK_NAMES, Compat, EmptyWeights, Library, LossOptions, Task
from bcecli.core.ranking import OneVsRest
from bcecli.core.sketch import HISTOGRAM_EDGES, RELATIVE_ERROR
from bcecli.core.slices import Slice, finish
from bcecli.core.softmax_fit import SoftmaxRecalibration
from bcecli.core.summary import MulticlassTally
from bcecli.core.weight_scale import unscale
from bcecli.errors import FrameworkRaises, InputError


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability table: how many predictions fell from lo to hi, their mean,
    and the fraction of them whose label was positive."""

    lo: float
    hi: float
    count: int
    mean_pred: float
    frac_pos: float


@dataclass(frozen=True)
class OutputStats:
    """One output (multi-label) or one class (categorical)."""

    name: str
    support: int  # rows whose label is this class (categorical) / positive labels (multi-label)
    prior: float
    mean_loss: float
    accuracy: float
    baseline: float
    # ranking, decomposition and recalibration of this output (multi-label), or the
    # one-vs-rest ranking and decomposition of this class (categorical: no recalibration)
    auc: float | None = None
    average_precision: float | None = None
    decomposition: Decomposition | None = None
    recalibration: Recalibration | None = None
    calibration_ratio: float | None = None  # sum(w p) / sum(w y) of this output (multi-label)


@dataclass(frozen=True)
class WorstSample:
    """One of the rows with the largest losses."""

    row: int
    labels: tuple[float, ...]
    preds: tuple[float, ...]
    p_true: float
    loss: float
    ids: tuple[object, ...] = ()  # the values of the --id-col columns (Context.id_columns)


@dataclass(frozen=True)
class Report:
    """Everything ``bce score`` prints, in every format."""

    task: Task
    task_reason: str
    compat: Compat
    framework: str
    dtype: str
    context: Context
    n_rows: int
    n: int
    n_excluded: int
    mean_loss: float
    sum_loss: float
    median_loss: float
    median_exact: bool
    max_loss: float
    n_above_1: int
    share_above_1: float
    mean_metric: float | None  # Keras' metric (weighted mean) where it differs from the loss
    band: str | None  # "invalid" when the mean is not a valid loss
    band_id: str | None
    valid: bool  # False: an error flag makes the mean meaningless (see validity)
    invalid_reason: str | None  # why, naming the flag first
    invalid_flag: str | None  # the id of that flag (None: valid, or no flag says why)
    prior: tuple[float, ...]
    baseline_loss: float
    ne: float
    entropy_floor: float | None
    accuracy: float
    brier: float
    ece: float
    calibration: tuple[CalibrationBin, ...]
    outputs: tuple[OutputStats, ...]
    worst: tuple[WorstSample, ...]
    histogram: tuple[tuple[float, float, int], ...]
    flags: tuple[Flag, ...]
    notes: tuple[str, ...]
    mistakes: tuple[Mistake, ...]
    figures: BinaryFigures | MulticlassFigures  # what the task's checks measured
    init_sample: InitSample  # what bce check-init weighs besides the loss
    # Ranking metrics, the CORP decomposition of the literal log loss and the recalibration
    # ladder (binary; multi-label: means over the outputs, the ladder per output only). None
    # where they do not apply (a categorical task, labels or probabilities outside [0, 1]).
    auc: float | None = None
    average_precision: float | None = None
    decomposition: Decomposition | None = None
    recalibration: Recalibration | None = None
    # The ad-tech figures (torchrec, Twitter's RCE): sum(w p) / sum(w y) over every element
    # (binary tasks; None for a categorical one) and 100 (1 - NE).
    calibration_ratio: float | None = None
    rce: float | None = None
    # Multi-class (core/class_scores.py): the one-vs-rest AUC, the top-k accuracy for k = 1 ..
    # K, the softmax recalibration; ``decomposition`` is then the top-label one.
    auc_ovr: OneVsRest | None = None
    top_k: tuple[float, ...] | None = None
    softmax_recalibration: SoftmaxRecalibration | None = None
    # The CORP reliability curve (the isotonic fit as a step function): binary with one
    # output; multi-class: of the top label. None elsewhere.
    corp_curve: Curve | None = None

    def top_k_accuracy(self, asked: int | None = None) -> dict[int, float] | None:
        """k -> top-k accuracy, for k = 1, 5 where there are more than 5 classes, and
        ``asked`` (at most the number of classes); None for a binary task."""
        if self.top_k is None:
            return None
        ks = {1} | ({5} if len(self.top_k) > 5 else set())
        if asked is not None:
            ks.add(min(asked, len(self.top_k)))
        return {k: self.top_k[k - 1] for k in sorted(ks)}

    # The standard error of the mean loss (the ratio estimator's, see Tally.mean_se; None where
    # the mean is not finite) and, with --ci, the bootstrap intervals.
    mean_loss_se: float | None = None
    ci: Intervals | None = None
    slices: tuple[Slice, ...] | None = None  # --by: one per group, by share of the loss

    @property
    def quantile_error(self) -> float:
        """Relative error bound of the median (0 when it is exact)."""
        return 0.0 if self.median_exact else RELATIVE_ERROR

    def flag(self, flag_id: str) -> Flag | None:
        return next((f for f in self.flags if f.id == flag_id), None)


INVALID_BAND = "invalid"


def validity(flags: tuple[Flag, ...], mean_loss: float) -> tuple[Flag | None, str] | None:
    """Why the mean is not a valid loss, as (the flag that says so, the reason naming it first);
    None: it is one.

    The mean is invalid when an error flag puts scored rows outside the loss's domain
    (``INVALIDATING``: predictions or labels outside [0, 1], a categorical loss over one column,
    weights summing to zero), or when it is negative, which no cross-entropy of probabilities
    with weights >= 0 can be. Rows that are excluded (NaN, ignored, sparse labels out of range)
    leave the mean of the others valid."""
    for f in flags:
        if f.id in INVALIDATING:
            return f, f"{f.id}: {CATALOGUE[f.id][1]}"
    if mean_loss < 0:
        neg = next((f for f in flags if f.id == "negative_weights"), None)
        if neg is not None:
            return neg, f"{neg.id}: {CATALOGUE[neg.id][1]} (the mean is negative)"
        return None, "the mean is negative, which no cross-entropy of probabilities can be"
    return None


def _div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def binary_baseline(prior: np.ndarray, pos_weight: np.ndarray | None) -> np.ndarray:
    """Loss of the best constant prediction per output (with pos_weight inside the loss)."""
    if pos_weight is None:
        return binary_entropy(prior)
    pw = np.broadcast_to(pos_weight, prior.shape)
    best = pw * prior / (pw * prior + 1 - prior)
    with np.errstate(all="ignore"):
        a = np.where(prior > 0, pw * prior * np.log(best), 0.0)
        b = np.where(prior < 1, (1 - prior) * np.log1p(-best), 0.0)
    return np.asarray(-(a + b))


def _reduced(acc: Accumulator) -> tuple[float, float, float | None]:
    """(mean, sum, Keras metric) under the profile's reduction."""
    h = acc.head_totals()
    opts = acc.opts
    mean = _div(h.num, h.den)
    total = h.num
    lib = opts.compat.library
    if lib is not None and h.den <= 0:
        mean = _empty_weights_mean(lib, opts, h.num, h.den)
    if opts.weight_scale:  # num is in scaled weights; den too for a weighted mean
        total = unscale(total, opts.weight_scale)
        if not opts.weighted_mean or (lib is not None and h.den <= 0):
            mean = unscale(mean, opts.weight_scale)
    if opts.compat is Compat.TORCH and opts.task is Task.MULTILABEL:
        total *= acc.n_outputs  # reduction='sum' adds up every element
    metric = None
    if opts.compat.is_keras:
        # Keras' metric is the weighted mean over the valid rows (ignore_class's mask zeroes the
        # ignored rows' weights), except in Keras 3 without weights, whose Mean then divides by
        # every row, ignored ones included; tf_keras always divides by the valid rows.
        w_all = h.w
        t = acc.tally
        weighted = opts.class_weight is not None or (
            isinstance(t, MulticlassTally) and t.sample_weighted_rows > 0
        )
        if opts.compat is not Compat.KERAS2 and not weighted:
            w_all += acc.flags.count("ignored_rows")
        if w_all != h.den:
            metric = _div(h.wl, w_all)
    return mean, total, metric


def _empty_weights_mean(lib: Library, opts: LossOptions, num: float, den: float) -> float:
    """The mean a library reports when its weights sum to 0 (or below)."""
    if lib.empty_weights is EmptyWeights.RAISES:
        raise FrameworkRaises(
            f"under {{compat={opts.compat.value}}}, LightGBM's cross_entropy raises "
            f"(sum-of-weights = {den:f} is non-positive)",
            "give some rows a positive weight",
        )
    if den < 0:
        return _div(num, den)
    if lib.empty_weights is EmptyWeights.SUM:
        return num
    return 0.0 if lib.empty_weights is EmptyWeights.ZERO else float("nan")


def _prior_entropy(prior: np.ndarray) -> float:
    """The entropy of a class prior: the loss of always predicting it (0 log 0 = 0)."""
    with np.errstate(all="ignore"):
        return float(-np.sum(np.where(prior > 0, prior * np.log(prior), 0.0)))


def _prior_and_baselines(acc: Accumulator) -> tuple[np.ndarray, float, np.ndarray]:
    """(prior, baseline loss, per-output baselines): the weighted class prior or positive rate
    per output, what the best constant predictor scores, and what it pays per output (binary)
    or on a sample of each class (categorical)."""
    opts = acc.opts
    k = acc.n_outputs
    w_sum = acc.tally.w_sum.total()
    if opts.task.is_multiclass:
        counted = acc.multiclass.class_w.totals()
    else:
        b = acc.binary
        counted = b.pos_w.totals() if b.pos_w.seen else b.pos()  # no weights: the labels' sum
    prior = counted / w_sum if w_sum > 0 else np.full(k, np.nan)
    if opts.task.is_multiclass:
        with np.errstate(all="ignore"):
            per_output = -np.log(prior)
        return prior, _prior_entropy(prior), per_output
    return (prior, *_binary_baselines(opts, prior))


def _binary_baselines(opts: LossOptions, prior: np.ndarray) -> tuple[float, np.ndarray]:
    """(baseline loss, per-output baselines) of a binary task's base rates."""
    pw = None
    if opts.pos_weight is not None and not opts.compat.is_keras:
        pw = np.asarray(opts.pos_weight, dtype=np.float64)
    per_output = binary_baseline(prior, pw)
    if opts.compat is Compat.SKLEARN and len(prior) > 1:
        # sklearn scores a multi-label matrix as one categorical row (see diagnose's note)
        return _prior_entropy(prior), per_output
    return float(np.mean(per_output)), per_output


def _baseline(opts: LossOptions, prior: np.ndarray) -> float:
    """The baseline loss of a prior (categorical) or of base rates (binary)."""
    if opts.task.is_multiclass:
        return _prior_entropy(prior)
    return _binary_baselines(opts, prior)[0]


def _intervals(
    acc: Accumulator, prior: np.ndarray, mean: float, auc: float | None
) -> Intervals | None:
    """--ci: the percentile intervals of the bootstrap replicates (bcecli.core.bootstrap)."""
    boot = acc.tally.boot
    if boot is None:
        return None
    plan, k = boot.plan, acc.n_outputs
    s = boot.replicate_sums()
    num, den, wl, w, rows = (s[:, i] for i in range(HEAD_COLUMNS))
    correct, brier, stat_rows = (s[:, -i] for i in (3, 2, 1))
    with np.errstate(all="ignore"):
        if prior_columns(boot):
            priors = s[:, HEAD_COLUMNS : HEAD_COLUMNS + k] / w[:, None]
        else:  # many classes: the file's prior in every replicate
            priors = np.broadcast_to(prior, (len(s), k))
        baseline = np.array([_baseline(acc.opts, p) for p in priors])
        per = 1 if acc.opts.task.is_multiclass else k
        ne = np.where(baseline > 0, (wl / w) / baseline, np.nan)
        figures = {
            "mean_loss": num / den,
            "ne": ne,
            "accuracy": correct / (stat_rows * per),
            "brier": brier / (rows * per),
        }
    finite = math.isfinite(mean)
    return Intervals(
        level=plan.level,
        n_resamples=plan.n_resamples,
        seed=plan.seed,
        mean_loss=interval(figures["mean_loss"], plan.level) if finite else None,
        ne=interval(figures["ne"], plan.level) if finite else None,
        accuracy=interval(figures["accuracy"], plan.level),
        brier=interval(figures["brier"], plan.level),
        auc=_auc_interval(acc, auc, plan.level),
    )


def _auc_interval(acc: Accumulator, auc: float | None, level: float) -> tuple[float, float] | None:
    """DeLong's interval of the headline AUC (the mean over outputs: with the mean of their
    standard errors, the largest theirs can give), from the score tables."""
    if auc is None or not math.isfinite(auc) or acc.opts.task.is_multiclass:
        return None
    scores = acc.binary.scores
    if not scores.usable:
        return None
    fits = [delong(t.pos, t.neg) for t in (s.table() for s in scores.outputs)]
    ses = [se for a, se in fits if math.isfinite(a)]
    return auc_interval(auc, float(np.mean(ses)), level) if ses else None


def _calibration(acc: Accumulator) -> tuple[float, tuple[CalibrationBin, ...]]:
    """(ECE, the reliability table's non-empty bins)."""
    cal_n, cal_p, cal_y = acc.tally.calibration()
    ece = _div(float(np.abs(cal_y - cal_p).sum()), float(cal_n.sum()))
    bins = tuple(
        CalibrationBin(
            i / CALIBRATION_BINS,
            (i + 1) / CALIBRATION_BINS,
            int(cal_n[i]),
            float(cal_p[i] / cal_n[i]),
            float(cal_y[i] / cal_n[i]),
        )
        for i in range(CALIBRATION_BINS)
        if cal_n.size and cal_n[i] > 0
    )
    return ece, bins


def _worst(acc: Accumulator) -> tuple[WorstSample, ...]:
    w = acc.worst
    return tuple(
        WorstSample(
            int(w.rows[i]),
            tuple(float(v) for v in np.atleast_1d(w.labels[i])),
            tuple(float(v) for v in np.atleast_1d(w.preds[i])),
            float(w.p_true[i]),
            float(w.loss[i]),
            tuple(w.ids[i]) if w.ids is not None else (),
        )
        for i in range(len(w.rows))
    )


def _histogram(acc: Accumulator) -> tuple[tuple[float, float, int], ...]:
    edges = (*HISTOGRAM_EDGES, math.inf)
    return tuple((edges[i], edges[i + 1], c) for i, c in enumerate(acc.sketch.histogram()))


def finalize(acc: Accumulator, context: Context) -> Report:
    """The report of a run: its headline numbers, then what diagnose finds in its tallies."""
    n = acc.rows - acc.excluded
    if n == 0:
        raise InputError(
            f"all {acc.rows} rows were excluded ({_exclusion_summary(acc)})",
            "fix or drop the rows the flags name, then run again",
        )
    if acc.flags.count("weights_out_of_range"):
        # the weighted sums overflowed or lost their digits, and the flag says so: what is
        # derived from them is inf or NaN without a word from numpy
        with np.errstate(all="ignore"):
            return _finalize(acc, context)
    return _finalize(acc, context)


def _finalize(acc: Accumulator, context: Context) -> Report:
    opts = acc.opts
    n = acc.rows - acc.excluded
    mean, total, metric = _reduced(acc)
    h = acc.head_totals()
    prior, baseline, per_output_baseline = _prior_and_baselines(acc)
    t = acc.tally
    w_sum = t.w_sum.total()
    n_above = acc.flags.count("loss_above_1")
    init_sample = summarise(t, opts.task.is_multiclass, n, h.den, mean)
    scores = _score_analyses(acc, n, mean)
    classes = analyse_classes(acc.multiclass.scores) if opts.task.is_multiclass else None
    top = _headline_scores(scores)
    head = Headline(
        n=n,
        mean_loss=mean,
        share_above_1=n_above / n,
        baseline_loss=baseline,
        ne=_div(h.wl, h.w) / baseline if baseline > 0 else float("nan"),
        prior=tuple(float(v) for v in np.atleast_1d(prior)),
        entropy_floor=t.floor_w.total() / w_sum if t.floor_w.seen and w_sum > 0 else None,
        std_error=init_sample.std_error,
        auc=top.auc,
        temperature=_temperature_fit(acc, n, top, classes),
    )
    found = diagnose(acc, head, context)
    invalid = validity(found.flags, mean)
    band = band_for(mean)
    ece, calibration = _calibration(acc)
    ratio = None if opts.task.is_multiclass else acc.binary.calibration_ratio()[1]
    return Report(
        task=opts.task,
        task_reason=context.task_reason,
        compat=opts.compat,
        framework=FRAMEWORK_NAMES[opts.compat],
        dtype=acc.compute_dtype,
        context=context,
        n_rows=acc.rows,
        n=n,
        n_excluded=acc.excluded,
        mean_loss=mean,
        sum_loss=total,
        median_loss=acc.sketch.quantile(0.5),
        median_exact=acc.sketch.exact,
        max_loss=float(acc.worst.loss[0]) if len(acc.worst.loss) else float("nan"),
        n_above_1=n_above,
        share_above_1=head.share_above_1,
        mean_metric=metric,
        band=INVALID_BAND if invalid else band.label if band else None,
        band_id=INVALID_BAND if invalid else band.id if band else None,
        valid=invalid is None,
        invalid_reason=None if invalid is None else invalid[1],
        invalid_flag=None if invalid is None or invalid[0] is None else invalid[0].id,
        prior=head.prior,
        baseline_loss=baseline,
        ne=head.ne,
        entropy_floor=head.entropy_floor,
        accuracy=_div(*t.accuracy_counts()),
        brier=_div(t.brier.total(), n if opts.task.is_multiclass else n * acc.n_outputs),
        ece=ece,
        calibration=calibration,
        outputs=_output_stats(acc, context, n, prior, per_output_baseline, scores, classes),
        worst=_worst(acc),
        histogram=_histogram(acc),
        flags=found.flags,
        notes=context.notes + found.notes,
        mistakes=found.mistakes,
        figures=found.figures,
        init_sample=init_sample,
        auc=top.auc,
        average_precision=top.average_precision,
        decomposition=classes.top_label if classes else top.decomposition,
        recalibration=top.recalibration,
        calibration_ratio=ratio,
        rce=100 * (1 - head.ne),
        auc_ovr=classes.ovr if classes else None,
        top_k=classes.top_k if classes else None,
        softmax_recalibration=classes.recalibration if classes else None,
        corp_curve=classes.top_curve
        if classes
        else scores[0].curve
        if scores and len(scores) == 1
        else None,
        mean_loss_se=t.mean_se(n, mean, h.den),
        ci=_intervals(acc, prior, mean, top.auc),
        slices=None if t.slices is None else finish(t.slices),
    )


def _temperature_fit(
    acc: Accumulator, n: int, top: _Scores, classes: ClassAnalysis | None
) -> TemperatureFit | None:
    """The temperature fit the confidence flags judge: the binary ladder's (one output), or
    the softmax's."""
    if classes is not None:
        r = classes.recalibration
        return TemperatureFit(r.T, classes.literal_loss, r.temperature_loss, r.rows, r.exact)
    if acc.n_outputs == 1 and top.recalibration is not None and top.decomposition is not None:
        fit = top.recalibration.temperature
        return TemperatureFit(fit.T, top.decomposition.mean_loss, fit.loss, n)
    return None


def _score_analyses(acc: Accumulator, n: int, mean: float) -> tuple[ScoreAnalysis, ...] | None:
    """Ranking, decomposition and ladder per output (binary tasks), of the literal log loss
    weighted by the sample weights: its mean is the headline one (or each output's mean) under
    compat exact without class or positive weights or label smoothing, else the score
    tables' own (exact up to their row bound)."""
    opts = acc.opts
    if opts.task.is_multiclass:
        return None
    b = acc.binary
    literal = (
        opts.compat is Compat.EXACT
        and opts.class_weight is None
        and opts.pos_weight is None
        and not opts.label_smoothing
    )
    k = acc.n_outputs
    means: list[float | None] = [None] * k
    if literal and k == 1:
        means = [mean]
    elif literal and not b.pos_w.seen:  # no weights: each output's mean is its loss / n
        means = [float(v) / n for v in b.elem_loss.totals()]
    return analyse_outputs(b.scores, means)


@dataclass(frozen=True)
class _Scores:
    """The ranking fields of a report or of one output (None: they do not apply)."""

    auc: float | None = None
    average_precision: float | None = None
    decomposition: Decomposition | None = None
    recalibration: Recalibration | None = None

    @classmethod
    def of(cls, a: ScoreAnalysis) -> _Scores:
        r = a.ranking
        return cls(r.auc, r.average_precision, a.decomposition, a.recalibration)


def _headline_scores(scores: tuple[ScoreAnalysis, ...] | None) -> _Scores:
    """The report's ranking fields: the one output's, or the means over the outputs."""
    if not scores:
        return _Scores()
    if len(scores) == 1:
        return _Scores.of(scores[0])

    def mean(values: list[float]) -> float:
        defined = [v for v in values if not math.isnan(v)]  # an output with one class: no AUC
        return float(np.mean(defined)) if defined else math.nan

    return _Scores(
        auc=mean([a.ranking.auc for a in scores]),
        average_precision=mean([a.ranking.average_precision for a in scores]),
        decomposition=mean_decomposition([a.decomposition for a in scores]),
    )


def _exclusion_summary(acc: Accumulator) -> str:
    parts = []
    for fid in ("non_finite", "ignored_rows", "sparse_label_out_of_range"):
        c = acc.flags.count(fid)
        if c:
            parts.append(f"{c} {CATALOGUE[fid][1].lower()}")
    return ", ".join(parts) or "nothing to score"


def _output_stats(
    acc: Accumulator,
    context: Context,
    n: int,
    prior: np.ndarray,
    baseline: np.ndarray,
    scores: tuple[ScoreAnalysis, ...] | None,
    classes: ClassAnalysis | None = None,
) -> tuple[OutputStats, ...]:
    k = acc.n_outputs
    if k < 2:
        return ()
    names = context.names(k)
    if acc.opts.task.is_multiclass:
        # per class: over the rows of that class
        mc = acc.multiclass
        support = mc.class_n
        loss, correct, per = mc.class_loss.totals(), mc.class_correct, support
    else:
        # per output: support is its positive labels, the means are over every row
        b = acc.binary
        support = b.pos()
        loss, correct, per = b.elem_loss.totals(), b.correct, np.full(k, n)
        ratios = b.calibration_ratio()[0]
    out = []
    for i in range(k):
        extra = _Scores.of(scores[i]) if scores else _Scores()
        if classes and classes.per_class:
            ranked, dec = classes.per_class[i]
            extra = _Scores(ranked.auc, ranked.average_precision, dec)
        out.append(
            OutputStats(
                names[i],
                int(round(float(support[i]))),
                float(prior[i]),
                _div(float(loss[i]), float(per[i])),
                _div(float(correct[i]), float(per[i])),
                float(baseline[i]),
                auc=extra.auc,
                average_precision=extra.average_precision,
                decomposition=extra.decomposition,
                recalibration=extra.recalibration,
                calibration_ratio=None if acc.opts.task.is_multiclass else float(ratios[i]),
            )
        )
    return tuple(out)
