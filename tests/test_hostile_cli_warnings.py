"""No numpy RuntimeWarning reaches stderr (issue 21, item 18): the corpus of bad files, the sample
files under every profile, and extreme values (inf spellings, huge logits and weights) run with
RuntimeWarning as an error. A warning would surface as "a bug in bce" or a changed exit code."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from tests.conftest import DATA, SAMPLES

CORPUS = DATA / "bad"


def run_strict(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = CliRunner().invoke(cli, args, input=stdin)
    return result.exit_code, result.output


def assert_no_warning(code: int, output: str) -> None:
    assert "RuntimeWarning" not in output and "bug in bce" not in output, output[-2000:]


@pytest.mark.parametrize("sidecar", sorted(CORPUS.glob("*.expect.json")), ids=lambda p: p.name)
def test_the_corpus_raises_no_runtime_warning(
    sidecar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = json.loads(sidecar.read_text())
    name = sidecar.name[: -len(".expect.json")]
    monkeypatch.chdir(CORPUS)
    stdin = (CORPUS / name).read_bytes() if spec.get("stdin") else None
    code, output = run_strict(["score", "-" if stdin else name, *spec["args"]], stdin)
    assert_no_warning(code, output)
    if not spec.get("known_issue"):
        assert code in spec["exit"]


PROFILES = [[], ["--compat", "keras"], ["--compat", "torch"], ["--compat", "sklearn"]]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda a: " ".join(a) or "exact")
@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.csv")), ids=lambda p: p.name)
def test_the_sample_files_raise_no_runtime_warning(sample: Path, profile: list[str]) -> None:
    assert_no_warning(*run_strict(["score", str(sample), *profile, "--format", "json"]))


def _extreme_files(folder: Path) -> list[tuple[str, list[str]]]:
    rng = np.random.default_rng(3)
    n = 40
    y = rng.integers(0, 2, n)
    p = rng.uniform(0.01, 0.99, n)
    out = []

    def write(name: str, preds: object, weights: object, *args: str) -> None:
        path = folder / name
        rows = "".join(f"{a},{b!r},{c!r}\n" for a, b, c in zip(y, preds, weights, strict=True))  # type: ignore[call-overload]
        path.write_text("y_true,y_pred,w\n" + rows)
        out.append((str(path), ["--sample-weight", "w", *args]))

    for name, w in {
        "big": [1e308] * n,
        "mixed": [1e308 if i % 2 else 1.0 for i in range(n)],
        "tiny": [5e-324] + [0.0] * (n - 1),
        "subnormal": [1e-310] * n,
        "zero": [0.0] * n,
    }.items():
        write(f"w_{name}.csv", list(map(float, p)), w)
        write(f"w_{name}_keras.csv", list(map(float, p)), w, "--compat", "keras")
    logits = list(map(float, rng.normal(0, 1e300, n)))
    write("huge_logits.csv", logits, [1.0] * n, "--from-logits")
    write("huge_logits_keras.csv", logits, [1.0] * n, "--from-logits", "--compat", "keras")
    write("huge_as_probs.csv", logits, [1.0] * n)
    spelled = ["Infinity", "-inf", "inf", "NaN"] + list(map(float, p[4:]))
    path = folder / "inf_spellings.csv"
    path.write_text(
        "y_true,y_pred\n" + "".join(f"{a},{b}\n" for a, b in zip(y, spelled, strict=True))
    )
    out.append((str(path), []))
    return out


def test_extreme_values_raise_no_runtime_warning(tmp_path: Path) -> None:
    for path, args in _extreme_files(tmp_path):
        code, output = run_strict(["score", path, *args, "--format", "json"])
        assert_no_warning(code, output)
        assert code in (0, 1), (path, args, output[-500:])
