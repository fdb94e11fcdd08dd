"""Weights and limits that make the mean meaningless (issue 21, items 8 and 9)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli


def write(path: Path, **cols: np.ndarray) -> str:
    names = list(cols)
    rows = zip(*(cols[n] for n in names), strict=True)
    path.write_text(
        ",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows)
    )
    return str(path)


def score(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json"])
    data = json.loads(result.stdout) if result.stdout.startswith("{") else {}
    return result.exit_code, data, result.stderr


def flags(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f["id"]: f for f in data["flags"]}  # type: ignore[attr-defined, index]


Y = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
P = np.array([0.9, 0.2, 0.6, 0.7, 0.4, 0.1, 0.8, 0.3])


def test_negative_weights_are_an_error(tmp_path: Path) -> None:
    w = np.ones(len(Y))
    w[2] = -1.0
    code, data, err = score(
        write(tmp_path / "x.csv", y_true=Y, y_pred=P, w=w), "--sample-weight", "w"
    )
    assert code == 1  # --fail-on error, the default
    f = flags(data)["negative_weights"]
    assert f["severity"] == "error" and f["rows"] == [2]
    assert data["valid"] is False
    assert "not a weight" in str(f["hint"]) and "--sample-weight" in str(f["hint"])
    assert "Failed: 1 error flag (negative_weights)" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--class-weight", "nan,1"],
        ["--class-weight", "1,inf"],
        ["--pos-weight", "nan", "--from-logits"],
        ["--pos-weight", "inf", "--from-logits"],
        ["--max-loss", "nan"],
        ["--max-ne", "nan"],
        ["--max-sample-loss", "nan"],
    ],
)
def test_a_nan_weight_or_limit_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    code, _, err = score(write(tmp_path / "x.csv", y_true=Y, y_pred=P), *args)
    assert code == 2
    assert err.startswith("Error: ") and args[0] in err and "nan" not in err.split(";")[1]
    assert len(err.splitlines()) == 1


def test_an_infinite_max_loss_still_passes(tmp_path: Path) -> None:
    code, data, _ = score(write(tmp_path / "x.csv", y_true=Y, y_pred=P), "--max-loss", "inf")
    assert code == 0
    losses = -np.log(np.where(Y == 1, P, 1 - P))
    assert data["mean_loss"] == pytest.approx(math.fsum(losses) / len(Y), rel=1e-15)
