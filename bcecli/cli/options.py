"""Option groups shared by the commands, declared once.

Each group is a decorator that adds its options and hands the command one typed value for the
whole group: ``inputs`` and ``loss`` (dicts typed for ``bcecli.score_file``'s keywords),
``gates``, ``out`` and ``run``. Choices are enums (``click.Choice`` over the enum's values).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict, TypeVar

import click

from bcecli.core.options import Compat, Reduction, Task
from bcecli.render.terminal import Detail

if TYPE_CHECKING:
    from bcecli.gates import FailOn, Gates

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=Enum)


class Format(str, Enum):
    AUTO = "auto"
    TABLE = "table"
    TSV = "tsv"
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"

    def resolved(self) -> Format:
        """``auto`` is the table on a terminal and TSV when piped (decided by isatty, not by
        colour settings)."""
        if self is not Format.AUTO:
            return self
        return Format.TABLE if sys.stdout.isatty() else Format.TSV


class Engine(str, Enum):
    LOCAL = "local"
    DASK = "dask"


class Dtype(str, Enum):
    FLOAT32 = "float32"
    FLOAT64 = "float64"


class EnumChoice(click.Choice):  # type: ignore[type-arg]
    """A choice among an enum's values, converted to the member. ``enum`` may be a function
    that imports it, for an enum whose module is too heavy for ``--help`` (``values`` then
    lists the choices; a test holds them to the enum's)."""

    def __init__(
        self, enum: type[Enum] | Callable[[], type[Enum]], values: tuple[str, ...] = ()
    ) -> None:
        self.enum = enum
        super().__init__(list(values) if values else [m.value for m in self._enum()])

    def _enum(self) -> type[Enum]:
        return self.enum if isinstance(self.enum, type) else self.enum()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        enum = self._enum()
        if isinstance(value, enum):
            return value
        return enum(super().convert(value, param, ctx))


def _fail_on() -> type[Enum]:
    from bcecli.gates import FailOn  # the gates read reports: numpy, which --help never loads

    return FailOn


class InputKw(TypedDict):
    """Where the labels, predictions and weights are (``score_file``'s keywords)."""

    labels: str | None
    label_col: str | None
    pred_col: str | None
    sample_weight: str | None
    header: bool | None
    index_col: bool | None


class LossKw(TypedDict):
    """The loss's semantics (``score_file``'s keywords)."""

    task: Task
    compat: Compat
    from_logits: bool
    label_smoothing: float
    class_weight: tuple[float, ...] | None
    pos_weight: tuple[float, ...] | None
    ignore_class: int | None
    reduction: Reduction
    dtype: str | None


class RunKw(TypedDict):
    """Where the scoring runs (``score_file``'s keywords)."""

    engine: str
    scheduler: str | None


@dataclass(frozen=True)
class Output:
    """How a command prints: the format, colour, and whether notes go to stderr."""

    fmt: Format
    color: bool | None
    quiet: bool


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def _group(name: str, keys: tuple[str, ...], build: Callable[..., object]) -> Callable[[F], F]:
    """A decorator that replaces the options ``keys`` by one argument ``name`` = build(...)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kw: Any) -> Any:
            kw[name] = build(**{k: kw.pop(k) for k in keys})
            return f(*args, **kw)

        return command  # type: ignore[return-value]

    return decorate


def output_options(*, per_sample: bool) -> Callable[[F], F]:
    help_fmt = (
        "auto: a table on a terminal, TSV when piped. json: one object (schema 1); "
        "tsv/csv: key-value lines."
    )
    if per_sample:
        help_fmt += " With --per-sample: csv, tsv or jsonl records."
    return _stack(
        _group("out", ("fmt", "color", "quiet"), Output),
        click.option(
            "--format",
            "-f",
            "fmt",
            type=EnumChoice(Format),
            default="auto",
            show_default=True,
            help=help_fmt,
        ),
        click.option(
            "--color/--no-color",
            default=None,
            help="Force colour on or off (default: NO_COLOR / FORCE_COLOR, terminal).",
        ),
        quiet_option("No notes or warnings on stderr (data and exit code unchanged)."),
        debug_option,
    )


def quiet_option(text: str) -> Callable[[F], F]:
    return click.option("-q", "--quiet", is_flag=True, help=text)


def _record_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["bce_debug"] = True
    return value


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=_record_debug,
    help="Show the traceback of unexpected errors.",
)


class InputPath(click.ParamType):  # type: ignore[type-arg]
    """An input file ('-' for stdin), or a directory or glob of partition files. Problems are one
    line: ``<path>: <what>; <what to do>``."""

    name = "file"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import os

        if value == "-":
            if sys.stdin is None:  # started with stdin closed (`bce score - <&-`)
                self.fail(
                    "'-' reads CSV from stdin, but stdin is closed; pipe the data in, e.g. "
                    "cat preds.csv | bce score -"
                )
            if sys.stdin.isatty():
                self.fail(
                    "'-' reads CSV from stdin, but stdin is a terminal; pipe the data in, e.g. "
                    "cat preds.csv | bce score -"
                )
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
        _group("inputs", tuple(InputKw.__annotations__), InputKw),
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
        click.option(
            "--header/--no-header",
            default=None,
            help="A CSV file's first line is (not) a header [default: bce decides from the rows "
            "below it and the other file, and says why].",
        ),
        click.option(
            "--index-col/--no-index-col",
            default=None,
            help="A CSV file's first column is (not) pandas' index, to skip [default: an unnamed "
            "first column of distinct integers is].",
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


def _loss(dtype: Dtype | None, **kw: Any) -> LossKw:
    return LossKw(dtype=None if dtype is None else dtype.value, **kw)  # type: ignore[typeddict-item]


def semantics_options(f: F) -> F:
    return _stack(
        _group("loss", tuple(LossKw.__annotations__), _loss),
        click.option(
            "--task",
            type=EnumChoice(Task),
            default="auto",
            show_default=True,
            help="binary, multilabel (K independent outputs), categorical (one-hot "
            "or soft label rows), sparse (integer labels); auto decides and says why.",
        ),
        click.option(
            "--compat",
            type=EnumChoice(Compat),
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
            type=EnumChoice(Reduction),
            default="mean",
            show_default=True,
            help="mean or sum: the headline number (and --raw); none: per-sample losses "
            "(a 'losses' list in JSON, one per line with --raw).",
        ),
        click.option(
            "--dtype",
            type=EnumChoice(Dtype),
            default=None,
            help="Override the profile's float type (Keras and PyTorch default to float32).",
        ),
    )(f)


def _gates(
    fail_on: FailOn,
    max_loss: float | None,
    max_ne: float | None,
    max_sample_loss: float | None,
    ignore: Any,
) -> Gates:
    from bcecli.gates import Gates

    return Gates(fail_on, max_loss, max_ne, tuple(ignore), max_sample_loss=max_sample_loss)


def gate_options(f: F) -> F:
    return _stack(
        _group("gates", ("fail_on", "max_loss", "max_ne", "max_sample_loss", "ignore"), _gates),
        click.option(
            "--fail-on",
            type=EnumChoice(_fail_on, ("error", "warning", "never")),
            default="error",
            show_default=True,
            help="Exit 1 when a flag of this severity (or worse) is raised.",
        ),
        click.option(
            "--max-loss",
            type=float,
            metavar="X",
            help="Exit 1 if the mean loss > X (the headline; JSON max_loss is the worst sample, "
            "see --max-sample-loss) or is not a valid loss.",
        ),
        click.option(
            "--max-sample-loss",
            type=float,
            metavar="X",
            help="Exit 1 if the worst sample's loss (JSON max_loss) > X.",
        ),
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


class AnalysisKw(TypedDict):
    """What the report adds besides the loss (``score_file``'s keywords): --ci's intervals
    and --by's slices."""

    ci: float | None
    bootstrap: int
    seed: int
    by: str | None
    bins: int
    min_slice: int


def _analysis(
    ci: float | None, bootstrap: int, seed: int, by: str | None, bins: int, min_slice: int
) -> AnalysisKw:
    return AnalysisKw(ci=ci, bootstrap=bootstrap, seed=seed, by=by, bins=bins, min_slice=min_slice)


def analysis_options(f: F) -> F:
    """--ci, --bootstrap, --seed, --by, --bins, --min-slice (issue 24). The defaults are
    bcecli.core.bootstrap's and bcecli.core.slices', written here so that --help does not
    load numpy (a test holds them equal)."""
    return _stack(
        _group("analysis", ("ci", "bootstrap", "seed", "by", "bins", "min_slice"), _analysis),
        click.option(
            "--ci",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            metavar="LEVEL",
            default=None,
            help="Add intervals at this level (e.g. 0.95) for the mean loss, NE, accuracy, "
            "Brier (Poisson bootstrap) and AUC (DeLong). They cover the test set's sampling "
            "variance, not the training run's.",
        ),
        click.option(
            "--bootstrap",
            type=click.IntRange(10),
            metavar="N",
            default=200,
            show_default=True,
            help="With --ci: the number of bootstrap resamples.",
        ),
        click.option(
            "--seed",
            type=click.IntRange(0, 2**63 - 1),
            default=20240,
            show_default=True,
            help="With --ci: the seed of the resamples (the same seed, the same intervals, "
            "on any chunking or partitioning).",
        ),
        click.option(
            "--by",
            metavar="COL[,COL]",
            default=None,
            help="Break the report down per group of these columns (binary tasks): n, base "
            "rate, mean loss, share of the loss, NE, calibration ratio, ECE and AUC per slice, "
            "worst share first. A numeric column is cut into --bins quantile bins.",
        ),
        click.option(
            "--bins",
            type=click.IntRange(2),
            metavar="N",
            default=10,
            show_default=True,
            help="With --by: quantile bins of a numeric column (edges from the first chunk).",
        ),
        click.option(
            "--min-slice",
            type=click.IntRange(1),
            metavar="N",
            default=100,
            show_default=True,
            help="With --by: slices of fewer rows are pooled into one named other.",
        ),
    )(f)


def _run(engine: Engine, scheduler: str | None) -> RunKw:
    return RunKw(engine=engine.value, scheduler=scheduler)


def engine_options(f: F) -> F:
    return _stack(
        _group("run", ("engine", "scheduler"), _run),
        click.option(
            "--engine",
            type=EnumChoice(Engine),
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


# -- bce score's per-sample records (issue 19: ids, pred_class, the worst N) -----------------


@dataclass(frozen=True)
class PerSample:
    """What ``--per-sample`` streams: every record, or only the ``top`` worst (``--top``
    implies ``--per-sample``), with the ``id_col`` columns carried into each."""

    on: bool
    top: int | None
    id_col: str | None


def per_sample_options(f: F) -> F:
    return _stack(
        _group("records", ("per_sample", "top", "id_col"), _make_per_sample),
        click.option(
            "--per-sample",
            is_flag=True,
            help="Stream one record per input row (row, ids, labels, predictions, pred_class "
            "for multi-class, p_true, loss, flags) instead of the summary; the summary goes to "
            "stderr. A stream cut short by an error ends in a record saying so (JSONL "
            '{"error": ...}, CSV/TSV a line "# error: ...").',
        ),
        click.option(
            "--top",
            type=click.IntRange(1),
            metavar="N",
            help="With --per-sample (implied): only the N records with the largest loss, worst "
            "first (ties: the earlier row first; excluded rows are never among them), in memory "
            "for N records.",
        ),
        click.option(
            "--id-col",
            metavar="COLS",
            help="Column(s) carried into every --per-sample record and the worst rows of the "
            "report (JSON worst[].ids, the table), comma-separated; not read as a label or "
            "prediction.",
        ),
    )(f)


def _make_per_sample(per_sample: bool, top: int | None, id_col: str | None) -> PerSample:
    return PerSample(per_sample or top is not None, top, id_col)


# --------------------------------------------------------------------------------------------
# how much of a report a person sees (issue 26): --brief/--verbose and --html


@dataclass(frozen=True)
class View:
    """The human report's level of detail (the terminal only: machine formats always hold
    everything) and the HTML file to write, if any."""

    detail: Detail
    html: str | None


def _view(detail: str | None, html: str | None) -> View:
    return View(Detail(detail or "default"), html)


def _html_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The --html file's folder must exist: refused before any scoring."""
    import os

    if value is not None and not os.path.isdir(os.path.dirname(value) or "."):
        raise click.BadParameter(
            f"{value}: the folder {os.path.dirname(value)} does not exist; create it or choose "
            "another name"
        )
    return value


html_option = click.option(
    "--html",
    "html",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=_html_path,
    help="Also write the complete report as one self-contained HTML file (tables, flags with "
    "their hints, and the figures of bce plot when matplotlib is installed).",
)


def view_options(f: F) -> F:
    return _stack(
        _group("view", ("detail", "html"), _view),
        click.option(
            "--brief",
            "detail",
            flag_value="brief",
            help="On a terminal: a few lines (the headline, the flags' ids, the verdict).",
        ),
        click.option(
            "--verbose",
            "--full",
            "detail",
            flag_value="full",
            help="On a terminal: the complete report (every table, each flag's whole text); "
            "the default fits one screen.",
        ),
        html_option,
    )(f)
