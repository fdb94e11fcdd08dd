"""The human form of ``bce check-init``: rich renderables built from an InitReport."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bcecli.text as fmt
from bcecli.render.table import FULL, Level, flag_paragraphs, header
from bcecli.render.terminal import (
    MAX_FLAG_LINES,
    Detail,
    Paragraphs,
    report_table,
    safe_text,
    wrap_text,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from bcecli.checkinit import InitReport

MAX_OUTPUTS = 20
VERDICT_STYLE = {True: "bold green", False: "bold red"}


def init_table(r: InitReport) -> Table:
    from rich.text import Text

    t = report_table("Loss at initialisation", show_header=False, padding=(0, 1), box=None)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column(style="dim")
    se = "" if r.std_error is None else f"standard error {fmt.num(r.std_error, 3)}"
    t.add_row("init loss", Text(fmt.loss(r.init_loss), style="bold"), se)
    k = len(r.prior)
    chance = f"ln {k}" if r.report.task.is_multiclass else "ln 2"
    t.add_row(
        "uniform",
        fmt.loss(r.uniform_loss),
        f"{chance}: logits near 0 (± {fmt.num(r.tolerance_uniform, 3)})",
    )
    t.add_row(
        "prior",
        fmt.loss(r.prior_loss),
        f"the prior's entropy: bias = log prior (± {fmt.num(r.tolerance_prior, 3)})",
    )
    t.add_row(
        "logit std", fmt.num(r.logit_std, 3), "spread of the logits around each output's mean"
    )
    t.add_row("saturated", fmt.pct(r.saturated_share), "outputs within 1e-7 of 0 or 1")
    t.add_row(
        "verdict",
        Text(r.verdict.value, style=VERDICT_STYLE[r.passed]),
        "exit 0" if r.passed else "exit 1",
    )
    return t


def outputs_table(r: InitReport, level: Level = FULL) -> Table:
    multiclass = r.report.task.is_multiclass
    limit = MAX_OUTPUTS if level.full else 10
    t = report_table("Per class" if multiclass else "Per output")
    t.add_column("class" if multiclass else "output")
    t.add_column("prior", justify="right")
    t.add_column("mean prediction", justify="right")
    t.add_column("recommended bias", justify="right")
    for i, name in enumerate(r.names[:limit]):
        t.add_row(
            safe_text(name),
            fmt.num(r.prior[i], 4),
            fmt.num(r.mean_prediction[i], 4),
            fmt.num(r.recommended_bias[i], 4),
        )
    if len(r.names) > limit:
        more = "--verbose" if limit < MAX_OUTPUTS else "--format json"
        t.caption = f"{len(r.names) - limit} more in {more}"
        t.caption_justify = "left"
    return t


def verdict_block(r: InitReport) -> Paragraphs:
    """The verdict, its reason and what to do, as the report's last lines."""
    return Paragraphs([(r.verdict.value, VERDICT_STYLE[r.passed], r.message, r.hint)], indent=0)


def render_init(r: InitReport, detail: Detail = Detail.FULL) -> list[RenderableType]:
    """Everything, in reading order, the verdict last (--brief: the loss line, the flags' ids
    and the verdict)."""
    from rich.text import Text

    if detail is Detail.BRIEF:
        line = Text(
            f"init loss {fmt.loss(r.init_loss)}, uniform {fmt.loss(r.uniform_loss)}, "
            f"prior {fmt.loss(r.prior_loss)}, logit std {fmt.num(r.logit_std, 3)}"
        )
        ids = ", ".join(f"{f.id} ({f.severity.value})" for f in r.flags)
        return [line, *([Text(f"flags: {ids}")] if ids else []), verdict_block(r)]
    level = Level(detail)
    parts: list[RenderableType] = [header(r.report), "", init_table(r), "", outputs_table(r, level)]
    if r.flags:
        parts += ["", flag_paragraphs(tuple(r.flags), None if level.full else MAX_FLAG_LINES)]
    if r.notes:
        from rich.console import Group

        parts.append("")
        parts.append(Group(*(safe_text("note: " + note, "dim") for note in r.notes)))
    parts += ["", verdict_block(r)]
    return parts


def stderr_verdict(r: InitReport, width: int | None) -> str:
    """check-init's line on stderr: one line for a file or a pipe, wrapped on a terminal."""
    line = f"check-init: {r.verdict.value}: {r.hint}"
    return line if width is None else "\n".join(wrap_text(fmt.escape(line), width - 1))


def init_rows(data: dict[str, object]) -> list[tuple[str, ...]]:
    """TSV/CSV rows: one per top-level scalar, one per output (name, prior, mean prediction,
    recommended bias), then one per flag."""
    from bcecli.render.machine import report_rows

    rows = [row for row in report_rows(data) if row[0] != "flag"]
    names, prior, mean, bias = (
        data[k] for k in ("names", "prior", "mean_prediction", "recommended_bias")
    )
    assert isinstance(names, list) and isinstance(prior, list)
    assert isinstance(mean, list) and isinstance(bias, list)
    for name, p, m, b in zip(names, prior, mean, bias, strict=True):
        rows.append(("output", str(name), _cell(p), _cell(m), _cell(b)))
    rows.extend(row for row in report_rows(data) if row[0] == "flag")
    return rows


def _cell(v: object) -> str:
    return repr(v) if isinstance(v, float) else "" if v is None else str(v)
