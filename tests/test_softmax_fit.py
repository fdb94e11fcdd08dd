"""The softmax temperature and bias-vector fits against scipy.optimize on the per-sample data,
and the row sample's invariances (chunking, merge order, its size bound)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp

from bcecli.core import softmax_fit as sf
from bcecli.core.softmax_fit import RowSample, recalibrate_softmax


def make(n: int, k: int, seed: int, scale: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) and log-probabilities log softmax(scale * z + bias)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    labels = np.array([rng.choice(k, p=sp.softmax(row)) for row in z])
    bias = np.linspace(-0.5, 0.5, k)
    return labels, sp.log_softmax(scale * z + bias, axis=1)


def sample_of(labels: np.ndarray, logp: np.ndarray, chunk: int = 1000, **kw: int) -> RowSample:
    s = RowSample(logp.shape[1], **kw)
    for i in range(0, len(labels), chunk):
        rows = np.arange(i, min(i + chunk, len(labels)))
        s.add(rows, labels[rows], logp[rows])
    return s


def per_sample_loss(labels: np.ndarray, u: np.ndarray) -> float:
    return float(-np.mean(sp.log_softmax(u, axis=1)[np.arange(len(labels)), labels]))


def test_fits_match_scipy_on_every_row() -> None:
    labels, logp = make(3000, 5, 0)
    mean = per_sample_loss(labels, logp)
    r = recalibrate_softmax(sample_of(labels, logp), mean)
    assert r.exact and r.rows == 3000
    res_t = so.minimize_scalar(
        lambda s: per_sample_loss(labels, s * logp),
        bounds=(0.05, 20),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert r.T == pytest.approx(1 / res_t.x, rel=1e-6)
    assert r.temperature_loss == pytest.approx(res_t.fun, abs=1e-12)
    res_b = so.minimize(
        lambda b: per_sample_loss(labels, logp + np.r_[0.0, b]),
        np.zeros(4),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    b = np.r_[0.0, res_b.x]
    assert r.b == pytest.approx(tuple(b - b.mean()), abs=1e-5)
    assert r.bias_loss == pytest.approx(res_b.fun, abs=1e-11)
    assert r.T > 1  # log p = log softmax(2 z + bias): over-confident by a factor of 2


def test_chunking_and_merge_order_do_not_change_the_sample() -> None:
    labels, logp = make(5000, 4, 1)
    whole = sample_of(labels, logp, chunk=5000, capacity=700)
    parts = []  # partitions of 900 rows, each scored with its global row numbers
    for i in range(0, 5000, 900):
        p = RowSample(4, capacity=700)
        rows = np.arange(i, min(i + 900, 5000))
        p.add(rows, labels[rows], logp[rows])
        parts.append(p)
    random.Random(3).shuffle(parts)
    merged = RowSample(4, capacity=700)
    for p in parts:
        merged.merge(p)
    assert merged.n == whole.n == 5000 and not merged.exact
    np.testing.assert_array_equal(merged.keys, whole.keys)
    np.testing.assert_array_equal(merged.scores, whole.scores)
    assert len(merged.keys) == 700
    # the sample is the 700 rows of lowest key
    np.testing.assert_array_equal(merged.keys, np.sort(sf.row_keys(np.arange(5000)))[:700])


def test_sampled_fit_is_close_to_the_full_one() -> None:
    labels, logp = make(40000, 3, 2)
    mean = per_sample_loss(labels, logp)
    full = recalibrate_softmax(sample_of(labels, logp, chunk=8192), mean)
    part = recalibrate_softmax(sample_of(labels, logp, chunk=8192, capacity=8192), mean)
    assert full.exact and not part.exact
    assert part.T == pytest.approx(full.T, rel=0.03)
    assert part.temperature_loss == pytest.approx(full.temperature_loss, abs=5e-3)


def test_zero_probabilities_off_the_true_class_are_allowed() -> None:
    labels, logp = make(500, 3, 4)
    logp[labels != 0, 0] = -np.inf  # p = 0 on a wrong class
    r = recalibrate_softmax(sample_of(labels, logp), per_sample_loss(labels, logp))
    assert math.isfinite(r.T) and math.isfinite(r.bias_loss)
