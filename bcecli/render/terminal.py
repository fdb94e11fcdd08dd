"""The one place that creates rich consoles; every other module hands renderables to it."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def make_console(file: TextIO, *, color: bool | None = None, width: int | None = None) -> Console:
    """A console on ``file``; colour follows --color/--no-color, else NO_COLOR / FORCE_COLOR."""
    from rich.console import Console

    kwargs: dict[str, object] = {"file": file, "highlight": False, "soft_wrap": False}
    if color is False or (color is None and os.environ.get("NO_COLOR")):
        kwargs["no_color"] = True
        kwargs["color_system"] = None
    elif color is True:
        kwargs["force_terminal"] = True
    if width is not None:
        kwargs["width"] = width
    return Console(**kwargs)  # type: ignore[arg-type]


def safe_text(value: object, style: str = "") -> Text:
    """Text from input data (column names, file names): never markup, no control characters."""
    from rich.text import Text

    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return Text(text, style=style)
