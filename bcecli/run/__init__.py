"""A scoring run end to end: open the input, decide the task, score every chunk on an engine,
and hand back the report. No click and no printing: per-row output goes to the row sink the
caller passes.

    report = run_score(ScoreRequest(Inputs("preds.csv")))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bcecli.run.request import DaskEngine, Engine, Inputs, LocalEngine, ScoreRequest
from bcecli.run.sink import Progress, RowColumns, RowSink

if TYPE_CHECKING:
    from bcecli.core.report import Report


def run_score(
    request: ScoreRequest, *, sink: RowSink | None = None, progress: Progress | None = None
) -> Report:
    """Score ``request`` on its engine. ``sink`` receives every scored chunk in row order (and
    is closed here if the run fails); ``progress`` is called as rows are scored (the local
    engine only)."""
    engine = request.engine
    try:
        if isinstance(engine, DaskEngine):
            from bcecli.run.dask import run_dask

            return run_dask(request, engine, sink)
        from bcecli.run.local import run_local

        return run_local(request, engine, sink, progress)
    except BaseException as e:
        fail = getattr(sink, "fail", None)  # optional: a sink that can say it was cut short
        if fail is not None:
            fail(e)
        elif sink is not None:
            sink.close()
        raise


__all__ = [
    "DaskEngine",
    "Engine",
    "Inputs",
    "LocalEngine",
    "Progress",
    "RowColumns",
    "RowSink",
    "ScoreRequest",
    "run_score",
]
