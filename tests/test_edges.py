"""Numerical edges: finite or correctly infinite answers, with the right flags; and genuine
bugs are reported as bugs (a traceback only with --debug)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.core.chunk import Chunk
from bcecli.core.options import Compat, LossOptions, Task
from bcecli.core.scoring import Scorer, score_arrays

EXACT = LossOptions(task=Task.BINARY)


def test_subnormal_probabilities() -> None:
    tiny = 5e-324  # the smallest subnormal double
    report = score_arrays([1, 0], [tiny, tiny], EXACT)
    assert report.mean_loss == pytest.approx((-math.log(tiny) + 0.0) / 2, rel=1e-12)
    assert math.isfinite(report.mean_loss)
    for compat, cap in ((Compat.KERAS, 16.118095), (Compat.TORCH, 100.0)):
        r = score_arrays([1], [tiny], LossOptions(task=Task.BINARY, compat=compat))
        assert r.mean_loss == pytest.approx(cap, rel=1e-6)


def test_one_minus_1e17_is_exactly_one_in_float64() -> None:
    p = 1 - 1e-17  # rounds to 1.0
    report = score_arrays([0, 1], [p, 0.5], EXACT)
    assert report.mean_loss == math.inf
    assert report.flag("saturated_predictions") is not None


@pytest.mark.parametrize("x", [1e300, -1e300, 800.0, -800.0, 1e-300])
def test_huge_and_tiny_logits(x: float) -> None:
    opts = LossOptions(task=Task.BINARY, from_logits=True)
    for label in (0, 1):
        report = score_arrays([label], [x], opts)
        wrong = (x > 0) != (label == 1)
        expected = abs(x) if wrong and abs(x) > 40 else math.log1p(math.exp(-abs(x)))
        if wrong and abs(x) <= 40:
            expected = abs(x) + math.log1p(math.exp(-abs(x)))
        assert math.isfinite(report.mean_loss)
        assert report.mean_loss == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_single_sample_and_two_samples() -> None:
    one = score_arrays([1], [0.7], EXACT)
    assert one.n == 1 and one.mean_loss == pytest.approx(-math.log(0.7))
    assert one.flag("single_class") is not None and math.isnan(one.ne)
    two = score_arrays([1, 0], [0.7, 0.4], EXACT)
    assert two.n == 2 and two.ne < 1


def test_weights_summing_to_zero_under_every_profile() -> None:
    for compat in (Compat.EXACT, Compat.SKLEARN):
        r = score_arrays([1, 0], [0.7, 0.4], LossOptions(task=Task.BINARY, compat=compat),
                         weights=[0.0, 0.0])  # fmt: skip
        assert math.isnan(r.mean_loss) and r.flag("weights_sum_zero") is not None
    keras = score_arrays([1, 0], [0.7, 0.4], LossOptions(task=Task.BINARY, compat=Compat.KERAS),
                         weights=[0.0, 0.0])  # fmt: skip
    assert keras.mean_loss == 0.0  # sum_over_batch_size: 0 / N


def test_a_hundred_million_identical_rows() -> None:
    """10^8 rows of the same pair, streamed: exact counts, the exact mean, the right flags."""
    rows = 1 << 18
    y = np.ones((rows, 1))
    p = np.full((rows, 1), 0.25)
    n = 100_000_000
    scorer = Scorer(EXACT, 1)
    start = 0
    while start < n:
        m = min(rows, n - start)
        scorer.score(Chunk(start, y[:m], p[:m]))
        start += m
    r = scorer.report()
    assert r.n == n and r.n_excluded == 0
    assert r.mean_loss == pytest.approx(-math.log(0.25), rel=1e-14)
    assert r.n_above_1 == n and r.share_above_1 == 1.0
    assert r.flag("constant_predictions") is not None and r.flag("single_class") is not None
    assert not r.median_exact and r.median_loss == pytest.approx(-math.log(0.25), rel=1e-3)
    assert r.worst[0].row == 0 and [w.row for w in r.worst] == list(range(10))


def test_unexpected_errors_are_reported_as_bugs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bcecli.core import binary_scoring

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(binary_scoring, "score_binary_chunk", broken)
    monkeypatch.setattr("bcecli.core.scoring.score_binary_chunk", broken)
    f = tmp_path / "x.csv"
    f.write_text("y_true,y_pred\n1,0.5\n")
    result = CliRunner().invoke(cli, ["score", str(f)])
    assert result.exit_code == 3
    assert "a bug in bce: RuntimeError: boom" in result.stderr and "--debug" in result.stderr
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["score", str(f), "--debug"])
    assert isinstance(debug.exception, RuntimeError)  # the traceback is shown


@pytest.mark.parametrize("huge", [1e300, 2.0**60, 1e19])
def test_a_huge_prediction_is_out_of_range_not_a_crash(huge: float) -> None:
    """A value too large for an integer bin once cast it to a negative bin (a crash in
    bincount, reported as a bug); it is an out-of-range prediction like any other."""
    import bcecli

    r = bcecli.score([1, 0, 1], [huge, 0.2, 0.7])
    flag = r.flag("pred_out_of_range")
    assert flag is not None and flag.count == 1
    assert r.to_dict()["calibration"] is not None
