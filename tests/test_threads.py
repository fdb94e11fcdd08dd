"""Scoring on threads (chunk i on thread i % workers, into that thread's own summary) gives the
one-thread report, the same bits on every run, and the first bad row whichever thread met it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bcecli.api import Report
from bcecli.core.options import Compat, LossOptions, Reduction, Task
from bcecli.errors import BceError
from bcecli.run import Inputs, LocalEngine, ScoreRequest, run_score

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
    p[N - 5000 :: 997] = np.nan  # excluded rows, in the last chunks
    p[N - 3] = 1.0  # a saturated prediction: an infinite loss, near the end
    d = tmp_path_factory.mktemp("npy")
    np.save(d / "preds.npy", p)
    np.save(d / "labels.npy", y)
    return d / "preds.npy", d / "labels.npy"


def run(preds: Path, labels: Path, *, threads: int, compat: str = "exact") -> Any:
    """The report as JSON holds it, or the error's line."""
    loss = LossOptions(task=Task.AUTO, compat=Compat(compat))
    engine = LocalEngine(threads=threads, chunk_rows=CHUNK)
    try:
        report = run_score(ScoreRequest(Inputs(str(preds), str(labels)), loss, engine))
    except BceError as e:
        return e.line()
    return json.loads(json.dumps(Report.of(report, Reduction.MEAN).to_dict(), allow_nan=False))


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
def test_threads_give_the_one_thread_report(binary_npy: tuple[Path, Path], compat: str) -> None:
    one, two, three = (run(*binary_npy, threads=t, compat=compat) for t in (1, 2, 3))
    assert one["n_excluded"] == len(range(N - 5000, N, 997))
    assert_same_report(one, two)
    assert_same_report(one, three)


def test_the_same_bits_on_every_run(binary_npy: tuple[Path, Path]) -> None:
    # Which chunks each thread's summary adds, and in which order, never depends on timing.
    runs = [run(*binary_npy, threads=2) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_errors_keep_their_row_order(tmp_path: Path) -> None:
    """PyTorch refuses predictions outside [0, 1]: the error names the first such row, whichever
    thread met it."""
    rng = np.random.default_rng(5)
    y = (rng.random(N) < 0.5).astype(np.float64)
    p = rng.uniform(0.01, 0.99, N)
    np.save(tmp_path / "labels.npy", y)
    # row 9000 is in chunk 1 (the second thread's), row 20 in chunk 0
    for bad_rows in ([N - 10], [9000, N - 10], [9000, 20], [150_000, 9000]):
        q = p.copy()
        q[bad_rows] = 1.5
        np.save(tmp_path / "preds.npy", q)
        files = tmp_path / "preds.npy", tmp_path / "labels.npy"
        one = run(*files, threads=1, compat="torch")
        two = run(*files, threads=2, compat="torch")
        assert f"first at row {min(bad_rows)}" in one
        assert two == one


def test_multiclass_on_threads(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    k = 5
    y = rng.integers(0, k, N)
    p = rng.dirichlet(np.ones(k), N)
    np.save(tmp_path / "preds.npy", p)
    np.save(tmp_path / "labels.npy", y)
    one = run(tmp_path / "preds.npy", tmp_path / "labels.npy", threads=1)
    two = run(tmp_path / "preds.npy", tmp_path / "labels.npy", threads=2)
    assert one["task"] == "sparse"
    assert_same_report(one, two)
    for a, b in zip(one["outputs"], two["outputs"], strict=True):
        assert a["support"] == b["support"] and a["accuracy"] == b["accuracy"]
        assert a["mean_loss"] == pytest.approx(b["mean_loss"], rel=1e-12)


def test_progress_rises_to_every_row(binary_npy: tuple[Path, Path]) -> None:
    preds, labels = binary_npy
    seen: list[tuple[int, int | None]] = []
    report = run_score(
        ScoreRequest(Inputs(str(preds), str(labels)), engine=LocalEngine(chunk_rows=CHUNK)),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.n_rows == N
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[0] == CHUNK and done[-1] == N
    assert len(seen) == -(-N // CHUNK) and {t for _, t in seen} == {N}
