"""NPY and NPZ inputs keep a bounded resident set: their rows are read a batch at a time into
memory that is freed once the batch is scored, and compressed NPZ arrays are decompressed a batch
at a time."""

from __future__ import annotations

import mmap
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bcecli.readers import Source, arrays

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident set from /proc"
)

MB = 1 << 20


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * mmap.PAGESIZE


N = 8 * MB  # 8M float64: 64 MB per array


@pytest.fixture(scope="module")
def values() -> np.ndarray:
    return np.random.default_rng(6).uniform(0, 1, N)


def peak_growth(open_source: Callable[[], Source], columns: list[str]) -> tuple[int, int]:
    """Rows read and the most the resident set grew while opening and reading a source."""
    base = resident_bytes()
    peak = rows = 0
    for batch in open_source().batches(columns):
        rows += len(batch[columns[0]])
        for a in batch.values():
            a.sum()  # every page read
        peak = max(peak, resident_bytes() - base)
    return rows, peak


def test_npy_is_read_in_bounded_memory(values: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "p.npy"
    np.save(path, values)
    rows, growth = peak_growth(lambda: arrays.NpySource(str(path), "y_pred"), ["y_pred"])
    assert rows == N
    # 64 MB read; a batch or two of them are resident at a time
    assert growth < 32 * MB, growth / MB


def test_stored_npz_is_read_in_bounded_memory(values: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "pair.npz"
    np.savez(path, y_true=(values > 0.5) * 1.0, y_pred=values)
    rows, growth = peak_growth(lambda: arrays.NpzSource(str(path)), ["y_true", "y_pred"])
    assert rows == N
    assert growth < 48 * MB, growth / MB  # 128 MB read, two columns


def test_compressed_npz_is_decompressed_in_bounded_memory(
    values: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "pair.npz"
    np.savez_compressed(path, y_true=(values > 0.5) * 1.0, y_pred=values)
    rows, growth = peak_growth(lambda: arrays.NpzSource(str(path)), ["y_true", "y_pred"])
    assert rows == N
    assert growth < 48 * MB, growth / MB  # 128 MB decompressed
