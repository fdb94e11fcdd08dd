"""Sums that do not depend on how the rows were split into chunks.

Floating-point addition is not associative, so summing chunk by chunk would make the mean depend
on the chunk size. ``BlockSum`` sums fixed blocks of ``BLOCK`` rows aligned to the global row
number (a block is always summed as one contiguous array, whatever chunks it arrived in) and
combines the block sums with ``math.fsum``, which is exact and so independent of order. A chunked
run, a one-shot run and a merge of partitions therefore give bit-identical totals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BLOCK = 4096


def _block_sum(values: np.ndarray) -> float:
    # One algorithm for every block, however it was assembled: numpy's pairwise sum over a
    # contiguous float64 vector.
    return float(np.ascontiguousarray(values, dtype=np.float64).sum())


@dataclass(eq=False)
class BlockSum:
    """Split-invariant sums of ``width`` quantities given per row."""

    width: int = 1
    _blocks: list[list[np.ndarray]] = field(default_factory=list)
    # Partially filled blocks: block index -> {row offset in block: one array per quantity}.
    _pending: dict[int, dict[int, list[np.ndarray]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._blocks = [[] for _ in range(self.width)]

    def add(self, columns: Sequence[np.ndarray | None], start: int) -> None:
        """Add the per-row values of rows ``start .. start + n - 1`` (one array per quantity;
        None for a quantity that is zero on these rows)."""
        if len(columns) != self.width:
            raise ValueError(f"expected {self.width} columns, got {len(columns)}")
        n = next((len(c) for c in columns if c is not None), 0)
        if n == 0:
            return
        head = min(n, (-start) % BLOCK)
        body_rows = ((n - head) // BLOCK) * BLOCK
        cols: list[np.ndarray] = []
        if head or head + body_rows < n:  # partial blocks keep every quantity's values
            cols = [np.zeros(n) if c is None else c for c in columns]
        if head:
            self._add_partial([c[:head] for c in cols], start)
        if body_rows:
            done: dict[int, np.ndarray] = {}  # the same array given twice is summed once
            for q, c in enumerate(columns):
                if c is None:
                    continue
                if id(c) not in done:
                    body = np.ascontiguousarray(c[head : head + body_rows], dtype=np.float64)
                    done[id(c)] = body.reshape(-1, BLOCK).sum(axis=1)
                self._blocks[q].append(done[id(c)])
        tail = head + body_rows
        if tail < n:
            self._add_partial([c[tail:] for c in cols], start + tail)

    def _add_partial(self, columns: list[np.ndarray], start: int) -> None:
        block = start // BLOCK
        pieces = self._pending.setdefault(block, {})
        pieces[start - block * BLOCK] = [np.array(c, dtype=np.float64) for c in columns]
        self._maybe_close(block)

    def _maybe_close(self, block: int) -> None:
        pieces = self._pending[block]
        if sum(len(p[0]) for p in pieces.values()) < BLOCK:
            return
        del self._pending[block]
        for q, total in enumerate(self._assemble(pieces)):
            self._blocks[q].append(np.array([total]))

    def _assemble(self, pieces: dict[int, list[np.ndarray]]) -> list[float]:
        order = sorted(pieces)
        return [
            _block_sum(np.concatenate([pieces[k][q] for k in order])) for q in range(self.width)
        ]

    def merge(self, other: BlockSum) -> None:
        for q in range(self.width):
            self._blocks[q].extend(other._blocks[q])
        for block, pieces in other._pending.items():
            self._pending.setdefault(block, {}).update(pieces)
            self._maybe_close(block)

    def totals(self) -> list[float]:
        """The totals, each the correctly rounded sum of its block sums."""
        tails = [self._assemble(self._pending[b]) for b in sorted(self._pending)]
        out = []
        for q in range(self.width):
            parts = np.concatenate([*self._blocks[q], np.array([t[q] for t in tails])])
            # fsum is exact but refuses inf - inf; non-finite totals need no exactness.
            finite = bool(np.isfinite(parts).all())
            out.append(math.fsum(parts.tolist()) if finite else float(np.sum(parts)))
        return out
