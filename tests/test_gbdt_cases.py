"""Every measured gradient-boosting and JAX case, through the command line and the Python API.

The expected numbers come from running XGBoost 3.2, LightGBM 4.7, CatBoost 1.2.10 and optax 0.2.8
on given predictions (tests/data/gbdt_cases.json, copied from the project's reference; the routes
that make each library evaluate them are in docs/gbdt-semantics.md). float32 libraries (XGBoost,
optax by default) must agree to 2e-6 relative, float64 ones to 1e-9; bce must fail with exit 3
exactly where the library raises, and with a usage error (exit 2) where the library has no
such option.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bcecli
from bcecli.core.options import Compat
from bcecli.errors import BceError, FrameworkRaises, OptionError
from tests.conftest import DATA, number
from tests.test_framework_cases import KIND, assert_one_error_line, close, run_case

# (profile, --dtype) -> the reference entry
PROFILES = {
    (Compat.XGBOOST, None): "xgboost",
    (Compat.LIGHTGBM, None): "lightgbm",
    (Compat.LIGHTGBM_XENTROPY, None): "lightgbm_xentropy",
    (Compat.CATBOOST, None): "catboost",
    (Compat.CATBOOST_XENTROPY, None): "catboost_xentropy",
    (Compat.OPTAX, None): "optax_f32",
    (Compat.OPTAX, "float64"): "optax",
}
FLOAT32 = {"xgboost", "optax_f32"}
# "unsupported" entries that are an input the library cannot take (soft label rows): the
# library's error, exit 3. Every other unsupported entry is an option (exit 2), and so is a
# categorical task of one column (the libraries' multi-class metrics need two classes).
DATA_KINDS = ("soft / non-one-hot label rows",)


@cache
def gbdt_cases() -> list[dict[str, Any]]:
    with open(DATA / "gbdt_cases.json") as f:
        return list(json.load(f)["cases"])


def variants() -> list[Any]:
    return [
        pytest.param(case, compat, dtype, key, id=f"{case['id']}-{key}")
        for case in gbdt_cases()
        for (compat, dtype), key in PROFILES.items()
    ]


def tolerance(key: str) -> tuple[float, float]:
    return (2e-6, 2e-7) if key in FLOAT32 else (1e-9, 1e-12)


def expected_exit(case: dict[str, Any], ref: dict[str, Any]) -> int:
    if "error" in ref:
        return 3
    one_column = np.asarray(case["y_pred"]).ndim == 2 and len(case["y_pred"][0]) == 1
    return 3 if any(k in ref["unsupported"] for k in DATA_KINDS) and not one_column else 2


def check_numbers(mean: float, total: float | None, losses: list[float], ref: dict[str, Any],
                  key: str) -> None:  # fmt: skip
    rtol, atol = tolerance(key)
    assert close(mean, number(ref["mean"]), rtol, atol), (mean, ref["mean"])
    if "sum" in ref and total is not None:  # the GBDT libraries report only the mean
        assert close(total, number(ref["sum"]), rtol, atol), (total, ref["sum"])
    want = [number(v) for v in ref["per_sample"]]
    assert len(losses) == len(want)
    for got_v, want_v in zip(losses, want, strict=True):
        assert close(got_v, want_v, rtol, atol), (losses, want)


@pytest.mark.parametrize(("case", "compat", "dtype", "key"), variants())
def test_cli_matches_library(
    case: dict[str, Any], compat: Compat, dtype: str | None, key: str, tmp_path: Path
) -> None:
    ref = case["results"][key]
    result = run_case(case, compat, dtype, tmp_path)
    if "mean" not in ref:
        assert result.exit_code == expected_exit(case, ref), (result.output, ref)
        assert_one_error_line(result)
        return
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["compat"] == compat.value
    assert data["dtype"] == ("float32" if key in FLOAT32 else "float64")
    # JSON's null is a NaN loss (an excluded row, or the library's own nan)
    losses = [math.nan if v is None else number(v) for v in data["losses"]]
    check_numbers(number(data["mean_loss"]), number(data["sum_loss"]), losses, ref, key)


@pytest.mark.parametrize(("case", "compat", "dtype", "key"), variants())
def test_api_matches_library(
    case: dict[str, Any], compat: Compat, dtype: str | None, key: str
) -> None:
    ref = case["results"][key]
    o = case["options"]
    y = np.asarray(case["y_true"], dtype=np.float64)
    x = np.asarray(case["y_pred"], dtype=np.float64)
    kw: dict[str, Any] = {
        "task": KIND[case["kind"]].value,
        "compat": compat.value,
        "from_logits": bool(o["from_logits"]),
        "label_smoothing": float(o["label_smoothing"] or 0.0),
        "sample_weight": o["sample_weight"],
        "class_weight": o["class_weight"],
        "pos_weight": o["pos_weight"],
        "ignore_class": o["ignore_class"],
        "reduction": "none",
        "dtype": dtype,
    }
    if "mean" not in ref:
        want: type[BceError] = FrameworkRaises if expected_exit(case, ref) == 3 else OptionError
        with pytest.raises(want):
            bcecli.score(y, x, **kw)
        return
    report = bcecli.score(y, x, **kw)
    losses = report.losses
    assert losses is not None
    check_numbers(report.mean_loss, report.sum_loss, [float(v) for v in losses], ref, key)


def test_every_case_and_profile_is_measured() -> None:
    """The table covers each case under each new profile, and the counts are the reference's."""
    counts: dict[str, list[int]] = {}
    for case in gbdt_cases():
        for key in PROFILES.values():
            ref = case["results"][key]
            c = counts.setdefault(key, [0, 0, 0])
            c[0 if "mean" in ref else 1 if "error" in ref else 2] += 1
    assert counts["xgboost"] == [43, 1, 15]
    assert counts["lightgbm"] == [39, 1, 19]
    assert counts["catboost"] == [43, 1, 15]
    assert counts["optax"] == counts["optax_f32"] == [56, 0, 3]
    assert all(math.fsum(c) == len(gbdt_cases()) for c in counts.values())


# ----------------------------------------------------------------------------------------------
# the traps: a note under the profile, with the literal value beside it


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in gbdt_cases() if c["id"] == case_id)


@pytest.mark.parametrize(
    ("case_id", "compat", "key", "rule"),
    [
        ("bin_soft_labels", Compat.LIGHTGBM, "lightgbm", "counts every label above 0"),
        ("bin_logits_soft_labels", Compat.LIGHTGBM, "lightgbm", "counts every label above 0"),
        ("bin_soft_labels", Compat.CATBOOST, "catboost", "above 0.5 as a positive"),
        ("bin_near_one", Compat.XGBOOST, "xgboost", "reads predictions as float32"),
        ("bin_tiny_probs", Compat.XGBOOST, "xgboost", "reads predictions as float32"),
    ],
)
def test_a_library_trap_is_a_note_with_the_literal_value(
    case_id: str, compat: Compat, key: str, rule: str
) -> None:
    from bcecli.text import brief

    case = _case(case_id)
    y = np.asarray(case["y_true"], dtype=np.float64)
    x = np.asarray(case["y_pred"], dtype=np.float64)
    if compat is Compat.XGBOOST:  # float32 turns them into exactly 0 or 1
        x32 = x.astype(np.float32)
        trap = ((x32 == 0) | (x32 == 1)) & (x != 0) & (x != 1)
    else:
        trap = (y != 0) & (y != 1)
    lib = [number(v) for v in case["results"][key]["per_sample"]]
    exact = [number(v) for v in case["results"]["exact"]["per_sample"]]
    literal = float(np.mean(np.where(trap, exact, lib)))
    report = bcecli.score(
        y, x, task="binary", compat=compat.value, from_logits=case["options"]["from_logits"]
    )
    notes = [n for n in report.notes if rule in n]
    assert len(notes) == 1, report.notes
    assert f"{int(trap.sum())} row(s)" in notes[0]
    assert f"the mean would be {brief(literal)}" in notes[0], (notes[0], literal)
    assert f"reports {brief(number(case['results'][key]['mean']))}" in notes[0]
    # the literal profile has no such note
    plain = bcecli.score(y, x, task="binary", from_logits=case["options"]["from_logits"])
    assert not [n for n in plain.notes if rule in n]


def test_catboost_multilogloss_weight_rounding_is_a_note() -> None:
    from bcecli.text import brief

    case = _case("ml_sample_weight")
    w = case["options"]["sample_weight"]
    for compat, key in ((Compat.CATBOOST, "catboost"), (Compat.CATBOOST_XENTROPY,
                                                         "catboost_xentropy")):  # fmt: skip
        report = bcecli.score(
            case["y_true"], case["y_pred"], task="multilabel", compat=compat.value,
            sample_weight=w,
        )  # fmt: skip
        note = next(n for n in report.notes if "truncated to integers" in n)
        assert f"({brief(float(np.trunc(w).sum()))}, where the weights sum to " in note
        assert f"reports {brief(number(case['results'][key]['mean']))}" in note
        assert f"the weighted mean is {brief(number(case['results']['exact']['mean']))}" in note
    integer = bcecli.score(case["y_true"], case["y_pred"], task="multilabel", compat="catboost",
                           sample_weight=[1, 0, 2, 3])  # fmt: skip
    assert not [n for n in integer.notes if "truncated to integers" in n]


@pytest.mark.parametrize("task", ["binary", "sparse"])
def test_the_saturated_hint_names_each_library_cap(task: str) -> None:
    y, x = ([1.0, 0.0], [0.0, 0.4]) if task == "binary" else ([0, 1], [[0.0, 1.0], [0.5, 0.5]])
    report = bcecli.score(y, x, task=task, compat="lightgbm")
    flag = report.flag("saturated_predictions")
    assert flag is not None
    for cap in ("xgboost 36.84", "lightgbm 34.54", "catboost inf", "optax inf"):
        assert cap in flag.message, flag.message
    assert ("lightgbm-xentropy 27.63" in flag.message) is (task == "binary")


@pytest.mark.parametrize("compat", ["xgboost", "lightgbm", "catboost"])
def test_a_fractional_class_label_is_truncated_as_the_library_casts_it(compat: str) -> None:
    # XGBoost's mlogloss, LightGBM's multi_logloss and CatBoost's MultiClass cast the float
    # label to an int (docs/gbdt-semantics.md: 1.7 is class 1), so 1.7 and 2.2 score as 1 and 2
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    frac = bcecli.score([1.7, 0.0, 2.2], p, task="sparse", compat=compat)
    whole = bcecli.score([1, 0, 2], p, task="sparse", compat=compat)
    assert frac.mean_loss == whole.mean_loss
    expected = -(math.log(0.5) + math.log(0.6) + math.log(0.8)) / 3
    assert math.isclose(frac.mean_loss, expected, rel_tol=2e-6)


@pytest.mark.parametrize("compat", ["exact", "optax", "torch"])
def test_a_fractional_class_label_is_refused_where_the_framework_refuses_it(compat: str) -> None:
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    with pytest.raises(FrameworkRaises, match=r"not integers, first at row 0: 1\.7"):
        bcecli.score([1.7, 0.0], p, task="sparse", compat=compat)
