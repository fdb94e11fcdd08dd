"""The loss table's rows for the ad-tech figures (calibration ratio, RCE), kept apart from
``render.table`` so that either can change without the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcecli.text as fmt

if TYPE_CHECKING:
    from rich.table import Table

    from bcecli.core.report import Report


def add_loss_rows(t: Table, r: Report) -> None:
    """Rows of ``t`` (label, value, note) for the figures beside the headline."""
    t.add_row("RCE", fmt.num(r.rce, 2), "relative cross-entropy, 100 (1 - NE)")
    if r.calibration_ratio is not None:
        t.add_row(
            "calibration",
            fmt.num(r.calibration_ratio, 4),
            "sum of predictions / sum of labels (ideal 1.0)",
        )
