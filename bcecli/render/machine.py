"""The machine-readable contract: JSON (schema 1), TSV/CSV key-value lines and --raw.

Keys are stable; a change to them needs a new schema number. Non-finite numbers are the strings
"inf", "-inf" and "nan"; a value that does not apply is null.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import bcecli
from bcecli.core.report import Report

if TYPE_CHECKING:
    import numpy as np

SCHEMA = 1


def number(v: float | None) -> float | str | None:
    """A JSON-safe number: finite floats as they are, inf/nan as strings."""
    if v is None:
        return None
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def summary(report: Report, *, reduction: str) -> dict[str, Any]:
    """The report as the JSON object of schema 1 (the ``losses`` of --reduction none are
    streamed after it by ``json_pieces``)."""
    r = report
    c = r.context
    value = r.sum_loss if reduction == "sum" else r.mean_loss
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "bce_version": bcecli.__version__,
        "task": r.task.value,
        "task_reason": r.task_reason,
        "compat": r.compat.value,
        "framework": r.framework,
        "dtype": r.dtype,
        "reduction": reduction,
        "loss": number(value) if reduction != "none" else None,
        "n_rows": r.n_rows,
        "n": r.n,
        "n_excluded": r.n_excluded,
        "mean_loss": number(r.mean_loss),
        "sum_loss": number(r.sum_loss),
        "median_loss": number(r.median_loss),
        "median_exact": r.median_exact,
        "max_loss": number(r.max_loss),
        "n_above_1": r.n_above_1,
        "share_above_1": number(r.share_above_1),
        "mean_metric": number(r.mean_metric),
        "band": r.band,
        "baseline_loss": number(r.baseline_loss),
        "ne": number(r.ne),
        "entropy_floor": number(r.entropy_floor),
        "accuracy": number(r.accuracy),
        "brier": number(r.brier),
        "ece": number(r.ece),
        "prior": [number(p) for p in r.prior],
        "inputs": {
            "sources": list(c.sources),
            "label_columns": list(c.label_columns),
            "pred_columns": list(c.pred_columns),
            "weight_column": c.weight_column,
        },
        "calibration": [
            {
                "lo": b.lo,
                "hi": b.hi,
                "count": b.count,
                "mean_pred": number(b.mean_pred),
                "frac_pos": number(b.frac_pos),
            }
            for b in r.calibration
        ],
        "outputs": [
            {
                "name": o.name,
                "support": o.support,
                "prior": number(o.prior),
                "mean_loss": number(o.mean_loss),
                "accuracy": number(o.accuracy),
                "baseline": number(o.baseline),
            }
            for o in r.outputs
        ],
        "mistakes": [
            {"true": m.true_class, "predicted": m.predicted, "count": m.count} for m in r.mistakes
        ],
        "worst": [
            {
                "row": w.row,
                "labels": [number(v) for v in w.labels],
                "preds": [number(v) for v in w.preds],
                "p_true": number(w.p_true),
                "loss": number(w.loss),
            }
            for w in r.worst
        ],
        "histogram": [
            {"lo": number(lo), "hi": number(hi), "count": n} for lo, hi, n in r.histogram
        ],
        "flags": [
            {
                "id": f.id,
                "severity": f.severity.value,
                "count": f.count,
                "rows": list(f.rows),
                "message": f.message,
                "hint": f.hint,
            }
            for f in r.flags
        ],
        "notes": list(r.notes),
    }
    return out


def to_json(data: dict[str, Any], *, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, allow_nan=False, separators=(",", ":"))
    return json.dumps(data, allow_nan=False, indent=2)


def json_pieces(
    data: dict[str, Any], *, compact: bool, losses: Iterable[np.ndarray] | None
) -> Iterator[str]:
    """``to_json(data)`` in pieces, with ``losses`` (blocks of per-sample losses) streamed in as
    its last key, a ``losses`` list, exactly as ``json.dumps`` would lay it out: NaN (an excluded
    row) is null, an infinite loss the string "inf"."""
    text = to_json(data, compact=compact)
    if losses is None:
        yield text
        return
    # json.dumps' own layout: compact, or indented with "[]" for an empty list
    if compact:
        yield text[:-1] + ',"losses":['  # drop the closing brace
        sep, first, end, empty_end = ",", "", "]}", "]}"
    else:
        yield text[:-2] + ',\n  "losses": ['  # drop "\n}"
        sep, first, end, empty_end = ",\n    ", "\n    ", "\n  ]\n}", "]\n}"
    started = False
    for block in losses:
        if len(block):
            yield (sep if started else first) + sep.join(loss_texts(block, in_json=True))
            started = True
    yield end if started else empty_end


def loss_texts(block: np.ndarray, *, in_json: bool = False) -> list[str]:
    """Per-sample losses as text: finite ones as ``repr`` (the shortest exact form), the rest
    as "inf", "-inf" and "nan" (in JSON: "inf" and "-inf" quoted, NaN as null)."""
    import numpy as np

    values = block.tolist()
    if np.isfinite(block).all():
        return list(map(repr, values))
    out = []
    for v in values:
        n = number(v)
        if not isinstance(n, str):
            out.append(repr(n))
        elif in_json:
            out.append("null" if n == "nan" else f'"{n}"')
        else:
            out.append(n)
    return out


def _scalar_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def key_values(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """The TSV/CSV rows: one per top-level scalar, then one per flag."""
    rows: list[tuple[str, ...]] = []
    for key, v in data.items():
        if isinstance(v, (dict, list)):
            continue
        rows.append((key, _scalar_text(v)))
    for f in data["flags"]:
        rows.append(("flag", f["id"], f["severity"], str(f["count"])))
    return rows


def to_delimited(data: dict[str, Any], delimiter: str) -> str:
    rows = key_values(data)
    if delimiter == "\t":
        return "".join("\t".join(_clean(c) for c in row) + "\n" for row in rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue()


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def raw(report: Report, reduction: str) -> str:
    value = report.sum_loss if reduction == "sum" else report.mean_loss
    v = number(value)
    return v if isinstance(v, str) else repr(v)
