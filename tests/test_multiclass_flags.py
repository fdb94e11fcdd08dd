"""Files built to show each multi-class mistake raise its flag; a healthy file raises none."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli

K = 5
N = 400


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def healthy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, N)
    logits = rng.normal(0, 1, (N, K))
    logits[np.arange(N), labels] += 3
    return labels, softmax(logits)


def write(path: Path, labels: np.ndarray, probs: np.ndarray, label_cols: int = 1) -> str:
    k = probs.shape[1]
    if label_cols == 1:
        header = ["label"]
        cols = [labels]
    else:
        header = [f"y_true_{i}" for i in range(label_cols)]
        cols = [labels[:, i] for i in range(label_cols)]
    header += [f"prob_{i}" for i in range(k)]
    cols += [probs[:, i] for i in range(k)]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in zip(*cols, strict=True):
            f.write(",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row))
            f.write("\n")
    return str(path)


def run(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json"])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout or "{}"), result.stderr


def flags(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f["id"]: f for f in data.get("flags", [])}  # type: ignore[union-attr]


def test_healthy_softmax_raises_nothing(tmp_path: Path) -> None:
    labels, probs = healthy()
    code, data, _ = run(write(tmp_path / "ok.csv", labels, probs))
    assert code == 0 and data["task"] == "sparse"
    # the labels are drawn apart from the probabilities, which are too timid for them: T = 0.35
    assert set(flags(data)) <= {"loss_above_1", "underconfident"}
    assert data["baseline_loss"] == pytest.approx(
        -sum(c / N * math.log(c / N) for c in np.bincount(labels)), rel=1e-12
    )


def test_rows_not_summing_to_one_show_the_renormalised_value(tmp_path: Path) -> None:
    labels, probs = healthy()
    probs = probs * np.where(np.arange(N) % 3 == 0, 0.8, 1.0)[:, None]
    code, data, _ = run(write(tmp_path / "x.csv", labels, probs))
    f = flags(data)["rows_not_sum_1"]
    assert f["count"] == len(range(0, N, 3))
    literal = -np.log(probs[np.arange(N), labels])
    renorm = -np.log((probs / probs.sum(axis=1, keepdims=True))[np.arange(N), labels])
    assert data["mean_loss"] == pytest.approx(literal.mean(), rel=1e-12)
    assert f"{renorm.mean():.4g}" in f["message"]  # type: ignore[operator]


def test_single_column_categorical(tmp_path: Path) -> None:
    y = (np.arange(N) % 2).astype(float)
    path = write(tmp_path / "x.csv", y[:, None], np.ones((N, 1)), label_cols=1)
    code, data, _ = run(path, "--task", "categorical")
    assert "categorical_single_column" in flags(data) and code == 1
    assert data["mean_loss"] == 0.0


def test_one_hot_labels_scored_as_multilabel(tmp_path: Path) -> None:
    labels, probs = healthy()
    onehot = np.eye(K, dtype=int)[labels]
    path = write(tmp_path / "x.csv", onehot, probs, label_cols=K)
    code, data, _ = run(path, "--task", "multilabel")
    f = flags(data)["one_hot_labels_bce"]
    cce = -np.log(probs[np.arange(N), labels]).mean()
    assert f"{cce:.4g}" in f["message"]  # type: ignore[operator]
    assert "80%" in f["message"]  # type: ignore[operator]  # (K-1)/K from all zeros
    assert "rows_sum_to_1" in flags(data)


def test_labels_that_look_one_indexed(tmp_path: Path) -> None:
    labels, probs = healthy()
    shifted = np.where(labels == K - 1, 1, labels + 1)  # 1 .. K-1 only: in range, no class 0
    code, data, _ = run(write(tmp_path / "x.csv", shifted, probs))
    assert "labels_one_indexed" in flags(data)
    assert "missing_classes" in flags(data)


def test_one_indexed_labels_out_of_range(tmp_path: Path) -> None:
    labels, probs = healthy()
    path = write(tmp_path / "x.csv", labels + 1, probs)
    result = CliRunner().invoke(cli, ["score", path])
    assert result.exit_code == 3 and "1-indexed" in result.stderr
    # Keras on JAX computes instead (the row's loss is 0): flagged as an error
    code, data, _ = run(path, "--compat", "keras")
    assert code == 1 and "sparse_label_out_of_range" in flags(data)


def test_non_integer_sparse_labels(tmp_path: Path) -> None:
    labels, probs = healthy()
    bad = labels.astype(float)
    bad[7] = 1.5
    result = CliRunner().invoke(
        cli, ["score", write(tmp_path / "x.csv", bad, probs), "--task", "sparse"]
    )
    assert result.exit_code == 3 and "not integers" in result.stderr and "row 7" in result.stderr


def test_double_softmax_and_its_floor(tmp_path: Path) -> None:
    labels, probs = healthy()
    code, data, _ = run(write(tmp_path / "x.csv", labels, softmax(probs)))
    f = flags(data)["double_softmax"]
    floor = math.log(1 + (K - 1) / math.e)
    assert f"{floor:.4g}" in f["message"]  # type: ignore[operator]
    assert data["mean_loss"] >= floor  # type: ignore[operator]


def test_missing_classes(tmp_path: Path) -> None:
    labels, probs = healthy()
    labels = np.where(labels == 3, 2, labels)
    code, data, _ = run(write(tmp_path / "x.csv", labels, probs))
    f = flags(data)["missing_classes"]
    assert f["count"] == 1 and "3" in f["message"]  # type: ignore[operator]


def test_misordered_columns(tmp_path: Path) -> None:
    labels, probs = healthy()
    swapped = probs[:, [1, 0, 2, 3, 4]]
    code, data, _ = run(write(tmp_path / "x.csv", labels, swapped))
    f = flags(data)["columns_misordered"]
    assert "prob_1" in f["message"] and "prob_0" in f["message"]  # type: ignore[operator]


def test_mistakes_and_per_class_table(tmp_path: Path) -> None:
    labels, probs = healthy()
    code, data, _ = run(write(tmp_path / "x.csv", labels, probs))
    pred = probs.argmax(axis=1)
    per_class = data["outputs"]
    for c, row in enumerate(per_class):  # type: ignore[arg-type]
        mask = labels == c
        assert row["support"] == mask.sum()
        assert row["accuracy"] == pytest.approx((pred[mask] == c).mean())
        assert row["mean_loss"] == pytest.approx(-np.log(probs[mask, c]).mean(), rel=1e-12)
    wrong = [(t, p) for t, p in zip(labels, pred, strict=True) if t != p]
    if wrong:
        top = data["mistakes"][0]  # type: ignore[index]
        counts = {(str(t), str(p)): wrong.count((t, p)) for t, p in set(wrong)}
        assert top["count"] == max(counts.values())
