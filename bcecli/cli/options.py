"""Option groups shared by the commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from bcecli.core.options import Compat, Reduction, Task

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_CHOICE = click.Choice(["auto", "table", "tsv", "csv", "json", "jsonl"])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def output_options(*, per_sample: bool) -> Callable[[F], F]:
    help_fmt = (
        "auto: a table on a terminal, TSV when piped. json: one object (schema 1); "
        "tsv/csv: key-value lines."
    )
    if per_sample:
        help_fmt += " With --per-sample: csv, tsv or jsonl records."
    return _stack(
        click.option(
            "--format",
            "-f",
            "fmt",
            type=FORMAT_CHOICE,
            default="auto",
            show_default=True,
            help=help_fmt,
        ),
        click.option(
            "--color/--no-color",
            default=None,
            help="Force colour on or off (default: NO_COLOR / FORCE_COLOR, terminal).",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            help="No notes or warnings on stderr (data and exit code unchanged).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            callback=_record_debug,
            help="Show the traceback of unexpected errors.",
        ),
    )


def _record_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["bce_debug"] = True
    return value


class InputPath(click.ParamType):  # type: ignore[type-arg]
    """An input file ('-' for stdin), or a directory or glob of partition files. Problems are one
    line: ``<path>: <what>; <what to do>``."""

    name = "file"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import os

        if value == "-":
            return value
        if os.path.isdir(value) or (any(c in value for c in "*?[") and not os.path.exists(value)):
            from bcecli.errors import InputError, flag_spelling
            from bcecli.readers.partitions import partition_files

            try:
                partition_files(value)
            except InputError as e:
                self.fail(e.line(flag_spelling), param, ctx)
            return value
        if not os.path.exists(value):
            self.fail(f"{value}: no such file; check the path", param, ctx)
        if not os.access(value, os.R_OK):
            self.fail(f"{value}: cannot be read (permission denied); check its permissions",
                      param, ctx)  # fmt: skip
        return value

    def fail(
        self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None
    ) -> NoReturn:
        raise click.UsageError(message, ctx)


def input_options(f: F) -> F:
    return _stack(
        click.option(
            "--labels",
            "labels",
            metavar="FILE",
            type=InputPath(),
            help="Labels in a file of their own (same rows as PREDS).",
        ),
        click.option(
            "--label-col",
            metavar="COLS",
            help="Label column(s), comma-separated (one-hot or multi-label: several).",
        ),
        click.option(
            "--pred-col",
            metavar="COLS",
            help="Prediction column(s), comma-separated (several outputs: several).",
        ),
        click.option(
            "--sample-weight",
            metavar="COL|FILE",
            help="Per-sample weights: a column of the input, or a file.",
        ),
    )(f)


def _floats(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None


def semantics_options(f: F) -> F:
    return _stack(
        click.option(
            "--task",
            type=click.Choice([t.value for t in Task]),
            default="auto",
            show_default=True,
            help="binary, multilabel (K independent outputs), categorical (one-hot "
            "or soft label rows), sparse (integer labels); auto decides and says why.",
        ),
        click.option(
            "--compat",
            type=click.Choice([c.value for c in Compat]),
            default="exact",
            show_default=True,
            help="Reproduce a framework's number: clipping, float32, reduction, and its "
            "errors. exact: the literal formula in float64.",
        ),
        click.option(
            "--from-logits", is_flag=True, help="Predictions are logits (before sigmoid/softmax)."
        ),
        click.option(
            "--label-smoothing",
            type=click.FloatRange(0, 1),
            default=0.0,
            metavar="X",
            help="Keras/PyTorch label smoothing.",
        ),
        click.option(
            "--class-weight",
            metavar="W0,W1,...",
            callback=_floats,
            help="Weight per class (Keras class_weight, PyTorch weight=).",
        ),
        click.option(
            "--pos-weight",
            metavar="W|W0,W1,...",
            callback=_floats,
            help="Weight of positive labels, one value or one per output (PyTorch pos_weight).",
        ),
        click.option(
            "--ignore-class",
            type=int,
            metavar="K",
            help="Skip rows whose sparse label is K (Keras ignore_class, PyTorch ignore_index).",
        ),
        click.option(
            "--reduction",
            type=click.Choice([r.value for r in Reduction]),
            default="mean",
            show_default=True,
            help="mean or sum: the headline number (and --raw); none: per-sample losses "
            "(a 'losses' list in JSON, one per line with --raw).",
        ),
        click.option(
            "--dtype",
            type=click.Choice(["float32", "float64"]),
            default=None,
            help="Override the profile's float type (Keras and PyTorch default to float32).",
        ),
    )(f)


def gate_options(f: F) -> F:
    return _stack(
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "never"]),
            default="error",
            show_default=True,
            help="Exit 1 when a flag of this severity (or worse) is raised.",
        ),
        click.option("--max-loss", type=float, metavar="X", help="Exit 1 if the mean loss > X."),
        click.option(
            "--max-ne",
            type=float,
            metavar="X",
            help="Exit 1 if the normalized entropy > X (or undefined).",
        ),
        click.option(
            "--ignore",
            "ignore",
            multiple=True,
            metavar="FLAG_ID",
            help="Do not let this flag trip --fail-on (repeatable).",
        ),
    )(f)


def engine_options(f: F) -> F:
    return _stack(
        click.option(
            "--engine",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help="local: stream the input in this process. dask: score the partitions of a "
            "directory or glob on a Dask cluster (needs the dask extra).",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="With --engine dask: the address of a running Dask scheduler (default: a local "
            "cluster of 2 worker processes, started and closed by bce).",
        ),
    )(f)
