"""Ranking metrics, the CORP decomposition and the recalibration ladder against independent
oracles (scikit-learn, model-diagnostics, scipy.optimize on the per-sample data), the
invariances they must have (hypothesis), and the error of the binned path against the exact one.
"""

from __future__ import annotations

import csv
import math
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as hs
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import (
    average_precision_score,
    roc_auc_score,
    top_k_accuracy_score,
)

from bcecli.core import decomposition as dec
from bcecli.core import ranking as rk
from bcecli.core import score_summary as ss
from bcecli.core.score_summary import ScoreSummary, ScoreTable

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
# (file, label column, prediction column, the predictions are logits)
BINARY_SAMPLES = [
    ("healthy_binary.csv", "y_true", "y_pred", False),
    ("imbalanced_binary.csv", "label", "score", False),
    ("logits_as_probs.csv", "y_true", "y_pred", True),
]
# The binned path's promise: AUC and the decomposition terms within this of the exact ones.
BINNED_TOLERANCE = 1e-4


def read_binary(name: str, ycol: str, pcol: str) -> tuple[np.ndarray, np.ndarray]:
    with open(SAMPLES / name) as f:
        rows = list(csv.DictReader(f))
    return (
        np.array([float(r[ycol]) for r in rows]),
        np.array([float(r[pcol]) for r in rows]),
    )


def summary_of(
    y: np.ndarray,
    score: np.ndarray,
    w: np.ndarray | None = None,
    *,
    from_logits: bool = False,
    chunk: int | None = None,
    start: int = 0,
) -> ScoreSummary:
    s = ScoreSummary(from_logits=from_logits)
    step = len(y) if chunk is None else chunk
    for i in range(0, len(y), max(step, 1)):
        part = slice(i, i + step)
        s.add(y[part], score[part], None if w is None else w[part], start=start + i)
    return s


def log_loss_rows(y: np.ndarray, z: np.ndarray, w: np.ndarray | None = None) -> float:
    """The mean log loss of sigmoid(z), per sample, with scipy (0 log 0 = 0)."""
    terms = -(sp.xlogy(y, sp.expit(z)) + sp.xlogy(1 - y, sp.expit(-z)))
    return float(np.average(terms, weights=w))


def random_binary(
    rng: np.random.Generator, n: int, *, ties: bool = True, extreme: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities from a miscalibrated model: rounded (ties), with exact 0 and 1
    on the right side, and 1e-300 and 1 - 1e-16 (mostly right, a few wrong)."""
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < sp.expit(z)).astype(np.float64)
    p = sp.expit(1.7 * z - 0.4)
    if ties:
        p = np.clip(np.round(p, 4), 1e-4, 1 - 1e-4)  # the only 0 and 1 are those set below
    if extreme:
        k = max(n // 50, 1)
        neg, pos = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        p[neg[:k]] = 0.0
        p[pos[:k]] = 1.0
        p[neg[k : 2 * k]] = 1e-300
        p[pos[k : 2 * k]] = 1 - 1e-16
        p[pos[2 * k : 2 * k + 3]] = 1e-300  # confidently wrong, but finite
    return y, p


def logit(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


# --- ranking metrics against scikit-learn ----------------------------------------------------


@pytest.mark.parametrize(("name", "ycol", "pcol", "logits"), BINARY_SAMPLES)
def test_auc_and_ap_match_sklearn_on_the_samples(
    name: str, ycol: str, pcol: str, logits: bool
) -> None:
    y, p = read_binary(name, ycol, pcol)
    r = rk.ranking(summary_of(y, p, from_logits=logits).table())
    assert r.auc == pytest.approx(roc_auc_score(y, p), abs=1e-14)
    assert r.average_precision == pytest.approx(average_precision_score(y, p), abs=1e-14)
    assert r.auc_tie_bound == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_weighted_auc_and_ap_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, p = random_binary(rng, 3000)
    w = rng.random(len(y)) * 3
    t = summary_of(y, p, w, chunk=700).table()
    assert rk.roc_auc(t) == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-13)
    expected_ap = average_precision_score(y, p, sample_weight=w)
    assert rk.average_precision(t) == pytest.approx(expected_ap, abs=1e-13)


def test_single_class_has_no_auc() -> None:
    t = summary_of(np.ones(5), np.linspace(0.1, 0.9, 5)).table()
    assert math.isnan(rk.roc_auc(t))
    assert rk.average_precision(t) == pytest.approx(1.0)
    t0 = summary_of(np.zeros(5), np.linspace(0.1, 0.9, 5)).table()
    assert math.isnan(rk.roc_auc(t0)) and math.isnan(rk.average_precision(t0))


def test_top_k_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    n, k_classes = 2000, 6
    probs = rng.integers(0, 5, (n, k_classes)).astype(np.float64)  # many ties
    probs /= probs.sum(axis=1, keepdims=True) + 1e-9
    labels = rng.integers(0, k_classes, n)
    w = rng.random(n)
    tally = rk.TopK(ks=(1, 2, 3, 5))
    for i in range(0, n, 333):
        tally.add(labels[i : i + 333], probs[i : i + 333], w[i : i + 333])
    got = tally.accuracy()
    for k in (1, 2, 3, 5):
        expected = top_k_accuracy_score(
            labels, probs, k=k, labels=range(k_classes), sample_weight=w
        )
        assert got[k] == pytest.approx(expected, abs=1e-13), k


def test_one_vs_rest_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    n, k_classes = 3000, 4
    logits = rng.normal(size=(n, k_classes))
    labels = np.array([rng.choice(k_classes, p=sp.softmax(row)) for row in logits])
    probs = np.round(sp.softmax(1.5 * logits, axis=1), 3)
    probs /= probs.sum(axis=1, keepdims=True)
    tables = [summary_of((labels == c).astype(float), probs[:, c]).table() for c in range(4)]
    ovr = rk.one_vs_rest(tables)
    for avg, got in (("macro", ovr.macro), ("weighted", ovr.weighted)):
        expected = roc_auc_score(labels, probs, multi_class="ovr", average=avg)
        assert got == pytest.approx(expected, abs=1e-13), avg


def test_top_label_is_argmax_and_its_probability() -> None:
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.4, 0.4, 0.2]])
    correct, conf = rk.top_label(np.array([1, 2, 1]), probs)
    assert correct.tolist() == [1.0, 0.0, 0.0]  # the first maximum (class 0) in the last row
    assert conf.tolist() == [0.5, 0.6, 0.4]


# --- the decomposition against model-diagnostics ----------------------------------------------


def md_decompose(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    from model_diagnostics.scoring import LogLoss, decompose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # polars and scikit-learn deprecations in the oracle
        frame = decompose(y, p, weights=w, scoring_function=LogLoss())
    return {k: float(frame[k][0]) for k in ("miscalibration", "discrimination", "uncertainty")} | {
        "score": float(frame["score"][0])
    }


@pytest.mark.parametrize(("name", "ycol", "pcol", "logits"), BINARY_SAMPLES)
def test_decomposition_matches_model_diagnostics_on_the_samples(
    name: str, ycol: str, pcol: str, logits: bool
) -> None:
    y, p = read_binary(name, ycol, pcol)
    prob = sp.expit(p) if logits else p
    expected = md_decompose(y, prob)
    d = dec.decompose(summary_of(y, p, from_logits=logits).table())
    assert d.mean_loss == pytest.approx(expected["score"], rel=1e-12)
    assert d.miscalibration == pytest.approx(expected["miscalibration"], abs=1e-12)
    assert d.discrimination == pytest.approx(expected["discrimination"], abs=1e-12)
    assert d.uncertainty == pytest.approx(expected["uncertainty"], abs=1e-12)
    assert d.method == "isotonic (exact)" and d.resolution == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_weighted_decomposition_matches_model_diagnostics(seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    y, p = random_binary(rng, 2000, extreme=False)
    w = rng.random(len(y)) + 0.1
    expected = md_decompose(y, p, w)
    d = dec.decompose(summary_of(y, p, w, chunk=512).table())
    assert d.mean_loss == pytest.approx(expected["score"], rel=1e-12)
    for key in ("miscalibration", "discrimination", "uncertainty"):
        assert getattr(d, key) == pytest.approx(expected[key], abs=1e-12), key


def test_identity_with_the_per_sample_mean_loss() -> None:
    rng = np.random.default_rng(7)
    y, p = random_binary(rng, 5000, extreme=False)
    d = dec.decompose(summary_of(y, p).table())
    assert d.mean_loss == pytest.approx(log_loss_rows(y, logit(p)), rel=1e-13)
    assert d.miscalibration - d.discrimination + d.uncertainty == pytest.approx(
        d.mean_loss, rel=1e-13
    )
    assert d.miscalibration > 0 and d.discrimination > 0


def test_soft_labels_decompose_with_weights_y_and_1_minus_y() -> None:
    # A soft label y is the same as a positive of weight y and a negative of weight 1 - y.
    rng = np.random.default_rng(8)
    n = 800
    y = np.round(rng.random(n), 2)
    p = np.round(sp.expit(rng.normal(size=n) + 2 * (y - 0.5)), 3)
    soft = dec.decompose(summary_of(y, p).table())
    doubled = dec.decompose(
        summary_of(np.r_[np.ones(n), np.zeros(n)], np.r_[p, p], np.r_[y, 1 - y]).table()
    )
    for key in ("mean_loss", "miscalibration", "discrimination", "uncertainty"):
        assert getattr(soft, key) == pytest.approx(getattr(doubled, key), rel=1e-12), key
    pi = y.mean()
    assert soft.uncertainty == pytest.approx(-(pi * math.log(pi) + (1 - pi) * math.log1p(-pi)))


def test_infinite_loss_is_all_miscalibration() -> None:
    y = np.array([1.0, 0, 0, 1, 1, 0])
    p = np.array([0.0, 0.1, 0.3, 0.6, 0.9, 0.2])  # a positive at p = 0
    d = dec.decompose(summary_of(y, p).table())
    assert d.mean_loss == math.inf and d.miscalibration == math.inf
    assert math.isfinite(d.discrimination) and d.isotonic_loss < math.log(2)


# --- PAV against scikit-learn's isotonic regression -------------------------------------------


@pytest.mark.parametrize(
    "rates",
    [
        [0.1, 0.5, 0.3, 0.3, 0.2, 0.9, 0.8, 1.0],
        list(range(1, 3000)) + [0],  # one violator at the end: pooled back one block a round
        list(range(3000, 0, -1)),
        [0.5] * 10,
    ],
)
def test_pav_matches_sklearn_isotonic_regression(rates: list[float]) -> None:
    r = np.asarray(rates, dtype=np.float64)
    r = r / max(r.max(), 1.0)
    rng = np.random.default_rng(1)
    weight = rng.random(len(r)) + 0.5
    t = ScoreTable(np.arange(len(r), dtype=np.float64), r * weight, (1 - r) * weight, True, 0.0)
    iso = dec.isotonic(t)
    fitted = np.repeat(iso.rate, np.diff(np.r_[iso.start, len(r)]))
    expected = IsotonicRegression().fit_transform(np.arange(len(r)), r, sample_weight=weight)
    np.testing.assert_allclose(fitted, expected, atol=1e-12)
    assert np.all(np.diff(iso.rate) > 0)  # blocks of equal rate are pooled


# --- the recalibration ladder against scipy.optimize on the per-sample data -----------------


def scipy_fit(
    y: np.ndarray, z: np.ndarray, model: Callable[[np.ndarray], np.ndarray], x0: list[float]
) -> tuple[np.ndarray, float]:
    res = so.minimize(lambda th: log_loss_rows(y, model(th)), x0, method="BFGS", tol=1e-12)
    return res.x, float(res.fun)


@pytest.mark.parametrize(("name", "ycol", "pcol", "logits"), BINARY_SAMPLES)
def test_ladder_matches_scipy_fits_on_the_samples(
    name: str, ycol: str, pcol: str, logits: bool
) -> None:
    y, p = read_binary(name, ycol, pcol)
    z = p if logits else logit(p)
    a = dec.analyse(summary_of(y, p, from_logits=logits))
    recal = a.recalibration
    (s,), loss_t = scipy_fit(y, z, lambda th: th[0] * z, [1.0])
    assert recal.temperature.T == pytest.approx(1 / s, rel=1e-6)
    assert recal.temperature.loss == pytest.approx(loss_t, abs=1e-12)
    (ap, bp), loss_p = scipy_fit(y, z, lambda th: th[0] * z + th[1], [1.0, 0.0])
    assert (recal.platt.a, recal.platt.b) == pytest.approx((ap, bp), rel=1e-6, abs=1e-7)
    assert recal.platt.loss == pytest.approx(loss_p, abs=1e-12)
    (bb,), loss_b = scipy_fit(y, z, lambda th: z + th[0], [0.0])
    assert recal.bias.b == pytest.approx(bb, rel=1e-6, abs=1e-7)
    assert recal.bias.loss == pytest.approx(loss_b, abs=1e-12)
    assert recal.isotonic_loss == pytest.approx(a.decomposition.isotonic_loss)
    # isotonic fits every monotone map, Platt's among them (a > 0 here)
    assert recal.isotonic_loss <= recal.platt.loss <= min(recal.bias.loss, recal.temperature.loss)
    assert recal.platt.loss <= a.decomposition.mean_loss


def test_temperature_above_one_means_over_confident() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(0.0, 1.5, 20000)
    y = (rng.random(len(z)) < sp.expit(z)).astype(np.float64)
    over = dec.analyse(summary_of(y, 3 * z, from_logits=True)).recalibration.temperature
    under = dec.analyse(summary_of(y, z / 2, from_logits=True)).recalibration.temperature
    assert over.T == pytest.approx(3.0, rel=0.05) and under.T == pytest.approx(0.5, rel=0.05)


def test_ladder_leaves_infinite_logits_alone() -> None:
    # right-side certainties stay at zero loss under any positive scale; the fits are on the rest
    rng = np.random.default_rng(5)
    z = rng.normal(0.0, 1.0, 4000)
    y = (rng.random(len(z)) < sp.expit(2 * z)).astype(np.float64)
    with_inf = np.r_[z, [-np.inf] * 50, [np.inf] * 30]
    y_inf = np.r_[y, np.zeros(50), np.ones(30)]
    a = dec.analyse(summary_of(y_inf, with_inf, from_logits=True))
    (s,), _ = scipy_fit(y, z, lambda th: th[0] * z, [1.0])
    assert a.recalibration.temperature.T == pytest.approx(1 / s, rel=1e-6)
    finite = np.isfinite(with_inf)
    expected = log_loss_rows(y, s * z) * finite.sum() / len(with_inf)
    assert a.recalibration.temperature.loss == pytest.approx(expected, rel=1e-10)


# --- invariances (hypothesis) -------------------------------------------------------------------

labelled_scores = hs.integers(5, 300).flatmap(
    lambda n: hs.tuples(
        hs.lists(hs.integers(0, 1), min_size=n, max_size=n),
        hs.lists(hs.integers(1, 999), min_size=n, max_size=n),  # p = k / 1000: ties
    )
)


@settings(max_examples=60, deadline=None)
@given(labelled_scores, hs.sampled_from(["square", "sqrt", "logit_cubed", "affine"]))
def test_auc_and_discrimination_ignore_increasing_transforms(
    data: tuple[list[int], list[int]], transform: str
) -> None:
    y = np.array(data[0], dtype=np.float64)
    p = np.array(data[1], dtype=np.float64) / 1000
    transformed, logits = {
        "square": (p**2, False),
        "sqrt": (np.sqrt(p), False),
        "logit_cubed": (logit(p) ** 3, True),
        "affine": (0.25 + 0.5 * p, False),
    }[transform]
    a, b = summary_of(y, p).table(), summary_of(y, transformed, from_logits=logits).table()
    assert len(a.pos) == len(b.pos)  # still strictly increasing on these values: no new ties
    assert rk.roc_auc(b) == pytest.approx(rk.roc_auc(a), abs=1e-12, nan_ok=True)
    da, db = dec.decompose(a), dec.decompose(b)
    assert db.discrimination == pytest.approx(da.discrimination, abs=1e-12)
    assert db.uncertainty == pytest.approx(da.uncertainty, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(labelled_scores)
def test_isotonically_calibrated_scores_have_no_miscalibration(
    data: tuple[list[int], list[int]],
) -> None:
    y = np.array(data[0], dtype=np.float64)
    p = np.array(data[1], dtype=np.float64) / 1000
    t = summary_of(y, p).table()
    iso = dec.isotonic(t)
    # each row's prediction becomes its PAV block's rate
    group = np.searchsorted(np.unique(p), p)
    block = np.searchsorted(iso.start, group, side="right") - 1
    recalibrated = iso.rate[block]
    d = dec.decompose(summary_of(y, recalibrated).table())
    assert d.miscalibration == pytest.approx(0.0, abs=1e-12)
    assert d.discrimination == pytest.approx(dec.decompose(t).discrimination, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    labelled_scores,
    hs.integers(1, 50),
    hs.randoms(use_true_random=False),
    hs.booleans(),
)
def test_chunked_and_merged_in_any_order_equal_whole(
    data: tuple[list[int], list[int]], chunk: int, rnd: object, weighted: bool
) -> None:
    y = np.array(data[0], dtype=np.float64)
    p = np.array(data[1], dtype=np.float64) / 1000
    w = np.linspace(0.1, 3.0, len(y)) if weighted else None
    whole = summary_of(y, p, w)
    parts = [
        summary_of(
            y[i : i + chunk], p[i : i + chunk], None if w is None else w[i : i + chunk], start=i
        )
        for i in range(0, len(y), chunk)
    ]
    rnd.shuffle(parts)  # type: ignore[attr-defined]
    merged = ScoreSummary()
    for part in parts:
        merged.merge(part)
    for binned in (False, True):
        a, b = whole.table(binned=binned), merged.table(binned=binned)
        np.testing.assert_array_equal(a.logit, b.logit)
        if weighted and binned:  # the bins' float sums, rounded in another order
            np.testing.assert_allclose(b.pos, a.pos, rtol=1e-12)
            np.testing.assert_allclose(b.neg, a.neg, rtol=1e-12)
        else:  # counts, or the exact table's sums in row order: the same bits
            np.testing.assert_array_equal(a.pos, b.pos)
            np.testing.assert_array_equal(a.neg, b.neg)


# --- the bins --------------------------------------------------------------------------------


def test_bins_hold_ends_infinities_and_their_mean_logits() -> None:
    x = np.array([-np.inf, -700.0, -100.0, -63.0, -0.01, 0.0, 63.0, 64.0, 90.0, np.inf])
    y = np.array([0.0, 0, 1, 0, 1, 0, 1, 1, 1, 1])
    s = summary_of(y, x, from_logits=True)
    s.buckets_only()
    t = s.table()
    assert t.logit[0] == -np.inf and t.logit[-1] == np.inf
    assert t.logit[1] == pytest.approx(-400.0)  # the low end bin's mean
    assert t.logit[-2] == pytest.approx(77.0)  # 64 and 90 share the high end bin
    assert t.logit[2] == pytest.approx(-63.0, abs=ss.MAX_WIDTH)  # a fine bin's centre
    assert t.logit[5] == pytest.approx(63.0, abs=ss.MAX_WIDTH)
    assert t.pos.tolist() == [0, 1, 0, 1, 0, 1, 2, 1]
    assert t.neg.tolist() == [1, 1, 1, 0, 1, 0, 0, 0]
    assert np.all(np.diff(t.logit) > 0)


def test_bins_from_probabilities_and_logits_agree() -> None:
    rng = np.random.default_rng(6)
    z = rng.normal(0, 4, 10000)
    y = (rng.random(len(z)) < sp.expit(z)).astype(np.float64)
    a = summary_of(y, sp.expit(z)).table(binned=True)
    b = summary_of(y, z, from_logits=True).table(binned=True)
    # the logit recomputed from the probability may cross a bin edge: a few rows move a bin
    assert abs(rk.roc_auc(a) - rk.roc_auc(b)) < 1e-6
    assert len(a.pos) == pytest.approx(len(b.pos), abs=5)


def test_nan_scores_raise() -> None:
    with pytest.raises(ValueError, match="NaN"):
        ScoreSummary().add(np.array([1.0, 0.0]), np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="outside"):
        ScoreSummary().add(np.array([1.0]), np.array([1.5]))


def test_past_the_exact_bound_the_bins_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss, "EXACT_LIMIT", 100)
    rng = np.random.default_rng(9)
    y, p = random_binary(rng, 150, extreme=False)
    s = summary_of(y, p, chunk=60)
    assert not s.exact and not s.table().exact
    d = dec.decompose(s.table())
    assert d.method == "isotonic (binned)" and d.resolution == ss.MAX_WIDTH


def test_pickle_round_trip() -> None:
    rng = np.random.default_rng(11)
    y, p = random_binary(rng, 500)
    s = summary_of(y, p)
    back = pickle.loads(pickle.dumps(s))
    for binned in (False, True):
        a, b = s.table(binned=binned), back.table(binned=binned)
        np.testing.assert_array_equal(a.pos, b.pos)
        np.testing.assert_array_equal(a.logit, b.logit)


# --- the binned path against the exact one ----------------------------------------------------


def binned_errors(s: ScoreSummary) -> dict[str, float]:
    exact, binned = s.table(), s.table(binned=True)
    assert exact.exact and not binned.exact
    mean = dec.table_loss(exact)
    de, db = dec.decompose(exact, mean), dec.decompose(binned, mean)
    re, rb = rk.ranking(exact), rk.ranking(binned)
    assert abs(rb.auc - re.auc) <= rb.auc_tie_bound
    return {
        "auc": abs(rb.auc - re.auc),
        "miscalibration": abs(db.miscalibration - de.miscalibration),
        "discrimination": abs(db.discrimination - de.discrimination),
        "uncertainty": abs(db.uncertainty - de.uncertainty),
    }


@pytest.mark.parametrize(("name", "ycol", "pcol", "logits"), BINARY_SAMPLES)
def test_binned_within_tolerance_of_exact_on_the_samples(
    name: str, ycol: str, pcol: str, logits: bool
) -> None:
    y, p = read_binary(name, ycol, pcol)
    errors = binned_errors(summary_of(y, p, from_logits=logits))
    assert all(e < BINNED_TOLERANCE for e in errors.values()), errors


@pytest.mark.parametrize(("n", "seed"), [(2000, 0), (20000, 1), (200000, 2)])
def test_binned_within_tolerance_of_exact_with_ties_and_extremes(n: int, seed: int) -> None:
    y, p = random_binary(np.random.default_rng(seed), n)
    errors = binned_errors(summary_of(y, p, chunk=65536))
    assert all(e < BINNED_TOLERANCE for e in errors.values()), errors


def test_binned_ladder_close_to_exact() -> None:
    y, p = random_binary(np.random.default_rng(12), 50000, extreme=False)
    s = summary_of(y, p)
    mean = dec.table_loss(s.table())
    exact = dec.recalibrate(s.table(), mean)
    binned = dec.recalibrate(s.table(binned=True), mean)
    assert binned.temperature.T == pytest.approx(exact.temperature.T, rel=1e-4)
    assert (binned.platt.a, binned.platt.b) == pytest.approx(
        (exact.platt.a, exact.platt.b), rel=1e-4, abs=1e-4
    )
    for rung in ("bias", "temperature", "platt"):
        got, want = getattr(binned, rung).loss, getattr(exact, rung).loss
        assert got == pytest.approx(want, abs=1e-6), rung


def test_packed_exact_rows_equal_the_general_path() -> None:
    # 0/1 labels without weights are kept packed (one int64 a row); with weights of 1, or mixed
    # with a chunk of soft labels, the general path must give the same table
    rng = np.random.default_rng(13)
    y, p = random_binary(rng, 3000)
    p[:5] = -0.0  # sorts with 0.0
    packed, weighted = summary_of(y, p, chunk=1000), summary_of(y, p, np.ones(len(y)), chunk=1000)
    assert all(isinstance(rows, np.ndarray) for _, rows in packed.exact_rows or [])
    a, b = packed.table(), weighted.table()
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.pos, b.pos)
    np.testing.assert_array_equal(a.neg, b.neg)
    mixed = summary_of(y, p, chunk=1000)
    mixed.add(np.array([0.25, 0.75]), np.array([0.3, 0.6]))
    both = summary_of(np.r_[y, 0.25, 0.75], np.r_[p, 0.3, 0.6], np.ones(len(y) + 2))
    c, d = mixed.table(), both.table()
    np.testing.assert_array_equal(c.score, d.score)
    np.testing.assert_allclose(c.pos, d.pos, rtol=1e-15)
    assert rk.roc_auc(a) == pytest.approx(roc_auc_score(y, p), abs=1e-14)


def test_multilabel_decomposition_is_the_mean_over_outputs() -> None:
    rng = np.random.default_rng(14)
    n, k = 2000, 3
    z = rng.normal(size=(n, k))
    y = (rng.random((n, k)) < sp.expit(z)).astype(np.float64)
    p = np.round(sp.expit(1.4 * z), 4)
    summaries = ss.ScoreSummaries(k)
    for i in range(0, n, 512):
        summaries.add(y[i : i + 512], p[i : i + 512], None, hard=True, from_logits=False)
    other = ss.ScoreSummaries(k)
    other.merge(summaries)  # into an empty one: the same
    analyses = dec.analyse_outputs(other, [None] * k)
    assert analyses is not None
    mean = dec.mean_decomposition([a.decomposition for a in analyses])
    per_output = [log_loss_rows(y[:, j], logit(p[:, j])) for j in range(k)]
    assert mean.mean_loss == pytest.approx(np.mean(per_output), rel=1e-13)
    assert mean.miscalibration - mean.discrimination + mean.uncertainty == pytest.approx(
        mean.mean_loss, rel=1e-13
    )
    for j, a in enumerate(analyses):
        assert a.ranking.auc == pytest.approx(roc_auc_score(y[:, j], p[:, j]), abs=1e-14)
    bad = ss.ScoreSummaries(k)
    bad.unusable()
    summaries.merge(bad)
    assert not summaries.usable and dec.analyse_outputs(summaries, [None] * k) is None


def test_no_weight_leaves_everything_undefined() -> None:
    s = summary_of(np.array([1.0, 0.0]), np.array([0.7, 0.2]), np.zeros(2))
    a = dec.analyse(s, 0.5)
    assert math.isnan(a.ranking.auc) and math.isnan(a.decomposition.miscalibration)
    assert math.isnan(a.recalibration.temperature.T) and a.decomposition.mean_loss == 0.5
