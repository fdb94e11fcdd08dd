"""The Python API: bcecli.score on arrays, lists, pandas and polars objects, bcecli.score_file
on files; the same numbers as the CLI on the same data, errors that name parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bcecli
from bcecli.cli import cli
from tests.conftest import SAMPLES

HEALTHY = SAMPLES / "healthy_binary.csv"
TEN_CLASS = SAMPLES / "softmax_10class.csv"
MULTILABEL = SAMPLES / "multilabel_soft.csv"


def cli_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def numbers(data: dict[str, Any]) -> dict[str, Any]:
    """Everything but where the data came from (file names, columns, the notes naming them)."""
    out = {k: v for k, v in data.items() if k not in ("inputs", "notes")}
    out["outputs"] = [{k: v for k, v in o.items() if k != "name"} for o in data["outputs"]]
    out["mistakes"] = [m["count"] for m in data["mistakes"]]
    return out


def test_arrays_give_the_numbers_of_the_cli_on_the_same_file() -> None:
    y, p = np.loadtxt(HEALTHY, delimiter=",", skiprows=1, unpack=True)
    report = bcecli.score(y, p)
    assert numbers(report.to_dict()) == numbers(cli_json(str(HEALTHY)))
    per = -(y * np.log(p) + (1 - y) * np.log1p(-p))  # an independent reference
    assert report.mean_loss == pytest.approx(per.mean(), rel=1e-12)
    assert report.task is bcecli.Task.BINARY and report.n == len(y)


def test_lists_series_and_array_likes_are_the_same_as_arrays() -> None:
    y, p = np.loadtxt(HEALTHY, delimiter=",", skiprows=1, unpack=True)
    want = bcecli.score(y, p).to_dict()

    class ArrayLike:
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return self.a

    for got in (
        bcecli.score(y.tolist(), p.tolist()),
        bcecli.score(pd.Series(y), pd.Series(p)),
        bcecli.score(ArrayLike(y), ArrayLike(p)),
        bcecli.score(y.astype(bool), p),  # booleans read as 0/1
    ):
        assert got.to_dict() == want


@pytest.mark.parametrize("compat", ["exact", "keras", "torch", "sklearn"])
def test_a_pandas_data_frame_gives_the_numbers_of_the_cli(compat: str) -> None:
    df = pd.read_csv(TEN_CLASS)
    probs = df[[f"prob_{i}" for i in range(10)]]
    report = bcecli.score(df["label"], probs, compat=compat)
    assert report.task is bcecli.Task.SPARSE
    assert numbers(report.to_dict()) == numbers(cli_json(str(TEN_CLASS), "--compat", compat))
    assert [o.name for o in report.outputs] == list(probs.columns)  # the frame's names


def test_a_polars_data_frame_gives_the_numbers_of_the_cli() -> None:
    pl = pytest.importorskip("polars")
    df = pl.read_csv(MULTILABEL)
    labels = df.select([c for c in df.columns if c.startswith("y_true")])
    preds = df.select([c for c in df.columns if c.startswith("prob")])
    report = bcecli.score(labels, preds)
    assert report.task is bcecli.Task.MULTILABEL
    assert numbers(report.to_dict()) == numbers(cli_json(str(MULTILABEL)))
    weights = np.linspace(0.5, 2.0, len(df))
    weighted = bcecli.score(df["y_true_cat"], df["prob_cat"], sample_weight=pl.Series(weights))
    y, p = df["y_true_cat"].to_numpy(), df["prob_cat"].to_numpy()
    per = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert weighted.mean_loss == pytest.approx(np.sum(weights * per) / np.sum(weights), rel=1e-12)


def test_weights_and_options_match_the_cli(tmp_path: Path) -> None:
    df = pd.read_csv(HEALTHY)
    w = np.linspace(0.1, 3.0, len(df))
    pd.DataFrame({"weight": w}).to_csv(tmp_path / "w.csv", index=False)
    report = bcecli.score(
        df["y_true"], df["y_pred"], sample_weight=w, compat="keras", pos_weight=2.0
    )
    args = ["--sample-weight", str(tmp_path / "w.csv"), "--compat", "keras", "--pos-weight", "2"]
    assert numbers(report.to_dict()) == numbers(cli_json(str(HEALTHY), *args))


def test_score_file_is_what_bce_score_prints() -> None:
    for path in (HEALTHY, TEN_CLASS, MULTILABEL):
        for reduction in ("mean", "sum", "none"):
            got = bcecli.score_file(str(path), reduction=reduction).to_dict()
            # through JSON, as the CLI writes it: strict (no bare NaN or Infinity)
            got = json.loads(json.dumps(got, allow_nan=False))
            assert got == cli_json(str(path), "--reduction", reduction)


def test_reduction_none_gives_every_loss_in_row_order() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, np.nan, 0.0])
    report = bcecli.score(y, p, reduction="none")
    losses = report.losses
    assert losses is not None
    np.testing.assert_array_equal(losses, [-math.log(0.9), -math.log(0.8), np.nan, 0.0])
    assert report.loss is None and report.to_dict()["losses"][2] is None
    assert bcecli.score(y, p, reduction="sum").loss == pytest.approx(
        -math.log(0.9) - math.log(0.8), rel=1e-15
    )


def test_text_labels_are_mapped_as_in_files() -> None:
    words = np.array(["yes", "no", "no", "yes"])
    p = [0.8, 0.3, 0.1, 0.6]
    got = bcecli.score(words, p)
    want = -(math.log(0.8) + math.log(0.7) + math.log(0.9) + math.log(0.6)) / 4
    assert got.mean_loss == pytest.approx(want, rel=1e-15)


def test_task_detection_from_arrays() -> None:
    onehot = np.eye(3)[[0, 2, 1, 1]]
    rows = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3], [0.2, 0.5, 0.3]])
    task, why = bcecli.detect_task(onehot, rows)
    assert task is bcecli.Task.CATEGORICAL and "one-hot" in why
    assert bcecli.detect_task([0, 2, 1, 1], rows)[0] is bcecli.Task.SPARSE
    assert bcecli.detect_task([0, 1], [0.2, 0.9])[0] is bcecli.Task.BINARY
    assert bcecli.score(onehot, rows).task is bcecli.Task.CATEGORICAL


def test_errors_name_parameters_not_flags() -> None:
    y, p = [0, 1, 1], [0.2, 0.7, 0.9]
    with pytest.raises(bcecli.OptionError) as e:
        bcecli.score(y, p, compat="sklearn", pos_weight=2.0)
    assert e.value.param == "pos_weight" and "--" not in str(e.value)
    assert str(e.value).endswith('compat="sklearn": log_loss has no pos_weight; drop pos_weight')
    with pytest.raises(bcecli.OptionError) as e:
        bcecli.score(y, p, compat="keras3")
    assert e.value.param == "compat" and '"keras-tf"' in str(e.value)
    with pytest.raises(bcecli.InputError) as bad:
        bcecli.score(y, p[:2])
    assert bad.value.param == "y_true" and "y_pred has 2" in str(bad.value)
    with pytest.raises(bcecli.BceError) as refused:
        bcecli.score([1, 0], [1.5, 0.5], compat="torch")
    message = str(refused.value)
    assert message.startswith('y_pred + y_true: under compat="torch", F.binary_cross_entropy')
    assert 'pass logits with from_logits=True, or use compat="keras"' in message


def test_options_take_what_a_python_caller_has() -> None:
    y, p = [0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4]
    by_dict = bcecli.score(y, p, class_weight={0: 1.0, 1: 3.0})
    by_list = bcecli.score(y, p, class_weight=[1.0, 3.0])
    assert by_dict.to_dict() == by_list.to_dict()
    as_enum = bcecli.score(y, p, compat=bcecli.Compat.KERAS, dtype=np.float64)
    as_text = bcecli.score(y, p, compat="keras", dtype="float64")
    assert as_enum.to_dict() == as_text.to_dict() and as_enum.dtype == "float64"


def test_repr_and_notebook_renderings() -> None:
    report = bcecli.score_file(str(HEALTHY))
    assert repr(report) == (
        "<bcecli.Report binary, exact: 2,000 rows scored, mean loss 0.345496 (not great), "
        "NE 0.519, accuracy 84.5%; flags: loss_above_1 (info)>"
    )
    html = report._repr_html_()
    assert "Worst samples" in html and "0.345496" in html and "<script" not in html
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None)
    console.print(report)
    assert "Worst samples" in console.export_text()


def test_nullable_pandas_columns_and_text_frames() -> None:
    y = pd.Series([1, 0, None, 1], dtype="Int64")
    p = pd.Series([0.9, 0.2, 0.5, None], dtype="Float64")
    report = bcecli.score(y, p, reduction="none")
    assert report.n == 2 and report.n_excluded == 2
    assert report.mean_loss == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2, rel=1e-15)
    words = pd.DataFrame({"animal": ["cat", "dog", "dog"]})
    probs = pd.DataFrame({"cat": [0.7, 0.2, 0.4], "dog": [0.3, 0.8, 0.6]})
    got = bcecli.score(words, probs)
    assert got.task is bcecli.Task.SPARSE
    assert got.mean_loss == pytest.approx(-(math.log(0.7) + math.log(0.8) + math.log(0.6)) / 3)


def test_score_file_takes_columns_as_a_sequence_or_as_the_cli_writes_them() -> None:
    labels = ["y_true_dog", "y_true_cat"]
    preds = ["prob_dog", "prob_cat"]
    as_lists = bcecli.score_file(str(MULTILABEL), label_col=labels, pred_col=preds)
    as_text = bcecli.score_file(
        str(MULTILABEL), label_col=",".join(labels), pred_col="prob_dog,prob_cat"
    )
    assert as_lists.to_dict() == as_text.to_dict()
    assert as_lists.to_dict() == cli_json(
        str(MULTILABEL), "--label-col", ",".join(labels), "--pred-col", ",".join(preds)
    )
    assert [o.name for o in as_lists.outputs] == preds
