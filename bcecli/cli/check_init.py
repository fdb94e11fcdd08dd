"""``bce check-init``: the loss at initialisation of an untrained model's outputs."""

from __future__ import annotations

import click

from bcecli.cli.options import (
    InputKw,
    InputPath,
    LossKw,
    Output,
    RunKw,
    View,
    engine_options,
    input_options,
    output_options,
    semantics_options,
    view_options,
)

EXIT_CODES = """\b
Exit codes: 0 the verdict is prior or uniform; 1 any other verdict (too_confident,
wrong_bias, constant, invalid, suspiciously_good); 2 usage error; 3 the input
cannot be scored.
"""


@click.command("check-init", epilog=EXIT_CODES)
@click.argument("preds", type=InputPath())
@input_options
@semantics_options
@output_options(per_sample=False)
@view_options
@engine_options
def check_init(
    preds: str, inputs: InputKw, loss: LossKw, out: Output, view: View, run: RunKw
) -> None:
    """Check an untrained model's outputs: is the starting loss what it should be?

    Run the model before training on a batch, save its outputs (and the labels), and point
    bce at them: the loss is compared with ln K (logits near 0) and with the entropy of the
    label prior (a final bias set to the log prior), with the logits' spread and the bias to
    set. The verdict is prior, uniform, too_confident, wrong_bias, constant, invalid or
    suspiciously_good.

    \b
    Examples:
      bce check-init untrained.csv
      bce check-init logits.npy --labels y.npy --from-logits
      bce check-init untrained.csv --format json | jq .recommended_bias
      bce check-init untrained.csv --compat keras && echo "ready to train"
    """
    from bcecli.checkinit import check_init_file
    from bcecli.cli.emit import Document, emit
    from bcecli.core.options import Reduction
    from bcecli.render.init import init_rows, render_init, stderr_verdict
    from bcecli.render.terminal import stderr_width

    kw = dict(loss)
    if kw.pop("reduction") is not Reduction.MEAN:
        raise click.UsageError("check-init compares the mean loss; --reduction does not apply")
    result = check_init_file(preds, **inputs, **kw, **run)  # type: ignore[arg-type]
    emit(
        Document(
            table=lambda: render_init(result, view.detail),
            data=result.to_dict,
            rows=lambda: init_rows(result.to_dict()),
        ),
        out,
    )
    from bcecli.cli.emit import write_html
    from bcecli.render.html import init_html

    write_html(lambda: init_html(result), view.html, out.quiet)
    if not result.passed:
        if not out.quiet:
            click.echo(stderr_verdict(result, stderr_width()), err=True)
        raise click.exceptions.Exit(1)
