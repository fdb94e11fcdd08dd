"""What a run hands back while it runs: every scored chunk, in row order, to the row sink the
caller passes (per-sample output, the losses of ``reduction="none"``), and its progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bcecli.core.chunk import ScoredChunk

# Called after each chunk with the rows scored so far and the input's row count (None: not
# known until the end).
Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class RowColumns:
    """What each row holds, known once the input is open and its first chunk read."""

    labels: tuple[str, ...]  # one name per label output
    preds: tuple[str, ...]  # one name per prediction output
    weighted: bool  # a sample weight is given, or the profile weighs each row's loss
    ids: tuple[str, ...] = ()  # the --id-col columns (a chunk's ``ids``)
    classes: tuple[str, ...] | None = None  # a multi-class task's class names (pred_class)


class RowSink(Protocol):
    """``begin`` once, ``write`` every scored chunk in row order, then ``finish``; the run
    calls ``close`` instead when it fails (before ``begin``, too), or ``fail(error)`` where the
    sink has one (per-sample output then ends in a record that names the error)."""

    # What the sink does with the rows, and what to do instead, as the (what, fix) of the
    # error an engine that does not keep the rows' order raises.
    needs_row_order: tuple[str, str]

    def begin(self, columns: RowColumns) -> None: ...

    def write(self, scored: ScoredChunk) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...
