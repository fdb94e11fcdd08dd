"""``bce score``: the main job."""

from __future__ import annotations

import click

from bcecli.cli.options import (
    InputPath,
    engine_options,
    gate_options,
    input_options,
    output_options,
    semantics_options,
)

EXIT_CODES = """\b
Exit codes: 0 report produced; 1 a gate failed (--fail-on, --max-loss,
--max-ne); 2 usage error; 3 the input cannot be scored. Data goes to stdout,
notes and warnings to stderr.
"""


@click.command(epilog=EXIT_CODES)
@click.argument("preds", type=InputPath())
@input_options
@semantics_options
@gate_options
@output_options(per_sample=True)
@click.option(
    "--per-sample",
    is_flag=True,
    help="Stream one record per input row (row, labels, predictions, p_true, loss, "
    "flags) instead of the summary; the summary goes to stderr.",
)
@click.option("--raw", is_flag=True, help="Print only the reduced loss, as a bare number.")
@engine_options
@click.option("--chunk-rows", type=click.IntRange(1), default=None, hidden=True)
def score(preds: str, **kw: object) -> None:
    """Score PREDS: cross-entropy, how good it is, and what is wrong with the file.

    PREDS is a CSV, TSV, gzip'd CSV, NPY, NPZ or Parquet file ('-' reads CSV from stdin), or a
    directory or quoted glob of Parquet or CSV partition files, read in sorted path order as one
    dataset. Columns are found by name (y_true/label/target..., y_pred/prob/score... or
    families such as prob_0..prob_9); the report says which it used.

    \b
    Examples:
      bce score preds.csv
      bce score preds.npy --labels labels.npy --from-logits
      bce score preds.csv --compat keras          # the number Keras would print
      bce score preds.csv --format json | jq .ne
      bce score preds.csv --per-sample --format csv > losses.csv
      bce score preds.csv --max-loss 0.3 && echo "good enough"
      bce score 'data/*.parquet' --engine dask    # partitions scored on a Dask cluster
    """
    from bcecli.cli.output import run_score_command

    run_score_command(preds, kw)
