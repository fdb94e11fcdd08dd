"""Probabilities written with float_format="%.3f": rows that sum to 1 only to the precision they
were written with are rounded softmax outputs, not rows_not_sum_1 (and the hint never blames
logits for values in [0, 1])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bcecli

K, N = 10, 400


def _export(tmp_path: Path, rng: np.random.Generator) -> Path:
    z = rng.normal(0, 1, (N, K))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    df = pd.DataFrame(p, columns=[f"prob_{i}" for i in range(K)])
    df.insert(0, "label", rng.integers(0, K, N))
    path = tmp_path / "rounded.csv"
    df.to_csv(path, index=False, float_format="%.3f")
    return path


def test_rows_rounded_to_three_decimals_are_not_flagged(tmp_path: Path) -> None:
    path = _export(tmp_path, np.random.default_rng(7))
    back = pd.read_csv(path)
    probs, labels = back.iloc[:, 1:].to_numpy(), back["label"].to_numpy()
    sums = probs.sum(axis=1)
    assert np.abs(sums - 1).max() > 1e-4  # what the fixed tolerance called "not softmax"
    r = bcecli.score_file(str(path))
    assert r.flag("rows_not_sum_1") is None
    assert r.mean_loss == pytest.approx(-np.mean(np.log(probs[np.arange(N), labels])), rel=1e-12)
    (note,) = [n for n in r.notes if "decimals" in n]
    off = int(np.count_nonzero(np.abs(sums - 1) > 1e-4))
    assert note.startswith(f"{off} prediction row(s) were written with 3 decimals")


def test_rows_off_by_more_than_rounding_are_flagged_without_blaming_logits() -> None:
    rng = np.random.default_rng(8)
    p = np.round(rng.dirichlet(np.ones(K), N) * 0.9, 3)  # in [0, 1], rows sum to about 0.9
    r = bcecli.score(rng.integers(0, K, N), p, task="sparse")
    flag = r.flag("rows_not_sum_1")
    assert flag is not None and flag.count == N
    assert "--from-logits" not in flag.hint
