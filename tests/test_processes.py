"""Scoring an NPY input on several processes gives the report one process gives, the same errors
in the same row order, and survives a child that dies."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.core import sketch
from bcecli.engines import processes

N = 200_003  # not a multiple of the chunk size
CHUNK = 8192

# counts, extrema and order statistics: identical whatever the split
EXACT_KEYS = (
    "n", "n_rows", "n_excluded", "mean_loss", "sum_loss", "median_loss", "median_exact",
    "max_loss", "n_above_1", "accuracy", "baseline_loss", "ne", "prior", "histogram", "worst",
)  # fmt: skip
FLOAT_KEYS = ("brier", "ece")


@pytest.fixture(scope="module")
def binary_npy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    rng = np.random.default_rng(31)
    y = (rng.random(N) < 0.3).astype(np.float64)
    p = 1 / (1 + np.exp(-(rng.normal(0, 1.5, N) + np.where(y == 1, 1.0, -1.5))))
    p[N - 5000 :: 997] = np.nan  # excluded rows, in the last process's range
    p[N - 3] = 1.0  # a saturated prediction: an infinite loss, near the end
    d = tmp_path_factory.mktemp("npy")
    np.save(d / "preds.npy", p)
    np.save(d / "labels.npy", y)
    return d / "preds.npy", d / "labels.npy"


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, *, split: bool) -> tuple[Any, int]:
    """bce's result (parsed JSON, or the error line) and how many processes were forked."""
    forks = []
    with monkeypatch.context() as m:
        m.setattr(processes, "MIN_ROWS", 10_000 if split else 10**12)
        m.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})  # three processes even here
        real_fork = processes._fork

        def counting_fork(*a: Any) -> Any:
            forks.append(a[1:3])
            return real_fork(*a)

        m.setattr(processes, "_fork", counting_fork)
        result = CliRunner().invoke(cli, [*args, "--chunk-rows", str(CHUNK)])
    if result.exit_code == 3:
        return result.stderr, len(forks)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), len(forks)


def assert_same_report(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in EXACT_KEYS:
        assert a[key] == b[key], key
    for key in FLOAT_KEYS:
        assert a[key] == pytest.approx(b[key], rel=1e-12), key
    assert [(f["id"], f["count"], f["rows"]) for f in a["flags"]] == [
        (f["id"], f["count"], f["rows"]) for f in b["flags"]
    ]
    for x, y in zip(a["calibration"], b["calibration"], strict=True):
        assert x["count"] == y["count"] and x["frac_pos"] == y["frac_pos"]
        assert x["mean_pred"] == pytest.approx(y["mean_pred"], rel=1e-12)


@pytest.mark.parametrize("compat", ["exact", "keras", "torch", "sklearn"])
def test_processes_give_the_single_process_report(
    binary_npy: tuple[Path, Path], compat: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    preds, labels = binary_npy
    args = ["score", str(preds), "--labels", str(labels), "--format", "json", "--compat", compat]
    one, forks_one = run(args, monkeypatch, split=False)
    many, forks_many = run(args, monkeypatch, split=True)
    assert forks_one == 0 and forks_many == 2
    assert one["n_excluded"] == len(range(N - 5000, N, 997))
    assert_same_report(one, many)


@pytest.mark.parametrize("limit", [50_000, 1_000_000])
def test_the_median_is_exact_exactly_when_one_process_would_make_it_so(
    binary_npy: tuple[Path, Path], limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processes count losses in buckets only; the values are read again, for an exact
    median, only when the scored rows turn out to be few enough."""
    monkeypatch.setattr(sketch, "EXACT_LIMIT", limit)
    reread = []
    real = processes._scored_losses

    def counting(*a: Any) -> Any:
        reread.append(1)
        return real(*a)

    monkeypatch.setattr(processes, "_scored_losses", counting)
    preds, labels = binary_npy
    args = ["score", str(preds), "--labels", str(labels), "--format", "json"]
    one, _ = run(args, monkeypatch, split=False)
    many, forks = run(args, monkeypatch, split=True)
    assert forks == 2
    few = limit >= N
    assert one["median_exact"] is many["median_exact"] is few
    assert len(reread) == few
    assert_same_report(one, many)


def test_errors_keep_their_row_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch refuses predictions outside [0, 1]: the error names the first such row, whichever
    process met it."""
    rng = np.random.default_rng(5)
    y = (rng.random(N) < 0.5).astype(np.float64)
    p = rng.uniform(0.01, 0.99, N)
    np.save(tmp_path / "labels.npy", y)
    for bad_rows in ([N - 10], [150_000, N - 10], [20, 150_000]):
        q = p.copy()
        q[bad_rows] = 1.5
        np.save(tmp_path / "preds.npy", q)
        args = ["score", str(tmp_path / "preds.npy"), "--labels", str(tmp_path / "labels.npy")]
        args += ["--compat", "torch", "--format", "json"]
        one, _ = run(args, monkeypatch, split=False)
        many, forks = run(args, monkeypatch, split=True)
        assert forks == 2
        assert f"first at row {bad_rows[0]}" in one
        assert many == one


def test_a_child_that_dies_is_replaced(
    binary_npy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    preds, labels = binary_npy
    args = ["score", str(preds), "--labels", str(labels), "--format", "json"]
    one, _ = run(args, monkeypatch, split=False)
    monkeypatch.setattr(processes, "_score_range", lambda *a: os._exit(9))
    many, forks = run(args, monkeypatch, split=True)
    assert forks == 2
    assert_same_report(one, many)


def test_ctrl_c_ends_a_child_quietly(
    binary_npy: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C reaches every process of the group: a child stops at once, without a traceback
    (here the parent, not interrupted, scores the child's rows itself)."""
    preds, labels = binary_npy
    args = ["score", str(preds), "--labels", str(labels), "--format", "json"]
    one, _ = run(args, monkeypatch, split=False)
    went_on = tmp_path / "went-on"

    def interrupted(*a: Any) -> bytes:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        went_on.touch()
        return b""

    monkeypatch.setattr(processes, "_score_range", interrupted)
    many, forks = run(args, monkeypatch, split=True)
    assert forks == 2
    assert_same_report(one, many)
    assert not went_on.exists()
    assert "Traceback" not in capfd.readouterr().err


def test_multiclass_on_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    k = 5
    y = rng.integers(0, k, N)
    p = rng.dirichlet(np.ones(k), N)
    np.save(tmp_path / "preds.npy", p)
    np.save(tmp_path / "labels.npy", y)
    args = ["score", str(tmp_path / "preds.npy"), "--labels", str(tmp_path / "labels.npy")]
    args += ["--format", "json"]
    one, _ = run(args, monkeypatch, split=False)
    many, forks = run(args, monkeypatch, split=True)
    assert one["task"] == "sparse" and forks == 2
    assert_same_report(one, many)
    for a, b in zip(one["outputs"], many["outputs"], strict=True):
        assert a["support"] == b["support"] and a["accuracy"] == b["accuracy"]
        assert a["mean_loss"] == pytest.approx(b["mean_loss"], rel=1e-12)


def test_per_row_output_stays_in_one_process(
    binary_npy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    preds, labels = binary_npy
    forks = []
    monkeypatch.setattr(processes, "MIN_ROWS", 10_000)
    monkeypatch.setattr(processes, "_fork", lambda *a: forks.append(a))
    args = ["score", str(preds), "--labels", str(labels), "--per-sample", "--format", "csv"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    assert len(result.stdout.splitlines()) == N + 1 and forks == []


@pytest.mark.parametrize(
    ("n", "parts", "align", "first"),
    [
        (10, 2, 4, 1.0),
        (1_000_003, 2, 65536, 0.9),
        (1_000_003, 3, 4096, 1.0),
        (4096, 2, 4096, 0.9),
        (0, 2, 8, 1.0),
    ],
)
def test_split_rows(n: int, parts: int, align: int, first: float) -> None:
    ranges = processes.split_rows(n, parts, align, first)
    if n == 0:
        assert ranges == []
        return
    assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) <= parts
    assert all(a % align == 0 and a < b for a, b in ranges)
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    if n > 100 * align and parts == 2:  # the first range is about `first` times the second
        (a, b), (c, d) = ranges
        assert (b - a) / (d - c) == pytest.approx(first, abs=2 * align * parts / n)


def test_progress_counts_every_process(
    binary_npy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress line counts the rows of all processes: it rises steadily and ends at n."""
    from bcecli.pipeline import ScoreRequest, run_score

    preds, labels = binary_npy
    monkeypatch.setattr(processes, "MIN_ROWS", 10_000)
    seen: list[int] = []
    outcome = run_score(
        ScoreRequest(preds=str(preds), labels=str(labels), chunk_rows=CHUNK),
        progress=lambda done, total: seen.append(done),
    )
    assert outcome.report.n_rows == N
    assert seen == sorted(seen) and seen[-1] == N
    assert seen[0] < N // 2  # it starts low: one chunk scaled by the processes' share
