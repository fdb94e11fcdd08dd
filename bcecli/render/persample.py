"""Per-sample output: one record per input row, in input order, streamed chunk by chunk.

CSV/TSV go through pyarrow's C++ writer and JSONL through pyarrow string kernels, so a
ten-million-row stream costs seconds, not minutes. Chunks are formatted on FORMAT_THREADS threads
(pyarrow releases the GIL) and written in input order. Excluded rows are written too, with an
empty loss and the reason in ``flags``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from bcecli.core.chunk import ScoredChunk

if TYPE_CHECKING:  # the threads start with the first chunk: a run without per-sample output
    from concurrent.futures import Future, ThreadPoolExecutor  # never imports them

# Formatting numbers as text is most of the cost of per-sample output: two threads nearly halve it.
FORMAT_THREADS = 2


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name) or "x"


def field_names(label_names: list[str], pred_names: list[str], weighted: bool) -> list[str]:
    labels = ["label"] if len(label_names) == 1 else [f"label_{_safe(n)}" for n in label_names]
    preds = ["pred"] if len(pred_names) == 1 else [f"pred_{_safe(n)}" for n in pred_names]
    return ["row", *labels, *preds, "p_true", "loss", *(["weight"] if weighted else []), "flags"]


def _flags_column(scored: ScoredChunk) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(scored.loss)
    out = pa.array(np.full(n, "", dtype=object), type=pa.string())
    for fid, mask in scored.row_flags.items():
        if not mask.any():
            continue
        m = pa.array(np.asarray(mask, dtype=bool))
        joined = pc.if_else(pc.equal(out, ""), fid, pc.binary_join_element_wise(out, fid, ";"))
        out = pc.if_else(m, joined, out)
    return out


class PerSampleWriter:
    """Writes ScoredChunks to a binary stream as csv, tsv or jsonl, in the order given: ``write``
    each chunk, then ``finish`` (or ``close`` to drop what is not written yet)."""

    def __init__(
        self,
        out: BinaryIO,
        fmt: str,
        label_names: list[str],
        pred_names: list[str],
        *,
        weighted: bool,
    ) -> None:
        self.out = out
        self.fmt = fmt
        self.weighted = weighted
        self.names = field_names(label_names, pred_names, weighted)
        self.n_labels = len(label_names)
        self.n_preds = len(pred_names)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[Any]] = deque()  # formatted text, in row order

    def _columns(self, scored: ScoredChunk) -> list[Any]:
        import pyarrow as pa

        chunk = scored.chunk
        n = len(chunk)
        cols: list[Any] = [pa.array(np.arange(chunk.start, chunk.start + n, dtype=np.int64))]
        for j in range(self.n_labels):
            cols.append(pa.array(np.asarray(chunk.labels[:, j], dtype=np.float64)))
        for j in range(self.n_preds):
            cols.append(pa.array(np.asarray(chunk.preds[:, j], dtype=np.float64)))
        cols.append(pa.array(scored.p_true))
        cols.append(pa.array(scored.loss))
        if self.weighted:
            cols.append(pa.array(scored.weight))
        cols.append(_flags_column(scored))
        return cols

    def write(self, scored: ScoredChunk) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(FORMAT_THREADS, thread_name_prefix="bce-out")
            if self.fmt != "jsonl":
                self.out.write((self._delimiter.join(self.names) + "\n").encode())
        self._pending.append(self._pool.submit(self._format, scored))
        while len(self._pending) > FORMAT_THREADS:  # keep the threads busy, no more
            self._write_next()

    def finish(self) -> None:
        """Write every chunk still being formatted."""
        while self._pending:
            self._write_next()
        self.close()

    def close(self) -> None:
        for pending in self._pending:
            pending.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _write_next(self) -> None:
        self.out.write(self._pending.popleft().result())
        self.out.flush()

    @property
    def _delimiter(self) -> str:
        return "\t" if self.fmt == "tsv" else ","

    def _format(self, scored: ScoredChunk) -> Any:
        """The chunk's records as bytes (a buffer), on a formatting thread."""
        cols = self._columns(scored)
        return self._jsonl(cols) if self.fmt == "jsonl" else self._delimited(cols)

    def _delimited(self, cols: list[Any]) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.table(cols, names=self.names)
        # Empty cells for NaN (an excluded row's loss), so the column stays numeric to readers.
        table = _blank_nan(table)
        sink = pa.BufferOutputStream()
        pacsv.write_csv(
            table,
            sink,
            write_options=pacsv.WriteOptions(
                include_header=False, delimiter=self._delimiter, quoting_style="none"
            ),
        )
        return sink.getvalue()

    def _jsonl(self, cols: list[Any]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts: list[Any] = []
        for i, (name, col) in enumerate(zip(self.names, cols, strict=True)):
            sep = "{" if i == 0 else ","
            parts.append(f'{sep}"{name}":')
            if pa.types.is_string(col.type):
                parts.append(pc.binary_join_element_wise('"', col, '"', ""))
            elif pa.types.is_floating(col.type):
                text = pc.cast(col, pa.string())
                text = pc.if_else(pc.is_nan(col), "null", text)
                text = pc.replace_substring_regex(text, r"^(-?inf)$", r'"\1"')
                parts.append(text)
            else:
                parts.append(pc.cast(col, pa.string()))
        parts.append("}\n")
        lines = pc.binary_join_element_wise(*parts, "")
        # The lines end to end are the string array's character buffer, between its offsets.
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
        return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


def _blank_nan(table: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        cols.append(col)
    return pa.table(cols, names=table.column_names)
