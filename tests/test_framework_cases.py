"""Every measured framework case, through the core and through the CLI.

The expected numbers come from running Keras 3, Keras 2 (tf_keras), PyTorch and scikit-learn
(tests/data/framework_cases.json, copied from the project's reference). float64 profiles must
agree to 1e-9 relative, float32 profiles to float32 rounding, and bce must fail exactly where the
framework raises or lacks the option.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from bcecli.cli import cli
from bcecli.core.chunk import Chunk
from bcecli.core.options import Compat, LossOptions, Task
from bcecli.core.scoring import Scorer
from bcecli.errors import BceError, FrameworkRaises, OptionError
from tests.conftest import framework_cases, number

KIND = {
    "binary": Task.BINARY,
    "multilabel": Task.MULTILABEL,
    "categorical": Task.CATEGORICAL,
    "sparse_categorical": Task.SPARSE,
}
# profile -> reference entry, in the profile's default dtype (Keras and PyTorch: float32)
DEFAULT = {
    Compat.EXACT: "exact",
    Compat.KERAS: "keras_jax_f32",
    Compat.KERAS_TF: "keras_tf_f32",
    Compat.KERAS2: "tf_keras2_f32",
    Compat.TORCH: "torch_f32",
    Compat.SKLEARN: "sklearn",
}
# with --dtype float64 (Keras 3 on TensorFlow is the backend that really computes in float64)
FLOAT64 = {
    Compat.KERAS_TF: "keras_tf",
    Compat.KERAS2: "tf_keras2",
    Compat.TORCH: "torch",
}


def variants() -> list[Any]:
    out = []
    for case in framework_cases():
        for compat, key in DEFAULT.items():
            out.append(pytest.param(case, compat, key, None, id=f"{case['id']}-{compat.value}"))
        for compat, key in FLOAT64.items():
            out.append(
                pytest.param(case, compat, key, "float64", id=f"{case['id']}-{compat.value}-f64")
            )
    return out


def tolerance(compat: Compat, dtype: str | None) -> tuple[float, float]:
    """(rtol, atol): float64 profiles to 1e-9, float32 ones to float32 rounding."""
    if compat in (Compat.EXACT, Compat.SKLEARN) or dtype == "float64":
        return 1e-9, 1e-12
    return 2e-6, 2e-7


def options(case: dict[str, Any], compat: Compat, dtype: str | None) -> LossOptions:
    o = case["options"]
    pw = o["pos_weight"]
    return LossOptions(
        task=KIND[case["kind"]],
        compat=compat,
        from_logits=bool(o["from_logits"]),
        label_smoothing=float(o["label_smoothing"] or 0.0),
        pos_weight=None if pw is None else tuple(float(v) for v in np.atleast_1d(pw)),
        class_weight=None if o["class_weight"] is None else tuple(o["class_weight"]),
        ignore_class=o["ignore_class"],
        dtype=dtype,
    )


def close(got: float, want: float, rtol: float, atol: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= rtol * abs(want) + atol


@pytest.mark.parametrize(("case", "compat", "key", "dtype"), variants())
def test_core_matches_framework(
    case: dict[str, Any], compat: Compat, key: str, dtype: str | None
) -> None:
    ref = case["results"].get(key)
    if ref is None:
        pytest.skip(f"no {key} entry")
    y = np.asarray(case["y_true"], dtype=np.float64).reshape(len(case["y_true"]), -1)
    x = np.asarray(case["y_pred"], dtype=np.float64).reshape(len(case["y_pred"]), -1)
    w = case["options"]["sample_weight"]
    chunk = Chunk(0, y, x, None if w is None else np.asarray(w, dtype=np.float64))
    rtol, atol = tolerance(compat, dtype)
    if "mean" not in ref:
        expected: type[BceError] = OptionError if "unsupported" in ref else FrameworkRaises
        with pytest.raises((OptionError, FrameworkRaises)) as info:
            scorer = Scorer(options(case, compat, dtype), x.shape[1])
            scorer.score(chunk)
            scorer.report()
        assert isinstance(info.value, (expected, FrameworkRaises, OptionError))
        return
    scorer = Scorer(options(case, compat, dtype), x.shape[1])
    scored = scorer.score(chunk)
    report = scorer.report()
    assert close(report.mean_loss, number(ref["mean"]), rtol, atol), (report.mean_loss, ref)
    assert close(report.sum_loss, number(ref["sum"]), rtol, atol), (report.sum_loss, ref)
    want = [number(v) for v in ref["per_sample"]]
    for got_v, want_v in zip(scored.loss.tolist(), want, strict=True):
        assert close(got_v, want_v, rtol, atol), (scored.loss, want)
    metric = ref.get("mean_metric")
    if isinstance(metric, float) and report.mean_metric is not None:
        assert close(report.mean_metric, metric, rtol, atol)


# ----------------------------------------------------------------------------------------------
# the same cases through the command line


def write_case(case: dict[str, Any], folder: Path) -> tuple[Path, list[str]]:
    """The case as a CSV file, and the arguments that select its columns and options."""
    kind = case["kind"]
    y = np.asarray(case["y_true"], dtype=np.float64)
    x = np.asarray(case["y_pred"], dtype=np.float64).reshape(len(case["y_pred"]), -1)
    k = x.shape[1]
    o = case["options"]
    if kind in ("binary", "sparse_categorical"):
        label_names = ["label"]
        y = y.reshape(-1, 1)
    else:
        label_names = [f"y_true_{i}" for i in range(k)]
    pred_names = ["pred"] if kind == "binary" else [f"prob_{i}" for i in range(k)]
    header = label_names + pred_names
    columns = [y[:, j] for j in range(y.shape[1])] + [x[:, j] for j in range(k)]
    if o["sample_weight"] is not None:
        header.append("w")
        columns.append(np.asarray(o["sample_weight"], dtype=np.float64))
    path = folder / f"{case['id']}.csv"
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in zip(*columns, strict=True):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    args = [
        str(path), "--task", KIND[kind].value,
        "--label-col", ",".join(label_names), "--pred-col", ",".join(pred_names),
    ]  # fmt: skip
    if o["sample_weight"] is not None:
        args += ["--sample-weight", "w"]
    if o["from_logits"]:
        args.append("--from-logits")
    if o["label_smoothing"]:
        args += ["--label-smoothing", repr(o["label_smoothing"])]
    if o["pos_weight"] is not None:
        args += ["--pos-weight", ",".join(repr(float(v)) for v in np.atleast_1d(o["pos_weight"]))]
    if o["class_weight"] is not None:
        args += ["--class-weight", ",".join(repr(float(v)) for v in o["class_weight"])]
    if o["ignore_class"] is not None:
        args += ["--ignore-class", str(o["ignore_class"])]
    return path, args


def run_case(case: dict[str, Any], compat: Compat, dtype: str | None, folder: Path) -> Result:
    """bce score on the case under a profile: JSON with the per-sample losses, no gate."""
    _, args = write_case(case, folder)
    args += ["--compat", compat.value, "--format", "json", "--reduction", "none"]
    args += ["--fail-on", "never"]
    if dtype:
        args += ["--dtype", dtype]
    result = CliRunner().invoke(cli, ["score", *args])
    assert "Traceback" not in result.output
    return result


def assert_one_error_line(result: Result) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


@pytest.mark.parametrize(("case", "compat", "key", "dtype"), variants())
def test_cli_matches_framework(
    case: dict[str, Any], compat: Compat, key: str, dtype: str | None, tmp_path: Path
) -> None:
    ref = case["results"].get(key)
    if ref is None:
        pytest.skip(f"no {key} entry")
    result = run_case(case, compat, dtype, tmp_path)
    if "mean" not in ref:
        # the framework raises (exit 3) or has no such option (exit 2): one Error line
        assert result.exit_code in (2, 3), result.output
        assert_one_error_line(result)
        return
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rtol, atol = tolerance(compat, dtype)
    assert close(number(data["mean_loss"]), number(ref["mean"]), rtol, atol), data["mean_loss"]
    assert close(number(data["sum_loss"]), number(ref["sum"]), rtol, atol), data["sum_loss"]
    got = [number(v) for v in data["losses"]]
    want = [number(v) for v in ref["per_sample"]]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert close(g, w, rtol, atol), (got, want)
