"""``bce score``: the main job."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bcecli.cli.options import (
    AnalysisKw,
    InputKw,
    InputPath,
    LossKw,
    Output,
    PerSample,
    RunKw,
    View,
    analysis_options,
    engine_options,
    gate_options,
    input_options,
    output_options,
    per_sample_options,
    semantics_options,
    view_options,
)

if TYPE_CHECKING:
    from bcecli.gates import Gates

EXIT_CODES = """\b
Exit codes: 0 report produced; 1 a gate failed (--fail-on, --max-loss,
--max-ne, --max-sample-loss); 2 usage error; 3 the input cannot be scored. Data goes to stdout,
notes and warnings to stderr.
"""


@click.command(epilog=EXIT_CODES)
@click.argument("preds", nargs=-1, required=True, type=InputPath())
@input_options
@semantics_options
@gate_options
@output_options(per_sample=True)
@per_sample_options
@view_options
@click.option("--raw", is_flag=True, help="Print only the reduced loss, as a bare number.")
@click.option(
    "--top-k",
    type=click.IntRange(1),
    default=None,
    metavar="K",
    help="Also report top-K accuracy (multi-class; top-1 and top-5 are always shown).",
)
@analysis_options
@engine_options
@click.option("--chunk-rows", type=click.IntRange(1), default=None, hidden=True)
def score(
    preds: tuple[str, ...],
    inputs: InputKw,
    loss: LossKw,
    gates: Gates,
    out: Output,
    records: PerSample,
    view: View,
    raw: bool,
    top_k: int | None,
    analysis: AnalysisKw,
    run: RunKw,
    chunk_rows: int | None,
) -> None:
    """Score PREDS: cross-entropy, how good it is, and what is wrong with the file.

    PREDS is a CSV, TSV, gzip'd CSV, NPY, NPZ or Parquet file ('-' reads CSV from stdin), or a
    directory or quoted glob of Parquet or CSV partition files, read in sorted path order as one
    dataset. Several PREDS (an unquoted glob) are scored each on its own, with the same options
    and --labels file: one summary row per file, the exit code the worst of theirs (2 > 3 > 1 >
    0). Columns are found by name (y_true/label/target..., y_pred/prob/score... or
    families such as prob_0..prob_9); the report says which it used.

    \b
    Examples:
      bce score preds.csv
      bce score preds.npy --labels labels.npy --from-logits
      bce score preds.csv --compat keras          # the number Keras would print
      bce score preds.csv --format json | jq .ne
      bce score preds.csv --per-sample --format csv > losses.csv
      bce score preds.csv --id-col id --top 20 -f jsonl   # the 20 worst rows, with their ids
      bce score preds.csv --max-loss 0.3 && echo "good enough"
      bce score 'data/*.parquet' --engine dask    # partitions scored on a Dask cluster
      bce score runs/*.csv --labels y.npy         # one row per file
    """
    from bcecli.api import score_file
    from bcecli.cli.emit import check_gates, emit_report, per_sample_format, per_sample_stream
    from bcecli.cli.progress import ProgressLine

    per_sample = records.on
    if len(preds) > 1:
        from bcecli.cli.multi import check_many, score_many

        check_many(preds, per_sample=per_sample, raw=raw, labels=inputs["labels"])
        code = score_many(
            preds, inputs=inputs, loss=loss, run=run, gates=gates, out=out, chunk_rows=chunk_rows
        )
        raise click.exceptions.Exit(code)
    fmt = per_sample_format(out, per_sample=per_sample, raw=raw)
    stream, records_format = per_sample_stream(fmt)
    progress = ProgressLine(enabled=not out.quiet)
    try:
        report = score_file(
            preds[0],
            **inputs,
            **loss,
            **analysis,
            **run,
            per_sample=None if fmt is None else stream,
            per_sample_format=records_format,
            top=records.top,
            id_col=records.id_col,
            progress=progress,
            chunk_rows=chunk_rows,
            top_k=top_k,
        )
    finally:
        progress.close()
    try:
        emit_report(
            report, out, per_sample=per_sample, raw=raw, gates=gates, view=view, preview=stream
        )
    finally:
        if report.loss_spool is not None:
            report.loss_spool.close()
    check_gates(report, gates, out)
