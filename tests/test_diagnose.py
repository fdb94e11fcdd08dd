"""Diagnose as a function of the tallies and the headline numbers, and the figures its checks
measure, checked against sums computed here."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.core.chunk import Chunk
from bcecli.core.context import Context
from bcecli.core.diagnose import BinaryFigures, Headline, MulticlassFigures, diagnose
from bcecli.core.options import LossOptions, Task
from bcecli.core.report import finalize
from bcecli.core.scoring import Scorer, score_arrays
from bcecli.errors import InputError


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sparse_rows(n: int = 400, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), labels] += 3
    return labels.astype(np.float64), softmax(logits)


def test_the_headline_alone_decides_the_flags_on_the_number() -> None:
    """The same tallies judged against another headline give that headline's flags: diagnose
    reads the numbers it is given, not a report."""
    y = np.array([0.0, 1.0] * 10)
    p = np.where(y == 1, 0.8, 0.2)
    scorer = Scorer(LossOptions(task=Task.BINARY), 1)
    scorer.score(Chunk(0, y[:, None], p[:, None], None))
    report = finalize(scorer.accumulator, Context())
    assert not {"mean_above_1", "ne_above_1"} & {f.id for f in report.flags}
    head = Headline(20, report.mean_loss, 0.0, report.baseline_loss, report.ne, (0.5,), None)
    worse = dataclasses.replace(head, mean_loss=1.5, ne=1.2)
    found = diagnose(scorer.accumulator, worse, Context())
    by_id = {f.id: f for f in found.flags}
    assert "the mean loss 1.5 is above 1" in by_id["mean_above_1"].message
    assert f"geometric mean {math.exp(-1.5):.4g}" in by_id["mean_above_1"].message
    assert by_id["ne_above_1"].message.startswith("NE = 1.2:")
    assert diagnose(scorer.accumulator, head, Context()).flags == report.flags


def test_flags_come_in_report_order() -> None:
    report = score_arrays([1] * 12, [1.0] * 12, LossOptions(task=Task.BINARY))
    assert [f.id for f in report.flags] == [
        "constant_predictions",
        "saturated_predictions",
        "single_class",
    ]


def test_binary_figures() -> None:
    y, p = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.7, 0.6, 0.3])
    figures = score_arrays(y, p, LossOptions(task=Task.BINARY)).figures
    assert isinstance(figures, BinaryFigures)
    assert figures.brier_if_inverted == pytest.approx(np.mean((1 - p - y) ** 2), rel=1e-12)
    assert figures.categorical_loss is None  # one output: no label row is one-hot
    soft = score_arrays([0.3, 0.9], [0.2, 0.8], LossOptions(task=Task.BINARY)).figures
    assert soft == BinaryFigures(brier_if_inverted=None, categorical_loss=None)


def test_one_hot_rows_scored_with_bce_measure_their_categorical_loss() -> None:
    labels, probs = sparse_rows()
    onehot = np.eye(5)[labels.astype(int)]
    report = score_arrays(onehot, probs, LossOptions(task=Task.MULTILABEL))
    assert isinstance(report.figures, BinaryFigures)
    cce = -np.log(probs[np.arange(len(labels)), labels.astype(int)]).mean()
    assert report.figures.categorical_loss == pytest.approx(cce, rel=1e-12)
    assert "one_hot_labels_bce" in {f.id for f in report.flags}


def test_double_softmax_floor() -> None:
    labels, probs = sparse_rows()
    healthy = score_arrays(labels, probs, LossOptions(task=Task.SPARSE))
    assert healthy.figures == MulticlassFigures(double_softmax_floor=None)
    twice = score_arrays(labels, softmax(probs), LossOptions(task=Task.SPARSE))
    assert isinstance(twice.figures, MulticlassFigures)
    assert twice.figures.double_softmax_floor == pytest.approx(math.log(1 + 4 / math.e), rel=1e-15)
    assert twice.mean_loss >= twice.figures.double_softmax_floor


def test_every_row_excluded_names_the_parameter(tmp_path: Path) -> None:
    """The error names ignore_class to a library caller and --ignore-class on the command
    line."""
    opts = LossOptions(task=Task.SPARSE, ignore_class=1)
    with pytest.raises(InputError) as caught:
        score_arrays([1, 1, 1], [[0.2, 0.8], [0.3, 0.7], [0.4, 0.6]], opts)
    assert "all 3 rows were excluded (3 rows skipped by ignore_class)" in str(caught.value)
    path = tmp_path / "x.csv"
    path.write_text("label,prob_0,prob_1\n1,0.2,0.8\n1,0.3,0.7\n1,0.4,0.6\n")
    result = CliRunner().invoke(cli, ["score", str(path), "--ignore-class", "1"])
    assert result.exit_code == 3
    assert "(3 rows skipped by --ignore-class)" in result.stderr
