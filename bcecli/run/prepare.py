"""What every engine does before scoring: open the input, read its first chunk, decide the task
from it, and describe the input for the report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bcecli.core.chunk import Chunk
from bcecli.core.options import LossOptions
from bcecli.errors import BceError, InputError
from bcecli.readers import CHUNK_ROWS, Input, open_input
from bcecli.run.request import ScoreRequest
from bcecli.run.sink import RowColumns

if TYPE_CHECKING:
    from bcecli.core.report import Context
    from bcecli.core.scoring import Scorer
    from bcecli.core.slices import SlicePlan
    from bcecli.core.tasks import TaskDecision

# Rows per chunk of an input already in memory or memory-mapped (NPY, NPZ): chunks are views, so
# their size only sets how much the scoring's temporaries take; this many keep them in the CPU's
# cache.
MAPPED_CHUNK_ROWS = 1 << 16


def chunk_rows_for(n_outputs: int, *, mapped: bool = False) -> int:
    """Rows per chunk: about CHUNK_ROWS (or MAPPED_CHUNK_ROWS) pairs of values, so a wide file's
    chunk (and its temporaries) stays as small as a binary one's; a multiple of the 4096-row sum
    blocks."""
    rows = MAPPED_CHUNK_ROWS if mapped else CHUNK_ROWS
    if n_outputs <= 2:
        return rows
    return max(4096, (2 * rows // n_outputs) // 4096 * 4096)


@dataclass(eq=False)
class Prepared:
    """An opened input, its first chunk and the task decided from it (the caller closes
    ``inp``)."""

    inp: Input
    first: Chunk
    rest: Iterator[Chunk]  # the chunks after the first
    decision: TaskDecision
    opts: LossOptions  # the request's, with the task decided
    scorer: Scorer
    sources: str  # the input files, for errors raised while scoring
    chunk_rows: int

    def row_columns(self) -> RowColumns:
        """What a row sink's records hold."""
        layout, opts = self.inp.layout, self.opts
        weighted = (
            layout.weight_column is not None
            or opts.class_weight is not None
            or (opts.pos_weight is not None and opts.compat.is_keras)
        )
        width = self.first.preds.shape[1]
        classes = layout.class_names or output_names(layout.pred_columns, width)
        return RowColumns(
            output_names(layout.label_columns, self.first.labels.shape[1]),
            output_names(layout.pred_columns, width),
            weighted,
            ids=layout.id_columns,
            classes=classes if opts.task.is_multiclass else None,
        )

    def context(self, partitions: tuple[tuple[int, str], ...] = ()) -> Context:
        """What the report says about the input: columns, sources, notes, partitions."""
        from bcecli.core.report import Context

        layout = self.inp.layout
        notes = list(layout.notes)
        mapper = self.inp.mapper
        if mapper is not None and mapper.description:
            notes.append(mapper.description)
        width = self.first.preds.shape[1]
        return Context(
            task_reason=self.decision.reason,
            label_columns=layout.label_columns,
            pred_columns=layout.pred_columns,
            weight_column=layout.weight_column,
            sources=layout.sources,
            output_names=layout.class_names or output_names(layout.pred_columns, width),
            notes=(f"columns: {layout.how}", *notes),
            labels_sorted=mapper.description if mapper is not None and mapper.sorted_order else "",
            partitions=partitions,
            id_columns=layout.id_columns,
        )


def prepare(req: ScoreRequest) -> Prepared:
    """Open the input, read its first chunk and decide the task (the caller closes
    ``.inp``)."""
    from bcecli.core.scoring import Scorer
    from bcecli.core.tasks import decide_task
    from bcecli.core.weight_scale import scale_for

    inputs = req.inputs
    inp = open_input(inputs.preds, inputs.labels, inputs.columns)
    try:
        layout = inp.layout
        rows = req.engine.chunk_rows or chunk_rows_for(layout.n_pred_outputs, mapped=inp.mapped)
        rest = inp.chunks(rows)
        first = next(rest, None)
        if first is None:
            raise InputError(
                "has a header but no rows", "write the data rows into it", source=layout.sources[0]
            )
        sources = " + ".join(layout.sources)
        try:
            decision = decide_task(
                req.loss.task,
                first.labels,
                first.preds,
                from_logits=req.loss.from_logits,
                rows_seen=len(first),
            )
            opts = replace(req.loss, task=decision.task)
            if first.weights is not None and len(first.weights):
                opts = replace(opts, weight_scale=scale_for(float(first.weights[0])))
            if opts.slices is not None:  # --by: the bins are cut on the first chunk
                opts = replace(opts, slices=slice_plan(opts, first))
            scorer = Scorer(opts, first.preds.shape[1])
        except BceError as e:
            raise e.with_source(sources) from None
    except BaseException:
        inp.close()
        raise
    return Prepared(inp, first, rest, decision, opts, scorer, sources, rows)


def slice_plan(opts: LossOptions, first: Chunk) -> SlicePlan:
    """--by's plan with its numeric columns' bin edges (one binary output only)."""
    from bcecli.core.slices import with_edges
    from bcecli.errors import OptionError

    assert opts.slices is not None
    if opts.task.is_multiclass or first.preds.shape[1] != 1:
        raise OptionError(
            f"{{by}} breaks down a binary task of one output, not a {opts.task.value} one",
            "drop {by}, or score one output (its label and prediction columns) at a time",
            param="by",
        )
    return with_edges(opts.slices, first.groups or {})


def output_names(columns: tuple[str, ...], width: int) -> tuple[str, ...]:
    """The columns' names where there is one per output, else the outputs' numbers."""
    if len(columns) == width:
        return columns
    return tuple(str(i) for i in range(width))
