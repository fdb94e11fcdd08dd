"""Issue 19 item 10: several files in one call are scored each on its own, one summary row per
file; the exit code is the worst of theirs (2 > 3 > 1 > 0). Files are built here with pandas and
numpy, and each row's mean is checked against scikit-learn's log_loss."""

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

from bcecli.cli import cli
from bcecli.cli.multi import worst_code

N = 300


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["score", *args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three models' predictions for one labels file, a file bce cannot score, and a file
    whose predictions are logits (an error flag: a failed gate)."""
    tmp = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(10)
    y = (rng.uniform(size=N) < 0.4).astype(int)
    np.save(tmp / "y.npy", y)
    means = {}
    for k, sharp in enumerate((0.5, 1.5, 3.0)):
        p = 1 / (1 + np.exp(-(sharp * (2 * y - 1) + rng.normal(size=N))))
        pd.DataFrame({"y_pred": p}).to_csv(tmp / f"model_{k}.csv", index=False)
        pd.DataFrame({"y_true": y, "y_pred": p}).to_csv(tmp / f"both_{k}.csv", index=False)
        means[f"model_{k}.csv"] = log_loss(y, p)
    pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]}).to_csv(tmp / "bad.csv", index=False)
    pd.DataFrame({"y_true": y, "y_pred": rng.normal(size=N) * 3}).to_csv(
        tmp / "logits.csv", index=False
    )
    return {"tmp": tmp, "y": y, "means": means}


def test_one_row_per_file_with_the_shared_labels_file(runs: Any) -> None:
    tmp = runs["tmp"]
    files = [str(tmp / f"model_{k}.csv") for k in range(3)]
    res = run(*files, "--labels", str(tmp / "y.npy"), "-f", "tsv")
    assert res.exit_code == 0, res.stderr
    out = pd.read_csv(io.StringIO(res.stdout), sep="\t")
    assert out["file"].tolist() == files
    assert out["n"].tolist() == [N] * 3
    for path, mean in zip(out["file"], out["mean_loss"], strict=True):
        assert mean == pytest.approx(runs["means"][Path(path).name], rel=1e-12)
    # each row is the file's own report: the same number as scoring it alone
    alone = json.loads(run(files[1], "--labels", str(tmp / "y.npy"), "-f", "json").stdout)
    assert out["mean_loss"][1] == pytest.approx(alone["mean_loss"], rel=1e-15)
    assert out["ne"][1] == pytest.approx(alone["ne"], rel=1e-15)


def test_exit_code_is_the_worst_and_every_file_is_still_scored(runs: Any) -> None:
    tmp = runs["tmp"]
    files = [str(tmp / "both_0.csv"), str(tmp / "bad.csv"), str(tmp / "logits.csv"),
             str(tmp / "both_1.csv")]  # fmt: skip
    res = run(*files, "-f", "csv")
    assert res.exit_code == 3  # an input that cannot be scored outranks a failed gate
    out = pd.read_csv(io.StringIO(res.stdout), keep_default_na=False)
    assert out["exit_code"].tolist() == [0, 3, 1, 0]
    assert out["gate"].tolist() == ["passed", "", "failed", "passed"]
    assert "bad.csv" in out["error"][1] and "Error: " in res.stderr
    assert float(out["mean_loss"][3]) == pytest.approx(runs["means"]["model_1.csv"], rel=1e-12)
    res = run(str(tmp / "both_0.csv"), str(tmp / "logits.csv"), "-f", "csv")
    assert res.exit_code == 1
    res = run(str(tmp / "both_0.csv"), str(tmp / "logits.csv"), "--fail-on", "never", "-f", "csv")
    assert res.exit_code == 0


def test_an_option_that_does_not_fit_one_file_is_exit_2(runs: Any) -> None:
    tmp = runs["tmp"]
    res = run(str(tmp / "bad.csv"), str(tmp / "both_0.csv"), "--pred-col", "y_pred", "-f", "csv")
    assert res.exit_code == 2  # bad.csv has no y_pred column: a usage error outranks input


def test_worst_code_order() -> None:
    assert worst_code([0, 1, 3, 2]) == 2
    assert worst_code([1, 3, 0]) == 3
    assert worst_code([0, 1]) == 1
    assert worst_code([0, 0]) == 0


def test_json_is_one_report_object_per_line(runs: Any) -> None:
    tmp = runs["tmp"]
    res = run(str(tmp / "both_0.csv"), str(tmp / "bad.csv"), "-f", "json")
    first, second = (json.loads(line) for line in res.stdout.splitlines())
    assert first["file"] == str(tmp / "both_0.csv") and first["exit_code"] == 0
    assert first["schema"] == 1 and first["n"] == N
    assert first["mean_loss"] == pytest.approx(runs["means"]["model_0.csv"], rel=1e-12)
    assert second["exit_code"] == 3 and "error" in second and "mean_loss" not in second


def test_table_has_one_row_per_file(runs: Any) -> None:
    tmp = runs["tmp"]
    res = run(str(tmp / "both_0.csv"), str(tmp / "both_1.csv"), "-f", "table")
    assert res.exit_code == 0
    assert "2 files in" in res.stdout
    for k in (0, 1):
        assert f"both_{k}.csv" in res.stdout
        assert f"{runs['means'][f'model_{k}.csv']:.6f}" in res.stdout


def test_records_take_one_file(runs: Any) -> None:
    tmp = runs["tmp"]
    for extra in (["--per-sample"], ["--top", "3"], ["--raw"]):
        res = run(str(tmp / "both_0.csv"), str(tmp / "both_1.csv"), *extra, "-f", "csv")
        assert res.exit_code == 2 and "one file" in res.stderr


def test_a_quoted_glob_is_one_dataset(runs: Any) -> None:
    tmp = runs["tmp"]
    res = run(str(tmp / "both_*.csv"), "-f", "json")
    data = json.loads(res.stdout)
    assert data["n"] == 3 * N  # one partitioned dataset: the three files' rows together
    assert "file" not in data
