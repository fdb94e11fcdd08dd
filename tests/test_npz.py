"""NPZ archives: stored arrays are read where they lie in the archive, compressed ones are
decompressed a batch at a time, arrays the run does not use are never loaded, and every way
gives the report the NPY files of the same arrays give."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.readers.arrays import DECOMPRESSED_BATCH_ROWS, NpzSource

N = 50_000


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, N).astype(np.float64)
    p = np.clip(rng.beta(2, 2, N) * 0.9 + 0.05 * y, 1e-6, 1 - 1e-6)
    return {"y_true": y, "y_pred": p}


def report(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def same_numbers(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("n", "mean_loss", "sum_loss", "median_loss", "max_loss", "n_above_1",
                "accuracy", "brier", "histogram", "worst"):  # fmt: skip
        assert a[key] == b[key], key


@pytest.fixture(scope="module")
def npy_report(arrays: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("npy")
    np.save(d / "y.npy", arrays["y_true"])
    np.save(d / "p.npy", arrays["y_pred"])
    return report(str(d / "p.npy"), "--labels", str(d / "y.npy"))


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_an_archive_gives_the_report_of_its_npy_files(
    arrays: dict[str, np.ndarray], npy_report: Any, tmp_path: Path, save: Any
) -> None:
    path = tmp_path / "pair.npz"
    save(path, **arrays)
    src = NpzSource(str(path))
    stored = save is np.savez
    assert src.mapped == stored
    for key, want in arrays.items():
        np.testing.assert_array_equal(column(src, key), want)
    same_numbers(report(str(path)), npy_report)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_fortran_order_columns_read_in_their_order(tmp_path: Path, save: Any) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (N, 3)).astype(np.float64)
    p = rng.uniform(0.01, 0.99, (N, 3))
    save(tmp_path / "c.npz", y_true=y, y_pred=p)
    save(tmp_path / "f.npz", y_true=np.asfortranarray(y), y_pred=np.asfortranarray(p))
    read = column(NpzSource(str(tmp_path / "f.npz")), "y_pred")
    np.testing.assert_array_equal(read, p)
    c, f = report(str(tmp_path / "c.npz")), report(str(tmp_path / "f.npz"))
    assert c["n"] == f["n"] == N
    same_numbers(c, f)


def column(src: NpzSource, key: str) -> np.ndarray:
    """Every row of one array of the archive, batch after batch."""
    return np.concatenate([b[key] for b in src.batches([key])])  # type: ignore[misc]


def npy_bytes(header_shape: tuple[int, ...], data: np.ndarray) -> bytes:
    """An NPY file whose header promises ``header_shape`` but holds ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": header_shape}
    )
    return buf.getvalue() + data.astype("<f8").tobytes()


def test_an_unused_array_is_never_read(
    arrays: dict[str, np.ndarray], npy_report: Any, tmp_path: Path
) -> None:
    path = tmp_path / "extra.npz"
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as zf:  # a member cut short: reading it would fail
        zf.writestr("embedding.npy", npy_bytes((N, 64), np.zeros(10)))
    same_numbers(report(str(path), "--label-col", "y_true", "--pred-col", "y_pred"), npy_report)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_used_array_cut_short_is_one_clear_error(
    arrays: dict[str, np.ndarray], tmp_path: Path, compression: int
) -> None:
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("y_true.npy", npy_bytes((N,), arrays["y_true"]))
        zf.writestr("y_pred.npy", npy_bytes((N,), arrays["y_pred"][: N // 2]))
    result = CliRunner().invoke(cli, ["score", str(path), "--format", "json"])
    assert result.exit_code == 3 and result.stdout == ""
    assert "'y_pred'" in result.stderr and "truncated or corrupt" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_compressed_arrays_are_decompressed_a_batch_at_a_time(tmp_path: Path) -> None:
    n = 2 * DECOMPRESSED_BATCH_ROWS + 12_345  # two whole batches and a part
    rng = np.random.default_rng(9)
    y, p = (rng.uniform(0, 1, n) > 0.5) * 1.0, rng.uniform(0, 1, (n, 2))
    path = tmp_path / "c.npz"
    np.savez_compressed(path, y_true=y, y_pred=p)
    src = NpzSource(str(path))
    assert not src.mapped  # read front to back
    batches = list(src.batches(["y_true", "y_pred"]))
    assert [len(b["y_pred"]) for b in batches] == [DECOMPRESSED_BATCH_ROWS] * 2 + [12_345]
    np.testing.assert_array_equal(np.concatenate([b["y_true"] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b["y_pred"] for b in batches]), p)


def test_stored_and_compressed_arrays_in_one_archive(
    arrays: dict[str, np.ndarray], npy_report: Any, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for (key, arr), compression in zip(
            arrays.items(), [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], strict=True
        ):
            buf = io.BytesIO()
            np.save(buf, arr)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy"), buf.getvalue(), compress_type=compression)
    src = NpzSource(str(path))
    assert not src.mapped
    np.testing.assert_array_equal(column(src, "y_true"), arrays["y_true"])
    same_numbers(report(str(path)), npy_report)
