"""The bands and the NE scale at and around every boundary the source states."""

from __future__ import annotations

import math

import pytest

from bcecli.core.bands import BANDS, NE_SCALE, band_for, ne_meaning

# Brownlee's scale: = 0.00 perfect, < 0.02 great, < 0.05 on the right track, < 0.20 fine,
# > 0.30 not great, > 1.00 terrible, > 2.00 broken; 0.20 - 0.30 is bce's "borderline".
CASES = [
    (-1e-17, "perfect"),
    (0.0, "perfect"),
    (1e-12, "great"),
    (0.0199, "great"),
    (0.02, "on_track"),
    (0.0499, "on_track"),
    (0.05, "fine"),
    (0.1999, "fine"),
    (0.20, "borderline"),
    (0.30, "borderline"),
    (0.3001, "not_great"),
    (1.0, "not_great"),
    (1.0001, "terrible"),
    (2.0, "terrible"),
    (2.0001, "broken"),
    (math.inf, "broken"),
]


@pytest.mark.parametrize(("loss", "band_id"), CASES)
def test_band_at_the_boundaries(loss: float, band_id: str) -> None:
    band = band_for(loss)
    assert band is not None and band.id == band_id


def test_every_band_is_reached_and_nan_has_none() -> None:
    assert {b for _, b in CASES} == {b.id for b in BANDS}
    assert band_for(math.nan) is None


@pytest.mark.parametrize(
    ("ne", "rule"),
    [
        (-0.1, "NE = 0"),
        (0.0, "NE = 0"),
        (0.25, "NE < 0.5"),
        (0.5, "NE < 1"),
        (0.999, "NE < 1"),
        (1.0, "NE = 1"),
        (1.001, "NE > 1"),
        (math.inf, "NE > 1"),
    ],
)
def test_ne_scale_at_the_boundaries(ne: float, rule: str) -> None:
    assert ne_meaning(ne) == next(s.meaning for s in NE_SCALE if s.rule == rule)


def test_ne_undefined() -> None:
    assert ne_meaning(math.nan).startswith("undefined")
