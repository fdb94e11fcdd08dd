"""Multi-class --from-logits on softmax outputs (PyTorch's softmax fed to CrossEntropyLoss), and
--compat sklearn on labels that miss classes: numbers against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bcecli

K, N = 10, 300
RNG = np.random.default_rng(6)
Z = RNG.normal(0, 2, (N, K))
P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
Y = RNG.integers(0, K, N)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return np.asarray(x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


@pytest.mark.parametrize("task", ["sparse", "categorical"])
def test_softmax_outputs_given_as_logits_are_flagged_with_the_floor(task: str) -> None:
    labels = Y if task == "sparse" else np.eye(K)[Y]
    r = bcecli.score(labels, P, task=task, from_logits=True)
    # what CrossEntropyLoss computes on them: -log_softmax(p)[y]
    reference = -np.mean(_log_softmax(P)[np.arange(N), Y])
    assert r.mean_loss == pytest.approx(reference, rel=1e-12)
    floor = math.log(1 + (K - 1) / math.e)
    assert r.mean_loss >= floor
    flag = r.flag("logits_flag_on_probabilities")
    assert flag is not None and flag.count == N
    assert f"{floor:.4g}" in flag.message
    assert r.figures.double_softmax_floor == pytest.approx(floor, rel=1e-15)  # type: ignore[union-attr]


def test_real_logits_are_not_flagged() -> None:
    r = bcecli.score(Y, Z, task="sparse", from_logits=True)
    assert r.mean_loss == pytest.approx(-np.mean(_log_softmax(Z)[np.arange(N), Y]), rel=1e-12)
    assert r.flag("logits_flag_on_probabilities") is None


def test_logits_in_unit_range_that_do_not_sum_to_1_are_not_flagged() -> None:
    x = RNG.uniform(0, 1, (N, K))  # in [0, 1], but rows sum to about K / 2
    r = bcecli.score(Y, x, task="sparse", from_logits=True)
    assert r.flag("logits_flag_on_probabilities") is None


def test_sklearn_with_missing_classes_gives_the_labels_range_k_value() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    y = np.where(Y == 7, 0, Y)  # class 7 never appears
    with pytest.raises(ValueError):
        sk.log_loss(y, P)  # scikit-learn raises without labels=
    r = bcecli.score(y, P, task="sparse", compat="sklearn")
    assert r.mean_loss == pytest.approx(sk.log_loss(y, P, labels=range(K)), rel=1e-12)
    flag = r.flag("missing_classes")
    assert flag is not None and "labels=range(K)" in flag.message
    exact = bcecli.score(y, P, task="sparse")
    missing = exact.flag("missing_classes")
    assert missing is not None and "sklearn" not in missing.message
