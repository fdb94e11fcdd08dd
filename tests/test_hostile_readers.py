"""Hostile input, round two (issue 21): files that change while they are read, lines that are
too long anywhere in a file, closed streams. Each case is built here at test time (the files
that can be committed are in ``tests/data/bad``); every subprocess has a timeout, so a hang
fails instead of blocking the suite."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from bcecli.cli import cli
from bcecli.errors import InputError
from bcecli.readers.arrays import NpySource, NpzSource
from bcecli.readers.partitions import _csv_without_rows
from bcecli.readers.text import CsvSource

MB = 1 << 20
TIMEOUT = 60


def run(args: list[str]) -> Result:
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.stderr}"
    )
    return result


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr and "bug in bce" not in result.stderr
    return lines[0]


def bce(*args: str, stdin: int | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    """``bce`` in a subprocess, with a timeout (a hang fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "bcecli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=stdin,
        **kw,  # type: ignore[call-overload]
    )


def write_rows(path: Path, n: int, *, extra: str = "") -> int:
    """A CSV of ``n`` rows (labels alternating, predictions 0.3 / 0.7), its size returned."""
    rows = "".join(f"{i % 2},{0.3 + 0.4 * (i % 2):.1f}{extra}\n" for i in range(n))
    path.write_text(("y_true,y_pred" + (",note" if extra else "") + "\n") + rows)
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# 1. a CSV that shrinks or grows while it is read


@pytest.mark.parametrize("change", ["shrink", "grow", "rewrite"])
def test_a_csv_changed_between_batches_is_refused(tmp_path: Path, change: str) -> None:
    path = tmp_path / "live.csv"
    size = write_rows(path, 600_000)  # about 4 MiB: several 1 MiB blocks
    src = CsvSource(str(path))
    batches = src.batches(["y_true", "y_pred"])
    first = next(batches)
    assert len(first["y_true"]) > 0
    if change == "shrink":
        os.truncate(path, size // 2)
    elif change == "grow":
        with open(path, "a") as f:
            f.write("1,0.5\n" * 100_000)
    else:  # the same size, written again in place
        time.sleep(0.01)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            f.write(b"1")
    with pytest.raises(InputError) as err:
        for _ in batches:
            pass
    src.close()
    line = err.value.line()
    assert "live.csv: changed while it was read" in line, line
    want = {"shrink": "shrank from", "grow": "grew from", "rewrite": "was rewritten"}[change]
    assert want in line, line


def test_an_unchanged_csv_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "still.csv"
    write_rows(path, 600_000)
    src = CsvSource(str(path))
    n = sum(len(b["y_true"]) for b in src.batches(["y_true", "y_pred"]))
    src.close()
    assert n == 600_000


def wait_until_open(pid: int, path: Path) -> None:
    """Until process ``pid`` holds ``path`` open (or 20 s have passed)."""
    fds = Path(f"/proc/{pid}/fd")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                return
        except OSError:  # a descriptor closed while listed
            pass
        time.sleep(0.005)


def score_while(args: list[str], path: Path, meddle: Callable[[], None]) -> tuple[int, str, str]:
    """``bce score ARGS --format json`` in a child, ``meddle`` run in another thread once the
    child holds ``path`` open: (exit status, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bcecli", "score", *args, "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def when_open() -> None:
        wait_until_open(proc.pid, path)
        meddle()

    t = threading.Thread(target=when_open)
    t.start()
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        t.join()
    return proc.returncode, out, err


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("change", ["shrink", "grow"])
def test_a_csv_changed_by_another_thread_never_hangs(tmp_path: Path, change: str) -> None:
    """The running condition itself: another thread rewrites the file while bce reads it.
    Either bce finished first (the whole file, exit 0) or it says that the file changed."""
    path = tmp_path / "live.csv"
    n = 3_000_000  # about 20 MiB
    size = write_rows(path, n)

    def meddle() -> None:
        if change == "shrink":
            os.truncate(path, size // 3)
        else:
            with open(path, "a") as f:
                f.write("1,0.5\n" * 500_000)

    code, out, err = score_while([str(path)], path, meddle)
    assert "Traceback" not in err
    if code == 0:
        assert json.loads(out)["n"] == n
    else:
        assert code == 3, err
        assert "changed while it was read" in err.strip().splitlines()[-1], err


# --------------------------------------------------------------------------------------------
# 5. the line length is bounded throughout the file, not only in its first MiB


@pytest.mark.parametrize("length", [3 * MB, 20 * MB])
def test_a_long_line_after_the_first_mebibyte(tmp_path: Path, length: int) -> None:
    path = tmp_path / "long.csv"
    rows = "".join(f"{i % 2},0.{i % 9 + 1},x\n" for i in range(200_000))  # 1.6 MiB
    with open(path, "w") as f:
        f.write("y_true,y_pred,note\n" + rows + "1,0.5," + "z" * length + "\n" + rows)
    line = error_line(run(["score", str(path), "--format", "json"]))
    assert "long.csv: line 200,002 is longer than" in line, line
    assert len(line) < 400


def test_a_long_cell_in_the_first_mebibyte_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "note.csv"
    path.write_text("y_true,y_pred,note\n1,0.9," + "x" * (3 * MB) + "\n0,0.2,short\n")
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 2


# --------------------------------------------------------------------------------------------
# 17. closed stdin


def test_stdin_closed() -> None:
    done = bce("score", "-", "--format", "json", stdin=subprocess.DEVNULL)
    assert done.returncode == 3 and "is empty" in done.stderr  # an empty stream, not closed
    closed = subprocess.run(
        f"exec {sys.executable} -m bcecli score - --format json <&-",
        shell=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    lines = closed.stderr.strip().splitlines()
    assert closed.returncode == 2, closed.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "stdin is closed" in lines[0]


def test_no_outputs_in_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "empty_k.npz"
    np.savez(path, y_true=np.zeros(5), y_pred=np.zeros((5, 0)))
    line = error_line(run(["score", str(path)]))
    assert "empty_k.npz: array 'y_pred' has shape (5, 0)" in line


# --------------------------------------------------------------------------------------------
# 3, 5, 7, 15. partitions: link loops, aliases, pipes, empty files, files that are not data


def partition(path: Path, rows: int, start: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{i % 2},{0.2 + 0.6 * (i % 2):.1f}\n" for i in range(start, start + rows))
    path.write_text("y_true,y_pred\n" + body)


def score_json(target: str) -> tuple[dict[str, object], str]:
    done = bce("score", target, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return data, " | ".join(data["notes"])  # type: ignore[arg-type]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """run-x/ with three partitions, a link ``latest -> run-x`` beside it, and inside it a link
    to itself and one to its parent (two loops)."""
    root = tmp_path / "ds"
    for i in range(3):
        partition(root / "run-x" / f"part-{i}.csv", 10 + i, start=100 * i)
    (root / "latest").symlink_to("run-x")
    (root / "run-x" / "self").symlink_to(".")
    (root / "run-x" / "up").symlink_to("..")
    return root


@pytest.mark.parametrize("form", ["glob", "directory", "one level"])
def test_links_that_loop_or_alias_count_each_file_once(dataset: Path, form: str) -> None:
    target = {
        "glob": f"{dataset}/**/*.csv",
        "directory": str(dataset),
        "one level": f"{dataset}/*/*.csv",
    }[form]
    data, notes = score_json(target)
    assert data["n"] == 10 + 11 + 12  # each file once, whichever paths reach it
    assert "3 CSV partitions" in notes
    assert "latest = " in notes and "run-x" in notes and "read once" in notes, notes


def test_the_same_file_linked_twice_is_read_once(tmp_path: Path) -> None:
    partition(tmp_path / "d" / "part-0.csv", 10)
    partition(tmp_path / "d" / "part-1.csv", 7)
    (tmp_path / "d" / "part-2.csv").symlink_to("part-0.csv")
    data, notes = score_json(str(tmp_path / "d"))
    assert data["n"] == 17
    assert "1 file reached by more than one path" in notes and "part-2.csv = " in notes, notes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("form", ["glob", "directory"])
def test_a_named_pipe_among_the_partitions_is_skipped(tmp_path: Path, form: str) -> None:
    partition(tmp_path / "d" / "part-0.csv", 10)
    os.mkfifo(tmp_path / "d" / "part-1.csv")  # nothing ever writes to it
    partition(tmp_path / "d" / "part-2.csv", 5)
    data, notes = score_json(str(tmp_path / "d") + ("/*.csv" if form == "glob" else ""))
    assert data["n"] == 15
    assert "part-1.csv (a named pipe)" in notes and "not a regular file" in notes, notes


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("", True),
        ("y_true,y_pred\n", True),
        ("\ufeff# no rows today\ny_true,y_pred\n\n", True),
        ("sep=;\ny_true;y_pred\n", True),
        ("\n\n", True),
        ("1,0.8\n", False),  # a headerless file's one row is data, not a header
        ("y_true,y_pred\n1,0.8\n", False),
    ],
)
def test_which_csv_partitions_hold_no_rows(tmp_path: Path, text: str, empty: bool) -> None:
    path = tmp_path / "part.csv"
    path.write_text(text)
    assert _csv_without_rows(str(path)) is empty
    gz = tmp_path / "part.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert _csv_without_rows(str(gz)) is empty


def test_empty_csv_partitions_are_skipped_with_a_note(tmp_path: Path) -> None:
    d = tmp_path / "d"
    partition(d / "part-0.csv", 10)
    (d / "part-1.csv").write_text("")
    (d / "part-2.csv").write_text("y_true,y_pred\n")
    (d / "part-3.csv").write_text("\ufeff# no rows today\ny_true,y_pred\n\n")
    partition(d / "part-4.csv", 6)
    (d / "README.txt").write_text("predictions of run x\n")
    for target in (str(d), f"{d}/*"):
        data, notes = score_json(target)
        assert data["n"] == 16, notes
        assert "3 empty partitions skipped (no rows): part-1.csv, part-2.csv, part-3.csv" in notes
        assert "skipped 1 file without a partition suffix" in notes and "README.txt" in notes


def test_an_empty_first_partition_is_skipped(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d).mkdir()
    (d / "part-0.csv").write_text("y_true,y_pred\n")
    partition(d / "part-1.csv", 4)
    data, _ = score_json(str(d))
    assert data["n"] == 4


def test_all_partitions_empty_or_not_data(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "part-0.csv").write_text("")
    (d / "part-1.csv").write_text("y_true,y_pred\n")
    done = bce("score", str(d))
    assert done.returncode == 3 and "all 2 partitions hold no rows" in done.stderr, done.stderr
    (d / "part-0.csv").unlink()
    (d / "part-1.csv").unlink()
    (d / "notes.txt").write_text("x\n")
    done = bce("score", f"{d}/*")
    assert done.returncode == 2, done.stderr
    assert "matches no partition file" in done.stderr and "notes.txt" in done.stderr


# --------------------------------------------------------------------------------------------
# 2. NPY and stored NPZ arrays truncated or rewritten while they are read: no SIGBUS


def _npz_stored(path: Path, n: int) -> None:
    np.savez(path, y_true=np.arange(n) % 2 * 1.0, y_pred=np.full(n, 0.25))


@pytest.mark.parametrize("fmt", ["npy", "npz"])
def test_an_array_file_truncated_between_batches(tmp_path: Path, fmt: str) -> None:
    n = 1_000_000
    if fmt == "npy":
        path = tmp_path / "p.npy"
        np.save(path, np.full(n, 0.25))
        src: NpySource | NpzSource = NpySource(str(path), "y_pred")
        columns = ["y_pred"]
    else:
        path = tmp_path / "pair.npz"
        _npz_stored(path, n)
        src = NpzSource(str(path))
        columns = ["y_true", "y_pred"]
    batches = src.batches(columns)
    next(batches)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(InputError) as err:
        for _ in batches:
            pass
    src.close()
    line = err.value.line()
    assert path.name in line and "changed while it was read" in line, line


def test_an_npy_rewritten_in_place_after_the_last_row(tmp_path: Path) -> None:
    path = tmp_path / "p.npy"
    np.save(path, np.full(100_000, 0.25))
    src = NpySource(str(path), "y_pred")
    batches = src.batches(["y_pred"])
    next(batches)
    time.sleep(0.01)
    with open(path, "r+b") as f:  # the same size, new bytes
        f.seek(-8, os.SEEK_END)
        f.write(np.float64(0.75).tobytes())
    with pytest.raises(InputError, match="was rewritten"):
        for _ in batches:
            pass
    src.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("fmt", ["npy", "npz"])
def test_an_array_file_truncated_by_another_thread_is_no_signal_death(
    tmp_path: Path, fmt: str
) -> None:
    n = 8_000_000  # 64 MB per array
    labels = tmp_path / "y.npy"
    np.save(labels, np.arange(n) % 2 * 1.0)
    if fmt == "npy":
        path = tmp_path / "p.npy"
        np.save(path, np.full(n, 0.25))
        args = [str(path), "--labels", str(labels)]
    else:
        path = tmp_path / "pair.npz"
        _npz_stored(path, n)
        args = [str(path)]

    def meddle() -> None:
        time.sleep(0.05)
        os.truncate(path, 4096)

    code, out, err = score_while(args, path, meddle)
    assert code >= 0, f"killed by signal {-code}: {err}"
    assert "Traceback" not in err
    if code in (0, 1):
        assert json.loads(out)["n"] == n  # read whole before the truncation
    else:
        assert code == 3, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("Error: ") and path.name in last, err


# --------------------------------------------------------------------------------------------
# 4. compressed NPZ members: memory follows the data read, never a header's claim


# Runs its arguments as a child and prints the child's exit status and peak resident set. A
# child forked from pytest itself would report pytest's resident set (ru_maxrss keeps the peak
# from before its exec); forked from this small launcher, it starts small.
_LAUNCHER = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, usage = os.wait4(p.pid, 0)
sys.stderr.buffer.write(err)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _max_rss_mb(args: list[str]) -> tuple[int, float, str]:
    """Exit status, peak resident set (MB) and stderr of ``bce`` in a child process."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "bcecli", *args],
        capture_output=True,
        text=True,
        timeout=2 * TIMEOUT,
    )
    code, rss = done.stdout.split()
    return int(code), int(rss) / 1024, done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB")
def test_a_compressed_fortran_order_bomb_is_streamed(tmp_path: Path) -> None:
    n = 12_000_000
    path = tmp_path / "bomb.npz"  # 192 MB of zeros in Fortran order: 0.3 MB on disk
    np.savez_compressed(path, y_true=np.zeros(n, dtype=np.int8), y_pred=np.zeros((n, 2), order="F"))
    assert path.stat().st_size < 2 * MB
    code, rss, err = _max_rss_mb(["score", str(path), "--format", "json"])
    assert code in (0, 1), (code, rss, err)
    # row order, streamed, peaks at 165 MB on this data; loaded whole, 320 MB
    assert rss < 230, f"{rss:.0f} MB for a member of 192 MB"


def test_fortran_order_columns_decompressed_side_by_side_read_right(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    for k in (2, 5, 20):  # 20 columns: more than streams are opened for, loaded whole
        p = rng.dirichlet(np.ones(k), 300_000)
        path = tmp_path / f"f{k}.npz"
        np.savez_compressed(path, y_true=rng.integers(0, k, 300_000), y_pred=np.asfortranarray(p))
        src = NpzSource(str(path))
        got = np.concatenate([b["y_pred"] for b in src.batches(["y_pred"])])  # type: ignore[misc]
        src.close()
        np.testing.assert_array_equal(got, p)


def test_a_wide_fortran_order_member_too_big_to_load_whole_is_refused(tmp_path: Path) -> None:
    n, k = 200_000, 50  # 80 MB in Fortran order, 50 columns
    path = tmp_path / "wide.npz"
    np.savez_compressed(path, y_true=np.zeros(n, np.int8), y_pred=np.zeros((n, k), order="F"))
    line = error_line(run(["score", str(path)]))
    assert "wide.npz: array 'y_pred' is compressed in Fortran (column-major) order" in line
    assert "np.ascontiguousarray" in line


# --------------------------------------------------------------------------------------------
# 16. errors that name the real cause


def test_a_long_first_data_line_is_named_by_its_own_number(tmp_path: Path) -> None:
    path = tmp_path / "long2.csv"
    path.write_text("y_true,y_pred\n1," + "9" * (17 * MB) + "\n0,0.2\n")
    line = error_line(run(["score", str(path)]))
    assert "long2.csv: line 2 is longer than 16 MiB" in line, line


def test_a_two_mebibyte_column_name_is_read(tmp_path: Path) -> None:
    path = tmp_path / "name.csv"
    path.write_text("y_true,y_pred," + "n" * (2 * MB) + "\n1,0.9,5\n0,0.2,6\n")
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 2


def test_quoted_line_ends_in_the_header_count_in_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('y_true,"y_pred\n(a\nprobability)"\n1,0.9\n0,oops\n')
    line = error_line(run(["score", str(path)]))
    assert "row 1 (line 5), column y_pred\\n(a\\nprobability): 'oops'" in line, line


def test_an_unclosed_quote_in_the_header_is_not_read_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('"y_true,y_pred\n' + "1,0.9\n" * 100)
    result = run(["score", str(path), "--format", "json"])
    assert result.exit_code in (2, 3)
    assert "q.csv" in error_line(result)


# --------------------------------------------------------------------------------------------
# 14. text labels: the mapping does not depend on the first chunk alone

SORTED_ROWS = 150_000  # past the first chunk and the first MiB


def sorted_labels(path: Path, first: str, then: str, p_first: float, p_then: float) -> None:
    with open(path, "w") as f:
        f.write("y_true,prob\n")
        f.write(f"{first},{p_first}\n" * SORTED_ROWS)
        f.write(f"{then},{p_then}\n" * SORTED_ROWS)


@pytest.mark.parametrize("stdin", [False, True])
def test_labels_sorted_by_value_are_mapped_from_the_whole_column(
    tmp_path: Path, stdin: bool
) -> None:
    path = tmp_path / "catdog.csv"
    sorted_labels(path, "cat", "dog", 0.2, 0.6)
    if stdin:
        with open(path, "rb") as f:
            done = bce("score", "-", "--format", "json", stdin=f.fileno())
    else:
        done = bce("score", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["n"] == 2 * SORTED_ROWS
    # cat = 0 with p = 0.2, dog = 1 with p = 0.6: -ln 0.8 and -ln 0.6, half the rows each
    assert data["mean_loss"] == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2, rel=1e-12)
    assert any("cat = 0, dog = 1" in n for n in data["notes"])


@pytest.mark.parametrize(("first", "then"), [("yes", "no"), ("no", "yes"), ("True", "FALSE")])
def test_a_known_pair_maps_wherever_its_words_appear(tmp_path: Path, first: str, then: str) -> None:
    path = tmp_path / "pair.csv"
    p = {"yes": 0.9, "true": 0.9, "no": 0.3, "false": 0.3}
    sorted_labels(path, first, then, p[first.lower()], p[then.lower()])
    done = bce("score", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mean_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.7)) / 2, rel=1e-12)
    assert data["accuracy"] == 1.0


def test_a_label_that_sorts_first_but_comes_late(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    sorted_labels(path, "cat", "ant", 0.7, 0.1)  # ant = 0, cat = 1 over the whole column
    done = bce("score", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mean_loss"] == pytest.approx(-(np.log(0.7) + np.log(0.9)) / 2, rel=1e-12)
    assert any("ant = 0, cat = 1" in n for n in data["notes"])
    with open(path, "rb") as f:  # a stream: read once, the first rows said cat = 0
        piped = bce("score", "-", "--format", "json", stdin=f.fileno())
    assert piped.returncode == 3, piped.stderr
    last = piped.stderr.strip().splitlines()[-1]
    assert "label 'ant' first appears after the first rows" in last, last
    assert "sorts before 'cat'" in last and "save the input to a file" in last


# --------------------------------------------------------------------------------------------
# 6. out of memory is the user's condition: one line naming the file and what to do


@pytest.mark.parametrize("kind", ["numpy", "pyarrow", "thread"])
def test_out_of_memory_while_reading_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import pyarrow as pa

    path = tmp_path / "preds.csv"
    write_rows(path, 1000)
    errors = {
        "numpy": MemoryError("Unable to allocate 160. KiB"),
        "pyarrow": pa.ArrowMemoryError("malloc of size 1048576 failed"),
        "thread": RuntimeError("can't start new thread"),
    }

    def fail(self: CsvSource, columns: list[str]) -> None:
        raise errors[kind]

    monkeypatch.setattr(CsvSource, "batches", fail)
    line = error_line(run(["score", str(path)]))
    assert "preds.csv: ran out of memory while it was read and scored" in line, line
    assert "ulimit -v" in line


def test_other_runtime_errors_are_not_called_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "preds.csv"
    write_rows(path, 10)

    def fail(self: CsvSource, columns: list[str]) -> None:
        raise RuntimeError("something else")

    monkeypatch.setattr(CsvSource, "batches", fail)
    result = CliRunner().invoke(cli, ["score", str(path)])
    assert "out of memory" not in result.stderr and "something else" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux applies it")
def test_an_address_space_limit_is_one_line(tmp_path: Path) -> None:
    import resource

    path = tmp_path / "wide.csv"
    rng = np.random.default_rng(6)
    p = rng.dirichlet(np.ones(10), 200_000)
    header = "y_true," + ",".join(f"prob_{k}" for k in range(10))
    rows = "\n".join(
        f"{y}," + ",".join(f"{v:.6f}" for v in row)
        for y, row in zip(rng.integers(0, 10, len(p)), p, strict=True)
    )
    path.write_text(header + "\n" + rows + "\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (300 << 20, 300 << 20))

    done = subprocess.run(
        [sys.executable, "-m", "bcecli", "score", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=limit,
    )
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"
    assert "Traceback" not in done.stderr and "bug in bce" not in done.stderr, done.stderr
    if done.returncode == 3:
        last = done.stderr.strip().splitlines()[-1]
        assert "wide.csv: ran out of memory" in last, last
    else:
        assert done.returncode in (0, 1), done.stderr
