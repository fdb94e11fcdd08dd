"""Columns found by name; with the labels found, the other columns numbered under one prefix are
the predictions (a pandas frame of predict_proba output names them 0 .. K-1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.errors import InputError
from bcecli.readers.columns import select_columns


def select(columns: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    s = select_columns(
        columns,
        want_labels=True,
        want_preds=True,
        label_cols=None,
        pred_cols=None,
        exclude=(),
        source="f.csv",
    )
    return s.labels, s.preds


@pytest.mark.parametrize(
    ("columns", "preds"),
    [
        (["label", "0", "1", "2"], ("0", "1", "2")),
        (["2", "0", "target", "1"], ("0", "1", "2")),  # ordered by number, not by place
        (["y", "class_1", "class_2", "class_3"], ("class_1", "class_2", "class_3")),
        (["id", "label", "c0", "c1"], ("c0", "c1")),  # an id column is not a prediction
        (
            ["label", "9", "10", "11", "0", "1", "2", "3", "4", "5", "6", "7", "8"],
            tuple(str(k) for k in range(12)),
        ),  # fmt: skip
    ],
)
def test_numbered_columns_beside_the_labels_are_the_predictions(
    columns: list[str], preds: tuple[str, ...]
) -> None:
    assert select(columns)[1] == preds


@pytest.mark.parametrize(
    "columns",
    [
        ["label", "0", "1", "3"],  # a gap
        ["label", "2", "3", "4"],  # neither from 0 nor from 1
        ["label", "a_0", "b_1"],  # two prefixes
        ["label", "0", "1", "extra"],  # a column outside the family
        ["0", "1", "2"],  # no labels found: which column holds them is not known
    ],
)
def test_other_columns_stay_ambiguous(columns: list[str]) -> None:
    with pytest.raises(InputError, match="cannot tell which column"):
        select(columns)


def test_a_pandas_frame_of_class_probabilities(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 4, 500)
    p = rng.dirichlet(np.ones(4), 500)
    pd.DataFrame(p).assign(label=y).to_csv(tmp_path / "frame.csv", index=False)
    named = pd.DataFrame(p, columns=[f"prob_{k}" for k in range(4)]).assign(label=y)
    named.to_csv(tmp_path / "named.csv", index=False)
    reports = []
    for name in ("frame.csv", "named.csv"):
        result = CliRunner().invoke(cli, ["score", str(tmp_path / name), "--format", "json"])
        assert result.exit_code == 0, result.stderr
        reports.append(json.loads(result.stdout))
    frame, named_report = reports
    assert frame["task"] == "sparse" and frame["n"] == 500
    assert frame["mean_loss"] == named_report["mean_loss"]
    assert frame["mean_loss"] == pytest.approx(-np.log(p[np.arange(500), y]).mean(), rel=1e-12)
