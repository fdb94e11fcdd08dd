"""``bce explain``: what a loss value means, and what each framework makes of one sample."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bcecli.core.bands import INV_E_TEXT, band_for, true_class_probability
from bcecli.core.init_check import about
from bcecli.core.options import FRAMEWORK_NAMES, Compat, LossOptions, Task
from bcecli.errors import BceError, OptionError, flag_spelling, spell

LN2 = math.log(2)


@dataclass(frozen=True)
class FrameworkValue:
    compat: Compat
    framework: str
    dtype: str
    loss: float | None
    error: str | None


@dataclass(frozen=True)
class Explanation:
    loss: float  # the literal (exact) loss
    p_true: float  # the true-class probability that costs ``loss``
    band: str | None
    band_id: str | None
    reading: tuple[str, ...]
    task: Task | None = None
    label: str | None = None
    pred: str | None = None
    values: tuple[FrameworkValue, ...] = ()
    classes: int | None = None  # the K the value was read for (bce explain --classes K)
    chance_loss: float | None = None  # ln K: a uniform guess among them


def _reading(loss: float, *, pair: bool) -> list[str]:
    p = true_class_probability(loss)
    out = []
    if math.isinf(loss):
        out.append(
            "An infinite loss: the true class got probability exactly 0. Every framework "
            "clips or caps this differently; see the values below."
        )
        return out
    subject = "This sample" if pair else f"A loss of {loss:.6g} nats"
    out.append(f"{subject} costs what a true-class probability of {p:.6g} costs (p = exp(-loss)).")
    if not pair:
        out.append(
            f"As a mean over many samples, it is the loss of a model whose true-class "
            f"probabilities have a geometric mean of {p:.6g}."
        )
        out.append(
            f"On a binary task that is, for example, predicting {p:.4g} for a positive "
            f"or {1 - p:.4g} for a negative."
        )
    if loss > 1:
        out.append(
            f"Above 1: the true class got less than {INV_E_TEXT}. One such sample is a "
            "confident mistake, not a bug; a mean above 1 rarely comes from a healthy "
            "model."
        )
    if about(loss, LN2, None):
        out.append(
            f"About a coin flip on a balanced binary task (ln 2 = {LN2:.4f}): chance level, "
            "what an untrained sigmoid output scores (bce check-init); guessing uniformly "
            "among K classes costs ln K (ln 10 = 2.3026)."
        )
    elif loss > LN2:
        out.append(
            f"Worse than a coin flip on a balanced binary task (ln 2 = {LN2:.4f}); "
            "guessing uniformly among K classes costs ln K (ln 10 = 2.3026)."
        )
    else:
        out.append(f"Better than a coin flip on a balanced binary task (ln 2 = {LN2:.4f}).")
    return out


def _reading_for_classes(loss: float, k: int) -> list[str]:
    """How to read a mean loss on a K-class task: against chance, ln K, not the binary bands."""
    p = true_class_probability(loss)
    chance = math.log(k)
    out = [
        f"A loss of {loss:.6g} nats costs what a true-class probability of {p:.6g} costs "
        "(p = exp(-loss)); as a mean, the geometric mean of the true-class probabilities."
    ]
    if math.isinf(loss):
        return out
    times = p * k  # against the uniform 1/K
    if about(loss, chance, None):
        out.append(
            f"About chance level for {k} classes: a uniform guess costs ln {k} = "
            f"{chance:.4f} ({loss / chance:.0%} of it here). That is what an untrained "
            f"{'sigmoid output' if k == 2 else f'{k}-class softmax'} scores (bce check-init), "
            "not a broken model."
        )
    elif loss < chance:
        out.append(
            f"Better than chance for {k} classes (ln {k} = {chance:.4f}): the true class "
            f"gets {times:.3g} times the uniform 1/{k} on average (geometric)."
        )
    else:
        out.append(
            f"Worse than a uniform guess among {k} classes (ln {k} = {chance:.4f}): the "
            f"true class gets {times:.3g} times the uniform 1/{k}, so the model is confidently "
            "wrong on many rows."
        )
    if loss > 1 and loss <= chance * 1.15:
        out.append(
            f"Above 1, but with {k} classes chance itself costs {chance:.4f}: a mean above 1 "
            "is normal before and early in training."
        )
    band = band_for(loss)
    if band is not None and k > 2:
        out.append(
            f"The rule-of-thumb bands (here: {band.label}) describe balanced binary tasks, "
            f"not {k} classes: read the loss against ln {k}, and NE against the class prior "
            "(bce score)."
        )
    return out


def explain_loss(loss: float, *, classes: int | None = None) -> Explanation:
    """What a mean loss means: in general, or for a task of ``classes`` classes (2: binary)."""
    if math.isnan(loss) or loss < 0:
        raise OptionError(
            f"LOSS {loss} is not a cross-entropy", "a cross-entropy is a number >= 0 (in nats)"
        )
    if classes is not None:
        if classes < 2:
            raise OptionError(
                f"{classes} classes is not a task",
                "give K >= 2 classes (2 for a binary task)",
            )
        explained = _explanation(loss, _reading_for_classes(loss, classes))
        return replace(explained, classes=classes, chance_loss=math.log(classes))
    reading = _reading(loss, pair=False)
    band = band_for(loss)
    if band is not None:
        reading.append(
            f"On the rule-of-thumb bands for a mean loss: {band.label} "
            "(bce bands; they assume balanced binary classes)."
        )
    return _explanation(loss, reading)


def _explanation(
    loss: float,
    reading: list[str],
    *,
    task: Task | None = None,
    label: str | None = None,
    pred: str | None = None,
    values: tuple[FrameworkValue, ...] = (),
) -> Explanation:
    """The explanation of ``loss`` (of one sample when ``task`` is given), with its
    true-class probability and band."""
    band = band_for(loss)
    return Explanation(
        loss,
        true_class_probability(loss),
        band.label if band else None,
        band.id if band else None,
        tuple(reading),
        task,
        label,
        pred,
        values,
    )


def _parse_row(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise OptionError(
            f"{what} {text!r} is not a number or a comma-separated row",
            f"e.g. {what} 0.9 or {what} 0.1,0.2,0.7",
        ) from None
    if not values:
        raise OptionError(f"{what} is empty", f"e.g. {what} 0.9")
    return values


def explain_pair(label: str, pred: str, *, from_logits: bool = False) -> Explanation:
    from bcecli.core.scoring import score_arrays

    preds = _parse_row(pred, "--pred")
    labels = _parse_row(label, "--label")
    k = len(preds)
    if k == 1:
        task = Task.BINARY
        if len(labels) != 1:
            raise OptionError("one prediction needs one label", "e.g. --label 1 --pred 0.9")
    elif len(labels) == 1:
        task = Task.SPARSE
        if labels[0] != int(labels[0]) or not 0 <= labels[0] < k:
            raise OptionError(
                f"--label {label} is not a class index 0 .. {k - 1}",
                "give the index of the true class, or a one-hot row of the same length",
            )
    elif len(labels) == k:
        task = Task.CATEGORICAL
    else:
        raise OptionError(
            f"--label has {len(labels)} values for {k} predictions",
            "give a class index or a row of the same length",
        )
    _check_ranges(task, label, labels, pred, preds, from_logits=from_logits)
    values = []
    exact_loss = math.nan
    for compat in Compat:
        opts = LossOptions(task=task, compat=compat, from_logits=from_logits)
        dtype = _dtype_name(opts)
        try:
            report = score_arrays([labels], [preds], opts)
            value: float | None = report.mean_loss
            error = None
        except BceError as e:
            # bce explain is a command: the framework's reason names its flags
            value, error = None, spell(e.what, flag_spelling)
        if compat is Compat.EXACT and value is not None:
            exact_loss = value
        values.append(FrameworkValue(compat, FRAMEWORK_NAMES[compat], dtype, value, error))
    if math.isnan(exact_loss):
        raise OptionError(
            "this label and prediction have no defined cross-entropy",
            "labels are 0/1 (or class indices); predictions are probabilities",
        )
    return _explanation(
        exact_loss,
        _reading(exact_loss, pair=True),
        task=task,
        label=label,
        pred=pred,
        values=tuple(values),
    )


def _check_ranges(
    task: Task,
    label: str,
    labels: list[float],
    pred: str,
    preds: list[float],
    *,
    from_logits: bool,
) -> None:
    """A usage error, naming the valid range, for a pair no cross-entropy is defined on (a
    framework that clips would score it anyway, and a negative loss read as "perfect")."""
    if from_logits:
        if any(math.isnan(v) for v in preds):
            raise OptionError(f"--pred {pred} is not a logit", "a logit is a number (or -inf)")
    elif not all(0 <= v <= 1 for v in preds):
        what = "a probability" if len(preds) == 1 else "a row of probabilities"
        raise OptionError(
            f"--pred {pred} is not {what}: probabilities are in [0, 1]",
            "give probabilities in [0, 1], or add --from-logits for logits",
        )
    if task is Task.SPARSE:
        return  # a class index, checked against the row's length
    if not all(0 <= v <= 1 for v in labels):
        if task is Task.BINARY:
            raise OptionError(
                f"--label {label} is not a binary label: labels are 0 or 1 (a soft label: "
                "in [0, 1])",
                "give 0 or 1; for a class index give --pred a row of K probabilities, e.g. "
                "--label 2 --pred 0.1,0.2,0.7",
            )
        raise OptionError(
            f"--label {label} is not a row of class probabilities: each value is in [0, 1]",
            "give a one-hot row (or soft labels in [0, 1]), or a class index",
        )


def _dtype_name(opts: LossOptions) -> str:
    import numpy as np

    return str(np.dtype(opts.compute_dtype()).name)
