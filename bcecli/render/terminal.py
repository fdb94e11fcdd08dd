"""The one place that creates rich consoles; every other module hands renderables to it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TextIO

from bcecli.text import escape

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text


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


def table(title: str | None = None, **kwargs: object) -> Table:
    """A table in the house style: one rule under the header, the title on the left."""
    from rich import box
    from rich.table import Table

    kwargs.setdefault("title_justify", "left")
    return Table(title=title, box=box.SIMPLE_HEAD, **kwargs)  # type: ignore[arg-type]


def safe_text(value: object, style: str = "") -> Text:
    """Text from input data (column names, file names): never markup, no control characters
    (escaped as the messages escape them)."""
    from rich.text import Text

    return Text(escape(str(value)), style=style)


def html(renderables: list[RenderableType], width: int = 100) -> str:
    """The renderables as a self-contained HTML fragment (a notebook's rich display)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), record=True, width=width, force_jupyter=False)
    for part in renderables:
        console.print(part)
    return console.export_html(inline_styles=True, code_format="<pre>{code}</pre>")
