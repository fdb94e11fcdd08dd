"""The gates as a pure function of the report: which reasons, with which values."""

from __future__ import annotations

import json
import math

import pytest

from bcecli.core.flags import Severity
from bcecli.core.options import LossOptions, Task
from bcecli.core.report import Report
from bcecli.core.scoring import score_arrays
from bcecli.gates import AboveLimit, FailOn, FlagsRaised, Gate, Gates, evaluate

LABELS = [0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1]
PREDS = [0.2, 0.8, 0.3, 0.9, 0.7, 0.1, 0.4, 0.6, 0.2, 0.8, 0.9, 0.05]


@pytest.fixture(scope="module")
def healthy() -> Report:
    """One info flag (loss_above_1: the 0.05 on a positive), mean 0.4949, NE 0.7287."""
    return score_arrays(LABELS, PREDS, LossOptions(task=Task.BINARY))


@pytest.fixture(scope="module")
def broken() -> Report:
    """Every label 1, every prediction 1.0: an error (constant_predictions), a warning
    (saturated_predictions), an info flag (single_class), and NE undefined."""
    return score_arrays([1] * 12, [1.0] * 12, LossOptions(task=Task.BINARY))


def test_the_fixtures_hold_what_the_cases_need(healthy: Report, broken: Report) -> None:
    # the mean of -ln(true-class probability), by hand
    p_true = [p if y else 1 - p for y, p in zip(LABELS, PREDS, strict=True)]
    assert healthy.mean_loss == pytest.approx(-sum(map(math.log, p_true)) / 12, rel=1e-12)
    assert [(f.id, f.severity) for f in healthy.flags] == [("loss_above_1", Severity.INFO)]
    assert [f.severity for f in broken.flags] == [Severity.ERROR, Severity.WARNING, Severity.INFO]
    assert math.isnan(broken.ne)


@pytest.mark.parametrize(
    ("fail_on", "error", "warning", "info"),
    [
        (FailOn.ERROR, True, False, False),
        (FailOn.WARNING, True, True, False),
        (FailOn.NEVER, False, False, False),
    ],
)
def test_what_each_fail_on_trips(fail_on: FailOn, error: bool, warning: bool, info: bool) -> None:
    trips = [fail_on.trips(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    assert trips == [error, warning, info]
    assert FailOn(fail_on.value) is fail_on  # the CLI passes the option's text


def test_a_healthy_report_passes(healthy: Report) -> None:
    verdict = evaluate(healthy, Gates(FailOn.WARNING, max_loss=0.5, max_ne=0.73))
    assert verdict.passed and verdict.reasons == ()


def test_flags_at_or_above_the_severity_fail(broken: Report) -> None:
    errors = evaluate(broken, Gates())
    assert errors.reasons == (FlagsRaised(FailOn.ERROR, ("constant_predictions",)),)
    assert errors.reasons[0].gate is Gate.FAIL_ON
    assert errors.reasons[0].message == "1 error flag (constant_predictions)"
    both = evaluate(broken, Gates(FailOn.WARNING)).reasons
    assert both == (FlagsRaised(FailOn.WARNING, ("constant_predictions", "saturated_predictions")),)
    assert both[0].message == "2 error/warning flags (constant_predictions, saturated_predictions)"
    assert evaluate(broken, Gates(FailOn.NEVER)).passed


def test_ignored_flags_do_not_trip(broken: Report) -> None:
    assert evaluate(broken, Gates(ignore=("constant_predictions",))).passed
    left = evaluate(broken, Gates(FailOn.WARNING, ignore=("constant_predictions",))).reasons
    assert left == (FlagsRaised(FailOn.WARNING, ("saturated_predictions",)),)


def test_limits_carry_the_value_and_the_limit(healthy: Report) -> None:
    assert evaluate(healthy, Gates(max_loss=healthy.mean_loss)).passed  # equal passes
    (loss,) = evaluate(healthy, Gates(max_loss=0.3)).reasons
    assert loss == AboveLimit(Gate.MAX_LOSS, healthy.mean_loss, 0.3)
    assert loss.message == "mean loss 0.494949 > --max-loss 0.3"
    (ne,) = evaluate(healthy, Gates(max_ne=0.5)).reasons
    assert ne == AboveLimit(Gate.MAX_NE, healthy.ne, 0.5)
    assert ne.message == "NE 0.7287 > --max-ne 0.5"


def test_every_gate_reports_in_one_verdict(broken: Report) -> None:
    """An undefined NE fails --max-ne; the flags, the loss and NE are all reported."""
    verdict = evaluate(broken, Gates(max_loss=-1.0, max_ne=10.0))
    assert [r.gate for r in verdict.reasons] == [Gate.FAIL_ON, Gate.MAX_LOSS, Gate.MAX_NE]
    assert verdict.reasons[2].message == "NE undefined > --max-ne 10"
    assert not verdict.passed


def test_max_sample_loss_gates_the_worst_sample(healthy: Report) -> None:
    p_true = [p if y else 1 - p for y, p in zip(LABELS, PREDS, strict=True)]
    worst = max(-math.log(p) for p in p_true)  # -ln 0.05, by hand
    assert healthy.max_loss == pytest.approx(worst, rel=1e-12)
    assert evaluate(healthy, Gates(max_sample_loss=worst)).passed
    (reason,) = evaluate(healthy, Gates(max_sample_loss=2.0)).reasons
    assert reason == AboveLimit(Gate.MAX_SAMPLE_LOSS, healthy.max_loss, 2.0)
    assert reason.message == f"worst sample loss {worst:.6g} > --max-sample-loss 2"
    # --max-loss gates the mean, which passes a limit the worst sample does not
    assert evaluate(healthy, Gates(max_loss=2.0)).passed


def test_an_invalid_mean_passes_no_limit() -> None:
    import bcecli

    r = bcecli.score([0, 1, 0, 1], [-2.0, 3.0, -1.0, 2.0])  # logits read as probabilities
    assert not r.valid and r.mean_loss < 0
    verdict = evaluate(r, Gates(FailOn.NEVER, max_loss=10.0))
    (reason,) = verdict.reasons
    assert reason.gate is Gate.MAX_LOSS and "not a valid loss" in reason.message


def test_the_verdict_in_json_and_tsv_with_or_without_quiet() -> None:
    from click.testing import CliRunner

    from bcecli.cli import cli
    from tests.conftest import SAMPLES

    path = str(SAMPLES / "healthy_binary.csv")
    runner = CliRunner()
    for quiet in ([], ["-q"]):
        args = ["score", path, "--max-loss", "0.1", "--max-sample-loss", "100", *quiet]
        js = runner.invoke(cli, [*args, "--format", "json"])
        assert js.exit_code == 1
        data = json.loads(js.stdout)
        assert data["gate"]["passed"] is False
        (reason,) = data["gate"]["reasons"]
        assert reason["gate"] == "max_loss" and reason["limit"] == 0.1
        assert reason["value"] == data["mean_loss"]
        tsv = runner.invoke(cli, [*args, "--format", "tsv"]).stdout.splitlines()
        assert "gate\tfailed" in tsv
        assert [line.split("\t")[1] for line in tsv if line.startswith("gate_reason")] == [
            "max_loss"
        ]
    ok = json.loads(runner.invoke(cli, ["score", path, "--format", "json"]).stdout)
    assert ok["gate"] == {"passed": True, "reasons": []}
