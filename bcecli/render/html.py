"""The report as one self-contained HTML page (``--html FILE``): for CI artifacts and sharing.

Self-contained: inline CSS, the figures of ``bce plot`` inline as SVG, no script, no external
asset; a Content-Security-Policy forbids the page to load anything. Every text from the data
(file and column names, messages) is escaped. The tables are the terminal report's sections at
``--verbose`` converted cell by cell, so a new section appears here without touching this
module; the headline numbers also carry their exact value (``data-value``) for scripts and
tests. ``page`` and ``renderables_html`` are the pieces other commands (``bce compare``) use.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import bcecli.text as fmt

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.checkinit import InitReport
    from bcecli.core.flags import Flag
    from bcecli.core.report import Report

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1a1a1a; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: .5rem .8rem; border-radius: 4px;
           background: #eef6ee; border-left: 4px solid #2e7d32; }
.verdict.warning { background: #fff8e1; border-color: #e69f00; }
.verdict.error { background: #fdecea; border-color: #d55e00; }
dl.headline { display: grid; grid-template-columns: max-content max-content 1fr;
              gap: .15rem 1rem; margin: 0; }
dl.headline dt { font-weight: 600; } dl.headline dd { margin: 0; text-align: right;
              font-variant-numeric: tabular-nums; }
dl.headline dd.note { text-align: left; color: #555; }
table { border-collapse: collapse; margin: .3rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: .2rem; }
th, td { padding: .15rem .7rem; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
th { text-align: left; border-bottom: 2px solid #999; white-space: pre; }
td.num { text-align: right; white-space: nowrap; }
td pre, pre { margin: 0; font: 13px/1.3 ui-monospace, monospace; }
.flag { margin: .4rem 0; padding: .3rem .6rem; border-left: 4px solid #56b4e9; }
.flag.warning { border-color: #e69f00; } .flag.error { border-color: #d55e00; }
.flag .sev { font-weight: 700; text-transform: uppercase; font-size: .8rem; }
.flag code { font-weight: 600; } .flag .hint { color: #444; }
.note { color: #555; } figure { margin: 0; } figure svg { max-width: 100%; height: auto; }
footer { margin-top: 2rem; color: #777; font-size: .85rem; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: Iterable[str]) -> str:
    """A whole HTML document: ``title`` (escaped here) and ``body``, HTML already escaped."""
    from bcecli.version import __version__

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<footer>Written by bce {esc(__version__)}.</footer>\n</body>\n</html>\n"
    )


def _plain(cell: object) -> str:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return "" if cell is None else str(cell)


def _numeric(text: str) -> bool:
    t = text.replace(",", "").replace("%", "").strip()
    try:
        float(t)
    except ValueError:
        return False
    return True


def table_html(table: object) -> str:
    """A rich Table as an HTML table: its title as the caption, a header row if it has one,
    numbers right-aligned; nested renderables (a grid's cells) converted in turn."""
    from rich.table import Table

    assert isinstance(table, Table)
    columns = table.columns
    rows = max((len(c._cells) for c in columns), default=0)
    out = ["<table>"]
    if table.title:
        out.append(f"<caption>{esc(_plain(table.title))}</caption>")
    if table.show_header and any(_plain(c.header) for c in columns):
        out.append("<thead><tr>" + "".join(f"<th>{esc(_plain(c.header))}</th>" for c in columns))
        out.append("</tr></thead>")
    out.append("<tbody>")
    for i in range(rows):
        cells = []
        for c in columns:
            cell = c._cells[i] if i < len(c._cells) else ""
            if isinstance(cell, Table):
                cells.append(f"<td>{table_html(cell)}</td>")
                continue
            text = _plain(cell)
            if "\n" in text or any(ch in text for ch in "█●│·"):
                cells.append(f"<td><pre>{esc(text)}</pre></td>")
            else:
                kind = ' class="num"' if _numeric(text) else ""
                cells.append(f"<td{kind}>{esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody>")
    if table.caption:
        out.append(f'<tfoot><tr><td colspan="{len(columns)}" class="note">'
                   f"{esc(_plain(table.caption))}</td></tr></tfoot>")  # fmt: skip
    out.append("</table>")
    return "\n".join(out)


def renderables_html(parts: Iterable[RenderableType]) -> list[str]:
    """The terminal's renderables as HTML: tables as tables, text as paragraphs, flag-like
    paragraphs as flags, pairs and groups taken apart; anything else as preformatted text."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from bcecli.render.terminal import Pair, Paragraphs

    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                out.append(f"<p>{esc(part)}</p>")
        elif isinstance(part, Table):
            out.append(table_html(part))
        elif isinstance(part, Text):
            out.append(f"<p>{esc(part.plain)}</p>")
        elif isinstance(part, Pair):
            out += renderables_html([part.left, part.right])
        elif isinstance(part, Group):
            out += renderables_html(part.renderables)
        elif isinstance(part, Paragraphs):
            out += [_flag_html(lead.split(" ")[0], lead, msg, hint) for lead, _, msg, hint in
                    part.items]  # fmt: skip
        else:
            out.append(f"<pre>{esc(_as_text(part))}</pre>")
    return out


def _as_text(part: RenderableType) -> str:
    import io

    from bcecli.render.terminal import make_console

    buf = io.StringIO()
    make_console(buf, color=False, width=100).print(part)
    return buf.getvalue()


def _flag_html(severity: str, lead: str, message: str, hint: str) -> str:
    kind = severity if severity in ("error", "warning", "info") else "info"
    name = lead[len(severity) :].strip() if lead.startswith(severity) else lead
    return (
        f'<div class="flag {kind}"><span class="sev">{esc(severity)}</span> '
        f"<code>{esc(name)}</code>: {esc(message)}"
        f'<br><span class="hint">→ {esc(hint)}</span></div>'
    )


def flags_html(flags: Iterable[Flag]) -> str:
    items = [
        _flag_html(f.severity.value, f"{f.severity.value} {f.id}", f.message, f.hint) for f in flags
    ]
    return (
        '<section id="flags"><h2>Flags</h2>\n' + ("\n".join(items) or "<p>none</p>") + "</section>"
    )


def figures_html(report: Report) -> str:
    """The figures of ``bce plot`` as inline SVG; without matplotlib, a line saying how to get
    them (the page is written either way)."""
    import os
    import tempfile

    from bcecli.errors import OptionError
    from bcecli.render.plot import plot_data, require_matplotlib, write_figure

    head = '<section id="figures"><h2>Figures</h2>\n'
    try:
        require_matplotlib()
    except OptionError:
        return head + (
            '<p class="note">The figures need matplotlib: <code>pip install '
            "'bcecli[plot]'</code>, then write the page again.</p></section>"
        )
    fd, path = tempfile.mkstemp(suffix=".svg", prefix="bce-")
    os.close(fd)
    try:
        write_figure(plot_data(report), path)
        with open(path, encoding="utf-8") as f:
            svg = f.read()
    finally:
        os.unlink(path)
    svg = svg[svg.index("<svg") :]  # no XML declaration or doctype inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)  # RDF, for files only
    return head + f'<figure role="img" aria-label="bce plot">{svg}</figure></section>'


HEADLINE = (  # JSON key, label, how it is shown
    ("mean_loss", "mean", fmt.loss),
    ("baseline_loss", "baseline", fmt.loss),
    ("ne", "NE", lambda v: fmt.num(v, 3)),
    ("accuracy", "accuracy", fmt.pct),
    ("brier", "Brier", fmt.num),
    ("ece", "ECE", fmt.num),
)


def headline_html(report: Report) -> str:
    from bcecli.core.bands import ne_meaning

    rows = []
    for key, label, show in HEADLINE:
        value = float(getattr(report, key))
        note = ""
        if key == "mean_loss":
            note = (
                report.band or "" if report.valid else f"not a valid loss: {report.invalid_reason}"
            )
        elif key == "ne" and report.valid:
            note = ne_meaning(report.ne)
        rows.append(
            f'<dt>{esc(label)}</dt><dd data-key="{key}" data-value="{esc(fmt.exact(value))}">'
            f'{esc(show(value))}</dd><dd class="note">{esc(note)}</dd>'
        )
    rows.append(
        f'<dt>rows</dt><dd data-key="n" data-value="{report.n}">{report.n:,}</dd>'
        f'<dd class="note">scored</dd>'
    )
    return '<section id="headline"><dl class="headline">' + "".join(rows) + "</dl></section>"


def _verdict_class(flags: Iterable[Flag], valid: bool) -> str:
    severities = {f.severity.value for f in flags}
    if not valid or "error" in severities:
        return "error"
    return "warning" if "warning" in severities else "ok"


def report_html(report: Report) -> str:
    """``bce score``'s report as a page: the verdict, the headline numbers, the flags with
    their hints, the figures, then every section of the --verbose report."""
    from bcecli.render.table import FULL, SECTIONS, shown, verdict_line
    from bcecli.render.terminal import Detail

    sources = ", ".join(report.context.sources) or "-"
    body = [
        f"<header><h1>bce score: {esc(sources)}</h1>",
        f'<p class="verdict {_verdict_class(report.flags, report.valid)}" id="verdict">'
        f"{esc(verdict_line(report))}</p></header>",
        headline_html(report),
        flags_html(report.flags),
        figures_html(report),
        '<section id="report"><h2>Report</h2>',
    ]
    for section in SECTIONS:
        if section.name == "flags" or not shown(section, Detail.FULL):
            continue  # the flags are above, with their hints
        part = section.build(report, FULL)
        if part is not None:
            body += renderables_html([part])
    body.append("</section>")
    return page(f"bce report: {sources}", body)


def document_html(title: str, verdict: str, parts: Iterable[RenderableType]) -> str:
    """Any command's terminal renderables as a page under ``title`` with ``verdict`` on top
    (plain text, escaped here): the HTML of ``bce compare``."""
    body = [
        f"<header><h1>{esc(title)}</h1>",
        f'<p class="verdict" id="verdict">{esc(verdict)}</p></header>',
        *renderables_html(parts),
    ]
    return page(title, body)


def init_html(result: InitReport) -> str:
    """``bce check-init``'s report as a page: the verdict, the tables, the flags, the figures."""
    from bcecli.render.init import init_table, outputs_table
    from bcecli.render.table import header

    sources = ", ".join(result.report.context.sources) or "-"
    verdict = "ok" if result.passed else "error"
    body = [
        f"<header><h1>bce check-init: {esc(sources)}</h1>",
        f'<p class="verdict {verdict}" id="verdict">{esc(result.verdict.value)}: '
        f"{esc(result.message)}<br>→ {esc(result.hint)}</p></header>",
        *renderables_html([header(result.report), init_table(result), outputs_table(result)]),
        flags_html(result.flags),
        *(f'<p class="note">note: {esc(n)}</p>' for n in result.notes),
        figures_html(result.report),
    ]
    return page(f"bce check-init: {sources}", body)


def write_html(text: str, path: str) -> None:
    """Write the page; a path that cannot be written is one error line."""
    from bcecli.errors import OptionError

    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise OptionError(
            f"cannot write the HTML report ({e.strerror or e})",
            "check the folder's permissions or choose another name",
            source=path,
        ) from None
