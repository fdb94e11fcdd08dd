"""The terminal table of ``bce score --by``: one row per slice, worst share of the loss first
(kept apart from ``render.table``, which only places it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.render.terminal import report_table, safe_text

if TYPE_CHECKING:
    from rich.table import Table

    from bcecli.core.report import Report

MAX_ROWS = 50


def slices_table(report: Report) -> Table | None:
    if report.slices is None:
        return None
    t = report_table("Slices (--by)")
    for name, right in (
        ("slice", False), ("n", True), ("base rate", True), ("mean loss", True),
        ("share", True), ("NE", True), ("NE overall", True), ("calibration", True),
        ("ECE", True), ("AUC", True),
    ):  # fmt: skip
        t.add_column(name, justify="right" if right else "left")
    for s in report.slices[:MAX_ROWS]:
        t.add_row(
            safe_text(s.name),
            f"{s.n:,}",
            fmt.num(s.base_rate, 3),
            fmt.loss(s.mean_loss),
            fmt.pct(s.share_of_loss),
            fmt.num(s.ne, 3),
            fmt.num(s.ne_overall, 3),
            fmt.num(s.calibration_ratio, 3),
            fmt.num(s.ece),
            fmt.num(s.auc, 3),
        )
    if len(report.slices) > MAX_ROWS:
        t.caption = f"{len(report.slices) - MAX_ROWS} more in --format json"
    return t
