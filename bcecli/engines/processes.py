"""Score one file on several processes: its rows are cut into contiguous ranges, one per process.

numpy's heavy kernels (``np.bincount`` among them) hold the GIL, so threads do not add up on the
scoring of a fast format: two threads measured no faster than one. Processes do. The parent forks
one child per extra range after the task is decided; each child scores its range into an
``Accumulator`` of its own and sends it back through a pipe (pickled, about 700 KB), and the
parent merges it into its own, exactly as partitions are merged: block sums over global rows keep
the mean bit-identical to a single process's.

Used only where it pays and is safe: Linux (``fork``), an input that can be read from any row
(NPY, NPZ), nothing written per row, and at least ``MIN_ROWS`` rows. Errors keep their row order:
the parent's own range comes first, then the children's in order. A child that dies without an
answer (killed, out of memory) is not fatal: the parent scores that range itself.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bcecli.core import sketch
from bcecli.core.accumulator import Accumulator
from bcecli.core.chunk import ScoredChunk
from bcecli.errors import BceError

if TYPE_CHECKING:
    import numpy as np

    from bcecli.pipeline import Prepared

# Below this many rows a second process costs (fork, pickling, merging: a few ms) about what it
# saves.
MIN_ROWS = 1_000_000


def plan_ranges(prep: Prepared) -> list[tuple[int, int]]:
    """The row ranges to score ``prep``'s seekable input on, one per process, the parent's
    first (a single range: this process alone)."""
    n = prep.inp.layout.n_rows
    assert prep.inp.seekable and n is not None  # a seekable input knows its length
    if not sys.platform.startswith("linux") or not hasattr(os, "fork") or n < MIN_ROWS:
        return [(0, n)]
    cores = len(os.sched_getaffinity(0))
    processes = max(1, min(cores, n // (MIN_ROWS // 2), n // prep.chunk_rows))
    return split_rows(n, processes, prep.chunk_rows, PARENT_SHARE)


# The parent's range is this much shorter than a child's: it also imports what the report needs
# and merges the children's accumulators (measured: about 8 ms of a 2 x 80 ms run).
PARENT_SHARE = 0.9


def split_rows(n: int, parts: int, align: int, first: float = 1.0) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering rows 0..n, each starting on a multiple of ``align``
    (so no sum block and no chunk is cut); the first one ``first`` times as long as the others."""
    weights = [first] + [1.0] * (parts - 1)
    total, at = sum(weights), 0.0
    bounds = []
    for w in weights:
        bounds.append(min(n, int(n * at / total) // align * align))
        at += w
    bounds.append(n)
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@dataclass(eq=False)
class _Child:
    """A child process scoring rows start..stop, and the pipe its answer comes through."""

    pid: int
    fd: int
    start: int
    stop: int


def score_on_processes(
    prep: Prepared,
    ranges: list[tuple[int, int]],
    while_scoring: Callable[[], None] | None = None,
) -> Iterator[ScoredChunk]:
    """Score ``prep``'s input into ``prep.scorer``'s accumulator, one process per range of
    ``plan_ranges``: this one takes the first, a child each of the others.

    Yields the parent's own scored chunks, in row order (for progress); the children's
    accumulators are merged in once the parent's range is done. ``while_scoring`` runs in the
    parent once the children are started.
    """
    chunk_rows = prep.chunk_rows
    (own_start, own_stop), rest = ranges[0], ranges[1:]
    assert own_start == 0 and len(prep.first) <= own_stop
    acc = prep.scorer.accumulator
    # Every process counts the losses in buckets only. Keeping the first million values for an
    # exact median costs a process 8 MB of fresh memory (about 10 ms here), wasted whenever the
    # file has more scored rows than that, as nearly every file this long has. When it turns out
    # not to (most rows excluded), the losses are read again at the end.
    acc.sketch.buckets_only()
    children: list[_Child] = []
    try:
        for start, stop in rest:
            children.append(_fork(prep, start, stop, chunk_rows))
        if while_scoring is not None:
            while_scoring()
        own = prep.inp.chunks(chunk_rows, start=len(prep.first), stop=own_stop)
        yield from prep.scorer.score_all(itertools.chain([prep.first], own))
        for child in children:  # in row order: the first error in the file is the one raised
            child_acc = _collect(child)
            if child_acc is None:  # the child died without an answer: score its rows here
                chunks = prep.inp.chunks(chunk_rows, start=child.start, stop=child.stop)
                yield from prep.scorer.score_all(chunks)
            else:
                acc.merge(child_acc)
        if acc.sketch.n <= sketch.EXACT_LIMIT:
            acc.sketch.exact_values = _scored_losses(prep)
    finally:
        for child in children:
            _reap(child)


def _scored_losses(prep: Prepared) -> list[np.ndarray] | None:
    """Every scored loss of the input, scored again in this process, for an exact median."""
    again = Accumulator(prep.opts, prep.first.preds.shape[1])
    for chunk in prep.inp.chunks(prep.chunk_rows):
        prep.scorer.score_into(again, chunk)
    return again.sketch.exact_values


def _fork(prep: Prepared, start: int, stop: int, chunk_rows: int) -> _Child:
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with several threads forks; the child below only
        # runs numpy on its own rows and leaves with os._exit, never returning to the caller.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:  # Ctrl-C raises KeyboardInterrupt here too, which ends the child quietly below
            os.close(read_fd)
            payload = _score_range(prep, start, stop, chunk_rows)
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return _Child(pid, read_fd, start, stop)


def _score_range(prep: Prepared, start: int, stop: int, chunk_rows: int) -> bytes:
    """In the child: the pickled accumulator of rows start..stop, or the error they raise."""
    acc = Accumulator(prep.opts, prep.first.preds.shape[1])
    acc.sketch.buckets_only()  # as in the parent
    result: Accumulator | BceError
    try:
        for chunk in prep.inp.chunks(chunk_rows, start=start, stop=stop):
            prep.scorer.score_into(acc, chunk)
        result = acc
    except BceError as e:
        result = e
    body = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(8, "little") + body  # its length first: a cut message shows


def _collect(child: _Child) -> Accumulator | None:
    """The child's accumulator (its error is raised here), or None if it died without one."""
    with os.fdopen(child.fd, "rb") as pipe:
        child.fd = -1
        data = pipe.read()
    # The message is complete when its length says so; the child's own exit (unmapping its
    # memory) takes milliseconds more and need not be waited for.
    _reap_in_background(child)
    if len(data) < 8 or int.from_bytes(data[:8], "little") != len(data) - 8:
        return None
    result = pickle.loads(data[8:])
    if isinstance(result, BceError):
        raise result
    assert isinstance(result, Accumulator)
    return result


def _reap_in_background(child: _Child) -> None:
    """Collect the child's exit status without waiting for it here."""
    pid, child.pid = child.pid, -1
    if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still exiting
        import threading

        threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True).start()


def _reap(child: _Child) -> None:
    """Stop a child that is still running (the parent failed first) and release its pipe."""
    if child.fd >= 0:
        os.close(child.fd)
        child.fd = -1
    if child.pid > 0:
        import signal

        try:
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        child.pid = -1
