"""Small text charts for the terminal report (no colour needed to read them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.core.report import CalibrationBin, Report

if TYPE_CHECKING:
    from rich.console import RenderableType

TRACK = 21  # cells for [0, 1]: 0.05 per cell
PREDICTED, OBSERVED, GAP, EMPTY = "│", "●", "─", "·"


def _cell(v: float, width: int) -> int:
    return min(width - 1, max(0, round(v * (width - 1))))


def reliability_track(b: CalibrationBin, width: int = TRACK) -> str:
    """One bin on a [0, 1] line: │ mean predicted, ● observed, ─ the gap between them."""
    cells = [EMPTY] * width
    p, o = _cell(b.mean_pred, width), _cell(b.frac_pos, width)
    for i in range(min(p, o) + 1, max(p, o)):
        cells[i] = GAP
    cells[p] = PREDICTED
    cells[o] = OBSERVED  # on top: a lone ● means observed = predicted at this resolution
    return "".join(cells)


def _ruler(width: int) -> str:
    cells = [" "] * width
    cells[0], cells[-1] = "0", "1"
    mid = (width - 1) // 2
    cells[mid - 1 : mid + 1] = [".", "5"]
    return "".join(cells)


def reliability_chart(report: Report) -> RenderableType:
    """A reliability dot plot, one line per calibration bin, about 40 columns wide."""
    from bcecli.render.terminal import report_table

    what = "top class, " if report.task.is_multiclass else ""
    if not what and len(report.prior) > 1:
        what = "all outputs, "
    t = report_table(
        f"Reliability ({what}ECE {fmt.num(report.ece, 3)})",
        caption=f"{PREDICTED} predicted  {OBSERVED} observed  {GAP} gap",
        caption_justify="left",
        padding=(0, 1),
    )
    t.add_column("bin", no_wrap=True)
    t.add_column("n", justify="right", no_wrap=True)
    t.add_column(_ruler(TRACK), no_wrap=True, min_width=TRACK)
    for b in report.calibration:
        t.add_row(f"{b.lo:.1f}–{b.hi:.1f}", fmt.count(b.count), reliability_track(b))
    if not report.calibration:
        t.add_row("-", "0", "no scored predictions")
    return t
