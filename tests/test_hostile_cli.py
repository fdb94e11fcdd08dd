"""Hostile running conditions (issue 21): closed and full streams, Ctrl-C, an ASCII-only
terminal, a malformed scheduler address. Real processes, each with a timeout."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, SAMPLES

BCE = [sys.executable, "-m", "bcecli"]
HEALTHY = str(SAMPLES / "healthy_binary.csv")
FULL = "/dev/full"


def run(
    args: list[str], timeout: float = 60, **popen: object
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(popen.pop("env", {}))  # type: ignore[call-overload]
    return subprocess.run(args, cwd=ROOT, env=env, timeout=timeout, **popen)  # type: ignore[call-overload, no-any-return]


def test_table_into_head_exits_0() -> None:
    # `| head`: the reader closes the pipe after one line; the documented status is 0
    proc = subprocess.Popen(
        [*BCE, "score", HEALTHY, "--format", "table"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read()
    proc.stderr.close()
    assert err == b""


@pytest.mark.parametrize("stderr", ["closed", "full"])
def test_a_missing_stderr_is_quiet(stderr: str) -> None:
    """cron runs jobs with stderr closed: the report and the exit code are those of a normal run."""
    normal = run([*BCE, "score", HEALTHY], capture_output=True)
    if stderr == "closed":
        proc = run([*BCE, "score", HEALTHY], stdout=subprocess.PIPE, stderr=None, close_fds=True,
                   pass_fds=(), preexec_fn=lambda: os.close(2))  # fmt: skip
    else:
        with open(FULL, "wb") as full:
            proc = run([*BCE, "score", HEALTHY], stdout=subprocess.PIPE, stderr=full)
    assert proc.returncode == normal.returncode == 0
    assert proc.stdout == normal.stdout and b"mean_loss\t" in proc.stdout


def test_warnings_into_a_closed_stderr_keep_the_gate() -> None:
    # a file with warnings and a gate on them: the exit code is the gate's, stderr or not
    args = [*BCE, "score", str(SAMPLES / "logits_as_probs.csv"), "--fail-on", "warning"]
    normal = run(args, capture_output=True)
    quiet = run(args, stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2))
    assert normal.returncode == quiet.returncode == 1
    assert normal.stdout == quiet.stdout


def test_closed_stdout_is_one_line_and_exit_3() -> None:
    proc = run([*BCE, "score", HEALTHY], stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 3
    lines = proc.stderr.decode().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("Error: stdout is closed"), lines


@pytest.mark.parametrize("extra", [[], ["--format", "json"], ["--per-sample", "--format", "csv"]])
def test_stdout_on_a_full_disk_is_one_line_and_exit_3(extra: list[str]) -> None:
    with open(FULL, "wb") as full:
        proc = run([*BCE, "score", HEALTHY, *extra], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 3
    errors = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "No space left on device (errno 28)" in errors[0], errors
    assert "Traceback" not in proc.stderr.decode()


def test_both_streams_closed() -> None:
    def close() -> None:
        os.close(1)
        os.close(2)

    assert run([*BCE, "score", HEALTHY], preexec_fn=close).returncode == 3


def test_ctrl_c_exits_130_with_one_line() -> None:
    proc = subprocess.Popen(
        [*BCE, "score", "-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"y_true,y_pred\n" + b"1,0.5\n" * 10_000)  # and the pipe stays open
    proc.stdin.flush()
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out == b""
    assert err.decode().splitlines() == ["bce: interrupted"]


ASCII = {"LC_ALL": "C", "PYTHONIOENCODING": "ascii"}


@pytest.mark.parametrize(
    "args",
    [
        ["score", HEALTHY, "--format", "table"],
        ["score", str(SAMPLES / "untrained_binary.csv")],
        ["explain", "0.3", "--format", "table"],
        ["bands", "--format", "table"],
        ["check-init", str(SAMPLES / "untrained_binary.csv"), "--format", "table"],
    ],
)
def test_an_ascii_terminal_gets_ascii(args: list[str]) -> None:
    proc = run([*BCE, *args], capture_output=True, env=ASCII)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Error" not in proc.stderr.decode("ascii")
    proc.stdout.decode("ascii")  # nothing but ASCII


@pytest.mark.parametrize("address", ["foo:bar", "tcp://:::", "garbage", "http://[::1", "tcp://a b"])
def test_a_malformed_scheduler_address_is_a_usage_error(address: str) -> None:
    pytest.importorskip("distributed")
    folder = str(SAMPLES / "partitioned")
    proc = run(
        [*BCE, "score", folder, "--engine", "dask", "--scheduler", address], capture_output=True
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("Error: --scheduler") and "bug" not in err, err
    assert len(err.splitlines()) == 1


def test_plot_keeps_matplotlib_out_of_home(tmp_path: object) -> None:
    pytest.importorskip("matplotlib")
    from pathlib import Path

    base = Path(str(tmp_path))
    home, tmp = base / "home", base / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(tmp), "XDG_CACHE_HOME": "", "XDG_CONFIG_HOME": ""}
    env = {k: v for k, v in env.items() if v}
    clean = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME",
                                                               "XDG_CONFIG_HOME")}  # fmt: skip
    clean.update(env)
    out = base / "fig.png"
    proc = subprocess.run(
        [*BCE, "plot", HEALTHY, "-o", str(out)], cwd=ROOT, env=clean, timeout=120,
        capture_output=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    assert list(home.iterdir()) == []
    (mine,) = tmp.iterdir()
    assert mine.name == f"bce-matplotlib-{os.getuid()}"
    assert mine.stat().st_mode & 0o077 == 0


def test_dask_leaves_no_scratch_space_in_tmpdir(tmp_path: object) -> None:
    pytest.importorskip("distributed")
    from pathlib import Path

    tmp = Path(str(tmp_path))
    proc = run(
        [*BCE, "score", str(SAMPLES / "partitioned"), "--engine", "dask", "--fail-on", "never"],
        timeout=180,
        capture_output=True,
        env={"TMPDIR": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--label", "1", "--pred", "2"], "probabilities are in [0, 1]"),
        (["--label", "1", "--pred", "-0.1"], "probabilities are in [0, 1]"),
        (["--label", "1", "--pred", "nan"], "probabilities are in [0, 1]"),
        (["--label", "5", "--pred", "0.5"], "labels are 0 or 1"),
        (["--label", "-1", "--pred", "0.5"], "labels are 0 or 1"),
        (["--label", "0,2", "--pred", "0.5,0.5"], "each value is in [0, 1]"),
        (["--label", "1", "--pred", "0.3,0.7,2"], "probabilities are in [0, 1]"),
        (["--label", "1", "--pred", "nan", "--from-logits"], "not a logit"),
    ],
)
def test_explain_refuses_a_pair_outside_the_loss_domain(args: list[str], says: str) -> None:
    from click.testing import CliRunner

    from bcecli.cli import cli

    result = CliRunner().invoke(cli, ["explain", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output and "perfect" not in result.output


def test_explain_still_scores_a_logit_outside_0_1() -> None:
    from click.testing import CliRunner

    from bcecli.cli import cli

    result = CliRunner().invoke(cli, ["explain", "--label", "1", "--pred", "2", "--from-logits"])
    assert result.exit_code == 0
    # -log(sigmoid(2)) = log(1 + e^-2)
    assert f"loss\t{math.log1p(math.exp(-2))!r}" in result.output
