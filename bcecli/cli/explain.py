"""``bce explain``: what one loss value, or one (label, prediction) pair, means."""

from __future__ import annotations

import click

from bcecli.cli.options import Output, output_options


@click.command()
@click.argument("loss", required=False, type=float)
@click.option(
    "--label", "label", metavar="Y", help="A label: 0/1, a class index, or a one-hot row."
)
@click.option("--pred", "pred", metavar="P", help="A prediction: a probability, or a row p0,p1,...")
@click.option("--from-logits", is_flag=True, help="--pred is a logit (or a row of logits).")
@click.option(
    "--classes",
    type=click.IntRange(2),
    metavar="K",
    help="Read LOSS as the mean loss of a K-class task (2: binary): against chance, ln K.",
)
@output_options(per_sample=False)
def explain(
    loss: float | None,
    label: str | None,
    pred: str | None,
    from_logits: bool,
    classes: int | None,
    out: Output,
) -> None:
    """Explain a loss value, or the loss of one label and prediction under every framework.

    \b
    Examples:
      bce explain 2.302585               # the true class got probability 0.1
      bce explain 2.36 --classes 10      # about chance (ln 10) for 10 classes
      bce explain --label 0 --pred 1.0   # exact inf, Keras 15.94, PyTorch 100, sklearn 36.04
      bce explain --label 2 --pred 0.1,0.2,0.7
    """
    from bcecli.cli.emit import Document, emit
    from bcecli.core.explain import explain_loss, explain_pair
    from bcecli.render.explain import explain_data, explain_renderables, explain_rows

    if loss is not None and (label is not None or pred is not None):
        raise click.UsageError("give either a LOSS value or --label/--pred, not both")
    if classes is not None and loss is None:
        raise click.UsageError("--classes reads a LOSS value; give one")
    if loss is not None:
        e = explain_loss(loss, classes=classes)
    elif label is not None and pred is not None:
        e = explain_pair(label, pred, from_logits=from_logits)
    else:
        raise click.UsageError("give a LOSS value, or both --label and --pred")
    emit(
        Document(lambda: explain_renderables(e), lambda: explain_data(e), lambda: explain_rows(e)),
        out,
    )
