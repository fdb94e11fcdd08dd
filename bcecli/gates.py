"""Quality gates: which findings make ``bce score`` exit 1.

``evaluate`` is a pure function of the report: it returns the reasons as data (which gate, the
value it saw, its limit or the flags that tripped it), so a caller can print them, put them in
JSON or test them; only the CLI turns a failed gate into an exit code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bcecli.core.flags import Severity
from bcecli.core.report import Report
from bcecli.errors import OptionError


class FailOn(str, Enum):
    """The least severe flag that fails the run (``never``: no flag does)."""

    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"

    def trips(self, severity: Severity) -> bool:
        """Whether a flag of ``severity`` fails the run under this setting."""
        if self is FailOn.NEVER:
            return False
        return severity.rank <= Severity(self.value).rank


class Gate(str, Enum):
    """The gate a reason comes from (named as the option that sets it)."""

    FAIL_ON = "fail_on"
    MAX_LOSS = "max_loss"
    MAX_NE = "max_ne"
    MAX_SAMPLE_LOSS = "max_sample_loss"


@dataclass(frozen=True)
class Gates:
    """When a report fails the run (exit code 1)."""

    fail_on: FailOn = FailOn.ERROR
    max_loss: float | None = None
    max_ne: float | None = None
    ignore: tuple[str, ...] = ()  # flag ids that never trip fail_on
    max_sample_loss: float | None = None  # the worst sample's loss (max_loss gates the mean)

    def __post_init__(self) -> None:
        # NaN passes no comparison: a NaN limit would fail every run, whatever its loss
        for flag, limit in (
            ("--max-loss", self.max_loss),
            ("--max-ne", self.max_ne),
            ("--max-sample-loss", self.max_sample_loss),
        ):
            if limit is not None and math.isnan(limit):
                raise OptionError(f"{flag} nan is not a limit", f"give {flag} a number, e.g. 0.3")


@dataclass(frozen=True)
class FlagsRaised:
    """``fail_on`` tripped: the ids of the flags at or above its severity, not ignored."""

    fail_on: FailOn
    flag_ids: tuple[str, ...]

    @property
    def gate(self) -> Gate:
        return Gate.FAIL_ON

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate.value, "message": self.message, "flags": list(self.flag_ids)}

    @property
    def message(self) -> str:
        kinds = "error" if self.fail_on is FailOn.ERROR else "error/warning"
        n = len(self.flag_ids)
        return f"{n} {kinds} flag{'s' if n > 1 else ''} ({', '.join(self.flag_ids)})"


@dataclass(frozen=True)
class AboveLimit:
    """A number above its limit (or undefined: NaN passes no limit)."""

    gate: Gate  # MAX_LOSS, MAX_NE or MAX_SAMPLE_LOSS
    value: float
    limit: float
    invalid: str | None = None  # why the value is not a valid loss (it then passes no limit)

    def to_dict(self) -> dict[str, Any]:
        from bcecli.text import json_number

        return {
            "gate": self.gate.value,
            "message": self.message,
            "value": json_number(self.value),
            "limit": json_number(self.limit),
        }

    @property
    def message(self) -> str:
        option = "--" + self.gate.value.replace("_", "-")
        if self.invalid is not None:
            reason = f"the mean is not a valid loss ({self.invalid})"
            return f"{option} {self.limit:g} cannot pass: {reason}"
        if self.gate is Gate.MAX_LOSS:
            return f"mean loss {self.value:.6g} > --max-loss {self.limit:g}"
        if self.gate is Gate.MAX_SAMPLE_LOSS:
            return f"worst sample loss {self.value:.6g} > --max-sample-loss {self.limit:g}"
        shown = "undefined" if math.isnan(self.value) else f"{self.value:.4g}"
        return f"NE {shown} > --max-ne {self.limit:g}"


Reason = FlagsRaised | AboveLimit


@dataclass(frozen=True)
class GateResult:
    """The gates' verdict on one report: the reasons it fails, none when it passes."""

    reasons: tuple[Reason, ...]

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        """The ``gate`` object of the JSON: ``passed`` and one reason per failed gate."""
        return {"passed": self.passed, "reasons": [r.to_dict() for r in self.reasons]}


def evaluate(report: Report, gates: Gates) -> GateResult:
    """Apply ``gates`` to ``report``."""
    reasons: list[Reason] = []
    hits = tuple(
        f.id for f in report.flags if gates.fail_on.trips(f.severity) and f.id not in gates.ignore
    )
    if hits:
        reasons.append(FlagsRaised(gates.fail_on, hits))
    for gate, value, limit in (
        (Gate.MAX_LOSS, report.mean_loss, gates.max_loss),
        (Gate.MAX_NE, report.ne, gates.max_ne),
        (Gate.MAX_SAMPLE_LOSS, report.max_loss, gates.max_sample_loss),
    ):
        if limit is None:
            continue
        if not report.valid:  # an invalid mean passes no limit, whatever its value
            reasons.append(AboveLimit(gate, value, limit, report.invalid_reason))
        elif not value <= limit:  # written so that NaN fails
            reasons.append(AboveLimit(gate, value, limit))
    return GateResult(tuple(reasons))
