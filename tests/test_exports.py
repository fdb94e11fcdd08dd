"""Files as pandas and numpy write them by default, built here at test time, scored with no
column hints: the number must be the framework's own (scikit-learn's ``log_loss`` with
``labels=``), through the command line and the API alike, and where two readings of a file give
different numbers bce says so instead of picking one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import log_loss

import bcecli
from bcecli.cli import cli
from bcecli.errors import BceError

N = 120
K = 10
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(19)
    y = rng.integers(0, K, N)
    p = rng.dirichlet(np.ones(K), N)
    p[np.arange(N), y] += 1.5  # a model better than chance: a wrong mapping shows
    p /= p.sum(axis=1, keepdims=True)
    pb = rng.uniform(0.05, 0.95, N)
    yb = (rng.uniform(size=N) < pb).astype(int)
    return {"y": y, "p": p, "yb": yb, "pb": pb}


def cli_json(*args: str) -> tuple[int, dict[str, Any], str]:
    res = CliRunner().invoke(cli, ["score", *args, "--format", "json"])
    if res.exit_code in (0, 1):
        return res.exit_code, json.loads(res.stdout), res.stderr
    return res.exit_code, {}, res.stderr


def both(path: Path, labels: Path | None = None, **kw: Any) -> tuple[float, list[str]]:
    """The mean loss by the command line and by the API (which must agree), and the notes."""
    args = [str(path)] + ([] if labels is None else ["--labels", str(labels)])
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        args += (
            [flag if value is True else "--no-" + flag[2:]]
            if isinstance(value, bool)
            else [
                flag,
                str(value),
            ]
        )
    code, out, err = cli_json(*args)
    assert code == 0, err
    report = bcecli.score_file(str(path), labels=None if labels is None else str(labels), **kw)
    assert report.loss == pytest.approx(out["mean_loss"], rel=1e-12)
    assert report.n == out["n"] == N
    return out["mean_loss"], out["notes"]


def multiclass(d: dict[str, np.ndarray]) -> float:
    return float(log_loss(d["y"], d["p"], labels=range(K)))


def binary(d: dict[str, np.ndarray]) -> float:
    return float(log_loss(d["yb"], d["pb"], labels=[0, 1]))


# -- 1. a numeric header line -------------------------------------------------------------------


def test_one_output_and_its_labels_as_pandas_writes_them(tmp_path: Path, data: Any) -> None:
    preds, labels = tmp_path / "p.csv", tmp_path / "y.csv"
    pd.DataFrame(data["pb"]).to_csv(preds, index=False)  # header line "0"
    pd.DataFrame(data["yb"]).to_csv(labels, index=False)  # "0" above integers: the other file
    loss, notes = both(preds, labels)
    assert loss == pytest.approx(binary(data), rel=1e-12)
    assert any("p.csv: first line '0' read as a header" in n for n in notes)
    assert any("y.csv: first line read as a header" in n and "p.csv, whose" in n for n in notes)


def test_a_numeric_header_above_decimals_with_labels_in_npy(tmp_path: Path, data: Any) -> None:
    preds, labels = tmp_path / "p.csv", tmp_path / "y.npy"
    pd.DataFrame(data["p"]).to_csv(preds, index=False)  # header line "0,1,...,9"
    np.save(labels, data["y"])
    loss, notes = both(preds, labels)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("'0,1,...,9' read as a header" in n for n in notes)
    # read as data, the line is one row too many, which the lengths' check names
    res = CliRunner().invoke(cli, ["score", str(preds), "--labels", str(labels), "--no-header"])
    assert res.exit_code == 3 and "one extra row" in res.stderr


def test_integer_labels_with_a_numeric_header_have_it_by_the_row_count(
    tmp_path: Path, data: Any
) -> None:
    preds, labels = tmp_path / "p.npy", tmp_path / "y.csv"
    np.save(preds, data["p"])
    pd.DataFrame(data["y"]).to_csv(labels, index=False)  # "0" above integers, one row more
    loss, notes = both(preds, labels)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("which leaves the 120 rows of" in n for n in notes)


def test_a_numeric_first_line_above_integers_alone_is_data(tmp_path: Path) -> None:
    path = tmp_path / "ints.csv"
    path.write_text("0,1\n1,0\n0,0\n1,1\n")  # labels and hard 0/1 predictions, no header
    code, out, err = cli_json(str(path), "--fail-on", "never")
    assert code == 0, err
    assert out["n"] == 4
    assert any("--header reads it as a header" in n for n in out["notes"])


def test_two_readings_that_differ_exit_2_with_the_options(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "mixed.csv"
    frame = pd.DataFrame({0: data["yb"], 1: data["pb"]})
    frame.to_csv(path, index=False)  # "0,1" above an integer and a decimal column
    res = CliRunner().invoke(cli, ["score", str(path)])
    assert res.exit_code == 2, res.output
    assert "--header or --no-header" in res.stderr
    with pytest.raises(BceError, match=r"header=True or header=False"):
        bcecli.score_file(str(path))
    # read as data, the first line is a row (label 0, prediction 1: an infinite loss)
    code, out, err = cli_json(str(path), "--no-header", "--fail-on", "never")
    assert code == 0, err
    assert out["n"] == N + 1 and out["mean_loss"] == "inf"
    code, out, err = cli_json(str(path), "--header", "--label-col", "0", "--pred-col", "1")
    assert code == 0, err
    assert out["mean_loss"] == pytest.approx(binary(data), rel=1e-12)


# -- 2. pandas' index column --------------------------------------------------------------------


def test_the_default_to_csv_with_its_index(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "idx.csv"
    frame = pd.DataFrame(data["p"])
    frame.insert(0, "label", data["y"])
    frame.to_csv(path)  # ",label,0,1,...,9" above 0..N-1
    loss, notes = both(path)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any(f"has no name and holds 0 .. {N - 1}: pandas' index, skipped" in n for n in notes)
    res = CliRunner().invoke(cli, ["score", str(path), "--no-index-col"])
    assert res.exit_code == 3 and "column_1" in res.stderr


def test_the_index_skipped_lets_pred_col_name_column_0(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "idx.csv"
    pd.DataFrame({"label": data["yb"], 0: data["pb"]}).to_csv(path)  # ",label,0"
    loss, _ = both(path, pred_col="0")
    assert loss == pytest.approx(binary(data), rel=1e-12)
    assert both(path)[0] == loss


def test_a_split_frame_keeps_a_shuffled_index(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "split.csv"
    frame = pd.DataFrame(data["p"], index=np.random.default_rng(1).permutation(5 * N)[:N])
    frame.insert(0, "label", data["y"])
    frame.to_csv(path)
    loss, notes = both(path)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("holds distinct integers: pandas' index" in n for n in notes)


def test_predictions_alone_with_their_index_and_labels_as_a_series(
    tmp_path: Path, data: Any
) -> None:
    preds, labels = tmp_path / "p.csv", tmp_path / "y.csv"
    pd.DataFrame(data["p"]).to_csv(preds)  # ",0,1,...,9"
    pd.Series(data["y"]).to_csv(labels)  # ",0" above "i,label"
    loss, notes = both(preds, labels)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("after its index's empty one" in n for n in notes)


def test_index_col_skips_a_named_first_column(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "named.csv"
    frame = pd.DataFrame({"k": np.arange(N) * 7, "y_true": data["yb"], "y_pred": data["pb"]})
    frame.to_csv(path, index=False)
    loss, notes = both(path, index_col=True)
    assert loss == pytest.approx(binary(data), rel=1e-12)
    assert any("column 1 ('k') skipped as the index (--index-col)" in n for n in notes)


# -- numpy's own writers ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["y_true,y_pred", ""])
def test_savetxt_with_and_without_a_header(tmp_path: Path, data: Any, header: str) -> None:
    path = tmp_path / "st.csv"
    np.savetxt(path, np.c_[data["yb"], data["pb"]], delimiter=",", header=header, comments="")
    assert both(path)[0] == pytest.approx(binary(data), rel=1e-12)


def test_savetxt_with_its_default_comment_header(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "st.csv"
    np.savetxt(path, np.c_[data["yb"], data["pb"]], delimiter=",", header="y_true,y_pred")
    assert both(path)[0] == pytest.approx(binary(data), rel=1e-12)


def test_savez_by_name(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "out.npz"
    np.savez(path, y_true=data["y"], y_pred=data["p"])
    assert both(path)[0] == pytest.approx(multiclass(data), rel=1e-12)


# -- 3. class-named prediction columns, 4. labels that name them ---------------------------------


def class_frame(d: dict[str, np.ndarray], label: str = "species") -> pd.DataFrame:
    """``pd.DataFrame(clf.predict_proba(X), columns=clf.classes_)`` beside the labels, with
    classes whose sorted order is not the columns' (eight, five, four, ... sorted)."""
    frame = pd.DataFrame(d["p"], columns=NAMES)
    frame.insert(0, label, [NAMES[i] for i in d["y"]])
    return frame


@pytest.mark.parametrize("label", ["species", "label"])
@pytest.mark.parametrize("index", [False, True])
def test_class_named_columns_beside_text_labels(
    tmp_path: Path, data: Any, label: str, index: bool
) -> None:
    path = tmp_path / "proba.csv"
    class_frame(data, label).to_csv(path, index=index)
    loss, notes = both(path)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("matched to the prediction columns' class names" in n for n in notes)
    if label == "species":
        assert any("whose values are the other columns' names" in n for n in notes)


def test_labels_in_their_own_file_map_to_the_columns_they_name(tmp_path: Path, data: Any) -> None:
    preds, labels = tmp_path / "proba.csv", tmp_path / "y.csv"
    pd.DataFrame(data["p"], columns=NAMES).to_csv(preds, index=False)
    pd.DataFrame({"species": [NAMES[i] for i in data["y"]]}).to_csv(labels, index=False)
    loss, _ = both(preds, labels)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)


def test_named_columns_map_the_labels_by_name_not_sorted_order(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "proba.csv"
    class_frame(data).to_csv(path, index=False)
    loss, _ = both(path, label_col="species", pred_col=",".join(NAMES))
    assert loss == pytest.approx(multiclass(data), rel=1e-12)


def test_a_column_beside_the_named_classes_is_refused(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "proba.csv"
    frame = class_frame(data)
    frame["sepal_length"] = 5.0
    frame.to_csv(path, index=False)
    res = CliRunner().invoke(cli, ["score", str(path)])
    assert res.exit_code == 3, res.output
    assert "sepal_length is not among them" in res.stderr and "--pred-col" in res.stderr


def test_sorted_order_is_a_warning(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "pets.csv"
    pets = np.array(["cat", "dog"])[data["yb"]]
    pd.DataFrame({"y_true": pets, "prob": data["pb"]}).to_csv(path, index=False)
    code, out, err = cli_json(str(path))
    assert code == 0, err
    assert out["mean_loss"] == pytest.approx(binary(data), rel=1e-12)  # dog = 1
    flag = next(f for f in out["flags"] if f["id"] == "labels_sorted_order")
    assert flag["severity"] == "warning" and "cat = 0, dog = 1" in flag["message"]
    assert CliRunner().invoke(cli, ["score", str(path), "--fail-on", "warning"]).exit_code == 1
    # labels that name the columns raise no such warning
    named = tmp_path / "named.csv"
    class_frame(data).to_csv(named, index=False)
    assert all(f["id"] != "labels_sorted_order" for f in cli_json(str(named))[1]["flags"])


# -- the gaps: pandas' index in Parquet, headerless CSV with its index, partitions, np.savez ------


def test_parquet_index_is_not_a_prediction(tmp_path: Path, data: Any) -> None:
    # DataFrame.to_parquet with a non-default index writes it as __index_level_0__ (or under
    # the index's name), listed in the pandas metadata's index_columns
    path, labels = tmp_path / "p.parquet", tmp_path / "y.npy"
    pd.DataFrame(data["p"]).set_axis(np.arange(N) * 7 + 1000).to_parquet(path)
    np.save(labels, data["y"])
    loss, notes = both(path, labels)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    assert any("__index_level_0__ is pandas' index" in n for n in notes)
    named = tmp_path / "named.parquet"
    frame = pd.DataFrame({"y_true": data["yb"], "y_pred": data["pb"]}, index=np.arange(N) + 5)
    frame.rename_axis("rid").to_parquet(named)
    loss, _ = both(named)
    assert loss == pytest.approx(binary(data), rel=1e-12)
    res = CliRunner().invoke(cli, ["score", str(named), "--id-col", "rid", "--top", "1", "-f",
                                   "csv"])  # fmt: skip
    worst = pd.read_csv(io.StringIO(res.stdout))
    assert worst["rid"][0] == worst["row"][0] + 5  # the index, carried as an id


def test_headerless_csv_with_its_index(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "noheader.csv"
    pd.DataFrame({"y": data["yb"], "p": data["pb"]}).to_csv(path, header=False)
    res = CliRunner().invoke(cli, ["score", str(path)])
    assert res.exit_code == 3
    assert "--index-col skips it" in res.stderr and "pandas' index" in res.stderr
    loss, _ = both(path, index_col=True)
    assert loss == pytest.approx(binary(data), rel=1e-12)


def test_header_and_index_options_reach_every_partition(tmp_path: Path, data: Any) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        rows = slice(i * 40, (i + 1) * 40)
        frame = pd.DataFrame(data["p"][rows])
        frame.insert(0, "label", data["y"][rows])
        frame.to_csv(parts / f"part-{i}.csv")  # pandas' defaults: the index first, unnamed
    code, out, _ = cli_json(str(parts))
    assert code == 0 and out["mean_loss"] == pytest.approx(multiclass(data), rel=1e-12)
    res = CliRunner().invoke(cli, ["score", str(parts), "--no-index-col"])
    assert res.exit_code == 3  # the index read as a column: the numbered family is broken
    bare = tmp_path / "bare"
    bare.mkdir()
    for i in range(3):
        rows = slice(i * 40, (i + 1) * 40)
        pd.DataFrame({"y": data["yb"][rows], "p": data["pb"][rows]}).to_csv(
            bare / f"part-{i}.csv", header=False, index=False
        )
    code, out, _ = cli_json(str(bare), "--no-header")
    assert code == 0 and out["n"] == N
    assert out["mean_loss"] == pytest.approx(binary(data), rel=1e-12)
    res = CliRunner().invoke(cli, ["score", str(bare), "--header"])
    assert res.exit_code == 3  # the first line of numbers taken as the header, as asked
    first = (bare / "part-0.csv").read_text().splitlines()[0].replace(",", ", ")
    assert f"(columns: {first})" in res.stderr


@pytest.mark.parametrize("order", ["labels_first", "predictions_first"])
def test_savez_unnamed_arrays_told_apart_by_their_values(
    tmp_path: Path, data: Any, order: str
) -> None:
    path = tmp_path / "pair.npz"
    arrays = (data["y"], data["p"]) if order == "labels_first" else (data["p"], data["y"])
    np.savez(path, *arrays)
    loss, notes = both(path)
    assert loss == pytest.approx(multiclass(data), rel=1e-12)
    labels = "arr_0" if order == "labels_first" else "arr_1"
    assert f"{labels} as labels (whole numbers)" in notes[0]


def test_savez_arrays_that_values_cannot_tell_apart_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hard.npz"
    np.savez(path, np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))  # hard 0/1 predictions
    res = CliRunner().invoke(cli, ["score", str(path)])
    assert res.exit_code == 2
    assert "--label-col arr_0 --pred-col arr_1" in res.stderr
    res = CliRunner().invoke(cli, ["score", str(path), "--label-col", "arr_0", "--pred-col",
                                   "arr_1", "-f", "json"])  # fmt: skip
    assert res.exit_code in (0, 1) and json.loads(res.stdout)["n"] == 4
