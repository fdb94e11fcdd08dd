"""How bce behaves in a terminal and in pipes: real processes, a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

BCE = [sys.executable, "-m", "bcecli"]
HEALTHY = str(SAMPLES / "healthy_binary.csv")
ESC = b"\x1b["


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    e.update(extra)
    return e


def in_pty(args: list[str], **extra: str) -> tuple[int, bytes]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; return (exit code, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env(**extra)
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    return proc.wait(timeout=30), out


def piped(args: list[str], **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, cwd=ROOT, env=env(**extra), timeout=60)


def test_terminal_gets_the_table_in_colour() -> None:
    code, out = in_pty([*BCE, "score", HEALTHY], COLUMNS="100")
    assert code == 0
    assert b"Worst samples" in out and b"Reliability" in out
    assert ESC in out  # colour on a terminal


def test_no_color_on_a_terminal() -> None:
    code, out = in_pty([*BCE, "score", HEALTHY], NO_COLOR="1", COLUMNS="100")
    assert code == 0 and b"Worst samples" in out
    assert ESC not in out.replace(b"\x1b[?25l", b"").replace(b"\x1b[?25h", b"")
    code, out = in_pty([*BCE, "score", HEALTHY, "--no-color"], COLUMNS="100")
    assert b"Worst samples" in out and b"\x1b[1m" not in out


def test_piped_output_is_tsv_without_escapes_even_with_force_color() -> None:
    result = piped([*BCE, "score", HEALTHY], FORCE_COLOR="1")
    assert result.returncode == 0
    assert result.stdout.startswith(b"schema\t1\n")
    assert ESC not in result.stdout


def test_color_never_changes_the_format() -> None:
    forced = piped([*BCE, "score", HEALTHY, "--color"])
    assert forced.stdout.startswith(b"schema\t1\n") and ESC not in forced.stdout
    table = piped([*BCE, "score", HEALTHY, "--format", "table", "--color"])
    assert ESC in table.stdout


def test_table_fits_columns() -> None:
    code, out = in_pty([*BCE, "score", HEALTHY, "--no-color"], COLUMNS="72")
    lines = out.decode().replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 72


def test_stdin_on_a_terminal_gives_a_hint_instead_of_hanging() -> None:
    code, out = in_pty([*BCE, "score", "-"])
    assert code == 2
    assert b"stdin is a terminal" in out and b"Traceback" not in out


def test_head_closes_the_pipe_quietly(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with open(big, "w") as f:
        f.write("y_true,y_pred\n")
        f.writelines(f"{i % 2},{0.2 + 0.6 * (i % 7) / 7}\n" for i in range(600_000))
    cmd = f"{sys.executable} -m bcecli score {big} --per-sample --format csv | head -n 3"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], capture_output=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.decode().splitlines()[0].startswith("row,label,pred")
    assert len(result.stdout.decode().splitlines()) == 3
    assert b"Traceback" not in result.stderr and b"Error" not in result.stderr


def test_progress_only_on_a_terminal_and_not_when_quiet(tmp_path: Path) -> None:
    # piped: never a progress line, however long the run
    result = piped([*BCE, "score", HEALTHY, "--format", "json"])
    assert b"rows/s" not in result.stderr


def test_json_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "bcecli" / "schema" / "report.schema.json").read_text())
    for name in ("healthy_binary.csv", "single_unit_softmax.csv", "multilabel_soft.csv",
                 "softmax_10class.csv", "onehot_3class.csv", "seed.csv"):  # fmt: skip
        result = piped([*BCE, "score", str(SAMPLES / name), "--format", "json", "--fail-on",
                        "never", "--reduction", "none"])  # fmt: skip
        jsonschema.validate(json.loads(result.stdout), schema)
