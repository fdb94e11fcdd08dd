"""The human report: rich renderables built from a Report (printing is the caller's job).

The report is a list of sections (``SECTIONS``), each a function of the report and the level
of detail that returns one renderable or None. A new part of the report is one more
``Section``: it says from which level on it shows (``Detail.DEFAULT``: on the one-screen
report; ``Detail.FULL``: only with --verbose), and appears in the table, in --verbose and in
the HTML report (which renders the --verbose sections) without touching the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.core.bands import ne_meaning
from bcecli.core.flags import Flag, Severity
from bcecli.core.report import Report
from bcecli.render.charts import reliability_chart
from bcecli.render.slices import slices_table
from bcecli.render.terminal import MAX_FLAG_LINES, Detail, Pair, Paragraphs, report_table, safe_text
from bcecli.render.uncertainty import add_loss_rows
from bcecli.render.why import why_section

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.table import Table

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
BAND_STYLE = {
    "perfect": "bold green", "great": "green", "on_track": "green", "fine": "green",
    "borderline": "yellow", "not_great": "yellow", "terrible": "red", "broken": "bold red",
    "invalid": "bold red",
}  # fmt: skip
BAR = "█"


@dataclass(frozen=True)
class Squeeze:
    """How much of the one-screen report's optional parts fits: rows of the worst samples
    (one output) and of the per-class table (several), the reliability chart (one output),
    and lines per flag."""

    worst_rows: int
    chart: bool
    flag_lines: int
    output_rows: int


# Tried in order until the report fits the screen's height; the last one when none does.
SQUEEZES = (
    Squeeze(5, True, MAX_FLAG_LINES, 10),
    Squeeze(3, True, MAX_FLAG_LINES, 10),
    Squeeze(0, True, MAX_FLAG_LINES, 5),
    Squeeze(0, True, 3, 5),
    Squeeze(3, False, 3, 5),
    Squeeze(0, False, 3, 3),
    Squeeze(0, False, 2, 3),
)


@dataclass(frozen=True)
class Level:
    """What a section may show: the detail asked for and, for the one-screen report, how
    hard it is squeezed to fit the screen's height (an index into SQUEEZES)."""

    detail: Detail = Detail.FULL
    squeeze: int = 0

    @property
    def full(self) -> bool:
        return self.detail is Detail.FULL

    @property
    def room(self) -> Squeeze:
        return SQUEEZES[self.squeeze]


FULL = Level(Detail.FULL)


def header(report: Report) -> Table:
    r, c = report, report.context
    t = report_table(show_header=False, padding=(0, 1), box=None)
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    t.add_row("input", safe_text(", ".join(c.sources) or "-"))
    t.add_row("task", safe_text(f"{r.task.value} ({r.task_reason})"))
    labels = ", ".join(c.label_columns)
    preds = (
        ", ".join(c.pred_columns)
        if len(c.pred_columns) <= 6
        else (f"{c.pred_columns[0]} .. {c.pred_columns[-1]} ({len(c.pred_columns)} columns)")
    )
    t.add_row(
        "columns",
        safe_text(
            f"labels {labels}; predictions {preds}"
            + (f"; weights {c.weight_column}" if c.weight_column else "")
        ),
    )
    t.add_row("profile", f"{r.compat.value}: {r.framework}, {r.dtype}")
    rows = f"{r.n:,} scored"
    if r.n_excluded:
        rows += f", {r.n_excluded:,} excluded (see flags)"
    t.add_row("rows", rows)
    return t


def loss_table(report: Report, level: Level = FULL) -> Table:
    from rich.text import Text

    r = report
    full = level.full
    t = report_table("Loss", show_header=False, padding=(0, 1), box=None)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(style="dim")
    if r.valid:
        t.add_row("mean", Text(fmt.loss(r.mean_loss), style="bold"), _mean_note(r))
    else:
        t.add_row(
            "mean",
            Text(fmt.loss(r.mean_loss), style="bold red"),
            Text(f"NOT A VALID LOSS: {r.invalid_reason} (see Flags)", style="bold red"),
        )
    if r.mean_metric is not None:
        t.add_row("weighted mean", fmt.loss(r.mean_metric), "what Keras' metric shows")
    if full:
        t.add_row("sum", fmt.loss(r.sum_loss), "")
    t.add_row(
        "median",
        fmt.loss(r.median_loss),
        "" if r.median_exact else f"approximate (within {r.quantile_error:.2%})",
    )
    t.add_row("max", fmt.loss(r.max_loss), "")
    t.add_row(
        "above 1",
        f"{r.n_above_1:,} ({fmt.pct(r.share_above_1)})",
        "true-class probability below 1/e = 0.368",
    )
    band = Text(r.band or "-", style=BAND_STYLE.get(r.band_id or "", ""))
    k = len(r.prior)
    if not r.valid:
        t.add_row("band", band, "no band: the mean is not a valid loss")
    elif r.task.is_multiclass and k > 2:
        # the bands describe balanced binary tasks: beside them, chance for K classes
        t.add_row("band", band, f"a binary rule of thumb, not for {k} classes")
        t.add_row("chance", fmt.loss(math.log(k)), f"ln {k}: a uniform guess, an untrained model")
    else:
        t.add_row("band", band, "rule of thumb for balanced binary tasks (bce bands)")
    t.add_row("baseline", fmt.loss(r.baseline_loss), _baseline_note(r))
    t.add_row("NE", fmt.num(r.ne, 3), ne_meaning(r.ne) if r.valid else "meaningless: see the mean")
    if r.entropy_floor is not None:
        t.add_row("entropy floor", fmt.loss(r.entropy_floor), "the least a soft-label loss can be")
    acc_note = "argmax" if r.task.is_multiclass else "threshold 0.5"
    t.add_row("accuracy", fmt.pct(r.accuracy), acc_note)
    t.add_row("Brier", fmt.num(r.brier), "mean squared error of the probabilities")
    t.add_row("ECE", fmt.num(r.ece), "expected calibration error, 10 bins")
    add_loss_rows(t, r)
    return t


def _mean_note(r: Report) -> str:
    if r.compat.value == "exact":
        return "literal formula"
    return f"as {r.framework} reports it"


def _baseline_note(r: Report) -> str:
    if r.task.is_multiclass:
        return "always predicting the class prior"
    if len(r.prior) == 1:
        return f"always predicting the base rate {fmt.num(r.prior[0], 3)}"
    return "always predicting each output's base rate"


def outputs_table(report: Report, level: Level = FULL) -> Table | None:
    if not report.outputs:
        return None
    multiclass = report.task.is_multiclass
    limit = 50 if level.full else level.room.output_rows
    shown = list(report.outputs)
    if len(shown) > limit and not level.full:
        # one screen: the classes that cost the most, in their order
        costly = sorted(range(len(shown)), key=lambda i: -_sortable(shown[i].mean_loss))
        shown = [shown[i] for i in sorted(costly[:limit])]
    t = report_table("Per class" if multiclass else "Per output")
    t.add_column("class" if multiclass else "output")
    t.add_column("support" if multiclass else "positives", justify="right")
    t.add_column("prior", justify="right")
    t.add_column("mean loss", justify="right")
    t.add_column("baseline", justify="right")
    t.add_column("accuracy", justify="right")
    for o in shown[:limit]:
        t.add_row(
            safe_text(o.name),
            f"{o.support:,}",
            fmt.num(o.prior, 3),
            fmt.loss(o.mean_loss),
            fmt.loss(o.baseline),
            fmt.pct(o.accuracy),
        )
    n = len(report.outputs)
    if n > limit:
        kind = "classes" if multiclass else "outputs"
        t.caption = (
            f"the {limit} of {n} {kind} with the highest mean loss; all in --verbose"
            if not level.full
            else f"{n - limit} more in --format json"
        )
        t.caption_justify = "left"
    return t


def _sortable(v: float) -> float:
    return -math.inf if math.isnan(v) else v


def mistakes_table(report: Report, level: Level = FULL) -> Table | None:
    if not report.mistakes:
        return None
    t = report_table("Most common mistakes")
    t.add_column("true class")
    t.add_column("predicted")
    t.add_column("rows", justify="right")
    for m in report.mistakes:
        t.add_row(safe_text(m.true_class), safe_text(m.predicted), f"{m.count:,}")
    return t


def worst_table(report: Report, level: Level = FULL, *, rows: int | None = None) -> Table | None:
    if not report.worst:
        return None
    multiclass = report.task.is_multiclass
    names = report.context.output_names
    worst = report.worst if level.full else report.worst[: rows or level.room.worst_rows]
    title = "Worst samples"
    if len(worst) < len(report.worst):
        title += f" ({len(worst)} of {len(report.worst)}; --verbose for all)"
    t = report_table(title)
    t.add_column("row", justify="right")
    ids = report.context.id_columns
    for name in ids:  # --id-col
        t.add_column(safe_text(name), justify="right")
    t.add_column("label", justify="right")
    t.add_column("argmax (p)" if multiclass else "prediction", justify="right")
    t.add_column("p(true)", justify="right")
    t.add_column("loss", justify="right")
    for w in worst:
        if multiclass and len(w.preds) > 1:
            top = max(range(len(w.preds)), key=lambda i: w.preds[i])
            label = _class_label(w.labels, names)
            shown = f"{names[top] if top < len(names) else top} ({w.preds[top]:.3g})"
        else:
            label, shown = _vec(w.labels), _vec(w.preds)
        t.add_row(
            str(w.row),
            *(safe_text(_id_text(v)) for v in w.ids[: len(ids)]),
            safe_text(label),
            safe_text(shown),
            fmt.num(w.p_true),
            fmt.loss(w.loss),
        )
    return t


def _id_text(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value == int(value) and abs(value) <= 2.0**53:
            return str(int(value))
    return str(value)


def _class_label(labels: tuple[float, ...], names: tuple[str, ...]) -> str:
    """A sparse label's class name, or the class a one-hot row points at."""
    if len(labels) == 1:
        i = labels[0]
        ok = not math.isnan(i) and i == int(i) and 0 <= int(i) < len(names)
        return names[int(i)] if ok else _vec(labels)
    if sum(1 for v in labels if v == 1) == 1 and all(v in (0, 1) for v in labels):
        i = labels.index(1.0)
        return names[i] if i < len(names) else str(i)
    return _vec(labels)


def _vec(values: tuple[float, ...]) -> str:
    """One value as it is; several (a multi-label row) at three digits, the first three, so two
    such columns fit on an 80-column line."""
    if len(values) == 1:
        return fmt.short(values[0])
    text = [fmt.nonfinite(v) or f"{v:.3g}" for v in values[:3]]
    return " ".join(text) + (f" … ({len(values)})" if len(values) > 3 else "")


def histogram_table(report: Report, level: Level = FULL) -> Table:
    t = report_table("Per-sample loss")
    t.add_column("loss", justify="right")
    t.add_column("count", justify="right")
    t.add_column("", min_width=10)
    top = max((c for _, _, c in report.histogram), default=0) or 1
    for lo, hi, count in report.histogram:
        label = f"≥ {lo:g}" if math.isinf(hi) else f"{lo:g} – {hi:g}"
        style = "red" if lo >= 1 else ""
        t.add_row(label, f"{count:,}", safe_text(BAR * max(0, round(20 * count / top)), style))
    return t


def flag_paragraphs(flags: tuple[Flag, ...], max_lines: int | None) -> Paragraphs:
    """The flags, one paragraph each: ``severity id: message`` and ``→ hint`` on the line
    below, wrapped to the console's width with a hanging indent (never a hint squeezed into
    a narrow column). A long hint already given says so instead of repeating itself."""
    items = []
    seen: dict[str, str] = {}
    for f in flags:
        hint = f"as for {seen[f.hint]}" if f.hint in seen and len(f.hint) > 40 else f.hint
        seen.setdefault(f.hint, f.id)
        items.append((f"{f.severity.value} {f.id}", SEVERITY_STYLE[f.severity], f.message, hint))
    return Paragraphs(items, max_lines, title="Flags")


def flags_block(report: Report, level: Level = FULL) -> Paragraphs | None:
    if not report.flags:
        return None
    if level.full:
        return flag_paragraphs(report.flags, None)
    return flag_paragraphs(report.flags, level.room.flag_lines)


def verdict_line(report: Report) -> str:
    """The report in one sentence, for the last line of the screen: the mean and NE, what they
    mean, and how many errors and warnings the flags above hold."""
    r = report
    mean, ne = _sig(r.mean_loss, 3), _sig(r.ne, 2)
    base = "the class prior" if r.task.is_multiclass else "the base rate"
    if not r.valid:
        what = f"mean {mean} is not a valid loss ({r.invalid_flag or r.invalid_reason})"
    elif math.isnan(r.ne):
        what = f"mean {mean} (NE undefined: a single class)"
    else:
        better = "better than" if r.ne < 1 else "no better than"
        what = f"mean {mean} (NE {ne}): {better} {base}"
    counts = [
        (n, word)
        for word, sev in (("error", Severity.ERROR), ("warning", Severity.WARNING))
        if (n := sum(1 for f in r.flags if f.severity is sev))
    ]
    if counts:
        said = ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)
        return f"{what}; {said}, see above"
    return f"{what}; no errors or warnings"


def _sig(v: float, digits: int) -> str:
    return fmt.nonfinite(v) or f"{v:.{digits}g}"


def verdict(report: Report) -> RenderableType:
    from rich.text import Text

    severities = {f.severity for f in report.flags}
    style = "bold"
    if not report.valid or Severity.ERROR in severities:
        style = "bold red"
    elif Severity.WARNING in severities:
        style = "bold yellow"
    return Text(verdict_line(report), style=style)


def brief_lines(report: Report) -> list[RenderableType]:
    """--brief: what was scored, the headline numbers, the flags' ids, the verdict."""
    from rich.text import Text

    r, c = report, report.context
    rows = f"{r.n:,} rows" + (f" ({r.n_excluded:,} excluded)" if r.n_excluded else "")
    lines: list[RenderableType] = [
        safe_text(f"{', '.join(c.sources) or '-'}: {r.task.value}, {rows}, {r.compat.value}"),
        Text(
            f"mean {fmt.loss(r.mean_loss)} ({r.band or '-'}), baseline {fmt.loss(r.baseline_loss)}"
            f", NE {fmt.num(r.ne, 3)}, accuracy {fmt.pct(r.accuracy)}"
        ),
    ]
    if r.flags:
        flags = Text("flags:")
        for sev in Severity:
            ids = [f.id for f in r.flags if f.severity is sev]
            if ids:
                flags.append(";" if len(flags) > 6 else "")
                flags.append(f" {sev.value} ", style=SEVERITY_STYLE[sev])
                flags.append(", ".join(ids))
        lines.append(flags)
    lines.append(verdict(report))
    return lines


def validity_banner(report: Report, level: Level = FULL) -> RenderableType | None:
    if report.valid:
        return None
    flag = report.flag(report.invalid_flag) if report.invalid_flag else None
    return safe_text(
        f"The mean below is not a valid loss: {report.invalid_reason}"
        + (f"; {flag.hint}" if flag else "")
        + (". It is shown as computed, for scripts; see Flags." if level.full else "."),
        "bold red",
    )


def samples_section(report: Report, level: Level = FULL) -> RenderableType | None:
    """How the losses spread: with --verbose, the histogram beside the reliability chart; on
    the one screen, for a single output, the worst samples beside the chart (several classes
    or outputs have their table there instead, and the ECE in the loss table; their worst
    samples show when --id-col names them)."""
    cal = reliability_chart(report) if report.calibration else None
    if level.full:
        hist: RenderableType = histogram_table(report)
        return Pair(hist, cal) if cal is not None else hist
    if len(report.prior) > 1:  # the worst rows only when asked for by their ids (--id-col)
        rows = max(level.room.worst_rows, 3)
        return worst_table(report, level, rows=rows) if report.context.id_columns else None
    worst = worst_table(report, level) if level.room.worst_rows else None
    if not level.room.chart:
        cal = None
    if worst is not None and cal is not None:
        return Pair(worst, cal)
    return worst or cal


def notes_block(report: Report, level: Level = FULL) -> RenderableType | None:
    from rich.console import Group

    if not report.notes:
        return None
    return Group(*(safe_text("note: " + note, "dim") for note in report.notes))


@dataclass(frozen=True)
class Section:
    """One part of the terminal report: ``build`` returns its renderable (None: nothing to
    show for this report) at a level; ``least`` is the least detail that shows it. The
    verdict line follows the last section."""

    name: str
    build: Callable[[Report, Level], RenderableType | None]
    least: Detail = Detail.DEFAULT
    gap: bool = True  # a blank line above it


SECTIONS: list[Section] = [
    Section("header", lambda r, level: header(r)),
    Section("validity", validity_banner),
    Section("loss", loss_table),
    Section("why", why_section, gap=False),  # calibration vs discrimination (render/why.py)
    Section("outputs", outputs_table),
    Section("slices", lambda r, level: slices_table(r)),  # --by
    Section("mistakes", mistakes_table, Detail.FULL),
    Section("worst", worst_table, Detail.FULL),
    Section("samples", samples_section),
    Section("flags", flags_block),
    Section("notes", notes_block, gap=False),
]

_RANK = {Detail.BRIEF: 0, Detail.DEFAULT: 1, Detail.FULL: 2}


def shown(section: Section, detail: Detail) -> bool:
    return _RANK[detail] >= _RANK[section.least]


def report_parts(report: Report, level: Level = FULL) -> list[RenderableType]:
    """The sections shown at ``level`` in reading order, a blank line between them, and the
    verdict last."""
    parts: list[RenderableType] = []
    for section in SECTIONS:
        if not shown(section, level.detail):
            continue
        part = section.build(report, level)
        if part is not None:
            if parts and section.gap:
                parts.append("")
            parts.append(part)
    parts.append(verdict(report))
    return parts


class Screen:
    """The default report squeezed to ``height`` lines of the console it is printed on: the
    least squeezed level that fits (the last one when none does)."""

    def __init__(self, report: Report, height: int) -> None:
        self.report, self.height = report, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.console import Group

        for squeeze in range(len(SQUEEZES)):
            group = Group(*report_parts(self.report, Level(Detail.DEFAULT, squeeze)))
            if len(console.render_lines(group, options, pad=False)) <= self.height:
                break
        yield group


def render_report(
    report: Report, detail: Detail = Detail.FULL, *, height: int | None = None
) -> list[RenderableType]:
    """The report at a level of detail; the default one fitted to ``height`` lines if given
    (a terminal's height, less the line of the prompt)."""
    if detail is Detail.BRIEF:
        return brief_lines(report)
    if detail is Detail.DEFAULT and height is not None:
        return [Screen(report, height)]
    return report_parts(report, Level(detail))
