"""Which columns of which files: open the inputs, then decide, in this order, where the weights
come from, which columns hold the labels and the predictions, what the report notes, and check
that the columns can be scored. Each step is a function of its own, called in turn by
``open_input``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bcecli.errors import InputError, OptionError
from bcecli.readers.base import Source
from bcecli.readers.columns import (
    LABEL_NAMES,
    PRED_NAMES,
    WEIGHT_NAMES,
    Selection,
    id_like,
    normalize,
    select_columns,
)
from bcecli.readers.csv_dialect import MAX_TEXT_VALUES
from bcecli.readers.display import show, show_cell, show_names
from bcecli.readers.formats import open_source
from bcecli.readers.input import Input, Layout, Part, check_lengths
from bcecli.readers.labels import LabelMapper
from bcecli.readers.partitions import PartitionedSource, is_partitioned


@dataclass(frozen=True)
class ColumnRequest:
    """The columns the user named (None: bce finds them)."""

    label_cols: tuple[str, ...] | None = None
    pred_cols: tuple[str, ...] | None = None
    sample_weight: str | None = None  # a column of an input, or a file of weights
    header: bool | None = None  # a CSV file's first line is (not) a header; None: bce decides
    index_col: bool | None = None  # a CSV file's first column is (not) pandas' index
    id_cols: tuple[str, ...] | None = None  # carried into per-sample records and worst rows
    by_cols: tuple[str, ...] | None = None  # --by: carried to the chunks' groups


@dataclass(frozen=True)
class Weights:
    """Where the sample weights come from."""

    source: Source
    column: str
    own_file: bool  # a file of its own, not a column of an input
    shown: str  # 'w (preds.csv)', for the report


@dataclass(frozen=True)
class Columns:
    """The label and prediction columns chosen, per source."""

    parts: list[Part]
    how: str  # why these columns, for the report
    class_names: tuple[str, ...]  # from a prediction family's suffixes


def open_input(
    preds_path: str | Source, labels_path: str | Source | None, request: ColumnRequest
) -> Input:
    """Open the input files (or take sources already open, such as arrays in memory) and
    decide which columns are labels, predictions and weights."""
    if preds_path == "-" and labels_path == "-":
        raise OptionError("only one input can come from stdin ('-')", "write one of them to a file")
    opened: list[Source] = []  # closed here on an error
    try:
        preds = open_path(preds_path, "preds", request)
        opened.append(preds)
        labels = None
        if labels_path is not None:
            labels = open_path(labels_path, "labels", request)
            opened.append(labels)
            preds, labels = settle_first_lines(preds, labels, request)
            opened[:] = [preds, labels]
        weights = find_weights(preds, labels, request.sample_weight, request)
        if weights is not None and weights.own_file:
            opened.append(weights.source)
        ids = find_ids(preds, labels, request.id_cols)
        by = find_ids(preds, labels, request.by_cols, param="by")
        columns = choose_columns(preds, labels, request, weights, ids + by)
        parts = attach_ids(attach_weights(columns.parts, weights), ids)
        parts = attach_ids(parts, by, attr="by")
        check_lengths(parts)
        check_kinds(parts)
        layout = Layout(
            sources=tuple(p.source.name for p in parts),
            label_columns=tuple(c for p in parts for c in p.labels),
            pred_columns=tuple(c for p in parts for c in p.preds),
            weight_column=None if weights is None else weights.shown,
            how=columns.how,
            notes=notes(preds, labels, weights, request, parts),
            n_rows=next((p.source.n_rows for p in parts if p.source.n_rows is not None), None),
            n_label_outputs=sum(p.source.width(c) for p in parts for c in p.labels),
            n_pred_outputs=sum(p.source.width(c) for p in parts for c in p.preds),
            class_names=columns.class_names,
            id_columns=tuple(c for p in parts for c in p.ids),
        )
        return Input(parts, layout, label_mapper(parts, columns.class_names))
    except BaseException:
        for src in opened:
            src.close()
        raise


def open_path(path: str | Source, role: str, req: ColumnRequest | None = None) -> Source:
    """A file, or the partition files of a directory or a glob read as one source (or a
    source already open)."""
    if isinstance(path, Source):
        return path
    req = req or ColumnRequest()
    if is_partitioned(path):
        return PartitionedSource(path, role, header=req.header, index_col=req.index_col)
    return open_source(path, role, header=req.header, index_col=req.index_col).source


def settle_first_lines(preds: Source, labels: Source, req: ColumnRequest) -> tuple[Source, Source]:
    """A file whose first line is 0 .. K-1 above integers (labels as pandas writes them) has
    that line as its header when the other file shows it: the other's first line is such a
    header too, or this file has exactly one row more. Such a file is opened again with its
    header (a pipe cannot be: the lengths' check then names the extra row)."""

    def settled(src: Source, other: Source, role: str) -> Source:
        path = getattr(src, "path", None)
        if not src.header_open or not getattr(src, "regular", False) or path is None:
            return src
        if other.numbered_header:
            why = f"as in {other.name}, whose first line is such a header above decimals"
        elif src.n_rows is not None and src.n_rows == (other.n_rows or -2) + 1:
            why = f"which leaves the {other.n_rows:,} rows of {other.name}"
        else:
            return src
        again = open_source(path, role, header=True, index_col=req.index_col).source
        src.close()
        again.notes = tuple(
            f"{again.name}: first line read as a header (pandas' names for a frame's columns), "
            f"{why}; --no-header reads it as data"
            if n == f"{again.name}: first line read as a header (--header)"
            else n
            for n in again.notes
        )
        return again

    return settled(preds, labels, "preds"), settled(labels, preds, "labels")


def find_weights(
    preds: Source, labels: Source | None, wanted: str | None, request: ColumnRequest | None = None
) -> Weights | None:
    """The weights' column: a column of an input, else the one column of a file of weights
    (opened here: the caller closes it)."""
    if wanted is None:
        return None
    for src in (preds, labels):
        if src is not None and wanted in src.columns:
            _check_weight_column(src, wanted, labels is not None, request)
            return Weights(src, wanted, False, f"{show(wanted)} ({src.name})")
    if not os.path.exists(wanted):
        raise OptionError(
            f"{{sample_weight}} {show_cell(wanted)} is neither a column of the input nor a file",
            "name a column, or the path of a file of weights",
            param="sample_weight",
        )
    src = open_source(wanted, "weight").source
    try:
        named = [c for c in src.columns if normalize(c) in WEIGHT_NAMES]
        if len(src.columns) == 1:
            column = src.columns[0]
        elif len(named) == 1:
            column = named[0]
        else:
            raise InputError(
                f"cannot tell which column holds the weights (columns: {show_names(src.columns)})",
                "give a file with one column, or one named weight",
                source=src.name,
            )
    except BaseException:
        src.close()
        raise
    return Weights(src, column, True, f"{show(column)} ({src.name})")


def find_ids(
    preds: Source, labels: Source | None, wanted: tuple[str, ...] | None, param: str = "id_col"
) -> list[tuple[Source, str]]:
    """The ``--id-col`` (or ``--by``: ``param``) columns and the source holding each (the
    predictions' file first)."""
    out: list[tuple[Source, str]] = []
    for c in wanted or ():
        src = next((s for s in (preds, labels) if s is not None and c in s.columns), None)
        if src is None:
            shown = preds.columns + ([] if labels is None else labels.columns)
            raise OptionError(
                f"has no column {show_cell(c)} (asked for by {{{param}}}; its columns: "
                f"{show_names(shown)})",
                "name an existing column",
                source=preds.name,
                param=param,
            )
        if src.kind(c) == "other":
            raise InputError(
                f"{'id ' if param == 'id_col' else ''}column {show(c, 40)} holds "
                f"{src.type_name(c)}, not text or numbers",
                f"give a column of text or numbers to {{{param}}}",
                source=src.name,
                param=param,
            )
        out.append((src, c))
    return out


def attach_ids(parts: list[Part], ids: list[tuple[Source, str]], attr: str = "ids") -> list[Part]:
    """Each id column (or ``--by`` column: ``attr``) joins the part of its source (read once
    if it is also a label)."""
    for src, c in ids:
        owner = next((p for p in parts if p.source is src), None)
        if owner is None:
            owner = Part(src, [], [], [], None)
            parts = [*parts, owner]
        if c not in owner.columns:
            owner.columns.append(c)
        getattr(owner, attr).append(c)
    return parts


def _check_weight_column(
    src: Source, wanted: str, two_files: bool, request: ColumnRequest | None
) -> None:
    """The weights' column must not be the labels' or the predictions': named for them, or
    the one column of the file with a label (or prediction) name."""
    named = {
        "labels": request.label_cols if request is not None else None,
        "predictions": request.pred_cols if request is not None else None,
    }
    for what, names in named.items():
        if names and wanted in names:
            raise OptionError(
                f"{{sample_weight}} {show_cell(wanted)} is also named as the {what} (by "
                f"{{{'label_col' if what == 'labels' else 'pred_col'}}}): a column cannot be both",
                "give the weights as a column of their own",
                source=src.name,
                param="sample_weight",
            )
    sides: list[tuple[str, tuple[str, ...], tuple[str, ...] | None]] = [
        ("labels", LABEL_NAMES, named["labels"])
    ]
    if not two_files:
        sides.append(("predictions", PRED_NAMES, named["predictions"]))
    for what, known, given in sides:
        if given or normalize(wanted) not in known:
            continue
        others = [c for c in src.columns if c != wanted and normalize(c) in known]
        if not others:
            raise OptionError(
                f"{{sample_weight}} {show_cell(wanted)} is the column that holds the {what} "
                f"(by its name): the weights would be the {what} themselves",
                "give the weights as a column of their own (or name the "
                + ("labels with {label_col})" if what == "labels" else "predictions with "
                   "{pred_col})"),
                source=src.name,
                param="sample_weight",
            )  # fmt: skip


def choose_columns(
    preds: Source,
    labels: Source | None,
    req: ColumnRequest,
    weights: Weights | None,
    ids: list[tuple[Source, str]] = [],  # noqa: B006 (read only)
) -> Columns:
    """The label and prediction columns: both from ``preds``, or each from its own file
    (neither among the weights' and the ids' columns, unless named)."""

    def exclude(src: Source) -> tuple[str, ...]:
        # the ids, and pandas' index where the file says which it is (Parquet's metadata)
        own = tuple(c for s, c in ids if s is src) + tuple(getattr(src, "index_columns", ()))
        return own + ((weights.column,) if weights is not None and weights.source is src else ())

    if labels is None:
        if preds.columns == ["preds"] and not req.label_cols:
            raise InputError(
                "holds one array (the predictions), and no labels",
                "give the labels with {labels=FILE}",
                source=preds.name,
                param="labels",
            )
        try:
            sel = _positional(preds, req) or _savez_pair(preds, req) or select_columns(
                preds.columns, want_labels=True, want_preds=True,
                label_cols=req.label_cols, pred_cols=req.pred_cols, exclude=exclude(preds),
                source=preds.name, values=text_values(preds),
            )  # fmt: skip
        except InputError as e:
            if not preds.positional:
                raise
            raise InputError(
                f"has no header row and {len(preds.columns)} columns "
                f"({show_names(preds.columns)}): which holds the labels is not clear",
                "name them, e.g. {label_col=column_2} {pred_col=column_3}, or add a header line "
                "such as id,y_true,y_pred"
                + (
                    "; if column_1 counts the rows 0, 1, 2, ... (pandas' index, as "
                    "to_csv(header=False) writes it), {index_col} skips it"
                    if len(preds.columns) == 3
                    else ""
                ),
                source=preds.name,
                param="label_col",
            ) from e
        part = Part(preds, [*sel.labels, *sel.preds], list(sel.labels), list(sel.preds), None)
        return Columns([part], sel.how, class_names(sel))
    psel = select_columns(
        preds.columns, want_labels=False, want_preds=True, label_cols=None,
        pred_cols=req.pred_cols, exclude=exclude(preds), source=preds.name,
    )  # fmt: skip
    lsel = select_columns(
        labels.columns, want_labels=True, want_preds=False, label_cols=req.label_cols,
        pred_cols=None, exclude=exclude(labels), source=labels.name,
    )  # fmt: skip
    parts = [
        Part(preds, list(psel.preds), [], list(psel.preds), None),
        Part(labels, list(lsel.labels), list(lsel.labels), [], None),
    ]
    how = f"{psel.how} in {preds.name}; {lsel.how} in {labels.name}"
    return Columns(parts, how, class_names(psel))


def text_values(src: Source) -> dict[str, tuple[str, ...]]:
    """The distinct values of each text column in the first rows, where the source knows them."""
    out = {}
    for c in src.columns:
        if src.kind(c) == "string":
            found = src.text_values(c)
            if found is not None:
                out[c] = found
    return out


def class_names(sel: Selection) -> tuple[str, ...]:
    """The classes' names: a family's suffixes (prob_cat -> cat), else the prediction columns'
    own names where there are several (text labels equal to them map to them)."""
    return sel.suffixes or (sel.preds if len(sel.preds) >= 2 else ())


def attach_weights(parts: list[Part], weights: Weights | None) -> list[Part]:
    """The weight column joins the part of its source, or is a part of its own."""
    if weights is None:
        return parts
    owner = next((p for p in parts if p.source is weights.source), None)
    if owner is None:
        owner = Part(weights.source, [], [], [], None)
        parts = [*parts, owner]
    owner.columns.append(weights.column)
    owner.weight = weights.column
    return parts


def notes(
    preds: Source,
    labels: Source | None,
    weights: Weights | None,
    req: ColumnRequest,
    parts: list[Part] | None = None,
) -> tuple[str, ...]:
    """What the report notes about the files, in the order they were read."""
    out = list(preds.notes)
    if weights is not None and weights.own_file:
        out.extend(weights.source.notes)
    if labels is not None:
        out.extend(labels.notes)
    if req.sample_weight is None:
        unused = [c for c in preds.columns if normalize(c) in WEIGHT_NAMES]
        if unused:
            out.append(
                f"column {show(unused[0])} is not used as a weight; pass --sample-weight "
                f"{show(unused[0])} to use it"
            )
    used = {c for p in parts or () for c in [*p.columns, *p.ids]}
    index = set(getattr(preds, "index_columns", ()))  # noted by the reader
    idle = [c for c in preds.columns if c not in used and c not in index and id_like(c)]
    if idle and not req.id_cols:
        one = len(idle) == 1
        out.append(
            f"{'column' if one else 'columns'} {show_names(idle)} {'looks' if one else 'look'} "
            f"like an id and {'is' if one else 'are'} not used; pass --id-col {show(idle[0])} "
            "to carry it into the per-sample records and the worst rows"
        )
    return tuple(out)


def check_kinds(parts: list[Part]) -> None:
    """Every column chosen can be scored (labels may be text; the rest must be numbers)."""
    for p in parts:
        for c in [*p.labels, *p.preds] + ([p.weight] if p.weight else []):
            _check_kind(p.source, c, "labels" if c in p.labels else "")


def label_mapper(parts: list[Part], class_names: tuple[str, ...]) -> LabelMapper | None:
    """How text labels become numbers (None: the labels are numbers)."""
    if not any(p.source.kind(c) == "string" for p in parts for c in p.labels):
        return None
    source = next(p.source for p in parts if p.labels)
    texts = [(p.source, c) for p in parts for c in p.labels if p.source.kind(c) == "string"]

    def distinct() -> list[str] | None:
        seen: set[str] = set()
        for src, c in texts:
            found = src.distinct_values(c, MAX_TEXT_VALUES)
            if found is None:
                return None
            seen.update(found)
        return sorted(seen)

    return LabelMapper(class_names, source=source.name, distinct=distinct)


def _positional(src: Source, req: ColumnRequest) -> Selection | None:
    """A headerless file of two columns: the first holds the labels, the second the predictions."""
    if not src.positional or len(src.columns) != 2 or req.label_cols or req.pred_cols:
        return None
    first, second = src.columns
    return Selection(
        (first,),
        (second,),
        f"no header: {first} as labels, {second} as predictions (by position; name them with "
        "--label-col / --pred-col if that is wrong)",
    )


# Rows of each array looked at to tell np.savez's unnamed labels from its predictions.
SAVEZ_SAMPLE_ROWS = 1 << 16


def _savez_pair(src: Source, req: ColumnRequest) -> Selection | None:
    """``np.savez(f, y, p)``: two unnamed members, arr_0 and arr_1. The labels are the one
    whose values (in the first rows) are all whole numbers while the other's are not; where
    that does not tell them apart (hard 0/1 predictions, soft labels), a usage error that
    names the options, never a guess."""
    if src.columns != ["arr_0", "arr_1"] or req.label_cols or req.pred_cols:
        return None
    import numpy as np

    whole: dict[str, bool] = {}
    batches = src.batches(["arr_0", "arr_1"])
    try:
        first = next(batches, None)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if first is None:
        return None
    for c in ("arr_0", "arr_1"):
        v = np.asarray(first[c], dtype=np.float64)[:SAVEZ_SAMPLE_ROWS]
        v = v[np.isfinite(v)]
        whole[c] = bool(np.all(v == np.round(v)))
    if whole["arr_0"] == whole["arr_1"]:
        raise OptionError(
            "holds two unnamed arrays (arr_0, arr_1, as np.savez(f, y, p) names them) and their "
            "values do not tell which holds the labels ("
            + ("both are whole numbers" if whole["arr_0"] else "neither is whole numbers")
            + ")",
            "name them, e.g. {label_col=arr_0} {pred_col=arr_1}, or save them by name: "
            "np.savez(f, y_true=y, y_pred=p)",
            source=src.name,
            param="label_col",
        )
    labels, preds = ("arr_0", "arr_1") if whole["arr_0"] else ("arr_1", "arr_0")
    return Selection(
        (labels,),
        (preds,),
        f"np.savez's unnamed arrays: {labels} as labels (whole numbers), {preds} as "
        "predictions (fractions), told apart by their values; --label-col / --pred-col "
        "choose otherwise",
    )


def _check_kind(src: Source, column: str, role: str) -> None:
    """Labels may be text (mapped to numbers); predictions and weights must be numbers."""
    kind = src.kind(column)
    name = show(column, 40)
    if kind == "empty":
        raise InputError(
            f"column {name} holds no number in any row (every cell is empty, NA or NaN)",
            "fill it in, or name another column with "
            + ("{label_col}" if role == "labels" else "{pred_col}"),
            source=src.name,
            param="label_col" if role == "labels" else "pred_col",
        )
    if kind == "other" or (kind == "string" and role != "labels"):
        problem = src.text_problem(column) if kind == "string" else None
        if problem is not None:
            raise InputError(*problem, source=src.name)
        raise InputError(
            f"column {name} holds {src.type_name(column)}, not numbers",
            "predictions and weights must be numbers: "
            + (
                "flatten it into one numeric column per output"
                if kind == "other"
                else "save them as numbers, not text"
            ),
            source=src.name,
        )
