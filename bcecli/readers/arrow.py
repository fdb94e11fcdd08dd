"""Arrow arrays as a batch holds them: float64 numpy arrays (nulls as NaN) read straight from
the arrays' buffers, or a ``TextColumn``.

(``Array.to_numpy(zero_copy_only=False)`` and arrow scalars import pandas: half a second of
start-up that the buffers avoid.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bcecli.readers.base import Column, TextColumn


def column_from_arrow(col: Any) -> Column:
    """An arrow column as a batch holds it: float64 (nulls as NaN), or a ``TextColumn``."""
    import pyarrow as pa

    if hasattr(col, "combine_chunks"):  # a ChunkedArray: one contiguous array
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_boolean(t):
        return _bool_values(col)
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return _float_values(col if t == pa.float64() else col.cast(pa.float64(), safe=False))
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return TextColumn(col)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def distinct_strings(columns: Iterable[Any], limit: int) -> list[str] | None:
    """The distinct non-empty strings of arrow string arrays, sorted (None: more than
    ``limit``)."""
    import pyarrow.compute as pc

    seen: set[str] = set()
    for col in columns:
        seen.update(v for v in pc.unique(col).to_pylist() if v)
        if len(seen) > limit:
            return None
    return sorted(seen)


def dictionary_indices(encoded: Any, missing: int) -> np.ndarray:
    """A dictionary array's indices as numpy, ``missing`` where a value is missing; read from
    the buffers (``fill_null`` makes an arrow scalar, which imports pandas: 0.3 s)."""
    indices = encoded.indices
    n, offset = len(indices), indices.offset
    width = indices.type.bit_width // 8
    data = indices.buffers()[1]
    out = np.frombuffer(data, dtype=f"<i{width}", count=offset + n)[offset:].astype(np.intp)
    if indices.null_count:
        out[~_present(indices)] = missing
    return out


def _float_values(arr: Any) -> np.ndarray:
    """A float64 arrow array as numpy, nulls as NaN."""
    n, offset = len(arr), arr.offset
    data = arr.buffers()[1]
    if n == 0 or data is None:
        return np.full(n, np.nan)
    values = np.frombuffer(data, dtype=np.float64, count=offset + n)[offset:]
    if arr.null_count:
        values = np.where(_present(arr), values, np.nan)
    return values


def _bool_values(arr: Any) -> np.ndarray:
    """A boolean arrow array as float64 (1.0 for true), nulls as NaN, read from its value
    bitmap (arrow's own cast to float64 takes five times as long)."""
    if len(arr) == 0 or arr.buffers()[1] is None:
        return np.full(len(arr), np.nan)
    values = _bits(arr, 1).astype(np.float64)
    if arr.null_count:
        values[~_present(arr)] = np.nan
    return values


def _present(arr: Any) -> np.ndarray:
    """Which rows of an arrow array hold a value, read from its validity bitmap."""
    return _bits(arr, 0).astype(bool)


def _bits(arr: Any, buffer: int) -> np.ndarray:
    """One bit bitmap of an arrow array (0: validity, 1: a boolean array's values), a 0/1
    byte per row."""
    n, offset = len(arr), arr.offset
    bits = np.frombuffer(arr.buffers()[buffer], dtype=np.uint8)
    return np.unpackbits(bits, count=offset + n, bitorder="little")[offset:]
