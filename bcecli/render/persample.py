"""Per-sample output: one record per input row, in input order, streamed chunk by chunk.

CSV/TSV go through pyarrow's C++ writer and JSONL through pyarrow string kernels, so a
ten-million-row stream costs seconds, not minutes. Excluded rows are written too, with an empty
loss and the reason in ``flags``.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

import numpy as np

from bcecli.core.chunk import ScoredChunk


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
    """Writes ScoredChunks to a binary stream as csv, tsv or jsonl."""

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
        self._header_done = False

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
        cols = self._columns(scored)
        if self.fmt == "jsonl":
            self._write_jsonl(cols)
        else:
            self._write_delimited(cols, "\t" if self.fmt == "tsv" else ",")
        self.out.flush()

    def _write_delimited(self, cols: list[Any], delimiter: str) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if not self._header_done:
            self.out.write((delimiter.join(self.names) + "\n").encode())
            self._header_done = True
        table = pa.table(cols, names=self.names)
        # Empty cells for NaN (an excluded row's loss), so the column stays numeric to readers.
        table = _blank_nan(table)
        pacsv.write_csv(
            table,
            self.out,
            write_options=pacsv.WriteOptions(
                include_header=False, delimiter=delimiter, quoting_style="none"
            ),
        )

    def _write_jsonl(self, cols: list[Any]) -> None:
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
        self.out.write("".join(lines.to_pylist()).encode())


def _blank_nan(table: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        cols.append(col)
    return pa.table(cols, names=table.column_names)
