"""Turn the tallies into findings: flags (what was found, how many rows, what to do about it),
notes, and the figures the checks measured.

Diagnose reads the tallies and the headline numbers, never a report: the report is built once,
from the headline and the findings (``core.report`` imports this module, not the reverse).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from bcecli.core.accumulator import Accumulator
from bcecli.core.bands import INV_E_TEXT, true_class_probability
from bcecli.core.context import Context
from bcecli.core.flags import ROUNDOFF, Flag, make_flag, ordered
from bcecli.core.init_check import about, uniform_loss
from bcecli.core.options import (
    KERAS_EPSILON,
    LIBRARIES,
    TORCH_LOG_FLOOR,
    Compat,
    Labels,
    LossOptions,
    Task,
)
from bcecli.core.summary import BinaryTally
from bcecli.text import brief

SIGMOID_1 = 1 / (1 + math.exp(-1))  # sigmoid(sigmoid(x)) never leaves [0.5, 0.7311]
# Patterns over the whole file (inverted, double sigmoid) need this many rows to mean anything.
# Below this AUC the ranking itself is inverted: labels or columns swapped, not a bias.
INVERTED_AUC = 0.4
MIN_ROWS_FOR_PATTERNS = 10
# overconfident / underconfident: temperature scaling would remove at least this share of the
# loss, and at least this many nats (a share of a tiny loss is no finding)
TEMPERATURE_SHARE = 0.10
TEMPERATURE_GAIN = 0.01
# below this loss after temperature scaling the rows are separable: T is not identified
SEPARATED_LOSS = 1e-6
# How the profiles differ on a saturated prediction: the hint of every such flag.
COMPARE_PROFILES = "compare --compat keras, torch and sklearn"


def _saturated_costs() -> tuple[str, str]:
    """What a true-class probability of exactly 0 costs under each profile, (binary,
    categorical), from the profiles' own clips: Keras clips to [eps, 1 - eps] (in float32, so
    1 - (1 - eps) is not quite eps), PyTorch's BCE floors the log at -100 (its nll_loss of
    log 0 does not), scikit-learn clips to the float64 machine epsilon."""
    keras = brief(-math.log(KERAS_EPSILON))
    one = np.float32(1)
    keras_at_1 = brief(-math.log(float(one - (one - np.float32(KERAS_EPSILON)))))
    sklearn = brief(-math.log(float(np.finfo(np.float64).eps)))
    binary = (
        f"exact inf, Keras {keras} ({keras_at_1} at p=1 in float32), "
        f"PyTorch {brief(-TORCH_LOG_FLOOR)}, sklearn {sklearn}"
    )
    return binary, f"exact inf, Keras {keras}, PyTorch nll inf, sklearn {sklearn}"


SATURATED_COST, SATURATED_COST_CATEGORICAL = _saturated_costs()


def _library_costs(task: Task) -> str:
    """What a probability of exactly 0 for the label costs under each library profile that
    has a metric for ``task``: its cap, or inf (CatBoost and optax do not clip)."""
    costs = []
    for compat, lib in LIBRARIES.items():
        if lib.metric(task) is not None:
            cost = brief(lib.cap) if lib.cap is not None else "inf"
            if lib.label_rows and task is Task.CATEGORICAL:
                cost = "nan"  # softmax_cross_entropy: 0 * log 0 anywhere in the row
            costs.append(f"{compat.value} {cost}")
    right = "" if task.is_multiclass else " (catboost and optax: nan on the right side)"
    return ", ".join(costs) + right


def saturated_cost(opts: LossOptions) -> str:
    """The saturated_predictions message's costs: the frameworks' under their profiles, the
    libraries' under a library's."""
    if opts.compat.library is None:
        return SATURATED_COST_CATEGORICAL if opts.task.is_multiclass else SATURATED_COST
    task = Task.BINARY if opts.task is Task.MULTILABEL else opts.task
    return _library_costs(task)


def compare_profiles(opts: LossOptions) -> str:
    if opts.compat.library is None:
        return COMPARE_PROFILES
    return "compare --compat xgboost, lightgbm and catboost"


def _judge_by_ne(h: Headline) -> str:
    """The hint of a flag that says the bands mislead here."""
    return f"judge the model by NE ({brief(h.ne)}) rather than by the bands"


def _rows_text(
    rows: tuple[int, ...], count: int, partitions: tuple[tuple[int, str], ...] = ()
) -> str:
    """The first rows, as ``(rows 3, 17, ...)``; in a partitioned input each row is named by
    its partition file and its row there: ``(part-0001.parquet rows 3, 17; part-0004.parquet
    row 12, ...)``."""
    if not rows:
        return ""
    more = ", ..." if count > len(rows[:5]) else ""
    if partitions:
        starts = [s for s, _ in partitions]
        groups: dict[str, list[str]] = {}
        for r in rows[:5]:
            start, name = partitions[max(bisect.bisect_right(starts, r) - 1, 0)]
            groups.setdefault(name, []).append(str(r - start))
        named = [
            f"{name} row{'s' if len(local) > 1 else ''} {', '.join(local)}"
            for name, local in groups.items()
        ]
        return f" ({'; '.join(named)}{more})"
    shown = ", ".join(str(r) for r in rows[:5])
    return f" (row{'s' if count > 1 else ''} {shown}{more})"


@dataclass(frozen=True)
class Headline:
    """The report's headline numbers that the checks judge."""

    n: int  # rows scored
    mean_loss: float
    share_above_1: float
    baseline_loss: float
    ne: float
    prior: tuple[float, ...]
    entropy_floor: float | None
    std_error: float | None = None  # of the mean loss (None: undefined)
    auc: float | None = None  # ROC AUC (binary tasks; mean over outputs), None: not computed
    temperature: TemperatureFit | None = None  # the in-sample temperature fit (binary, softmax)


@dataclass(frozen=True)
class TemperatureFit:
    """Temperature scaling fitted in sample: ``T`` (z / T; T > 1 means over-confident), the
    literal loss before it and the loss it gives; ``rows``: the rows it was fitted on
    (``exact``: every row)."""

    T: float
    loss_before: float
    loss_after: float
    rows: int
    exact: bool = True


@dataclass(frozen=True)
class Mistake:
    """How often one true class was predicted as another."""

    true_class: str
    predicted: str
    count: int


@dataclass(frozen=True)
class BinaryFigures:
    """What the binary and multi-label checks measured (None where a check did not apply)."""

    # Brier score per element if every p were 1 - p (hard labels only)
    brier_if_inverted: float | None = None
    # categorical cross-entropy of the same rows (every label row one-hot)
    categorical_loss: float | None = None


@dataclass(frozen=True)
class MulticlassFigures:
    """What the categorical and sparse checks measured (None where a check did not apply)."""

    # the lowest loss softmax(softmax(x)) outputs can reach (rows that look double-softmaxed)
    double_softmax_floor: float | None = None


@dataclass(frozen=True)
class Diagnosis:
    """Everything diagnose found: flags in report order, notes, mistakes and figures."""

    flags: tuple[Flag, ...]
    notes: tuple[str, ...]
    mistakes: tuple[Mistake, ...]
    figures: BinaryFigures | MulticlassFigures


class Findings:
    """The flags, notes and figures gathered while diagnosing one input."""

    def __init__(self, acc: Accumulator, h: Headline, context: Context) -> None:
        self.acc = acc
        self.h = h
        self.context = context
        self.flags: list[Flag] = []
        self.notes: list[str] = []
        self.mistakes: tuple[Mistake, ...] = ()

    def tally(self, fid: str, message: str, hint: str) -> None:
        """A flag counted row by row; ``{count}`` and ``{rows}`` are filled in."""
        count = self.acc.flags.count(fid)
        if count:
            rows = self.acc.flags.first_rows(fid)
            text = message.format(
                count=count, rows=_rows_text(rows, count, self.context.partitions)
            )
            self.flags.append(make_flag(fid, count, rows, text, hint))

    def dataset(self, fid: str, count: int, message: str, hint: str) -> None:
        """A flag about the data as a whole."""
        self.flags.append(make_flag(fid, count, (), message, hint))


def diagnose(acc: Accumulator, h: Headline, context: Context) -> Diagnosis:
    """The findings of one run, from its tallies and its headline numbers."""
    found = Findings(acc, h, context)
    tally, dataset = found.tally, found.dataset
    opts = acc.opts
    n = h.n
    k = acc.n_outputs

    if context.labels_sorted:  # the readers' guess, said where it cannot be missed
        dataset(
            "labels_sorted_order",
            n,
            f"{context.labels_sorted}: nothing in the file said which label is which class",
            "name the prediction columns after the labels (pd.DataFrame(proba, "
            "columns=clf.classes_)), or write the labels as class indices",
        )

    # --- rows that were excluded or are malformed -----------------------------------------
    tally(
        "non_finite",
        "{count} row(s) hold NaN or infinite values{rows}; they are excluded from every number",
        "fix the step that wrote them (an empty cell reads as NaN), or drop those rows",
    )
    t = acc.tally
    x_min = float(t.x_outside.lo[0]) if t.x_outside.lo is not None else np.inf
    x_max = float(t.x_outside.hi[0]) if t.x_outside.hi is not None else -np.inf
    tally(
        "pred_out_of_range",
        "{count} row(s) have predictions outside [0, 1]{rows}"
        + f" (min {brief(x_min)}, max {brief(x_max)})",
        _out_of_range_hint(x_min, x_max),
    )
    tally(
        "pred_roundoff",
        "{count} row(s) have predictions a float round-off outside [0, 1]{rows}",
        "clip them to [0, 1]: Keras clips silently, PyTorch and scikit-learn raise",
    )
    minus1 = t.labels_minus1 if isinstance(t, BinaryTally) else 0
    pm1 = isinstance(t, BinaryTally) and minus1 > 0 and t.labels_not_pm1 == 0
    tally(
        "label_out_of_range",
        "{count} row(s) have labels outside [0, 1]{rows}",
        "labels are coded -1/+1: map -1 to 0"
        if pm1
        else "binary labels are 0/1 or probabilities in [0, 1]; for class indices use "
        "--task sparse",
    )
    if pm1:
        dataset(
            "labels_pm1",
            minus1,
            "labels are coded -1/+1 (as for a hinge loss), not 0/1",
            "map -1 to 0 before scoring: cross-entropy needs 0/1 labels",
        )
    tally(
        "weights_out_of_range",
        "{count} row(s) have sample weights more than 2**900 times the first row's{rows}: "
        "float64 cannot sum them with it (bce scales the weights by a power of two chosen from "
        "the first row's weight), so the weighted sums overflow",
        "rescale the weights (dividing them all by the largest changes no weighted mean), or "
        "drop the rows whose weight is negligible beside the largest",
    )
    tally(
        "negative_weights",
        "{count} row(s) have negative sample weights{rows}: a negative weight rewards a worse "
        "prediction, so the weighted mean is not a loss",
        "the weight column is probably not a weight (a signed score, a residual, a log of a "
        "weight?): check that --sample-weight names the right column, or drop or clip the "
        "negative weights",
    )

    # --- the predictions as a whole -------------------------------------------------------
    raw_min, raw_max = t.raw.lo, t.raw.hi
    if n >= 2 and raw_min is not None and raw_max is not None and np.all(raw_min == raw_max):
        value = float(np.atleast_1d(raw_min)[0])
        if k == 1 and value == 1.0 and not opts.from_logits:
            hint = (
                "a softmax over a single unit always outputs 1.0: use a sigmoid output with "
                "binary cross-entropy, or 2 softmax units with categorical cross-entropy"
            )
        elif about(h.mean_loss, uniform_loss(opts.task.is_multiclass, k), h.std_error):
            hint = (
                "a final layer whose kernel and bias are zero outputs this before training "
                "(bce check-init checks the starting loss); after training, check that it "
                "trained and that the prediction column is the model's output"
            )
        else:
            hint = (
                "the model outputs a constant: check that it trained and that the prediction "
                "column is the model's output"
            )
        what = f"= {brief(value)}" if k == 1 else "constant in every column"
        if about(h.mean_loss, h.baseline_loss, h.std_error) and h.baseline_loss > 0:
            # The textbook prior-bias initialisation (a zero kernel, the bias at the log
            # prior) outputs exactly this. The numbers are right and mean what they say (the
            # loss is the baseline's, NE about 1), so it is a warning, not an error: the model
            # carries no information yet, which is the ideal start before training and a
            # failure after it.
            dataset(
                "constant_prior",
                n,
                f"all {n} predictions are the same ({what}) and match the label prior: the "
                f"loss {brief(h.mean_loss)} is the prior's entropy (NE {brief(h.ne)})",
                "a final layer initialised to the prior (zero kernel, bias = log prior) gives "
                "exactly this: before training it is the ideal start (bce check-init); after "
                "training the inputs do not reach the output: check the layers and that the "
                "prediction column is the model's output",
            )
        else:
            dataset(
                "constant_predictions",
                n,
                f"all {n} predictions are the same ({what}); the loss only measures the base rate",
                hint,
            )
    soft_rows = acc.flags.count("soft_labels")
    if soft_rows:
        floor = h.entropy_floor if h.entropy_floor is not None else float("nan")
        tally(
            "soft_labels",
            "{count} row(s) have soft labels (not a single class){rows}; the loss cannot go "
            f"below their entropy, {brief(floor)} here (the entropy floor)",
            f"judge the excess over the floor: mean - floor = {brief(h.mean_loss - floor)}",
        )
    figures = _multiclass_flags(found) if opts.task.is_multiclass else _binary_flags(found)

    # --- the number itself -------------------------------------------------------------------
    tally(
        "loss_above_1",
        "{count} of " + str(n) + f" samples ({h.share_above_1:.1%}) cost more than 1 nat"
        "{rows}: their true-class probability is below " + INV_E_TEXT,
        "a few are normal: one confident mistake costs -ln(p), 2.30 at p = 0.1; see the worst "
        "samples",
    )
    untrained_hint = _untrained_hint(h, k, opts.task.is_multiclass)
    if h.mean_loss > 1:
        dataset(
            "mean_above_1",
            n,
            f"the mean loss {brief(h.mean_loss)} is above 1: on average the true class gets "
            f"less than {INV_E_TEXT} (geometric mean "
            f"{brief(true_class_probability(h.mean_loss))})",
            untrained_hint
            or "not a bug by itself, but rarely a healthy model: check the other flags "
            "(logits, inverted or misaligned labels)",
        )
    if (
        not math.isnan(h.ne)
        and h.ne >= 1
        and not any(f.id == "constant_prior" for f in found.flags)
    ):
        dataset(
            "ne_above_1",
            n,
            f"NE = {brief(h.ne)}: the loss is no better than always predicting the base rate "
            f"(baseline {brief(h.baseline_loss)})",
            untrained_hint
            or "the model learned nothing usable here: check that labels and predictions are in "
            "the same row order and that the right columns were used",
        )
    _confidence_flag(found)
    # PyTorch's cross_entropy divides by the true classes' weights: 0 / 0 when they are all 0
    torch_den_zero = (
        opts.compat is Compat.TORCH
        and opts.task.is_multiclass
        and opts.class_weight is not None
        and acc.head_totals().den == 0
    )
    if n and (
        (t.w_sum.total() == 0 and opts.compat in (Compat.EXACT, Compat.SKLEARN)) or torch_den_zero
    ):
        dataset(
            "weights_sum_zero",
            n,
            "the weights sum to zero, so the weighted mean is undefined (0 / 0)",
            "check the --sample-weight column"
            if opts.class_weight is None
            else "check --class-weight (a class weight of 0 for every class present?) and "
            "the --sample-weight column, if any",
        )
    return Diagnosis(ordered(found.flags), tuple(found.notes), found.mistakes, figures)


def _confidence_flag(found: Findings) -> None:
    """``overconfident`` / ``underconfident``: temperature scaling alone would remove at least
    ``TEMPERATURE_SHARE`` of the loss and at least ``TEMPERATURE_GAIN`` nats."""
    fit = found.h.temperature
    if fit is None or found.h.n < MIN_ROWS_FOR_PATTERNS:
        return
    before, after, t = fit.loss_before, fit.loss_after, fit.T
    if not (math.isfinite(before) and math.isfinite(after) and math.isfinite(t) and t > 0):
        return  # an infinite loss no scale mends; T <= 0: the ranking is inverted (see flags)
    gain = before - after
    if gain < TEMPERATURE_GAIN or gain < TEMPERATURE_SHARE * before:
        return
    if after < SEPARATED_LOSS:
        return  # the scores separate the classes: T -> 0 drives the in-sample loss to 0
    over = t > 1
    where = "every row" if fit.exact else f"a sample of {fit.rows:,} rows"
    found.dataset(
        "overconfident" if over else "underconfident",
        found.h.n,
        f"temperature scaling (T = {t:.3g}, fitted in sample on {where}) would bring the "
        f"loss from {brief(before)} to {brief(after)} ({gain / before:.0%} of it): the "
        "probabilities are "
        + (
            "over-confident, too close to 0 and 1 for how often they are right"
            if over
            else "under-confident, too timid for how often they are right"
        ),
        f"fit the temperature on a held-out set (divide the logits by T before the "
        f"{'softmax' if found.acc.opts.task.is_multiclass else 'sigmoid'}), then score the "
        "test set: this T is fitted on the rows it is scored on, so the gain is optimistic",
    )


def _out_of_range_hint(x_min: float, x_max: float) -> str:
    if x_min == 0 and x_max > 1 + ROUNDOFF:
        # non-negative with exact zeros: what a ReLU gives, not a probability nor a logit
        return (
            "non-negative, with exact zeros and values above 1: a ReLU output layer? a "
            "classifier's output needs a sigmoid (or a softmax for K classes); if these are "
            "logits, re-run with --from-logits"
        )
    if x_min < -ROUNDOFF or x_max > 1 + ROUNDOFF:
        return "they look like logits: re-run with --from-logits"
    return "clip them to [0, 1]"


def _untrained_hint(h: Headline, k: int, multiclass: bool) -> str | None:
    """The hint for a loss at chance level (ln K) or at the prior's entropy (NE about 1, within
    bce check-init's tolerance): what an untrained model scores. None for any other loss."""
    chance = uniform_loss(multiclass, k)
    if about(h.mean_loss, chance, h.std_error):
        name = f"ln {k} = {brief(chance)}" if multiclass else f"ln 2 = {brief(chance)}"
        what = f"chance level, {name}"
    elif h.baseline_loss > 0 and about(h.mean_loss, h.baseline_loss, h.std_error):
        what = f"the prior's entropy {brief(h.baseline_loss)}"
    else:
        return None
    return (
        f"the loss is about {what}: what an untrained model scores. Before training, bce "
        "check-init checks the starting loss and the bias to set; after training, the model "
        "learned nothing: check that labels and predictions are in the same row order and that "
        "the right columns were used"
    )


def _binary_flags(found: Findings) -> BinaryFigures:
    acc, h = found.acc, found.h
    tally, dataset, notes = found.tally, found.dataset, found.notes
    opts = acc.opts
    n = h.n
    k = acc.n_outputs
    b = acc.binary
    wrong = b.saturated_wrong
    tally(
        "saturated_predictions",
        "{count} row(s) have predictions of exactly 0 or 1{rows}"
        + (
            f", {wrong} on the wrong side: each such value costs {saturated_cost(opts)}"
            if wrong
            else " (all on the right side)"
        ),
        f"the loss then depends on the framework's clip: {compare_profiles(opts)}, or save "
        "unrounded probabilities",
    )
    tally(
        "clipped_predictions",
        "{count} row(s) have predictions the framework clips to [eps, 1 - eps]{rows}",
        "the clipped value is what the framework reports; --compat exact shows the literal one",
    )
    soft_rows = acc.flags.count("soft_labels")
    categorical_loss = brier_if_inverted = None
    if k >= 2 and not opts.from_logits and b.rows_sum_1 == n:
        dataset(
            "rows_sum_to_1",
            n,
            f"every prediction row sums to 1 across the {k} outputs: softmax outputs "
            "(mutually exclusive classes) scored with binary cross-entropy",
            "score them with categorical cross-entropy: --task categorical (one-hot labels) or "
            "--task sparse (class indices)",
        )
    if k >= 2 and b.rows_one_hot == n:
        zeros_acc = (k - 1) / k
        cce = b.cce_one_hot.total() / n
        categorical_loss = cce
        dataset(
            "one_hot_labels_bce",
            n,
            f"every label row is one-hot: {k} mutually exclusive classes scored with binary "
            f"cross-entropy (mean over the {k} outputs, {brief(h.mean_loss)}); categorical "
            f"cross-entropy of the same rows is {brief(cce)}. Keras' 'accuracy' with a BCE loss "
            f"is binary accuracy per output, inflated: predicting all zeros already scores "
            f"{zeros_acc:.0%}",
            "use --task categorical (a softmax output, categorical cross-entropy and argmax "
            "accuracy)",
        )
    if opts.from_logits and b.logits_outside_unit == 0:
        dataset(
            "logits_flag_on_probabilities",
            n,
            "--from-logits was given but every value is in [0, 1]: these look like probabilities",
            "drop --from-logits: a sigmoid of a probability squashes it into [0.5, 0.73]",
        )
    p_min, p_max = b.p.lo, b.p.hi
    if (
        not opts.from_logits
        and n >= MIN_ROWS_FOR_PATTERNS
        and p_min is not None
        and p_max is not None
        and float(np.min(p_min)) >= 0.5
        and float(np.max(p_max)) <= SIGMOID_1 + 1e-9
        and float(np.max(p_max)) > float(np.min(p_min))
    ):
        dataset(
            "double_sigmoid",
            n,
            f"every prediction lies in [0.5, {SIGMOID_1:.4f}], the range of sigmoid(sigmoid(x))",
            "a sigmoid was applied twice (an activation plus a loss that applies its own): "
            "score the pre-sigmoid values with --from-logits",
        )
    n_el = b.n_elements
    hard = soft_rows == 0 and opts.label_smoothing == 0
    if hard and n_el:
        # Brier per element, and what it would be for 1 - p: with 0/1 labels,
        # (1 - p - y)^2 - (p - y)^2 = (1 - 2p)(1 - 2y), so sums of p, y and p y suffice.
        sp, sy, spy = float(b.p_sum().sum()), float(b.pos().sum()), b.py_sum()
        brier_el = b.brier.total() / n_el
        brier_inv = brier_el + (n_el - 2 * sy - 2 * sp + 4 * spy) / n_el
        acc_el = float(b.correct.sum()) / n_el
        brier_if_inverted = brier_inv
        if n >= MIN_ROWS_FOR_PATTERNS and acc_el < 0.3 and brier_inv < 0.5 * brier_el:
            found_what = (
                f"accuracy {acc_el:.1%} and Brier {brief(brier_el)}, but 1 - p would give "
                f"accuracy about {1 - acc_el:.1%} and Brier {brief(brier_inv)}"
            )
            # Inverted labels invert the ranking too (AUC well below 0.5); predictions that all
            # lean to the wrong class while ranking no worse than chance are a bias instead,
            # e.g. an untrained model whose final bias has the wrong sign.
            if h.auc is not None and h.auc >= INVERTED_AUC:
                dataset(
                    "biased_predictions",
                    n,
                    f"{found_what}; yet the ranking is not inverted (AUC {h.auc:.3f})",
                    "the predictions lean to the wrong class as a whole, as a final-layer bias "
                    "of the wrong sign does (an untrained model? see bce check-init); the labels "
                    "are not the cause: fix the bias, or recalibrate",
                )
            else:
                dataset(
                    "inverted_predictions",
                    n,
                    found_what,
                    "the predictions look like the probability of the other class: check "
                    "which column or label is the positive class",
                )
    y_min, y_max = b.y.lo, b.y.hi
    if y_min is not None and y_max is not None:
        single = np.flatnonzero(np.atleast_1d(y_min == y_max))
        if len(single):
            value = brief(float(np.atleast_1d(y_min)[single[0]]))
            where = "" if k == 1 else f" in {len(single)} of the {k} outputs"
            dataset(
                "single_class",
                n,
                f"every label is {value}{where}: NE is undefined (the base rate alone is perfect)",
                "sklearn's log_loss raises here unless labels=[0, 1] is passed; score a "
                "sample that holds both classes",
            )
    prior = np.atleast_1d(np.asarray(h.prior))
    if k == 1 and len(prior) and not math.isnan(prior[0]) and 0 < prior[0] < 1:
        p = float(prior[0])
        if p < 0.1 or p > 0.9:
            dataset(
                "class_imbalance",
                n,
                f"positives are {p:.1%} of the labels: always predicting {p:.3g} already "
                f"scores {brief(h.baseline_loss)} (band: the bands assume balanced classes)",
                _judge_by_ne(h),
            )
    if opts.compat.is_keras and acc.flags.count("clipped_predictions"):
        notes.append(
            "Keras' model.fit on the TensorFlow backend computes the loss from the logits when "
            "the last layer has a sigmoid or softmax, without clipping; saved probabilities can "
            "therefore give a smaller number than the training log when predictions saturate."
        )
    if opts.compat is Compat.SKLEARN and opts.task is Task.MULTILABEL:
        notes.append(
            "sklearn's log_loss on a multi-label indicator matrix sums -y*log(p) over the "
            "outputs and ignores the 1-p terms: it is not the mean binary cross-entropy."
        )
    notes.extend(_library_notes(acc))
    return BinaryFigures(brier_if_inverted, categorical_loss)


def _library_notes(acc: Accumulator) -> list[str]:
    """Where a library's rule is a trap, say so, with the literal value beside it."""
    opts, b = acc.opts, acc.binary
    lib = opts.compat.library
    if lib is None:
        return []
    out = []
    h = acc.head_totals()
    name = f"--compat {opts.compat.value}"
    if b.trap_rows:
        _, lib_wl, exact_wl = (float(v) for v in b.trap.totals())
        literal = brief(_ratio(h.num - lib_wl + exact_wl, h.den))
        if lib.labels is Labels.ABOVE_0:
            rule = (
                "LightGBM's binary_logloss counts every label above 0 as a positive (a soft "
                "label 0.2 is scored as 1)"
            )
            other = "; --compat lightgbm-xentropy is LightGBM's metric that keeps them"
        elif lib.labels is Labels.ABOVE_HALF:
            rule = "CatBoost's Logloss counts every label above 0.5 as a positive (its border)"
            other = "; --compat catboost-xentropy is CatBoost's metric that keeps them"
        else:
            rule = (
                "XGBoost reads predictions as float32, so a probability within 3e-8 of 1 "
                "(1 - 1e-10, say) becomes 1.0, and one below 1e-45 becomes 0, which cost its "
                f"cap {brief(lib.cap or 0.0)} on the wrong side"
            )
            other = ""
        what = "label(s) other than 0 and 1" if other else "such prediction(s)"
        out.append(
            f"{rule}: {b.trap_rows} row(s) hold {what}. {name} reports "
            f"{brief(_ratio(h.num, h.den))}; with those rows scored as given (the literal "
            f"formula, float64) the mean would be {literal}{other}."
        )
    w_sum = b.w_sum.total()
    if lib.truncated_weight_sum and acc.n_outputs > 1 and b.w_sum.seen and h.den != w_sum:
        metric = lib.metric(opts.task)
        out.append(
            f"CatBoost's {metric} divides by the sum of the weights truncated to integers "
            f"({brief(h.den)}, where the weights sum to {brief(w_sum)}; a weight of 0.5 counts "
            f"as 0): {name} reports {brief(_ratio(h.num, h.den))}, the weighted mean is "
            f"{brief(_ratio(h.num, w_sum))}."
        )
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _multiclass_flags(found: Findings) -> MulticlassFigures:
    acc, h = found.acc, found.h
    mc = acc.multiclass
    tally, dataset, notes = found.tally, found.dataset, found.notes
    opts = acc.opts
    n = h.n
    k = acc.n_outputs
    names = list(found.context.names(k))
    if k == 1:
        dataset(
            "categorical_single_column",
            n,
            "categorical cross-entropy over a single column: a softmax over one unit always "
            "outputs 1.0, so the loss is 0 (Keras: about 1e-7) whatever the labels",
            "for one output use binary cross-entropy with a sigmoid (--task binary); for K "
            "classes give K softmax columns",
        )
    tally(
        "saturated_predictions",
        "{count} row(s) give the true class a probability of exactly 0{rows}: each costs "
        + saturated_cost(acc.opts),
        f"the number depends on the framework's clip: {compare_profiles(acc.opts)}",
    )
    tally(
        "sparse_label_out_of_range",
        "{count} row(s) have a label outside [0, " + str(k) + "){rows}; Keras on JAX silently "
        "counts them as a loss of 0, PyTorch, TensorFlow and scikit-learn raise",
        "labels are class indices 0 .. K-1; if they run 1 .. K, subtract 1",
    )
    tally(
        "ignored_rows",
        "{count} row(s) have the label --ignore-class{rows}; they are left out of the mean",
        "this is what --ignore-class asks for; the mean is over the other rows",
    )
    if opts.compat.is_keras:
        renorm_text = "Keras divides each row by its sum before the loss, as reported here"
    else:
        sums = acc.head_totals()
        renormalised = _ratio(sums.wl + mc.renorm_shift_w.total(), sums.w)
        if opts.compat is Compat.TORCH and not mc.soft_target_rows and opts.label_smoothing == 0:
            used, dividers = "nll_loss(log p)", "Keras and cross_entropy(log p) do"
        else:
            used, dividers = "the literal loss", "Keras does"
        renorm_text = (
            f"{used} uses them as they are; dividing each row by its sum (as {dividers}) "
            f"would give {brief(renormalised)}"
        )
    logits_like = mc.x_outside.lo is not None  # some value outside [0, 1]
    tally(
        "rows_not_sum_1",
        "{count} prediction row(s) do not sum to 1{rows}, beyond the rounding of the decimals "
        "they were written with; " + renorm_text,
        "these are not softmax outputs: check the columns (all K classes?)"
        + (", or pass logits with --from-logits" if logits_like else ""),
    )
    if mc.rounded_rows and mc.rounded_decimals.hi is not None and mc.rounded_sums.hi is not None:
        lo_d, hi_d = int(mc.rounded_decimals.lo[0]), int(mc.rounded_decimals.hi[0])  # type: ignore[index]
        decimals = f"{lo_d}" if lo_d == hi_d else f"{lo_d} to {hi_d}"
        notes.append(
            f"{mc.rounded_rows} prediction row(s) were written with {decimals} decimals and sum "
            f"to 1 only to that precision (sums from {brief(float(mc.rounded_sums.lo[0]))} to "  # type: ignore[index]
            f"{brief(float(mc.rounded_sums.hi[0]))}, within K/2 units of the last decimal): "
            f"rounded softmax outputs, not flagged; {renorm_text}."
        )
    class_n = mc.class_n  # rows per true class
    if opts.task is Task.SPARSE:
        lo = float(mc.label.lo[0]) if mc.label.lo is not None else np.nan
        if n >= MIN_ROWS_FOR_PATTERNS and k >= 3 and lo >= 1 and class_n.size and class_n[0] == 0:
            highest = int(mc.label.hi[0]) if mc.label.hi is not None else 0
            dataset(
                "labels_one_indexed",
                n,
                f"class 0 never appears and the labels start at 1 (highest {highest}, {k} "
                "prediction columns): they may be 1-indexed",
                "if the labels run 1 .. K, subtract 1 so they match the prediction columns "
                "0 .. K-1",
            )
    ratio = mc.row_ratio.hi
    double_softmax_floor = None
    if opts.from_logits and k >= 2 and n > 0 and mc.logit_rows_sum_1 >= n:
        # softmax(p) of a probability row has max/min <= e: the double-softmax floor applies
        floor = math.log(1 + (k - 1) / math.e)
        double_softmax_floor = floor
        dataset(
            "logits_flag_on_probabilities",
            n,
            "--from-logits was given but every row is in [0, 1] and sums to 1: these look like "
            f"softmax outputs, and a softmax of them cannot score below ln(1 + (K-1)/e) = "
            f"{brief(floor)} for K = {k} (the mean here: {brief(h.mean_loss)})",
            "drop --from-logits; PyTorch's CrossEntropyLoss applies its own softmax: feed it the "
            "logits, or give log-probabilities to NLLLoss",
        )
    if (
        ratio is not None
        and k >= 2
        and n >= MIN_ROWS_FOR_PATTERNS
        and not opts.from_logits
        and float(ratio[0]) <= math.e * (1 + 1e-6)
    ):
        floor = math.log(1 + (k - 1) / math.e)
        double_softmax_floor = floor
        dataset(
            "double_softmax",
            n,
            f"no prediction row has a max/min ratio above e: the signature of "
            f"softmax(softmax(x)); such outputs cannot score below ln(1 + (K-1)/e) = "
            f"{brief(floor)} for K = {k}",
            "a softmax was applied twice (a softmax layer plus a loss that applies its own): "
            "score the pre-softmax values with --from-logits, or drop one softmax",
        )
    present = np.flatnonzero(class_n > 0) if class_n.size else np.array([], dtype=int)
    if class_n.size and n >= k and 0 < len(present) < k:
        missing = [names[i] for i in range(k) if class_n[i] == 0]
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        dataset(
            "missing_classes",
            len(missing),
            f"{len(missing)} of {k} classes never appear in the labels: {shown}"
            + (
                "; sklearn's log_loss raises here unless labels=range(K) is passed, and this "
                "is the value it gives with them"
                if opts.compat is Compat.SKLEARN
                else ""
            ),
            "their columns only add loss through the probability they take from the others; "
            "check the label encoding",
        )
    if len(present) == 1:
        dataset(
            "single_class",
            n,
            f"every label is class {names[int(present[0])]}: NE is undefined (the prior alone "
            "is perfect)",
            "score a sample that holds several classes",
        )
    conf = mc.confusion
    if conf is not None and k >= 2:
        m = np.asarray(conf).reshape(k, k)
        columns = list(found.context.pred_columns)
        _confusion_findings(found, m, names, columns if len(columns) == k else names, n)
    prior = np.asarray(h.prior)
    pos = prior[prior > 0]
    if len(pos) >= 2 and pos.max() / pos.min() >= 10:
        dataset(
            "class_imbalance",
            n,
            f"the classes are imbalanced: priors from {brief(float(pos.min()))} to "
            f"{brief(float(pos.max()))}; predicting the prior alone scores "
            f"{brief(h.baseline_loss)}",
            _judge_by_ne(h),
        )
    if k >= 2:
        notes.append(
            f"The bands assume a balanced binary task; with {k} classes a uniform guess costs "
            f"ln {k} = {math.log(k):.4f} and predicting the class prior costs "
            f"{brief(h.baseline_loss)}: read NE."
        )
    return MulticlassFigures(double_softmax_floor)


def _confusion_findings(
    found: Findings, m: np.ndarray, names: list[str], columns: list[str], n: int
) -> None:
    k = len(m)
    off = m.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:5]
    found.mistakes = tuple(
        Mistake(names[int(i // k)], names[int(i % k)], int(off.flat[i]))
        for i in order
        if off.flat[i] > 0
    )
    support = m.sum(axis=1)
    rows = [t for t in range(k) if support[t] > 0]
    if n < 10 * len(rows) or len(rows) < 2:
        return
    best = {t: int(np.argmax(m[t])) for t in rows}
    if len(set(best.values())) != len(rows) or all(best[t] == t for t in rows):
        return
    permuted = sum(m[t, best[t]] for t in rows) / n
    plain = float(np.trace(m)) / n
    if permuted >= plain + 0.25 and permuted >= 0.5:
        moved = [
            f"column {columns[best[t]]} behaves like class {names[t]}" for t in rows if best[t] != t
        ]
        found.dataset(
            "columns_misordered",
            n,
            f"the prediction columns look mis-ordered: {'; '.join(moved[:5])}; that order "
            f"would give accuracy {permuted:.1%} instead of {plain:.1%}",
            "check that the prediction columns follow the label encoding (class 0 first)",
        )
