"""The figures beside the headline: the calibration ratio and RCE (issue 24, item 4), checked
against numpy on the same rows, weighted and per output, and the same bits on any chunking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bcecli
from bcecli.api import score_file


def _binary(n: int, seed: int, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    y = (rng.random((n, k)) < 1 / (1 + np.exp(-z))).astype(np.float64)
    p = 1 / (1 + np.exp(-(0.8 * z + 0.2)))  # mis-scaled and biased: the ratio is not 1
    w = rng.uniform(0.2, 3.0, n)
    return y, p, w


def _entropy(q: np.ndarray) -> np.ndarray:
    return np.asarray(-(q * np.log(q) + (1 - q) * np.log1p(-q)))


def test_calibration_ratio_and_rce_match_numpy_weighted() -> None:
    y, p, w = _binary(5000, 1)
    r = bcecli.score(y[:, 0], p[:, 0], sample_weight=w)
    assert r.calibration_ratio == pytest.approx(np.sum(w * p[:, 0]) / np.sum(w * y[:, 0]), 1e-12)
    loss = -(y[:, 0] * np.log(p[:, 0]) + (1 - y[:, 0]) * np.log1p(-p[:, 0]))
    prior = np.sum(w * y[:, 0]) / np.sum(w)
    ne = (np.sum(w * loss) / np.sum(w)) / _entropy(np.array(prior))
    assert r.rce == pytest.approx(100 * (1 - ne), rel=1e-10)
    d = r.to_dict()
    assert d["rce"] == r.rce and d["calibration_ratio"] == r.calibration_ratio


def test_calibration_ratio_unweighted_and_per_output() -> None:
    y, p, _ = _binary(3000, 2, k=3)
    r = bcecli.score(y, p, task="multilabel")
    assert r.calibration_ratio == pytest.approx(p.sum() / y.sum(), rel=1e-12)
    got = [o.calibration_ratio for o in r.outputs]
    assert got == pytest.approx(list(p.sum(axis=0) / y.sum(axis=0)), rel=1e-12)
    assert r.rce == pytest.approx(100 * (1 - r.ne), rel=1e-15)


def test_no_positives_gives_nan_and_categorical_none() -> None:
    r = bcecli.score([0.0, 0.0, 0.0], [0.1, 0.2, 0.3])
    assert np.isnan(r.calibration_ratio or 0.0) and r.to_dict()["calibration_ratio"] == "nan"
    c = bcecli.score([0, 1, 2, 1], np.full((4, 3), 1 / 3), task="sparse")
    assert c.calibration_ratio is None and c.to_dict()["calibration_ratio"] is None
    assert all(o.calibration_ratio is None for o in c.outputs)


def _csv(path: Path, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> Path:
    import pandas as pd

    pd.DataFrame({"y_true": y[:, 0], "y_pred": p[:, 0], "weight": w}).to_csv(path, index=False)
    return path


def _figures(path: Path, chunk_rows: int | None) -> dict[str, Any]:
    d = score_file(str(path), sample_weight="weight", chunk_rows=chunk_rows).to_dict()
    return {k: d[k] for k in ("calibration_ratio", "rce", "ne", "mean_loss")}


def test_same_bits_whatever_the_chunking(tmp_path: Path) -> None:
    y, p, w = _binary(30_011, 3)
    path = _csv(tmp_path / "w.csv", y, p, w)
    whole = _figures(path, None)
    assert _figures(path, 1000) == whole
    assert _figures(path, 7777) == whole
