"""``bce score a.csv b.csv ...``: each file scored on its own, one summary row per file.

The rows: a table (one line each with the main figures), TSV/CSV (a header, then one line per
file, written as each file is done) or JSONL (one report object per file, with ``file`` and
``exit_code`` first; ``--format json`` too). A file that cannot be scored is a row with its
error, and the others are still scored. The exit code is the worst of the files' codes, in the
order usage error (2) > input cannot be scored (3) > a gate failed (1) > 0: an option that does
not fit a file is a mistake in the call itself, to fix first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from bcecli.cli.options import Format, InputKw, LossKw, Output, RunKw

if TYPE_CHECKING:
    from rich.table import Table

    from bcecli.api import Report
    from bcecli.gates import GateResult, Gates

# How bad each exit code is, for the exit code of several files.
SEVERITY = {0: 0, 1: 1, 3: 2, 2: 3}

HEADER = (
    "file", "exit_code", "task", "n", "mean_loss", "band", "ne", "errors", "warnings", "gate",
    "error",
)  # fmt: skip


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: its report and gate verdict, or the error that stopped it."""

    path: str
    exit_code: int
    report: Report | None = None
    verdict: GateResult | None = None
    error: str | None = None

    def counts(self) -> tuple[int, int]:
        """The error and warning flags raised."""
        flags = self.report.flags if self.report is not None else ()
        return (
            sum(1 for f in flags if f.severity.value == "error"),
            sum(1 for f in flags if f.severity.value == "warning"),
        )

    def cells(self) -> tuple[object, ...]:
        r = self.report
        if r is None:
            return (self.path, self.exit_code, "", "", "", "", "", "", "", "", self.error)
        errors, warnings = self.counts()
        passed = self.verdict is None or self.verdict.passed
        return (
            self.path, self.exit_code, r.task.value, r.n, r.mean_loss, r.band, r.ne, errors,
            warnings, "passed" if passed else "failed", "",
        )  # fmt: skip


def worst_code(codes: list[int]) -> int:
    """The exit code of several files: the worst of theirs (see ``SEVERITY``)."""
    return max(codes, key=lambda c: SEVERITY.get(c, 3), default=0)


def check_many(paths: tuple[str, ...], *, per_sample: bool, raw: bool, labels: str | None) -> None:
    """Usage errors of a call with several files."""
    if per_sample or raw:
        what = "--raw" if raw else "--per-sample (and --top)"
        raise click.UsageError(
            f"{what} takes one file, and {len(paths)} were given; run bce once per file"
        )
    if paths.count("-") + (labels == "-") > 1:
        raise click.UsageError("stdin ('-') can be read only once; write the others to files")


def score_many(
    paths: tuple[str, ...],
    *,
    inputs: InputKw,
    loss: LossKw,
    run: RunKw,
    gates: Gates,
    out: Output,
    chunk_rows: int | None,
) -> int:
    """Score each file on its own (the same options and ``--labels`` file for each), print
    one row per file, and return the worst exit code."""
    from bcecli.api import score_file
    from bcecli.cli.progress import ProgressLine
    from bcecli.errors import BceError, flag_spelling
    from bcecli.gates import evaluate

    fmt = out.fmt.resolved()
    rows = _Rows(fmt, gates)
    results: list[FileResult] = []
    for path in paths:
        progress = ProgressLine(enabled=not out.quiet)
        try:
            report = score_file(path, **inputs, **loss, **run, progress=progress,
                                chunk_rows=chunk_rows)  # fmt: skip
        except BceError as e:
            result = FileResult(path, e.exit_code, error=e.line(flag_spelling))
            click.echo(f"Error: {result.error}", err=True)
        else:
            if report.loss_spool is not None:  # --reduction none: the rows show the mean
                report.loss_spool.close()
            verdict = evaluate(report, gates)
            result = FileResult(path, 0 if verdict.passed else 1, report, verdict)
            _notes(result, out.quiet)
        finally:
            progress.close()
        results.append(result)
        rows.write(result)
    rows.finish(results, out)
    return worst_code([r.exit_code for r in results])


def _notes(result: FileResult, quiet: bool) -> None:
    """A file's errors and warnings, and why its gate failed, on stderr (not with -q)."""
    if quiet or result.report is None:
        return
    for f in result.report.flags:
        if f.severity.value in ("error", "warning"):
            click.echo(
                f"{result.path}: {f.severity.value}: {f.id}: {f.message}; {f.hint}", err=True
            )
    if result.verdict is not None and not result.verdict.passed:
        reasons = "; ".join(r.message for r in result.verdict.reasons)
        click.echo(f"{result.path}: Failed: {reasons}", err=True)


class _Rows:
    """The rows in the format asked for: TSV/CSV and JSONL as each file is done, the table
    at the end."""

    def __init__(self, fmt: Format, gates: Gates) -> None:
        self.fmt, self.gates = fmt, gates
        self.started = False

    def write(self, result: FileResult) -> None:
        from bcecli.render.machine import delimited, to_json

        if self.fmt in (Format.TSV, Format.CSV):
            sep = "\t" if self.fmt is Format.TSV else ","
            rows: list[tuple[object, ...]] = [] if self.started else [HEADER]
            click.echo(delimited([*rows, result.cells()], sep), nl=False)
        elif self.fmt in (Format.JSON, Format.JSONL):
            data: dict[str, Any] = {"file": result.path, "exit_code": result.exit_code}
            if result.report is None:
                data["error"] = result.error
            else:
                data.update(result.report.to_dict(losses=False, gates=self.gates))
            click.echo(to_json(data, compact=True))
        self.started = True

    def finish(self, results: list[FileResult], out: Output) -> None:
        if self.fmt is not Format.TABLE:
            return
        import sys

        from bcecli.render.terminal import make_console

        console = make_console(sys.stdout, color=out.color)
        console.print(summary_table(results, console.width))


def summary_table(results: list[FileResult], width: int = 80) -> Table:
    """One line per file: file, task, n, mean loss, band, NE, and the error and warning flags
    raised (errors/warnings; the exit codes are in the other formats and the exit status).
    Paths are shown below the folder they share, folded where the line is too short."""
    import os

    import bcecli.text as fmt
    from bcecli.render.terminal import safe_text, table

    folder = ""
    if all(r.path != "-" for r in results):
        try:
            folder = os.path.commonpath([os.path.dirname(r.path) for r in results])
        except ValueError:  # absolute and relative paths mixed
            folder = ""
    header = ("file", "task", "n", "mean loss", "band", "NE", "flags")
    rows: list[tuple[str, ...]] = []
    for r in results:
        shown = os.path.relpath(r.path, folder) if folder else r.path
        rep = r.report
        if rep is None:  # the error itself is on stderr: here it would squeeze every column
            rows.append((shown, "", "", "", "", "", "error"))
            continue
        errors, warnings = r.counts()
        rows.append((
            shown, rep.task.value, f"{rep.n:,}", fmt.loss(rep.mean_loss), rep.band or "-",
            fmt.num(rep.ne, 3), f"{errors}/{warnings}" if errors or warnings else "-",
        ))  # fmt: skip
    # every column as wide as its widest cell (rich would share the room out otherwise), the
    # file names in what is left, folded
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    widths[4] = min(widths[4], 9)  # the band wraps ("something / is broken")
    room = width - sum(widths[1:]) - 3 * len(header) - 1  # padding, separators and edges
    widths[0] = max(12, min(widths[0], room))
    where = f" in {folder}{os.sep}" if folder else ""
    t = table(f"{len(results)} files{where}, each scored on its own")
    for name, w in zip(header, widths, strict=True):
        right = name not in ("file", "task", "band")
        t.add_column(name, justify="right" if right else "left", width=w,
                     overflow="fold" if name == "file" else "ellipsis")  # fmt: skip
    for row in rows:
        error = row[-1] == "error"
        t.add_row(*(safe_text(c) for c in row[:-1]), safe_text(row[-1], "red" if error else ""))
    return t
