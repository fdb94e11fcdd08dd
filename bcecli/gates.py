"""Quality gates: which findings make ``bce score`` exit 1."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bcecli.core.flags import Severity
from bcecli.core.report import Report


@dataclass(frozen=True)
class Gates:
    """When a report fails the run (exit code 1)."""

    fail_on: str = "error"  # error | warning | never
    max_loss: float | None = None
    max_ne: float | None = None
    ignore: tuple[str, ...] = ()


def failures(report: Report, gates: Gates) -> list[str]:
    """Reasons the gates fail, empty when the report passes."""
    reasons: list[str] = []
    if gates.fail_on != "never":
        worst = Severity.ERROR.rank if gates.fail_on == "error" else Severity.WARNING.rank
        hits = [f for f in report.flags if f.severity.rank <= worst and f.id not in gates.ignore]
        if hits:
            kinds = "error" if gates.fail_on == "error" else "error/warning"
            ids = ", ".join(f.id for f in hits)
            reasons.append(f"{len(hits)} {kinds} flag{'s' if len(hits) > 1 else ''} ({ids})")
    if gates.max_loss is not None and not report.mean_loss <= gates.max_loss:
        reasons.append(f"mean loss {report.mean_loss:.6g} > --max-loss {gates.max_loss:g}")
    if gates.max_ne is not None and not report.ne <= gates.max_ne:
        shown = "undefined" if math.isnan(report.ne) else f"{report.ne:.4g}"
        reasons.append(f"NE {shown} > --max-ne {gates.max_ne:g}")
    return reasons
