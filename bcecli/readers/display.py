"""Text from the data (file names, column names, cells) made safe for one-line messages."""

from __future__ import annotations

from bcecli.text import show as show  # re-exported: the readers name it from here


def show_cell(cell: str) -> str:
    return "'" + show(cell, 40) + "'"


def show_names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(show(n, 40) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown or "none"
