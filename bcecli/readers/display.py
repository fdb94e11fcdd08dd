"""Text from the data (file names, column names, cells) made safe for one-line messages."""

from __future__ import annotations

import re

# C0/C1 controls (ESC starts terminal escapes), line and paragraph separators, bidi overrides,
# and lone surrogates (bytes that were not UTF-8, read with errors="surrogateescape").
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        code -= 0xDC00
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
        m.group(), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    )


def show(text: str, limit: int = 60) -> str:
    """Text from the data (a file or column name, a cell) made safe for a one-line message:
    control characters and undecodable bytes escaped, long text cut."""
    if len(text) > 4 * limit:
        text = text[: 4 * limit]
    out = CONTROL.sub(_escape_char, text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def show_cell(cell: str) -> str:
    return "'" + show(cell, 40) + "'"


def show_names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(show(n, 40) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown or "none"
