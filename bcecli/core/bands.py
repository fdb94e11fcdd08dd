"""How to read a mean cross-entropy: the rule-of-thumb bands and the normalized-entropy scale."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Band:
    """A range of mean cross-entropy and how to read it."""

    id: str
    label: str
    rule: str
    meaning: str
    ours: bool = False  # the source names no band for 0.20-0.30; this name is bce's


BANDS: tuple[Band, ...] = (
    Band("perfect", "perfect", "= 0.00", "Perfect probabilities."),
    Band("great", "great", "< 0.02", "Great probabilities."),
    Band("on_track", "on the right track", "< 0.05", "On the right track."),
    Band("fine", "fine", "< 0.20", "Fine."),
    Band(
        "borderline",
        "borderline",
        "0.20 - 0.30",
        "Between 'fine' and 'not great' (the source leaves this range unnamed).",
        ours=True,
    ),
    Band("not_great", "not great", "> 0.30", "Not great."),
    Band("terrible", "terrible", "> 1.00", "Terrible."),
    Band("broken", "something is broken", "> 2.00", "Something is broken."),
)
_BY_ID = {b.id: b for b in BANDS}


def band_for(mean_loss: float) -> Band | None:
    """The rule-of-thumb band of a mean loss in nats (None for NaN)."""
    if math.isnan(mean_loss):
        return None
    if mean_loss <= 0.0:
        return _BY_ID["perfect"]
    for limit, band_id in ((0.02, "great"), (0.05, "on_track"), (0.20, "fine")):
        if mean_loss < limit:
            return _BY_ID[band_id]
    if mean_loss <= 0.30:
        return _BY_ID["borderline"]
    if mean_loss <= 1.00:
        return _BY_ID["not_great"]
    if mean_loss <= 2.00:
        return _BY_ID["terrible"]
    return _BY_ID["broken"]


@dataclass(frozen=True)
class NEStep:
    """A step of the normalized-entropy scale and how to read it."""

    rule: str
    meaning: str


NE_SCALE: tuple[NEStep, ...] = (
    NEStep("NE = 0", "perfect: every sample's true class gets probability 1"),
    NEStep("NE < 0.5", "the model removes more than half of the label uncertainty"),
    NEStep("NE < 1", "better than always predicting the base rate"),
    NEStep("NE = 1", "no better than always predicting the base rate: nothing learned"),
    NEStep("NE > 1", "worse than the base rate: miscalibrated or inverted"),
)


def ne_meaning(ne: float) -> str:
    if math.isnan(ne):
        return "undefined (a single class: the base rate alone is perfect)"
    if ne <= 0:
        return NE_SCALE[0].meaning
    if ne < 0.5:
        return NE_SCALE[1].meaning
    if ne < 1:
        return NE_SCALE[2].meaning
    if ne == 1:
        return NE_SCALE[3].meaning
    return NE_SCALE[4].meaning


def true_class_probability(loss: float) -> float:
    """The probability on the true class that costs ``loss`` nats: exp(-loss)."""
    return math.exp(-loss)
