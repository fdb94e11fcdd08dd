"""``bce compare``'s output: rich renderables for a terminal, and TSV/CSV rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bcecli.text as fmt
from bcecli.render.terminal import safe_text, table

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.comparison import Comparison


def _n(v: float | None, digits: int = 4) -> str:
    return fmt.num(v, digits)


def _d(a: float | None, b: float | None, digits: int = 4) -> str:
    if a is None or b is None:
        return "-"
    d = b - a
    return ("+" if d >= 0 else "") + fmt.num(d, digits)


def render_comparison(c: Comparison) -> list[RenderableType]:
    from rich.text import Text

    head = table(show_header=False, padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("A", safe_text(c.a.source))
    head.add_row("B", safe_text(c.b.source))
    head.add_row("task", f"{c.task.value}; profile {c.compat.value}: {c.framework}")
    rows = f"{c.n:,} paired" + (
        f" ({c.n_excluded:,} excluded by one model)" if c.n_excluded else ""
    )
    head.add_row("rows", rows + (f", joined on {c.id_col}" if c.id_col else ", in file order"))

    t = c.loss
    pct = f"{c.level * 100:g}%"
    m = table(None)
    for name in ("", "A", "B", "B - A", f"{pct} CI (B - A)", "p"):
        m.add_column(name, justify="left" if not name else "right", no_wrap=True)
    m.add_row(
        "mean loss",
        _n(c.a.mean_loss),
        _n(c.b.mean_loss),
        _d(0.0, t.diff),
        f"[{_n(t.ci[0])}, {_n(t.ci[1])}]",
        _p(c.p_value) + (" DM" if c.dm is not None else " t"),
    )
    m.add_row("NE", _n(c.a.ne), _n(c.b.ne), _d(c.a.ne, c.b.ne), "", "")
    m.add_row("Brier", _n(c.a.brier), _n(c.b.brier), _d(c.a.brier, c.b.brier), "", "")
    m.add_row(
        "accuracy",
        fmt.pct(c.a.accuracy),
        fmt.pct(c.b.accuracy),
        f"{(c.b.accuracy - c.a.accuracy) * 100:+.1f} pp",
        "",
        _p(c.mcnemar_p) + " McNemar",
    )
    shown = ["auc"] + (
        ["miscalibration", "discrimination"] if c.a.miscalibration is not None else []
    )
    for key in shown:  # the other headlines: no paired interval of their own
        va, vb = getattr(c.a, key), getattr(c.b, key)
        m.add_row("AUC" if key == "auc" else key, _n(va), _n(vb), _d(va, vb), "", "")
    out: list[RenderableType] = [head, m]
    share = c.improved / c.n if c.n else float("nan")
    out.append(
        Text(
            f"rows: {c.improved:,} improved ({fmt.pct(share)}), {c.worse:,} worse, "
            f"{c.tied:,} tied; accuracy: {c.b_only:,} right only in B, {c.a_only:,} only in A"
        )
    )
    if c.changed not in (None, "neither"):
        out.append(Text(f"what changed most: {c.changed}"))
    groups = c.by_class or c.outputs
    if groups:
        g = table("per class" if c.by_class else "per output")
        for name in ("", "n", "B - A", f"{pct} CI", "p"):
            g.add_column(name, justify="left" if not name else "right", no_wrap=True)
        for row in groups:
            ci = "" if row.ci is None else f"[{_n(row.ci[0])}, {_n(row.ci[1])}]"
            g.add_row(safe_text(row.name), f"{row.n:,}", _d(0.0, row.diff), ci, _p(row.p_value))
        out.append(g)
    style = "bold green" if c.b_is_better else "bold" if c.better is None else "bold red"
    out.append(Text(c.verdict(), style=style))
    for note in c.notes:
        out.append(Text(f"note: {note}", style="dim"))
    return out


def _p(p: float | None) -> str:
    if p is None:
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def comparison_rows(data: dict[str, Any]) -> list[tuple[object, ...]]:
    """TSV/CSV: one ``key value`` line per scalar, nested keys joined by dots
    (``mean_loss.diff``), then one ``class`` (or ``output``) line per class: name, n, diff,
    ci low, ci high, p-value; then one ``note`` line per note (cells as ``delimited`` writes
    them: null empty, floats exact)."""
    rows: list[tuple[object, ...]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, list):
            if value and not isinstance(value[0], (dict, list)):
                rows.append((prefix, *value))
        else:
            rows.append((prefix, value))

    for key, value in data.items():
        if key not in ("by_class", "outputs", "notes"):
            walk(key, value)
    for kind, key in (("class", "by_class"), ("output", "outputs")):
        for g in data[key]:
            ci = g["ci"] or [None, None]
            rows.append(
                (kind, g["name"], g["n"], g["diff"], ci[0], ci[1], g["p_value"])
            )  # fmt: skip
    for note in data["notes"]:
        rows.append(("note", note))
    return rows
