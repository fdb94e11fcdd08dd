"""The human report: rich renderables built from a Report (printing is the caller's job)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.core.bands import ne_meaning
from bcecli.core.flags import Severity
from bcecli.core.report import Report
from bcecli.render.charts import reliability_chart
from bcecli.render.terminal import safe_text, table
from bcecli.render.uncertainty import add_loss_rows

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
BAND_STYLE = {
    "perfect": "bold green", "great": "green", "on_track": "green", "fine": "green",
    "borderline": "yellow", "not_great": "yellow", "terrible": "red", "broken": "bold red",
    "invalid": "bold red",
}  # fmt: skip
BAR = "█"


def header(report: Report) -> Table:
    r, c = report, report.context
    t = table(show_header=False, padding=(0, 1))
    t.add_column(style="bold")
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


def loss_table(report: Report) -> Table:
    from rich.text import Text

    r = report
    t = table("Loss", show_header=False, padding=(0, 1))
    t.add_column(style="bold")
    t.add_column(justify="right")
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
        t.add_row("band", band, f"a binary rule of thumb (bce bands), not for {k} classes")
        t.add_row(
            "chance",
            fmt.loss(math.log(k)),
            f"ln {k}: a uniform guess, an untrained model (NE {fmt.num(r.ne, 3)})",
        )
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


def outputs_table(report: Report) -> Table | None:
    if not report.outputs:
        return None
    multiclass = report.task.is_multiclass
    t = table("Per class" if multiclass else "Per output")
    t.add_column("class" if multiclass else "output")
    t.add_column("support" if multiclass else "positives", justify="right")
    t.add_column("prior", justify="right")
    t.add_column("mean loss", justify="right")
    t.add_column("baseline", justify="right")
    t.add_column("accuracy", justify="right")
    for o in report.outputs[:50]:
        t.add_row(
            safe_text(o.name),
            f"{o.support:,}",
            fmt.num(o.prior, 3),
            fmt.loss(o.mean_loss),
            fmt.loss(o.baseline),
            fmt.pct(o.accuracy),
        )
    if len(report.outputs) > 50:
        t.caption = f"{len(report.outputs) - 50} more in --format json"
    return t


def mistakes_table(report: Report) -> Table | None:
    if not report.mistakes:
        return None
    t = table("Most common mistakes")
    t.add_column("true class")
    t.add_column("predicted")
    t.add_column("rows", justify="right")
    for m in report.mistakes:
        t.add_row(safe_text(m.true_class), safe_text(m.predicted), f"{m.count:,}")
    return t


def worst_table(report: Report) -> Table | None:
    if not report.worst:
        return None
    multiclass = report.task.is_multiclass
    names = report.context.output_names
    t = table("Worst samples")
    t.add_column("row", justify="right")
    ids = report.context.id_columns
    for name in ids:  # --id-col
        t.add_column(safe_text(name), justify="right")
    t.add_column("label", justify="right")
    t.add_column("argmax (p)" if multiclass else "prediction", justify="right")
    t.add_column("p(true)", justify="right")
    t.add_column("loss", justify="right")
    for w in report.worst:
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
    if len(values) <= 4:
        return ", ".join(fmt.short(v) for v in values)
    return ", ".join(fmt.short(v) for v in values[:3]) + f", ... ({len(values)})"


def histogram_table(report: Report) -> Table:
    t = table("Per-sample loss")
    t.add_column("loss", justify="right")
    t.add_column("count", justify="right")
    t.add_column("", min_width=10)
    top = max((c for _, _, c in report.histogram), default=0) or 1
    for lo, hi, count in report.histogram:
        label = f"≥ {lo:g}" if math.isinf(hi) else f"{lo:g} – {hi:g}"
        style = "red" if lo >= 1 else ""
        t.add_row(label, f"{count:,}", safe_text(BAR * max(0, round(20 * count / top)), style))
    return t


def flags_table(report: Report) -> Table | None:
    if not report.flags:
        return None
    from rich.text import Text

    t = table("Flags")
    t.add_column("", no_wrap=True)
    t.add_column("flag", no_wrap=True)
    t.add_column("rows", justify="right")
    t.add_column("what was found / what to do", ratio=1)
    for f in report.flags:
        body = Text()
        body.append_text(safe_text(f.message))
        body.append("\n")
        body.append_text(safe_text("→ " + f.hint, "dim"))
        t.add_row(
            Text(f.severity.value, style=SEVERITY_STYLE[f.severity]), f.id, f"{f.count:,}", body
        )
    return t


def render_report(report: Report) -> list[RenderableType]:
    """Everything, in reading order."""
    from rich.columns import Columns

    parts: list[RenderableType] = [header(report)]
    if not report.valid:
        flag = report.flag(report.invalid_flag) if report.invalid_flag else None
        parts.append(
            safe_text(
                f"The mean below is not a valid loss: {report.invalid_reason}"
                + (f"; {flag.hint}" if flag else "")
                + ". It is shown as computed, for scripts; see Flags.",
                "bold red",
            )
        )
    parts.append(loss_table(report))
    for extra in (outputs_table(report), mistakes_table(report), worst_table(report)):
        if extra is not None:
            parts.append(extra)
    cal = reliability_chart(report) if report.calibration else None
    hist = histogram_table(report)
    parts.append(Columns([hist, cal]) if cal is not None else hist)
    flags = flags_table(report)
    if flags is not None:
        parts.append(flags)
    for note in report.notes:
        parts.append(safe_text("note: " + note, "dim"))
    return parts
