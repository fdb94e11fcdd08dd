"""Expectations of the frameworks' own test suites that bce disagreed with (issue 21, items 20-24),
each rebuilt from its literal inputs with the value computed by hand beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli

# Keras' and tf_keras' metric tests for SparseCategoricalCrossentropy with ignore_class:
# rows of class 1 and 2 (the third, of the ignored class -1, is masked), weights 1.5, 2, 1.5.
PRED = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]]
L1, L2 = -math.log(0.95), -math.log(0.1)  # the two valid rows' losses
WEIGHTED = (1.5 * L1 + 2.0 * L2) / 3.5  # 1.33774646: the ignored row's weight is masked too


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, dict[str, object]]:
    path = tmp_path / "x.csv"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["score", str(path), *args, "--format", "json"])
    assert result.stdout.startswith("{"), result.output
    return result.exit_code, json.loads(result.stdout)


def sparse_file(labels: list[int], preds: list[list[float]], w: list[float] | None) -> str:
    head = "y,p0,p1,p2" + (",w" if w else "") + "\n"
    rows = [
        ",".join(map(str, [y, *p, *([w[i]] if w else [])]))
        for i, (y, p) in enumerate(zip(labels, preds, strict=True))
    ]
    return head + "\n".join(rows) + "\n"


SPARSE = ["--label-col", "y", "--pred-col", "p0,p1,p2", "--ignore-class", "-1"]


@pytest.mark.parametrize("compat", ["keras", "keras-tf", "keras2"])
def test_keras_metric_with_ignore_class_and_weights_masks_the_ignored_weight(
    tmp_path: Path, compat: str
) -> None:
    assert WEIGHTED == pytest.approx(1.33774646, abs=1e-6)  # the issue quotes float32 Keras
    text = sparse_file([1, 2, -1], PRED, [1.5, 2.0, 1.5])
    _, data = run(tmp_path, text, *SPARSE, "--sample-weight", "w", "--compat", compat)
    assert data["mean_metric"] == pytest.approx(WEIGHTED, rel=1e-6)  # float32 losses
    # the loss: sum(w l) over the valid rows, divided by the valid rows (both Kerases)
    assert data["mean_loss"] == pytest.approx((1.5 * L1 + 2.0 * L2) / 2, rel=1e-6)


def test_keras3_metric_without_weights_divides_by_every_row(tmp_path: Path) -> None:
    # measured (framework_cases.json, sparse_ignore_class): Keras 3's Mean divides by all rows
    _, data = run(tmp_path, sparse_file([-1, 2], PRED[:2], None), *SPARSE, "--compat", "keras")
    assert data["mean_loss"] == pytest.approx(L2, rel=1e-6)
    assert data["mean_metric"] == pytest.approx(L2 / 2, rel=1e-6)


def test_tf_keras_divides_by_the_valid_rows_without_weights(tmp_path: Path) -> None:
    # tf_keras' test: labels [-1, 2] with ignore_class=-1 give 2.3026, loss and metric alike
    _, data = run(tmp_path, sparse_file([-1, 2], PRED[:2], None), *SPARSE, "--compat", "keras2")
    assert data["mean_loss"] == pytest.approx(2.3026, abs=1e-4)
    assert data["mean_metric"] in (None, data["mean_loss"])  # null: the same as the loss


ZERO_W = sparse_file([0, 1, 2], [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], [0, 0, 0])


@pytest.mark.parametrize("compat", ["exact", "torch", "sklearn"])
@pytest.mark.parametrize("weights", [["--class-weight", "0,0,0"], ["--sample-weight", "w"]])
def test_weights_summing_to_zero_on_class_files_are_flagged(
    tmp_path: Path, compat: str, weights: list[str]
) -> None:
    args = ["--label-col", "y", "--pred-col", "p0,p1,p2", *weights, "--compat", compat]
    code, data = run(tmp_path, ZERO_W, *args)
    ids = [f["id"] for f in data["flags"]]  # type: ignore[attr-defined, index]
    if compat == "torch" and weights[0] == "--sample-weight":
        # (loss(reduction='none') * w).mean(): 0 / N, a number
        assert data["mean_loss"] == 0.0 and code == 0
        return
    # 0 / 0: PyTorch's weighted mean is NaN; exact and scikit-learn's are undefined
    assert data["mean_loss"] == "nan" and "weights_sum_zero" in ids and code == 1
    assert data["valid"] is False


def test_a_minus_inf_logit_is_a_masked_class(tmp_path: Path) -> None:
    """optax masks a class with a logit of -inf: probability exactly 0, valid input. It costs inf
    as the true class and nothing elsewhere; a row of -inf only (or with +inf) has no softmax."""
    text = "y,a,b,c\n0,1.0,-inf,0.5\n1,1.0,-inf,0.5\n2,-inf,2.0,0.1\n0,-inf,-inf,-inf\n0,inf,1,2\n"
    path = tmp_path / "x.csv"
    path.write_text(text)
    args = ["score", str(path), "--label-col", "y", "--pred-col", "a,b,c", "--from-logits"]
    result = CliRunner().invoke(cli, [*args, "--per-sample", "--format", "jsonl", "-q"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    loss = [r["loss"] for r in rows]
    assert loss[0] == pytest.approx(math.log1p(math.exp(-0.5)), rel=1e-15)  # -log softmax_0
    assert loss[1] == "inf"  # the true class was masked
    assert loss[2] == pytest.approx(math.log(math.exp(2.0) + math.exp(0.1)) - 0.1, rel=1e-15)
    assert loss[3] is None and loss[4] is None  # excluded: no probability is defined
    assert "non_finite" in rows[3]["flags"] and "non_finite" in rows[4]["flags"]
    _, data = run(tmp_path, text, *args[2:])
    assert data["n"] == 3 and data["n_excluded"] == 2 and data["mean_loss"] == "inf"


def test_sklearn_clips_float16_predictions_with_float16_eps(tmp_path: Path) -> None:
    """scikit-learn's log_loss clips to [eps, 1 - eps] with eps = np.finfo(y_pred.dtype).eps
    and computes in that dtype: a float16 prediction of 0 for label 1 costs -log(2**-10)."""
    eps16 = 2.0**-10
    assert float(np.finfo(np.float16).eps) == eps16
    np.save(tmp_path / "p.npy", np.array([0.0, 0.5, 1.0], dtype=np.float16))
    np.save(tmp_path / "y.npy", np.array([1.0, 1.0, 1.0]))
    args = ["score", str(tmp_path / "p.npy"), "--labels", str(tmp_path / "y.npy")]
    result = CliRunner().invoke(
        cli, [*args, "--compat", "sklearn", "--per-sample", "--format", "jsonl", "-q"]
    )
    loss = [json.loads(line)["loss"] for line in result.stdout.splitlines()]
    # the values of float16 arithmetic (what log_loss returns for a float16 array)
    expected = [-math.log(eps16), -math.log(0.5), -math.log1p(-eps16)]
    assert loss == pytest.approx(expected, rel=2**-10)
    assert loss[0] == pytest.approx(6.93, abs=0.005)  # not float64's 36.04
    result = CliRunner().invoke(cli, [*args, "--compat", "sklearn", "--format", "json"])
    assert json.loads(result.stdout)["dtype"] == "float16"
    # the other profiles are unchanged: exact in float64 (inf), Keras' own eps in float32
    result = CliRunner().invoke(cli, [*args, "--compat", "keras", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["dtype"] == "float32"
    keras = [-math.log(1e-7), -math.log(0.5), -math.log(1 - 1e-7)]
    assert data["mean_loss"] == pytest.approx(sum(keras) / 3, rel=1e-6)
