"""What a cell of text means: a number (in which notation), a missing value, or a mistake whose
fix can be named."""

from __future__ import annotations

import re
import unicodedata

from bcecli.readers.display import show, show_cell

# The spellings of a missing value, in every text reader (and in the Dask engine's).
NULL_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "#N/A", "-")

# ASCII only: pyarrow reads no other digits or spaces (a fullwidth '０.９', a non-breaking space),
# so a cell holding them is not a number, and is named as such
_NUMBER = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*",
    re.IGNORECASE | re.ASCII,
)
_NUMBER_DECIMAL_COMMA = re.compile(r"\s*[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)
_THOUSANDS = re.compile(r"\s*[+-]?\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?\s*", re.ASCII)


def looks_numeric(cell: str) -> bool:
    """A number with a decimal point (or inf, nan)."""
    return _NUMBER.fullmatch(cell) is not None


def is_decimal_comma_number(cell: str) -> bool:
    """A number written with a decimal comma (0,9) or none at all (12)."""
    return _NUMBER_DECIMAL_COMMA.fullmatch(cell) is not None


def is_number(cell: str, decimal_comma: bool = False) -> bool:
    """A number in the file's notation (a decimal point is read in either)."""
    return (decimal_comma and is_decimal_comma_number(cell)) or looks_numeric(cell)


def not_a_number_fix(cell: str) -> str:
    """What to do about a cell that should hold a number and does not."""
    c = cell.strip()
    if not cell.isascii():
        odd = sorted({ch for ch in cell if not ch.isascii()})
        names = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in odd[:3])
        ascii_form = "".join(
            str(unicodedata.digit(ch)) if unicodedata.digit(ch, None) is not None
            else " " if ch.isspace() else ch
            for ch in cell
        ).strip()  # fmt: skip
        if ascii_form.isascii() and looks_numeric(ascii_form):
            return f"write it with ASCII digits and spaces ({ascii_form}): it holds {names}"
        return f"it holds {names}: write numbers with ASCII digits 0-9 and a decimal point"
    if _THOUSANDS.fullmatch(c):
        return "remove the thousands separators (write 1000.5, not 1,000.5)"
    if c.endswith("%") and looks_numeric(c[:-1]):
        return "write probabilities as numbers in [0, 1] (0.9, not 90%)"
    if c.startswith("#"):
        return "that is a spreadsheet error value: fix the formula, or leave the cell empty"
    if "," in c and looks_numeric(c.replace(",", ".")):
        return "write a decimal point, not a decimal comma (0.9, not 0,9)"
    return "fix that cell (an empty cell or NA is read as missing and the row is excluded)"


def not_a_number(row: int, column: str, cell: str) -> tuple[str, str]:
    """What to say, and what to do, about a cell that should hold a number."""
    where = f"row {row}, column {show(column, 40)}"
    return f"{where}: {show_cell(cell)} is not a number", not_a_number_fix(cell)
