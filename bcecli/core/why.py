"""Why the loss is what it is, in words: the decomposition, the recalibration ladder and the
ranking metrics of a report as sentences (the table report prints them under the loss table).

One function, ``why_lines``, holds the wording, so that every renderer says it the same way.
"""

from __future__ import annotations

import math

from bcecli.core.decomposition import Decomposition
from bcecli.core.report import Report


def _n(v: float) -> str:
    """A loss or a term in a sentence: three decimals (three significant digits when tiny)."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.3f}" if v == 0 or abs(v) >= 0.01 else f"{v:.3g}"


def decomposition_sentence(d: Decomposition, what: str = "the loss") -> str | None:
    """ "22% of the loss is miscalibration: recalibrating would bring 0.619 to 0.482;
    discrimination 0.153 of an uncertainty of 0.635" (None where the terms are undefined)."""
    s, mcb, dsc, unc = d.mean_loss, d.miscalibration, d.discrimination, d.uncertainty
    if any(math.isnan(v) for v in (s, mcb, dsc, unc)):
        return None
    after = _n(d.isotonic_loss)
    tail = f"discrimination {_n(dsc)} of an uncertainty of {_n(unc)}"
    if math.isinf(s):
        return (
            f"{what} is infinite (a row gives its label probability 0): recalibrating would "
            f"bring it to {after}; {tail}"
        )
    share = mcb / s if s > 0 else 0.0
    return (
        f"{share:.0%} of {what} is miscalibration: recalibrating would bring {_n(s)} to "
        f"{after}; {tail}"
    )


def why_lines(r: Report) -> list[str]:
    """The sentences about calibration and discrimination for a report (none where the
    decomposition does not apply)."""
    if not r.valid:
        return []
    lines: list[str] = []
    d = r.decomposition
    if r.task.is_multiclass:
        if r.auc_ovr is not None:
            lines.append(
                f"ranking: one-vs-rest AUC {_n(r.auc_ovr.macro)} (macro), "
                f"{_n(r.auc_ovr.weighted)} (weighted by prevalence)" + _top_k_text(r)
            )
        sm = r.softmax_recalibration
        if sm is not None and math.isfinite(sm.temperature_loss):
            rows = "every row" if sm.exact else f"a sample of {sm.rows:,} rows"
            before = sm.start_loss
            bias = f", a bias per class {_n(sm.bias_loss)}" if math.isfinite(sm.bias_loss) else ""
            lines.append(
                f"recalibrating the softmax (in sample, on {rows}): temperature T = "
                f"{sm.T:.3f} would bring {_n(before)} to {_n(sm.temperature_loss)}{bias}"
            )
        if d is not None:
            text = decomposition_sentence(d, "the top-label loss")
            if text:
                lines.append(f"top-label (is the top class right?): {text}")
        return lines
    if r.auc is not None and not math.isnan(r.auc):
        lines.append(
            f"ranking: AUC {_n(r.auc)}, average precision {_n(r.average_precision or math.nan)}"
            + (" (means over the outputs)" if len(r.outputs) > 1 else "")
        )
    if d is not None:
        text = decomposition_sentence(d, "the loss")
        if text:
            lines.append(text + (" (means over the outputs)" if len(r.outputs) > 1 else ""))
    rc = r.recalibration
    if rc is not None and math.isfinite(rc.temperature.loss):
        lines.append(
            f"in-sample refits: bias {_n(rc.bias.loss)}, temperature {_n(rc.temperature.loss)} "
            f"(T = {rc.temperature.T:.3f}), Platt {_n(rc.platt.loss)}, isotonic "
            f"{_n(rc.isotonic_loss)}"
        )
    return lines


def _top_k_text(r: Report) -> str:
    acc = r.top_k_accuracy()
    if not acc:
        return ""
    return "; " + ", ".join(f"top-{k} {v:.1%}" for k, v in acc.items())
