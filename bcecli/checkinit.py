"""The before-training check: ``bcecli.check_init`` and ``bcecli.check_init_file`` (``bce
check-init`` calls the second).

The outputs of an untrained model are scored as ``bcecli.score`` scores them (the same task,
profile, columns and flags); the result compares the loss with what an untrained model should
score (ln K, the prior's entropy), and says what to change before training. The verdicts and
their tolerances are in ``bcecli.core.init_check``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import bcecli.text as fmt
from bcecli.core.flags import Flag
from bcecli.core.init_check import (
    InitFigures,
    Invalid,
    Verdict,
    best_constant,
    bias_probabilities,
    constant_loss,
    judge,
    recommended_bias,
    uniform_loss,
)
from bcecli.core.options import Compat, Task
from bcecli.version import __version__

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.api import Report
    from bcecli.readers import Source

SCHEMA = 1  # bce check-init's JSON: keys change only with a new number

# Findings of ``bce score`` that say nothing about an untrained model (its loss is high and its
# predictions carry no information by design) or that the verdict states better.
NOT_FOR_INIT = frozenset(
    {
        "loss_above_1",
        "mean_above_1",
        "ne_above_1",
        "constant_predictions",
        "constant_prior",
        "class_imbalance",
        "inverted_predictions",
        "biased_predictions",  # the verdict wrong_bias says it
        "columns_misordered",
        "overconfident",  # the verdict too_confident says it
        "underconfident",
        # small logits give rows whose max/min ratio is below e: the signature of a double
        # softmax, and of every healthy untrained softmax
        "double_softmax",
    }
)
# Hints reworded for an untrained model.
INIT_HINTS = {
    "saturated_predictions": "an untrained model's outputs should not reach exactly 0 or 1: the "
    "final layer's initial scale is far too large (see the verdict)",
    "pred_out_of_range": "see the verdict: the output layer needs a sigmoid or softmax, or the "
    "values are logits (--from-logits)",
    "single_class": "check the loss at initialisation on a batch that holds every class: the "
    "prior and its entropy need them",
    "clipped_predictions": "the framework clips these; an untrained model rarely comes this "
    "close to 0 or 1",
}
LABEL_ERRORS = ("label_out_of_range", "sparse_label_out_of_range", "weights_sum_zero")


@dataclass(frozen=True, eq=False)
class InitReport:
    """The loss at initialisation of one input, its references and the verdict.

    ``to_dict()`` is the JSON object of ``bce check-init --format json``; ``passed`` is True
    for the verdicts ``prior`` and ``uniform`` (exit 0).
    """

    verdict: Verdict
    message: str
    hint: str
    init_loss: float
    std_error: float | None
    uniform_loss: float
    prior_loss: float
    prior: tuple[float, ...]
    mean_prediction: tuple[float, ...]
    mean_prediction_loss: float
    logit_std: float
    saturated_share: float
    recommended_bias: tuple[float, ...]
    recommended_bias_loss: float
    tolerance_uniform: float
    tolerance_prior: float
    names: tuple[str, ...]
    flags: tuple[Flag, ...]
    notes: tuple[str, ...]
    report: Report = field(repr=False)  # the scoring run behind it

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``bce check-init --format json`` (schema 1): infinities and NaN
        as the strings "inf", "-inf", "nan", a value that does not apply as None."""
        r, c, n = self.report, self.report.context, fmt.json_number
        return {
            "schema": SCHEMA,
            "bce_version": __version__,
            "check": "init",
            "task": r.task.value,
            "task_reason": r.task_reason,
            "compat": r.compat.value,
            "framework": r.framework,
            "dtype": r.dtype,
            "n_rows": r.n_rows,
            "n": r.n,
            "n_excluded": r.n_excluded,
            "verdict": self.verdict.value,
            "passed": self.passed,
            "message": self.message,
            "hint": self.hint,
            "init_loss": n(self.init_loss),
            "std_error": n(self.std_error),
            "uniform_loss": n(self.uniform_loss),
            "prior_loss": n(self.prior_loss),
            "tolerance_uniform": n(self.tolerance_uniform),
            "tolerance_prior": n(self.tolerance_prior),
            "mean_prediction_loss": n(self.mean_prediction_loss),
            "logit_std": n(self.logit_std),
            "saturated_share": n(self.saturated_share),
            "recommended_bias_loss": n(self.recommended_bias_loss),
            "names": list(self.names),
            "prior": [n(v) for v in self.prior],
            "mean_prediction": [n(v) for v in self.mean_prediction],
            "recommended_bias": [n(v) for v in self.recommended_bias],
            "inputs": {
                "sources": list(c.sources),
                "label_columns": list(c.label_columns),
                "pred_columns": list(c.pred_columns),
                "weight_column": c.weight_column,
            },
            "flags": [
                {
                    "id": f.id,
                    "severity": f.severity.value,
                    "count": f.count,
                    "rows": list(f.rows),
                    "message": f.message,
                    "hint": f.hint,
                }
                for f in self.flags
            ],
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        se = "" if self.std_error is None else f" ± {fmt.num(self.std_error, 2)}"
        return (
            f"<bcecli.InitReport {self.verdict.value}: loss {fmt.loss(self.init_loss)}{se}, "
            f"uniform {fmt.loss(self.uniform_loss)}, prior {fmt.loss(self.prior_loss)}>"
        )

    def __rich__(self) -> RenderableType:
        from rich.console import Group

        from bcecli.render.init import render_init

        return Group(*render_init(self))

    def _repr_html_(self) -> str:
        from bcecli.render.init import render_init
        from bcecli.render.terminal import html

        return html(render_init(self))


def _invalid(report: Report, from_logits: bool) -> Invalid | None:
    """Why these outputs are no untrained classifier's probabilities (None: they are)."""
    s = report.init_sample
    if report.flag("non_finite") is not None:
        return Invalid.NON_FINITE
    if any(report.flag(fid) is not None for fid in LABEL_ERRORS):
        return Invalid.LABELS
    if report.flag("pred_out_of_range") is not None and s.outside is not None:
        lo, hi = s.outside
        if lo < 0:
            return Invalid.LINEAR
        if report.flag("saturated_predictions") is not None or s.constant == 0.0:
            return Invalid.RELU
        return Invalid.ABOVE_ONE
    if report.task.is_multiclass and not from_logits and report.flag("rows_not_sum_1"):
        return Invalid.NOT_SOFTMAX
    return None


def judge_report(
    report: Report, *, from_logits: bool = False, pos_weight: Sequence[float] | None = None
) -> InitReport:
    """The init check of a scored report (``pos_weight`` as the loss was given it)."""
    multiclass = report.task.is_multiclass
    s = report.init_sample
    k = len(report.prior)
    pw = None
    if pos_weight is not None and not multiclass and not report.compat.is_keras:
        pw = tuple(float(v) for v in pos_weight)  # inside the loss (Keras weighs the rows)
    prior = report.prior
    best = best_constant(prior, multiclass, pw)
    bias = recommended_bias(prior, multiclass, pw)
    if pw is None:
        uniform = uniform_loss(multiclass, k)
    else:  # a positive weight scales the positive term of ln 2 too
        uniform = constant_loss(prior, [0.5] * k, multiclass, pw)
    figures = InitFigures(
        multiclass=multiclass,
        k=k,
        init_loss=report.mean_loss,
        std_error=s.std_error if s.std_error is not None else math.nan,
        uniform_loss=uniform,
        prior_loss=constant_loss(prior, best, multiclass, pw),
        prior=prior,
        mean_prediction=s.mean_prediction,
        mean_prediction_loss=constant_loss(prior, s.mean_prediction, multiclass, pw),
        logit_std=s.logit_std,
        saturated_share=s.saturated_share,
        recommended_bias=tuple(float(v) for v in bias),
        constant=1.0 if multiclass and k == 1 else s.constant,
        invalid=_invalid(report, from_logits),
    )
    j = judge(figures)
    notes = list(report.context.notes)
    if report.compat is Compat.SKLEARN and report.task is Task.MULTILABEL:
        notes.append(
            "sklearn's log_loss on a multi-label matrix is not the mean binary cross-entropy: "
            "the references here are the binary ones (ln 2 per output); compare under "
            "--compat exact"
        )
    return InitReport(
        verdict=j.verdict,
        message=j.message,
        hint=j.hint,
        init_loss=report.mean_loss,
        std_error=s.std_error,
        uniform_loss=figures.uniform_loss,
        prior_loss=figures.prior_loss,
        prior=prior,
        mean_prediction=s.mean_prediction,
        mean_prediction_loss=figures.mean_prediction_loss,
        logit_std=s.logit_std,
        saturated_share=s.saturated_share,
        recommended_bias=figures.recommended_bias,
        recommended_bias_loss=constant_loss(
            prior, bias_probabilities(bias, multiclass), multiclass, pw
        ),
        tolerance_uniform=figures.tolerance(figures.uniform_loss),
        tolerance_prior=figures.tolerance(figures.prior_loss),
        names=report.context.names(k),
        flags=tuple(_init_flag(f) for f in report.flags if f.id not in NOT_FOR_INIT),
        notes=tuple(notes),
        report=report,
    )


def _init_flag(f: Flag) -> Flag:
    hint = INIT_HINTS.get(f.id)
    return f if hint is None else replace(f, hint=hint)


def check_init(
    y_true: object,
    y_pred: object,
    *,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    sample_weight: object = None,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    dtype: object = None,
) -> InitReport:
    """Check an untrained model's outputs ``y_pred`` against the labels ``y_true`` (arrays,
    lists, pandas or polars objects, as ``bcecli.score`` takes them)."""
    from bcecli.api import score, weight_tuple

    report = score(
        y_true,
        y_pred,
        task=task,
        compat=compat,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        sample_weight=sample_weight,
        class_weight=class_weight,
        pos_weight=pos_weight,
        ignore_class=ignore_class,
        dtype=dtype,
    )
    return judge_report(
        report, from_logits=from_logits, pos_weight=weight_tuple(pos_weight, "pos_weight")
    )


def check_init_file(
    path: str | Source,
    *,
    labels: str | Source | None = None,
    label_col: str | Sequence[str] | None = None,
    pred_col: str | Sequence[str] | None = None,
    sample_weight: str | None = None,
    header: bool | None = None,
    index_col: bool | None = None,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    dtype: object = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> InitReport:
    """Check a file of an untrained model's outputs (the inputs ``bcecli.score_file`` reads)."""
    from bcecli.api import score_file, weight_tuple

    report = score_file(
        path,
        labels=labels,
        label_col=label_col,
        pred_col=pred_col,
        sample_weight=sample_weight,
        header=header,
        index_col=index_col,
        task=task,
        compat=compat,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        class_weight=class_weight,
        pos_weight=pos_weight,
        ignore_class=ignore_class,
        dtype=dtype,
        engine=engine,
        scheduler=scheduler,
    )
    return judge_report(
        report, from_logits=from_logits, pos_weight=weight_tuple(pos_weight, "pos_weight")
    )
