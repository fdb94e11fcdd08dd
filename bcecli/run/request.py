"""What a run is asked to do: which inputs, which loss, and which engine scores it.

Three concerns, three types: ``Inputs`` (files and their columns), ``LossOptions`` (what the
loss means, from ``bcecli.core.options``; its task may be ``auto``, decided from the first
rows) and an engine (``LocalEngine`` or ``DaskEngine``: where the chunks are scored). How the
result is shown is not the run's business: the report comes back, and per-row output goes to
a row sink the caller passes (``bcecli.run.sink``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bcecli.core.options import LossOptions, Task
from bcecli.readers import ColumnRequest, Source

# Chunks of a file that is read (CSV, Parquet) are scored on two threads by default: the reader
# decodes on threads of its own and numpy releases the GIL in most of its kernels; more gains
# nothing on the two cores this is tuned for. Binary chunks of arrays in memory or of NPY files
# (read a chunk at a time, ``Source.mapped``) are scored on one: with nothing to decode, a
# second thread costs more CPU time than it saves (the binary scoring holds the GIL for much of
# a chunk) and its heap adds to the resident set. Categorical chunks spread over two.
SCORING_THREADS = min(2, os.cpu_count() or 1)
MAPPED_SCORING_THREADS = 1


@dataclass(frozen=True)
class Inputs:
    """The files to read ('-': CSV from stdin) and the columns the caller named."""

    preds: str | Source  # a path, or arrays already open (bcecli.score)
    labels: str | Source | None = None  # a file of its own; None: columns of ``preds``
    columns: ColumnRequest = field(default_factory=ColumnRequest)


@dataclass(frozen=True)
class LocalEngine:
    """Score in this process: chunk i on thread i % threads, into that thread's own summary,
    so the report is the same to the last bit on every run."""

    threads: int | None = None  # None: SCORING_THREADS, or MAPPED_SCORING_THREADS (see above)
    chunk_rows: int | None = None  # None: chosen from the input (prepare.chunk_rows_for)

    def threads_for(self, mapped: bool, multiclass: bool) -> int:
        """The scoring threads for an input (``mapped``: ``Source.mapped``, arrays read a chunk
        at a time; ``multiclass``: a categorical task)."""
        if self.threads is not None:
            return self.threads
        return MAPPED_SCORING_THREADS if mapped and not multiclass else SCORING_THREADS


@dataclass(frozen=True)
class DaskEngine:
    """Score the partitions of a directory or glob of Parquet or CSV files on a Dask cluster
    (``scheduler``: its address; None: a local cluster started for the run)."""

    scheduler: str | None = None
    chunk_rows: int | None = None  # as the local engine's, so both cut the same chunks


Engine = LocalEngine | DaskEngine


@dataclass(frozen=True)
class ScoreRequest:
    """Score ``inputs`` under ``loss`` on ``engine``."""

    inputs: Inputs
    loss: LossOptions = field(default_factory=lambda: LossOptions(task=Task.AUTO))
    engine: Engine = field(default_factory=LocalEngine)
