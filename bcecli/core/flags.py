"""Flags: stable ids with a severity, tallied per row while streaming and merged exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

FIRST_ROWS = 10  # how many row numbers a flag keeps
# A prediction this close outside [0, 1] is float round-off (a float32 sigmoid or softmax:
# pred_roundoff); farther out it is not a probability (pred_out_of_range, logits if far).
ROUNDOFF = 1e-6


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


# The catalogue: id -> (severity, one-line title). Ids are part of the JSON contract. A title
# names a parameter as {name}, spelled by the reader (see bcecli.errors.spell).
CATALOGUE: dict[str, tuple[Severity, str]] = {
    # errors
    "non_finite": (Severity.ERROR, "NaN or infinite values in labels, predictions or weights"),
    "pred_out_of_range": (Severity.ERROR, "predictions outside [0, 1]"),
    "label_out_of_range": (Severity.ERROR, "labels outside [0, 1]"),
    "sparse_label_out_of_range": (Severity.ERROR, "integer labels outside [0, K)"),
    "constant_predictions": (Severity.ERROR, "every prediction is the same value"),
    "categorical_single_column": (Severity.ERROR, "categorical loss on a single column"),
    "negative_weights": (Severity.ERROR, "negative sample weights"),
    "weights_out_of_range": (Severity.ERROR, "sample weights beyond what float64 can sum"),
    "weights_sum_zero": (Severity.ERROR, "the weights sum to zero"),
    # warnings
    "constant_prior": (Severity.WARNING, "every prediction is the label prior"),
    "mean_above_1": (Severity.WARNING, "mean loss above 1"),
    "saturated_predictions": (Severity.WARNING, "predictions exactly 0 or 1"),
    "pred_roundoff": (Severity.WARNING, "predictions a round-off outside [0, 1]"),
    "rows_not_sum_1": (Severity.WARNING, "probability rows that do not sum to 1"),
    "rows_sum_to_1": (Severity.WARNING, "prediction rows sum to 1 but are scored with BCE"),
    "one_hot_labels_bce": (Severity.WARNING, "one-hot labels scored with BCE"),
    "labels_one_indexed": (Severity.WARNING, "labels look 1-indexed"),
    "labels_pm1": (Severity.WARNING, "labels coded -1/+1"),
    "labels_sorted_order": (Severity.WARNING, "text labels mapped to classes in sorted order"),
    "logits_flag_on_probabilities": (Severity.WARNING, "{from_logits} on values all in [0, 1]"),
    "double_sigmoid": (Severity.WARNING, "predictions look like a sigmoid applied twice"),
    "double_softmax": (Severity.WARNING, "predictions look like a softmax applied twice"),
    "ne_above_1": (Severity.WARNING, "no better than predicting the base rate"),
    "inverted_predictions": (Severity.WARNING, "predictions look inverted"),
    "biased_predictions": (Severity.WARNING, "predictions lean to the wrong class"),
    "columns_misordered": (Severity.WARNING, "prediction columns look mis-ordered"),
    "overconfident": (Severity.WARNING, "over-confident: temperature scaling cuts the loss"),
    "underconfident": (Severity.WARNING, "under-confident: temperature scaling cuts the loss"),
    # info
    "loss_above_1": (Severity.INFO, "samples with loss above 1"),
    "soft_labels": (Severity.INFO, "soft labels"),
    "class_imbalance": (Severity.INFO, "imbalanced classes"),
    "single_class": (Severity.INFO, "a single class in the labels"),
    "missing_classes": (Severity.INFO, "classes never present in the labels"),
    "clipped_predictions": (Severity.INFO, "predictions clipped by the framework"),
    "ignored_rows": (Severity.INFO, "rows skipped by {ignore_class}"),
}


# The error flags that put rows outside the loss's domain while they are still scored (not
# excluded): the headline is then a number, but not a valid loss (see core.report.validity).
INVALIDATING = (
    "pred_out_of_range",
    "label_out_of_range",
    "categorical_single_column",
    "weights_sum_zero",
    "negative_weights",
    "weights_out_of_range",
)


@dataclass(frozen=True)
class Flag:
    """A problem found in the input: how many rows, the first of them, and what to do."""

    id: str
    severity: Severity
    count: int
    rows: tuple[int, ...]
    message: str
    hint: str


def make_flag(flag_id: str, count: int, rows: tuple[int, ...], message: str, hint: str) -> Flag:
    severity, _ = CATALOGUE[flag_id]
    return Flag(flag_id, severity, count, rows, message, hint)


@dataclass
class FlagTally:
    """Per-flag row counts and the first row numbers, mergeable in any order."""

    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def add(self, flag_id: str, mask: np.ndarray, start: int) -> int:
        """Count the rows where ``mask`` is true (rows numbered from ``start``)."""
        n = int(np.count_nonzero(mask))
        if n:
            kept = self.rows.get(flag_id, [])
            if len(kept) >= FIRST_ROWS and kept[-1] < start:  # none of these can be first
                self.counts[flag_id] += n
            else:
                self.add_rows(flag_id, n, np.flatnonzero(mask)[:FIRST_ROWS] + start)
        return n

    def add_rows(self, flag_id: str, count: int, rows: np.ndarray | list[int]) -> None:
        self.counts[flag_id] = self.counts.get(flag_id, 0) + count
        kept = self.rows.setdefault(flag_id, [])
        kept.extend(int(r) for r in rows)
        kept.sort()
        del kept[FIRST_ROWS:]

    def merge(self, other: FlagTally) -> None:
        for flag_id, count in other.counts.items():
            self.add_rows(flag_id, count, other.rows.get(flag_id, []))

    def count(self, flag_id: str) -> int:
        return self.counts.get(flag_id, 0)

    def first_rows(self, flag_id: str) -> tuple[int, ...]:
        return tuple(self.rows.get(flag_id, ()))


def ordered(flags: list[Flag]) -> tuple[Flag, ...]:
    """Flags in report order: errors first, then warnings, then info; within a severity, in
    catalogue order."""
    position = {flag_id: i for i, flag_id in enumerate(CATALOGUE)}
    return tuple(sorted(flags, key=lambda f: (f.severity.rank, position[f.id])))
