"""The loss table's rows for the figures of issue 24 (standard error, --ci's intervals, the
calibration ratio and RCE), kept apart from ``render.table`` so that either can change without
the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcecli.text as fmt

if TYPE_CHECKING:
    from rich.table import Table

    from bcecli.core.report import Report


def add_loss_rows(t: Table, r: Report) -> None:
    """Rows of ``t`` (label, value, note) for the figures beside the headline."""
    if r.mean_loss_se is not None:
        t.add_row("std error", fmt.loss(r.mean_loss_se), "of the mean loss (these rows only)")
    ci = r.ci
    if ci is not None:
        pct = f"{ci.level * 100:g}%"
        for label, v, show in (
            ("mean", ci.mean_loss, fmt.loss),
            ("NE", ci.ne, _num3),
            ("accuracy", ci.accuracy, fmt.pct),
            ("Brier", ci.brier, fmt.num),
            ("AUC", ci.auc, fmt.num),
        ):
            if v is not None:
                how = "DeLong" if label == "AUC" else f"bootstrap, {ci.n_resamples} resamples"
                t.add_row(f"{label} {pct} CI", f"{show(v[0])} – {show(v[1])}", how)
        t.add_row("", "", "intervals of the test set only, not of training")
    t.add_row("RCE", fmt.num(r.rce, 2), "relative cross-entropy, 100 (1 - NE)")
    if r.calibration_ratio is not None:
        t.add_row(
            "calibration",
            fmt.num(r.calibration_ratio, 4),
            "sum of predictions / sum of labels (ideal 1.0)",
        )


def _num3(v: float) -> str:
    return fmt.num(v, 3)
