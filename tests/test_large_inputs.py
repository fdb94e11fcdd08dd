"""Inputs that say they hold more than EXACT_LIMIT rows are scored without keeping rows for
exact quantiles (run.local), and still get exact quantiles when most rows are excluded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bcecli.core.sketch import EXACT_LIMIT
from bcecli.run import Inputs, LocalEngine, ScoreRequest, run_score


def _pair(tmp_path: Path, n: int, missing: slice | None) -> Inputs:
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = rng.uniform(0.01, 0.99, n)
    if missing is not None:
        p[missing] = np.nan
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", y)
    return Inputs(str(tmp_path / "p.npy"), str(tmp_path / "y.npy"))


def _exact_median(inputs: Inputs) -> float:
    p, y = np.load(str(inputs.preds)), np.load(str(inputs.labels))
    keep = np.isfinite(p)
    q = np.where(y[keep] == 1, p[keep], 1 - p[keep])
    return float(np.median(-np.log(q)))


def test_a_large_input_keeps_no_rows_and_matches_a_chunked_run(tmp_path: Path) -> None:
    inputs = _pair(tmp_path, EXACT_LIMIT + 5000, None)
    fast = run_score(ScoreRequest(inputs))
    # chunks of a size the caller chose, on two threads: the same bucketed quantiles, same bits
    other = run_score(ScoreRequest(inputs, engine=LocalEngine(threads=2, chunk_rows=70_001)))
    assert not fast.median_exact and not other.median_exact
    assert fast.median_loss == other.median_loss
    assert fast.mean_loss == other.mean_loss
    assert abs(fast.median_loss / _exact_median(inputs) - 1) < 1e-3


def test_mostly_excluded_rows_get_exact_quantiles(tmp_path: Path) -> None:
    inputs = _pair(tmp_path, EXACT_LIMIT + 5000, slice(0, 400_000))
    report = run_score(ScoreRequest(inputs))
    assert report.median_exact
    assert abs(report.median_loss / _exact_median(inputs) - 1) < 1e-14
