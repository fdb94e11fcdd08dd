"""How to read a mean cross-entropy: the rule-of-thumb bands and the normalized-entropy scale."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, TypeVar

BANDS_SOURCE = (
    'Jason Brownlee, "A Gentle Introduction to Cross-Entropy for Machine Learning", '
    "Machine Learning Mastery, 21 Oct 2019, section "
    '"Intuition for Cross-Entropy on Predicted Probabilities"'
)
BANDS_URL = "https://machinelearningmastery.com/cross-entropy-for-machine-learning/"
NE_SOURCE = (
    'He et al., "Practical Lessons from Predicting Clicks on Ads at Facebook", ADKDD 2014; '
    "NE = 1 - sklearn.metrics.d2_log_loss_score"
)


# The probability on the true class below which a sample costs more than 1 nat.
INV_E = 1 / math.e
INV_E_TEXT = f"1/e = {INV_E:.3f}"


def true_class_probability(loss: float) -> float:
    """The probability on the true class that costs ``loss`` nats: exp(-loss)."""
    return math.exp(-loss)


@dataclass(frozen=True)
class Band:
    """A range of mean cross-entropy and how to read it: the losses up to ``upper`` (itself
    included when ``closed``) that no band before it takes."""

    id: str
    label: str
    rule: str
    meaning: str
    upper: float
    closed: bool
    ours: bool = False  # the source names no band for 0.20-0.30; this name is bce's


BANDS: tuple[Band, ...] = (
    Band("perfect", "perfect", "= 0.00", "Perfect probabilities.", 0.0, True),
    Band("great", "great", "< 0.02", "Great probabilities.", 0.02, False),
    Band("on_track", "on the right track", "< 0.05", "On the right track.", 0.05, False),
    Band("fine", "fine", "< 0.20", "Fine.", 0.20, False),
    Band(
        "borderline",
        "borderline",
        "0.20 - 0.30",
        "Between 'fine' and 'not great' (the source leaves this range unnamed).",
        0.30,
        True,
        ours=True,
    ),
    Band("not_great", "not great", "> 0.30", "Not great.", 1.00, True),
    Band("terrible", "terrible", "> 1.00", "Terrible.", 2.00, True),
    Band("broken", "something is broken", "> 2.00", "Something is broken.", math.inf, True),
)


class _Step(Protocol):
    @property
    def upper(self) -> float: ...
    @property
    def closed(self) -> bool: ...


S = TypeVar("S", bound=_Step)


def _step_of(value: float, steps: tuple[S, ...]) -> S:
    """The first step whose range holds ``value`` (not NaN; the last step is unbounded)."""
    return next(s for s in steps if value < s.upper or (s.closed and value == s.upper))


def band_for(mean_loss: float) -> Band | None:
    """The rule-of-thumb band of a mean loss in nats (None for NaN)."""
    return None if math.isnan(mean_loss) else _step_of(mean_loss, BANDS)


@dataclass(frozen=True)
class NEStep:
    """A step of the normalized-entropy scale and how to read it: the NE values up to
    ``upper`` (itself included when ``closed``) that no step before it takes."""

    rule: str
    meaning: str
    upper: float
    closed: bool


NE_SCALE: tuple[NEStep, ...] = (
    NEStep("NE = 0", "perfect: every sample's true class gets probability 1", 0.0, True),
    NEStep("NE < 0.5", "the model removes more than half of the label uncertainty", 0.5, False),
    NEStep("NE < 1", "better than always predicting the base rate", 1.0, False),
    NEStep("NE = 1", "no better than always predicting the base rate: nothing learned", 1.0, True),
    NEStep("NE > 1", "worse than the base rate: miscalibrated or inverted", math.inf, True),
)


def ne_meaning(ne: float) -> str:
    if math.isnan(ne):
        return "undefined (a single class: the base rate alone is perfect)"
    return _step_of(ne, NE_SCALE).meaning
