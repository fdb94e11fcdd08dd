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
    x_min, x_max, n_pos, n_neg = kernels.inspect(y, p)
    assert (x_min, x_max) == (p.min(), p.max())
    assert n_pos == np.count_nonzero(y == 1) and n_neg == np.count_nonzero(y == 0)
    q = np.full(len(p), np.nan)
    assert kernels.inspect(y, p, q) == (x_min, x_max, n_pos, n_neg)
    q_ref = true_class_probability(y, p)
    np.testing.assert_array_equal(q[y != 0.25], q_ref[y != 0.25])  # bit for bit
    np.testing.assert_array_equal(q[y == 1], p[y == 1])
    np.testing.assert_array_equal(q[y == 0], 1 - p[y == 0])
    with pytest.raises(ValueError, match="q and x differ in length"):
        kernels.inspect(y, p, q[:-1])
    p[40_000] = np.nan
    x_min, x_max, _, _ = kernels.inspect(y, p)
    assert np.isnan(x_min) and np.isnan(x_max)  # as numpy's min and max
    assert kernels.inspect(y[:0], p[:0]) == (np.inf, -np.inf, 0, 0)


def test_tally_matches_numpy_and_the_sketch() -> None:
    assert kernels is not None
    y, p = _chunk(65_536, 2)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, p, 1 - p))  # two infinite losses
    # losses in each end bucket: zero, negative zero, below 2**-64, at and past 2**16
    loss[100:106] = [0.0, -0.0, 2.0**-70, 2.0**16, 1e6, 5e-324]
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    buckets = np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64)
    brier, n_half, n_half_pos, n_inf, lo, hi = kernels.tally(y, p, loss, buckets, counts, sums)

    want_counts, want_sums, want_brier, want_half, want_half_pos = _numpy_tallies(y, p, p.max())
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_array_equal(sums, want_sums)  # added in row order, as bincount adds
    assert brier == pytest.approx(want_brier, rel=1e-13)
    assert brier == pytest.approx(float(((p - y) ** 2).sum()), rel=1e-12)
    assert (n_half, n_half_pos) == (want_half, want_half_pos) == (2, 1)
    reference = sketch.LossSketch()
    reference.add(loss)
    np.testing.assert_array_equal(buckets, reference.counts)
    assert n_inf == reference.n_inf == 2  # p = 0 for a positive, p = 1 for a negative
    assert (lo, hi) == (loss.min(), loss.max()) == (-0.0, np.inf)


def test_tally_adds_to_what_is_there() -> None:
    assert kernels is not None
    y, p = _chunk(10_000, 3)
    loss = -np.log(np.where(y == 1, p, 1 - p) + 0.5)
    counts, sums = np.zeros(20, dtype=np.int64), np.zeros(20)
    buckets = np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64)
    for half in (slice(0, 5000), slice(5000, None)):
        kernels.tally(y[half], p[half], loss[half], buckets, counts, sums)
    whole_counts, _, _, _, _ = _numpy_tallies(y, p, p.max())
    np.testing.assert_array_equal(counts, whole_counts)
    assert buckets.sum() == 10_000


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"p": np.zeros(8, dtype=np.float32)}, TypeError, "p: expected a contiguous float64"),
        ({"y": np.zeros(16)[::2]}, ValueError, "contiguous"),
        ({"loss": np.zeros(7)}, ValueError, "differ in length"),
        ({"sketch": np.zeros(10, dtype=np.int64)}, ValueError, "wrong number of buckets"),
        ({"sketch": np.zeros(sketch.N_BUCKETS + 2)}, TypeError, "sketch: expected"),
        ({"cal_n": np.zeros(10, dtype=np.int64)}, ValueError, "2 x 10 bins"),
        ({"cal_p": np.zeros(20).view(np.int64)}, TypeError, "cal_p: expected"),
    ],
)
def test_tally_refuses_what_it_cannot_read(
    change: dict[str, np.ndarray], error: type[Exception], message: str
) -> None:
    assert kernels is not None
    args = {
        "y": np.zeros(8),
        "p": np.zeros(8),
        "loss": np.zeros(8),
        "sketch": np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64),
        "cal_n": np.zeros(20, dtype=np.int64),
        "cal_p": np.zeros(20),
    }
    args.update(change)
    with pytest.raises(error, match=message):
        kernels.tally(*args.values())


def test_tally_does_not_write_into_read_only_arrays() -> None:
    assert kernels is not None
    frozen = np.zeros(20)
    frozen.flags.writeable = False
    with pytest.raises((TypeError, BufferError, ValueError)):
        kernels.tally(
            np.zeros(8),
            np.zeros(8),
            np.zeros(8),
            np.zeros(sketch.N_BUCKETS + 2, dtype=np.int64),
            np.zeros(20, dtype=np.int64),
            frozen,
        )
    assert not frozen.any()
