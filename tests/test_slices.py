"""Slices (``bce score --by``, issue 24 item 3): each slice is what ``bce score`` reports on its
rows alone (filtered with pandas here), the slices' sums recombine to the file's, and the
slices are the same on any chunking, on partitions and on Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bcecli
from bcecli.api import score_file


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    seg = rng.choice(["a", "b", "c", "rare"], n, p=[0.5, 0.3, 0.19, 0.01])
    y = (rng.random(n) < 1 / (1 + np.exp(-(x + (seg == "b") * 1.0)))).astype(np.float64)
    return pd.DataFrame(
        {
            "y_true": y,
            "y_pred": 1 / (1 + np.exp(-x)),
            "seg": seg,
            "age": rng.integers(18, 80, n).astype(np.float64),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    df = _frame(6000, 1)
    path = tmp_path_factory.mktemp("slices") / "s.csv"
    df.to_csv(path, index=False)
    return df, path


def _alone(df: pd.DataFrame, tmp: Path, weighted: bool) -> Any:
    path = tmp / "alone.csv"
    df.to_csv(path, index=False)
    return score_file(str(path), sample_weight="w" if weighted else None)


@pytest.mark.parametrize("weighted", [False, True])
def test_each_slice_is_bce_score_on_its_rows(
    data: tuple[pd.DataFrame, Path], tmp_path: Path, weighted: bool
) -> None:
    df, path = data
    r = score_file(str(path), by="seg", min_slice=100, sample_weight="w" if weighted else None)
    assert r.slices is not None
    names = [s.name for s in r.slices]
    assert sorted(names) == ["other", "seg=a", "seg=b", "seg=c"]  # 'rare' has < 100 rows
    shares = [s.share_of_loss for s in r.slices]
    assert shares == sorted(shares, reverse=True)
    for s in r.slices:
        rows = df[df.seg == s.name[4:]] if s.name != "other" else df[df.seg == "rare"]
        alone = _alone(rows, tmp_path, weighted)
        assert s.n == alone.n
        assert s.mean_loss == pytest.approx(alone.mean_loss, rel=1e-12)
        assert s.base_rate == pytest.approx(alone.prior[0], rel=1e-12)
        assert s.ne == pytest.approx(alone.ne, rel=1e-12)
        assert s.ne_overall == pytest.approx(alone.mean_loss / r.baseline_loss, rel=1e-12)
        assert s.calibration_ratio == pytest.approx(alone.calibration_ratio, rel=1e-12)
        assert s.auc == pytest.approx(alone.auc, rel=1e-12)
        if not weighted:  # the report's ECE counts rows, as the slices' does
            assert s.ece == pytest.approx(alone.ece, rel=1e-9, abs=1e-15)


def test_numeric_bins_are_quantiles_and_recombine(data: tuple[pd.DataFrame, Path]) -> None:
    df, path = data
    r = score_file(str(path), by="age", bins=4)
    assert r.slices is not None and len(r.slices) == 4
    edges = np.unique(np.quantile(df.age, [0.25, 0.5, 0.75]))  # one chunk: the whole file
    bounds = [-np.inf, *edges, np.inf]
    for s in r.slices:
        i = next(i for i in range(4) if s.name == f"age in [{_g(bounds[i])}, {_g(bounds[i + 1])})")
        rows = df[(df.age >= bounds[i]) & (df.age < bounds[i + 1])]
        assert s.n == len(rows)
    # the n-weighted recombination of the slices' sums is the file's
    n = sum(s.n for s in r.slices)
    assert n == r.n
    assert sum(s.n * s.mean_loss for s in r.slices) / n == pytest.approx(r.mean_loss, rel=1e-12)
    assert sum(s.n * s.base_rate for s in r.slices) / n == pytest.approx(r.prior[0], rel=1e-12)
    assert sum(s.share_of_loss for s in r.slices) == pytest.approx(1.0, rel=1e-12)


def _g(v: float) -> str:
    return "-inf" if v == -np.inf else "inf" if v == np.inf else f"{v:.4g}"


def test_two_columns_weighted(data: tuple[pd.DataFrame, Path]) -> None:
    df, path = data
    r = score_file(str(path), by="seg,age", bins=3, min_slice=1, sample_weight="w")
    assert r.slices is not None and len(r.slices) == 12
    edges = np.unique(np.quantile(df.age, [1 / 3, 2 / 3]))
    df = df.assign(bin=np.searchsorted(edges, df.age, side="right"))
    loss = -(df.y_true * np.log(df.y_pred) + (1 - df.y_true) * np.log1p(-df.y_pred))
    df = df.assign(wl=df.w * loss)
    bounds = [-np.inf, *edges, np.inf]
    total = df.wl.sum()
    for (seg, b), g in df.groupby(["seg", "bin"]):
        name = f"seg={seg}, age in [{_g(bounds[b])}, {_g(bounds[b + 1])})"
        s = next(s for s in r.slices if s.name == name)
        assert s.n == len(g)
        assert s.mean_loss == pytest.approx(g.wl.sum() / g.w.sum(), rel=1e-12)
        assert s.share_of_loss == pytest.approx(g.wl.sum() / total, rel=1e-12)
        assert s.base_rate == pytest.approx((g.w * g.y_true).sum() / g.w.sum(), rel=1e-12)


def test_same_slices_whatever_the_chunking(data: tuple[pd.DataFrame, Path]) -> None:
    _, path = data
    whole = score_file(str(path), by="seg", chunk_rows=8192).to_dict()["slices"]
    for rows in (700, 4096):
        got = score_file(str(path), by="seg", chunk_rows=rows).to_dict()["slices"]
        assert [s["name"] for s in got] == [s["name"] for s in whole]
        for a, b in zip(got, whole, strict=True):
            for k, v in a.items():
                assert v == (b[k] if isinstance(v, str) else pytest.approx(b[k], rel=1e-12)), k


def test_partitions_merged_in_any_order() -> None:
    import pickle

    from bcecli.core.options import LossOptions, Task
    from bcecli.core.report import Context, finalize
    from bcecli.core.slices import SlicePlan, with_edges
    from bcecli.run.dask import PartitionPlan, merge_accumulators, score_partition

    df = _frame(9000, 2)
    plan0 = with_edges(SlicePlan(("seg", "age"), 3, 50), {"seg": None, "age": df.age.to_numpy()})
    opts = LossOptions(task=Task.BINARY, slices=plan0)
    plan = PartitionPlan(opts, 1, ("y_true",), ("y_pred",), None, None, 4096, by=("seg", "age"))
    whole = finalize(score_partition(df, 0, plan), Context()).slices
    cuts = [0, 1234, 5000, 9000]
    parts = [
        pickle.loads(pickle.dumps(score_partition(df.iloc[a:b], a, plan)))
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    merged = finalize(merge_accumulators([parts[2], parts[0], parts[1]]), Context()).slices
    assert whole is not None and merged is not None and len(whole) == len(merged)
    for a, b in zip(whole, merged, strict=True):
        assert a.name == b.name and a.n == b.n
        assert a.mean_loss == pytest.approx(b.mean_loss, rel=1e-12)
        assert a.auc == pytest.approx(b.auc, rel=1e-12)


def test_dask_engine_gives_the_local_slices(tmp_path: Path) -> None:
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install 'bcecli[dask]')"
    )
    df = _frame(5000, 3)
    for i, (a, b) in enumerate([(0, 2000), (2000, 5000)]):
        df.iloc[a:b].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    local = score_file(str(tmp_path), by="seg,age").to_dict()["slices"]
    on_dask = score_file(str(tmp_path), by="seg,age", engine="dask").to_dict()["slices"]
    assert [s["name"] for s in on_dask] == [s["name"] for s in local]
    for a, b in zip(on_dask, local, strict=True):
        for k, v in a.items():
            assert v == (b[k] if isinstance(v, str) else pytest.approx(b[k], rel=1e-12)), k


def test_cli_json_tsv_and_errors(data: tuple[pd.DataFrame, Path], runner: Any) -> None:
    from bcecli.cli import cli

    _, path = data
    res = runner.invoke(cli, ["score", str(path), "--by", "seg", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert [s["name"] for s in d["slices"]][0] == "seg=a"
    jsonschema = pytest.importorskip("jsonschema")
    from tests.conftest import ROOT

    schema = json.loads((ROOT / "bcecli" / "schema" / "report.schema.json").read_text())
    jsonschema.validate(d, schema)
    tsv = runner.invoke(cli, ["score", str(path), "--by", "seg", "--format", "tsv"]).stdout
    lines = [line.split("\t") for line in tsv.splitlines()]
    head = next(row for row in lines if row[0] == "slice_columns")
    body = [row for row in lines if row[0] == "slice"]
    assert len(body) == len(d["slices"]) and head[1:3] == ["name", "n"]
    assert body[0][1] == d["slices"][0]["name"] and int(body[0][2]) == d["slices"][0]["n"]
    plain = json.loads(runner.invoke(cli, ["score", str(path), "--format", "json"]).stdout)
    assert plain["slices"] is None
    missing = runner.invoke(cli, ["score", str(path), "--by", "nope"])
    assert missing.exit_code == 2 and "--by" in missing.stderr
    three = path.parent / "three.csv"
    pd.DataFrame(
        {"label": [0, 1, 2, 1], "prob_0": [0.6, 0.2, 0.1, 0.3], "prob_1": [0.3, 0.7, 0.2, 0.4],
         "prob_2": [0.1, 0.1, 0.7, 0.3], "seg": ["a", "b", "a", "b"]}
    ).to_csv(three, index=False)  # fmt: skip
    mc = runner.invoke(cli, ["score", str(three), "--by", "seg"])
    assert mc.exit_code == 2 and "--by breaks down a binary task" in mc.stderr


def test_slices_from_the_api_on_arrays_are_refused_cleanly() -> None:
    with pytest.raises(TypeError):
        bcecli.score([0, 1], [0.2, 0.7], by="x")  # type: ignore[call-arg]
