"""The distributions a paired comparison needs, without scipy: the normal CDF and quantile,
Student's t tail, and the exact binomial tail of McNemar's test.

Student's t and the binomial tail are both the regularized incomplete beta function I_x(a, b),
evaluated by its continued fraction (modified Lentz), as in Numerical Recipes §6.4. The fraction
is summed on the side of x where it converges fast, and the side asked for (a tail, not 1 minus
it) is computed directly, so tiny p-values keep their precision. Plain floats in and out.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_TINY = 1e-300
_EPS = 1e-15


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    if math.isnan(z):
        return math.nan
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(q: float) -> float:
    """The standard normal's q-quantile, 0 < q < 1."""
    return NormalDist().inv_cdf(q)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), for x < (a + 1) / (a + b + 2)."""
    # It needs about sqrt(max(a, b)) terms near the mean: allow that many, and more.
    max_terms = 1000 + int(20 * math.sqrt(max(a, b)))
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, max_terms + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta I_{x}({a}, {b}): no convergence in {max_terms} terms")


def _stirling_tail(x: float) -> float:
    """lgamma(x) - [(x - 1/2) log x - x + log(2 pi) / 2], for x >= 10 (to 1e-17)."""
    x2 = x * x
    return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - 1.0 / (1680 * x2)) / x2) / x2) / x


def _log_beta(a: float, b: float) -> float:
    """log B(a, b). With one argument large, lgamma(a + b) - lgamma(a) cancels most of its
    digits (1e-8 relative at a = 5e6): Stirling's series gives the difference directly."""
    big, small = max(a, b), min(a, b)
    if big < 10.0 or small > 1.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    # lgamma(big + small) - lgamma(big)
    diff = (
        (big - 0.5) * math.log1p(small / big)
        + small * math.log(big + small)
        - small
        + _stirling_tail(big + small)
        - _stirling_tail(big)
    )
    return math.lgamma(small) - diff


def _log_front(a: float, b: float, log_x: float, log_y: float) -> float:
    """log of x^a y^b / (a B(a, b)), y = 1 - x (their logs given: they may be known more
    exactly than log(x) of a rounded x)."""
    return a * log_x + b * log_y - _log_beta(a, b) - math.log(a)


def _beta_tails(a: float, b: float, x: float) -> tuple[float, float]:
    """(I_x(a, b), 1 - I_x(a, b)), the smaller one computed directly."""
    if not (a > 0 and b > 0) or not 0.0 <= x <= 1.0:
        raise ValueError(f"I_{x}({a}, {b}): needs a, b > 0 and x in [0, 1]")
    if x == 0.0 or x == 1.0:
        return x, 1.0 - x
    log_x, log_y = math.log(x), math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        lower = math.exp(_log_front(a, b, log_x, log_y)) * _beta_fraction(a, b, x)
        return lower, 1.0 - lower
    upper = math.exp(_log_front(b, a, log_y, log_x)) * _beta_fraction(b, a, 1.0 - x)
    return 1.0 - upper, upper


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0, 0 <= x <= 1."""
    return _beta_tails(a, b, x)[0]


def betainc_upper(a: float, b: float, x: float) -> float:
    """1 - I_x(a, b), computed directly where it is small."""
    return _beta_tails(a, b, x)[1]


def t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (df > 0):
    I_{df / (df + t^2)}(df / 2, 1 / 2)."""
    if math.isnan(t) or not df > 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    if t == 0.0:
        return 1.0
    # df / (df + t^2) loses t's digits when t^2 << df: take 1 - x = t^2 / (df + t^2) too
    t2 = t * t
    x, one_minus_x = df / (df + t2), t2 / (df + t2)
    log_x, log_y = -math.log1p(t2 / df), math.log(t2) - math.log(df + t2)
    a, b = df / 2.0, 0.5
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(_log_front(a, b, log_x, log_y)) * _beta_fraction(a, b, x))
    front = math.exp(_log_front(b, a, log_y, log_x))
    return min(1.0, max(0.0, 1.0 - front * _beta_fraction(b, a, one_minus_x)))


def binomial_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2): I_{1/2}(n - k, k + 1)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return betainc(float(n - k), float(k + 1), 0.5)


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact test: the two-sided binomial test of b successes in b + c trials at
    p = 1/2 (the discordant pairs), as ``scipy.stats.binomtest(b, b + c).pvalue``."""
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf_half(min(b, c), n))
