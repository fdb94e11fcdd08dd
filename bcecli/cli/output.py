"""What the commands print: the one place that maps --format to a renderer, writes data to
stdout and notes to stderr, and turns gate failures into exit code 1."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from bcecli.errors import OptionError

if TYPE_CHECKING:
    from bcecli.core.chunk import ScoredChunk
    from bcecli.render.persample import PerSampleWriter
    from bcecli.run.sink import RowColumns, RowSink
    from bcecli.spool import LossSpool


def resolve_format(fmt: str) -> str:
    """``auto`` is the table on a terminal and TSV when piped (decided by isatty, not colour)."""
    if fmt != "auto":
        return fmt
    return "table" if sys.stdout.isatty() else "tsv"


def _note(text: str, quiet: bool) -> None:
    if not quiet:
        click.echo(text, err=True)


def _print_renderables(parts: list[Any], color: bool | None) -> None:
    from bcecli.render.terminal import make_console

    console = make_console(sys.stdout, color=color)
    for part in parts:
        console.print(part)


def score_request(preds: str, kw: dict[str, Any]) -> Any:
    """The ScoreRequest for the input and semantics options (shared by score and plot)."""
    from bcecli.core.options import Compat, LossOptions, Task
    from bcecli.readers import ColumnRequest
    from bcecli.readers.columns import split_list
    from bcecli.run import DaskEngine, Inputs, LocalEngine, ScoreRequest

    loss = LossOptions(
        task=Task(kw["task"]),
        compat=Compat(kw["compat"]),
        from_logits=bool(kw["from_logits"]),
        label_smoothing=float(kw["label_smoothing"]),
        pos_weight=kw["pos_weight"],
        class_weight=kw["class_weight"],
        ignore_class=kw["ignore_class"],
        dtype=kw["dtype"],
    )
    inputs = Inputs(
        preds=preds,
        labels=kw["labels"],
        columns=ColumnRequest(
            label_cols=split_list(kw["label_col"]),
            pred_cols=split_list(kw["pred_col"]),
            sample_weight=kw["sample_weight"],
        ),
    )
    chunk_rows, scheduler = kw.get("chunk_rows"), kw.get("scheduler")
    if kw.get("engine") == "dask":
        return ScoreRequest(inputs, loss, DaskEngine(scheduler, chunk_rows=chunk_rows))
    if scheduler is not None:
        raise OptionError("{scheduler} needs {engine=dask}", "add {engine=dask}")
    return ScoreRequest(inputs, loss, LocalEngine(chunk_rows=chunk_rows))


class PerSampleSink:
    """--per-sample: a row sink writing one record per row to ``out``."""

    needs_row_order = (
        "--per-sample writes rows in input order",
        "use {engine=local} (the default) for per-sample output",
    )

    def __init__(self, out: BinaryIO, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.writer: PerSampleWriter | None = None

    def begin(self, columns: RowColumns) -> None:
        from bcecli.render.persample import PerSampleWriter

        labels, preds = list(columns.labels), list(columns.preds)
        self.writer = PerSampleWriter(self.out, self.fmt, labels, preds, weighted=columns.weighted)

    def write(self, scored: ScoredChunk) -> None:
        assert self.writer is not None
        self.writer.write(scored)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.finish()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_score_command(preds: str, kw: dict[str, Any]) -> None:
    from bcecli.core.options import Reduction
    from bcecli.run import run_score

    fmt = kw["fmt"]
    quiet = bool(kw["quiet"])
    per_sample = bool(kw["per_sample"])
    reduction = Reduction(kw["reduction"])
    if per_sample and kw["raw"]:
        raise OptionError("--per-sample and --raw do not go together", "choose one")
    ps_fmt = None
    if per_sample:
        ps_fmt = {"auto": "tsv", "table": "tsv", "json": "jsonl"}.get(fmt, fmt)
    request = score_request(preds, kw)
    for path in (preds, kw["labels"]):
        if path == "-" and sys.stdin.isatty():
            raise OptionError(
                "'-' reads CSV from stdin, but stdin is a terminal",
                "pipe the data in, e.g. cat preds.csv | bce score -",
            )
    from bcecli.cli.progress import ProgressLine

    losses: LossSpool | None = None
    sink: RowSink | None = None
    if ps_fmt is not None:
        sink = PerSampleSink(sys.stdout.buffer, ps_fmt)
    elif reduction is Reduction.NONE:
        from bcecli.spool import LossSpool

        sink = losses = LossSpool()
    progress = ProgressLine(enabled=not quiet)
    try:
        report = run_score(request, sink=sink, progress=progress)
    finally:
        progress.close()
    from bcecli.gates import FailOn, Gates, evaluate

    gates = Gates(FailOn(kw["fail_on"]), kw["max_loss"], kw["max_ne"], tuple(kw["ignore"]))
    verdict = evaluate(report, gates)

    try:
        if kw["raw"]:
            _emit_raw(report, reduction.value, losses)
            _flag_notes(report, quiet)
        elif per_sample:
            _note(_one_line_summary(report), quiet)
            _flag_notes(report, quiet)
        else:
            _emit_report(report, resolve_format(fmt), reduction.value, losses, kw["color"], quiet)
    finally:
        if losses is not None:
            losses.close()
    if not verdict.passed:
        _note("Failed: " + "; ".join(r.message for r in verdict.reasons), quiet)
        raise click.exceptions.Exit(1)


def _emit_raw(report: Any, reduction: str, losses: LossSpool | None) -> None:
    from bcecli.render.machine import loss_texts, raw

    if losses is None:
        click.echo(raw(report, reduction))
        return
    sep = ""
    for block in losses.blocks():  # one loss per line, a block at a time
        if len(block):
            click.echo(sep + "\n".join(loss_texts(block)), nl=False)
            sep = "\n"
    click.echo("")


def _emit_report(
    report: Any,
    fmt: str,
    reduction: str,
    losses: LossSpool | None,
    color: bool | None,
    quiet: bool,
) -> None:
    from bcecli.render import machine

    if fmt == "table":
        from bcecli.render.table import render_report

        _print_renderables(render_report(report), color)
        return
    data = machine.summary(report, reduction=reduction)
    if fmt in ("json", "jsonl"):
        blocks = None if losses is None else losses.blocks()
        for piece in machine.json_pieces(data, compact=fmt == "jsonl", losses=blocks):
            click.echo(piece, nl=False)
        click.echo("")
    else:
        click.echo(machine.to_delimited(data, "\t" if fmt == "tsv" else ","), nl=False)
    _flag_notes(report, quiet)


def _one_line_summary(report: Any) -> str:
    from bcecli.render.table import fmt_loss, fmt_num

    return (
        f"bce: {report.task.value}, {report.n:,} rows scored"
        + (f" ({report.n_excluded:,} excluded)" if report.n_excluded else "")
        + f", mean loss {fmt_loss(report.mean_loss)} ({report.band}), NE {fmt_num(report.ne, 3)}"
    )


def _flag_notes(report: Any, quiet: bool) -> None:
    """Errors and warnings on stderr for a human watching a piped run."""
    for f in report.flags:
        if f.severity.value in ("error", "warning"):
            _note(f"{f.severity.value}: {f.id}: {f.message}; {f.hint}", quiet)


def emit_bands(fmt: str, color: bool | None) -> None:
    from bcecli.render.bands import bands_data, bands_renderables, bands_rows

    fmt = resolve_format(fmt)
    if fmt == "table":
        _print_renderables(bands_renderables(), color)
    elif fmt in ("json", "jsonl"):
        import json

        click.echo(json.dumps(bands_data(), indent=None if fmt == "jsonl" else 2))
    else:
        sep = "\t" if fmt == "tsv" else ","
        for row in bands_rows():
            click.echo(sep.join(row))


def run_explain_command(loss: float | None, kw: dict[str, Any]) -> None:
    from bcecli.core.explain import explain_loss, explain_pair
    from bcecli.render.explain import explain_data, explain_renderables, explain_rows

    label, pred = kw["label"], kw["pred"]
    if loss is None and (label is None or pred is None):
        raise click.UsageError("give a LOSS value, or both --label and --pred")
    if loss is not None and (label is not None or pred is not None):
        raise click.UsageError("give either a LOSS value or --label/--pred, not both")
    result = (
        explain_loss(loss)
        if loss is not None
        else explain_pair(label, pred, from_logits=bool(kw["from_logits"]))
    )
    fmt = resolve_format(kw["fmt"])
    if fmt == "table":
        _print_renderables(explain_renderables(result), kw["color"])
    elif fmt in ("json", "jsonl"):
        import json

        click.echo(json.dumps(explain_data(result), indent=None if fmt == "jsonl" else 2))
    else:
        sep = "\t" if fmt == "tsv" else ","
        for row in explain_rows(result):
            click.echo(sep.join(row))
