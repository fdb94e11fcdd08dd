"""The loss at initialisation: what an untrained model's outputs should score, and a verdict.

Before training, a classifier's outputs carry no information about the labels, so its loss has
two references:

* ``uniform_loss``: every class equally likely, the loss of a final layer whose logits start
  near 0 (the default initialisation): ln K for a K-class softmax, ln 2 for a sigmoid, ln 2 per
  output (so ln 2 for the mean) for multi-label;
* ``prior_loss``: the loss of predicting the label prior, i.e. of a final layer whose bias is
  the log prior (ln(p/(1-p)) per sigmoid output; ln p_k, up to a constant, for a softmax): the
  entropy of the prior, the lowest loss any prediction independent of the inputs can reach.

No prediction that is independent of the labels scores below ``prior_loss`` on average (Gibbs'
inequality), so a loss well below it before training means a leak or a trained model; a loss
well above ``uniform_loss`` means the logits start far from 0 (too large a final-layer scale)
or a bias toward the wrong classes.

The tolerances. A loss is "about" a reference ``r`` when it is within

    tolerance(r) = max(REL_TOL * r, Z_SE * standard error of the loss)

``REL_TOL = 0.15``: Gaussian logits of standard deviation s add about s**2 / 8 to ln 2 (a
sigmoid) and about s**2 / 2 * (K - 1) / K to ln K (a softmax), so 15% of the reference is a
logit spread of about 0.9 (K = 2 or 10) to 1.4 (K = 1000): a default initialisation (Keras'
Glorot-uniform kernel over standardised features gives 0.3 - 0.8) stays inside, while a spread
of 2 or more is a final layer initialised too large. The same 15% on ``prior_loss`` keeps an
imbalanced task's prior (0.28 for 8% positives) apart from ln 2. ``Z_SE = 3``: on a small
batch the loss itself is uncertain (the standard error of the mean over the rows); three
standard errors keep a verdict from resting on noise (a chance deviation that large is about 1
in 700 for one side). A batch of a few dozen rows therefore gives wide bands; the logit spread
(measured on every output, not on the loss) still shows a too-confident start there:
``logit_std >= LOGIT_STD_LIMIT`` with the loss above ln K is ``too_confident`` whatever the
tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

Vector = Sequence[float] | np.ndarray  # one value per output or class

REL_TOL = 0.15
Z_SE = 3.0
# A logit standard deviation this large costs about 0.5 nats over ln 2 (a sigmoid) and 1.8 over
# ln 10: no default initialisation starts there.
LOGIT_STD_LIMIT = 2.0
# Keras' epsilon: a probability closer than this to 0 or 1 is saturated (its logit is beyond
# +-16.1, and a float32 sigmoid rounds it to 0 or 1 soon after). Logits recovered from
# probabilities are clipped there, so with saturated outputs ``logit_std`` is a lower bound.
SATURATION = 1e-7
LOGIT_CAP = math.log((1 - SATURATION) / SATURATION)


class Verdict(str, Enum):
    """The stable ids of ``bce check-init``'s verdict."""

    PRIOR = "prior"
    UNIFORM = "uniform"
    TOO_CONFIDENT = "too_confident"
    WRONG_BIAS = "wrong_bias"
    CONSTANT = "constant"
    INVALID = "invalid"
    SUSPICIOUSLY_GOOD = "suspiciously_good"

    @property
    def passed(self) -> bool:
        """Exit 0 for these two, 1 for the others."""
        return self in (Verdict.PRIOR, Verdict.UNIFORM)


def tolerance(reference: float, std_error: float | None) -> float:
    """How far a loss may be from ``reference`` and still be "about" it (see the module's
    docstring): max(REL_TOL * reference, Z_SE * standard error)."""
    se = std_error if std_error is not None and math.isfinite(std_error) else 0.0
    return max(REL_TOL * reference, Z_SE * se)


def about(loss: float, reference: float, std_error: float | None) -> bool:
    """Whether ``loss`` is about ``reference``."""
    return abs(loss - reference) <= tolerance(reference, std_error)


# ---------------------------------------------------------------------------------------------
# the references


def uniform_loss(multiclass: bool, k: int) -> float:
    """The loss of a uniform prediction: ln K for a K-class softmax, ln 2 for a sigmoid (the
    mean over outputs of ln 2 for multi-label)."""
    return math.log(k) if multiclass else math.log(2)


def _xlogy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a * ln b with 0 * ln 0 = 0 (and 0 * ln of anything = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, 0.0, a * np.log(b))


def constant_loss(
    prior: Vector,
    q: Vector,
    multiclass: bool,
    pos_weight: Sequence[float] | None = None,
) -> float:
    """The loss of predicting ``q`` on every row when the labels' prior is ``prior``: the
    cross-entropy H(prior, q) (a softmax), or its mean over outputs of the binary one
    (``pos_weight`` weighting the positive term, as PyTorch's BCE does)."""
    p, qq = np.asarray(prior, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if multiclass:
        return float(-np.sum(_xlogy(p, qq)))
    pw = np.ones_like(p) if pos_weight is None else np.broadcast_to(pos_weight, p.shape)
    return float(np.mean(-(pw * _xlogy(p, qq) + _xlogy(1 - p, 1 - qq))))


def best_constant(
    prior: Vector, multiclass: bool, pos_weight: Sequence[float] | None = None
) -> np.ndarray:
    """The constant prediction with the lowest loss: the prior itself (with a positive weight
    w, w p / (w p + 1 - p), the minimiser of -(w p ln q + (1 - p) ln(1 - q)))."""
    p = np.asarray(prior, dtype=np.float64)
    if multiclass or pos_weight is None:
        return p
    pw = np.broadcast_to(np.asarray(pos_weight, dtype=np.float64), p.shape)
    return np.asarray(pw * p / (pw * p + 1 - p))


def recommended_bias(
    prior: Vector, multiclass: bool, pos_weight: Sequence[float] | None = None
) -> np.ndarray:
    """The final layer's bias that makes the untrained model predict the best constant: ln(q /
    (1 - q)) per sigmoid output; ln q_k minus their mean for a softmax (a softmax ignores a
    constant, and centring keeps the biases near 0). A class that never appears gets -inf
    (any large negative bias), and the mean is over the others."""
    q = best_constant(prior, multiclass, pos_weight)
    with np.errstate(divide="ignore"):
        if not multiclass:
            return np.asarray(np.log(q) - np.log1p(-q))
        logs = np.log(q)
    present = np.isfinite(logs)
    centre = float(logs[present].mean()) if present.any() else 0.0
    return np.asarray(logs - centre)


def bias_probabilities(bias: Vector, multiclass: bool) -> np.ndarray:
    """What a final layer with this bias (and a zero kernel) outputs: sigmoid or softmax."""
    b = np.asarray(bias, dtype=np.float64)
    if not multiclass:
        with np.errstate(over="ignore"):
            return np.asarray(1 / (1 + np.exp(-b)))
    finite = np.isfinite(b)
    top = float(b[finite].max()) if finite.any() else 0.0
    e = np.where(finite, np.exp(np.where(finite, b - top, 0.0)), 0.0)
    return np.asarray(e / e.sum())


# ---------------------------------------------------------------------------------------------
# the verdict


class Invalid(str, Enum):
    """Why the outputs are not an untrained classifier's probabilities."""

    NON_FINITE = "non_finite"  # NaN or inf among the outputs (or the labels)
    LINEAR = "linear"  # negative values and values above 1: a linear output layer (logits)
    RELU = "relu"  # non-negative, exact zeros and values above 1: a ReLU output layer
    ABOVE_ONE = "above_one"  # values above 1 only
    NOT_SOFTMAX = "not_softmax"  # K class columns whose rows do not sum to 1
    LABELS = "labels"  # the labels cannot be scored (see the flags)


@dataclass(frozen=True)
class InitFigures:
    """What the verdict weighs: the measured loss and its references."""

    multiclass: bool
    k: int  # classes (softmax) or outputs (sigmoid)
    init_loss: float
    std_error: float
    uniform_loss: float
    prior_loss: float
    prior: tuple[float, ...]
    mean_prediction: tuple[float, ...]
    mean_prediction_loss: float  # the loss of predicting mean_prediction on every row
    logit_std: float
    saturated_share: float
    recommended_bias: tuple[float, ...]
    constant: float | None = None  # the value of constant outputs (None: they vary)
    invalid: Invalid | None = None

    def tolerance(self, reference: float) -> float:
        """How far the loss may be from ``reference`` and still be "about" it."""
        return tolerance(reference, self.std_error)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    message: str
    hint: str


def _f(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3g}"


def _values(vs: Sequence[float], limit: int = 5) -> str:
    shown = ", ".join(_f(v) for v in vs[:limit])
    return shown + (", ..." if len(vs) > limit else "")


def _bias_text(f: InitFigures) -> str:
    what = "the final softmax bias" if f.multiclass else "the final sigmoid bias"
    if not f.multiclass and f.k == 1:
        return f"{what} to ln(p/(1-p)) = {_f(f.recommended_bias[0])}"
    how = "ln p_k minus their mean" if f.multiclass else "ln(p/(1-p)) per output"
    return f"{what} to {how} = [{_values(f.recommended_bias)}]"


_INVALID_TEXT = {
    Invalid.NON_FINITE: (
        "some outputs (or labels) are NaN or infinite",
        "an untrained model that outputs NaN or inf overflows: check the input scaling and "
        "the initialisation; fix or drop the rows the flags name",
    ),
    Invalid.LINEAR: (
        "the outputs are not probabilities: negative values and values above 1, as a linear "
        "output layer gives",
        "add the output activation (a sigmoid for binary or multi-label, a softmax for K "
        "classes), or, if the model outputs logits by design (a loss with from_logits=True), "
        "run again with --from-logits",
    ),
    Invalid.RELU: (
        "the outputs are not probabilities: non-negative, with exact zeros and values above 1, "
        "as a ReLU output layer gives",
        "a ReLU is no output activation for a classifier: use a sigmoid (binary or "
        "multi-label) or a softmax (K classes)",
    ),
    Invalid.ABOVE_ONE: (
        "the outputs are not probabilities: values above 1",
        "use a sigmoid (binary or multi-label) or a softmax (K classes) as the output "
        "activation, or run again with --from-logits if these are logits",
    ),
    Invalid.NOT_SOFTMAX: (
        "the rows of the K class outputs do not sum to 1: not a softmax",
        "use a softmax output for mutually exclusive classes (or --task multilabel for "
        "independent sigmoid outputs), or run again with --from-logits if these are logits",
    ),
    Invalid.LABELS: (
        "the labels cannot be scored (see the flags)",
        "fix the labels first: the loss at initialisation is measured against them",
    ),
}


def judge(f: InitFigures) -> Judgement:
    """The verdict on an untrained model's outputs (see the module's docstring for the
    tolerances)."""
    if f.invalid is not None:
        what, hint = _INVALID_TEXT[f.invalid]
        return Judgement(Verdict.INVALID, what, hint)
    loss, u, p = f.init_loss, f.uniform_loss, f.prior_loss
    tol_u, tol_p = f.tolerance(u), f.tolerance(p)
    near_u, near_p = abs(loss - u) <= tol_u, abs(loss - p) <= tol_p
    saving = u - p
    prior_hint = (
        f"set {_bias_text(f)}: the first steps then start at the prior's entropy {_f(p)} "
        f"instead of spending {_f(saving)} nats learning the class balance"
    )
    one_unit = f.multiclass and f.k == 1  # a softmax over one unit: 1.0 whatever the input
    if f.constant is not None and (one_unit or not (near_p or near_u)):
        return _constant(f)
    if loss < p - tol_p:
        z = (p - loss) / f.std_error if f.std_error > 0 else math.inf
        return Judgement(
            Verdict.SUSPICIOUSLY_GOOD,
            f"the loss {_f(loss)} is well below the prior's entropy {_f(p)} ({_f(z)} standard "
            "errors): no prediction that ignores the inputs can beat the prior, so an "
            "untrained model should not",
            "the labels leak into the inputs (a label-derived feature, or the label column "
            "among them), or the model was already trained (weights loaded from a checkpoint)",
        )
    wide = f.logit_std >= LOGIT_STD_LIMIT and loss > u
    if loss > u + tol_u or wide:
        return _too_high(f, tol_u)
    if near_p and (not near_u or abs(loss - p) <= abs(loss - u)):
        return Judgement(
            Verdict.PRIOR,
            f"the loss {_f(loss)} is the prior's entropy {_f(p)} (within {_f(tol_p)}): the "
            "outputs start at the class prior, the ideal start",
            "nothing to change before training",
        )
    # at chance level, or between it and the prior (a bias that already helps a little): no
    # worse than a default initialisation
    far = saving > tol_u
    if near_u:
        what = f"about chance level, {_uniform_name(f)} = {_f(u)} (within {_f(tol_u)})"
    else:
        what = f"between the prior's entropy {_f(p)} and chance level, {_uniform_name(f)} = {_f(u)}"
    return Judgement(
        Verdict.UNIFORM,
        f"the loss {_f(loss)} is {what}: a healthy default initialisation"
        + (f"; the prior's entropy is {_f(p)}" if far and near_u else ""),
        prior_hint
        if far
        else "nothing to change: the prior is about uniform, so a prior bias would save "
        f"only {_f(max(saving, 0.0))} nats",
    )


def _uniform_name(f: InitFigures) -> str:
    return f"ln {f.k}" if f.multiclass else "ln 2"


def _too_high(f: InitFigures, tol_u: float) -> Judgement:
    """Above chance: a mean prediction that alone costs more than chance is a bias toward
    the wrong classes; otherwise the logits' spread costs the loss."""
    if f.mean_prediction_loss > f.uniform_loss + tol_u:
        return _wrong_bias(f)
    return _too_confident(f)


def _wrong_bias(f: InitFigures) -> Judgement:
    return Judgement(
        Verdict.WRONG_BIAS,
        f"the mean prediction [{_values(f.mean_prediction)}] is far from the prior "
        f"[{_values(f.prior)}]: predicting it on every row costs {_f(f.mean_prediction_loss)} "
        f"(the loss {_f(f.init_loss)}; chance {_f(f.uniform_loss)}, the prior's entropy "
        f"{_f(f.prior_loss)}): the final bias favours the wrong classes",
        f"set {_bias_text(f)}; that starts at {_f(f.prior_loss)}",
    )


def _too_confident(f: InitFigures) -> Judgement:
    sat = f" and {f.saturated_share:.1%} of the outputs saturated" if f.saturated_share else ""
    return Judgement(
        Verdict.TOO_CONFIDENT,
        f"the loss {_f(f.init_loss)} is well above chance ({_uniform_name(f)} = "
        f"{_f(f.uniform_loss)}): the logits spread with standard deviation "
        f"{_f(f.logit_std)}{sat}, so the untrained model is confidently wrong on many rows",
        "scale the final layer's initial weights down (a smaller kernel initialiser scale, "
        "or zeros) so the logits start near 0; the loss then starts near chance, or at the "
        f"prior's entropy {_f(f.prior_loss)} with {_bias_text(f)}",
    )


def _constant(f: InitFigures) -> Judgement:
    value = f.constant if f.constant is not None else math.nan
    if f.k == 1 and value == 1.0:
        hint = (
            "a softmax over a single unit always outputs 1.0: use a sigmoid output with binary "
            "cross-entropy, or 2 softmax units with categorical cross-entropy"
        )
    else:
        hint = (
            "the inputs do not reach the output (a zero kernel, or a dead layer before it): "
            f"check the layers; and set {_bias_text(f)}"
        )
    what = f"= {_f(value)}" if f.k == 1 else "constant in every column"
    return Judgement(
        Verdict.CONSTANT,
        f"every output is the same ({what}), neither the prior nor uniform: the loss "
        f"{_f(f.init_loss)} against chance {_f(f.uniform_loss)} and the prior's entropy "
        f"{_f(f.prior_loss)}",
        hint,
    )
