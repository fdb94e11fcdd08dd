"""The figures beside the headline: the calibration ratio and RCE (issue 24, item 4), checked
against numpy on the same rows, weighted and per output, and the same bits on any chunking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bcecli
from bcecli.api import score_file


def _binary(n: int, seed: int, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    y = (rng.random((n, k)) < 1 / (1 + np.exp(-z))).astype(np.float64)
    p = 1 / (1 + np.exp(-(0.8 * z + 0.2)))  # mis-scaled and biased: the ratio is not 1
    w = rng.uniform(0.2, 3.0, n)
    return y, p, w


def _entropy(q: np.ndarray) -> np.ndarray:
    return np.asarray(-(q * np.log(q) + (1 - q) * np.log1p(-q)))


def test_calibration_ratio_and_rce_match_numpy_weighted() -> None:
    y, p, w = _binary(5000, 1)
    r = bcecli.score(y[:, 0], p[:, 0], sample_weight=w)
    assert r.calibration_ratio == pytest.approx(np.sum(w * p[:, 0]) / np.sum(w * y[:, 0]), 1e-12)
    loss = -(y[:, 0] * np.log(p[:, 0]) + (1 - y[:, 0]) * np.log1p(-p[:, 0]))
    prior = np.sum(w * y[:, 0]) / np.sum(w)
    ne = (np.sum(w * loss) / np.sum(w)) / _entropy(np.array(prior))
    assert r.rce == pytest.approx(100 * (1 - ne), rel=1e-10)
    d = r.to_dict()
    assert d["rce"] == r.rce and d["calibration_ratio"] == r.calibration_ratio


def test_calibration_ratio_unweighted_and_per_output() -> None:
    y, p, _ = _binary(3000, 2, k=3)
    r = bcecli.score(y, p, task="multilabel")
    assert r.calibration_ratio == pytest.approx(p.sum() / y.sum(), rel=1e-12)
    got = [o.calibration_ratio for o in r.outputs]
    assert got == pytest.approx(list(p.sum(axis=0) / y.sum(axis=0)), rel=1e-12)
    assert r.rce == pytest.approx(100 * (1 - r.ne), rel=1e-15)


def test_no_positives_gives_nan_and_categorical_none() -> None:
    r = bcecli.score([0.0, 0.0, 0.0], [0.1, 0.2, 0.3])
    assert np.isnan(r.calibration_ratio or 0.0) and r.to_dict()["calibration_ratio"] == "nan"
    c = bcecli.score([0, 1, 2, 1], np.full((4, 3), 1 / 3), task="sparse")
    assert c.calibration_ratio is None and c.to_dict()["calibration_ratio"] is None
    assert all(o.calibration_ratio is None for o in c.outputs)


def _csv(path: Path, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> Path:
    import pandas as pd

    pd.DataFrame({"y_true": y[:, 0], "y_pred": p[:, 0], "weight": w}).to_csv(path, index=False)
    return path


def _figures(path: Path, chunk_rows: int | None) -> dict[str, Any]:
    d = score_file(str(path), sample_weight="weight", chunk_rows=chunk_rows).to_dict()
    return {k: d[k] for k in ("calibration_ratio", "rce", "ne", "mean_loss")}


def test_same_bits_whatever_the_chunking(tmp_path: Path) -> None:
    y, p, w = _binary(30_011, 3)
    path = _csv(tmp_path / "w.csv", y, p, w)
    whole = _figures(path, None)
    assert _figures(path, 1000) == whole
    assert _figures(path, 7777) == whole


# --------------------------------------------------------------------------------------------
# mean_loss_se and --ci (issue 24, item 1)


def _losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.asarray(-(y * np.log(p) + (1 - y) * np.log1p(-p)))


def test_standard_error_unweighted_is_the_sample_sd_over_root_n() -> None:
    y, p, _ = _binary(4000, 4)
    r = bcecli.score(y[:, 0], p[:, 0])
    loss = _losses(y[:, 0], p[:, 0])
    assert r.mean_loss_se == pytest.approx(loss.std(ddof=1) / np.sqrt(len(loss)), rel=1e-9)
    assert r.to_dict()["mean_loss_se"] == r.mean_loss_se


def test_standard_error_weighted_is_the_ratio_estimators() -> None:
    y, p, w = _binary(4000, 5)
    r = bcecli.score(y[:, 0], p[:, 0], sample_weight=w)
    wl = w * _losses(y[:, 0], p[:, 0])
    mean = wl.sum() / w.sum()
    n = len(w)
    se = np.sqrt(n / (n - 1) * np.sum((wl - mean * w) ** 2)) / w.sum()
    assert r.mean_loss == pytest.approx(mean, rel=1e-12)
    assert r.mean_loss_se == pytest.approx(se, rel=1e-9)


def test_standard_error_is_none_for_an_infinite_mean() -> None:
    r = bcecli.score([1.0, 0.0, 1.0], [0.0, 0.2, 0.9])  # p = 0 for a positive: loss inf
    assert r.mean_loss_se is None and r.to_dict()["mean_loss_se"] is None


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def test_ci_coverage_by_simulation() -> None:
    """Datasets drawn from a known model (x ~ N(0, 1), P(y = 1 | x) = sigmoid(1.5 x - 0.5)),
    scored by a fixed, miscalibrated model p = sigmoid(1.2 x - 0.3): the 95% intervals of the
    mean loss and of AUC cover the true values (by quadrature) 92-98% of the time."""
    from numpy.polynomial.hermite_e import hermegauss

    a, b, c, d = 1.5, -0.5, 1.2, -0.3
    x, wq = hermegauss(120)
    q, p = _sigmoid(a * x + b), _sigmoid(c * x + d)
    true_loss = float(np.sum(wq * (q * -np.log(p) + (1 - q) * -np.log1p(-p))) / wq.sum())
    # AUC = P(x of a positive > x of a negative), p being increasing in x
    g = np.linspace(-12, 12, 240_001)
    phi, qg = np.exp(-g * g / 2), _sigmoid(a * g + b)
    f1, f0 = qg * phi / np.sum(qg * phi), (1 - qg) * phi / np.sum((1 - qg) * phi)
    true_auc = float(np.sum(f1 * (np.cumsum(f0) - 0.5 * f0)))

    datasets, n = 300, 400
    rng = np.random.default_rng(2024)
    xs = rng.normal(size=(datasets, n))
    ys = (rng.random((datasets, n)) < _sigmoid(a * xs + b)).astype(np.float64)
    ps = _sigmoid(c * xs + d)
    hits = np.zeros(2)
    for i in range(datasets):
        ci = bcecli.score(ys[i], ps[i], ci=0.95, seed=i).ci
        assert ci is not None and ci.mean_loss is not None and ci.auc is not None
        hits += [
            ci.mean_loss[0] <= true_loss <= ci.mean_loss[1],
            ci.auc[0] <= true_auc <= ci.auc[1],
        ]
    coverage = hits / datasets
    assert 0.92 <= coverage[0] <= 0.98, coverage
    assert 0.92 <= coverage[1] <= 0.98, coverage


def _ci_json(path: Path, **kw: Any) -> dict[str, Any]:
    d = score_file(str(path), ci=0.9, bootstrap=50, seed=7, **kw).to_dict()
    return {"ci": d["ci"], "se": d["mean_loss_se"]}


def test_ci_same_bits_whatever_the_chunking_and_threads(tmp_path: Path) -> None:
    y, p, w = _binary(20_011, 6)
    path = _csv(tmp_path / "w.csv", y, p, w)
    whole = _ci_json(path, sample_weight="weight")
    assert whole["ci"]["n_resamples"] == 50 and whole["ci"]["seed"] == 7
    for rows in (1000, 4096, 6001):
        assert _ci_json(path, sample_weight="weight", chunk_rows=rows) == whole
    from bcecli.core.bootstrap import BootstrapPlan
    from bcecli.core.options import LossOptions, Task
    from bcecli.readers import ColumnRequest
    from bcecli.run import Inputs, LocalEngine, ScoreRequest, run_score

    opts = LossOptions(task=Task.AUTO, bootstrap=BootstrapPlan(0.9, 50, 7))
    cols = ColumnRequest(None, None, "weight")
    for threads in (1, 2):
        req = ScoreRequest(Inputs(str(path), None, cols), opts, LocalEngine(threads, 3000))
        ci = run_score(req).ci
        assert ci is not None and list(ci.mean_loss or ()) == whole["ci"]["mean_loss"]
        assert list(ci.ne or ()) == whole["ci"]["ne"]


def test_ci_merge_order_and_pickle_invariant() -> None:
    """Partitions scored apart (as Dask's workers do), pickled and merged in any order give
    the one-pass intervals, bit for bit."""
    import pickle

    import pandas as pd

    from bcecli.core.bootstrap import BootstrapPlan
    from bcecli.core.options import LossOptions, Task
    from bcecli.core.report import Context, finalize
    from bcecli.run.dask import PartitionPlan, merge_accumulators, score_partition

    y, p, _ = _binary(30_000, 7, k=2)
    opts = LossOptions(task=Task.MULTILABEL, bootstrap=BootstrapPlan(0.95, 40, 3))
    plan = PartitionPlan(opts, 2, ("a", "b"), ("pa", "pb"), None, None, 1 << 13)
    df = pd.DataFrame({"a": y[:, 0], "b": y[:, 1], "pa": p[:, 0], "pb": p[:, 1]})
    whole = finalize(score_partition(df, 0, plan), Context()).ci
    cuts = [0, 5001, 5002, 17_777, 30_000]
    parts = [
        pickle.loads(pickle.dumps(score_partition(df.iloc[a:b], a, plan)))
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    merged = finalize(merge_accumulators([parts[3], parts[1], parts[0], parts[2]]), Context())
    assert merged.ci == whole and whole is not None and whole.auc is not None


def test_ci_replicates_against_an_independent_bootstrap() -> None:
    """The replicates' weights are Poisson(1) draws of the documented stream: rebuilt here from
    numpy's Philox, the weighted means match the report's interval."""
    from bcecli.core.bootstrap import _TABLE

    n, b, seed = 5000, 60, 11
    y, p, _ = _binary(n, 8)
    loss = _losses(y[:, 0], p[:, 0])
    weights = np.empty((n, b))
    for block in range(-(-n // 4096)):
        rows = min(4096, n - block * 4096)
        raw = np.random.Philox(key=seed, counter=[0, 0, block, 0]).random_raw(-(-rows * b // 4))
        weights[block * 4096 : block * 4096 + rows] = _TABLE[
            raw.astype("<u8").view("<u2")[: rows * b].reshape(rows, b)
        ]
    assert abs(weights.mean() - 1) < 0.01 and abs(weights.var() - 1) < 0.02
    means = weights.T @ loss / weights.sum(axis=0)
    ci = bcecli.score(y[:, 0], p[:, 0], ci=0.8, bootstrap=b, seed=seed).ci
    assert ci is not None and ci.mean_loss is not None
    assert ci.mean_loss == pytest.approx(tuple(np.quantile(means, [0.1, 0.9])), rel=1e-12)


def test_ci_auc_is_delongs_against_an_independent_computation() -> None:
    from scipy.stats import norm, rankdata

    y, p, _ = _binary(700, 9)
    yy, pp = y[:, 0], p[:, 0]
    r = bcecli.score(yy, pp, ci=0.9)
    pos, neg = pp[yy == 1], pp[yy == 0]
    # DeLong's placement values by ranks
    v10 = (rankdata(np.r_[pos, neg])[: len(pos)] - rankdata(pos)) / len(neg)
    v01 = 1 - (rankdata(np.r_[neg, pos])[: len(neg)] - rankdata(neg)) / len(pos)
    auc = v10.mean()
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    z = norm.ppf(0.95)
    logit = np.log(auc / (1 - auc))
    half = z * se / (auc * (1 - auc))
    want = (1 / (1 + np.exp(-(logit - half))), 1 / (1 + np.exp(-(logit + half))))
    assert r.auc == pytest.approx(auc, rel=1e-12)
    assert r.ci is not None and r.ci.auc == pytest.approx(want, rel=1e-9)


def test_ci_categorical_and_figures_inside_their_intervals() -> None:
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 3, 3000)
    probs = rng.dirichlet([2, 2, 2], 3000)
    probs[np.arange(3000), labels] += 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    r = bcecli.score(labels, probs, task="sparse", ci=0.95)
    ci = r.ci
    assert ci is not None and ci.auc is None
    for name in ("mean_loss", "ne", "accuracy", "brier"):
        lo, hi = getattr(ci, name)
        assert lo < getattr(r, name) < hi, name


def test_ci_cli_json_tsv_schema_and_help(runner: Any) -> None:
    import json

    from bcecli.cli import cli
    from bcecli.core.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED

    sample = "sample_data/healthy_binary.csv"
    res = runner.invoke(cli, ["score", sample, "--ci", "0.95", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["ci"]["n_resamples"] == DEFAULT_RESAMPLES and d["ci"]["seed"] == DEFAULT_SEED
    assert "not of training" in d["ci"]["scope"]
    jsonschema = pytest.importorskip("jsonschema")
    from tests.conftest import ROOT

    schema = json.loads((ROOT / "bcecli" / "schema" / "report.schema.json").read_text())
    jsonschema.validate(d, schema)
    tsv = runner.invoke(cli, ["score", sample, "--ci", "0.95", "--format", "tsv"]).stdout
    lines = [line.split("\t") for line in tsv.splitlines()]
    ci_lines = {row[1]: row[2:] for row in lines if row[0] == "ci"}
    assert [float(v) for v in ci_lines["mean_loss"]] == d["ci"]["mean_loss"]
    assert ["ci_seed", str(DEFAULT_SEED)] in lines
    plain = json.loads(runner.invoke(cli, ["score", sample, "--format", "json"]).stdout)
    assert plain["ci"] is None and plain["mean_loss"] == d["mean_loss"]
    bad = runner.invoke(cli, ["score", sample, "--ci", "95"])
    assert bad.exit_code == 2


def test_ci_on_the_dask_engine_is_the_local_one(tmp_path: Path) -> None:
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install 'bcecli[dask]')"
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    y, p, w = _binary(12_345, 12)
    for i, (a, b) in enumerate([(0, 3000), (3000, 3001), (3001, 12_345)]):
        table = pa.table({"y_true": y[a:b, 0], "y_pred": p[a:b, 0], "weight": w[a:b]})
        pq.write_table(table, tmp_path / f"part-{i}.parquet")
    local = _ci_json(tmp_path, sample_weight="weight")
    on_dask = _ci_json(tmp_path, sample_weight="weight", engine="dask")
    assert on_dask == local and local["ci"]["auc"] is not None
