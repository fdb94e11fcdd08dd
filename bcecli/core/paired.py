"""Paired statistics of two models scored on the same rows, streamed and mergeable.

Each row i has a loss difference d_i = loss_B - loss_A and a weight w_i (1 unless the profile
divides its mean by the sum of the sample weights). The mean difference is the weighted mean
m = sum w d / sum w, which is B's mean loss minus A's over the rows both scored. Its standard
error is the linearised (sandwich) one,

    se^2 = n / (n - 1) * sum w^2 (d - m)^2 / (sum w)^2,

which is s / sqrt(n), the paired t-test's, when every weight is 1. The sums are kept centred on
each part's own mean and shifted when parts merge (Chan et al.), so a difference that is small
beside the losses keeps its digits. The same moments are kept per group (true class).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from bcecli.core.stats import mcnemar_exact, normal_quantile, normal_two_sided, t_two_sided


@dataclass
class Moments:
    """Centred weighted moments of d for ``groups`` groups (one: the whole file)."""

    groups: int = 1
    n: np.ndarray = field(init=False)  # rows
    w: np.ndarray = field(init=False)  # sum w
    w2: np.ndarray = field(init=False)  # sum w^2
    mean: np.ndarray = field(init=False)  # sum w d / sum w
    r: np.ndarray = field(init=False)  # sum w^2 (d - mean)
    s: np.ndarray = field(init=False)  # sum w^2 (d - mean)^2

    def __post_init__(self) -> None:
        g = self.groups
        self.n = np.zeros(g, dtype=np.int64)
        self.w, self.w2, self.mean, self.r, self.s = (np.zeros(g) for _ in range(5))

    @classmethod
    def of(cls, d: np.ndarray, w: np.ndarray, group: np.ndarray | None, groups: int) -> Moments:
        out = cls(groups)
        if group is None:  # one group: plain sums (a bincount over zeros costs twice as much)
            w2 = w * w
            out.n[0], out.w[0], out.w2[0] = len(d), w.sum(), w2.sum()
            out.mean[0] = float(np.dot(w, d)) / out.w[0] if out.w[0] > 0 else 0.0
            c = d - out.mean[0]
            w2c = w2 * c
            out.r[0], out.s[0] = w2c.sum(), float(np.dot(w2c, c))
            return out
        g = group
        out.n = np.bincount(g, minlength=groups).astype(np.int64)
        out.w = np.bincount(g, w, minlength=groups)
        w2 = w * w
        out.w2 = np.bincount(g, w2, minlength=groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.mean = np.where(out.w > 0, np.bincount(g, w * d, minlength=groups) / out.w, 0.0)
        c = d - out.mean[g]
        out.r = np.bincount(g, w2 * c, minlength=groups)
        out.s = np.bincount(g, w2 * c * c, minlength=groups)
        return out

    def merge(self, other: Moments) -> None:
        w = self.w + other.w
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(w > 0, (self.w * self.mean + other.w * other.mean) / w, 0.0)
        r, s = np.zeros(self.groups), np.zeros(self.groups)
        for part in (self, other):
            shift = part.mean - mean  # sum w^2 (d - mean)^k from the sums about part.mean
            s += part.s + 2 * shift * part.r + shift * shift * part.w2
            r += part.r + shift * part.w2
        self.n = self.n + other.n
        self.w, self.w2, self.mean, self.r, self.s = w, self.w2 + other.w2, mean, r, s

    def std_error(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            n = self.n.astype(np.float64)
            var = np.where(n > 1, n / (n - 1) * self.s / (self.w * self.w), np.nan)
        return np.sqrt(np.maximum(var, 0.0))

    def df(self) -> np.ndarray:
        """The t-test's degrees of freedom: n - 1, or Kish's effective n - 1 with weights."""
        with np.errstate(invalid="ignore", divide="ignore"):
            n_eff = np.where(self.w2 > 0, self.w * self.w / self.w2, 0.0)
        return np.where(self.n == 0, 0.0, np.minimum(n_eff, self.n.astype(np.float64)) - 1)


@dataclass
class PairedTally:
    """Everything a comparison needs from the rows, merged part by part."""

    groups: int = 1
    overall: Moments = field(init=False)
    by_group: Moments = field(init=False)
    improved: int = 0  # d < 0: B's loss is lower
    worse: int = 0
    tied: int = 0
    a_only: int = 0  # elements (rows x outputs) A got right and B wrong
    b_only: int = 0
    both_right: int = 0
    both_wrong: int = 0

    def __post_init__(self) -> None:
        self.overall = Moments(1)
        self.by_group = Moments(self.groups)

    def add(
        self,
        d: np.ndarray,
        w: np.ndarray,
        group: np.ndarray | None,
        right_a: np.ndarray,
        right_b: np.ndarray,
    ) -> None:
        """Rows both models scored: their differences ``d``, weights ``w``, groups (0 ..
        groups - 1, or -1 for none), and the elements each got right (bool, (n,) or (n, K))."""
        self.overall.merge(Moments.of(d, w, None, 1))
        if group is not None:
            keep = group >= 0
            self.by_group.merge(Moments.of(d[keep], w[keep], group[keep], self.groups))
        self.improved += int(np.count_nonzero(d < 0))
        self.worse += int(np.count_nonzero(d > 0))
        self.tied += int(np.count_nonzero(d == 0))
        self.a_only += int(np.count_nonzero(right_a & ~right_b))
        self.b_only += int(np.count_nonzero(right_b & ~right_a))
        self.both_right += int(np.count_nonzero(right_a & right_b))
        self.both_wrong += int(np.count_nonzero(~right_a & ~right_b))

    def merge(self, other: PairedTally) -> None:
        self.overall.merge(other.overall)
        self.by_group.merge(other.by_group)
        for name in ("improved", "worse", "tied", "a_only", "b_only", "both_right", "both_wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def n(self) -> int:
        return int(self.overall.n[0])


@dataclass(frozen=True)
class MeanTest:
    """The mean difference, its normal-approximation interval and a two-sided test of zero."""

    diff: float
    std_error: float
    ci: tuple[float, float]
    statistic: float
    p_value: float
    df: float | None  # None: a normal reference distribution


def mean_test(
    mean: float, se: float, df: float | None, level: float, *, zero_spread_ok: bool = True
) -> MeanTest:
    """``mean`` with its interval mean +- z se (the normal approximation: say so), and the
    p-value of t = mean / se against Student's t (df) or the normal (df None)."""
    z = normal_quantile(0.5 + level / 2)
    if not math.isfinite(se):
        return MeanTest(mean, se, (math.nan, math.nan), math.nan, math.nan, df)
    if se == 0.0:
        # every difference the same: zero is no difference (p = 1); any other value is certain
        p = 1.0 if mean == 0.0 else 0.0
        stat = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        return MeanTest(mean, se, (mean, mean), stat, p, df)
    stat = mean / se
    p = normal_two_sided(stat) if df is None else t_two_sided(stat, df)
    return MeanTest(mean, se, (mean - z * se, mean + z * se), stat, p, df)


def mcnemar(t: PairedTally) -> float:
    """McNemar's exact p-value on the discordant elements."""
    return mcnemar_exact(t.a_only, t.b_only)


# --------------------------------------------------------------------------------------------
# Diebold-Mariano: a time series of differences, its long-run variance


def newey_west_lag(n: int) -> int:
    """Newey and West's (1994) rule: floor(4 (n / 100)^(2/9))."""
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0))) if n > 0 else 0


def autocovariances(blocks: Iterable[np.ndarray], mean: float, lag: int) -> tuple[np.ndarray, int]:
    """gamma_k = (1/n) sum_t (d_t - mean)(d_{t-k} - mean) for k = 0 .. lag, streamed block by
    block with the last ``lag`` centred values carried over; and n."""
    sums = np.zeros(lag + 1)
    carry = np.zeros(0)
    n = 0
    for block in blocks:
        e = np.asarray(block, dtype=np.float64) - mean
        if not len(e):
            continue
        ext = np.concatenate([carry, e])
        m, c = len(e), len(carry)
        for k in range(lag + 1):
            # products e_t e_{t-k} for the t of this block whose t - k is in ext
            lo = max(c, k)
            if lo < len(ext):
                sums[k] += float(np.dot(ext[lo:], ext[lo - k : len(ext) - k]))
        n += m
        carry = ext[-lag:] if lag else np.zeros(0)
    return (sums / n if n else sums), n


def long_run_variance(gammas: np.ndarray) -> float:
    """Newey-West: gamma_0 + 2 sum_k (1 - k / (L + 1)) gamma_k (Bartlett weights: never
    negative)."""
    lag = len(gammas) - 1
    k = np.arange(1, lag + 1)
    return float(gammas[0] + 2 * np.sum((1 - k / (lag + 1)) * gammas[1:]))
