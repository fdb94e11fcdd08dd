"""``bce score`` end to end: open the input, decide the task, stream it through the scorer,
write per-sample rows as they come, and hand back the report. No click, no printing of its own:
the caller passes the output streams."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from bcecli.core.chunk import ScoredChunk
from bcecli.core.options import LossOptions, Reduction, Task
from bcecli.core.report import Context, Report
from bcecli.errors import BceError
from bcecli.readers import CHUNK_ROWS, ColumnRequest, open_input


@dataclass(frozen=True)
class ScoreRequest:
    preds: str
    labels: str | None = None
    columns: ColumnRequest = field(default_factory=ColumnRequest)
    task: Task = Task.AUTO
    loss: LossOptions = field(default_factory=lambda: LossOptions(task=Task.AUTO))
    reduction: Reduction = Reduction.MEAN
    per_sample_format: str | None = None  # csv | tsv | jsonl: stream one record per row
    chunk_rows: int = CHUNK_ROWS


@dataclass
class Outcome:
    report: Report
    losses: list[float] | None = None  # --reduction none, in row order


def run_score(
    req: ScoreRequest,
    per_sample_out: BinaryIO | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Outcome:
    from bcecli.core.scoring import Scorer
    from bcecli.core.tasks import decide_task
    from bcecli.render.persample import PerSampleWriter

    inp = open_input(req.preds, req.labels, req.columns)
    try:
        layout = inp.layout
        chunks = inp.chunks(req.chunk_rows)
        first = next(chunks, None)
        if first is None:
            from bcecli.errors import InputError

            raise InputError(
                "has a header but no rows", "write the data rows into it", source=layout.sources[0]
            )
        sources = " + ".join(layout.sources)
        try:
            decision = decide_task(
                req.task,
                first.labels,
                first.preds,
                from_logits=req.loss.from_logits,
                rows_seen=len(first),
            )
            opts = replace(req.loss, task=decision.task)
            scorer = Scorer(opts, first.preds.shape[1])
        except BceError as e:
            raise e.with_source(sources) from None
        writer = None
        if per_sample_out is not None and req.per_sample_format:
            weighted = (
                req.columns.sample_weight is not None
                or opts.class_weight is not None
                or (opts.pos_weight is not None and opts.compat.is_keras)
            )
            writer = PerSampleWriter(
                per_sample_out,
                req.per_sample_format,
                _names("label", layout.label_columns, first.labels.shape[1]),
                _names("pred", layout.pred_columns, first.preds.shape[1]),
                weighted=weighted,
            )
        losses: list[float] | None = [] if req.reduction is Reduction.NONE else None
        done = 0
        for chunk in itertools.chain([first], chunks):
            try:
                scored: ScoredChunk = scorer.score(chunk)
            except BceError as e:
                raise e.with_source(sources) from None
            if writer is not None:
                writer.write(scored)
            if losses is not None:
                losses.extend(scored.loss.tolist())
            done += len(chunk)
            if progress is not None:
                progress(done, layout.n_rows)
        notes = list(layout.notes)
        mapper = getattr(inp, "_mapper", None)
        if mapper is not None and mapper.description:
            notes.append(mapper.description)
        names = layout.class_names or _output_names(layout.pred_columns, first.preds.shape[1])
        context = Context(
            task_reason=decision.reason,
            label_columns=layout.label_columns,
            pred_columns=layout.pred_columns,
            weight_column=layout.weight_column,
            sources=layout.sources,
            output_names=names,
            notes=(f"columns: {layout.how}", *notes),
        )
        try:
            report = scorer.report(context)
        except BceError as e:
            raise e.with_source(sources) from None
        return Outcome(report, losses)
    finally:
        inp.close()


def _names(prefix: str, columns: tuple[str, ...], width: int) -> list[str]:
    if len(columns) == width:
        return list(columns)
    return [str(i) for i in range(width)]


def _output_names(columns: tuple[str, ...], width: int) -> tuple[str, ...]:
    if len(columns) == width:
        return columns
    return tuple(str(i) for i in range(width))
