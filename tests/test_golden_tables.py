"""Golden tables: the terminal report of every sample file as exact text at 80 and 120 columns.

The JSON goldens (tests/test_golden.py) lock the numbers; these lock what a person reads: the
layout, the wrapping, what the default screen keeps and what --brief and --verbose show. Lines
are compared without their trailing spaces (rich pads a table's cells). A change to the layout
is made on purpose: regenerate with ``python -m tests.test_golden_tables --update`` and read the
diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bcecli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden_tables"
SAMPLES = "sample_data"
WIDTHS = (80, 120)

SCORED = (
    "double_softmax.csv",
    "healthy_binary.csv",
    "imbalanced_binary.csv",
    "logits_as_probs.csv",
    "multilabel_soft.csv",
    "onehot_3class.csv",
    "pandas_export.csv",
    "seed.csv",
    "single_unit_softmax.csv",
    "softmax_10class.csv",
    "untrained_10class.csv",
    "untrained_binary.csv",
)
INIT = (
    "untrained_10class.csv",
    "untrained_binary.csv",
    "untrained_large_init.csv",
    "untrained_prior_bias.csv",
)


def _cases() -> dict[str, list[str]]:
    cases: dict[str, list[str]] = {}
    for name in SCORED:
        cases[f"score.{name}"] = ["score", f"{SAMPLES}/{name}"]
    cases["score.npy_pair"] = ["score", f"{SAMPLES}/preds.npy", "--labels", f"{SAMPLES}/labels.npy"]
    cases["score.partitioned"] = ["score", f"{SAMPLES}/partitioned/"]
    for name in ("healthy_binary.csv", "single_unit_softmax.csv", "multilabel_soft.csv"):
        cases[f"score.{name}.verbose"] = ["score", f"{SAMPLES}/{name}", "--verbose"]
        cases[f"score.{name}.brief"] = ["score", f"{SAMPLES}/{name}", "--brief"]
    for name in INIT:
        cases[f"check-init.{name}"] = ["check-init", f"{SAMPLES}/{name}"]
    cases["check-init.untrained_10class.csv.verbose"] = [
        "check-init",
        f"{SAMPLES}/untrained_10class.csv",
        "--verbose",
    ]
    return cases


CASES = _cases()


def render(args: list[str], width: int) -> str:
    """stdout of the command as a table at ``width`` columns, without colour, lines stripped
    of trailing spaces."""
    result = CliRunner().invoke(
        cli,
        [*args, "--format", "table"],
        env={"COLUMNS": str(width), "NO_COLOR": "1", "LINES": "50"},
        catch_exceptions=False,
    )
    return "".join(line.rstrip() + "\n" for line in result.stdout.splitlines())


def golden_path(name: str, width: int) -> Path:
    return GOLDEN / f"{name}.{width}.txt"


@pytest.fixture(autouse=True)
def _from_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the file names in the header are relative, as a user types them


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_table(name: str, width: int) -> None:
    want = golden_path(name, width).read_text()
    got = render(CASES[name], width)
    assert got == want, f"{name} at {width} columns changed (python -m tests.test_golden_tables " \
        f"--update):\n{got}"  # fmt: skip


def test_every_golden_table_is_a_case() -> None:
    want = {golden_path(n, w).name for n in CASES for w in WIDTHS}
    assert {p.name for p in GOLDEN.glob("*.txt")} == want


def _update() -> None:
    import os

    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.txt"):
        old.unlink()
    for name, args in sorted(CASES.items()):
        for width in WIDTHS:
            golden_path(name, width).write_text(render(args, width))
    print(f"wrote {len(CASES) * len(WIDTHS)} golden tables to {GOLDEN.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python -m tests.test_golden_tables --update")
    _update()
