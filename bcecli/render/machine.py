"""Machine output: JSON, JSONL, TSV and CSV of a command's data (``Report.to_dict()`` for
``bce score``), with no markup or colour, and ``--raw``.

Non-finite numbers are the strings "inf", "-inf" and "nan"; a value that does not apply is null
(an empty cell in TSV/CSV).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import bcecli.text as fmt

if TYPE_CHECKING:
    import numpy as np


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
        word = fmt.nonfinite(v)
        if word is None:
            out.append(repr(v))
        elif in_json:
            out.append("null" if word == "nan" else f'"{word}"')
        else:
            out.append(word)
    return out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def report_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """The TSV/CSV rows of a report: one per top-level scalar, one per flag, then the gate's
    verdict (``gate``, passed or failed) and one ``gate_reason`` per failed gate."""
    rows: list[tuple[str, ...]] = []
    for key, v in data.items():
        if isinstance(v, (dict, list)):
            continue
        rows.append((key, _cell(v)))
    for f in data["flags"]:
        rows.append(("flag", f["id"], f["severity"], str(f["count"])))
    rows += interval_rows(data.get("ci"))
    rows += slice_rows(data.get("slices"))
    gate = data.get("gate")
    if gate is not None:  # the verdict, then one line per failed gate
        rows.append(("gate", "passed" if gate["passed"] else "failed"))
        for reason in gate["reasons"]:
            rows.append(("gate_reason", reason["gate"], reason["message"]))
    return rows


def interval_rows(ci: dict[str, Any] | None) -> list[tuple[str, ...]]:
    """--ci: ``ci_level`` and ``ci_method`` lines, then ``ci<TAB>figure<TAB>lo<TAB>hi`` per
    figure (empty cells where it is undefined)."""
    if ci is None:
        return []
    rows: list[tuple[str, ...]] = [
        ("ci_level", _cell(ci["level"])),
        ("ci_method", ci["method"]),
        ("ci_n_resamples", _cell(ci["n_resamples"])),
        ("ci_seed", _cell(ci["seed"])),
    ]
    for key in ("mean_loss", "ne", "accuracy", "brier", "auc"):
        lo, hi = ci[key] or (None, None)
        rows.append(("ci", key, _cell(lo), _cell(hi)))
    return rows


SLICE_KEYS = (
    "name", "n", "base_rate", "mean_loss", "share_of_loss", "ne", "ne_overall",
    "calibration_ratio", "ece", "auc",
)  # fmt: skip


def slice_rows(slices: list[dict[str, Any]] | None) -> list[tuple[str, ...]]:
    """--by: a ``slice_columns`` line naming the fields, then one ``slice`` line per slice."""
    if slices is None:
        return []
    rows: list[tuple[str, ...]] = [("slice_columns", *SLICE_KEYS)]
    for s in slices:
        rows.append(("slice", *(_cell(s[k]) for k in SLICE_KEYS)))
    return rows


def delimited(rows: Sequence[Sequence[object]], delimiter: str) -> str:
    """TSV (tabs and line ends inside a cell become spaces) or CSV (quoted as needed)."""
    cells = [[_cell(c) for c in row] for row in rows]
    if delimiter == "\t":
        return "".join("\t".join(_clean(c) for c in row) + "\n" for row in cells)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(cells)
    return buf.getvalue()


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
