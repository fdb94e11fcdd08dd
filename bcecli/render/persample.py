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

    from bcecli.run.sink import RowColumns

# Formatting numbers as text is most of the cost of per-sample output: two threads nearly halve it.
FORMAT_THREADS = 2


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name) or "x"


def field_names(label_names: list[str], pred_names: list[str], weighted: bool) -> list[str]:
    labels = ["label"] if len(label_names) == 1 else [f"label_{_safe(n)}" for n in label_names]
    preds = ["pred"] if len(pred_names) == 1 else [f"pred_{_safe(n)}" for n in pred_names]
    return ["row", *labels, *preds, "p_true", "loss", *(["weight"] if weighted else []), "flags"]


def _arrow_numbers(values: np.ndarray, *, nan_as_null: bool = False) -> Any:
    """A 1-D numeric array as an arrow array over the same buffer (``pa.array`` of a numpy
    array imports pandas: 0.3 s of start-up); NaN as a missing value when asked."""
    import pyarrow as pa

    v = np.ascontiguousarray(values)
    validity = None
    if nan_as_null and v.dtype.kind == "f":
        nan = np.isnan(v)
        if nan.any():
            validity = pa.py_buffer(np.packbits(~nan, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(v.dtype), len(v), [validity, pa.py_buffer(v)])


def _arrow_bools(mask: np.ndarray) -> Any:
    import pyarrow as pa

    bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def _empty_strings(n: int) -> Any:
    import pyarrow as pa

    offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(b"")])


def _text(value: str) -> Any:
    """An arrow string scalar, made from buffers: arrow turns a Python str given to a compute
    function into a scalar through a check that imports pandas."""
    import pyarrow as pa

    data = value.encode()
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])[0]


def _flags_column(scored: ScoredChunk) -> Any:
    import pyarrow.compute as pc

    out = _empty_strings(len(scored.loss))
    for fid, mask in scored.row_flags.items():
        if not mask.any():
            continue
        flag, empty = _text(fid), _text("")
        joined = pc.binary_join_element_wise(out, flag, _text(";"))
        joined = pc.if_else(pc.equal(out, empty), flag, joined)
        out = pc.if_else(_arrow_bools(mask), joined, out)
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

    def _columns(self, scored: ScoredChunk, *, nan_as_null: bool) -> list[Any]:
        chunk = scored.chunk
        n = len(chunk)
        numbers = [np.arange(chunk.start, chunk.start + n, dtype=np.int64)]
        numbers += [np.asarray(chunk.labels[:, j], dtype=np.float64) for j in range(self.n_labels)]
        numbers += [np.asarray(chunk.preds[:, j], dtype=np.float64) for j in range(self.n_preds)]
        numbers += [scored.p_true, scored.loss] + ([scored.weight] if self.weighted else [])
        cols = [_arrow_numbers(v, nan_as_null=nan_as_null) for v in numbers]
        return [*cols, _flags_column(scored)]

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
        if self.fmt == "jsonl":
            return self._jsonl(self._columns(scored, nan_as_null=False))
        # empty cells for NaN (an excluded row's loss), so the column stays numeric to readers
        return self._delimited(self._columns(scored, nan_as_null=True))

    def _delimited(self, cols: list[Any]) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pa.table(cols, names=self.names)
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
        quote, nothing = _text('"'), _text("")
        for i, (name, col) in enumerate(zip(self.names, cols, strict=True)):
            sep = "{" if i == 0 else ","
            parts.append(_text(f'{sep}"{name}":'))
            if pa.types.is_string(col.type):
                parts.append(pc.binary_join_element_wise(quote, col, quote, nothing))
            elif pa.types.is_floating(col.type):
                text = pc.cast(col, pa.string())
                text = pc.if_else(pc.is_nan(col), _text("null"), text)
                text = pc.replace_substring_regex(text, r"^(-?inf)$", r'"\1"')
                parts.append(text)
            else:
                parts.append(pc.cast(col, pa.string()))
        parts.append(_text("}\n"))
        lines = pc.binary_join_element_wise(*parts, nothing)
        # The lines end to end are the string array's character buffer, between its offsets.
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
        return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


class PerSampleSink:
    """Per-sample output as a run's row sink (``bcecli.run.sink.RowSink``): one record per row
    to ``out``, as ``fmt`` (csv, tsv or jsonl), the fields named once the run knows them."""

    needs_row_order = (
        "--per-sample writes rows in input order",
        "use {engine=local} (the default) for per-sample output",
    )

    def __init__(self, out: BinaryIO, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.writer: PerSampleWriter | None = None

    def begin(self, columns: RowColumns) -> None:
        labels, preds = list(columns.labels), list(columns.preds)
        self.writer = PerSampleWriter(self.out, self.fmt, labels, preds, weighted=columns.weighted)

    def write(self, scored: ScoredChunk) -> None:
        assert self.writer is not None
        self.writer.write(scored)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.finish()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
