"""Temperature and bias-vector recalibration of a softmax, fitted on a mergeable row sample.

A softmax's temperature and class biases act on whole rows of K scores, which no per-class
histogram summarises. ``RowSample`` keeps a uniform sample of the rows instead: the
``SAMPLE_ROWS`` rows whose global row number hashes lowest (splitmix64), so the sample is the same
whatever the chunking, the partitions and the order they merge in, and it is every row below
that size. The fits (Newton's method, as for the binary ladder) are on the sample: in sample, and
exact when the file has at most ``SAMPLE_ROWS`` rows.

The scores are log-probabilities (log p) or, with ``from_logits``, the logits; temperature
scaling divides them by T (T > 1: over-confident), the bias vector adds b (fixed to sum to 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

SAMPLE_ROWS = 1 << 16
# the bias fit solves a K x K system per step: past this many classes it is left out (NaN)
MAX_BIAS_CLASSES = 100
MAX_NEWTON = 100
LOSS_TOLERANCE = 1e-13

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def row_keys(rows: np.ndarray) -> np.ndarray:
    """splitmix64 of each row number: a fixed pseudo-random key per row."""
    z = rows.astype(np.uint64) * _GOLDEN  # wraps modulo 2**64, as the hash means to
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


@dataclass(eq=False)
class RowSample:
    """Up to ``capacity`` rows (their key, label, K scores and weight), those of lowest key.

    Rows offered are appended as they come (those below the bound that the last compaction
    set) and compacted to the ``capacity`` of lowest key only when twice that many are held,
    so that a chunk costs its hash and a comparison, not a copy of the sample. ``keys``,
    ``labels``, ``scores`` and ``weights`` give the compacted sample in key order."""

    k: int
    capacity: int = SAMPLE_ROWS
    n: int = 0  # rows offered
    # pieces not yet compacted: (keys, labels, scores, weights)
    _parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )
    _held: int = 0  # rows in _parts
    # every row kept has a key below this (the largest key kept, once the sample is full)
    _bound: int | None = None
    _compacted: bool = False  # _parts is one part, in key order

    def add(
        self,
        rows: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray | Callable[[np.ndarray], np.ndarray],
        w: np.ndarray | None = None,
    ) -> None:
        """Offer rows: their global row numbers, integer labels in [0, K), (n, K) scores (log p
        or logits; or a function giving the scores of the rows at the indices it is given, so
        that only the rows taken are computed) and weights (None: 1 each)."""
        self.n += len(rows)
        keys = row_keys(np.asarray(rows))
        if self._bound is not None:
            take = np.flatnonzero(keys < np.uint64(self._bound))
            if len(take) == 0:
                return
        else:
            take = np.arange(len(keys))
        wt = np.ones(len(take)) if w is None else np.asarray(w, dtype=np.float64)[take]
        taken = scores(take) if callable(scores) else np.asarray(scores)[take]
        self._append(
            keys[take],
            np.asarray(labels, dtype=np.int64)[take],
            np.asarray(taken, dtype=np.float64).reshape(len(take), self.k),
            wt,
        )

    def _append(
        self, keys: np.ndarray, labels: np.ndarray, scores: np.ndarray, w: np.ndarray
    ) -> None:
        self._parts.append((keys, labels, scores, w))
        self._held += len(keys)
        self._compacted = False
        if self._held > 2 * self.capacity:
            self._compact(ordered=False)

    def _compact(
        self, *, ordered: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sample: the ``capacity`` rows of lowest key, in key order (one order whatever
        the arrival: the fits' sums too); ``ordered=False``: in any order (while adding)."""
        if self._compacted:
            return self._parts[0]
        if not self._parts:
            return (
                np.empty(0, dtype=np.uint64),
                np.empty(0, dtype=np.int64),
                np.empty((0, self.k)),
                np.empty(0),
            )
        keys, labels, scores, w = (np.concatenate(a) for a in zip(*self._parts, strict=True))
        if len(keys) > self.capacity:
            keep = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            keys, labels, scores, w = keys[keep], labels[keep], scores[keep], w[keep]
        if len(keys) >= self.capacity:
            self._bound = int(keys.max())
        if not ordered:
            self._parts, self._held = [(keys, labels, scores, w)], len(keys)
            return self._parts[0]
        order = np.argsort(keys)
        part = (keys[order], labels[order], scores[order], w[order])
        self._parts, self._held, self._compacted = [part], len(keys), True
        return part

    @property
    def keys(self) -> np.ndarray:
        return self._compact()[0]

    @property
    def labels(self) -> np.ndarray:
        return self._compact()[1]

    @property
    def scores(self) -> np.ndarray:
        return self._compact()[2]

    @property
    def weights(self) -> np.ndarray:
        return self._compact()[3]

    def merge(self, other: RowSample) -> None:
        if other.k != self.k or other.capacity != self.capacity:
            raise ValueError("cannot merge samples of different shapes")
        self.n += other.n
        for part in other._parts:
            self._append(*part)

    @property
    def exact(self) -> bool:
        """Whether the sample holds every row offered."""
        return len(self.keys) == self.n


@dataclass(frozen=True)
class SoftmaxRecalibration:
    """The loss after temperature scaling (``T``) and after a bias vector (``b``, summing to
    0), each as the report's mean loss plus the change the fit makes on the sample; ``rows``:
    the sample's size, ``exact``: whether it is every row."""

    temperature_loss: float
    T: float
    bias_loss: float
    b: tuple[float, ...]
    rows: int
    exact: bool
    start_loss: float = math.nan  # the literal loss every fitted loss is measured from


def _softmax(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


class _SoftmaxLoss:
    """The weighted log loss of softmax(s z + b) on the sample's rows of finite true score."""

    def __init__(self, sample: RowSample) -> None:
        z, y, w = sample.scores, sample.labels, sample.weights
        true = z[np.arange(len(y)), y]
        ok = np.isfinite(true)  # a true class at log p = -inf: infinite whatever the fit
        self.z, self.y, self.w = z[ok], y[ok], w[ok]
        self.onehot = np.zeros_like(self.z)
        self.onehot[np.arange(len(self.y)), self.y] = 1.0
        # -inf scores (p = 0) stay -inf under any positive scale: their products count as 0
        self.finite_z = np.where(np.isfinite(self.z), self.z, 0.0)
        self.has_zero = bool(np.isneginf(self.z).any())
        self.true_z = self.finite_z[np.arange(len(self.y)), self.y]
        # the softmax of the last point whose loss was taken: a Newton step that is accepted
        # needs it next, so each point costs one exponential
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None

    def loss(self, s: float, b: np.ndarray) -> float:
        if s <= 0 and self.has_zero:  # a p = 0 class would take all the probability
            return math.inf
        u = s * self.z + b
        m = np.max(u, axis=1)
        e = np.exp(u - m[:, None])
        total = e.sum(axis=1)
        lse = m + np.log(total)
        true = u[np.arange(len(self.y)), self.y]
        e /= total[:, None]
        self._last = (s, np.array(b, dtype=np.float64), e)
        return float(np.multiply(self.w, lse - true).sum())

    def probs(self, s: float, b: np.ndarray) -> np.ndarray:
        """softmax(s z + b) (the last loss's, when it was taken at this point)."""
        last = self._last
        if last is not None and last[0] == s and np.array_equal(last[1], b):
            return last[2]
        return _softmax(s * self.z + b)

    def fit_temperature(self) -> float:
        b = np.zeros(self.z.shape[1])
        s = np.array([1.0])
        f = self.loss(1.0, b)
        for _ in range(MAX_NEWTON):
            q = self.probs(float(s[0]), b)
            qz = q * self.finite_z
            mean_z = qz.sum(axis=1)
            var_z = (qz * self.finite_z).sum(axis=1) - mean_z * mean_z
            g = float(np.multiply(self.w, mean_z - self.true_z).sum())
            h = float(np.multiply(self.w, np.maximum(var_z, 0.0)).sum())
            if not h > 0:
                break
            step = np.array([g / h])
            s, f, done = self._descend(lambda v: self.loss(float(v[0]), b), s, step, f, g * g / h)
            if done:
                break
        return float(s[0])

    def fit_bias(self) -> np.ndarray:
        k = self.z.shape[1]
        b = np.zeros(k)
        f = self.loss(1.0, b)
        ones = np.ones((k, k))
        for _ in range(MAX_NEWTON):
            q = self.probs(1.0, b)
            g = (self.w[:, None] * (q - self.onehot)).sum(axis=0)
            wq = self.w[:, None] * q
            h = np.diag(wq.sum(axis=0)) - np.einsum("ni,nj->ij", wq, q)  # no BLAS: see dot()
            # H is singular along (1, .., 1), the shift that changes nothing: adding 11' makes
            # it invertible without changing the step on the others (g sums to 0)
            d = np.linalg.lstsq(h + ones, g, rcond=None)[0]  # a class never predicted: rank < K - 1
            b, f, done = self._descend(
                lambda v: self.loss(1.0, v), b, d, f, float(np.multiply(d, g).sum())
            )
            if done:
                break
        return b - b.mean()

    def _descend(
        self,
        loss: Callable[[np.ndarray], float],
        x: np.ndarray,
        step: np.ndarray,
        f: float,
        decrement: float,
    ) -> tuple[np.ndarray, float, bool]:
        """One Newton step ``x - t * step``, t halved until the loss does not rise: the new x,
        its loss, and whether the fit has converged (``decrement``, twice the decrease the step
        predicts, is below the tolerance, or no step helps)."""
        if not decrement > 0 or not math.isfinite(decrement):
            return x, f, True
        t = 1.0
        while t > 1e-12:
            nx = x - t * step
            nf = loss(nx)
            if nf <= f:
                return nx, nf, decrement / 2 <= LOSS_TOLERANCE * float(self.w.sum())
            t /= 2
        return x, f, True


def recalibrate_softmax(
    sample: RowSample, mean_loss: float, *, logits: bool = False
) -> SoftmaxRecalibration:
    """Temperature and bias vector fitted on the sample; each loss is ``mean_loss`` (the
    literal loss of every row) plus the change from the sample's literal loss to its loss after
    the fit, so that it is the fitted loss itself when the sample is every row. ``logits``: the
    scores are logits (their literal loss is -log softmax), else log p (-log p_true: a row
    that does not sum to 1 is not renormalised, as the recalibrated softmax is)."""
    fit = _SoftmaxLoss(sample)
    k = sample.k
    total = float(sample.weights.sum())
    if len(fit.y) == 0 or total <= 0:
        nan = float("nan")
        return SoftmaxRecalibration(nan, nan, nan, (nan,) * k, len(sample.keys), sample.exact)
    zero = np.zeros(k)
    if logits:
        before = fit.loss(1.0, zero)
    else:
        before = float(np.multiply(fit.w, -fit.z[np.arange(len(fit.y)), fit.y]).sum())
    s = fit.fit_temperature()
    b = fit.fit_bias() if k <= MAX_BIAS_CLASSES else np.full(k, np.nan)

    def after(loss: float) -> float:
        return mean_loss + (loss - before) / total if math.isfinite(mean_loss) else mean_loss

    return SoftmaxRecalibration(
        temperature_loss=after(fit.loss(s, zero)),
        T=1.0 / s if s != 0 else math.inf,
        bias_loss=after(fit.loss(1.0, b)),
        b=tuple(float(v) for v in b),
        rows=len(sample.keys),
        exact=sample.exact,
        start_loss=mean_loss,
    )
