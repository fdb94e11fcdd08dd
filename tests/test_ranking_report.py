"""The report's ranking metrics, decomposition and recalibration ladder, end to end: what
``score_file`` (and so ``bce score --format json``) prints, against scikit-learn,
model-diagnostics and scipy on the same rows, chunked and whole, one file and partitions."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.optimize as so
import scipy.special as sp
from sklearn.metrics import average_precision_score, roc_auc_score

import bcecli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
BINARY = [
    ("healthy_binary.csv", "y_true", "y_pred", False),
    ("imbalanced_binary.csv", "label", "score", False),
    ("logits_as_probs.csv", "y_true", "y_pred", True),
]
LADDER_KEYS = {"bias": {"loss", "b"}, "temperature": {"loss", "T"}, "platt": {"loss", "a", "b"}}


def columns(name: str, *cols: str) -> list[np.ndarray]:
    with open(SAMPLES / name) as f:
        rows = list(csv.DictReader(f))
    return [np.array([float(r[c]) for r in rows]) for c in cols]


def md_decompose(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from model_diagnostics.scoring import LogLoss, decompose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oracle's own deprecation warnings
        frame = decompose(y, p, scoring_function=LogLoss())
    return {k: float(frame[k][0]) for k in ("miscalibration", "discrimination", "uncertainty")}


def logloss(y: np.ndarray, z: np.ndarray) -> float:
    return float(-np.mean(sp.xlogy(y, sp.expit(z)) + sp.xlogy(1 - y, sp.expit(-z))))


def check_section(d: dict[str, Any], y: np.ndarray, p: np.ndarray, z: np.ndarray) -> None:
    """One output's keys against the oracles on its rows."""
    assert d["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert d["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    dec = d["decomposition"]
    expected = md_decompose(y, p)
    for key, value in expected.items():
        assert dec[key] == pytest.approx(value, abs=1e-12), key
    assert dec["method"] == "isotonic (exact)" and dec["resolution"] is None
    recal = d["recalibration"]
    assert {k: set(v) for k, v in recal.items() if k in LADDER_KEYS} == LADDER_KEYS
    res = so.minimize(
        lambda th: logloss(y, th[0] * z + th[1]), [1.0, 0.0], method="BFGS", tol=1e-12
    )
    assert (recal["platt"]["a"], recal["platt"]["b"]) == pytest.approx(tuple(res.x), rel=1e-5)
    assert recal["platt"]["loss"] == pytest.approx(res.fun, abs=1e-10)
    assert recal["isotonic"]["loss"] == pytest.approx(
        dec["uncertainty"] - dec["discrimination"], abs=1e-12
    )


@pytest.mark.parametrize(("name", "ycol", "pcol", "logits"), BINARY)
def test_binary_report_against_the_oracles(name: str, ycol: str, pcol: str, logits: bool) -> None:
    y, x = columns(name, ycol, pcol)
    d = bcecli.score_file(str(SAMPLES / name), from_logits=logits).to_dict()
    p = sp.expit(x) if logits else x
    z = x if logits else np.log(p) - np.log1p(-p)
    check_section(d, y, p, z)
    dec = d["decomposition"]
    # the identity, with the report's own mean loss
    assert d["mean_loss"] == pytest.approx(
        dec["miscalibration"] - dec["discrimination"] + dec["uncertainty"], rel=1e-12
    )
    assert dec["uncertainty"] == pytest.approx(d["baseline_loss"], rel=1e-12)


def test_chunked_and_partitioned_runs_report_the_same() -> None:
    path = str(SAMPLES / "healthy_binary.csv")
    whole = bcecli.score_file(path).to_dict()
    chunked = bcecli.score_file(path, chunk_rows=333).to_dict()
    for key in ("auc", "average_precision", "decomposition", "recalibration"):
        assert chunked[key] == whole[key], key


def test_partitioned_dataset_equals_its_rows_in_one_file(tmp_path: Path) -> None:
    parts = sorted((SAMPLES / "partitioned").glob("part-*.csv"))
    texts = [p.read_text().splitlines(keepends=True) for p in parts]
    single = tmp_path / "all.csv"
    single.write_text("".join(texts[0] + [line for t in texts[1:] for line in t[1:]]))
    merged = bcecli.score_file(str(SAMPLES / "partitioned")).to_dict()
    whole = bcecli.score_file(str(single)).to_dict()
    for key in ("auc", "average_precision", "decomposition", "recalibration"):
        assert merged[key] == whole[key], key
    y, p = (c.to_numpy() for c in (pd.read_csv(single)[k] for k in ("y_true", "y_pred")))
    scored = np.isfinite(y) & np.isfinite(p)  # bce excludes the rows with a missing value
    y, p = y[scored], p[scored]
    check_section(merged, y, p, np.log(p) - np.log1p(-p))


def test_multilabel_outputs_each_have_their_own() -> None:
    name = "multilabel_soft.csv"
    labels = ["y_true_cat", "y_true_dog", "y_true_outdoor", "y_true_night"]
    preds = ["prob_cat", "prob_dog", "prob_outdoor", "prob_night"]
    d = bcecli.score_file(str(SAMPLES / name)).to_dict()
    assert d["task"] == "multilabel"
    decs = [o["decomposition"] for o in d["outputs"]]
    for key in ("miscalibration", "discrimination", "uncertainty"):
        assert d["decomposition"][key] == pytest.approx(np.mean([x[key] for x in decs]))
    # soft labels: a row is a positive of weight y and a negative of weight 1 - y
    for o, lab, pred in zip(d["outputs"], labels, preds, strict=True):
        y, p = columns(name, lab, pred)
        yy, pp, ww = np.r_[np.ones(len(y)), np.zeros(len(y))], np.r_[p, p], np.r_[y, 1 - y]
        assert o["auc"] == pytest.approx(roc_auc_score(yy, pp, sample_weight=ww), abs=1e-12)
    assert d["recalibration"] is None  # per output only


def test_no_ranking_where_the_labels_are_unusable() -> None:
    d = bcecli.score(np.array([-1.0, 1, 1, -1]), np.array([0.2, 0.8, 0.6, 0.4])).to_dict()
    assert d["auc"] is None and d["decomposition"] is None and d["recalibration"] is None


def test_single_class_auc_is_nan() -> None:
    d = bcecli.score(np.ones(4), np.array([0.2, 0.8, 0.6, 0.4])).to_dict()
    assert d["auc"] == "nan"
    assert d["decomposition"]["uncertainty"] == 0.0


def test_infinite_loss_keeps_valid_json() -> None:
    d = bcecli.score(np.array([1.0, 0, 1]), np.array([0.0, 0.2, 0.9])).to_dict()
    assert d["mean_loss"] == "inf" and d["decomposition"]["miscalibration"] == "inf"
    assert math.isfinite(d["decomposition"]["discrimination"])
