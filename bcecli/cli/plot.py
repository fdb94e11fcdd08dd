"""``bce plot``: the report as a picture (needs the ``plot`` extra: matplotlib)."""

from __future__ import annotations

import click

from bcecli.cli.options import (
    InputKw,
    InputPath,
    LossKw,
    RunKw,
    debug_option,
    engine_options,
    input_options,
    quiet_option,
    semantics_options,
)


@click.command()
@click.argument("preds", type=InputPath())
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="The picture to write; .png, .svg or .pdf (the format follows the name).",
)
@input_options
@semantics_options
@engine_options
@quiet_option("No note on stderr.")
@debug_option
def plot(preds: str, output: str, inputs: InputKw, loss: LossKw, run: RunKw, quiet: bool) -> None:
    """Draw the report of PREDS as a picture (PNG, SVG or PDF).

    One figure: the histogram of per-sample losses with the mean, the baseline and loss 1
    marked; the reliability diagram; for several classes or outputs, each one's mean loss
    against its baseline; for one binary output or several classes, a second row: the CORP
    reliability curve (the isotonic recalibration, with the decomposition) and the loss after
    each recalibration. Takes the input and semantics options of `bce score`. Drawn from
    the report's bins, never from per-sample data, so large files plot as fast as they score.
    Needs matplotlib: pip install 'bcecli[plot]'.

    \b
    Examples:
      bce plot preds.csv -o report.png
      bce plot preds.npy --labels labels.npy --from-logits -o report.svg
      bce plot preds.csv --compat keras -o report.pdf
    """
    from bcecli.api import score_file
    from bcecli.core.options import Reduction
    from bcecli.render.plot import check_output, plot_data, write_figure

    check_output(output)  # format, folder and matplotlib: refused before the scoring
    # The picture needs the summary only: never keep per-sample losses (--reduction none).
    loss["reduction"] = Reduction.MEAN
    report = score_file(preds, **inputs, **loss, **run)
    write_figure(plot_data(report), output)
    if not quiet:
        click.echo(f"wrote {output}", err=True)
