"""``bce compare``: two models on the same rows."""

from __future__ import annotations

from typing import cast

import click

from bcecli.cli.options import (
    InputKw,
    InputPath,
    LossKw,
    Output,
    html_option,
    input_options,
    output_options,
    semantics_options,
)

EXIT_CODES = """\b
Exit codes: 0 comparison produced; 1 a gate failed (--require-better, or an
error flag in A or B under --fail-on error); 2 usage error; 3 the input
cannot be scored (also: rows that do not pair, labels that disagree).
"""


@click.command(epilog=EXIT_CODES)
@click.argument("a", type=InputPath())
@click.argument("b", type=InputPath())
@input_options
@semantics_options
@click.option(
    "--id-col",
    metavar="COL",
    help="Join the rows of A and B on this column (each file's); default: same row order.",
)
@click.option(
    "--time-ordered",
    is_flag=True,
    help="The rows are a time series: test with Diebold-Mariano (Newey-West variance).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="The test's level; the interval covers 1 - alpha.",
)
@click.option(
    "--require-better",
    is_flag=True,
    help="Exit 1 unless B's mean loss is lower than A's at --alpha.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "never"]),
    default="error",
    show_default=True,
    help="Exit 1 when A or B raises an error flag (its mean is then not a valid loss).",
)
@output_options(per_sample=False)
@html_option
@click.option("--chunk-rows", type=click.IntRange(1), default=None, hidden=True)
def compare(
    a: str,
    b: str,
    inputs: InputKw,
    loss: LossKw,
    id_col: str | None,
    time_ordered: bool,
    alpha: float,
    require_better: bool,
    fail_on: str,
    out: Output,
    html: str | None,
    chunk_rows: int | None,
) -> None:
    """Compare model B with model A on the same rows: is B's loss really lower?

    Both files are scored as bce score scores them, under one --compat. The report gives the
    paired difference of mean loss (B - A) with an interval (normal approximation on the
    per-row differences) and a paired t-test (Diebold-Mariano with --time-ordered), the
    change in NE, Brier, AUC and accuracy (McNemar's exact test), the share of rows that
    improved, the change per class, and whether calibration or discrimination moved.

    \b
    Examples:
      bce compare old.csv new.csv
      bce compare a.npy b.npy --labels y.npy --from-logits
      bce compare a.csv b.csv --id-col id          # rows in any order
      bce compare a.csv b.csv --format json | jq .verdict.text
      bce compare a.csv b.csv --require-better && echo "ship it"
    """
    from bcecli.cli.emit import Document, emit
    from bcecli.comparison import compare_files
    from bcecli.core.options import Reduction
    from bcecli.render.compare import comparison_rows, render_comparison

    kw = dict(loss)
    if kw.pop("reduction") is not Reduction.MEAN:
        raise click.UsageError("compare pairs the per-row losses; --reduction does not apply")
    result = compare_files(
        a, b, **inputs, **kw, id_col=id_col, alpha=alpha, time_ordered=time_ordered,  # type: ignore[arg-type]
        chunk_rows=chunk_rows,
    )  # fmt: skip
    emit(
        Document(
            table=lambda: render_comparison(result),
            data=result.to_dict,
            # cells of any type: delimited() writes each as TSV/CSV write a report's
            rows=lambda: cast("list[tuple[str, ...]]", comparison_rows(result.to_dict())),
        ),
        out,
    )
    from bcecli.cli.emit import write_html
    from bcecli.render.html import document_html

    write_html(
        lambda: document_html(f"bce compare: {a} vs {b}", result.verdict(),
                              render_comparison(result)),
        html,
        out.quiet,
    )  # fmt: skip
    failed = []
    errors = [f"{side} has error flags ({', '.join(s.errors)})"
              for side, s in (("A", result.a), ("B", result.b)) if s.errors]  # fmt: skip
    if fail_on == "error" and errors:
        failed += errors
    if require_better and not result.b_is_better:
        failed.append(f"--require-better: {result.verdict()}")
    if failed:
        if not out.quiet:
            click.echo("Failed: " + "; ".join(failed), err=True)
        raise click.exceptions.Exit(1)
