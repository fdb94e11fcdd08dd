"""overconfident / underconfident: temperature scaling would remove at least 10% of the loss
and 0.01 nats. The fitted T and the loss it gives, in the message, against a direct scipy fit
on the same rows; no flag for calibrated scores or a gain below the threshold."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp

import bcecli
from bcecli.core.diagnose import TEMPERATURE_GAIN, TEMPERATURE_SHARE


def binary_rows(scale: float, n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), predictions sigmoid(scale * z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < sp.expit(z)).astype(float)
    return y, sp.expit(scale * z)


def softmax_rows(
    scale: float, n: int = 4000, k: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    cum = sp.softmax(z, axis=1).cumsum(axis=1)
    labels = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
    return labels, sp.softmax(scale * z, axis=1)


def binary_oracle(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    z = np.log(p) - np.log1p(-p)

    def loss(a: float) -> float:
        return float(-np.mean(sp.xlogy(y, sp.expit(a * z)) + sp.xlogy(1 - y, sp.expit(-a * z))))

    res = so.minimize_scalar(loss, bounds=(0.01, 50), method="bounded", options={"xatol": 1e-12})
    return 1 / float(res.x), float(res.fun)


def flags_of(report: bcecli.Report) -> dict[str, bcecli.Report]:
    return {f.id: f for f in report.flags}  # type: ignore[misc]


def numbers(message: str) -> list[float]:
    return [float(v) for v in re.findall(r"\d+\.\d+", message)]


@pytest.mark.parametrize(("scale", "flag"), [(3.0, "overconfident"), (0.3, "underconfident")])
def test_binary(scale: float, flag: str) -> None:
    y, p = binary_rows(scale)
    r = bcecli.score(y, p)
    found = flags_of(r)
    assert flag in found and ({"overconfident", "underconfident"} - {flag}).isdisjoint(found)
    f = found[flag]
    t, after = binary_oracle(y, p)
    assert (t > 1) == (flag == "overconfident")
    got_t, before, got_after = numbers(f.message)[:3]
    assert got_t == pytest.approx(t, rel=1e-2)  # as printed: 3 significant digits
    assert before == pytest.approx(r.mean_loss, rel=1e-3)
    assert got_after == pytest.approx(after, rel=1e-3)
    assert r.recalibration is not None
    assert r.recalibration.temperature.T == pytest.approx(t, rel=1e-6)
    assert "held-out" in f.hint and "sigmoid" in f.hint and "in sample" in f.message
    assert f.severity.value == "warning"


@pytest.mark.parametrize(("scale", "flag"), [(3.0, "overconfident"), (0.3, "underconfident")])
def test_multiclass(scale: float, flag: str) -> None:
    labels, p = softmax_rows(scale)
    r = bcecli.score(labels, p, task="sparse")
    found = flags_of(r)
    assert flag in found
    assert "softmax" in found[flag].hint
    assert r.softmax_recalibration is not None
    assert (r.softmax_recalibration.T > 1) == (flag == "overconfident")


@pytest.mark.parametrize("scale", [1.0, 1.1, 0.9])
def test_no_flag_below_the_threshold(scale: float) -> None:
    for r in (bcecli.score(*binary_rows(scale)), bcecli.score(*softmax_rows(scale), task="sparse")):
        found = flags_of(r)
        assert "overconfident" not in found and "underconfident" not in found
        fit = r.recalibration.temperature if r.recalibration else None
        if fit is not None:  # the gain is below the stated threshold
            gain = r.mean_loss - fit.loss
            assert gain < TEMPERATURE_GAIN or gain < TEMPERATURE_SHARE * r.mean_loss


def test_cli_json_carries_the_flag(tmp_path: object) -> None:
    import pandas as pd
    from click.testing import CliRunner

    from bcecli.cli import cli

    y, p = binary_rows(3.0, n=2000)
    path = f"{tmp_path}/over.csv"
    pd.DataFrame({"y_true": y, "y_pred": p}).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["score", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    ids = [f["id"] for f in json.loads(result.stdout)["flags"]]
    assert "overconfident" in ids
