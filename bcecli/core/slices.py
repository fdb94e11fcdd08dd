"""Slices: the report broken down per group of rows (``bce score --by COL[,COL]``).

Each row's group is the combination of its values in the ``--by`` columns: a text column's
value as it is, a numeric column's quantile bin. The bins' edges are the quantiles of the
column's values in the first chunk (as the task and the text labels' mapping are decided on
it), so every chunk, thread, partition and Dask worker cuts the same bins in one pass, and
tallies merge by adding; a value beyond the first chunk's range falls in an end bin, whose
edge is open. (A mergeable sketch of the whole column would give exact quantiles, but then
the rows would have to be read twice to be put in them.)

A slice's tally is its rows, the sums of w, w l, w y, w p (w the effective weight, l the
profile's per-row loss, y the label, p the probability), its calibration cells (10 bins of
the probability: count, sum of p, sum of y, as the report's ECE) and a score summary for AUC.
The sums are float sums per chunk and per merge: they agree with a one-pass sum to a relative
1e-12, not to the bit. Slices with fewer than ``min_slice`` rows are pooled into "other" when
the report is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bcecli.core.score_summary import ScoreSummary

DEFAULT_BINS = 10
DEFAULT_MIN_SLICE = 100
OTHER = "other"
_BINS = 10  # calibration bins of a slice's ECE
_W, _WL, _WY, _WP = range(4)


@dataclass(frozen=True)
class SlicePlan:
    """``--by COLS --bins N --min-slice N``, and each numeric column's bin edges (None for a
    text column; decided on the first chunk)."""

    columns: tuple[str, ...]
    bins: int = DEFAULT_BINS
    min_slice: int = DEFAULT_MIN_SLICE
    edges: tuple[tuple[float, ...] | None, ...] | None = None


def _is_text(values: Any) -> bool:
    return not isinstance(values, np.ndarray)


def with_edges(plan: SlicePlan, groups: Mapping[str, Any]) -> SlicePlan:
    """The plan with the bin edges of the numeric columns, from the first chunk's values."""
    edges: list[tuple[float, ...] | None] = []
    for c in plan.columns:
        v = groups[c]
        if _is_text(v):
            edges.append(None)
            continue
        v = np.asarray(v, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            edges.append(())
            continue
        cuts = np.quantile(v, np.arange(1, plan.bins) / plan.bins)
        edges.append(tuple(float(e) for e in np.unique(cuts)))
    return replace(plan, edges=tuple(edges))


def _codes(values: Any, edges: tuple[float, ...] | None, name: str) -> tuple[np.ndarray, list[str]]:
    """Per row, an index into the returned labels of the column's groups."""
    if edges is None:  # text: its dictionary
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = values.values if hasattr(values, "values") else pa.array(values)
        enc = pc.dictionary_encode(arr.cast(pa.large_string()), null_encoding="encode")
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        names = [
            f"{name}={v}" if v is not None else f"{name} missing"
            for v in enc.dictionary.to_pylist()
        ]
        return idx, names
    v = np.asarray(values, dtype=np.float64)
    cut = np.asarray(edges)
    idx = np.searchsorted(cut, v, side="right").astype(np.int64)
    idx[np.isnan(v)] = len(cut) + 1
    bounds = [-math.inf, *edges, math.inf]
    names = [f"{name} in [{_g(bounds[i])}, {_g(bounds[i + 1])})" for i in range(len(cut) + 1)]
    return idx, [*names, f"{name} missing"]


def _g(v: float) -> str:
    return "-inf" if v == -math.inf else "inf" if v == math.inf else f"{v:.4g}"


@dataclass(eq=False)
class SliceTally:
    """One slice's sums (see the module docstring)."""

    rows: int = 0
    sums: np.ndarray = field(default_factory=lambda: np.zeros(4))
    cal: np.ndarray = field(default_factory=lambda: np.zeros((_BINS, 3)))
    scores: ScoreSummary = field(default_factory=ScoreSummary)
    ranked: bool = True  # AUC is defined: labels and probabilities in [0, 1], weights >= 0

    def merge(self, other: SliceTally) -> None:
        self.rows += other.rows
        self.sums += other.sums
        self.cal += other.cal
        self.ranked &= other.ranked
        self.scores.merge(other.scores)


@dataclass(eq=False)
class Slices:
    """Every slice's tally, by its label."""

    plan: SlicePlan
    by_label: dict[str, SliceTally] = field(default_factory=dict)

    def add(
        self,
        groups: Mapping[str, Any],
        rows: np.ndarray | None,
        loss: np.ndarray,
        w: np.ndarray | None,
        prob: np.ndarray,
        y: np.ndarray,
        ranked: bool,
    ) -> None:
        """Add the scored rows (``rows``: which of the chunk's they are; None: all) of one
        output: per-row loss, effective weight (None: 1), probability and label."""
        assert self.plan.edges is not None
        codes, names = [], []
        for c, e in zip(self.plan.columns, self.plan.edges, strict=True):
            idx, labels = _codes(groups[c], e, c)
            codes.append(idx if rows is None else idx[rows])
            names.append(labels)
        # one integer key per row (mixed radix over the columns' groups): a 1-D unique
        key = np.zeros(len(loss), dtype=np.int64)
        for idx, labels in zip(codes, names, strict=True):
            key = key * len(labels) + idx
        uniq, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.reshape(-1)
        g = len(uniq)
        combos = np.empty((g, len(codes)), dtype=np.int64)
        rest = uniq.copy()
        for j in range(len(codes) - 1, -1, -1):
            rest, combos[:, j] = np.divmod(rest, len(names[j]))
        ww = np.ones(len(loss)) if w is None else w
        with np.errstate(invalid="ignore"):
            wl = np.where(ww != 0, ww * loss, 0.0)
        cols = np.stack([ww, wl, ww * y, ww * prob], axis=1)
        sums = np.stack(
            [np.bincount(inverse, weights=cols[:, j], minlength=g) for j in range(4)], axis=1
        )
        counts = np.bincount(inverse, minlength=g)
        b = np.clip((prob * _BINS).astype(np.int64), 0, _BINS - 1)
        key = inverse * _BINS + b
        cal = np.stack(
            [
                np.bincount(key, minlength=g * _BINS),
                np.bincount(key, weights=prob, minlength=g * _BINS),
                np.bincount(key, weights=y, minlength=g * _BINS),
            ],
            axis=1,
        ).reshape(g, _BINS, 3)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(g + 1))
        hard = bool(np.all((y == 0) | (y == 1)))
        for i, combo in enumerate(combos):
            label = ", ".join(names[j][int(k)] for j, k in enumerate(combo))
            s = self.by_label.setdefault(label, SliceTally())
            s.rows += int(counts[i])
            s.sums += sums[i]
            s.cal += cal[i]
            s.ranked &= ranked
            if ranked:
                at = order[bounds[i] : bounds[i + 1]]
                s.scores.add(y[at], prob[at], None if w is None else w[at], hard=hard)

    def merge(self, other: Slices) -> None:
        for label, s in other.by_label.items():
            mine = self.by_label.get(label)
            if mine is None:
                self.by_label[label] = s
            else:
                mine.merge(s)


@dataclass(frozen=True)
class Slice:
    """One row of ``bce score --by``."""

    name: str
    n: int
    base_rate: float
    mean_loss: float
    share_of_loss: float
    ne: float  # against the slice's own base rate
    ne_overall: float  # against the whole file's
    calibration_ratio: float
    ece: float
    auc: float | None


def _entropy(q: float) -> float:
    if not 0 < q < 1:
        return 0.0 if q in (0.0, 1.0) else math.nan
    return -(q * math.log(q) + (1 - q) * math.log1p(-q))


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def finish(slices: Slices) -> tuple[Slice, ...]:
    """The slices, the small ones pooled into "other", sorted by their share of the loss."""
    from bcecli.core.ranking import roc_auc

    kept: dict[str, SliceTally] = {}
    other: SliceTally | None = None
    for label, s in sorted(slices.by_label.items()):
        if s.rows >= slices.plan.min_slice:
            kept[label] = s
        else:
            if other is None:
                other = SliceTally()
            other.merge(s)
    if other is not None:
        kept[OTHER] = other
    total = sum((s.sums for s in slices.by_label.values()), np.zeros(4))
    overall_h = _entropy(_div(float(total[_WY]), float(total[_W])))
    out = []
    for label, s in kept.items():
        w, wl, wy, wp = (float(v) for v in s.sums)
        mean = _div(wl, w)
        rate = _div(wy, w)
        h = _entropy(rate)
        n_cal = s.cal[:, 0].sum()
        ece = _div(float(np.abs(s.cal[:, 2] - s.cal[:, 1]).sum()), float(n_cal))
        auc = roc_auc(s.scores.table()) if s.ranked and s.scores.n else None
        out.append(
            Slice(
                name=label,
                n=s.rows,
                base_rate=rate,
                mean_loss=mean,
                share_of_loss=_div(wl, float(total[_WL])),
                ne=_div(mean, h) if h > 0 else math.nan,
                ne_overall=_div(mean, overall_h) if overall_h > 0 else math.nan,
                calibration_ratio=_div(wp, wy),
                ece=ece,
                auc=None if auc is None or math.isnan(auc) else auc,
            )
        )
    out.sort(key=lambda s: (-s.share_of_loss if math.isfinite(s.share_of_loss) else 0, s.name))
    return tuple(out)
