"""Plain CSV files big enough to be cut at line ends and parsed in parallel give the same
report, and the same errors, as pyarrow's streaming reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.readers import text

N = 900_000  # about 17 MiB: cut into pieces


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, N)
    p = np.clip(rng.beta(2, 2, N) * 0.9 + 0.05 * y, 1e-6, 1 - 1e-6)
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w") as f:
        f.write("y_true,y_pred\n")
        for a in range(0, N, 100_000):
            block = zip(y[a : a + 100_000], p[a : a + 100_000], strict=True)
            rows = [f"{t},{float(q)!r}" for t, q in block]
            f.write("\n".join(rows) + "\n")
    assert path.stat().st_size >= 2 * text.SPLIT_BYTES
    return path


def score(path: Path, split: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    with monkeypatch.context() as m:
        if not split:
            m.setattr(text.CsvSource, "_can_split", lambda self: False)
        result = CliRunner().invoke(cli, ["score", str(path), "--format", "json"])
    return result.exit_code, result.stdout, result.stderr


def test_parallel_parse_equals_streaming(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code_a, out_a, _ = score(big, True, monkeypatch)
    code_b, out_b, _ = score(big, False, monkeypatch)
    assert code_a == code_b == 0
    a, b = json.loads(out_a), json.loads(out_b)
    assert a["n"] == N
    # exact statistics are identical; float tallies may differ in the last bits (other chunks)
    for key in ("n", "n_excluded", "mean_loss", "sum_loss", "median_loss", "max_loss",
                "n_above_1", "accuracy", "histogram", "flags", "worst"):  # fmt: skip
        assert a[key] == b[key], key
    assert close(a, b)


def close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def test_a_bad_cell_far_into_the_file(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = big.read_text().splitlines(keepends=True)
    bad_row = 812_345
    lines[bad_row + 1] = "1,oops\n"  # +1: the header
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines))
    for split in (True, False):
        code, out, err = score(path, split, monkeypatch)
        assert code == 3 and out == ""
        assert f"row {bad_row}" in err and "'oops'" in err, err


def flagged_report(path: Path, split: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    code, out, err = score(path, split, monkeypatch)
    assert code == 1, err  # the report, and the non_finite error flag's exit status
    return json.loads(out)


def test_missing_value_spellings_far_into_the_file(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every spelling of a missing value reads as missing in every piece, as when streaming.
    lines = big.read_text().splitlines(keepends=True)
    spelled = {300_001: "NA", 500_002: "null", 700_003: "-", 800_004: "", 850_005: "nan"}
    for row, cell in spelled.items():
        lines[row + 1] = f"1,{cell}\n"
    lines[880_006 + 1] = "N/A,0.5\n"
    path = tmp_path / "missing.csv"
    path.write_text("".join(lines))
    a, b = (flagged_report(path, split, monkeypatch) for split in (True, False))
    excluded = sorted([*spelled, 880_006])
    assert a["n_excluded"] == b["n_excluded"] == len(excluded)
    flags = {f["id"]: f for f in a["flags"]}
    assert flags["non_finite"]["count"] == len(excluded)
    assert flags["non_finite"]["rows"] == excluded
    assert a["mean_loss"] == b["mean_loss"]


def test_text_labels_keep_every_missing_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With text labels too, "NA" reads as missing, not as a class named "NA".
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, N)
    p = rng.uniform(0.01, 0.99, N)
    words = np.array(["no", "yes"])[y]
    words[600_000] = "NA"
    path = tmp_path / "text.csv"
    with open(path, "w") as f:
        f.write("y_true,y_pred\n")
        f.writelines(f"{w},{float(q)!r}\n" for w, q in zip(words, p, strict=True))
    assert path.stat().st_size >= 2 * text.SPLIT_BYTES
    a, b = (flagged_report(path, split, monkeypatch) for split in (True, False))
    assert a["n_excluded"] == b["n_excluded"] == 1
    assert {f["id"]: f for f in a["flags"]}["non_finite"]["rows"] == [600_000]
    assert a["mean_loss"] == b["mean_loss"]


def count_pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of every piece a file is cut into, appended as they are parsed."""
    pieces: list[int] = []
    split_batches = text.CsvSource._split_batches

    def counted(self: text.CsvSource, *args: Any) -> Any:
        for batch in split_batches(self, *args):
            pieces.append(len(next(iter(batch.values()))))
            yield batch

    monkeypatch.setattr(text.CsvSource, "_split_batches", counted)
    return pieces


@pytest.fixture(scope="module")
def big_crlf(big: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The same rows with Windows line ends, as Python's csv module writes them by default.
    path = tmp_path_factory.mktemp("crlf") / "big_crlf.csv"
    path.write_bytes(big.read_bytes().replace(b"\n", b"\r\n"))
    return path


def test_crlf_file_is_cut_into_pieces_and_equals_streaming(
    big: Path, big_crlf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = count_pieces(monkeypatch)
    code_a, out_a, _ = score(big_crlf, True, monkeypatch)
    assert len(pieces) >= 2 and sum(pieces) == N  # parsed in pieces, every row once
    code_b, out_b, _ = score(big_crlf, False, monkeypatch)
    code_c, out_c, _ = score(big, True, monkeypatch)
    assert code_a == code_b == code_c == 0
    a, b, c = json.loads(out_a), json.loads(out_b), json.loads(out_c)
    assert a["n"] == N
    for key in ("n", "mean_loss", "sum_loss", "median_loss", "max_loss", "n_above_1",
                "accuracy", "histogram", "flags", "worst"):  # fmt: skip
        assert a[key] == b[key] == c[key], key


def test_a_bad_cell_far_into_a_crlf_file(tmp_path: Path, big_crlf: Path) -> None:
    lines = big_crlf.read_bytes().split(b"\r\n")
    bad_row = 654_321
    lines[bad_row + 1] = b"0,oops"  # +1: the header
    path = tmp_path / "bad_crlf.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = CliRunner().invoke(cli, ["score", str(path), "--format", "json"])
    assert result.exit_code == 3 and result.stdout == ""
    assert f"row {bad_row}" in result.stderr and "'oops'" in result.stderr, result.stderr


def test_short_lines_are_cut_into_pieces_of_fewer_bytes(
    big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A piece holds about SPLIT_ROWS lines when they are short (a file of labels: 2 bytes a
    # line as text, 8 parsed), not SPLIT_BYTES of them.
    monkeypatch.setattr(text, "SPLIT_ROWS", 100_000)
    pieces = count_pieces(monkeypatch)
    code_a, out_a, _ = score(big, True, monkeypatch)
    assert sum(pieces) == N and len(pieces) >= 8
    assert max(pieces) < 110_000  # about 100k lines of about 20 bytes each: 2 MB pieces
    code_b, out_b, _ = score(big, False, monkeypatch)
    assert code_a == code_b == 0
    a, b = json.loads(out_a), json.loads(out_b)
    for key in ("n", "mean_loss", "sum_loss", "median_loss", "n_above_1", "histogram", "worst"):
        assert a[key] == b[key], key


def test_quoted_cells_are_cut_into_pieces(
    big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R's write.csv quotes the header and the row names: every line has quotes, none spans lines.
    lines = big.read_text().splitlines()
    path = tmp_path / "rstyle.csv"
    with open(path, "w") as f:
        f.write('"","y_true","y_pred"\n')
        f.writelines(f'"{i + 1}",{line}\n' for i, line in enumerate(lines[1:]))
    pieces = count_pieces(monkeypatch)
    code_a, out_a, _ = score(path, True, monkeypatch)
    assert len(pieces) >= 2 and sum(pieces) == N
    code_b, out_b, _ = score(path, False, monkeypatch)
    code_c, out_c, _ = score(big, True, monkeypatch)
    assert code_a == code_b == code_c == 0
    a, b, c = json.loads(out_a), json.loads(out_b), json.loads(out_c)
    for key in ("n", "mean_loss", "sum_loss", "median_loss", "n_above_1", "histogram", "worst"):
        assert a[key] == b[key] == c[key], key


def test_a_line_end_inside_quotes_at_a_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces of 1 MiB; the second cut would fall on the line end inside a quoted note.
    piece = 1 << 20
    monkeypatch.setattr(text, "SPLIT_BYTES", piece)
    rng = np.random.default_rng(8)
    n = 150_000
    y, p = rng.integers(0, 2, n), rng.uniform(0.01, 0.99, n)
    header = "y_true,y_pred,note\n"
    lines = [f"{a},{float(b)!r},ok\n" for a, b in zip(y, p, strict=True)]
    starts = np.cumsum([len(header)] + [len(line) for line in lines])  # where each line starts

    def line_at(offset: int) -> int:
        return int(np.searchsorted(starts, offset, side="right")) - 1

    first = line_at(len(header) + piece)  # the first piece ends with this line
    k = line_at(int(starts[first + 1]) + piece)  # the line the second cut falls in
    lines[k] = f'{y[k]},{float(p[k])!r},"{"x" * 200}\nsecond line of the note"\n'
    path = tmp_path / "note.csv"
    path.write_text(header + "".join(lines))

    streamed_after: list[int] = []  # rows parsed before pyarrow's streaming reader took over
    streamed = text.CsvSource._streamed_batches

    def spy(self: text.CsvSource, stream: Any, columns: Any, types: Any, done: int = 0) -> Any:
        streamed_after.append(done)
        yield from streamed(self, stream, columns, types, done)

    monkeypatch.setattr(text.CsvSource, "_streamed_batches", spy)
    code_a, out_a, err_a = score(path, True, monkeypatch)
    assert code_a == 0, err_a
    assert streamed_after == [first + 1]  # the first piece parsed, the rest streamed
    code_b, out_b, _ = score(path, False, monkeypatch)
    a, b = json.loads(out_a), json.loads(out_b)
    assert a["n"] == b["n"] == n
    for key in ("mean_loss", "sum_loss", "median_loss", "n_above_1", "histogram", "worst"):
        assert a[key] == b[key], key
