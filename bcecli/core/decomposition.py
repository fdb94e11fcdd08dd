"""Why the loss is what it is: the CORP decomposition and the recalibration ladder.

With r the isotonic (pool-adjacent-violators) recalibration of the scores, the mean log loss
splits as S = MCB - DSC + UNC (Dimitriadis, Gneiting & Jordan, PNAS 2021, "CORP"):

* UNC, uncertainty: the loss of the constant base-rate prediction;
* DSC = UNC - S(r), discrimination: what the best monotone reading of the scores gains on it;
* MCB = S - S(r), miscalibration: what that recalibration would remove.

The ladder refits the logit z of each score, in sample, and gives the loss after each fit:
a bias shift only (z + b), temperature scaling (z / T; T > 1 means the scores were
over-confident), Platt scaling (a z + b) and the isotonic recalibration (= S - MCB). The fits
are Newton's method on the score table (one or two parameters, a line search keeping every step
downhill); scores at logit +-inf stay there under any positive scale.

On a binned table, the isotonic fit is constant within each bin, so S(r) can only be a little
above the exact S(r); each fit's loss is S plus the change the fit makes to the binned loss, so
that a fit never reports a loss above S. ``method`` and ``resolution`` say which table answered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bcecli.core.ranking import Ranking, ranking
from bcecli.core.score_summary import ScoreSummaries, ScoreSummary, ScoreTable, dot

MAX_NEWTON = 100
# the fits take the exact table up to this many distinct scores, else the bins
FIT_GROUPS = 1 << 16
# Newton stops when its decrement says the mean loss is within this of the optimum.
LOSS_TOLERANCE = 1e-13
_FIT_LOGIT = 1e150
# PAV: vectorised rounds while each removes at least this share of the blocks, then a loop.
_ROUND_GAIN = 0.1


@dataclass(frozen=True)
class Decomposition:
    """S = miscalibration - discrimination + uncertainty (``mean_loss`` is S). ``method``:
    "isotonic (exact)" or "isotonic (binned)"; ``resolution``: the bins' width in logit (0 when
    exact)."""

    mean_loss: float
    miscalibration: float
    discrimination: float
    uncertainty: float
    method: str
    resolution: float
    isotonic_loss: float  # S(r) = S - MCB, finite where S is not


@dataclass(frozen=True)
class Isotonic:
    """The PAV recalibration as blocks of consecutive table groups: block i covers groups
    ``start[i]`` .. ``start[i + 1] - 1`` and recalibrates them to ``rate[i]``, with weight
    ``weight[i]``; ``loss`` is the mean log loss of the recalibrated scores."""

    start: np.ndarray
    rate: np.ndarray
    weight: np.ndarray
    loss: float


@dataclass(frozen=True)
class BiasFit:
    loss: float
    b: float


@dataclass(frozen=True)
class TemperatureFit:
    """z / T; ``T`` is inf when the best scale is 0 and negative when the scores rank
    backwards."""

    loss: float
    T: float


@dataclass(frozen=True)
class PlattFit:
    loss: float
    a: float
    b: float


@dataclass(frozen=True)
class Recalibration:
    bias: BiasFit
    temperature: TemperatureFit
    platt: PlattFit
    isotonic_loss: float


def _entropy_terms(part: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``part * log(part / total)``, 0 where ``part`` is 0."""
    safe = np.where(part > 0, part, 1.0)
    return np.where(part > 0, part * np.log(safe / np.where(total > 0, total, 1.0)), 0.0)


def _pav_loop(
    pos: list[float], neg: list[float], start: list[int]
) -> tuple[list[float], list[float], list[int]]:
    """Pool adjacent violators, one block at a time (for what the rounds leave)."""
    sp: list[float] = []
    sn: list[float] = []
    st: list[int] = []
    for p, q, s in zip(pos, neg, start, strict=True):
        sp.append(p)
        sn.append(q)
        st.append(s)
        # merge while the previous block's rate is at least this one's: p1/w1 >= p2/w2
        while len(sp) > 1 and sp[-2] * (sp[-1] + sn[-1]) >= sp[-1] * (sp[-2] + sn[-2]):
            p2, q2 = sp.pop(), sn.pop()
            st.pop()
            sp[-1] += p2
            sn[-1] += q2
    return sp, sn, st


def isotonic(t: ScoreTable) -> Isotonic:
    """The weighted isotonic regression of the labels on the score order (the same fit is optimal
    for the log loss and for every other proper score). Whole runs of non-increasing rates are
    pooled at once in numpy (every adjacent violation ends inside one block of the solution)
    while that shrinks the problem fast; a stack loop does the rest."""
    pos, neg = t.pos.astype(np.float64), t.neg.astype(np.float64)
    start = np.arange(len(pos))
    while len(pos) > 1:
        w = pos + neg
        # rate[i] >= rate[i + 1], compared without dividing
        viol = pos[:-1] * w[1:] >= pos[1:] * w[:-1]
        if not viol.any():
            break
        heads = np.flatnonzero(np.concatenate(([True], ~viol)))
        shrunk = len(heads) < (1 - _ROUND_GAIN) * len(pos)
        pos, neg = np.add.reduceat(pos, heads), np.add.reduceat(neg, heads)
        start = start[heads]
        if not shrunk:
            lp, ln, ls = _pav_loop(pos.tolist(), neg.tolist(), start.tolist())
            pos, neg, start = np.array(lp), np.array(ln), np.array(ls, dtype=np.int64)
            break
    weight = pos + neg
    total = float(weight.sum())
    terms = _entropy_terms(pos, weight) + _entropy_terms(neg, weight)
    loss = -float(terms.sum()) / total if total > 0 else float("nan")
    rate = np.divide(pos, weight, out=np.full(len(pos), np.nan), where=weight > 0)
    return Isotonic(start.astype(np.int64), rate, weight, loss)


def base_rate_loss(t: ScoreTable) -> float:
    """UNC: the mean log loss of predicting the weighted base rate for every row."""
    n_pos, n_neg = np.array([t.n_pos]), np.array([t.n_neg])
    total = n_pos + n_neg
    if total[0] <= 0:
        return float("nan")
    return -float((_entropy_terms(n_pos, total) + _entropy_terms(n_neg, total))[0]) / total[0]


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|) (np.logaddexp(0, z) costs six times as much)."""
    e = np.exp(-np.abs(z))
    np.log1p(e, out=e)
    e += np.maximum(z, 0.0)
    return e


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class _Fit:
    """The log loss of sigmoid(a z + b) on a table's finite groups, and its Newton fit; the
    groups at logit +-inf, which no positive scale moves, are added as they are."""

    def __init__(self, t: ScoreTable) -> None:
        finite = np.isfinite(t.logit)
        # logits beyond +-1e150 (their sigmoid is 0 or 1 at any scale a fit reaches) count as
        # +-1e150, so that the Hessian's z^2 stays finite
        self.z = np.clip(t.logit[finite], -_FIT_LOGIT, _FIT_LOGIT)
        self.pos, self.neg = t.pos[finite], t.neg[finite]
        self.w = self.pos + self.neg
        self.total = float(t.pos.sum() + t.neg.sum())
        low, high = t.logit == -np.inf, t.logit == np.inf
        # weight at -inf and +inf, by label
        self.inf = (
            float(t.pos[low].sum()),
            float(t.neg[low].sum()),
            float(t.pos[high].sum()),
            float(t.neg[high].sum()),
        )

    def finite_loss(self, a: float, b: float) -> float:
        """The summed (not mean) loss of the finite groups."""
        u = a * self.z + b
        return dot(self.pos, _softplus(-u)) + dot(self.neg, _softplus(u))

    def infinite_loss(self, a: float, b: float) -> float:
        """The summed loss of the groups at +-inf: 0 or inf for a != 0 (inf where a score of
        certainty is wrong), the loss of sigmoid(b) for a == 0."""
        low_pos, low_neg, high_pos, high_neg = self.inf
        if a == 0:
            sp = math.log1p(math.exp(-abs(b))) + max(b, 0.0)  # softplus(b)
            return (low_pos + high_pos) * (sp - b) + (low_neg + high_neg) * sp
        wrong = (low_pos + high_neg) if a > 0 else (low_neg + high_pos)
        return math.inf if wrong > 0 else 0.0

    def newton(self, a: float, b: float, *, fit_a: bool, fit_b: bool) -> tuple[float, float]:
        """Minimise ``finite_loss`` over the chosen parameters from (a, b)."""
        if len(self.z) == 0:
            return a, b
        f = self.finite_loss(a, b)
        for _ in range(MAX_NEWTON):
            u = a * self.z + b
            s, h0 = _sigmoid(u), _sigmoid(-u)
            g = self.w * s - self.pos  # d loss / d u per group
            h = self.w * s * h0  # d2 loss / d u2
            ga, gb = dot(g, self.z), float(g.sum())
            haa, hab, hbb = dot(h, self.z * self.z), dot(h, self.z), float(h.sum())
            da = db = 0.0
            if fit_a and fit_b:
                det = haa * hbb - hab * hab
                if det > 1e-300 and det > 1e-14 * haa * hbb:
                    da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
                else:  # (nearly) one score: the slope is not identified, fit the shift
                    db = gb / hbb if hbb > 0 else 0.0
            elif fit_a:
                da = ga / haa if haa > 0 else 0.0
            else:
                db = gb / hbb if hbb > 0 else 0.0
            decrement = da * ga + db * gb  # twice the predicted decrease
            if not decrement > 0 or not math.isfinite(decrement):
                break
            step = 1.0
            while step > 1e-12:
                na, nb = a - step * da, b - step * db
                nf = self.finite_loss(na, nb)
                if nf <= f:
                    break
                step /= 2
            else:
                break
            a, b, f = na, nb, nf
            if decrement / 2 <= LOSS_TOLERANCE * self.total:
                break
        return a, b

    def loss_after(self, a: float, b: float, mean_loss: float) -> float:
        """The mean loss after the fit: ``mean_loss`` plus the change the fit makes to the
        table's loss (where both are finite), so a fit that changes nothing gives S itself."""
        inf_now, inf_fit = self.infinite_loss(1.0, 0.0), self.infinite_loss(a, b)
        fitted = self.finite_loss(a, b) + inf_fit
        if math.isfinite(mean_loss) and math.isfinite(inf_now) and math.isfinite(inf_fit):
            change = fitted - (self.finite_loss(1.0, 0.0) + inf_now)
            return mean_loss + change / self.total
        return fitted / self.total


def table_loss(t: ScoreTable) -> float:
    """The mean log loss of the table's own scores (exact on an exact table)."""
    fit = _Fit(t)
    return (fit.finite_loss(1.0, 0.0) + fit.infinite_loss(1.0, 0.0)) / fit.total


def decompose(
    t: ScoreTable, mean_loss: float | None = None, iso: Isotonic | None = None
) -> Decomposition:
    """The CORP decomposition of ``mean_loss`` (the table's own loss if not given: give the
    accumulator's exact mean with a binned table); ``iso``: the table's isotonic fit, if the
    caller has it."""
    s = table_loss(t) if mean_loss is None else mean_loss
    iso = isotonic(t) if iso is None else iso
    unc = base_rate_loss(t)
    method = "isotonic (exact)" if t.exact else "isotonic (binned)"
    return Decomposition(s, s - iso.loss, unc - iso.loss, unc, method, t.width, iso.loss)


def recalibrate(
    t: ScoreTable, mean_loss: float | None = None, isotonic_loss: float | None = None
) -> Recalibration:
    """The recalibration ladder (in sample: each fit is on the data it is scored on).
    ``isotonic_loss``: S(r) when the caller has it (from ``decompose``, perhaps on an exact
    table while the fits take the bins)."""
    s = table_loss(t) if mean_loss is None else mean_loss
    fit = _Fit(t)
    _, b_bias = fit.newton(1.0, 0.0, fit_a=False, fit_b=True)
    a_temp, _ = fit.newton(1.0, 0.0, fit_a=True, fit_b=False)
    a_platt, b_platt = fit.newton(1.0, 0.0, fit_a=True, fit_b=True)
    temperature = 1.0 / a_temp if a_temp != 0 else math.inf
    return Recalibration(
        bias=BiasFit(fit.loss_after(1.0, b_bias, s), b_bias),
        temperature=TemperatureFit(fit.loss_after(a_temp, 0.0, s), temperature),
        platt=PlattFit(fit.loss_after(a_platt, b_platt, s), a_platt, b_platt),
        isotonic_loss=isotonic(t).loss if isotonic_loss is None else isotonic_loss,
    )


@dataclass(frozen=True)
class Curve:
    """The CORP reliability curve: the isotonic recalibration as a step function of the
    predicted probability. Step i covers the scores from ``lo[i]`` to ``hi[i]`` (the least and
    largest score of its groups; bins' centres on a binned table) and recalibrates them to
    ``rate[i]``, with weight ``weight[i]``."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    rate: tuple[float, ...]
    weight: tuple[float, ...]


def curve(t: ScoreTable, iso: Isotonic) -> Curve:
    """The step function of ``iso``, the isotonic fit of ``t``, in probability."""
    if len(t.score) == 0:
        return Curve((), (), (), ())
    p = t.score if t.of_probabilities else _sigmoid(t.score)
    ends = np.append(iso.start[1:], len(p)) - 1
    return Curve(
        tuple(p[iso.start].tolist()),
        tuple(p[ends].tolist()),
        tuple(iso.rate.tolist()),
        tuple(iso.weight.tolist()),
    )


@dataclass(frozen=True)
class ScoreAnalysis:
    """Everything a report says about one binary score: ranking, decomposition, ladder, and
    the CORP curve."""

    ranking: Ranking
    decomposition: Decomposition
    recalibration: Recalibration
    curve: Curve | None = None


def analyse(summary: ScoreSummary, mean_loss: float | None = None) -> ScoreAnalysis:
    """Ranking and decomposition from the summary's exact table while it has one (else its
    bins); the fits from the exact table only up to ``FIT_GROUPS`` distinct scores (each
    Newton step is a pass over the table; the bins' answer is within 1e-7 of it)."""
    t = summary.table()
    if not t.n_pos + t.n_neg > 0:  # no rows, or weights summing to 0: nothing is defined
        return _undefined(t, math.nan if mean_loss is None else mean_loss)
    iso = isotonic(t)
    dec = decompose(t, mean_loss, iso)
    fit_table = t if len(t.pos) <= FIT_GROUPS else summary.table(binned=True)
    recal = recalibrate(fit_table, dec.mean_loss, dec.isotonic_loss)
    return ScoreAnalysis(ranking(t), dec, recal, curve(t, iso))


def _undefined(t: ScoreTable, mean_loss: float) -> ScoreAnalysis:
    nan = math.nan
    method = "isotonic (exact)" if t.exact else "isotonic (binned)"
    return ScoreAnalysis(
        Ranking(nan, nan, nan),
        Decomposition(mean_loss, nan, nan, nan, method, t.width, nan),
        Recalibration(BiasFit(nan, nan), TemperatureFit(nan, nan), PlattFit(nan, nan, nan), nan),
    )


def analyse_outputs(
    summaries: ScoreSummaries, mean_losses: Sequence[float | None]
) -> tuple[ScoreAnalysis, ...] | None:
    """``analyse`` per output (None where the summaries are unusable); ``mean_losses[j]``: the
    literal mean loss of output j where the run knows it exactly, else None (the table's own)."""
    if not summaries.usable:
        return None
    return tuple(analyse(s, m) for s, m in zip(summaries.outputs, mean_losses, strict=True))


def mean_decomposition(parts: Sequence[Decomposition]) -> Decomposition:
    """The decomposition of the mean over outputs of their losses (multi-label BCE): every term
    is the mean of the outputs' terms, since each is additive."""
    exact = all(p.resolution == 0.0 for p in parts)
    return Decomposition(
        mean_loss=float(np.mean([p.mean_loss for p in parts])),
        miscalibration=float(np.mean([p.miscalibration for p in parts])),
        discrimination=float(np.mean([p.discrimination for p in parts])),
        uncertainty=float(np.mean([p.uncertainty for p in parts])),
        method="isotonic (exact)" if exact else "isotonic (binned)",
        resolution=max(p.resolution for p in parts),
        isotonic_loss=float(np.mean([p.isotonic_loss for p in parts])),
    )
