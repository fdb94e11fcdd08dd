"""Ranking metrics from a score table: ROC AUC, average precision, top-k accuracy.

Each is defined as scikit-learn defines it, weights included: ``roc_auc_score`` (tied scores
count one half), ``average_precision_score`` (the step-wise sum of precision times the gain in
recall at each distinct score, not the interpolated area of XGBoost's ``aucpr``) and
``top_k_accuracy_score`` (ties broken towards the higher class index). On a binned table the
scores within a bin count as tied; ``auc_tie_bound`` says how far that can move the AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bcecli.core.score_summary import ScoreTable, dot


@dataclass(frozen=True)
class Ranking:
    """ROC AUC and average precision of one binary score (NaN with only one class), and the
    largest change of the AUC that the table's ties could hide (0 when exact)."""

    auc: float
    average_precision: float
    auc_tie_bound: float


def roc_auc(t: ScoreTable) -> float:
    """P(score of a positive > score of a negative) + half P(tie), over weighted pairs."""
    n_pos, n_neg = t.n_pos, t.n_neg
    if n_pos <= 0 or n_neg <= 0:
        return float("nan")
    below = np.cumsum(t.neg) - t.neg  # negative weight strictly below each group
    return dot(t.pos, below + 0.5 * t.neg) / (n_pos * n_neg)


def auc_tie_bound(t: ScoreTable) -> float:
    """Within a bin the pairs count one half; exactly ordered, they could count anything from 0
    to 1: the AUC of the rows themselves is within this of ``roc_auc`` of the bins."""
    if t.exact:
        return 0.0
    n_pos, n_neg = t.n_pos, t.n_neg
    if n_pos <= 0 or n_neg <= 0:
        return float("nan")
    return 0.5 * dot(t.pos, t.neg) / (n_pos * n_neg)


def average_precision(t: ScoreTable) -> float:
    """Sum over the distinct scores, from the highest, of precision x the gain in recall."""
    n_pos = t.n_pos
    if n_pos <= 0:
        return float("nan")
    tp = np.cumsum(t.pos[::-1])
    fp = np.cumsum(t.neg[::-1])
    precision = tp / (tp + fp)  # every group has weight: no 0 / 0
    return dot(t.pos[::-1], precision) / n_pos


def ranking(t: ScoreTable) -> Ranking:
    return Ranking(roc_auc(t), average_precision(t), auc_tie_bound(t))


@dataclass(frozen=True)
class OneVsRest:
    """One-vs-rest AUC of a multi-class score: per class, their mean (macro) and their mean
    weighted by each class's (weighted) prevalence; classes absent from the labels, or present
    in every row, have no AUC and are left out of both means."""

    per_class: tuple[float, ...]
    macro: float
    weighted: float


def one_vs_rest(tables: Sequence[ScoreTable]) -> OneVsRest:
    aucs = np.array([roc_auc(t) for t in tables])
    prevalence = np.array([t.n_pos for t in tables])
    defined = ~np.isnan(aucs)
    if not defined.any():
        nan = float("nan")
        return OneVsRest(tuple(aucs.tolist()), nan, nan)
    macro = float(aucs[defined].mean())
    weighted = dot(aucs[defined], prevalence[defined]) / float(prevalence[defined].sum())
    return OneVsRest(tuple(float(a) for a in aucs), macro, weighted)


def top_k_hits(labels: np.ndarray, probs: np.ndarray, k: int) -> np.ndarray:
    """Whether each row's true class is among its ``k`` highest scores, ties broken as
    scikit-learn breaks them (a stable ascending sort, reversed: among equal scores the higher
    class index ranks first). ``labels``: integer classes in [0, K); ``probs``: (n, K)."""
    n, n_classes = probs.shape
    true = probs[np.arange(n), labels][:, None]
    higher = np.count_nonzero(probs > true, axis=1)
    later = np.arange(n_classes)[None, :] > labels[:, None]
    tied_ahead = np.count_nonzero((probs == true) & later, axis=1)
    return (higher + tied_ahead) < k


@dataclass(eq=False)
class TopK:
    """Mergeable top-k accuracy for the ``ks`` asked: the weight of the rows whose true class is
    in the top k, and the total weight."""

    ks: tuple[int, ...] = (1, 5)
    hits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight: float = 0.0

    def __post_init__(self) -> None:
        if len(self.hits) == 0:
            self.hits = np.zeros(len(self.ks))

    def add(self, labels: np.ndarray, probs: np.ndarray, w: np.ndarray | None = None) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        for i, k in enumerate(self.ks):
            hit = top_k_hits(labels, probs, k)
            self.hits[i] += float(np.count_nonzero(hit)) if w is None else dot(w, hit)
        self.weight += float(len(labels) if w is None else np.sum(w))

    def merge(self, other: TopK) -> None:
        if other.ks != self.ks:
            raise ValueError("cannot merge top-k tallies of different k")
        self.hits += other.hits
        self.weight += other.weight

    def accuracy(self) -> dict[int, float]:
        """k -> accuracy (NaN with no weight); a k at or above the number of classes is 1."""
        if self.weight <= 0:
            return {k: float("nan") for k in self.ks}
        return {k: float(h) / self.weight for k, h in zip(self.ks, self.hits, strict=True)}


def top_label(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1.0 where the top class is the true one else 0.0, the top probability) per row: the
    binary problem behind the top-label reliability diagram and decomposition. The top class is
    the first maximum (numpy's argmax)."""
    top = np.argmax(probs, axis=1)
    confidence = probs[np.arange(len(top)), top]
    return (top == np.asarray(labels)).astype(np.float64), confidence
