"""A Parquet file is read row group by row group in bounded memory: what pyarrow holds while bce
reads a file does not grow with the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bcecli.readers import parquet


def peak_arrow_bytes(path: Path) -> tuple[int, int]:
    """Rows read and the most memory pyarrow held at once while bce read ``path``."""
    src = parquet.ParquetSource(str(path))
    base = pa.total_allocated_bytes()
    peak = rows = 0
    for batch in src.batches(["y_true", "y_pred"]):
        rows += len(batch["y_pred"])
        peak = max(peak, pa.total_allocated_bytes() - base)
    return rows, peak


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    peaks = {}
    for n in (1_000_000, 4_000_000):
        table = pa.table({"y_true": rng.integers(0, 2, n) * 1.0, "y_pred": rng.uniform(0, 1, n)})
        path = tmp_path / f"{n}.parquet"
        pq.write_table(table, path, row_group_size=1 << 17)
        del table
        rows, peaks[n] = peak_arrow_bytes(path)
        assert rows == n
    # Pre-buffered reads kept every row group read so far: 4x the rows held about 3x the memory.
    assert peaks[4_000_000] < 1.25 * peaks[1_000_000], peaks
