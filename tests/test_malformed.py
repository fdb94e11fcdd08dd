"""Malformed input: every bad file gives one clear ``Error:`` line (exit 2 or 3) or a report
with the right flag (exit 0 or 1), never a traceback.

The corpus lives in ``tests/data/bad``: each file has a ``<name>.expect.json`` sidecar (see
``make_corpus.py`` there for the keys). Cases that need a large file, file modes or a pickle
with a payload are built here at test time.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from bcecli.cli import cli

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
SIDECARS = sorted(CORPUS.glob("*.expect.json"))
SUFFIX = ".expect.json"
MB = 1 << 20


def case_id(path: Path) -> str:
    return path.name[: -len(SUFFIX)]


def run(args: list[str], stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, args, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.stderr}"
    )
    return result


def error_line(result: Result) -> str:
    """The one non-empty stderr line of a failed run, which must start with 'Error: '."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0]


def assert_clean(result: Result) -> None:
    """No traceback and no raw terminal escape anywhere in the output."""
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, stream
        assert "\x1b" not in stream, repr(stream)
        assert "\x07" not in stream, repr(stream)


def lookup(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for key in dotted.split("."):
        value = value[key]
    return value


def test_corpus_is_big_enough() -> None:
    assert len(SIDECARS) >= 45
    for sidecar in SIDECARS:
        spec = json.loads(sidecar.read_text())
        assert {"description", "args", "exit", "stderr_contains"} <= set(spec), sidecar.name


@pytest.mark.parametrize("sidecar", SIDECARS, ids=case_id)
def test_malformed_input(
    sidecar: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    spec = json.loads(sidecar.read_text())
    if spec.get("known_issue"):
        request.applymarker(pytest.mark.xfail(reason=spec["known_issue"], strict=True))
    name = case_id(sidecar)
    monkeypatch.chdir(CORPUS)
    stdin = (CORPUS / name).read_bytes() if spec.get("stdin") else None
    args = ["score", "-" if stdin is not None else name, *spec["args"]]
    if "--format" not in args and "-f" not in args:
        args += ["--format", "json"]

    result = run(args, stdin)

    assert result.exit_code in spec["exit"], (
        f"{spec['description']}: exit {result.exit_code}, expected {spec['exit']}\n"
        f"stderr: {result.stderr}\nstdout: {result.stdout[:2000]}"
    )
    assert_clean(result)
    if result.exit_code in (2, 3):
        line = error_line(result)
        for part in spec["stderr_contains"]:
            assert part in line, f"{part!r} not in {line!r}"
        assert result.stdout == ""
        return
    data = json.loads(result.stdout)
    assert data["schema"] == 1
    flags = [f["id"] for f in data["flags"]]
    if spec.get("flag"):
        assert spec["flag"] in flags, flags
    for key, value in spec.get("json", {}).items():
        assert lookup(data, key) == value, (key, lookup(data, key))
    notes = " | ".join(data.get("notes", []))
    for part in spec.get("notes_contain", []):
        assert part in notes, f"{part!r} not in notes: {notes}"


# --------------------------------------------------------------------------------------------
# pickles never load


class _CreatesFile:
    """Unpickling this calls open(path, 'w'), which creates the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_pickle_payload_in_npy_is_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    evil = np.empty(2, dtype=object)
    evil[0], evil[1] = _CreatesFile(str(target)), 0.5
    np.save(tmp_path / "evil.npy", evil, allow_pickle=True)
    np.save(tmp_path / "labels.npy", np.array([1.0, 0.0]))
    # the payload is real: loading it with pickles allowed would create the file
    assert b"pwned.txt" in (tmp_path / "evil.npy").read_bytes()

    result = run(["score", str(tmp_path / "evil.npy"), "--labels", str(tmp_path / "labels.npy")])

    assert result.exit_code == 3
    assert_clean(result)
    assert "pickled Python objects" in error_line(result)
    assert not target.exists()


def test_pickle_payload_in_npz_is_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    evil = np.empty(2, dtype=object)
    evil[0], evil[1] = _CreatesFile(str(target)), 0.5
    np.savez(tmp_path / "evil.npz", y_true=np.array([1, 0]), y_pred=evil, allow_pickle=True)

    result = run(["score", str(tmp_path / "evil.npz")])

    assert result.exit_code == 3
    assert "pickled" in error_line(result)
    assert not target.exists()


def test_plain_pickle_file_is_not_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    path = tmp_path / "preds.pkl"
    path.write_bytes(pickle.dumps(_CreatesFile(str(target))))

    result = run(["score", str(path)])

    assert result.exit_code == 3
    assert "pickle" in error_line(result)
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# file modes


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.csv"
    path.write_text("y_true,y_pred\n1,0.9\n0,0.2\n")
    path.chmod(0)
    try:
        result = run(["score", str(path), "--format", "json"])
    finally:
        path.chmod(0o644)
    assert_clean(result)
    if os.geteuid() == 0:  # root reads anything: at least no traceback
        assert result.exit_code in (0, 1, 2, 3)
        return
    assert result.exit_code in (2, 3)
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("Error: ") and "locked.csv" in last


# --------------------------------------------------------------------------------------------
# large inputs: past the first MiB that the CSV reader inspects up front


def refused(path: Path) -> str:
    """The one error line of scoring ``path``, refused with exit status 3."""
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 3
    assert_clean(result)
    return error_line(result)


def _rows(n: int) -> str:
    return "".join(f"{i % 2},{0.3 + 0.4 * (i % 2):.1f}\n" for i in range(n))


def test_five_megabyte_header_cell(tmp_path: Path) -> None:
    # a long column name is read as pyarrow reads it (up to 16 MiB), and shown shortened
    path = tmp_path / "wide.csv"
    path.write_text("y_true," + "h" * (5 * MB) + "\n1,0.9\n0,0.2\n")
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 2
    assert len(result.stderr) < 10_000  # the notes shorten it


def test_five_megabyte_cell_in_an_unused_column(tmp_path: Path) -> None:
    path = tmp_path / "long_note.csv"
    path.write_text("y_true,y_pred,note\n1,0.9," + "x" * (5 * MB) + "\n0,0.2,short\n1,0.7,\n")
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 3


def test_five_megabyte_cell_in_the_predictions(tmp_path: Path) -> None:
    path = tmp_path / "long_pred.csv"
    path.write_text("y_true,y_pred\n1,0.9\n0," + "z" * (5 * MB) + "\n1,0.7\n")
    line = refused(path)
    assert "row 1" in line and "y_pred" in line and len(line) < 1000


def test_a_line_longer_than_the_block(tmp_path: Path) -> None:
    path = tmp_path / "one_line.csv"
    path.write_bytes(b"a," * (9 * MB))
    line = refused(path)
    assert "one_line.csv" in line and "longer than" in line and len(line) < 1000


@pytest.mark.parametrize(
    ("name", "bad_line", "says"),
    [
        ("big.csv", "1,oops\n", ["row 300000", "'oops'", "y_pred"]),
        ("big_labels.csv", "\n\nmaybe,0.5\n", ["row 300000", "'maybe'", "y_true"]),
        ("big_ragged.csv", "1,0.5,7\n", ["row 300000 (line 300002)", "3 fields"]),
    ],
)
def test_a_bad_row_after_the_first_mebibyte(
    tmp_path: Path, name: str, bad_line: str, says: list[str]
) -> None:
    n = 300_000  # about 2 MiB
    path = tmp_path / name
    path.write_text("y_true,y_pred\n" + _rows(n) + bad_line + _rows(10))
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 3
    line = error_line(result)
    assert all(s in line for s in says), line


def test_gzip_truncated_after_the_first_mebibyte(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    body = "".join(
        f"{y},{p:.17f}\n"
        for y, p in zip(rng.integers(0, 2, 200_000), rng.random(200_000), strict=True)
    )
    whole = gzip.compress(("y_true,y_pred\n" + body).encode(), mtime=0)
    path = tmp_path / "big.csv.gz"
    path.write_bytes(whole[: int(len(whole) * 0.8)])
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 3
    assert_clean(result)
    assert "gzip" in error_line(result)


def test_length_mismatch_found_while_streaming(tmp_path: Path) -> None:
    n = 200_000
    preds = tmp_path / "preds.csv"
    preds.write_text("y_pred\n" + "".join(f"{0.3 + 0.4 * (i % 2):.1f}\n" for i in range(n)))
    np.save(tmp_path / "labels.npy", np.arange(n - 1) % 2)
    result = run(["score", str(preds), "--labels", str(tmp_path / "labels.npy")])
    assert result.exit_code == 3
    line = error_line(result)
    assert "200,000 rows" in line and "199,999 rows" in line and "one extra row" in line


def test_large_good_csv_scores(tmp_path: Path) -> None:
    n = 300_000
    path = tmp_path / "big_ok.csv"
    path.write_text("y_true,y_pred\n" + _rows(n))
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == n


# --------------------------------------------------------------------------------------------
# escapes in column names never reach the terminal


@pytest.mark.parametrize("fmt", ["table", "tsv", "csv"])
def test_escape_sequences_in_names_are_shown_escaped(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CORPUS)
    result = run(["score", "control_chars_header.csv", "--format", fmt, "--no-color"])
    assert result.exit_code == 0, result.stderr
    assert_clean(result)
    if fmt == "table":
        assert "\\x1b" in result.stdout  # the name is there, escaped


def test_per_sample_header_has_no_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    result = run(["score", "control_chars_header.csv", "--per-sample", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert_clean(result)


# --------------------------------------------------------------------------------------------
# pipes (bce score <(zcat preds.csv.gz)): read once, never peeked at twice


def _fifo(tmp_path: Path, data: bytes) -> tuple[Path, threading.Thread]:
    path = tmp_path / "pipe"
    os.mkfifo(path)

    def feed() -> None:
        with open(path, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    return path, writer


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_csv_through_a_named_pipe(tmp_path: Path) -> None:
    path, writer = _fifo(tmp_path, b"y_true,y_pred\n1,0.9\n0,0.2\n1,0.7\n0,0.4\n")
    result = run(["score", str(path), "--format", "json"])
    writer.join(5)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 4


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_bad_cell_through_a_named_pipe(tmp_path: Path) -> None:
    path, writer = _fifo(tmp_path, b"y_true,y_pred\n1,0.9\n0,bad\n")
    result = run(["score", str(path), "--format", "json"])
    writer.join(5)
    assert result.exit_code == 3
    line = error_line(result)
    assert "row 1" in line and "'bad'" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_npy_through_a_named_pipe(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([0.9, 0.2]))
    path, writer = _fifo(tmp_path, buf.getvalue())
    result = run(["score", str(path), "--format", "json"])
    writer.join(5)
    assert result.exit_code == 3
    assert "through a pipe" in error_line(result)


def test_file_name_with_a_newline_and_an_escape(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines\x1b[2J.csv"
    path.write_text("y_true,y_pred\n1,0.9\n0,abc\n")
    line = refused(path)
    assert "two\\nlines\\x1b[2J.csv" in line and "'abc'" in line
