"""Sample weights far from 1, scaled by a power of two so that their sums neither overflow nor
underflow (issue 21: weights of 1e308 gave a mean of 0, a single weight of 5e-324 gave 0).

The scale is ``2 ** LossOptions.weight_scale``, chosen before any sum from the first row's weight
(``scale_for``): it is known to every engine before scoring (each reads the first chunk first), so
the summary's determinism rule holds (``bcecli.core.summary``). Multiplying by a power of two is
exact while the result stays a normal float, so every weighted sum is the unscaled one times the
same power of two: a weighted mean (a ratio of two of them) is unchanged to the bit, and a sum or
a mean divided by N is unscaled once at the end (``unscale``). A weight near 1 gives scale 0: the
common file is not touched.

Weights still too large once scaled (beyond 2**900 times the first row's: weights spanning more
than float64 can sum) are rows of the error flag ``weights_out_of_range``: their sums overflow,
and the report says so instead of a wrong mean.
"""

from __future__ import annotations

import math

import numpy as np

# A first weight within 2**±EXTREME of 1 is left as it is (scale 0).
EXTREME = 400
# A scaled weight is in range below 2**SAFE: a sum of 2**60 rows of it times a loss of up to
# 2**20 stays finite.
SAFE = 900


def scale_for(first_weight: float) -> int:
    """The power of two the weights are multiplied by: 0 unless ``first_weight`` is nonzero,
    finite and beyond 2**±EXTREME, else the one that brings it into [0.5, 1)."""
    if first_weight == 0 or not math.isfinite(first_weight):
        return 0
    exponent = math.frexp(abs(first_weight))[1]
    return -exponent if abs(exponent) > EXTREME else 0


def scaled(w: np.ndarray | None, scale: int) -> np.ndarray | None:
    """The weights times ``2 ** scale`` (the array itself for scale 0)."""
    if w is None or scale == 0:
        return w
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(w, scale)


def unscale(value: float, scale: int) -> float:
    """A sum of scaled weights (or of weighted values) back in the weights' own units (inf or 0
    where the true value is beyond float64)."""
    if scale == 0 or not math.isfinite(value) or value == 0:
        return value
    try:
        return math.ldexp(value, -scale)
    except OverflowError:
        return math.copysign(math.inf, value)


def unscale_array(values: np.ndarray, scale: int) -> np.ndarray:
    if scale == 0:
        return values
    with np.errstate(over="ignore", under="ignore"):
        return np.asarray(np.ldexp(values, -scale))


def out_of_range(w: np.ndarray) -> np.ndarray | None:
    """Rows whose (scaled) weight is beyond 2**SAFE in size (None: there are none). A weight
    far below the first needs no flag: it may lose its digits, but what it adds is negligible
    beside the first row's share (below 2**-SAFE of it)."""
    if not len(w) or max(float(w.max()), -float(w.min())) <= 2.0**SAFE:
        return None
    return np.asarray(np.abs(w) > 2.0**SAFE)
