"""Which columns hold the labels, the predictions and the weights, found by name.

Pure functions over column names, shared by every tabular format. The rules, in order:
explicit ``--label-col`` / ``--pred-col``; one column with a known name (``y_true``, ``label``,
``target`` ... / ``y_pred``, ``prob``, ``score`` ...); a family of columns sharing a known prefix
and an index or class suffix (``prob_0 .. prob_9``, ordered by the number); the one column left;
with the labels found, every other column numbered from 0 or 1 under one prefix (``0 .. 9`` as
pandas names a frame's columns, ``class_1 .. class_10``); a text column whose values are the
other columns' names (``species`` above ``setosa, versicolor, virginica``: the labels, and those
columns the classes). Anything else is ambiguous and says which flag settles it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bcecli.errors import InputError, OptionError
from bcecli.readers.display import show, show_cell, show_names

LABEL_NAMES = (
    "y_true", "label", "labels", "target", "targets", "y", "truth", "ground_truth", "gt",
    "true", "true_label", "actual", "class", "y_test", "outcome",
)  # fmt: skip
PRED_NAMES = (
    "y_pred", "pred", "preds", "prediction", "predictions", "prob", "probs", "proba",
    "probability", "probabilities", "y_prob", "y_proba", "y_score", "score", "scores", "p",
    "p_hat", "yhat", "y_hat", "output", "outputs", "logit", "logits",
)  # fmt: skip
WEIGHT_NAMES = ("sample_weight", "sample_weights", "weight", "weights")
ID_NAMES = ("id", "index", "idx", "row", "row_id", "sample", "sample_id", "unnamed_0", "")

_FAMILY = re.compile(r"^(?P<prefix>[a-z_]*?)[_\-. ]?(?P<suffix>\d+|[a-z][a-z0-9]*)$")


def normalize(name: str) -> str:
    return re.sub(r"[\s\-.:]+", "_", name.strip().lower()).strip("_")


# Names of columns that identify a row (beyond ID_NAMES, which detection skips): noted when
# present and not passed to --id-col.
_ID_LIKE = ("uuid", "guid", "uid", "key", "example_id", "image_id", "filename", "file", "path")


def id_like(name: str) -> bool:
    """A column named like a row's id (pandas' unnamed index excluded: it is skipped)."""
    n = normalize(name)
    if n in ("", "unnamed_0"):
        return False
    return n in ID_NAMES or n in _ID_LIKE or n.endswith("_id") or n.endswith("_uuid")


@dataclass(frozen=True)
class Selection:
    """Resolved columns of one table, with the reason shown in the report."""

    labels: tuple[str, ...]
    preds: tuple[str, ...]
    how: str
    suffixes: tuple[str, ...] = ()  # class names taken from a prediction family's suffixes


def _exact(columns: list[str], names: tuple[str, ...]) -> list[str]:
    norm = {c: normalize(c) for c in columns}
    for name in names:
        hits = [c for c in columns if norm[c] == name]
        if hits:
            return hits
    return []


def _family(columns: list[str], prefixes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Columns named ``<prefix><sep><suffix>`` for the first prefix that has two or more."""
    for prefix in prefixes:
        found: list[tuple[str, str]] = []
        for c in columns:
            n = normalize(c)
            if not n.startswith(prefix) or n == prefix:
                continue
            rest = n[len(prefix) :].lstrip("_")
            if rest and re.fullmatch(r"\d+|[a-z0-9][a-z0-9_]*", rest):
                found.append((c, rest))
        if len(found) >= 2:
            if all(s.isdigit() for _, s in found):
                found.sort(key=lambda t: int(t[1]))
            return [c for c, _ in found], [s for _, s in found]
    return [], []


def _numbered(columns: list[str]) -> tuple[list[str], list[str]]:
    """``columns`` ordered by number, if they are all ``<prefix><number>`` with one prefix (empty
    included) and the numbers run 0 .. K-1 or 1 .. K, K >= 2; else nothing."""
    parsed = [re.fullmatch(r"(.*?)_?(\d+)", normalize(c)) for c in columns]
    if len(columns) < 2 or not all(parsed):
        return [], []
    if len({m.group(1) for m in parsed if m}) > 1:
        return [], []
    numbered = sorted((int(m.group(2)), c) for m, c in zip(parsed, columns, strict=True) if m)
    numbers = [k for k, _ in numbered]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))) or numbers[0] not in (0, 1):
        return [], []
    return [c for _, c in numbered], [str(k) for k in numbers]


def _named_by_labels(
    pool: list[str], values: Mapping[str, tuple[str, ...]], label: str | None, source: str
) -> tuple[str | None, list[str]]:
    """The label column whose values (in the first rows) are the names of the other columns,
    and those columns, the predictions: ``pd.DataFrame(clf.predict_proba(X),
    columns=clf.classes_)`` beside the labels. ``label``: the label column already chosen
    (None: any text column may be it). Other columns beside them are refused: a class missing
    from the first rows and a feature column cannot be told apart."""
    found: list[tuple[str, list[str], list[str]]] = []
    for c in [label] if label is not None else [c for c in pool if c in values]:
        named = {v.strip().lower() for v in values.get(c, ()) if v.strip()}
        others = [
            o
            for o in pool
            if o != c and not id_like(o) and normalize(o) not in (*ID_NAMES, *WEIGHT_NAMES)
        ]
        classes = [o for o in others if o.strip().lower() in named]
        if len(named) >= 2 and len(classes) == len(named):
            found.append((c, classes, [o for o in others if o not in classes]))
    if len(found) != 1:
        return None, []
    column, classes, extra = found[0]
    if extra:
        raise InputError(
            f"the values of column {show(column)} name the columns {show_names(classes)}, but "
            f"{show_names(extra)} {'is' if len(extra) == 1 else 'are'} not among them (a class "
            "missing from the first rows, or not a prediction?)",
            "name the prediction columns with {pred_col} (and the labels with {label_col})",
            source=source,
            param="pred_col",
        )
    return column, classes


def split_list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    return names or None


def _check_exist(wanted: tuple[str, ...], columns: list[str], param: str, source: str) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise OptionError(
            f"has no column {', '.join(show_cell(m) for m in missing)} (asked for by "
            f"{{{param}}}; its columns: {show_names(columns)})",
            "name an existing column",
            source=source,
            param=param,
        )


# What to say when several columns have a known name, per side.
_SEVERAL = {
    "labels": ("pick one with {label_col}", "label_col"),
    "predictions": ("pick them with {pred_col} (a comma-separated list for several outputs)",
                    "pred_col"),
}  # fmt: skip


def _by_name(
    pool: list[str], names: tuple[str, ...], what: str, reasons: list[str], source: str
) -> tuple[list[str], list[str]]:
    """The one column of ``pool`` with a known name, else a family of them (and the family's
    suffixes); the reason appended to ``reasons``."""
    found = _exact(pool, names)
    if len(found) > 1:
        fix, param = _SEVERAL[what]
        raise InputError(
            f"several columns could hold the {what}: {show_names(found)}",
            fix,
            source=source,
            param=param,
        )
    if found:
        reasons.append(f"{what} by name ({show(found[0])})")
        return found, []
    family, suffixes = _family(pool, names)
    if family:
        reasons.append(f"{what} by name ({show(family[0])} .. {show(family[-1])})")
    return family, suffixes


def _by_classes(label: str, classes: list[str], *, label_too: bool) -> str:
    """Why the columns named by the labels' values were chosen (and the labels), for the
    report."""
    named = f"{show(classes[0])} .. {show(classes[-1])}"
    if label_too:
        return (
            f"labels: column {show(label)}, whose values are the other columns' names; "
            f"predictions: those columns ({named})"
        )
    return f"predictions: the columns that the values of {show(label)} name ({named})"


def select_columns(
    columns: list[str],
    *,
    want_labels: bool,
    want_preds: bool,
    label_cols: tuple[str, ...] | None,
    pred_cols: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    source: str,
    values: Mapping[str, tuple[str, ...]] | None = None,
) -> Selection:
    """Pick label and prediction columns among ``columns`` (names as in the file); ``values``:
    the distinct values of the text columns in the first rows."""
    values = values or {}
    pool = [c for c in columns if c not in exclude]
    reasons: list[str] = []
    labels: list[str] = []
    preds: list[str] = []
    suffixes: list[str] = []
    if want_labels and label_cols:
        _check_exist(label_cols, columns, "label_col", source)
        labels = list(label_cols)
        reasons.append("labels from --label-col")
    if want_preds and pred_cols:
        _check_exist(pred_cols, columns, "pred_col", source)
        preds = list(pred_cols)
        reasons.append("predictions from --pred-col")
    both = [c for c in labels if c in preds]
    if both:
        raise OptionError(
            f"{{label_col}} and {{pred_col}} both name {show_names(both)}: one column cannot "
            "hold both the labels and the predictions",
            "name the label column with {label_col} and the prediction column(s) with {pred_col}",
            source=source,
            param="label_col",
        )
    if want_labels and not labels:
        labels, _ = _by_name(
            [c for c in pool if c not in preds], LABEL_NAMES, "labels", reasons, source
        )
    if want_labels and want_preds and not labels and not preds and values:
        label, preds = _named_by_labels(pool, values, None, source)
        if label is not None:
            labels, suffixes = [label], list(preds)
            reasons.append(_by_classes(label, preds, label_too=True))
    if want_preds and not preds:
        rest = [c for c in pool if c not in labels]
        preds, suffixes = _by_name(rest, PRED_NAMES, "predictions", reasons, source)
    if want_preds and not preds and len(labels) == 1 and labels[0] in values:
        _, preds = _named_by_labels(pool, values, labels[0], source)
        if preds:
            suffixes = list(preds)
            reasons.append(_by_classes(labels[0], preds, label_too=False))
    # One side found by name and exactly one candidate column left: that is the other side.
    leftovers = [
        c
        for c in pool
        if c not in labels
        and c not in preds
        and normalize(c) not in ID_NAMES
        and normalize(c) not in WEIGHT_NAMES
    ]
    if want_preds and not preds and (labels or not want_labels) and len(leftovers) == 1:
        preds = leftovers
        reasons.append(f"predictions: the remaining column ({show(preds[0])})")
    elif want_preds and not preds and labels and _numbered(leftovers)[0]:
        preds, suffixes = _numbered(leftovers)
        reasons.append(f"predictions: the numbered columns ({show(preds[0])} .. {show(preds[-1])})")
    elif want_labels and not labels and (preds or not want_preds) and len(leftovers) == 1:
        labels = leftovers
        reasons.append(f"labels: the remaining column ({show(labels[0])})")
    elif want_preds and not preds and not want_labels and len(leftovers) > 1:
        preds = leftovers  # a predictions-only file: every column is an output
        reasons.append(f"predictions: all {len(preds)} columns")
    elif want_labels and not labels and not want_preds and len(leftovers) > 1:
        labels = leftovers
        reasons.append(f"labels: all {len(labels)} columns")
    if want_labels and not labels or want_preds and not preds:
        what = "labels" if want_labels and not labels else "predictions"
        param = "label_col" if what == "labels" else "pred_col"
        fix = f"name it with {{{param}}}, or use a known name such as " + (
            "y_true or label" if what == "labels" else "y_pred or prob"
        )
        if what == "labels" and want_preds and preds and not leftovers:
            fix = (
                "this file holds only predictions: give the labels in a file of their own with "
                "{labels=FILE}, or name the label column with {label_col}"
            )
        raise InputError(
            f"cannot tell which column holds the {what} (columns: {show_names(columns)})",
            fix,
            source=source,
            param=param,
        )
    return Selection(tuple(labels), tuple(preds), "; ".join(reasons), tuple(suffixes))
