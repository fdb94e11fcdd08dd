"""A mergeable summary of the per-sample loss distribution.

Losses are counted in log-linear buckets: 1024 buckets per power of two, so every bucket spans
less than 0.1% of its value and a quantile read from the buckets is within 0.05% of the true one.
While the number of losses stays under ``EXACT_LIMIT`` the values themselves are kept as well and
quantiles are exact; past that the buckets alone answer (``exact`` says which).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bcecli.core.scratch import scratch

SUB_BITS = 10  # 2**10 buckets per octave
E_MIN = -64  # losses below 2**-64 (and zero, and negative literal values) share the "low" bucket
E_MAX = 16  # losses at or above 2**16 share the "high" bucket
N_BUCKETS = (E_MAX - E_MIN) << SUB_BITS
_OFFSET = (E_MIN + 1023) << SUB_BITS
_SHIFT = 52 - SUB_BITS  # a float64's bits shifted right by this: exponent and top mantissa bits
EXACT_LIMIT = 1_000_000
RELATIVE_ERROR = 2.0 ** -(SUB_BITS + 1)
_LOWEST, _HIGHEST = 2.0**E_MIN, 2.0**E_MAX  # the bucketed range; outside it, the end buckets

# Histogram edges shown in the report (0.693 is ln 2, a coin flip on a balanced binary task).
HISTOGRAM_EDGES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.693, 1.0, 2.0, 5.0, 10.0)


def bucket_of(values: np.ndarray) -> np.ndarray:
    """Bucket index of each finite loss: -1 for the low bucket, N_BUCKETS for the high one.

    The index is read off the float's bits (exponent and top mantissa bits). Zero, negative
    values (sign bit set: a negative integer) and values below 2**-64 all land below 0 and are
    clipped into the low bucket.
    """
    v = np.ascontiguousarray(values, dtype=np.float64)
    idx = v.view(np.int64) >> _SHIFT
    idx -= _OFFSET
    np.clip(idx, -1, N_BUCKETS, out=idx)
    return idx


def _bucket_of_float(value: float) -> int:
    """``bucket_of`` of one loss inside the bucketed range, without an array round trip."""
    (bits,) = struct.unpack("<q", struct.pack("<d", value))
    return (bits >> _SHIFT) - _OFFSET


def bucket_low_edge(idx: np.ndarray) -> np.ndarray:
    """The smallest loss that falls in bucket ``idx`` (for 0 <= idx < N_BUCKETS)."""
    bits = (np.asarray(idx, dtype=np.int64) + _OFFSET) << _SHIFT
    return bits.view(np.float64)


def _sorted_quantile(values: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile of sorted values, defined when they include inf."""
    pos = q * (len(values) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(values) - 1)
    a, b = float(values[lo]), float(values[hi])
    if a == b or pos == lo:
        return a
    if np.isinf(b):
        return b
    return a + (b - a) * (pos - lo)


@dataclass(eq=False)
class LossSketch:
    """Counts of losses in log buckets, for the median and the histogram (and, up to
    ``EXACT_LIMIT`` losses, the losses themselves)."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS + 2, dtype=np.int64))
    n_inf: int = 0
    exact_values: list[np.ndarray] | None = field(default_factory=list)
    n: int = 0

    def add(self, losses: np.ndarray, *, lo: float | None = None, hi: float | None = None) -> None:
        """Add finite-or-infinite losses (NaN must already be removed). Their range (``lo`` and
        ``hi`` when the caller has them already) lets the counting skip clipping and touch only
        the buckets in between."""
        if len(losses) == 0:
            return
        if lo is None or hi is None:
            lo, hi = float(losses.min()), float(losses.max())
        self.n += len(losses)
        if math.isfinite(lo) and math.isfinite(hi) and _LOWEST <= lo and hi < _HIGHEST:
            self._count_in_range(losses, lo, hi)
        else:
            finite = np.isfinite(losses)
            vals = losses[finite]
            self.n_inf += len(losses) - len(vals)
            self.counts += np.bincount(bucket_of(vals) + 1, minlength=N_BUCKETS + 2)
        self._keep(losses)

    def _keep(self, losses: np.ndarray) -> None:
        """Keep the values while there are at most ``EXACT_LIMIT`` of them."""
        if self.exact_values is not None:
            if self.n <= EXACT_LIMIT:
                self.exact_values.append(np.array(losses, dtype=np.float64))
            else:
                self.exact_values = None

    def __getstate__(self) -> dict[str, object]:
        # Pickled (sent from one process to another) with the counts cut to the buckets in use:
        # a file's losses span a few of the 80 octaves, so 655 KB become some 100 KB.
        state = dict(self.__dict__)
        used = np.flatnonzero(self.counts)
        lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 0)
        state["counts"] = (len(self.counts), lo, self.counts[lo:hi])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        size, lo, used = state["counts"]
        counts = np.zeros(size, dtype=np.int64)
        counts[lo : lo + len(used)] = used
        self.__dict__.update(state, counts=counts)

    def buckets_only(self) -> None:
        """Stop keeping the values: the quantiles come from the buckets (for a run that will
        count more than ``EXACT_LIMIT`` losses, or will collect the values another way)."""
        self.exact_values = None

    def _count_in_range(self, vals: np.ndarray, lo: float, hi: float) -> None:
        """Bucket counts of values all within [lo, hi], inside the bucketed range."""
        v = np.ascontiguousarray(vals, dtype=np.float64)
        first, last = _bucket_of_float(lo), _bucket_of_float(hi)
        idx = np.right_shift(v.view(np.int64), _SHIFT, out=scratch(v.shape, np.int64))
        np.subtract(idx, first + _OFFSET, out=idx)
        self.counts[first + 1 : last + 2] += np.bincount(idx, minlength=last - first + 1)

    def merge(self, other: LossSketch) -> None:
        self.counts += other.counts
        self.n_inf += other.n_inf
        self.n += other.n
        if self.exact_values is None or other.exact_values is None or self.n > EXACT_LIMIT:
            self.exact_values = None
        else:
            self.exact_values.extend(other.exact_values)

    @property
    def exact(self) -> bool:
        return self.exact_values is not None

    def _values(self) -> np.ndarray:
        assert self.exact_values is not None
        if not self.exact_values:
            return np.empty(0)
        return np.sort(np.concatenate(self.exact_values))

    def quantile(self, q: float) -> float:
        if self.n == 0:
            return float("nan")
        if self.exact_values is not None:
            return _sorted_quantile(self._values(), q)
        rank = q * (self.n - 1)
        cum = np.cumsum(self.counts)
        finite_n = int(cum[-1])
        if rank >= finite_n:
            return float("inf")
        i = int(np.searchsorted(cum, rank, side="right"))
        if i == 0:
            return 0.0  # the low bucket: losses below 2**-64
        if i == N_BUCKETS + 1:
            return float(2.0**E_MAX)
        lo = float(bucket_low_edge(np.array([i - 1]))[0])
        return lo * (1 + 2.0 ** -(SUB_BITS + 1))  # bucket midpoint

    def histogram(self, edges: tuple[float, ...] = HISTOGRAM_EDGES) -> list[int]:
        """Counts in [edge_i, edge_i+1), the last bin open-ended (infinite losses included)."""
        if self.exact_values is not None:
            vals = self._values()
            idx = np.searchsorted(np.array(edges), vals, side="right") - 1
            idx = np.clip(idx, 0, len(edges) - 1)  # negative literal losses join the first bin
            return [int(c) for c in np.bincount(idx, minlength=len(edges))]
        # Bucket counts, each edge rounded down to a bucket boundary (within 0.1%).
        edge_idx = [0] + [int(bucket_of(np.array([e]))[0]) + 1 for e in edges[1:]]
        counts = []
        for a, b in zip(edge_idx, edge_idx[1:] + [N_BUCKETS + 2], strict=True):
            counts.append(int(self.counts[a:b].sum()))
        counts[-1] += self.n_inf
        return counts
