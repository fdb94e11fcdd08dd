"""The compiled loops of bcecli/core/_tally.c against the numpy code they replace."""

from __future__ import annotations

import numpy as np
import pytest

from bcecli.core import native, sketch
from bcecli.core.binary import true_class_probability
from bcecli.core.binary_scoring import _numpy_tallies

kernels = native.tally
NOT_IN_USE = "the compiled loops are not in use (not built, or BCE_PURE_NUMPY is set)"
pytestmark = pytest.mark.skipif(kernels is None, reason=NOT_IN_USE)


def _chunk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = rng.random(n)
    # calibration bin edges and their neighbours, exact 0, 0.5 and 1, for both labels
    special = [0.0, 1.0, 0.5, 0.5, 0.1, 0.7000000000000001, 0.09999999999999999, 0.9, 1e-300]
    p[: len(special)] = special
    y[: len(special)] = [1, 0, 1, 0, 1, 0, 1, 0, 1]
    return y, p


def test_inspect_matches_numpy() -> None:
    assert kernels is not None
    y, p = _chunk(70_001, 1)
    y[5] = 0.25  # neither 0 nor 1
    x_min, x_max, n_pos, n_neg, *no_tallies = kernels.inspect(y, p)
    assert (x_min, x_max) == (p.min(), p.max())
    assert n_pos == np.count_nonzero(y == 1) and n_neg == np.count_nonzero(y == 0)
    assert no_tallies == [0.0, 0, 0, 0]
    q = np.full(len(p), np.nan)
    assert kernels.inspect(y, p, q)[:4] == (x_min, x_max, n_pos, n_neg)
    q_ref = true_class_probability(y, p)
    np.testing.assert_array_equal(q[y != 0.25], q_ref[y != 0.25])  # bit for bit
    np.testing.assert_array_equal(q[y == 1], p[y == 1])
    np.testing.assert_array_equal(q[y == 0], 1 - p[y == 0])
    with pytest.raises(ValueError, match="q and x differ in length"):
        kernels.inspect(y, p, q[:-1])
    p[40_000] = np.nan
    for tallies in ((), (None, np.zeros(20, dtype=np.int64), np.zeros(20))):
        x_min, x_max, *_ = kernels.inspect(y, p, *tallies)
        assert np.isnan(x_min) and np.isnan(x_max)  # as numpy's min and max
    assert kernels.inspect(y[:0], p[:0]) == (np.inf, -np.inf, 0, 0, 0.0, 0, 0, 0)


def test_inspect_calibrates_as_numpy() -> None:
    assert kernels is not None
    y, p = _chunk(65_536, 2)
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    q = np.empty(len(p))
    x_min, x_max, n_pos, n_neg, brier, n_half, n_half_pos, _ = kernels.inspect(
        y, p, q, counts, sums
    )
    assert (x_min, x_max, n_pos, n_neg) == kernels.inspect(y, p)[:4]
    np.testing.assert_array_equal(q, true_class_probability(y, p))

    want_counts, want_sums, want_brier, want_half, want_half_pos = _numpy_tallies(y, p, p.max())
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_array_equal(sums, want_sums)  # added in row order, as bincount adds
    assert brier == pytest.approx(want_brier, rel=1e-13)
    assert brier == pytest.approx(float(((p - y) ** 2).sum()), rel=1e-12)
    assert (n_half, n_half_pos) == (want_half, want_half_pos) == (2, 1)
    # floor(10 p), by hand, for the edges in _chunk (p = 1 joins the top bin)
    assert counts[2 * 0 + 1] >= 2 and counts[2 * 9 + 0] >= 2  # 1e-300, 0.0999..; 1.0, 0.9
    bins = np.minimum(np.floor(p * 10), 9).astype(int)
    np.testing.assert_array_equal(counts, np.bincount(2 * bins + (y == 1), minlength=20))


def test_inspect_finds_the_rows_that_need_log1p() -> None:
    """The rows where x < below and y is not 1 (the literal formula takes log1p(-x) there), in
    order, as numpy finds them: a NaN label counts (it is not 1), a NaN x does not."""
    assert kernels is not None
    y, p = _chunk(10_001, 9)
    p[::7] = 10.0 ** -np.random.default_rng(10).uniform(2, 12, len(p[::7]))  # 1e-12 to 0.01
    y[[14, 21]] = [np.nan, 0.5]
    p[[28, 35]] = [np.nan, 1e-300]
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    tiny = np.empty(len(p), dtype=np.int64)
    n_tiny = kernels.inspect(y, p, None, counts, sums, tiny, 1e-4)[7]
    want = np.flatnonzero((p < 1e-4) & (y != 1))
    assert 500 < len(want) == n_tiny
    np.testing.assert_array_equal(tiny[:n_tiny], want)
    with pytest.raises(ValueError, match="tiny and x differ in length"):
        kernels.inspect(y, p, None, counts, sums, tiny[:-1], 1e-4)
    with pytest.raises(TypeError, match="tiny needs cal_n and cal_p"):
        kernels.inspect(y, p, None, None, None, tiny, 1e-4)


def test_inspect_calibration_adds_to_what_is_there() -> None:
    assert kernels is not None
    y, p = _chunk(10_000, 3)
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    for half in (slice(0, 5000), slice(5000, None)):
        kernels.inspect(y[half], p[half], None, counts, sums)
    whole_counts, _, _, _, _ = _numpy_tallies(y, p, p.max())
    np.testing.assert_array_equal(counts, whole_counts)


def test_inspect_gives_any_value_a_bin() -> None:
    """Values the caller drops (a NaN, out of [0, 1], huge) still land in a bin: every row is
    counted once, and nothing is written out of bounds."""
    assert kernels is not None
    x = np.array([np.nan, -np.inf, np.inf, -5.0, 1e300, -1e300, 1.5, 2.0**63, 0.95])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    kernels.inspect(y, x, None, counts, sums)
    assert counts.sum() == len(x)
    assert counts[1] == 1 and counts[0] == 3  # NaN (label 1); -inf, -5, -1e300 (label 0)
    assert counts[19] == 4 and counts[18] == 1  # inf, 1e300, 1.5, 0.95; 2**63


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 8, 1023, 65_536, 70_001])
def test_inspect_vector_and_row_loops_agree(n: int) -> None:
    """inspect's AVX2 loop gives the row-at-a-time loop's results to the last bit: the counts,
    the range, the Brier lanes and the table's sums in row order; any length (the rows past a
    multiple of 4 go one at a time)."""
    assert kernels is not None
    if not kernels.simd(True):
        pytest.skip("this CPU has no AVX2: only the row-at-a-time loop runs")
    y, p = _chunk(max(n, 9), 6)
    y, p = y[:n], p[:n]
    if n > 40:  # values the caller drops must not upset the rest
        p[[20, 21, 22, 23, 30]] = [np.nan, np.inf, -np.inf, 5.0, -1e300]
        y[[24, 25]] = [0.5, np.nan]
    results = []
    try:
        for vector in (True, False):
            assert kernels.simd(vector) is vector
            counts, sums, q = np.zeros(20, dtype=np.int64), np.zeros(20), np.empty(n)
            tiny = np.full(n, -1, dtype=np.int64)
            got = kernels.inspect(y, p, q, counts, sums, tiny, 0.05)
            results.append((got, counts, sums, q, tiny[: got[7]]))
    finally:
        kernels.simd(True)
    (a, a_counts, a_sums, a_q, a_tiny), (b, b_counts, b_sums, b_q, b_tiny) = results
    np.testing.assert_array_equal(np.array(a), np.array(b))  # NaN range included
    np.testing.assert_array_equal(a_counts, b_counts)
    np.testing.assert_array_equal(a_sums, b_sums)
    np.testing.assert_array_equal(a_q, b_q)
    np.testing.assert_array_equal(a_tiny, b_tiny)
    np.testing.assert_array_equal(a_tiny, np.flatnonzero((p < 0.05) & (y != 1)))
    if n > 40:
        assert np.isnan(a[0]) and a[4] != a[4]  # a NaN makes the range and Brier NaN
        y2, p2 = y[40:], p[40:]  # the clean rows: the numbers themselves
        clean_counts = np.zeros(20, dtype=np.int64)
        clean = kernels.inspect(y2, p2, None, clean_counts, np.zeros(20))
        want_counts, _, want_brier, _, _ = _numpy_tallies(y2, p2, p2.max())
        np.testing.assert_array_equal(clean_counts, want_counts)
        assert clean[:2] == (p2.min(), p2.max())
        assert clean[4] == pytest.approx(want_brier, rel=1e-13)


@pytest.mark.parametrize("n", [0, 3, 4, 7, 4096, 65_537])
@pytest.mark.parametrize("threshold", [-np.inf, 2.5, np.inf])
def test_losses_vector_and_row_loops_agree(n: int, threshold: float) -> None:
    """The AVX2 loss loop gives the row-at-a-time loop's sketch, counts, range and rows above
    the threshold, for every kind of value (its 64-bit shifts are logical: a sign is handled
    apart)."""
    assert kernels is not None
    if not kernels.simd(True):
        pytest.skip("this CPU has no AVX2: only the row-at-a-time loop runs")
    rng = np.random.default_rng(8)
    loss = rng.exponential(1.0, n)
    special = [0.0, -0.0, -5.0, 2.0**-70, 5e-324, 2.0**16, 1e300, np.inf, 2.5, 2.5000000000000004]
    loss[: min(n, len(special))] = special[:n]
    results = []
    try:
        for vector in (True, False):
            assert kernels.simd(vector) is vector
            buckets = np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64)
            above = np.full(16, -1, dtype=np.int64)
            results.append((kernels.losses(loss, buckets, threshold, above), buckets, above))
    finally:
        kernels.simd(True)
    (a, a_buckets, a_above), (b, b_buckets, b_above) = results
    assert a == b
    np.testing.assert_array_equal(a_buckets, b_buckets)
    np.testing.assert_array_equal(a_above, b_above)
    np.testing.assert_array_equal(a_buckets, _losses_reference(loss).counts)


def _losses_reference(loss: np.ndarray) -> sketch.LossSketch:
    reference = sketch.LossSketch()
    reference.add(loss)
    return reference


def test_losses_match_the_sketch() -> None:
    assert kernels is not None
    y, p = _chunk(65_536, 4)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, p, 1 - p))  # two infinite losses
    # losses in each end bucket: zero, negative zero, below 2**-64, at and past 2**16
    loss[100:106] = [0.0, -0.0, 2.0**-70, 2.0**16, 1e6, 5e-324]
    buckets = np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64)
    above = np.empty(64, dtype=np.int64)
    n_inf, lo, hi, _ = kernels.losses(loss, buckets, np.inf, above)
    reference = _losses_reference(loss)
    np.testing.assert_array_equal(buckets, reference.counts)
    assert n_inf == reference.n_inf == 2  # p = 0 for a positive, p = 1 for a negative
    assert (lo, hi) == (loss.min(), loss.max()) == (-0.0, np.inf)
    kernels.losses(loss[:1000], buckets, np.inf, above)  # adds to what is there
    both = _losses_reference(np.concatenate([loss, loss[:1000]]))
    np.testing.assert_array_equal(buckets, both.counts)


@pytest.mark.parametrize("threshold", [-np.inf, 0.0, 3.0, 7.5, 2.0**16, np.inf])
def test_losses_find_the_rows_above_a_threshold(threshold: float) -> None:
    assert kernels is not None
    rng = np.random.default_rng(5)
    loss = rng.exponential(1.0, 20_000)
    loss[[3, 19_999]] = np.inf
    loss[[10, 11]] = [7.5, np.nextafter(7.5, np.inf)]  # at and just above a threshold
    want = np.flatnonzero(loss > threshold)
    for room in (0, 5, 64, len(loss)):
        above = np.full(room, -1, dtype=np.int64)
        *_, n_above = kernels.losses(
            loss, np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64), threshold, above
        )
        assert n_above == len(want)  # all of them, even past the room
        kept = min(room, len(want))
        np.testing.assert_array_equal(above[:kept], want[:kept])  # the first ones, in order
        assert (above[kept:] == -1).all()  # nothing written past them


@pytest.mark.parametrize(
    ("function", "change", "error", "message"),
    [
        ("inspect", {"x": np.zeros(8, dtype=np.float32)}, TypeError, "x: expected a contiguous"),
        ("inspect", {"y": np.zeros(16)[::2]}, ValueError, "contiguous"),
        ("inspect", {"y": np.zeros(7)}, ValueError, "differ in length"),
        ("inspect", {"cal_n": np.zeros(10, dtype=np.int64)}, ValueError, "2 x 10 bins"),
        ("inspect", {"cal_p": np.zeros(20).view(np.int64)}, TypeError, "cal_p: expected"),
        ("inspect", {"cal_p": None}, TypeError, "go together"),
        ("losses", {"loss": np.zeros(8, dtype=np.float32)}, TypeError, "loss: expected"),
        ("losses", {"sketch": np.zeros(10, dtype=np.int64)}, ValueError, "wrong number"),
        ("losses", {"sketch": np.zeros(sketch.N_BUCKETS + 2)}, TypeError, "sketch: expected"),
        ("losses", {"above": np.zeros(8)}, TypeError, "above: expected"),
    ],
)
def test_loops_refuse_what_they_cannot_read(
    function: str, change: dict[str, np.ndarray | None], error: type[Exception], message: str
) -> None:
    assert kernels is not None
    args: dict[str, object]
    if function == "inspect":
        args = {
            "y": np.zeros(8),
            "x": np.zeros(8),
            "q": None,
            "cal_n": np.zeros(20, dtype=np.int64),
            "cal_p": np.zeros(20),
        }
    else:
        args = {
            "loss": np.zeros(8),
            "sketch": np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64),
            "threshold": 0.0,
            "above": np.zeros(8, dtype=np.int64),
        }
    args.update(change)
    with pytest.raises(error, match=message):
        getattr(kernels, function)(*args.values())


def test_loops_do_not_write_into_read_only_arrays() -> None:
    assert kernels is not None
    frozen = np.zeros(20)
    frozen.flags.writeable = False
    with pytest.raises((TypeError, BufferError, ValueError)):
        kernels.inspect(np.zeros(8), np.zeros(8), None, np.zeros(20, dtype=np.int64), frozen)
    frozen_buckets = np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64)
    frozen_buckets.flags.writeable = False
    with pytest.raises((TypeError, BufferError, ValueError)):
        kernels.losses(np.ones(8), frozen_buckets, 0.0, np.zeros(8, dtype=np.int64))
    assert not frozen.any() and not frozen_buckets.any()
