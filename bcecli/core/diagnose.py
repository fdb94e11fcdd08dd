"""Turn the tallies into flags: what was found, how many rows, and what to do about it."""

from __future__ import annotations

import math

import numpy as np

from bcecli.core.accumulator import Accumulator
from bcecli.core.flags import Flag, make_flag
from bcecli.core.options import Compat, Task
from bcecli.core.report import Mistake, Report

# What a prediction of exactly 0 or 1 on the wrong side costs under each profile.
SATURATED_COST = "exact inf, Keras 16.12 (15.94 at p=1 in float32), PyTorch 100, sklearn 36.04"
INV_E = 1 / math.e
SIGMOID_1 = 1 / (1 + math.exp(-1))  # sigmoid(sigmoid(x)) never leaves [0.5, 0.7311]


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _rows_text(rows: tuple[int, ...], count: int) -> str:
    if not rows:
        return ""
    shown = ", ".join(str(r) for r in rows[:5])
    more = ", ..." if count > len(rows[:5]) else ""
    return f" (row{'s' if count > 1 else ''} {shown}{more})"


class Findings:
    """The flags, notes and extra figures gathered while diagnosing one report."""

    def __init__(self, acc: Accumulator) -> None:
        self.acc = acc
        self.flags: list[Flag] = []
        self.notes: list[str] = []
        self.extras: dict[str, float] = {}
        self.mistakes: tuple[Mistake, ...] = ()

    def tally(self, fid: str, message: str, hint: str) -> None:
        """A flag counted row by row; ``{count}`` and ``{rows}`` are filled in."""
        count = self.acc.flags.count(fid)
        if count:
            rows = self.acc.flags.first_rows(fid)
            text = message.format(count=count, rows=_rows_text(rows, count))
            self.flags.append(make_flag(fid, count, rows, text, hint))

    def dataset(self, fid: str, count: int, message: str, hint: str) -> None:
        """A flag about the data as a whole."""
        self.flags.append(make_flag(fid, count, (), message, hint))


def dataset_flags(
    acc: Accumulator, r: Report
) -> tuple[list[Flag], tuple[str, ...], tuple[Mistake, ...], dict[str, float]]:
    found = Findings(acc)
    tally, dataset = found.tally, found.dataset
    opts = acc.opts
    n = r.n
    k = acc.n_outputs

    # --- rows that were excluded or are malformed -----------------------------------------
    tally(
        "non_finite",
        "{count} row(s) hold NaN or infinite values{rows}; they are excluded from every number",
        "fix the step that wrote them (an empty cell reads as NaN), or drop those rows",
    )
    x_min = float(acc.mins.get("x_min", np.inf))
    x_max = float(acc.maxs.get("x_max", -np.inf))
    tally(
        "pred_out_of_range",
        "{count} row(s) have predictions outside [0, 1]{rows}"
        + f" (min {_fmt(x_min)}, max {_fmt(x_max)})",
        "they look like logits: re-run with --from-logits"
        if x_min < -ROUND or x_max > 1 + ROUND
        else "clip them to [0, 1]",
    )
    tally(
        "pred_roundoff",
        "{count} row(s) have predictions a float round-off outside [0, 1]{rows}",
        "clip them to [0, 1]: Keras clips silently, PyTorch and scikit-learn raise",
    )
    pm1 = acc.scalar("labels_minus1") > 0 and acc.scalar("labels_not_pm1") == 0
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
            int(acc.scalar("labels_minus1")),
            "labels are coded -1/+1 (as for a hinge loss), not 0/1",
            "map -1 to 0 before scoring: cross-entropy needs 0/1 labels",
        )
    tally(
        "negative_weights",
        "{count} row(s) have negative weights{rows}",
        "weights should be >= 0; a negative weight rewards a worse prediction",
    )

    # --- the predictions as a whole -------------------------------------------------------
    raw_min, raw_max = acc.mins.get("raw_min"), acc.maxs.get("raw_max")
    if n >= 2 and raw_min is not None and raw_max is not None and np.all(raw_min == raw_max):
        value = float(np.atleast_1d(raw_min)[0])
        if k == 1 and value == 1.0 and not opts.from_logits:
            hint = (
                "a softmax over a single unit always outputs 1.0: use a sigmoid output with "
                "binary cross-entropy, or 2 softmax units with categorical cross-entropy"
            )
        else:
            hint = (
                "the model outputs a constant: check that it trained and that the prediction "
                "column is the model's output"
            )
        what = f"= {_fmt(value)}" if k == 1 else "constant in every column"
        dataset(
            "constant_predictions",
            n,
            f"all {n} predictions are the same ({what}); the loss only measures the base rate",
            hint,
        )
    if not opts.task.is_multiclass:
        _binary_flags(found, r)

    # --- the number itself -------------------------------------------------------------------
    tally(
        "loss_above_1",
        "{count} of " + str(n) + f" samples ({r.share_above_1:.1%}) cost more than 1 nat"
        "{rows}: their true-class probability is below 1/e = 0.368",
        "a few are normal: one confident mistake costs -ln(p), 2.30 at p = 0.1; see the worst "
        "samples",
    )
    if r.mean_loss > 1:
        dataset(
            "mean_above_1",
            n,
            f"the mean loss {_fmt(r.mean_loss)} is above 1: on average the true class gets "
            f"less than 1/e = 0.368 (geometric mean {_fmt(math.exp(-r.mean_loss))})",
            "not a bug by itself, but rarely a healthy model: check the other flags "
            "(logits, inverted or misaligned labels)",
        )
    if not math.isnan(r.ne) and r.ne >= 1:
        dataset(
            "ne_above_1",
            n,
            f"NE = {_fmt(r.ne)}: the loss is no better than always predicting the base rate "
            f"(baseline {_fmt(r.baseline_loss)})",
            "the model learned nothing usable here: check that labels and predictions are in "
            "the same row order and that the right columns were used",
        )
    if acc.scalar("w_sum") == 0 and opts.compat in (Compat.EXACT, Compat.SKLEARN):
        dataset(
            "weights_sum_zero",
            n,
            "the weights sum to zero, so the weighted mean is undefined",
            "check the --sample-weight column",
        )
    return found.flags, tuple(found.notes), found.mistakes, found.extras


ROUND = 1e-6
# Patterns over the whole file (inverted, double sigmoid) need this many rows to mean anything.
MIN_ROWS_FOR_PATTERNS = 10


def _binary_flags(found: Findings, r: Report) -> None:
    acc = found.acc
    tally, dataset, notes, extras = found.tally, found.dataset, found.notes, found.extras
    opts = acc.opts
    n = r.n
    k = acc.n_outputs
    wrong = int(acc.scalar("saturated_wrong"))
    tally(
        "saturated_predictions",
        "{count} row(s) have predictions of exactly 0 or 1{rows}"
        + (
            f", {wrong} on the wrong side: each such value costs {SATURATED_COST}"
            if wrong
            else " (all on the right side)"
        ),
        "the loss then depends on the framework's clip: compare --compat keras, torch and "
        "sklearn, or save unrounded probabilities",
    )
    tally(
        "clipped_predictions",
        "{count} row(s) have predictions the framework clips to [eps, 1 - eps]{rows}",
        "the clipped value is what the framework reports; --compat exact shows the literal one",
    )
    soft_rows = acc.flags.count("soft_labels")
    if soft_rows:
        floor = r.entropy_floor if r.entropy_floor is not None else float("nan")
        tally(
            "soft_labels",
            "{count} row(s) have soft labels (strictly between 0 and 1){rows}; the loss cannot "
            f"go below their entropy, {_fmt(floor)} here (the entropy floor)",
            f"judge the excess over the floor: mean - floor = {_fmt(r.mean_loss - floor)}",
        )
    if k >= 2 and not opts.from_logits and acc.scalar("rows_sum_1") == n:
        dataset(
            "rows_sum_to_1",
            n,
            f"every prediction row sums to 1 across the {k} outputs: softmax outputs "
            "(mutually exclusive classes) scored with binary cross-entropy",
            "score them with categorical cross-entropy: --task categorical (one-hot labels) or "
            "--task sparse (class indices)",
        )
    if k >= 2 and acc.scalar("rows_one_hot") == n:
        zeros_acc = (k - 1) / k
        dataset(
            "one_hot_labels_bce",
            n,
            f"every label row is one-hot: {k} mutually exclusive classes scored with binary "
            f"cross-entropy; element-wise accuracy is inflated (predicting all zeros already "
            f"scores {zeros_acc:.0%})",
            "use --task categorical (categorical cross-entropy and argmax accuracy)",
        )
    if opts.from_logits and acc.scalar("logits_outside_unit") == 0:
        dataset(
            "logits_flag_on_probabilities",
            n,
            "--from-logits was given but every value is in [0, 1]: these look like "
            "probabilities",
            "drop --from-logits: a sigmoid of a probability squashes it into [0.5, 0.73]",
        )
    p_min, p_max = acc.mins.get("p_min"), acc.maxs.get("p_max")
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
    n_el = acc.scalar("n_elements")
    hard = soft_rows == 0 and opts.label_smoothing == 0
    if hard and n_el:
        sp, sp2, spy = acc.scalar("m_p"), acc.scalar("m_p2"), acc.scalar("m_py")
        sy, sy2 = acc.scalar("m_y"), acc.scalar("m_y2")
        brier_el = (sp2 - 2 * spy + sy2) / n_el
        brier_inv = (n_el - 2 * sy + sy2 - 2 * sp + 2 * spy + sp2) / n_el
        acc_el = acc.scalar("correct") / n_el
        extras["brier_if_inverted"] = brier_inv
        if n >= MIN_ROWS_FOR_PATTERNS and acc_el < 0.3 and brier_inv < 0.5 * brier_el:
            dataset(
                "inverted_predictions",
                n,
                f"accuracy {acc_el:.1%} and Brier {_fmt(brier_el)}, but 1 - p would give "
                f"accuracy about {1 - acc_el:.1%} and Brier {_fmt(brier_inv)}",
                "the predictions look like the probability of the other class: check which "
                "column or label is the positive class",
            )
    y_min, y_max = acc.mins.get("y_min"), acc.maxs.get("y_max")
    if y_min is not None and y_max is not None:
        single = np.flatnonzero(np.atleast_1d(y_min == y_max))
        if len(single):
            value = _fmt(float(np.atleast_1d(y_min)[single[0]]))
            where = "" if k == 1 else f" in {len(single)} of the {k} outputs"
            dataset(
                "single_class",
                n,
                f"every label is {value}{where}: NE is undefined (the base rate alone is "
                "perfect)",
                "sklearn's log_loss raises here unless labels=[0, 1] is passed; score a "
                "sample that holds both classes",
            )
    prior = np.atleast_1d(np.asarray(r.prior))
    if k == 1 and len(prior) and not math.isnan(prior[0]) and 0 < prior[0] < 1:
        p = float(prior[0])
        if p < 0.1 or p > 0.9:
            dataset(
                "class_imbalance",
                n,
                f"positives are {p:.1%} of the labels: always predicting {p:.3g} already "
                f"scores {_fmt(r.baseline_loss)} (band: the bands assume balanced classes)",
                f"judge the model by NE ({_fmt(r.ne)}) rather than by the bands",
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
