"""The numbers against independent references (scipy, hand-computed constants) and the
invariances a cross-entropy must have, with hypothesis searching for counter-examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

from bcecli.core.chunk import Chunk, ScoredChunk
from bcecli.core.options import Compat, LossOptions, Task
from bcecli.core.scoring import Scorer, score_arrays

EXACT_BINARY = LossOptions(task=Task.BINARY)


def mean_loss(y: object, p: object, opts: LossOptions = EXACT_BINARY, **kw: object) -> float:
    return score_arrays(y, p, opts, **kw).mean_loss  # type: ignore[arg-type]


# --- hand-computed values ----------------------------------------------------------------------


def test_seed_example_is_minus_ln_point_one() -> None:
    assert mean_loss([1], [0.1]) == pytest.approx(2.302585092994046, rel=1e-15)


def test_coin_flip_is_ln_2() -> None:
    assert mean_loss([0, 1, 0, 1], [0.5] * 4) == pytest.approx(math.log(2), rel=1e-15)


@pytest.mark.parametrize(
    ("compat", "expected"),
    [
        (Compat.KERAS, 15.942385),  # float32: 1 - 1e-7 rounds to 0.99999988
        (Compat.KERAS2, 15.333239),
        (Compat.TORCH, 100.0),
        (Compat.SKLEARN, 36.043653),
    ],
)
def test_saturated_wrong_prediction_under_each_clip(compat: Compat, expected: float) -> None:
    opts = LossOptions(task=Task.BINARY, compat=compat)
    assert mean_loss([0], [1.0], opts) == pytest.approx(expected, rel=1e-6)


def test_exact_saturated_wrong_is_infinite_and_right_is_zero() -> None:
    assert mean_loss([0], [1.0]) == math.inf
    assert mean_loss([1, 0], [1.0, 0.0]) == 0.0


# --- scipy as the oracle -------------------------------------------------------------------------


def test_binary_matches_scipy_bernoulli() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = rng.uniform(1e-6, 1 - 1e-6, 500)
    expected = -st.bernoulli.logpmf(y, p)
    opts = LossOptions(task=Task.BINARY)
    scorer = Scorer(opts, 1)
    scored = scorer.score(Chunk(0, y[:, None].astype(float), p[:, None]))
    np.testing.assert_allclose(scored.loss, expected, rtol=1e-12)
    assert scorer.report().mean_loss == pytest.approx(expected.mean(), rel=1e-12)


def test_soft_labels_match_xlogy() -> None:
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, 300)
    p = rng.uniform(1e-4, 1 - 1e-4, 300)
    expected = -(sp.xlogy(y, p) + sp.xlogy(1 - y, 1 - p))
    assert mean_loss(y, p) == pytest.approx(expected.mean(), rel=1e-12)


def test_logits_match_scipy_log_expit() -> None:
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 35.0, 800.0])
    y = np.array([1, 0, 1, 0, 1, 1, 0])
    expected = -(y * sp.log_expit(x) + (1 - y) * sp.log_expit(-x))
    opts = LossOptions(task=Task.BINARY, from_logits=True)
    scorer = Scorer(opts, 1)
    scored = scorer.score(Chunk(0, y[:, None].astype(float), x[:, None]))
    np.testing.assert_allclose(scored.loss, expected, rtol=1e-14)
    assert np.all(np.isfinite(scored.loss))  # logits of +-800 stay finite


def test_sigmoid_is_within_three_ulp_in_both_tails() -> None:
    from bcecli.core.binary_scoring import sigmoid

    x = np.concatenate(
        [np.linspace(-708, 708, 200_001), np.random.default_rng(2).normal(0, 8, 10_000)]
    )
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))  # 64-bit mantissa on x86
    got = sigmoid(x)
    assert np.all(np.abs(got - exact) <= 3 * np.spacing(got))  # measured: 2.3 at most
    np.testing.assert_allclose(got, sp.expit(x), rtol=1e-15, atol=0)
    assert sigmoid(np.array([0.0]))[0] == 0.5
    assert sigmoid(np.array([-800.0, 800.0])).tolist() == [0.0, 1.0]


def test_categorical_logits_match_scipy_log_softmax() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 5, (200, 6))
    x[0] = [1000, -1000, 0, 0, 0, 0]
    y = rng.integers(0, 6, 200)
    expected = -sp.log_softmax(x, axis=1)[np.arange(200), y]
    opts = LossOptions(task=Task.SPARSE, from_logits=True)
    scorer = Scorer(opts, 6)
    scored = scorer.score(Chunk(0, y[:, None].astype(float), x))
    np.testing.assert_allclose(scored.loss, expected, rtol=1e-13)


def test_multilabel_is_mean_of_binary_losses() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (100, 3)).astype(float)
    p = rng.uniform(0.01, 0.99, (100, 3))
    per_output = -st.bernoulli.logpmf(y, p)
    report = score_arrays(y, p, LossOptions(task=Task.MULTILABEL))
    assert report.mean_loss == pytest.approx(per_output.mean(), rel=1e-12)


def test_ne_is_one_minus_d2_log_loss() -> None:
    """NE = mean / H(prior), i.e. 1 - sklearn's d2_log_loss_score (computed here by hand)."""
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0])
    p = np.array([0.8, 0.3, 0.1, 0.6, 0.2, 0.4, 0.1, 0.9, 0.3, 0.2])
    prior = y.mean()
    baseline = -(prior * math.log(prior) + (1 - prior) * math.log(1 - prior))
    report = score_arrays(y, p, EXACT_BINARY)
    assert report.baseline_loss == pytest.approx(baseline, rel=1e-14)
    assert report.ne == pytest.approx(report.mean_loss / baseline, rel=1e-14)


def test_weighted_mean_and_reductions() -> None:
    y, p, w = [1, 0, 1, 0], [0.9, 0.2, 0.3, 0.6], [1.0, 2.0, 0.5, 0.0]
    per = -st.bernoulli.logpmf(y, p)
    exact = score_arrays(y, p, EXACT_BINARY, weights=w)
    assert exact.mean_loss == pytest.approx(np.dot(w, per) / sum(w), rel=1e-12)
    keras = score_arrays(y, p, LossOptions(task=Task.BINARY, compat=Compat.KERAS), weights=w)
    assert keras.mean_loss == pytest.approx(np.dot(w, per) / 4, rel=1e-6)  # sum_over_batch_size
    assert keras.mean_metric == pytest.approx(np.dot(w, per) / sum(w), rel=1e-6)


# --- invariances ------------------------------------------------------------------------------


def test_one_column_binary_equals_two_column_sparse() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.001, 0.999, 300)
    binary = mean_loss(y, p)
    two = score_arrays(y, np.c_[1 - p, p], LossOptions(task=Task.SPARSE)).mean_loss
    assert binary == pytest.approx(two, rel=1e-12)


def test_list_ndarray_and_series_agree() -> None:
    import pandas as pd

    y, p = [1, 0, 1, 1], [0.7, 0.4, 0.9, 0.2]
    values = {
        mean_loss(y, p),
        mean_loss(np.array(y), np.array(p)),
        mean_loss(pd.Series(y), pd.Series(p)),
    }
    assert len(values) == 1


def has_task(compat: Compat, task: Task) -> bool:
    """The profile has a log loss for the task (a library may not: LightGBM has no
    multi-label metric, cross_entropy no categorical one)."""
    lib = compat.library
    return lib is None or lib.metric(task) is not None


TALLY_TASKS = {
    "sparse": Task.SPARSE, "one-hot": Task.CATEGORICAL, "sparse logits": Task.SPARSE,
    "one-hot logits": Task.CATEGORICAL, "multilabel": Task.MULTILABEL,
}  # fmt: skip


def test_unit_weights_equal_no_weights() -> None:
    rng = np.random.default_rng(6)
    y, p = rng.integers(0, 2, 257), rng.uniform(0.01, 0.99, 257)
    for compat in Compat:
        opts = LossOptions(task=Task.BINARY, compat=compat)
        plain = score_arrays(y, p, opts)
        ones = score_arrays(y, p, opts, weights=np.ones(257))
        assert plain.mean_loss == ones.mean_loss
        assert plain.sum_loss == ones.sum_loss


def test_sparse_equals_one_hot_categorical() -> None:
    rng = np.random.default_rng(7)
    k = 5
    y = rng.integers(0, k, 400)
    p = rng.dirichlet(np.ones(k), 400)
    for compat in Compat:
        if not has_task(compat, Task.SPARSE):
            continue
        sparse = score_arrays(y, p, LossOptions(task=Task.SPARSE, compat=compat))
        onehot = score_arrays(np.eye(k)[y], p, LossOptions(task=Task.CATEGORICAL, compat=compat))
        assert sparse.mean_loss == pytest.approx(onehot.mean_loss, rel=1e-6), compat


def test_logits_and_probabilities_agree_where_both_are_exact() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(0, 2, 300)
    y = rng.integers(0, 2, 300)
    from_logits = score_arrays(y, x, LossOptions(task=Task.BINARY, from_logits=True))
    from_probs = mean_loss(y, sp.expit(x))
    assert from_logits.mean_loss == pytest.approx(from_probs, rel=1e-12)


def test_float32_and_float64_agree_to_float32_precision() -> None:
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 1000)
    p = rng.uniform(0.01, 0.99, 1000)
    f32 = score_arrays(y, p, LossOptions(task=Task.BINARY, dtype="float32")).mean_loss
    f64 = mean_loss(y, p)
    assert f32 == pytest.approx(f64, rel=1e-6)


# --- hypothesis properties --------------------------------------------------------------------

probabilities = hnp.arrays(
    np.float64, hs.integers(1, 60), elements=hs.floats(0, 1, allow_nan=False)
)


@settings(max_examples=200, deadline=None)
@given(probabilities, hs.data())
def test_loss_is_never_negative(p: np.ndarray, data: hs.DataObject) -> None:
    y = data.draw(hnp.arrays(np.float64, len(p), elements=hs.floats(0, 1, allow_nan=False)))
    for compat in (Compat.EXACT, Compat.KERAS, Compat.KERAS2, Compat.TORCH):
        scorer = Scorer(LossOptions(task=Task.BINARY, compat=compat), 1)
        scored = scorer.score(Chunk(0, y[:, None], p[:, None]))
        # float32 round-off may give -0.0 or a value a few ulps below 0 for exact hits
        assert np.all(scored.loss >= -1e-6), (compat, scored.loss)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.int64, hs.integers(1, 60), elements=hs.integers(0, 1)))
def test_perfect_predictions_cost_zero(y: np.ndarray) -> None:
    assert mean_loss(y, y.astype(float)) == 0.0


@settings(max_examples=100, deadline=None)
@given(probabilities, hs.randoms())
def test_row_order_does_not_change_the_mean(p: np.ndarray, rnd: object) -> None:
    rng = np.random.default_rng(len(p))
    y = rng.integers(0, 2, len(p))
    order = rng.permutation(len(p))
    a = mean_loss(y, p)
    b = mean_loss(y[order], p[order])
    if math.isinf(a):
        assert a == b
    else:
        assert a == pytest.approx(b, rel=1e-12, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(hs.integers(2, 6), hs.integers(1, 40), hs.randoms())
def test_permuting_classes_and_labels_together(k: int, n: int, rnd: object) -> None:
    rng = np.random.default_rng(k * 100 + n)
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.ones(k), n)
    perm = rng.permutation(k)
    inverse = np.argsort(perm)
    a = score_arrays(y, p, LossOptions(task=Task.SPARSE)).mean_loss
    b = score_arrays(inverse[y], p[:, perm], LossOptions(task=Task.SPARSE)).mean_loss
    assert a == pytest.approx(b, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(hs.integers(1, 20000), hs.lists(hs.integers(1, 20000), max_size=6))
def test_chunked_equals_one_shot_exactly(n: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n).astype(float)[:, None]
    p = rng.uniform(0.001, 0.999, n)[:, None]
    whole = Scorer(EXACT_BINARY, 1)
    whole.score(Chunk(0, y, p))
    bounds = sorted({0, n, *(c % n for c in cuts)})
    pieces = Scorer(EXACT_BINARY, 1)
    for a, b in zip(bounds, bounds[1:], strict=False):
        pieces.score(Chunk(a, y[a:b], p[a:b]))
    r1, r2 = whole.report(), pieces.report()
    assert r1.mean_loss == r2.mean_loss  # bit for bit
    assert r1.sum_loss == r2.sum_loss
    assert r1.n == r2.n and r1.n_above_1 == r2.n_above_1
    flags = [[(f.id, f.count, f.rows) for f in r.flags] for r in (r1, r2)]
    assert flags[0] == flags[1]
    assert r1.median_loss == r2.median_loss
    assert r1.worst == r2.worst
    assert r1.brier == pytest.approx(r2.brier, rel=1e-12)


def test_merged_partitions_equal_one_pass() -> None:
    rng = np.random.default_rng(10)
    n = 50_000
    y = rng.integers(0, 2, n).astype(float)[:, None]
    p = rng.uniform(0.001, 0.999, n)[:, None]
    whole = Scorer(EXACT_BINARY, 1)
    whole.score(Chunk(0, y, p))
    parts = []
    for a, b in [(30_000, 50_000), (0, 12_345), (12_345, 30_000)]:  # merged out of order
        s = Scorer(EXACT_BINARY, 1)
        s.score(Chunk(a, y[a:b], p[a:b]))
        parts.append(s)
    merged = parts[0]
    for other in parts[1:]:
        merged.accumulator.merge(other.accumulator)
    assert merged.report().mean_loss == whole.report().mean_loss


@pytest.mark.parametrize("task", [Task.BINARY, Task.SPARSE])
def test_threaded_scoring_equals_one_thread(task: Task) -> None:
    rng = np.random.default_rng(12)
    n, k = 70_001, 4
    if task is Task.BINARY:
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(0.0005, 0.9995, n)[:, None]
        p[17] = np.nan
    else:
        y = rng.integers(0, k, n).astype(float)[:, None]
        p = rng.dirichlet(np.ones(k), n)
    chunks = [Chunk(a, y[a : a + 5000], p[a : a + 5000]) for a in range(0, n, 5000)]
    reports = []
    losses = []
    for workers in (1, 2, 3):
        scorer = Scorer(LossOptions(task=task), p.shape[1])
        out = list(scorer.score_all(iter(chunks), workers=workers))
        assert [s.chunk.start for s in out] == [c.start for c in chunks]  # input order
        losses.append(np.concatenate([s.loss for s in out]))
        reports.append(scorer.report())
    for r, loss in zip(reports[1:], losses[1:], strict=True):
        np.testing.assert_array_equal(loss, losses[0])
        assert r.mean_loss == reports[0].mean_loss and r.sum_loss == reports[0].sum_loss
        assert r.flags == reports[0].flags and r.worst == reports[0].worst
        assert r.histogram == reports[0].histogram and r.median_loss == reports[0].median_loss
        assert r.brier == reports[0].brier and r.calibration == reports[0].calibration
        assert r.entropy_floor == reports[0].entropy_floor and r.prior == reports[0].prior


def tally_values(acc: object) -> dict[str, object]:
    """Every statistic of an accumulator's tally and headline, as plain values."""
    from dataclasses import fields

    from bcecli.core.accumulator import Accumulator
    from bcecli.core.blocksum import BlockSum
    from bcecli.core.class_scores import ClassScores, analyse_classes
    from bcecli.core.score_summary import ScoreSummaries
    from bcecli.core.summary import Range

    assert isinstance(acc, Accumulator)
    out: dict[str, object] = {"head": acc.head.totals().tolist(), "rows": acc.rows}
    for f in fields(acc.tally):
        v = getattr(acc.tally, f.name)
        if isinstance(v, BlockSum):
            out[f.name] = (v.seen, v.totals().tolist())
        elif isinstance(v, Range):
            out[f.name] = None if v.lo is None or v.hi is None else (v.lo.tolist(), v.hi.tolist())
        elif isinstance(v, np.ndarray):
            out[f.name] = v.tolist()
        elif isinstance(v, ScoreSummaries):  # what the report reads: each output's table
            tables = [s.table() for s in v.outputs]
            out[f.name] = (
                v.usable,
                [(t.score.tolist(), t.pos.tolist(), t.neg.tolist()) for t in tables],
            )
        elif isinstance(v, ClassScores):  # what the report reads: the analysis and tables
            tables = [s.table() for s in (*v.ovr, v.top)]
            out[f.name] = (
                repr(analyse_classes(v)),
                [(t.score.tolist(), t.pos.tolist(), t.neg.tolist()) for t in tables],
            )
        else:
            out[f.name] = v
    return out


def _same(a: dict[str, object], b: dict[str, object]) -> None:
    """Equal to the last bit (NaN equal to NaN)."""
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(
            np.array(a[name], dtype=object), np.array(b[name], dtype=object), err_msg=name
        )
        assert repr(a[name]) == repr(b[name]), name


@pytest.mark.parametrize(
    ("task", "compat"),
    [
        (task, compat)
        for task in (
            *(Task.BINARY, "float32", Task.SPARSE, "one-hot", "saturated", "missing"),
            *("logits", "sparse logits", "one-hot logits", "weighted", "soft", "multilabel"),
        )
        for compat in Compat
        if has_task(compat, TALLY_TASKS.get(getattr(task, "value", task), Task.BINARY))
        # CatBoost and optax score an exact 0 or 1 on the right side as nan (0 * inf)
        if not (task in ("saturated", "float32") and compat.library and compat.library.raw_scores)
        # the GBDT libraries raise for the soft label rows of this input
        if not (task == "one-hot" and compat.library and not compat.library.label_rows)
        if not (str(task).endswith("logits") and compat is Compat.SKLEARN)  # no logits there
        # cross_entropy raises for the -1 label and the negative weights these inputs hold
        if not (task in ("soft", "weighted") and compat is Compat.LIGHTGBM_XENTROPY)
        if not (task == "soft" and compat in (Compat.SKLEARN, Compat.TORCH))  # they raise
        if not (task == "multilabel" and compat is Compat.SKLEARN)
    ],
)
def test_every_tally_is_the_same_bits_whatever_the_chunking(
    compat: Compat, task: Task | str
) -> None:
    """The summary's determinism rule: the same rows scored whole, in chunks of any size, or
    as partitions merged in any order give every tally (float sums included) and the report
    to the last bit, on inputs that exercise every branch: 0/1 and soft labels, saturated,
    missing and out-of-range values, weights, float32, logits, class indices and one-hot."""
    from bcecli.core.accumulator import Accumulator

    rng = np.random.default_rng(13)
    n, k = 20_000, 6
    weights: np.ndarray | None = None

    from_logits = str(task).endswith("logits")
    if task == "logits":
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.normal(0, 4, n)[:, None]
        p[:8, 0] = [0.0, 1e-20, -1e-20, 40.0, -40.0, 800.0, -800.0, 0.5]  # ties, saturation
        p[8:18, 0] = rng.uniform(0, 1, 10)  # logits that look like probabilities
    elif task == "soft":  # soft and -1 labels, beside 0/1 ones, in some chunks only
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n)[:, None]
        y[[5, 4100, 4101, 9000], 0] = [0.3, 0.5, 0.999, -1.0]
        p[[6, 4102], 0] = [0.5, 0.0]
    elif task == "multilabel":  # three outputs, one soft label, rows summing to 1
        task = Task.MULTILABEL
        y = rng.integers(0, 2, (n, 3)).astype(float)
        p = rng.dirichlet(np.ones(3), n)
        y[[10, 7000], 1] = 0.25
    elif task == "weighted":  # sample weights: zero, negative, missing, beside missing values
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n)[:, None]
        weights = rng.uniform(0.2, 3.0, n)
        weights[[11, 12, 4000]] = 0.0
        p[[11, 4000], 0], y[[11, 4000], 0] = 0.0, 1.0  # an infinite loss that weighs nothing
        weights[[5, 9000]] = [-1.5, -0.25]
        weights[[7, 7001]] = [np.nan, np.inf]
        p[[8, 14_000], 0] = np.nan
    elif task == "missing":  # rows excluded for a missing or infinite value
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n)[:, None]
        p[[7, 2999, 5000, 5001, 11_000], 0] = [np.nan, np.nan, np.inf, -np.inf, np.nan]
        y[[8, 3000, 11_000], 0] = np.nan
        p[12_000:15_000, 0] = np.nan  # a whole chunk
        p[[9, 5002], 0] = [0.0, 1.0]  # saturated rows beside them
        y[[9, 5002], 0] = [1.0, 0.0]
    elif task == "saturated":  # predictions of exactly 0 and 1, right and wrong, in some chunks
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n)[:, None]
        p[[5, 3100, 9000, 9001], 0] = [0.0, 1.0, 0.0, 1.0]
        y[[5, 3100, 9000, 9001], 0] = [0.0, 1.0, 1.0, 0.0]  # two right, two wrong
        p[15_000:15_100, 0] = 1.0  # a run of them: the top calibration bin
    elif task == "float32":  # float32 probabilities
        task = Task.BINARY
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n).astype(np.float32)[:, None]
        p[:40, 0] = rng.uniform(1e-7, 1e-4, 40)  # the log1p corner, and Keras' clip
        p[[40, 41, 42, 43], 0] = [0.0, 1.0, 0.5, 0.1]
        y[[40, 41, 42, 43], 0] = [1.0, 1.0, 0.0, 1.0]
        p[5000:5003, 0] = np.nan  # excluded rows
    elif task is Task.BINARY:
        y = rng.integers(0, 2, n).astype(float)[:, None]
        p = rng.uniform(1e-9, 1 - 1e-9, n)[:, None]
        p[:50, 0] = rng.uniform(1e-7, 1e-4, 50)  # the log1p corner, and Keras' clip
        p[50:70, 0] = 0.5  # a tie: correct for label 0, wrong for label 1
        edges = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.09999999999999999, 0.7000000000000001]
        p[70:80, 0] = edges  # on and next to the calibration bin edges
    elif from_logits:  # several classes
        y = rng.integers(0, k, n).astype(float)[:, None]
        p = rng.normal(0, 3, (n, k))
        p[:4] = [[800.0] * k, [-800.0] * k, [0.0] * k, [50.0, -50.0, 0.0, 0.0, 0.0, 0.0]]
        if task == "one-hot logits":  # float32 logits: the loss in float32 under Keras
            task = Task.CATEGORICAL
            y = np.eye(k)[y[:, 0].astype(int)]
            p = p.astype(np.float32)
        else:
            task = Task.SPARSE
    else:
        y = rng.integers(0, k, n).astype(float)[:, None]
        p = rng.dirichlet(np.ones(k) * 0.3, n)
        p = np.clip(p, 1e-12, None)
        p[::7] *= 0.98  # some rows that do not sum to 1
        if task == "one-hot":
            task = Task.CATEGORICAL
            y = np.eye(k)[y[:, 0].astype(int)]
            if compat is not Compat.SKLEARN:  # (log_loss raises on these)
                y[3001] = 0.5  # a soft row: its chunk takes the general path
                y[6001] = [1, 1, -1, 0, 0, 0]  # sums to 1, but is not one-hot
    opts = LossOptions(task=task, compat=compat, from_logits=from_logits)

    def cut(w: np.ndarray | None, a: int, b: int) -> np.ndarray | None:
        return None if w is None else w[a:b]

    def scored(bounds: list[int]) -> tuple[list[Accumulator], np.ndarray, np.ndarray]:
        parts, losses, p_true = [], [], []
        for a, b in zip(bounds, bounds[1:], strict=False):
            scorer = Scorer(opts, p.shape[1])
            out = scorer.score(Chunk(a, y[a:b], p[a:b], cut(weights, a, b)))
            parts.append(scorer.accumulator)
            losses.append(out.loss)
            p_true.append(out.p_true)
        return parts, np.concatenate(losses), np.concatenate(p_true)

    def merged(parts: list[Accumulator], order: list[int]) -> Accumulator:
        acc = Accumulator(opts, p.shape[1])
        for i in order:
            acc.merge(parts[i])
        return acc

    whole, whole_loss, whole_p = scored([0, n])
    reference = tally_values(whole[0])
    from bcecli.core.report import Context, finalize

    want = finalize(whole[0], Context())
    cuts = np.random.default_rng(5).choice(np.arange(1, n), 9, replace=False)
    for bounds in (
        list(range(0, n, 3000)) + [n],
        list(range(0, n, 4096)) + [n],
        [0, *sorted(cuts.tolist()), n],
    ):
        parts, loss, p_t = scored(bounds)
        np.testing.assert_array_equal(loss, whole_loss)
        np.testing.assert_array_equal(np.signbit(loss), np.signbit(whole_loss))  # 0 and -0
        np.testing.assert_array_equal(p_t, whole_p)
        for order in (list(range(len(parts))), list(range(len(parts)))[::-1]):
            acc = merged(parts, order)
            _same(tally_values(acc), reference)
            got = finalize(acc, Context())
            assert got == want


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6, 16, 17, 40])
def test_column_reductions_equal_numpys(k: int) -> None:
    from bcecli.core import colwise
    from bcecli.core.colwise import column_count, column_max, column_min, row_count

    rng = np.random.default_rng(21)
    a = rng.normal(size=(1000, k))
    a[3, 0] = np.nan  # NaN wins a min or max, as in numpy
    for got, expected in [
        (column_min(a), a.min(axis=0)),
        (column_max(a), a.max(axis=0)),
        (column_count(a > 0), np.count_nonzero(a > 0, axis=0)),
        (column_min(a[::3]), a[::3].min(axis=0)),  # a strided view
    ]:
        np.testing.assert_array_equal(got, expected)
        assert got.shape == (k,)
    np.testing.assert_array_equal(row_count(a > 0), np.count_nonzero(a > 0, axis=1))
    np.testing.assert_array_equal(colwise.row_min(a), a.min(axis=1))
    np.testing.assert_array_equal(colwise.row_max(a), a.max(axis=1))
    finite = np.round(np.nan_to_num(a), 1)  # ties, to keep the first
    pred, top = colwise.row_argmax(finite)
    np.testing.assert_array_equal(pred, finite.argmax(axis=1))
    np.testing.assert_array_equal(top, finite.max(axis=1))
    np.testing.assert_allclose(colwise.row_sum(a), a.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(colwise.column_sum(a), a.sum(axis=0), rtol=1e-12, atol=1e-12)
    top, low = np.abs(a[:, 0]) + 1, np.abs(a[:, -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = float(np.where(low > 0, top / low, np.inf).max())
    np.testing.assert_equal(colwise.largest_ratio(top, low), expected)  # NaN in a NaN row
    low[5] = 0.0
    assert colwise.largest_ratio(top, low) == np.inf


@pytest.mark.parametrize("compat", list(Compat))
@pytest.mark.parametrize(
    "task", [Task.BINARY, Task.MULTILABEL, Task.SPARSE, Task.CATEGORICAL, "logits"]
)
def test_a_certain_right_prediction_costs_0_not_minus_0(compat: Compat, task: Task | str) -> None:
    """-log(1) is -0.0 in IEEE arithmetic; per-sample output would print it as -0."""
    from_logits = task == "logits"
    if from_logits and compat is Compat.SKLEARN:
        return  # log_loss takes no logits (an error, tested elsewhere)
    if not has_task(compat, Task.BINARY if from_logits else Task(task)):
        return  # the library has no such metric (a usage error, tested elsewhere)
    if task is Task.BINARY or from_logits:
        y, p = np.array([[1.0], [0.0], [1.0]]), np.array([[1.0], [0.0], [0.5]])
        if from_logits:
            p = np.array([[800.0], [-800.0], [0.0]])
        task = Task.BINARY
    elif task is Task.MULTILABEL:
        y, p = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.5, 1.0]])
    else:
        y, p = np.array([[1.0], [0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
        if task is Task.CATEGORICAL:
            y = np.array([[0.0, 1.0], [1.0, 0.0]])
    opts = LossOptions(task=task, compat=compat, from_logits=from_logits)
    scored = Scorer(opts, p.shape[1]).score(Chunk(0, y, p))
    zero = scored.loss == 0
    assert not np.signbit(scored.loss[zero]).any(), scored.loss


def test_threaded_scoring_gives_the_same_bits_whatever_the_timing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks that take unequal, random times still land in the same thread's accumulator in
    the same order: the float tallies (Brier, calibration means) repeat to the last bit."""
    import random
    import time

    from bcecli.core.accumulator import Accumulator

    rng = np.random.default_rng(14)
    n = 40_000
    y = rng.integers(0, 2, n).astype(float)[:, None]
    p = rng.uniform(0.0005, 0.9995, n)[:, None]
    chunks = [Chunk(a, y[a : a + 1000], p[a : a + 1000]) for a in range(0, n, 1000)]
    score_into = Scorer.score_into
    jitter = random.Random(3)

    def slow_score_into(self: Scorer, acc: Accumulator, chunk: Chunk) -> ScoredChunk:
        time.sleep(jitter.random() * 0.002)
        return score_into(self, acc, chunk)

    monkeypatch.setattr(Scorer, "score_into", slow_score_into)
    runs = []
    for _ in range(4):
        scorer = Scorer(LossOptions(task=Task.BINARY), 1)
        for _ in scorer.score_all(iter(chunks), workers=2):
            pass
        acc = scorer.accumulator
        runs.append(tally_values(acc))
    for r in runs[1:]:
        _same(r, runs[0])


@pytest.mark.parametrize("seed", range(6))
def test_worst_k_is_the_k_largest_losses_first_row_first(seed: int) -> None:
    """WorstK, fed chunk by chunk in row order and merged from pieces out of order, keeps the
    k largest losses, the earlier row first among equal losses, never a NaN."""
    from bcecli.core.accumulator import WorstK

    rng = np.random.default_rng(seed)
    n = 5000
    loss = np.minimum(np.round(rng.exponential(1.0, n), 1), 3.0)  # ties: some 250 at 3.0
    loss[rng.choice(n, 300, replace=False)] = np.nan
    loss[rng.choice(n, 3, replace=False)] = np.inf
    rows = np.arange(n)
    ok = ~np.isnan(loss)
    order = np.lexsort((rows[ok], -loss[ok]))[:10]
    want_rows, want_loss = rows[ok][order], loss[ok][order]

    def fed(pieces: list[tuple[int, int]]) -> WorstK:
        w = WorstK()
        for a, b in pieces:
            part = loss[a:b]
            col = part[:, None]
            w.offer(a, part, col, col, part, max_loss=float(np.nanmax(part)))
        return w

    cuts = np.sort(rng.choice(np.arange(1, n), 12, replace=False))
    pieces = list(zip([0, *cuts], [*cuts, n], strict=True))
    streamed = fed(pieces)
    np.testing.assert_array_equal(streamed.rows, want_rows)
    np.testing.assert_array_equal(streamed.loss, want_loss)
    merged = fed(pieces[6:])
    merged.merge(fed(pieces[:6]))  # the later rows first
    np.testing.assert_array_equal(merged.rows, want_rows)


@pytest.mark.parametrize(
    "losses", [[], [0.0, -0.0], [1e-30, 0.5, 2.0, np.inf], [5e-324, 1e300], [0.3] * 5]
)
def test_a_loss_sketch_survives_pickling(losses: list[float]) -> None:
    """A sketch is sent between processes with only the buckets in use; it comes back whole."""
    import pickle

    from bcecli.core.sketch import LossSketch

    sketch = LossSketch()
    sketch.add(np.array(losses, dtype=np.float64))
    back = pickle.loads(pickle.dumps(sketch, protocol=pickle.HIGHEST_PROTOCOL))
    np.testing.assert_array_equal(back.counts, sketch.counts)
    assert back.counts.dtype == np.int64 and back.counts.shape == sketch.counts.shape
    assert (back.n, back.n_inf) == (sketch.n, sketch.n_inf) == (len(losses), losses.count(np.inf))
    if losses:
        assert back.quantile(0.5) == sketch.quantile(0.5)
    sketch.buckets_only()  # as on a child process: the median from the buckets alone
    back = pickle.loads(pickle.dumps(sketch))
    np.testing.assert_array_equal(back.counts, sketch.counts)
    assert back.exact_values is None
