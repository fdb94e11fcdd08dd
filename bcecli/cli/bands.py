"""``bce bands``: the interpretation scale, with its source."""

from __future__ import annotations

import click

from bcecli.cli.options import Output, output_options


@click.command()
@output_options(per_sample=False)
def bands(out: Output) -> None:
    """Show how to read a mean cross-entropy: rule-of-thumb bands and the NE scale.

    \b
    Examples:
      bce bands
      bce bands --format json | jq '.bands[].label'
    """
    from bcecli.cli.emit import Document, emit
    from bcecli.render.bands import bands_data, bands_renderables, bands_rows

    emit(Document(bands_renderables, bands_data, bands_rows), out)
