"""The report's lines on calibration and discrimination (core/why.py words them), kept apart
from ``render.table`` so that either can change without the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.core.report import Report
    from bcecli.render.table import Level


# the one-screen report squeezed this hard (an index into render.table.SQUEEZES) leaves it out
DROP_AT_SQUEEZE = 2


def why_section(r: Report, level: Level) -> RenderableType | None:
    """One dim line per sentence, under the loss table (None where nothing applies): every
    sentence with --verbose; on the one screen the main one (the decomposition, or for several
    classes the temperature), until the screen is squeezed hard."""
    from rich.console import Group

    from bcecli.core.why import why_lines
    from bcecli.render.terminal import Detail, safe_text

    lines = why_lines(r)
    if level.detail is not Detail.FULL:
        if level.squeeze >= DROP_AT_SQUEEZE:
            return None
        lines = lines[1:2]  # after the ranking line: the decomposition / the softmax fit
    return Group(*(safe_text(line, "dim") for line in lines)) if lines else None
