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


LOSSES = -np.log(np.where(Y == 1, P, 1 - P))


def scaled_reference(w: np.ndarray, scale: int) -> float:
    """sum(w l) / sum(w) in float64 with the weights scaled by 2**scale first (exact), then
    each product and both sums correctly rounded."""
    ws = np.ldexp(w, scale)
    return math.fsum(ws * LOSSES) / math.fsum(ws)


def test_weights_of_1e308_give_the_weighted_mean(tmp_path: Path) -> None:
    w = np.full(len(Y), 1e308)
    w[::3] = 5e307  # not all equal: a true weighted mean
    code, data, _ = score(
        write(tmp_path / "x.csv", y_true=Y, y_pred=P, w=w), "--sample-weight", "w"
    )
    assert code == 0 and data["valid"] is True
    ref = scaled_reference(w, -math.frexp(1e308)[1])
    assert data["mean_loss"] == pytest.approx(ref, rel=1e-15)
    # and the same by exact rational arithmetic on the unscaled weights
    from fractions import Fraction

    exact = sum(Fraction(a) * Fraction(b) for a, b in zip(w, LOSSES, strict=True)) / sum(
        Fraction(a) for a in w
    )
    assert data["mean_loss"] == pytest.approx(float(exact), rel=1e-15)
    assert "weights_out_of_range" not in flags(data)


def test_a_single_smallest_subnormal_weight_is_that_row(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", y_true=Y[:1], y_pred=P[:1], w=np.array([5e-324]))
    _, data, _ = score(path, "--sample-weight", "w")
    assert data["mean_loss"] == LOSSES[0]


def test_equal_subnormal_weights_give_the_unweighted_mean(tmp_path: Path) -> None:
    w = np.full(4, 1e-310)
    path = write(tmp_path / "x.csv", y_true=Y[:4], y_pred=P[:4], w=w)
    _, weighted, _ = score(path, "--sample-weight", "w")
    _, plain, _ = score(path)
    assert weighted["mean_loss"] == pytest.approx(plain["mean_loss"], rel=1e-15)
    assert plain["mean_loss"] == pytest.approx(math.fsum(LOSSES[:4]) / 4, rel=1e-15)


def test_keras_divides_by_n_in_the_weights_own_units(tmp_path: Path) -> None:
    w = np.full(len(Y), 1e300)
    path = write(tmp_path / "x.csv", y_true=Y, y_pred=P, w=w)
    _, data, _ = score(path, "--sample-weight", "w", "--compat", "keras")
    # Keras' sum_over_batch_size: sum(w l) / N, float32 losses
    assert data["mean_loss"] == pytest.approx(1e300 * LOSSES.mean(), rel=1e-6)
    assert data["mean_metric"] is None or data["mean_metric"] == pytest.approx(
        LOSSES.mean(), rel=1e-6
    )
    result = CliRunner().invoke(
        cli, ["score", path, "--sample-weight", "w", "--compat", "keras", "--per-sample",
              "--format", "jsonl", "-q"]
    )  # fmt: skip
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # reduction='none' returns w * l, in the weights' units
    assert [r["loss"] for r in rows] == pytest.approx(list(1e300 * LOSSES), rel=1e-6)


def test_weights_beyond_what_float64_can_sum_are_an_error(tmp_path: Path) -> None:
    w = np.where(np.arange(len(Y)) % 2 == 0, 1.0, 1e308)  # the first weight sets the scale
    code, data, _ = score(
        write(tmp_path / "x.csv", y_true=Y, y_pred=P, w=w), "--sample-weight", "w"
    )
    assert code == 1 and data["valid"] is False
    f = flags(data)["weights_out_of_range"]
    assert f["severity"] == "error" and f["rows"][:2] == [1, 3]  # type: ignore[index]


def test_the_scaled_sums_do_not_depend_on_the_chunking(tmp_path: Path) -> None:
    import bcecli

    rng = np.random.default_rng(5)
    n = 20_000
    y = rng.integers(0, 2, n).astype(float)
    p = rng.uniform(0.01, 0.99, n)
    w = rng.uniform(0.5, 2.0, n) * 1e306
    path = write(tmp_path / "x.csv", y_true=y, y_pred=p, w=w)
    means = {
        bcecli.score_file(path, sample_weight="w", chunk_rows=c).mean_loss
        for c in (None, 1000, 4096, 7777)
    }
    assert len(means) == 1
    losses = -np.log(np.where(y == 1, p, 1 - p))
    ws = np.ldexp(w, -math.frexp(w[0])[1])
    assert means.pop() == pytest.approx(math.fsum(ws * losses) / math.fsum(ws), rel=1e-14)


def test_a_negligible_weight_among_normal_ones_is_not_an_error(tmp_path: Path) -> None:
    w = np.ones(len(Y))
    w[3] = 1e-320  # adds nothing that float64 could show beside the others
    code, data, _ = score(
        write(tmp_path / "x.csv", y_true=Y, y_pred=P, w=w), "--sample-weight", "w"
    )
    assert code == 0 and "weights_out_of_range" not in flags(data)
    keep = np.arange(len(Y)) != 3
    assert data["mean_loss"] == pytest.approx(LOSSES[keep].mean(), rel=1e-15)
