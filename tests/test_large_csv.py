"""CSV files many of pyarrow's stream blocks long: the numbers of the whole file, and errors
that name rows far into it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.readers import text

N = 300_000  # about 6 MiB: six stream blocks
SAME = ("n", "mean_loss", "sum_loss", "median_loss", "max_loss", "n_above_1", "accuracy",
        "histogram", "flags", "worst")  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, N)
    p = np.clip(rng.beta(2, 2, N) * 0.9 + 0.05 * y, 1e-6, 1 - 1e-6)
    return y, p


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, rows: tuple[np.ndarray, np.ndarray]) -> Path:
    y, p = rows
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w") as f:
        f.write("y_true,y_pred\n")
        f.writelines(f"{t},{float(q)!r}\n" for t, q in zip(y, p, strict=True))
    assert path.stat().st_size >= 4 * text.STREAM_BLOCK_BYTES
    return path


def score(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["score", str(path), "--format", "json"])
    return result.exit_code, result.stdout, result.stderr


def report(path: Path, code: int = 0) -> Any:
    got, out, err = score(path)
    assert got == code, err
    return json.loads(out)


def test_the_whole_file_is_scored(big: Path, rows: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = rows
    losses = -(y * np.log(p) + (1 - y) * np.log1p(-p))  # an independent reference
    a = report(big)
    assert a["n"] == N and a["n_excluded"] == 0
    assert a["mean_loss"] == pytest.approx(math.fsum(losses) / N, rel=1e-12)
    assert a["max_loss"] == pytest.approx(float(losses.max()), rel=1e-12)
    assert a["accuracy"] == pytest.approx(float(np.mean((p >= 0.5) == (y == 1))), abs=1e-15)


def test_crlf_and_quoted_files_read_as_the_plain_one(big: Path, tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.csv"  # Windows line ends, as Python's csv module writes them
    crlf.write_bytes(big.read_bytes().replace(b"\n", b"\r\n"))
    rstyle = tmp_path / "rstyle.csv"  # R's write.csv quotes the header and the row names
    lines = big.read_text().splitlines()
    with open(rstyle, "w") as f:
        f.write('"","y_true","y_pred"\n')
        f.writelines(f'"{i + 1}",{line}\n' for i, line in enumerate(lines[1:]))
    a, b, c = report(big), report(crlf), report(rstyle)
    for key in SAME:
        assert a[key] == b[key] == c[key], key


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
def test_a_bad_cell_far_into_the_file(big: Path, tmp_path: Path, line_end: bytes) -> None:
    lines = big.read_bytes().split(b"\n")
    bad_row = 254_321
    lines[bad_row + 1] = b"1,oops"  # +1: the header
    path = tmp_path / "bad.csv"
    path.write_bytes(line_end.join(lines))
    code, out, err = score(path)
    assert code == 3 and out == ""
    assert f"row {bad_row} (line {bad_row + 2})" in err and "'oops'" in err, err


def test_missing_value_spellings_far_into_the_file(big: Path, tmp_path: Path) -> None:
    # Every spelling of a missing value reads as missing in every block.
    lines = big.read_text().splitlines(keepends=True)
    spelled = {100_001: "NA", 150_002: "null", 200_003: "-", 250_004: "", 280_005: "nan"}
    for row, cell in spelled.items():
        lines[row + 1] = f"1,{cell}\n"
    lines[290_006 + 1] = "N/A,0.5\n"
    path = tmp_path / "missing.csv"
    path.write_text("".join(lines))
    a = report(path, code=1)  # the non_finite error flag's exit status
    excluded = sorted([*spelled, 290_006])
    assert a["n_excluded"] == len(excluded)
    flags = {f["id"]: f for f in a["flags"]}
    assert flags["non_finite"]["count"] == len(excluded)
    assert flags["non_finite"]["rows"] == excluded


def test_text_labels_keep_every_missing_spelling(tmp_path: Path) -> None:
    # With text labels too, "NA" reads as missing, not as a class named "NA".
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, N)
    p = rng.uniform(0.01, 0.99, N)
    words = np.array(["no", "yes"])[y]
    words[200_000] = "NA"
    path = tmp_path / "text.csv"
    with open(path, "w") as f:
        f.write("y_true,y_pred\n")
        f.writelines(f"{w},{float(q)!r}\n" for w, q in zip(words, p, strict=True))
    a = report(path, code=1)
    assert a["n_excluded"] == 1
    assert {f["id"]: f for f in a["flags"]}["non_finite"]["rows"] == [200_000]
    keep = np.arange(N) != 200_000
    yk, pk = y[keep], p[keep]
    reference = math.fsum(-(yk * np.log(pk) + (1 - yk) * np.log1p(-pk))) / (N - 1)
    assert a["mean_loss"] == pytest.approx(reference, rel=1e-12)


def test_a_line_end_inside_quotes_at_a_block_boundary(tmp_path: Path) -> None:
    # A quoted note that holds a line end, across the end of pyarrow's first stream block.
    rng = np.random.default_rng(8)
    n = 150_000
    y, p = rng.integers(0, 2, n), rng.uniform(0.01, 0.99, n)
    header = "y_true,y_pred,note\n"
    lines = [f"{a},{float(b)!r},ok\n" for a, b in zip(y, p, strict=True)]
    starts = np.cumsum([len(header)] + [len(line) for line in lines])  # where each line starts
    cut = len(header) + text.STREAM_BLOCK_BYTES  # blocks start where the data does
    k = int(np.searchsorted(starts, cut, side="right")) - 2
    plain = tmp_path / "plain.csv"
    plain.write_text(header + "".join(lines))
    lines[k] = f'{y[k]},{float(p[k])!r},"{"x" * 200}\nsecond line of the note"\n'
    assert starts[k] < cut < starts[k] + len(lines[k])
    path = tmp_path / "note.csv"
    path.write_text(header + "".join(lines))
    a, b = report(path), report(plain)
    assert a["n"] == n
    for key in SAME:
        assert a[key] == b[key], key
