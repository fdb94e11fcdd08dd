"""The finished report: a frozen dataclass built from a (merged) accumulator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bcecli.core.accumulator import CALIBRATION_BINS, Accumulator
from bcecli.core.bands import band_for
from bcecli.core.binary import binary_entropy
from bcecli.core.flags import CATALOGUE, Flag
from bcecli.core.options import FRAMEWORK_NAMES, Compat, Task
from bcecli.core.sketch import HISTOGRAM_EDGES, RELATIVE_ERROR
from bcecli.errors import InputError


@dataclass(frozen=True)
class Context:
    """What the readers and task detection decided, carried into the report."""

    task_reason: str = ""
    label_columns: tuple[str, ...] = ()
    pred_columns: tuple[str, ...] = ()
    weight_column: str | None = None
    sources: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()  # one per output (multi-label) or class (categorical)
    notes: tuple[str, ...] = ()
    # A partitioned input: (global row of its first row, file name) per partition, in order.
    partitions: tuple[tuple[int, str], ...] = ()


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


@dataclass(frozen=True)
class WorstSample:
    """One of the rows with the largest losses."""

    row: int
    labels: tuple[float, ...]
    preds: tuple[float, ...]
    p_true: float
    loss: float


@dataclass(frozen=True)
class Mistake:
    """How often one true class was predicted as another."""

    true_class: str
    predicted: str
    count: int


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
    band: str | None
    band_id: str | None
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
    notes: tuple[str, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def quantile_error(self) -> float:
        """Relative error bound of the median (0 when it is exact)."""
        return 0.0 if self.median_exact else RELATIVE_ERROR

    def flag(self, flag_id: str) -> Flag | None:
        return next((f for f in self.flags if f.id == flag_id), None)


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


def headline(acc: Accumulator) -> tuple[float, float, float | None]:
    """(mean, sum, Keras metric) under the profile's reduction."""
    h = acc.head_totals()
    opts = acc.opts
    mean = _div(h["num"], h["den"])
    total = h["num"]
    if opts.compat is Compat.TORCH and opts.task is Task.MULTILABEL:
        total *= acc.n_outputs  # reduction='sum' adds up every element
    metric = None
    if opts.compat.is_keras:
        # Keras' metric is the weighted mean; with ignore_class it divides by every row.
        w_all = h["w"] + acc.flags.count("ignored_rows")
        if w_all != h["den"]:
            metric = _div(h["wl"], w_all)
    return mean, total, metric


def finalize(acc: Accumulator, context: Context) -> Report:
    from bcecli.core.diagnose import dataset_flags  # late: diagnose imports this module

    opts = acc.opts
    n = acc.rows - acc.excluded
    if n == 0:
        raise InputError(
            f"all {acc.rows} rows were excluded ({_exclusion_summary(acc)})",
            "fix or drop the rows named by --per-sample, then run again",
        )
    mean, total, metric = headline(acc)
    h = acc.head_totals()
    weighted_mean = _div(h["wl"], h["w"])
    band = band_for(mean)
    k = acc.n_outputs
    w_sum = acc.scalar("w_sum")
    if opts.task.is_multiclass:
        prior = acc.total("class_w") / w_sum if w_sum > 0 else np.full(k, np.nan)
        with np.errstate(all="ignore"):
            baseline = float(-np.sum(np.where(prior > 0, prior * np.log(prior), 0.0)))
            # a class's baseline: what the prior predictor pays on a sample of that class
            per_output_baseline = -np.log(prior)
    else:
        prior = acc.total("pos_w") / w_sum if w_sum > 0 else np.full(k, np.nan)
        pw = None
        if opts.pos_weight is not None and not opts.compat.is_keras:
            pw = np.asarray(opts.pos_weight, dtype=np.float64)
        per_output_baseline = binary_baseline(prior, pw)
        if opts.compat is Compat.SKLEARN and k > 1:
            with np.errstate(all="ignore"):
                baseline = float(-np.sum(np.where(prior > 0, prior * np.log(prior), 0.0)))
        else:
            baseline = float(np.mean(per_output_baseline))
    ne = weighted_mean / baseline if baseline > 0 else float("nan")
    floor = acc.scalar("floor_w") / w_sum if "floor_w" in acc.sums and w_sum > 0 else None

    n_el = acc.scalar("n_elements")
    accuracy = _div(acc.scalar("correct"), acc.scalar("n_correct_of") or n_el)
    brier = _div(acc.scalar("brier"), n)
    cal_n, cal_p, cal_y = acc.total("cal_n"), acc.total("cal_p"), acc.total("cal_y")
    ece = _div(float(np.abs(cal_y - cal_p).sum()), float(cal_n.sum()))
    calibration = tuple(
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
    outputs = _output_stats(acc, context, n, prior, per_output_baseline)
    worst = tuple(
        WorstSample(
            int(acc.worst.rows[i]),
            tuple(float(v) for v in np.atleast_1d(acc.worst.labels[i])),
            tuple(float(v) for v in np.atleast_1d(acc.worst.preds[i])),
            float(acc.worst.p_true[i]),
            float(acc.worst.loss[i]),
        )
        for i in range(len(acc.worst.rows))
    )
    hist_counts = acc.sketch.histogram()
    edges = (*HISTOGRAM_EDGES, math.inf)
    histogram = tuple((edges[i], edges[i + 1], c) for i, c in enumerate(hist_counts))
    n_above = acc.flags.count("loss_above_1")

    draft = Report(
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
        share_above_1=n_above / n,
        mean_metric=metric,
        band=band.label if band else None,
        band_id=band.id if band else None,
        prior=tuple(float(v) for v in np.atleast_1d(prior)),
        baseline_loss=baseline,
        ne=ne,
        entropy_floor=floor,
        accuracy=accuracy,
        brier=brier,
        ece=ece,
        calibration=calibration,
        outputs=outputs,
        worst=worst,
        histogram=histogram,
        flags=(),
        notes=context.notes,
    )
    flags, notes, mistakes, extras = dataset_flags(acc, draft)
    ordered = tuple(sorted(flags, key=lambda f: (f.severity.rank, list(CATALOGUE).index(f.id))))
    return _replace(
        draft, flags=ordered, notes=draft.notes + notes, mistakes=mistakes, extras=extras
    )


def _replace(report: Report, **changes: object) -> Report:
    from dataclasses import replace

    return replace(report, **changes)  # type: ignore[arg-type]


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
) -> tuple[OutputStats, ...]:
    k = acc.n_outputs
    if k < 2:
        return ()
    names = context.output_names or tuple(str(i) for i in range(k))
    if acc.opts.task.is_multiclass:
        support = acc.total("class_n")
        loss = acc.total("class_loss")
        correct = acc.total("class_correct")
        return tuple(
            OutputStats(
                names[i],
                int(support[i]),
                float(prior[i]),
                _div(float(loss[i]), float(support[i])),
                _div(float(correct[i]), float(support[i])),
                float(baseline[i]),
            )
            for i in range(k)
        )
    pos = acc.total("pos")
    loss = acc.total("elem_loss")
    correct = acc.total("correct")
    return tuple(
        OutputStats(
            names[i],
            int(round(float(pos[i]))),
            float(prior[i]),
            float(loss[i]) / n,
            float(correct[i]) / n,
            float(baseline[i]),
        )
        for i in range(k)
    )
