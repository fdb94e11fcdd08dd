"""The report's sentence on calibration and discrimination: its numbers are the
decomposition's, it reaches the table report, and it stays silent where nothing applies."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bcecli
from bcecli.cli import cli
from bcecli.core.decomposition import Decomposition
from bcecli.core.why import decomposition_sentence, why_lines

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def test_the_sentence_of_the_issue() -> None:
    d = Decomposition(0.619, 0.137, 0.153, 0.635, "isotonic (exact)", 0.0, 0.482)
    assert decomposition_sentence(d) == (
        "22% of the loss is miscalibration: recalibrating would bring 0.619 to 0.482; "
        "discrimination 0.153 of an uncertainty of 0.635"
    )


def test_infinite_and_undefined() -> None:
    inf = float("inf")
    d = Decomposition(inf, inf, 0.1, 0.6, "isotonic (exact)", 0.0, 0.5)
    assert decomposition_sentence(d).startswith("the loss is infinite")  # type: ignore[union-attr]
    nan = float("nan")
    assert decomposition_sentence(Decomposition(0.5, nan, nan, nan, "", 0.0, nan)) is None


def test_binary_numbers_are_the_reports() -> None:
    r = bcecli.score_file(str(SAMPLES / "healthy_binary.csv"))
    d = r.decomposition
    assert d is not None
    line = next(x for x in why_lines(r) if "miscalibration" in x)
    share, s, after, dsc, unc = (float(v) for v in re.findall(r"\d+\.?\d*", line)[:5])
    assert share == round(100 * d.miscalibration / d.mean_loss)
    assert (s, after, dsc, unc) == pytest.approx(
        (d.mean_loss, d.mean_loss - d.miscalibration, d.discrimination, d.uncertainty), abs=5e-4
    )


def test_multiclass_says_temperature_top_k_and_top_label() -> None:
    r = bcecli.score_file(str(SAMPLES / "softmax_10class.csv"))
    text = "\n".join(why_lines(r))
    assert r.softmax_recalibration is not None and r.auc_ovr is not None
    assert f"T = {r.softmax_recalibration.T:.3f}" in text
    assert f"AUC {r.auc_ovr.macro:.3f} (macro)" in text and "top-5" in text
    assert "top-label loss is miscalibration" in text


def test_the_table_report_prints_it() -> None:
    """The decomposition on the one screen; every sentence with --verbose."""
    path = str(SAMPLES / "healthy_binary.csv")
    runner = CliRunner(env={"COLUMNS": "200"})
    default = runner.invoke(cli, ["score", path, "--format", "table"])
    verbose = runner.invoke(cli, ["score", path, "--format", "table", "--verbose"])
    for result in (default, verbose):
        assert result.exit_code == 0, result.output
        assert "of the loss is miscalibration: recalibrating would bring" in result.stdout
    assert "ranking: AUC" in verbose.stdout and "in-sample refits" in verbose.stdout


def test_nothing_for_an_invalid_report() -> None:
    r = bcecli.score(np.array([0, 1, 1, 0.0]), np.array([0.2, 1.7, 0.9, 0.1]))
    assert not r.valid and why_lines(r) == []
