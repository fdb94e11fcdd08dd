"""Golden outputs: behaviour locked while the code moves.

Every file in ``sample_data/`` under every ``--compat``, the partitioned dataset, the NPY pair and
per-sample output, run through the CLI and compared with the JSON committed in
``tests/golden/``. A change to any of them must be made on purpose, in its own commit that says
why: regenerate with ``python -m tests.test_golden --update`` and review the diff.

Floats compare to 1e-12 relative (the determinism rule: sums of the same rows in another order
may differ in the last bits); everything else (counts, rows, flags, messages, exit codes)
compares exactly.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bcecli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLES = "sample_data"
COMPATS = ("exact", "keras", "keras-tf", "keras2", "torch", "sklearn")
REL_TOL = 1e-12

SINGLE_FILES = (
    "double_softmax.csv",
    "healthy_binary.csv",
    "imbalanced_binary.csv",
    "logits_as_probs.csv",
    "multilabel_soft.csv",
    "one_indexed_labels.csv",
    "onehot_3class.csv",
    "seed.csv",
    "single_unit_softmax.csv",
    "softmax_10class.csv",
)


def _cases() -> dict[str, list[str]]:
    cases: dict[str, list[str]] = {}
    for name in SINGLE_FILES:
        for compat in COMPATS:
            cases[f"{name}.{compat}"] = [f"{SAMPLES}/{name}", "--compat", compat]
    for compat in COMPATS:
        cases[f"npy_pair.{compat}"] = [
            f"{SAMPLES}/preds.npy",
            "--labels",
            f"{SAMPLES}/labels.npy",
            "--compat",
            compat,
        ]
        cases[f"partitioned.{compat}"] = [f"{SAMPLES}/partitioned/", "--compat", compat]
    cases["mismatch.exact"] = [
        f"{SAMPLES}/mismatch_preds.csv",
        "--labels",
        f"{SAMPLES}/mismatch_labels.csv",
    ]
    cases["healthy_binary.per_sample"] = [
        f"{SAMPLES}/healthy_binary.csv",
        "--per-sample",
        "--format",
        "jsonl",
    ]
    cases["softmax_10class.per_sample"] = [
        f"{SAMPLES}/softmax_10class.csv",
        "--per-sample",
        "--format",
        "jsonl",
    ]
    cases["multilabel_soft.per_sample"] = [
        f"{SAMPLES}/multilabel_soft.csv",
        "--per-sample",
        "--format",
        "jsonl",
    ]
    cases["npy_pair.per_sample.keras"] = [
        f"{SAMPLES}/preds.npy",
        "--labels",
        f"{SAMPLES}/labels.npy",
        "--compat",
        "keras",
        "--per-sample",
        "--format",
        "jsonl",
    ]
    cases["healthy_binary.reduction_none"] = [
        f"{SAMPLES}/healthy_binary.csv",
        "--reduction",
        "none",
    ]
    return cases


CASES = _cases()


def run_case(args: list[str]) -> dict[str, Any]:
    """The case's exit code, its stdout parsed (JSON or JSON lines) and its stderr lines."""
    per_sample = "--per-sample" in args
    argv = ["score", *args] if per_sample else ["score", *args, "--format", "json"]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    out: Any
    if per_sample:
        out = [json.loads(line) for line in result.stdout.splitlines() if line]
    else:
        out = json.loads(result.stdout) if result.stdout.strip() else None
    return {"exit": result.exit_code, "stdout": out, "stderr": result.stderr.splitlines()}


def differences(want: Any, got: Any, where: str = "") -> list[str]:
    """Where two decoded outputs differ (floats within REL_TOL count as equal)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{where}.{k}: missing" for k in want if k not in got]
        out += [f"{where}.{k}: new" for k in got if k not in want]
        for k in want:
            if k in got:
                out += differences(want[k], got[k], f"{where}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{where}: length {len(want)} -> {len(got)}"]
        out = []
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            out += differences(a, b, f"{where}[{i}]")
        return out
    is_float = isinstance(want, float) and isinstance(got, float)
    if is_float and math.isclose(want, got, rel_tol=REL_TOL, abs_tol=1e-300):
        return []
    if want != got or type(want) is not type(got):
        return [f"{where}: {want!r} -> {got!r}"]
    return []


@pytest.fixture(autouse=True)
def _from_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # paths in the goldens are relative to the repository, as a user at its root types them
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    path = GOLDEN / f"{name}.json"
    want = json.loads(path.read_text())
    got = run_case(CASES[name])
    diff = differences(want, got)
    assert not diff, f"{name} changed (python -m tests.test_golden --update):\n" + "\n".join(
        diff[:30]
    )


def test_every_golden_file_is_a_case() -> None:
    assert {p.name[: -len(".json")] for p in GOLDEN.glob("*.json")} == set(CASES)


def _update() -> None:
    import os

    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.json"):
        old.unlink()
    for name, args in sorted(CASES.items()):
        got = run_case(args)
        (GOLDEN / f"{name}.json").write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(CASES)} golden files to {GOLDEN.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python -m tests.test_golden --update")
    _update()
