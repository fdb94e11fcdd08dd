"""The local engine: every chunk of the input scored in this process, on threads, each passed
on in row order to the caller's row sink and progress callback."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from bcecli.errors import BceError
from bcecli.run.prepare import Prepared, prepare
from bcecli.run.request import LocalEngine, ScoreRequest
from bcecli.run.sink import Progress, RowSink

if TYPE_CHECKING:
    from bcecli.core.report import Report


def run_local(
    req: ScoreRequest, engine: LocalEngine, sink: RowSink | None, progress: Progress | None
) -> Report:
    prep = prepare(req)
    try:
        if sink is not None:
            sink.begin(prep.row_columns())
        _stream(prep, engine.threads, sink, progress)
        if sink is not None:
            sink.finish()
        try:
            return prep.scorer.report(prep.context(prep.inp.partitions))
        except BceError as e:
            raise e.with_source(prep.sources) from None
    finally:
        prep.inp.close()


def _stream(prep: Prepared, threads: int, sink: RowSink | None, progress: Progress | None) -> None:
    """Score every chunk into ``prep.scorer``, passing each on as it comes."""
    n_rows = prep.inp.layout.n_rows
    done = 0
    stream = prep.scorer.score_all(itertools.chain([prep.first], prep.rest), workers=threads)
    while True:
        try:
            scored = next(stream, None)
        except BceError as e:
            raise e.with_source(prep.sources) from None
        if scored is None:
            return
        if sink is not None:
            sink.write(scored)
        done += len(scored.chunk)
        if progress is not None:
            progress(done, n_rows)
