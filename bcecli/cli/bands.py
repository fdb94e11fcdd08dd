"""``bce bands``: the interpretation scale, with its source."""

from __future__ import annotations

import click

from bcecli.cli.options import FORMAT_CHOICE, output_options


@click.command()
@output_options(per_sample=False)
def bands(fmt: str, color: bool | None, quiet: bool, debug: bool) -> None:
    """Show how to read a mean cross-entropy: rule-of-thumb bands and the NE scale.

    \b
    Examples:
      bce bands
      bce bands --format json | jq '.bands[].label'
    """
    from bcecli.cli.output import emit_bands

    emit_bands(fmt, color)


_ = FORMAT_CHOICE
