"""The one place that creates rich consoles; every other module hands renderables to it."""

from __future__ import annotations

import os
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from bcecli.text import escape

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
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
    """A table in the house style: one rule under the header, the title on the left
    (``box=None``: no rule, for a table without a header)."""
    from rich import box
    from rich.table import Table

    kwargs.setdefault("title_justify", "left")
    kwargs.setdefault("box", box.SIMPLE_HEAD)
    return Table(title=title, **kwargs)  # type: ignore[arg-type]


def report_table(title: str | None = None, **kwargs: object) -> Table:
    """A table of a report, which puts one blank line between its parts: the house style
    without the blank edge lines."""
    kwargs.setdefault("show_edge", False)
    return table(title, **kwargs)


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


class Detail(str, Enum):
    """How much of a report the terminal shows: --brief, the default screen, --verbose."""

    BRIEF = "brief"
    DEFAULT = "default"
    FULL = "full"


MAX_FLAG_LINES = 4  # a flag in the default report: at most this many lines, cut at a word
ELLIPSIS = " …"


def wrap_flag(
    lead: str, message: str, hint: str, width: int, max_lines: int | None = None
) -> tuple[list[str], bool]:
    """A flag as lines of at most ``width`` characters: ``lead: message`` (the lead is the
    severity and the id) wrapped with a hanging indent, then ``→ hint`` on lines of its
    own. With ``max_lines`` the message and the hint are shortened at a word boundary (with
    an ellipsis) to fit; the second value says whether anything was left out. Long words
    are broken only where one is wider than a line (a path, say)."""
    import textwrap

    width = max(width, 24)
    indent = " " * 2
    head = textwrap.wrap(
        f"{lead}: {message}",
        width,
        subsequent_indent=indent,
        break_on_hyphens=False,
    )
    tail = textwrap.wrap(
        "→ " + hint,
        width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )
    if max_lines is None or len(head) + len(tail) <= max_lines:
        return head + tail, False
    # the hint says what to do: it keeps at least half of the lines the message leaves it
    keep_tail = max(max_lines // 2, max_lines - len(head))
    keep_head = max_lines - min(keep_tail, len(tail))
    keep_tail = max_lines - min(keep_head, len(head))

    def short(text: str, n: int, first: str, rest: str) -> list[str]:
        return textwrap.wrap(
            text,
            width,
            initial_indent=first,
            subsequent_indent=rest,
            break_on_hyphens=False,
            max_lines=n,
            placeholder=ELLIPSIS,
        )

    head = short(f"{lead}: {message}", keep_head, "", indent)
    tail = short("→ " + hint, keep_tail, indent, indent + "  ")
    return head + tail, True


def wrap_text(text: str, width: int, indent: str = "  ") -> list[str]:
    """``text`` on lines of at most ``width`` characters, broken between words (a word wider
    than a line is broken), the lines after the first indented."""
    import textwrap

    return textwrap.wrap(
        text, max(width, 24), subsequent_indent=indent, break_on_hyphens=False
    ) or [""]


def stderr_width() -> int | None:
    """The width of the terminal stderr is on; None when stderr is a file or a pipe (scripts
    read one line per message there)."""
    import shutil
    import sys

    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):  # closed or replaced stream
        return None
    return shutil.get_terminal_size((80, 24)).columns


class Pair:
    """Two renderables side by side when the console is wide enough for both, else one above
    the other with a blank line between them."""

    GAP = 4

    def __init__(self, left: RenderableType, right: RenderableType) -> None:
        self.left, self.right = left, right

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.measure import Measurement
        from rich.table import Table

        a = Measurement.get(console, options, self.left).maximum
        b = Measurement.get(console, options, self.right).maximum
        if a + b + self.GAP <= options.max_width:
            grid = Table.grid(padding=(0, self.GAP, 0, 0))
            grid.add_column(width=a)
            grid.add_column(width=b)
            grid.add_row(self.left, self.right)
            yield grid
        else:
            yield self.left
            yield ""
            yield self.right


class Paragraphs:
    """Flag-like paragraphs (``lead: message`` and ``→ hint`` below it) wrapped to the console's
    width at render time, two spaces in; ``max_lines`` shortens each one (see wrap_flag) and
    a last line then says where the whole text is."""

    def __init__(
        self,
        items: list[tuple[str, str, str, str]],  # lead, its style, message, hint
        max_lines: int | None = None,
        *,
        title: str | None = None,
        indent: int = 2,
    ) -> None:
        self.items, self.max_lines, self.title, self.indent = items, max_lines, title, indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        if self.title:
            yield Text(self.title, style="italic")
        pad = " " * self.indent
        cut = False
        for lead, style, message, hint in self.items:
            lines, shortened = wrap_flag(
                lead, escape(message), escape(hint), options.max_width - self.indent,
                self.max_lines,
            )  # fmt: skip
            cut |= shortened
            in_hint = False
            for i, line in enumerate(lines):
                text = Text(pad + line)
                in_hint |= line.lstrip().startswith("→")
                if i == 0:
                    text.stylize(style, len(pad), len(pad) + len(lead))
                elif in_hint:
                    text.stylize("dim")
                yield text
        if cut:
            yield Text(pad + "(… shortened to fit the screen: the whole text in --verbose)", "dim")
