"""Multi-class ranking, decomposition and recalibration in the report, against independent
implementations on the same rows: scikit-learn's roc_auc_score (one-vs-rest, macro and
weighted) and top_k_accuracy_score, model-diagnostics' decompose on each binary problem, and a
direct scipy fit of the temperature. Exact tables on the sample files; the binned path (past
the exact bound) within ``TOLERANCE`` of exact on random data with ties and extreme
probabilities; chunked, partitioned and merged in any order the same."""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.optimize as so
import scipy.special as sp
from sklearn.metrics import average_precision_score, roc_auc_score, top_k_accuracy_score
from sklearn.preprocessing import label_binarize

import bcecli
from bcecli.core import class_scores as cs
from bcecli.core.chunk import Placer

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
# the binned path's promise (as for the binary score: tests/test_decomposition.py)
TOLERANCE = 1e-4
TERMS = ("miscalibration", "discrimination", "uncertainty")


def md_decompose(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    from model_diagnostics.scoring import LogLoss, decompose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oracle's own deprecation warnings
        frame = decompose(y, p, weights=w, scoring_function=LogLoss())
    return {k: float(frame[k][0]) for k in TERMS}


def temperature_oracle(labels: np.ndarray, logp: np.ndarray) -> tuple[float, float]:
    """(T, the loss at T) by a bounded scalar search on every row."""

    def loss(s: float) -> float:
        return float(-np.mean(sp.log_softmax(s * logp, axis=1)[np.arange(len(labels)), labels]))

    res = so.minimize_scalar(loss, bounds=(0.01, 50), method="bounded", options={"xatol": 1e-12})
    return 1 / float(res.x), float(res.fun)


def close(got: Any, expected: float, tol: float) -> bool:
    """``got`` (a JSON number, or "inf"/"nan") within ``tol`` of ``expected``; an infinite value
    only equals itself."""
    g = float(got)
    if math.isinf(expected) or math.isinf(g):
        return g == expected
    return abs(g - expected) <= tol


def check_report(d: dict[str, Any], labels: np.ndarray, p: np.ndarray, *, tol: float) -> None:
    """The report's multi-class keys against the oracles on its rows (``tol``: 0 for exact
    tables, up to the binned promise)."""
    k = p.shape[1]
    classes = np.arange(k)
    at = max(tol, 1e-12)
    assert d["auc"]["method"] == "one-vs-rest"
    for avg in ("macro", "weighted"):
        # multi_class="ovr" is the average over the binarised labels; scikit-learn asks rows
        # that sum to 1 for it, which rounded rows do not (the binarised form does not ask)
        expected = roc_auc_score(label_binarize(labels, classes=classes), p, average=avg)
        if np.allclose(p.sum(axis=1), 1):
            ovr = roc_auc_score(labels, p, multi_class="ovr", average=avg, labels=classes)
            assert ovr == pytest.approx(expected, abs=1e-12)
        assert abs(d["auc"][avg] - expected) <= at, avg
    for kk, acc in d["top_k_accuracy"].items():
        expected = top_k_accuracy_score(labels, p, k=int(kk), labels=classes)
        assert acc == pytest.approx(expected, abs=1e-12), kk
    for j, o in enumerate(d["outputs"]):
        y = (labels == j).astype(float)
        assert abs(o["auc"] - roc_auc_score(y, p[:, j])) <= at
        if tol == 0:
            assert o["average_precision"] == pytest.approx(average_precision_score(y, p[:, j]))
        dec = o["decomposition"]
        assert dec["method"].startswith("one-vs-rest isotonic")
        for key, value in md_decompose(y, p[:, j]).items():
            assert close(dec[key], value, at), (j, key, dec[key], value)
        identity = float(dec["miscalibration"]) - dec["discrimination"] + dec["uncertainty"]
        assert close(dec["loss"], identity, 1e-12)
    top = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(float)
    dec = d["decomposition"]
    assert dec["method"].startswith("top-label isotonic")
    for key, value in md_decompose(correct, top).items():
        assert close(dec[key], value, at), (key, dec[key], value)
    top_loss = -np.mean(sp.xlogy(correct, top) + sp.xlogy(1 - correct, 1 - top))
    assert close(dec["loss"], top_loss, 1e-12 * max(1.0, abs(top_loss)))


@pytest.mark.parametrize("name", ["softmax_10class.csv", "onehot_3class.csv"])
def test_sample_files_against_the_oracles(name: str) -> None:
    frame = pd.read_csv(SAMPLES / name)
    d = bcecli.score_file(str(SAMPLES / name), top_k=2).to_dict()
    p = frame[[c for c in frame.columns if c.startswith("prob_")]].to_numpy()
    y = frame[[c for c in frame.columns if not c.startswith("prob_")]].to_numpy()
    labels = y[:, 0].astype(int) if y.shape[1] == 1 else y.argmax(axis=1)
    assert set(d["top_k_accuracy"]) == ({"1", "2", "5"} if p.shape[1] > 5 else {"1", "2"})
    check_report(d, labels, p, tol=0.0)
    recal = d["recalibration"]
    assert recal["exact"] and recal["rows"] == len(p)
    t, loss = temperature_oracle(labels, np.log(p))
    assert recal["temperature"]["T"] == pytest.approx(t, rel=1e-6)
    assert recal["temperature"]["loss"] == pytest.approx(loss, abs=1e-10)
    assert d["mean_loss"] == pytest.approx(
        float(-np.mean(np.log(p[np.arange(len(p)), labels]))), rel=1e-12
    )


def random_rows(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) and over-confident probabilities softmax(2 z), rounded to
    2 decimals in a third of the rows (ties), with rows of extreme probabilities (1e-30 ..
    1 - 1e-12) and exact zeros for classes that are not the label."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 1.5
    cum = sp.softmax(z, axis=1).cumsum(axis=1)
    labels = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
    p = sp.softmax(2 * z, axis=1)
    tied = rng.random(n) < 1 / 3
    p[tied] = np.round(p[tied], 2)
    extreme = np.flatnonzero(rng.random(n) < 0.02)
    for i in extreme:
        row = np.full(k, 1e-30)
        row[rng.integers(k)] = 1 - 1e-12
        p[i] = row
    zero = np.flatnonzero(rng.random(n) < 0.02)
    for i in zero:
        other = (labels[i] + 1) % k
        p[i, other] = 0.0
    # every true class keeps a positive probability (a finite loss, as the oracles need)
    rows = np.arange(n)
    p[rows, labels] = np.maximum(p[rows, labels], 1e-6)
    return labels, p


def write(tmp: Path, labels: np.ndarray, p: np.ndarray) -> Path:
    path = tmp / "rows.csv"
    frame = pd.DataFrame(p, columns=[f"prob_{j}" for j in range(p.shape[1])])
    frame.insert(0, "label", labels)
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


@pytest.mark.parametrize("seed", [0, 1])
def test_random_rows_with_ties_and_extremes(tmp_path: Path, seed: int) -> None:
    labels, p = random_rows(4000, 5, seed)
    path = write(tmp_path, labels, p)
    d = bcecli.score_file(str(path)).to_dict()
    assert d["outputs"][0]["decomposition"]["method"] == "one-vs-rest isotonic (exact)"
    check_report(d, labels, p, tol=0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binned_within_tolerance_of_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    labels, p = random_rows(6000, 4, seed)
    path = write(tmp_path, labels, p)
    monkeypatch.setattr(cs, "EXACT_LIMIT", 1000)
    monkeypatch.setattr("bcecli.core.score_summary.EXACT_LIMIT", 1000)
    d = bcecli.score_file(str(path), chunk_rows=512).to_dict()
    assert d["outputs"][0]["decomposition"]["method"] == "one-vs-rest isotonic (binned)"
    assert d["decomposition"]["method"] == "top-label isotonic (binned)"
    check_report(d, labels, p, tol=TOLERANCE)


def test_every_class_binned_at_once_equals_class_by_class() -> None:
    labels, p = random_rows(3000, 6, 3)
    keep = (p > 0).all(axis=1) & (p < 1 - 1e-9).all(axis=1)  # every score in a fine bin
    labels, p = labels[keep], p[keep]
    fast, slow = cs.ClassScores(6), cs.ClassScores(6)
    for s in (*fast.ovr, *slow.ovr):
        s.buckets_only()
    assert fast._add_fine(p, labels)
    slow._add_ovr(0, p, labels, np.ones(len(p)))  # weights: class by class
    for a, b in zip(fast.ovr, slow.ovr, strict=True):
        ta, tb = a.table(), b.table()
        np.testing.assert_array_equal(ta.score, tb.score)
        np.testing.assert_array_equal(ta.pos, tb.pos)
        np.testing.assert_array_equal(ta.neg, tb.neg)


def test_weights_match_sklearn(tmp_path: Path) -> None:
    labels, p = random_rows(2000, 4, 5)
    w = np.random.default_rng(5).uniform(0.1, 3, len(labels))
    d = bcecli.score(labels, p, sample_weight=w).to_dict()
    for avg in ("macro", "weighted"):
        binarised = label_binarize(labels, classes=np.arange(4))
        expected = roc_auc_score(binarised, p, average=avg, sample_weight=w)
        assert d["auc"][avg] == pytest.approx(expected, abs=1e-12)
    expected = top_k_accuracy_score(labels, p, k=1, sample_weight=w, labels=np.arange(4))
    assert d["top_k_accuracy"]["1"] == pytest.approx(expected, abs=1e-12)
    y0 = (labels == 0).astype(float)
    for key, value in md_decompose(y0, p[:, 0], w).items():
        assert close(d["outputs"][0]["decomposition"][key], value, 1e-10), key


def test_logits_fit_the_temperature_on_the_logits() -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(size=(3000, 5))
    cum = sp.softmax(z, axis=1).cumsum(axis=1)
    labels = np.minimum((rng.random(3000)[:, None] > cum).sum(axis=1), 4)
    d = bcecli.score(labels, 3 * z, from_logits=True, task="sparse").to_dict()
    t, loss = temperature_oracle(labels, 3 * z)
    assert d["recalibration"]["temperature"]["T"] == pytest.approx(t, rel=1e-6)
    assert d["recalibration"]["temperature"]["T"] > 2  # logits 3x too large
    assert d["recalibration"]["temperature"]["loss"] == pytest.approx(loss, abs=1e-10)
    check_report(d, labels, sp.softmax(3 * z, axis=1), tol=0.0)


def test_chunked_and_partitioned_equal_whole(tmp_path: Path) -> None:
    labels, p = random_rows(3000, 4, 8)
    path = write(tmp_path, labels, p)
    keys = ("auc", "top_k_accuracy", "decomposition", "recalibration", "outputs")
    whole = bcecli.score_file(str(path)).to_dict()
    chunked = bcecli.score_file(str(path), chunk_rows=256).to_dict()
    for key in keys:
        assert chunked[key] == whole[key], key
    parts = tmp_path / "parts"
    parts.mkdir()
    frame = pd.read_csv(path)
    for i, start in enumerate(range(0, 3000, 700)):
        frame.iloc[start : start + 700].to_csv(parts / f"part-{i}.csv", index=False)
    merged = bcecli.score_file(str(parts)).to_dict()
    for key in keys:
        assert merged[key] == whole[key], key


def test_merge_order_does_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "EXACT_LIMIT", 4000)  # exact, then binned, as the merges go
    labels, p = random_rows(5000, 4, 9)
    top = p.max(axis=1)
    correct = p.argmax(axis=1) == labels
    lit = -np.log(p[np.arange(len(p)), labels])
    with np.errstate(divide="ignore"):
        logp = np.log(p)

    def part(lo: int, hi: int) -> cs.ClassScores:
        c = cs.ClassScores(4)
        rows = np.arange(lo, hi)
        c.add(
            lo, Placer(None), rows, p[lo:hi], labels[lo:hi], correct[lo:hi], top[lo:hi],
            lambda i, lo=lo, hi=hi: logp[lo:hi][i], lit[lo:hi], None,
        )  # fmt: skip
        return c

    bounds = list(range(0, 5001, 500))
    parts = [part(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    results = []
    for seed in (0, 1):
        random.Random(seed).shuffle(parts)
        merged = cs.ClassScores(4)
        for c in parts:
            merged.merge(c)
        results.append(cs.analyse_classes(merged))
    assert results[0] == results[1]
