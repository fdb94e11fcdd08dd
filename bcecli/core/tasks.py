"""Deciding the task from the shape and values of the first rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bcecli.core.common import rows_off_sum_1
from bcecli.core.options import Task
from bcecli.errors import OptionError


@dataclass(frozen=True)
class TaskDecision:
    """The task bce settled on, and why."""

    task: Task
    reason: str


def _integers(y: np.ndarray) -> bool:
    v = y[np.isfinite(y)]
    return bool(v.size) and bool(np.all(v == np.floor(v)))


def _one_hot_rows(y: np.ndarray) -> bool:
    ok = np.isfinite(y).all(axis=1)
    v = y[ok]
    return bool(len(v)) and bool(np.all(((v == 0) | (v == 1)).all(axis=1) & (v.sum(axis=1) == 1)))


def _rows_sum_to_1(x: np.ndarray) -> bool:
    ok = np.isfinite(x).all(axis=1)
    v = x[ok]
    return bool(len(v)) and not bool(np.any(rows_off_sum_1(v.sum(axis=1))))


def decide_task(
    requested: Task, labels: np.ndarray, preds: np.ndarray, *, from_logits: bool, rows_seen: int
) -> TaskDecision:
    """The task to score; ``labels`` (n, L) and ``preds`` (n, K) are the first rows."""
    n_l, k = labels.shape[1], preds.shape[1]
    seen = f"the first {rows_seen:,} rows" if rows_seen else "the data"
    if requested is not Task.AUTO:
        _check_shape(requested, n_l, k)
        return TaskDecision(requested, f"--task {requested.value}")
    if k == 1:
        if n_l != 1:
            raise OptionError(
                f"{n_l} label columns for 1 prediction column",
                "pass {label_col} and {pred_col}, or {task}",
                param="task",
            )
        return TaskDecision(Task.BINARY, "one label column and one prediction column")
    if n_l == 1:
        if _integers(labels):
            return TaskDecision(
                Task.SPARSE, f"integer labels and {k} prediction columns (class indices)"
            )
        raise OptionError(
            f"one label column with non-integer values and {k} prediction columns",
            "pass {task=sparse} (class indices), or {task=multilabel} with one label column "
            "per output",
            param="task",
        )
    if n_l != k:
        raise OptionError(
            f"{n_l} label columns for {k} prediction columns",
            "give one label column per prediction column ({label_col}, {pred_col})",
            param="label_col",
        )
    one_hot = _one_hot_rows(labels)
    sums_1 = _rows_sum_to_1(preds) and not from_logits
    if one_hot and (sums_1 or from_logits):
        return TaskDecision(
            Task.CATEGORICAL,
            f"one-hot labels over {k} classes and "
            + ("logits" if from_logits else "prediction rows that sum to 1")
            + f" (from {seen})",
        )
    if one_hot:
        return TaskDecision(
            Task.MULTILABEL,
            f"one-hot labels but {k} independent outputs whose rows do not sum to 1 (from "
            f"{seen}); --task categorical scores them as one softmax",
        )
    if _rows_sum_to_1(labels) and sums_1:
        return TaskDecision(
            Task.CATEGORICAL,
            f"soft label rows and prediction rows that each sum to 1 (from {seen})",
        )
    return TaskDecision(
        Task.MULTILABEL, f"{k} label columns that are not one-hot (from {seen}): multi-label"
    )


def _check_shape(task: Task, n_l: int, k: int) -> None:
    if task is Task.BINARY and (k != 1 or n_l != 1):
        raise OptionError(
            f"{{task=binary}} needs one label and one prediction column; found {n_l} and {k}",
            "use {task=multilabel} or {task=categorical}, or pick columns with {label_col}/"
            "{pred_col}",
            param="task",
        )
    if task in (Task.MULTILABEL, Task.CATEGORICAL) and n_l != k:
        hint = (
            "use {task=sparse} for integer class labels"
            if n_l == 1
            else "give one label column per prediction column"
        )
        raise OptionError(
            f"{{task={task.value}}} needs as many label columns as prediction columns; found "
            f"{n_l} and {k}",
            hint,
            param="task",
        )
    if task is Task.SPARSE and n_l != 1:
        raise OptionError(
            f"{{task=sparse}} needs one column of integer labels; found {n_l} label columns",
            "use {task=categorical} for one-hot labels",
            param="task",
        )
