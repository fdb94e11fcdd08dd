"""bce check-init: verdicts on synthetic untrained outputs, the references against hand-computed
values, the recommended bias against a numerical minimiser, and the CLI contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import minimize_scalar

import bcecli
from bcecli.cli import cli
from bcecli.core.init_check import (
    bias_probabilities,
    constant_loss,
    recommended_bias,
    uniform_loss,
)
from bcecli.core.init_sample import SAMPLE_HEAD, sample_positions

N = 4000


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def binary_labels(rate: float, seed: int = 0, n: int = N) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def gaussian(spread: float, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, spread, shape)


# --- the references -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 10, 1000])
def test_uniform_loss_is_ln_k(k: int) -> None:
    assert uniform_loss(True, k) == pytest.approx(math.log(k), rel=1e-15)
    assert uniform_loss(False, k) == pytest.approx(0.6931471805599453, rel=1e-15)  # ln 2


def test_prior_loss_is_the_prior_entropy() -> None:
    # 8% positives: H = -(0.08 ln 0.08 + 0.92 ln 0.92), by hand 0.2787693717685...
    h = -(0.08 * math.log(0.08) + 0.92 * math.log(0.92))
    assert constant_loss([0.08], [0.08], False) == pytest.approx(h, rel=1e-14)
    assert h == pytest.approx(0.27876937176, abs=1e-10)
    # three classes 0.5 / 0.3 / 0.2: 1.0296530140645737 (hand: 0.5 ln 2 + 0.3 ln(10/3) + 0.2 ln 5)
    by_hand = 0.5 * math.log(2) + 0.3 * math.log(10 / 3) + 0.2 * math.log(5)
    assert constant_loss([0.5, 0.3, 0.2], [0.5, 0.3, 0.2], True) == pytest.approx(by_hand, 1e-14)


@pytest.mark.parametrize("p", [0.01, 0.08, 0.5, 0.7])
def test_the_recommended_bias_minimises_the_loss_of_a_constant_predictor(p: float) -> None:
    def loss(b: float) -> float:
        q = 1 / (1 + math.exp(-b))
        return -(p * math.log(q) + (1 - p) * math.log(1 - q))

    found = minimize_scalar(loss, bounds=(-20, 20), method="bounded", options={"xatol": 1e-10})
    bias = recommended_bias([p], False)
    assert bias[0] == pytest.approx(found.x, abs=1e-6)
    assert bias[0] == pytest.approx(math.log(p / (1 - p)), rel=1e-14)


def test_the_softmax_bias_minimises_the_loss_over_each_class() -> None:
    prior = np.array([0.6, 0.25, 0.1, 0.05])
    bias = recommended_bias(prior, True)
    assert abs(float(bias.mean())) < 1e-12  # centred
    base = constant_loss(prior, bias_probabilities(bias, True), True)
    assert base == pytest.approx(constant_loss(prior, prior, True), rel=1e-13)
    for j in range(len(prior)):  # moving any one bias from its value only adds loss

        def loss(d: float, j: int = j) -> float:
            b = bias.copy()
            b[j] += d
            return constant_loss(prior, bias_probabilities(b, True), True)

        found = minimize_scalar(loss, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10})
        assert found.x == pytest.approx(0.0, abs=1e-5)


def test_a_positive_weight_moves_the_best_constant() -> None:
    p, w = 0.1, 4.0

    def loss(b: float) -> float:
        q = 1 / (1 + math.exp(-b))
        return -(w * p * math.log(q) + (1 - p) * math.log(1 - q))

    found = minimize_scalar(loss, bounds=(-20, 20), method="bounded", options={"xatol": 1e-10})
    assert recommended_bias([p], False, [w])[0] == pytest.approx(found.x, abs=1e-6)


def test_the_sample_is_the_first_rows() -> None:
    rows = []
    for start in range(0, SAMPLE_HEAD + 20_000, 7_777):
        rows.extend((start + sample_positions(start, 7_777)).tolist())
    assert rows == list(range(SAMPLE_HEAD))


def test_a_large_file_takes_the_spread_from_its_first_rows() -> None:
    n = SAMPLE_HEAD + 30_000
    y = binary_labels(0.5, n=n)
    z = gaussian(0.5, (n,))
    z[SAMPLE_HEAD:] *= 10  # rows past the sample do not move the spread
    r = bcecli.check_init(y, sigmoid(z))
    assert r.logit_std == pytest.approx(0.5, rel=0.02)
    p = sigmoid(z)
    assert r.mean_prediction[0] == pytest.approx(p.mean(), rel=1e-12)  # every row


# --- the verdicts ----------------------------------------------------------------------------


def test_default_init_binary_balanced_is_uniform() -> None:
    y = binary_labels(0.5)
    r = bcecli.check_init(y, sigmoid(gaussian(0.3, (N,))))
    assert r.verdict.value == "uniform" and r.passed
    assert r.logit_std == pytest.approx(0.3, rel=0.05)


def test_default_init_imbalanced_is_uniform_and_says_what_the_bias_saves() -> None:
    y = binary_labels(0.08)
    r = bcecli.check_init(y, sigmoid(gaussian(0.3, (N,))))
    assert r.verdict.value == "uniform"
    p = float(y.mean())
    assert r.prior[0] == pytest.approx(p)
    assert r.recommended_bias[0] == pytest.approx(math.log(p / (1 - p)), rel=1e-12)
    assert "ln(p/(1-p))" in r.hint and f"{math.log(p / (1 - p)):.4g}" in r.hint


def test_prior_bias_is_prior() -> None:
    y = binary_labels(0.08)
    p = float(y.mean())
    z = math.log(p / (1 - p)) + gaussian(0.2, (N,))
    r = bcecli.check_init(y, z, from_logits=True)
    assert r.verdict.value == "prior", r.message


def test_the_textbook_zero_kernel_prior_bias_is_prior_not_an_error() -> None:
    y = binary_labels(0.08)
    r = bcecli.check_init(y, np.full(N, y.mean()))
    assert r.verdict.value == "prior"
    assert r.init_loss == pytest.approx(r.prior_loss, rel=1e-12)
    assert r.logit_std == 0.0
    assert r.recommended_bias_loss == pytest.approx(r.prior_loss, rel=1e-12)


def test_large_kernel_init_is_too_confident() -> None:
    y = binary_labels(0.5)
    r = bcecli.check_init(y, gaussian(5.0, (N,)), from_logits=True)
    assert r.verdict.value == "too_confident" and not r.passed
    assert r.logit_std == pytest.approx(5.0, rel=0.05)


def test_a_wrong_sign_bias_is_wrong_bias() -> None:
    y = binary_labels(0.08)
    p = float(y.mean())
    z = -math.log(p / (1 - p)) + gaussian(0.3, (N,))
    r = bcecli.check_init(y, sigmoid(z))
    assert r.verdict.value == "wrong_bias", r.message
    assert r.mean_prediction[0] > 0.85


def test_softmax_over_one_unit_is_constant() -> None:
    y = binary_labels(0.3)
    r = bcecli.check_init(y, np.ones(N))
    assert r.verdict.value == "constant"
    assert "softmax over a single unit" in r.hint


def test_a_relu_output_is_invalid() -> None:
    y = binary_labels(0.5)
    r = bcecli.check_init(y, np.maximum(gaussian(2.0, (N,)), 0.0))
    assert r.verdict.value == "invalid" and "ReLU" in r.message


def test_a_linear_output_is_invalid() -> None:
    r = bcecli.check_init(binary_labels(0.5), gaussian(2.0, (N,)))
    assert r.verdict.value == "invalid" and "--from-logits" in r.hint


def test_a_leak_is_suspiciously_good() -> None:
    y = binary_labels(0.3)
    r = bcecli.check_init(y, np.where(y == 1, 0.8, 0.1))
    assert r.verdict.value == "suspiciously_good"


def test_ten_classes_default_init_is_uniform() -> None:
    y = np.random.default_rng(3).integers(0, 10, N)
    r = bcecli.check_init(y, softmax(gaussian(0.35, (N, 10))))
    assert r.verdict.value == "uniform"
    assert r.uniform_loss == pytest.approx(math.log(10), rel=1e-15)
    # centred logits are given back their 1/K: the spread reads as the logits' own
    assert r.logit_std == pytest.approx(0.35, rel=0.05)


def test_ten_classes_large_logits_are_too_confident() -> None:
    y = np.random.default_rng(3).integers(0, 10, N)
    r = bcecli.check_init(y, gaussian(4.0, (N, 10)), from_logits=True)
    assert r.verdict.value == "too_confident"
    assert r.logit_std == pytest.approx(4.0, rel=0.05)


def test_ten_classes_bias_toward_one_class_is_wrong_bias() -> None:
    y = np.random.default_rng(3).integers(0, 10, N)
    z = gaussian(0.3, (N, 10))
    z[:, 0] += 6.0
    r = bcecli.check_init(y, z, from_logits=True)
    assert r.verdict.value == "wrong_bias"


def test_imbalanced_classes_with_a_prior_bias_are_prior() -> None:
    rng = np.random.default_rng(4)
    prior = np.array([0.7, 0.2, 0.07, 0.03])
    y = rng.choice(4, N, p=prior)
    sample_prior = np.bincount(y, minlength=4) / N
    z = recommended_bias(sample_prior, True) + gaussian(0.1, (N, 4))
    r = bcecli.check_init(y, z, from_logits=True)
    assert r.verdict.value == "prior", r.message
    assert r.prior_loss == pytest.approx(-(sample_prior * np.log(sample_prior)).sum(), rel=1e-12)


def test_multilabel_references_are_per_output() -> None:
    y = (np.random.default_rng(5).random((N, 3)) < [0.5, 0.1, 0.3]).astype(float)
    r = bcecli.check_init(y, sigmoid(gaussian(0.3, (N, 3))), task="multilabel")
    assert r.uniform_loss == pytest.approx(math.log(2))
    p = y.mean(axis=0)
    h = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert r.prior_loss == pytest.approx(float(h.mean()), rel=1e-12)
    assert len(r.recommended_bias) == 3
    assert r.verdict.value == "uniform"


def test_standard_error_is_that_of_the_mean() -> None:
    y = binary_labels(0.3)
    p = sigmoid(gaussian(1.0, (N,)))
    r = bcecli.check_init(y, p)
    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert r.init_loss == pytest.approx(losses.mean(), rel=1e-12)
    assert r.std_error == pytest.approx(losses.std(ddof=1) / math.sqrt(N), rel=1e-9)


# --- the command -----------------------------------------------------------------------------


def _csv(tmp_path: Path, y: np.ndarray, p: np.ndarray) -> str:
    path = tmp_path / "untrained.csv"
    lines = ["y_true,y_pred"] + [f"{int(a)},{float(b)!r}" for a, b in zip(y, p, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_init_loss_is_what_score_says_under_keras(runner: CliRunner, tmp_path: Path) -> None:
    y = binary_labels(0.2, n=500)
    path = _csv(tmp_path, y, sigmoid(gaussian(0.5, (500,))))
    got = runner.invoke(cli, ["check-init", path, "--compat", "keras", "--format", "json"])
    want = runner.invoke(cli, ["score", path, "--compat", "keras", "--format", "json"])
    assert got.exit_code == 0, got.output
    data = json.loads(got.stdout)
    assert data["init_loss"] == json.loads(want.stdout)["mean_loss"]
    assert data["verdict"] == "uniform" and data["passed"] is True


def test_exit_code_follows_the_verdict(runner: CliRunner, tmp_path: Path) -> None:
    y = binary_labels(0.5, n=500)
    path = _csv(tmp_path, y, sigmoid(gaussian(6.0, (500,))))
    result = runner.invoke(cli, ["check-init", path, "--format", "tsv"])
    assert result.exit_code == 1, result.output
    assert "verdict\ttoo_confident" in result.stdout
    assert "check-init: too_confident" in result.stderr


def test_json_follows_the_schema(runner: CliRunner, tmp_path: Path) -> None:
    import jsonschema

    y = binary_labels(0.1, n=300)
    path = _csv(tmp_path, y, np.full(300, 1.0))
    result = runner.invoke(cli, ["check-init", path, "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    schema_path = Path(bcecli.__file__).parent / "schema" / "init.schema.json"
    jsonschema.validate(data, json.loads(schema_path.read_text()))
    assert data["verdict"] == "constant"
    assert data["std_error"] is None  # an infinite mean has none


def test_reduction_does_not_apply(runner: CliRunner, tmp_path: Path) -> None:
    path = _csv(tmp_path, binary_labels(0.5, n=20), np.full(20, 0.5))
    result = runner.invoke(cli, ["check-init", path, "--reduction", "sum"])
    assert result.exit_code == 2


def test_the_table_shows_the_references_and_the_verdict(runner: CliRunner, tmp_path: Path) -> None:
    y = binary_labels(0.08, n=400)
    path = _csv(tmp_path, y, sigmoid(gaussian(0.3, (400,))))
    result = runner.invoke(cli, ["check-init", path, "--format", "table"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Loss at initialisation", "init loss", "ln 2", "prior's entropy", "uniform: "):
        assert text in out, text
    assert "recommended bias" in out and f"{math.log(y.mean() / (1 - y.mean())):.4f}" in out


# --- bce score on an untrained model's outputs ------------------------------------------------


def test_score_on_a_chance_level_model_points_to_check_init() -> None:
    y = np.random.default_rng(3).integers(0, 10, N)
    r = bcecli.score(y, softmax(gaussian(0.35, (N, 10))))
    assert r.mean_loss == pytest.approx(math.log(10), rel=0.05)
    mean_above = r.flag("mean_above_1")
    assert mean_above is not None
    assert "chance level, ln 10 = 2.303" in mean_above.hint and "bce check-init" in mean_above.hint
    assert "rarely a healthy model" not in mean_above.hint
    ne = r.flag("ne_above_1")
    if ne is not None:  # NE is about 1: just above or below
        assert "bce check-init" in ne.hint


def test_score_on_an_imbalanced_default_init_says_untrained_not_row_order() -> None:
    y = binary_labels(0.5)
    r = bcecli.score(y, sigmoid(gaussian(0.3, (N,))))
    ne = r.flag("ne_above_1")
    assert ne is not None and "what an untrained model scores" in ne.hint


def test_a_trained_model_keeps_the_old_hints() -> None:
    y = binary_labels(0.5)
    p = np.where(y == 1, 0.2, 0.8)  # confidently wrong: far from every reference
    r = bcecli.score(y, p)
    assert r.flag("mean_above_1") is not None
    mean_above = r.flag("mean_above_1")
    assert mean_above is not None and "rarely a healthy model" in mean_above.hint


def test_constant_predictions_at_the_prior_are_a_warning_about_a_prior_bias() -> None:
    y = binary_labels(0.08)
    r = bcecli.score(y, np.full(N, y.mean()))
    assert r.flag("constant_predictions") is None and r.flag("ne_above_1") is None
    f = r.flag("constant_prior")
    assert f is not None and f.severity.value == "warning"
    assert "bias = log prior" in f.hint and "bce check-init" in f.hint


def test_constant_predictions_not_at_the_prior_stay_an_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    y = binary_labels(0.08, n=300)
    path = _csv(tmp_path, y, np.full(300, y.mean()))
    assert runner.invoke(cli, ["score", path, "--format", "json"]).exit_code == 0
    r = bcecli.score(y, np.full(300, 0.5))
    f = r.flag("constant_predictions")
    assert f is not None and f.severity.value == "error"
    assert "kernel and bias are zero" in f.hint  # 0.5 is chance level: a zero final layer
    f = bcecli.score(y, np.full(300, 0.9)).flag("constant_predictions")
    assert f is not None and "check that it trained" in f.hint and "zero" not in f.hint


# --- K classes: chance beside the bands -------------------------------------------------------


def test_explain_reads_a_value_for_k_classes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["explain", "2.30", "--classes", "10", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["classes"] == 10 and data["chance_loss"] == pytest.approx(math.log(10), 1e-15)
    reading = " ".join(data["reading"])
    assert "About chance level for 10 classes" in reading and "not a broken model" in reading
    assert data["band"] == "something is broken"  # the band is still there, labelled binary
    assert "describe balanced binary tasks" in reading


def test_explain_ln2_is_chance_not_better_than_a_coin_flip(runner: CliRunner) -> None:
    for args in (["0.693", "--classes", "2"], ["0.693"]):
        data = json.loads(runner.invoke(cli, ["explain", *args, "--format", "json"]).stdout)
        reading = " ".join(data["reading"])
        assert "Better than a coin flip" not in reading
        assert "chance level" in reading


def test_explain_below_and_above_chance(runner: CliRunner) -> None:
    below = json.loads(
        runner.invoke(cli, ["explain", "1.0", "--classes", "10", "-f", "json"]).stdout
    )
    # exp(-1) * 10 = 3.68 times the uniform 1/10
    assert (
        "Better than chance" in " ".join(below["reading"]) and "3.68 times" in below["reading"][1]
    )
    above = json.loads(
        runner.invoke(cli, ["explain", "4.0", "--classes", "10", "-f", "json"]).stdout
    )
    assert "Worse than a uniform guess" in " ".join(above["reading"])
    assert runner.invoke(cli, ["explain", "--classes", "3"]).exit_code == 2
    assert runner.invoke(cli, ["explain", "1.0", "--classes", "1"]).exit_code == 2


def test_score_table_shows_chance_and_ne_beside_the_band(runner: CliRunner, tmp_path: Path) -> None:
    y = np.random.default_rng(3).integers(0, 10, 300)
    p = softmax(gaussian(0.3, (300, 10)))
    path = tmp_path / "k10.csv"
    rows = ["label," + ",".join(f"prob_{i}" for i in range(10))]
    rows += [f"{a}," + ",".join(repr(float(v)) for v in row) for a, row in zip(y, p, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(cli, ["score", str(path), "-f", "table"], env={"COLUMNS": "120"})
    out = result.stdout
    assert "a binary rule of thumb, not for 10 classes" in out
    assert "chance" in out and "2.302585" in out and "ln 10: a uniform guess" in out


def test_score_names_a_relu_output_rather_than_logits() -> None:
    y = binary_labels(0.5)
    relu = bcecli.score(y, np.maximum(gaussian(2.0, (N,)), 0.0)).flag("pred_out_of_range")
    assert relu is not None and "a ReLU output layer?" in relu.hint
    linear = bcecli.score(y, gaussian(2.0, (N,))).flag("pred_out_of_range")
    assert linear is not None and linear.hint == "they look like logits: re-run with --from-logits"


def test_sigmoids_over_k_classes_are_not_a_softmax() -> None:
    y = np.random.default_rng(0).integers(0, 5, N)
    r = bcecli.check_init(y, sigmoid(gaussian(0.3, (N, 5))))
    assert r.verdict.value == "invalid" and "not a softmax" in r.message


def test_nan_outputs_are_invalid_and_flagged() -> None:
    y = binary_labels(0.3)
    p = sigmoid(gaussian(0.3, (N,)))
    p[5] = np.nan
    r = bcecli.check_init(y, p)
    assert r.verdict.value == "invalid" and [f.id for f in r.flags] == ["non_finite"]


def test_a_zero_final_layer_is_uniform() -> None:
    y = binary_labels(0.5)
    r = bcecli.check_init(y, np.full(N, 0.5))
    assert r.verdict.value == "uniform"
    assert r.init_loss == pytest.approx(math.log(2), rel=1e-15)


def test_one_softmax_column_is_constant() -> None:
    r = bcecli.check_init(np.zeros(N), np.ones(N), task="categorical")
    assert r.verdict.value == "constant" and "softmax over a single unit" in r.hint
