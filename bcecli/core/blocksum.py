"""Sums that do not depend on how the rows were split into chunks.

Floating-point addition is not associative, so summing chunk by chunk would make a total depend
on the chunk size, on the reader (a file read from disk and the same file from a pipe arrive in
different chunks), on the number of threads, and on how partitions were merged. ``BlockSum`` sums
fixed blocks of ``BLOCK`` rows aligned to the global row number (a block is always summed by the
same numpy operation on the same contiguous values, whatever chunks it arrived in) and combines
the block sums with ``math.fsum``, which is exact and so independent of their order. Every float
tally of the summary is one, so its totals are the same bits however the rows were split.

A ``BlockSum`` adds either ``width`` columns of per-row values (``add``: each column's block
sum is numpy's pairwise sum; with ``squares``, that of the squares) or per-row values into
``width`` bins (``add_binned``: a block's bins are added up in row order by ``np.bincount``;
several values per row, an ``(n, m)`` array, are taken row after row). One instance is used in
one of the two ways.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BLOCK = 4096

# What a partial block keeps until it is complete: its columns, or its values and bins.
_Piece = tuple[np.ndarray, ...]


def _column_sums(columns: Sequence[np.ndarray], squares: bool) -> np.ndarray:
    """(blocks, width) sums (or sums of squares) of whole blocks of columns (a single block may
    be short); a column may hold several values a row, (n, m)."""
    blocks = -(-max(len(c) for c in columns) // BLOCK)
    done: dict[int, np.ndarray] = {}  # the same array given twice is summed once
    out = []
    for c in columns:
        if len(c) == 0:  # a quantity that is zero on these rows
            out.append(np.zeros(blocks))
            continue
        if id(c) not in done:
            v = np.ascontiguousarray(c, dtype=np.float64).reshape(blocks, -1)
            if squares and v.shape[1] <= BLOCK:
                # one value a row: einsum sums the squares as it makes them, in one call
                # per block row whatever the number of blocks (a row fits its buffer)
                done[id(c)] = np.einsum("ij,ij->i", v, v)
            else:
                done[id(c)] = (np.square(v) if squares else v).sum(axis=1)
        out.append(done[id(c)])
    return np.stack(out, axis=1)


def _binned_sums(values: np.ndarray, bins: np.ndarray, width: int) -> np.ndarray:
    """(blocks, width) sums of whole blocks of per-row values by bin (the last may be short)."""
    n = len(values)
    blocks = -(-n // BLOCK)
    key = bins  # a contiguous intp array of the BlockSum's own: block offsets go in place
    if blocks > 1:
        per_block = key.reshape(blocks, -1)  # the rows of a block, with their values per row
        per_block += (np.arange(blocks, dtype=np.intp) * width)[:, None]
    sums = np.bincount(key.reshape(-1), weights=values.reshape(-1), minlength=blocks * width)
    return sums.reshape(blocks, width)


def _rows(piece: _Piece) -> int:
    """The rows of a piece (an empty column stands for zeros)."""
    return max(len(a) for a in piece)


def _filled(a: np.ndarray, rows: int) -> np.ndarray:
    return np.zeros(rows) if len(a) == 0 and rows else a


@dataclass(eq=False)
class BlockSum:
    """Split-invariant sums of ``width`` quantities given per row."""

    width: int = 1
    squares: bool = False  # ``add`` sums the squares of the values
    _blocks: list[np.ndarray] = field(default_factory=list)  # each (blocks, width)
    # Partially filled blocks: block index -> {row offset in block: the rows' piece}.
    _pending: dict[int, dict[int, _Piece]] = field(default_factory=dict)
    _binned: bool = False
    seen: bool = False  # whether any row was added (a tally that no row had stays absent)
    _totals: np.ndarray | None = None  # the last totals, until something is added

    def add(self, columns: Sequence[np.ndarray | None], start: int) -> None:
        """Add the per-row values of rows ``start .. start + n - 1`` (one array per quantity;
        None for a quantity that is zero on these rows)."""
        if len(columns) != self.width:
            raise ValueError(f"expected {self.width} columns, got {len(columns)}")
        n = next((len(c) for c in columns if c is not None), 0)
        if n == 0:
            return
        self._add(start, n, tuple(np.zeros(0) if c is None else c for c in columns))

    def add_binned(
        self, values: np.ndarray, bins: np.ndarray | None, start: int, *, own: bool = False
    ) -> None:
        """Add ``values[i]`` to bin ``bins[i]`` for rows ``start ..`` (both shaped ``(n,)``, or
        ``(n, m)`` for m values a row; None: every value to bin 0), each block row after row:
        a row that adds 0 and a row left out give the same bits. ``own``: ``bins`` is a
        contiguous intp array the caller no longer needs (it is changed, not copied)."""
        self._binned = True
        if len(values):
            if bins is None:
                bins, own = np.zeros(values.shape, dtype=np.intp), True
            elif not own or bins.dtype != np.intp or not bins.flags.c_contiguous:
                bins = np.array(bins, dtype=np.intp, order="C")
            self._add(start, len(values), (np.asarray(values, dtype=np.float64), bins))

    def add_columns(self, values: np.ndarray, start: int) -> None:
        """Add each column of ``values`` (n, width) to its own total (added up as bins)."""
        cols = np.broadcast_to(np.arange(self.width, dtype=np.intp), values.shape)
        self.add_binned(values, cols, start)

    def add_exact(self, values: np.ndarray | float) -> None:
        """Add totals ``(width,)`` that are exact (counts, sums of 1s): they join the block sums
        in the exact combination, so which chunk adds them never matters."""
        self.seen, self._totals = True, None
        self._blocks.append(np.asarray(values, dtype=np.float64).reshape(1, self.width))

    def _sums(self, piece: _Piece) -> np.ndarray:
        if self._binned:
            return _binned_sums(piece[0], piece[1], self.width)
        return _column_sums(piece, self.squares)

    def _add(self, start: int, n: int, piece: _Piece) -> None:
        self.seen, self._totals = True, None
        head = min(n, (-start) % BLOCK)
        body_rows = ((n - head) // BLOCK) * BLOCK
        if head:
            self._add_partial(tuple(a[:head] for a in piece), start)
        if body_rows:
            self._blocks.append(self._sums(tuple(a[head : head + body_rows] for a in piece)))
        tail = head + body_rows
        if tail < n:
            self._add_partial(tuple(a[tail:] for a in piece), start + tail)

    def _add_partial(self, piece: _Piece, start: int) -> None:
        block = start // BLOCK
        pieces = self._pending.setdefault(block, {})
        pieces[start - block * BLOCK] = tuple(np.array(a) for a in piece)
        self._maybe_close(block)

    def _maybe_close(self, block: int) -> None:
        pieces = self._pending[block]
        if sum(_rows(p) for p in pieces.values()) < BLOCK:
            return
        del self._pending[block]
        self._blocks.append(self._assemble(pieces))

    def _assemble(self, pieces: dict[int, _Piece]) -> np.ndarray:
        order = sorted(pieces)
        arrays = len(pieces[order[0]])
        return self._sums(
            tuple(
                np.concatenate([_filled(pieces[k][q], _rows(pieces[k])) for k in order])
                for q in range(arrays)
            )
        )

    def __getstate__(self) -> dict[str, object]:
        # sent between processes with the block sums in one array
        state = dict(self.__dict__)
        blocks = self._blocks
        state["_blocks"] = [np.concatenate(blocks)] if len(blocks) > 1 else list(blocks)
        return state

    def merge(self, other: BlockSum) -> None:
        self._totals = None
        self.seen |= other.seen
        self._binned |= other._binned
        self._blocks.extend(other._blocks)
        for block, pieces in other._pending.items():
            self._pending.setdefault(block, {}).update(pieces)
            self._maybe_close(block)

    def totals(self) -> np.ndarray:
        """The totals ``(width,)``, each the correctly rounded sum of its block sums."""
        if self._totals is not None:
            return self._totals.copy()
        tails = [self._assemble(self._pending[b]) for b in sorted(self._pending)]
        parts = np.concatenate([np.zeros((0, self.width)), *self._blocks, *tails])
        out = np.empty(self.width)
        for q in range(self.width):
            column = parts[:, q]
            # fsum is exact but refuses inf - inf; non-finite totals need no exactness.
            finite = bool(np.isfinite(column).all())
            out[q] = math.fsum(column.tolist()) if finite else float(np.sum(column))
        self._totals = out
        return out.copy()

    def total(self) -> float:
        """The one total of a width-1 sum."""
        assert self.width == 1
        return float(self.totals()[0])
