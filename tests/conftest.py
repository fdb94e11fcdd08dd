"""Shared fixtures: a CLI runner, the framework reference cases and the sample files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "sample_data"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@cache
def framework_cases() -> list[dict[str, Any]]:
    """The measured Keras / PyTorch / scikit-learn cases (copied from the shared reference)."""
    with open(DATA / "framework_cases.json") as f:
        return list(json.load(f)["cases"])


def number(v: Any) -> float:
    """A reference number ('inf', '-inf', 'nan' are strings in the JSON)."""
    return float(v)
