"""What the commands print: the one switch from --format to a renderer. Data goes to stdout,
notes and warnings to stderr; a failed gate is exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bcecli.cli.options import Format, Output, View

if TYPE_CHECKING:
    import numpy as np
    from rich.console import RenderableType

    from bcecli.api import Report
    from bcecli.core.flags import Flag
    from bcecli.gates import Gates


@dataclass(frozen=True)
class Document:
    """What a command has to say, in each form --format can ask for (each built only when
    asked): rich renderables for the table, a JSON object, and the rows of TSV/CSV."""

    table: Callable[[], list[RenderableType]]
    data: Callable[[], dict[str, Any]]
    rows: Callable[[], list[tuple[str, ...]]]
    losses: Callable[[], Iterable[np.ndarray]] | None = None  # streamed into JSON last


def emit(doc: Document, out: Output) -> None:
    """Print ``doc`` as ``out.fmt`` asks."""
    fmt = out.fmt.resolved()
    if fmt is Format.TABLE:
        from bcecli.render.terminal import make_console

        console = make_console(sys.stdout, color=out.color)
        console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]  # rich exits 1
        for part in doc.table():
            console.print(part)
    elif fmt in (Format.JSON, Format.JSONL):
        from bcecli.render.machine import json_pieces

        losses = None if doc.losses is None else doc.losses()
        for piece in json_pieces(doc.data(), compact=fmt is Format.JSONL, losses=losses):
            click.echo(piece, nl=False)
        click.echo("")
    else:
        from bcecli.render.machine import delimited

        click.echo(delimited(doc.rows(), "\t" if fmt is Format.TSV else ","), nl=False)


def _broken_pipe() -> None:
    # rich's own handler exits with status 1; `| head` is a quiet exit 0 (the group's handler)
    raise BrokenPipeError


SCREEN_LINES = 50  # the screen the default report fits when stdout is not a terminal


def screen_lines(below: int = 0) -> int:
    """Lines the default report may take: the terminal's height (SCREEN_LINES when stdout is
    a file or a pipe, so the text does not depend on where it goes) less the prompt's line
    and the ``below`` lines that follow the report on stderr."""
    import shutil

    height = SCREEN_LINES
    try:
        if sys.stdout.isatty():
            height = shutil.get_terminal_size((80, SCREEN_LINES)).lines
    except (AttributeError, ValueError):
        pass
    return max(height - 1 - below, 10)


def per_sample_format(out: Output, *, per_sample: bool, raw: bool) -> str | None:
    """The format of --per-sample records (None without --per-sample): ``table`` on a terminal
    (or with --format table), the first records aligned; a usage error where the options do
    not fit."""
    if per_sample and raw:
        raise click.UsageError("--per-sample and --raw do not go together; choose one")
    if not per_sample:
        return None
    if out.fmt.resolved() is Format.TABLE:
        return "table"
    return {Format.AUTO: "tsv", Format.JSON: "jsonl"}.get(out.fmt, out.fmt.value)


PREVIEW_ROWS = 20  # records --per-sample shows on a terminal


class FirstLines:
    """A binary stream keeping the first ``limit`` lines written to it (the records shown on a
    terminal) and counting the records after them."""

    def __init__(self, limit: int) -> None:
        self.limit, self.kept, self.lines = limit, bytearray(), 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        if self.lines < self.limit:
            self.kept += bytes(memoryview(data))
            self.lines = self.kept.count(b"\n")
        return n

    def flush(self) -> None:
        pass


def per_sample_stream(fmt: str | None) -> tuple[Any, str]:
    """Where the records go and as what: stdout (as ``fmt``), or the first of them kept as
    TSV for a table."""
    if fmt == "table":
        return FirstLines(PREVIEW_ROWS + 1), "tsv"
    return sys.stdout.buffer, fmt or "csv"


def _shown(name: str, names: list[str]) -> bool:
    """Whether a table of records shows this field: not a class's prediction or label when
    there are more than three (pred_class, p_true and loss say what matters)."""
    for prefix in ("pred_", "label_"):
        if name.startswith(prefix) and name != "pred_class":
            return sum(1 for n in names if n.startswith(prefix) and n != "pred_class") <= 3
    return True


def _short(cell: str) -> str:
    """A number at six significant digits (the records keep every digit)."""
    try:
        v = float(cell)
    except ValueError:
        return cell
    return cell if v == int(v) or "e" in cell.lower() and len(cell) < 10 else f"{v:.6g}"


def _preview(stream: FirstLines, report: Report, out: Output) -> None:
    """The first records as an aligned table, and how to get all of them."""
    from bcecli.render.terminal import make_console, report_table, safe_text

    lines = stream.kept.decode("utf-8", "replace").splitlines()[: PREVIEW_ROWS + 1]
    if not lines:
        return
    names, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    keep = [i for i, name in enumerate(names) if _shown(name, names)]
    t = report_table(None)
    for i in keep:
        t.add_column(names[i], justify="left" if names[i] == "flags" else "right",
                     no_wrap=True, overflow="ellipsis")  # fmt: skip
    for row in rows:
        t.add_row(*(safe_text(_short(row[i])) for i in keep if i < len(row)))
    make_console(sys.stdout, color=out.color).print(t)
    total = report.n + report.n_excluded
    shown = f"the first {len(rows)} of {total:,} records" if total > len(rows) else "every record"
    _note(
        f"{shown}; all of them as data: --format csv, tsv or jsonl, or pipe the output",
        out.quiet,
    )


def report_document(
    report: Report, gates: Gates | None = None, view: View | None = None
) -> Document:
    from bcecli.render.machine import report_rows
    from bcecli.render.table import render_report
    from bcecli.render.terminal import Detail

    detail = Detail.DEFAULT if view is None else view.detail

    def table() -> list[RenderableType]:
        from bcecli.gates import evaluate

        failed = gates is not None and not evaluate(report, gates).passed  # "Failed: ..." below
        return render_report(report, detail, height=screen_lines(below=int(failed)))

    return Document(
        table=table,
        data=lambda: report.to_dict(losses=False, gates=gates),
        rows=lambda: report_rows(report.to_dict(losses=False, gates=gates)),
        losses=None if report.loss_spool is None else report.loss_blocks,
    )


def emit_report(
    report: Report,
    out: Output,
    *,
    per_sample: bool,
    raw: bool,
    gates: Gates | None = None,
    view: View | None = None,
    preview: object = None,
) -> None:
    """``bce score``'s output: the report (or only its loss with --raw; only a summary line on
    stderr when the records went to stdout), then errors and warnings on stderr."""
    if raw:
        _raw(report)
    elif per_sample:
        if isinstance(preview, FirstLines):
            _preview(preview, report, out)
        _note(_one_line_summary(report), out.quiet)
    else:
        emit(report_document(report, gates, view), out)
    if per_sample or raw or out.fmt.resolved() is not Format.TABLE:  # the table shows its flags
        note_flags(report.flags, out.quiet)
    if view is not None:
        from bcecli.render.html import report_html

        write_html(lambda: report_html(report), view.html, out.quiet)


def write_html(build: Callable[[], str], path: str | None, quiet: bool) -> None:
    """Write the page ``build`` makes to ``path`` (--html), and say so on stderr."""
    if path is None:
        return
    from bcecli.render.html import write_html as write

    write(build(), path)
    _note(f"wrote {path}", quiet)


def note_flags(flags: Iterable[Flag], quiet: bool) -> None:
    """Errors and warnings on stderr: one line each for a file or a pipe (scripts read them
    line by line); on a terminal, wrapped to its width as the report wraps them."""
    from bcecli.render.terminal import stderr_width, wrap_flag
    from bcecli.text import escape

    width = stderr_width()
    for f in flags:
        if f.severity.value not in ("error", "warning"):
            continue
        if width is None:
            _note(f"{f.severity.value}: {f.id}: {f.message}; {f.hint}", quiet)
        else:
            message, hint = escape(f.message), escape(f.hint)
            lines, _ = wrap_flag(f"{f.severity.value}: {f.id}", message, hint, width - 1)
            _note("\n".join(lines), quiet)


def check_gates(report: Report, gates: Gates, out: Output) -> None:
    """Exit 1, saying why on stderr, when the report fails a gate."""
    from bcecli.gates import evaluate

    verdict = evaluate(report, gates)
    if not verdict.passed:
        _note("Failed: " + "; ".join(r.message for r in verdict.reasons), out.quiet)
        raise click.exceptions.Exit(1)


def _raw(report: Report) -> None:
    from bcecli.render.machine import loss_texts
    from bcecli.text import exact

    if report.loss is not None:
        click.echo(exact(report.loss))
        return
    sep = ""
    for block in report.loss_blocks():  # one loss per line, a block at a time
        if len(block):
            click.echo(sep + "\n".join(loss_texts(block)), nl=False)
            sep = "\n"
    click.echo("")


def _one_line_summary(report: Report) -> str:
    import bcecli.text as fmt

    return (
        f"bce: {report.task.value}, {report.n:,} rows scored"
        + (f" ({report.n_excluded:,} excluded)" if report.n_excluded else "")
        + f", mean loss {fmt.loss(report.mean_loss)} ({report.band}), NE {fmt.num(report.ne, 3)}"
    )


def _note(text: str, quiet: bool) -> None:
    if not quiet:
        click.echo(text, err=True)
