"""An invalid headline: when an error flag makes the mean meaningless, every format says so,
names the flag and keeps the computed numbers; a valid mean keeps its band."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import bcecli
from bcecli.cli import cli
from bcecli.core.bands import band_for
from tests.conftest import SAMPLES

RNG = np.random.default_rng(19)
Y = RNG.integers(0, 2, 400)
LOGITS = np.where(Y == 1, 1.0, -1.0) * 2.5 + RNG.normal(0, 1.5, 400)


def test_logits_read_as_probabilities_are_not_a_valid_loss() -> None:
    r = bcecli.score(Y, LOGITS)
    assert not r.valid and r.band == "invalid" and r.band_id == "invalid"
    assert r.invalid_reason is not None and r.invalid_reason.startswith("pred_out_of_range: ")
    assert r.invalid_flag == "pred_out_of_range"
    # the computed value is kept: -mean ln|p - (1 - y)|, the literal formula's true class
    reference = -np.mean(np.log(np.abs(LOGITS - (1 - Y))))
    assert r.mean_loss == pytest.approx(reference, rel=1e-12)
    assert r.mean_loss < 0  # what a band would have called perfect
    d = r.to_dict()
    assert (d["valid"], d["band"], d["mean_loss"]) == (False, "invalid", r.mean_loss)
    assert d["invalid_reason"] == r.invalid_reason


def test_probabilities_are_valid_and_keep_their_band() -> None:
    p = 1 / (1 + np.exp(-LOGITS))
    r = bcecli.score(Y, p)
    reference = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    assert r.mean_loss == pytest.approx(reference, rel=1e-12)
    band = band_for(reference)
    assert band is not None
    assert r.valid and r.invalid_reason is None and r.band == band.label


def test_a_single_column_categorical_loss_is_not_called_perfect() -> None:
    r = bcecli.score(np.ones((50, 1)), np.ones((50, 1)), task="categorical")
    assert r.mean_loss == 0.0  # softmax over one unit: always 0, whatever the labels
    assert not r.valid and r.band == "invalid"
    assert r.invalid_flag == "categorical_single_column"


def test_a_negative_mean_from_negative_weights_is_not_valid() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.1, 0.3])
    w = np.array([1.0, 1.0, -1.0, 1.0])
    r = bcecli.score(y, p, sample_weight=w)
    losses = -np.log(np.where(y == 1, p, 1 - p))
    reference = float(np.sum(w * losses) / np.sum(w))
    assert reference < 0
    assert r.mean_loss == pytest.approx(reference, rel=1e-12)
    assert not r.valid and r.invalid_flag == "negative_weights"


def test_excluded_rows_leave_the_mean_of_the_others_valid() -> None:
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.2, np.nan, 0.3, 0.7])
    r = bcecli.score(y, p)
    assert r.flag("non_finite") is not None and r.valid


def test_every_format_says_so(runner: CliRunner) -> None:
    path = str(SAMPLES / "logits_as_probs.csv")
    js = runner.invoke(cli, ["score", path, "--format", "json", "--fail-on", "never"])
    data = json.loads(js.stdout)
    assert data["valid"] is False and data["band"] == "invalid"
    assert isinstance(data["mean_loss"], float) and data["mean_loss"] < 0
    tsv = runner.invoke(cli, ["score", path, "--format", "tsv", "--fail-on", "never"])
    rows = dict(line.split("\t")[:2] for line in tsv.stdout.splitlines())
    assert rows["valid"] == "false" and rows["band"] == "invalid"
    assert rows["invalid_reason"].startswith("pred_out_of_range")
    table = runner.invoke(
        cli, ["score", path, "--format", "table", "--fail-on", "never"], env={"COLUMNS": "120"}
    )
    assert "not a valid loss: pred_out_of_range" in table.stdout
    assert "--from-logits" in table.stdout.split("Loss")[0]  # above the numbers
    assert "perfect" not in table.stdout
