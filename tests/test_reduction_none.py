"""--reduction none: every per-sample loss, in row order, kept on the side (in memory, then in a
temporary file) rather than in a Python list, and written out a block at a time."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli import spool
from bcecli.cli import cli

N = 150_000  # a few blocks of losses


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(17)
    y = rng.integers(0, 2, N)
    p = rng.uniform(0.001, 0.999, N)
    expected = np.where(y == 1, -np.log(p), -np.log(1 - p))
    cells = [repr(float(v)) for v in p]
    cells[7] = ""  # a missing prediction: excluded, its loss NaN
    expected[7] = np.nan
    path = tmp_path_factory.mktemp("none") / "preds.csv"
    path.write_text(
        "y_true,y_pred\n" + "".join(f"{a},{b}\n" for a, b in zip(y, cells, strict=True))
    )
    return path, expected


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["score", *args, "--reduction", "none", "--fail-on", "never"])


@pytest.fixture(params=[False, True], ids=["in memory", "spilled to a file"])
def spilled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param:
        monkeypatch.setattr(spool, "IN_MEMORY_BYTES", 1 << 10)
    return bool(request.param)


def test_raw_lists_every_loss_in_row_order(data: tuple[Path, np.ndarray], spilled: bool) -> None:
    path, expected = data
    result = run(str(path), "--raw")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[-1] == "" and len(lines) == N + 1  # one per row, then the final newline
    got = np.array([float(v) for v in lines[:-1]])
    np.testing.assert_array_equal(got, expected)  # NaN where expected is NaN
    assert lines[7] == "nan"


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_losses_list(data: tuple[Path, np.ndarray], spilled: bool, fmt: str) -> None:
    path, expected = data
    result = run(str(path), "--format", fmt)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == N - 1 and report["n_excluded"] == 1
    losses = report["losses"]
    assert losses[7] is None
    got = np.array([np.nan if v is None else v for v in losses])
    np.testing.assert_array_equal(got, expected)
    assert list(report)[-1] == "losses"


def test_a_temporary_file_that_cannot_be_written_is_one_clear_error(
    data: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Full:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    monkeypatch.setattr(spool.tempfile, "SpooledTemporaryFile", Full)
    result = run(str(data[0]), "--raw")
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.startswith("Error: cannot keep the per-sample losses")
    assert "No space left on device" in result.stderr and "TMPDIR" in result.stderr
