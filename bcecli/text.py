"""How values are written as text, each rule once: numbers (in JSON, in tables, in messages) and
text from the data (file names, column names, cells) made safe to print.

A leaf module: the readers, the report's JSON and the renderers all use it, and it imports
nothing of bce's.
"""

from __future__ import annotations

import math
import re

# --------------------------------------------------------------------------------------------
# numbers


def nonfinite(v: float) -> str | None:
    """ "inf", "-inf" or "nan" for a value that is not finite; None for one that is."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def json_number(v: float | None) -> float | str | None:
    """A JSON-safe number: finite floats as they are, inf/nan as strings, None as null."""
    if v is None:
        return None
    return nonfinite(v) or v


def exact(v: float) -> str:
    """The shortest text that reads back as the same float (``repr``), or inf/-inf/nan."""
    return nonfinite(v) or repr(v)


def loss(v: float) -> str:
    """A loss in a table: six decimals, or three significant digits below 0.001."""
    if (word := nonfinite(v)) is not None:
        return word
    if v == 0:
        return "0"
    return f"{v:.6f}" if abs(v) >= 1e-3 else f"{v:.3e}"


def num(v: float | None, digits: int = 4) -> str:
    """A statistic in a table: ``digits`` decimals, scientific when tiny or huge; '-' for
    none."""
    if v is None:
        return "-"
    if (word := nonfinite(v)) is not None:
        return word
    if v != 0 and (abs(v) < 10**-digits or abs(v) >= 1e6):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def pct(v: float) -> str:
    """A share as a percentage with one decimal."""
    return nonfinite(v) or f"{v:.1%}"


def brief(v: float) -> str:
    """A number in a message: four significant digits, three when tiny or huge."""
    if (word := nonfinite(v)) is not None:
        return word
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3g}"
    return f"{v:.4g}"


def short(v: float) -> str:
    """A label or prediction in a table: integers as integers, else four significant digits."""
    if (word := nonfinite(v)) is not None:
        return word
    return f"{v:g}" if v == int(v) and abs(v) < 1e6 else f"{v:.4g}"


def count(n: int) -> str:
    """A count in a narrow column: 12345 as 12k, 12345678 as 12M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= 10 * scale:
            return f"{n / scale:.0f}{suffix}"
    return str(n)


# --------------------------------------------------------------------------------------------
# text from the data

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


def escape(text: str) -> str:
    """``text`` with every character that could move the cursor, change the terminal or reorder
    the line written as an escape (``\\x1b``, ``\\n``, ``\\u202e``)."""
    return CONTROL.sub(_escape_char, text)


def show(text: str, limit: int = 60) -> str:
    """Text from the data made safe for a one-line message: escaped, and cut when long."""
    if len(text) > 4 * limit:
        text = text[: 4 * limit]
    out = escape(text)
    return out if len(out) <= limit else out[: limit - 3] + "..."
