"""Files built to show each binary / multi-label mistake raise its flag, with the right count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.core.options import LossOptions, Task
from bcecli.core.scoring import score_arrays

RNG = np.random.default_rng(11)


def write(path: Path, **columns: np.ndarray) -> str:
    names = list(columns)
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for row in zip(*columns.values(), strict=True):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return str(path)


def run(*args: str) -> tuple[int, dict[str, dict[str, object]], dict[str, object]]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return result.exit_code, {f["id"]: f for f in data["flags"]}, data


def good(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, 2, n)
    p = np.clip(0.5 + (y - 0.5) * RNG.uniform(0.2, 0.9, n), 0.01, 0.99)
    return y, p


def test_labels_coded_minus_one_plus_one(tmp_path: Path) -> None:
    y, p = good()
    _, flags, _ = run(write(tmp_path / "x.csv", y_true=2 * y - 1, y_pred=p))
    assert flags["labels_pm1"]["count"] == int((y == 0).sum())
    assert "map -1 to 0" in str(flags["label_out_of_range"]["hint"])


def test_from_logits_on_probabilities(tmp_path: Path) -> None:
    y, p = good()
    _, flags, _ = run(write(tmp_path / "x.csv", y_true=y, y_pred=p), "--from-logits")
    assert "logits_flag_on_probabilities" in flags


def test_double_sigmoid(tmp_path: Path) -> None:
    y, _ = good()
    logits = RNG.normal(0, 3, len(y))
    twice = 1 / (1 + np.exp(-(1 / (1 + np.exp(-logits)))))
    _, flags, _ = run(write(tmp_path / "x.csv", y_true=y, y_pred=twice))
    assert "double_sigmoid" in flags


def test_inverted_predictions(tmp_path: Path) -> None:
    y, p = good()
    _, flags, data = run(write(tmp_path / "x.csv", y_true=y, y_pred=1 - p))
    assert "inverted_predictions" in flags and "ne_above_1" in flags
    assert "biased_predictions" not in flags
    assert data["auc"] < 0.4  # type: ignore[operator]
    assert data["accuracy"] < 0.3  # type: ignore[operator]


def test_a_wrong_sign_bias_is_not_called_inverted_labels(tmp_path: Path) -> None:
    # an untrained sigmoid whose bias has the wrong sign: every prediction near 0.97 on a task
    # with 8% positives, the ranking no better than chance (issue 20's 3.37 bias)
    y = (RNG.uniform(size=2000) < 0.08).astype(float)
    p = 1 / (1 + np.exp(-(3.37 + RNG.normal(0, 0.3, len(y)))))
    _, flags, data = run(write(tmp_path / "x.csv", y_true=y, y_pred=p))
    assert "biased_predictions" in flags and "inverted_predictions" not in flags
    assert 0.4 <= data["auc"] <= 0.6  # type: ignore[operator]
    assert "bce check-init" in str(flags["biased_predictions"]["hint"])


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("path", ["fast", "general"])
def test_brier_if_inverted_matches_a_direct_sum(outputs: int, path: str) -> None:
    rng = np.random.default_rng(outputs)
    y = rng.integers(0, 2, (500, outputs)).astype(np.float64)
    p = rng.uniform(0.001, 0.999, (500, outputs))
    # unit weights send a chunk down the general path; the numbers must not change
    weights = np.ones(500) if path == "general" else None
    task = Task.BINARY if outputs == 1 else Task.MULTILABEL
    report = score_arrays(y, p, LossOptions(task=task), weights=weights)
    assert report.figures.brier_if_inverted == pytest.approx(np.mean((1 - p - y) ** 2), rel=1e-12)
    assert report.brier == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)


def test_roundoff_outside_the_unit_interval(tmp_path: Path) -> None:
    y, p = good()
    p[3] = 1.0000001
    _, flags, _ = run(write(tmp_path / "x.csv", y_true=y, y_pred=p))
    assert flags["pred_roundoff"]["rows"] == [3]
    assert "pred_out_of_range" not in flags


def test_weights_summing_to_zero_and_negative_weights(tmp_path: Path) -> None:
    y, p = good(20)
    w = np.zeros(20)
    _, flags, data = run(write(tmp_path / "x.csv", y_true=y, y_pred=p, w=w), "--sample-weight", "w")
    assert "weights_sum_zero" in flags and data["mean_loss"] == "nan"
    w = np.ones(20)
    w[5] = -1
    _, flags, _ = run(write(tmp_path / "y.csv", y_true=y, y_pred=p, w=w), "--sample-weight", "w")
    assert flags["negative_weights"]["rows"] == [5]


def test_keras_clipping_is_reported(tmp_path: Path) -> None:
    y, p = good()
    p[0], p[1] = 1e-9, 1 - 1e-9
    _, flags, _ = run(write(tmp_path / "x.csv", y_true=y, y_pred=p), "--compat", "keras")
    assert flags["clipped_predictions"]["rows"] == [0, 1]


def test_soft_labels_floor(tmp_path: Path) -> None:
    y = RNG.uniform(0, 1, 300)
    p = np.clip(y + RNG.normal(0, 0.05, 300), 0.01, 0.99)
    _, flags, data = run(write(tmp_path / "x.csv", y_true=y, y_pred=p))
    h = -(y * np.log(y) + (1 - y) * np.log1p(-y))
    assert abs(data["entropy_floor"] - h.mean()) < 1e-12  # type: ignore[operator]
    assert flags["soft_labels"]["count"] == 300
