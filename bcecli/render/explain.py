"""``bce explain`` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bcecli.text as fmt
from bcecli.core.explain import Explanation

if TYPE_CHECKING:
    from rich.console import RenderableType


def explain_data(e: Explanation) -> dict[str, Any]:
    return {
        "loss": fmt.json_number(e.loss),
        "p_true": fmt.json_number(e.p_true),
        "band": e.band,
        "classes": e.classes,
        "chance_loss": fmt.json_number(e.chance_loss),
        "task": e.task.value if e.task else None,
        "label": e.label,
        "pred": e.pred,
        "reading": list(e.reading),
        "frameworks": [
            {
                "compat": v.compat.value,
                "framework": v.framework,
                "dtype": v.dtype,
                "loss": fmt.json_number(v.loss),
                "error": v.error,
            }
            for v in e.values
        ],
    }


def explain_rows(e: Explanation) -> list[tuple[str, ...]]:
    data = explain_data(e)
    rows: list[tuple[str, ...]] = []
    for key in ("loss", "p_true", "band", "classes", "chance_loss", "task", "label", "pred"):
        v = data[key]
        rows.append((key, "" if v is None else str(v)))
    for f in data["frameworks"]:
        value = f["error"] if f["loss"] is None else str(f["loss"])
        rows.append(("framework", f["compat"], f["dtype"], value))
    return rows


def explain_renderables(e: Explanation) -> list[RenderableType]:
    from rich.text import Text

    from bcecli.render.terminal import table

    parts: list[RenderableType] = []
    head = Text()
    head.append("loss ", style="bold")
    head.append(fmt.loss(e.loss))
    head.append("   p(true class) ", style="bold")
    head.append(f"{e.p_true:.6g}")
    if e.chance_loss is not None:
        head.append(f"   chance (ln {e.classes}) ", style="bold")
        head.append(fmt.loss(e.chance_loss))
    if e.band:
        head.append("   band ", style="bold")
        head.append(e.band + (" (a binary rule of thumb)" if e.classes and e.classes > 2 else ""))
    parts.append(head)
    for line in e.reading:
        parts.append(Text("• " + line))
    if e.values:
        t = table(f"The same sample under each framework ({e.task.value if e.task else ''})")
        t.add_column("--compat")
        t.add_column("framework")
        t.add_column("dtype")
        t.add_column("loss", justify="right")
        for v in e.values:
            shown = fmt.loss(v.loss) if v.loss is not None else Text(f"raises: {v.error}", "red")
            t.add_row(v.compat.value, v.framework, v.dtype, shown)
        parts.append(t)
    return parts
