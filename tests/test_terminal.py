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


# --------------------------------------------------------------------------------------------
# the one-screen report (issue 26)

SCREEN_FILES = (
    "healthy_binary.csv",
    "imbalanced_binary.csv",
    "logits_as_probs.csv",
    "single_unit_softmax.csv",
    "untrained_binary.csv",
    "untrained_large_init.csv",
    "untrained_prior_bias.csv",
    "double_softmax.csv",
    "softmax_10class.csv",
    "untrained_10class.csv",
    "multilabel_soft.csv",
    "seed.csv",
)


def _screen(args: list[str], width: int = 80) -> list[str]:
    from click.testing import CliRunner

    from bcecli.cli import cli

    result = CliRunner().invoke(
        cli, [*args, "--format", "table"], env={"COLUMNS": str(width), "NO_COLOR": "1"}
    )
    assert result.exit_code in (0, 1), result.output
    return result.stdout.splitlines()


def _words(text: str) -> set[str]:
    return set(text.split())


@pytest.mark.parametrize("name", SCREEN_FILES)
def test_default_report_fits_one_80_by_50_screen(name: str) -> None:
    lines = _screen(["score", str(SAMPLES / name)])
    assert len(lines) <= 49, f"{len(lines)} lines"  # and one for the prompt
    assert max(len(line) for line in lines) <= 80
    assert lines[-1].startswith("mean ") and ("see above" in lines[-1] or "no errors" in lines[-1])


@pytest.mark.parametrize("name", SCREEN_FILES)
def test_flags_wrap_to_four_lines_at_most_and_are_cut_between_words(name: str) -> None:
    data = json.loads(piped([*BCE, "score", str(SAMPLES / name), "-f", "json"]).stdout)
    lines = _screen(["score", str(SAMPLES / name)])
    if not data["flags"]:
        return
    start = lines.index("Flags") + 1
    paragraphs: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        if line.startswith("  (… shortened"):
            continue
        if not line.startswith("   "):  # a flag's first line: two spaces, then its severity
            paragraphs.append([])
        paragraphs[-1].append(line)
    assert len(paragraphs) == len(data["flags"])
    for flag, para in zip(data["flags"], paragraphs, strict=True):
        assert len(para) <= 4, para
        head = para[0].split()
        assert head[:2] == [flag["severity"], flag["id"] + ":"]
        said = " ".join(para).replace("…", " ").split()
        whole = _words(f"{flag['severity']} {flag['id']}: {flag['message']} → {flag['hint']}")
        whole |= {"as", "for"} | {f["id"] for f in data["flags"]}  # a repeated hint says so
        assert set(said) <= whole, set(said) - whole  # a word cut in two is not a word


def test_brief_is_a_few_lines_and_verbose_is_everything() -> None:
    name = str(SAMPLES / "single_unit_softmax.csv")
    data = json.loads(piped([*BCE, "score", name, "-f", "json"]).stdout)
    brief = _screen(["score", name, "--brief"])
    assert len(brief) <= 6
    assert all(f["id"] in " ".join(brief) for f in data["flags"])
    assert brief[-1] == _screen(["score", name])[-1]  # the same verdict
    full = "\n".join(_screen(["score", name, "--verbose"], width=200))
    assert "Per-sample loss" in full and "sum" in full
    flat = " ".join(full.split())
    for f in data["flags"]:  # each message and hint whole
        assert " ".join(f["message"].split()) in flat and " ".join(f["hint"].split()) in flat
    assert _screen(["score", name, "--full"], width=200) == full.splitlines()


def test_machine_formats_ignore_the_level_of_detail() -> None:
    name = str(SAMPLES / "healthy_binary.csv")
    for fmt in ("json", "tsv"):
        plain = piped([*BCE, "score", name, "-f", fmt]).stdout
        assert piped([*BCE, "score", name, "-f", fmt, "--brief"]).stdout == plain
        assert piped([*BCE, "score", name, "-f", fmt, "--verbose"]).stdout == plain


def test_default_report_on_a_real_terminal_fits_its_height() -> None:
    code, out = in_pty(
        [*BCE, "score", str(SAMPLES / "single_unit_softmax.csv"), "--no-color"],
        COLUMNS="80",
        LINES="40",
    )
    lines = [line for line in out.decode().replace("\r", "").splitlines() if line]
    report = lines[: lines.index(next(x for x in lines if x.startswith("mean "))) + 1]
    assert len(report) <= 39 and report[0].startswith(" input")


def test_warnings_on_stderr_wrap_on_a_terminal_and_stay_one_line_in_a_pipe() -> None:
    args = [*BCE, "score", str(SAMPLES / "seed.csv"), "--raw"]
    one = piped(args).stderr.decode().splitlines()
    assert one == [
        "warning: mean_above_1: the mean loss 2.303 is above 1: on average the true class gets "
        "less than 1/e = 0.368 (geometric mean 0.1); not a bug by itself, but rarely a healthy "
        "model: check the other flags (logits, inverted or misaligned labels)"
    ]
    code, out = in_pty(args, COLUMNS="60")
    lines = out.decode().replace("\r", "").splitlines()
    wrapped = lines[1:]  # the loss is the first line
    assert 3 <= len(wrapped) <= 6 and max(len(line) for line in wrapped) < 60
    assert wrapped[0].startswith("warning: mean_above_1: the mean loss 2.303")
    assert " ".join(w.strip() for w in wrapped).split() == (
        one[0].replace("; not a bug", " → not a bug").split()
    )


def test_per_sample_on_a_terminal_is_a_table_and_piped_the_same_bytes() -> None:
    args = [*BCE, "score", HEALTHY, "--per-sample"]
    code, out = in_pty([*args, "--no-color"], COLUMNS="80")
    text = out.decode().replace("\r", "")
    assert code == 0 and "the first 20 of 2,000 records" in text
    table = [line for line in text.splitlines() if line.strip()]
    assert table[0].split() == ["row", "label", "pred", "p_true", "loss", "flags"]
    assert "\t" not in text
    piped_out = piped(args).stdout
    assert piped_out == piped([*args, "--format", "tsv"]).stdout  # the documented TSV
    assert piped_out.startswith(b"row\tlabel\tpred\tp_true\tloss\tflags\n")
    assert len(piped_out.splitlines()) == 2001
