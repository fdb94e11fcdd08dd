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


FIXED_FIELDS = ("row", "label", "pred", "pred_class", "p_true", "loss", "weight", "flags")


def field_names(
    label_names: list[str],
    pred_names: list[str],
    weighted: bool,
    *,
    ids: tuple[str, ...] = (),
    pred_class: bool = False,
) -> list[str]:
    labels = ["label"] if len(label_names) == 1 else [f"label_{_safe(n)}" for n in label_names]
    preds = ["pred"] if len(pred_names) == 1 else [f"pred_{_safe(n)}" for n in pred_names]
    taken = {"row", *labels, *preds, "pred_class", "p_true", "loss", "weight", "flags"}
    # an id column keeps its name, prefixed with id_ where it would clash with a field
    id_fields = [_safe(n) if _safe(n) not in taken else f"id_{_safe(n)}" for n in ids]
    return [
        "row", *id_fields, *labels, *preds, *(["pred_class"] if pred_class else []),
        "p_true", "loss", *(["weight"] if weighted else []), "flags",
    ]  # fmt: skip


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


# Integers beyond this cannot all be held exactly as float64: such ids print as read.
_EXACT_INTS = 2.0**53


def _id_numbers(values: np.ndarray) -> np.ndarray:
    """A numeric id column as integers where every value is one (a float64 column of ids
    would print 17.0), else as read."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        finite = v[~np.isnan(v)]
        whole = bool(np.all((finite == np.floor(finite)) & (np.abs(finite) <= _EXACT_INTS)))
    if not whole:
        return v
    return np.where(np.isnan(v), 0, v).astype(np.int64)


def _nulls_from(values: np.ndarray, ints: np.ndarray) -> Any:
    """``ints`` as an arrow array, null where ``values`` is NaN."""
    import pyarrow as pa

    nan = np.isnan(np.asarray(values, dtype=np.float64))
    validity = pa.py_buffer(np.packbits(~nan, bitorder="little")) if nan.any() else None
    return pa.Array.from_buffers(pa.int64(), len(ints), [validity, pa.py_buffer(ints)])


def _csv_text(col: Any, delimiter: str) -> Any:
    """A text column as CSV cells: quoted (quotes doubled) where a cell holds the delimiter,
    a quote or a line end."""
    import pyarrow.compute as pc

    special = '[\t"\r\n]' if delimiter == "\t" else '[,"\r\n]'
    needs = pc.match_substring_regex(col, special)
    quoted = pc.binary_join_element_wise(
        _text('"'), pc.replace_substring(col, '"', '""'), _text('"'), _text("")
    )
    return pc.if_else(needs, quoted, col)


def _json_text(col: Any) -> Any:
    """A text column as JSON values: escaped and quoted strings, null for a missing value."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    if pc.any(pc.match_substring_regex(col, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]")).as_py():
        # rare control characters: Python's encoder, value by value
        return pa.array(["null" if v is None else json.dumps(v) for v in col.to_pylist()])
    text = pc.replace_substring(col, "\\", "\\\\")
    for raw, escaped in (('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, raw, escaped)
    quoted = pc.binary_join_element_wise(_text('"'), text, _text('"'), _text(""))
    return pc.if_else(pc.is_null(col), _text("null"), quoted)


def _take(values: Any, idx: np.ndarray | None) -> Any:
    """Rows ``idx`` of a numpy array or an arrow array (all of them for None)."""
    if idx is None:
        return values
    if isinstance(values, np.ndarray):
        return values[idx]
    import pyarrow as pa

    return values.take(pa.Array.from_buffers(pa.int64(), len(idx), [None, pa.py_buffer(
        np.ascontiguousarray(idx, dtype=np.int64))]))  # fmt: skip


class PerSampleWriter:
    """Writes ScoredChunks to a binary stream as csv, tsv or jsonl, in the order given: ``write``
    each chunk, then ``finish`` (or ``close`` to drop what is not written yet).

    ``top``: only the ``top`` records with the largest loss, worst first (ties: the earlier
    row first; excluded rows, which have no loss, are never among them), kept in a set of at
    most ``top`` records and written by ``finish``.
    """

    def __init__(
        self,
        out: BinaryIO,
        fmt: str,
        label_names: list[str],
        pred_names: list[str],
        *,
        weighted: bool,
        ids: tuple[str, ...] = (),
        classes: tuple[str, ...] | None = None,
        top: int | None = None,
    ) -> None:
        self.out = out
        self.fmt = fmt
        self.weighted = weighted
        self.ids = ids
        self.classes = classes
        self.names = field_names(
            label_names, pred_names, weighted, ids=ids, pred_class=classes is not None
        )
        self.n_labels = len(label_names)
        self.n_preds = len(pred_names)
        self.top = top
        self._kept: tuple[np.ndarray, np.ndarray, list[Any]] | None = None  # loss, row, columns
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[Any]] = deque()  # formatted text, in row order
        self._started = False

    # -- the records' columns ----------------------------------------------------------------

    def _columns(self, scored: ScoredChunk, idx: np.ndarray | None = None) -> list[Any]:
        """The records of the chunk's rows ``idx`` (every row for None) as arrow arrays in
        field order, text already written as the format writes it."""
        chunk = scored.chunk
        rows = np.arange(chunk.start, chunk.start + len(chunk), dtype=np.int64)
        nan_as_null = self.fmt != "jsonl"  # empty cells for NaN: the column stays numeric
        cols = [_arrow_numbers(_take(rows, idx))]
        for name in self.ids:
            cols.append(self._id_column((chunk.ids or {})[name], idx))
        numbers = [_take(chunk.labels[:, j], idx) for j in range(self.n_labels)]
        numbers += [_take(chunk.preds[:, j], idx) for j in range(self.n_preds)]
        cols += [_arrow_numbers(np.asarray(v, dtype=np.float64), nan_as_null=nan_as_null)
                 for v in numbers]  # fmt: skip
        if self.classes is not None:
            cols.append(self._pred_class(_take(chunk.preds, idx)))
        tail = [scored.p_true, scored.loss] + ([scored.weight] if self.weighted else [])
        cols += [_arrow_numbers(_take(v, idx), nan_as_null=nan_as_null) for v in tail]
        flags = _flags_column(scored)
        cols.append(flags if idx is None else _take(flags, idx))
        return cols

    def _id_column(self, values: Any, idx: np.ndarray | None) -> Any:
        if isinstance(values, np.ndarray):
            values = _take(values, idx)
            ints = _id_numbers(values)
            if ints.dtype == np.int64:
                return _nulls_from(values, ints)
            return _arrow_numbers(ints, nan_as_null=self.fmt != "jsonl")
        return self._as_text(_take(values.values, idx))  # a reader's text column: arrow strings

    def _as_text(self, col: Any) -> _Raw:
        """A text column as the format writes it (CSV cells quoted where needed, JSON strings)."""
        import pyarrow as pa

        if pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        if self.fmt == "jsonl":
            return _Raw(_json_text(col))
        return _Raw(_csv_text(col, self._delimiter))

    def _pred_class(self, preds: np.ndarray) -> Any:
        """The argmax class of each row: its index, or its name where the classes are named
        (null where a prediction is not a number)."""
        import pyarrow as pa

        with np.errstate(invalid="ignore"):
            ok = (
                np.isfinite(preds).all(axis=1)
                if preds.dtype.kind == "f"
                else np.ones(len(preds), bool)
            )
        top = np.where(ok, np.argmax(np.where(np.isnan(preds), -np.inf, preds), axis=1), 0)
        names = self.classes or ()
        flags = np.where(ok, top, np.nan)
        if not names or list(names) == [str(i) for i in range(len(names))]:
            return _nulls_from(flags, top.astype(np.int64))
        labels = _take(pa.array(list(names), pa.string()), top)
        if not ok.all():
            labels = pa.compute.if_else(_arrow_bools(ok), labels, pa.nulls(len(ok), pa.string()))
        return self._as_text(labels)

    # -- streaming ---------------------------------------------------------------------------

    def write(self, scored: ScoredChunk) -> None:
        if self.top is not None:
            self._keep(scored)
            return
        self._start()
        assert self._pool is not None
        self._pending.append(self._pool.submit(self._format, scored))
        while len(self._pending) > FORMAT_THREADS:  # keep the threads busy, no more
            self._write_next()

    def _start(self) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(FORMAT_THREADS, thread_name_prefix="bce-out")
        if not self._started:
            self._started = True
            if self.fmt != "jsonl":
                self.out.write((self._delimiter.join(self.names) + "\n").encode())

    def _keep(self, scored: ScoredChunk) -> None:
        """Keep the chunk's rows that rank among the ``top`` worst so far."""
        assert self.top is not None
        loss = scored.loss
        floor = -np.inf
        if self._kept is not None and len(self._kept[0]) >= self.top:
            floor = float(self._kept[0].min())  # an equal loss later loses the tie
        with np.errstate(invalid="ignore"):
            idx = np.flatnonzero(loss > floor)  # never NaN: an excluded row has no loss
        if len(idx) > self.top:
            vals = loss[idx]
            cutoff = np.partition(vals, len(vals) - self.top)[len(vals) - self.top]
            above = idx[vals > cutoff]
            idx = np.concatenate([above, idx[vals == cutoff][: self.top - len(above)]])
        if len(idx) == 0:
            return
        rows = scored.chunk.start + idx.astype(np.int64)
        cols = self._columns(scored, idx)
        kept_loss = loss[idx]
        if self._kept is not None:
            import pyarrow as pa

            old_loss, old_rows, old_cols = self._kept
            kept_loss = np.concatenate([old_loss, kept_loss])
            rows = np.concatenate([old_rows, rows])
            cols = [_Raw.concat(a, b) if isinstance(a, _Raw) else pa.concat_arrays([a, b])
                    for a, b in zip(old_cols, cols, strict=True)]  # fmt: skip
        order = np.lexsort((rows, -kept_loss))[: self.top]
        taken = [c.take_rows(order) if isinstance(c, _Raw) else _take(c, order) for c in cols]
        self._kept = (kept_loss[order], rows[order], taken)

    def finish(self) -> None:
        """Write every record still to be written (the worst ones, with ``top``)."""
        if self.top is not None:
            self._start()
            if self._kept is not None:
                self.out.write(self._render(self._kept[2]))
                self.out.flush()
        while self._pending:
            self._write_next()
        self.close()

    def close(self) -> None:
        for pending in self._pending:
            pending.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def fail(self, error: BaseException) -> None:
        """End a stream cut short by ``error`` so that no reader takes it for a whole one: the
        records formatted so far, then a last record that says what went wrong (JSONL:
        ``{"error": ...}``; CSV/TSV: a line ``# error: ...``)."""
        self.close()
        if not self._started:  # nothing streamed yet: the error alone, on stderr
            return
        import json

        what = str(error) or type(error).__name__
        if isinstance(error, KeyboardInterrupt):
            what = "interrupted"
        line = (
            json.dumps({"error": what})
            if self.fmt == "jsonl"
            else "# error: " + " ".join(what.split())
        )
        try:
            self.out.write((line + "\n").encode())
            self.out.flush()
        except (OSError, ValueError):  # the stream is closed or broken: nobody to tell
            pass

    def _write_next(self) -> None:
        self.out.write(self._pending.popleft().result())
        self.out.flush()

    @property
    def _delimiter(self) -> str:
        return "\t" if self.fmt == "tsv" else ","

    def _format(self, scored: ScoredChunk) -> Any:
        """The chunk's records as bytes (a buffer), on a formatting thread."""
        return self._render(self._columns(scored))

    def _render(self, cols: list[Any]) -> Any:
        if self.fmt == "jsonl":
            return self._jsonl(cols)
        return self._delimited(cols)

    def _delimited(self, cols: list[Any]) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if any(isinstance(c, _Raw) for c in cols):
            return self._joined(cols)

        table = pa.table([c.text if isinstance(c, _Raw) else c for c in cols], names=self.names)
        sink = pa.BufferOutputStream()
        pacsv.write_csv(
            table,
            sink,
            write_options=pacsv.WriteOptions(
                include_header=False, delimiter=self._delimiter, quoting_style="none"
            ),
        )
        return sink.getvalue()

    def _joined(self, cols: list[Any]) -> Any:
        """CSV/TSV lines joined cell by cell: arrow's writer refuses a quoted cell (text ids,
        class names), which ``_csv_text`` has quoted already."""
        import pyarrow as pa
        import pyarrow.compute as pc

        cells = []
        for col in cols:
            if isinstance(col, _Raw):
                text = col.text
            else:
                text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
            cells.append(pc.if_else(pc.is_null(text), _text(""), text))
        lines = pc.binary_join_element_wise(*cells, _text(self._delimiter))
        lines = pc.binary_join_element_wise(lines, _text("\n"), _text(""))
        return _buffer(lines)

    def _jsonl(self, cols: list[Any]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts: list[Any] = []
        quote, nothing = _text('"'), _text("")
        for i, (name, col) in enumerate(zip(self.names, cols, strict=True)):
            sep = "{" if i == 0 else ","
            parts.append(_text(f'{sep}"{name}":'))
            if isinstance(col, _Raw):  # JSON values already
                parts.append(col.text)
            elif pa.types.is_string(col.type):
                parts.append(pc.binary_join_element_wise(quote, col, quote, nothing))
            elif pa.types.is_floating(col.type):
                text = pc.cast(col, pa.string())
                text = pc.if_else(pc.is_nan(col), _text("null"), text)
                text = pc.replace_substring_regex(text, r"^(-?inf)$", r'"\1"')
                parts.append(text)
            else:
                text = pc.cast(col, pa.string())
                parts.append(pc.if_else(pc.is_null(col), _text("null"), text))
        parts.append(_text("}\n"))
        return _buffer(pc.binary_join_element_wise(*parts, nothing))


def _buffer(lines: Any) -> Any:
    """The lines end to end: the string array's character buffer, between its offsets."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


class _Raw:
    """Text already written as the JSON values it stands for (not quoted again)."""

    __slots__ = ("text",)

    def __init__(self, text: Any) -> None:
        self.text = text

    def take_rows(self, idx: np.ndarray) -> _Raw:
        return _Raw(_take(self.text, idx))

    @staticmethod
    def concat(a: _Raw, b: _Raw) -> _Raw:
        import pyarrow as pa

        return _Raw(pa.concat_arrays([a.text, b.text]))


class PerSampleSink:
    """Per-sample output as a run's row sink (``bcecli.run.sink.RowSink``): one record per row
    to ``out``, as ``fmt`` (csv, tsv or jsonl), the fields named once the run knows them
    (``top``: only the worst ``top`` records, worst first)."""

    needs_row_order = (
        "--per-sample writes rows in input order",
        "use {engine=local} (the default) for per-sample output",
    )

    def __init__(self, out: BinaryIO, fmt: str, *, top: int | None = None) -> None:
        self.out, self.fmt, self.top = out, fmt, top
        self.writer: PerSampleWriter | None = None

    def begin(self, columns: RowColumns) -> None:
        labels, preds = list(columns.labels), list(columns.preds)
        self.writer = PerSampleWriter(
            self.out, self.fmt, labels, preds, weighted=columns.weighted, ids=columns.ids,
            classes=columns.classes, top=self.top,
        )  # fmt: skip

    def write(self, scored: ScoredChunk) -> None:
        assert self.writer is not None
        self.writer.write(scored)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.finish()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def fail(self, error: BaseException) -> None:
        """The run failed: the records so far, then one that names ``error``."""
        if self.writer is not None:
            self.writer.fail(error)
