"""The report's lines on calibration and discrimination (core/why.py words them), kept apart
from ``render.table`` so that either can change without the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.core.report import Report


def why_section(r: Report, level: object = None) -> RenderableType | None:
    """One dim line per sentence, under the loss table (None where nothing applies)."""
    from rich.console import Group

    from bcecli.core.why import why_lines
    from bcecli.render.terminal import safe_text

    lines = why_lines(r)
    return Group(*(safe_text(line, "dim") for line in lines)) if lines else None
