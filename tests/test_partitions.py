"""Partitioned datasets: a directory or glob of Parquet/CSV files scored as one input, locally
and on a Dask cluster, with the same numbers as the unsplit file.

Exact statistics (counts, flags and their rows, mean and sum of the loss, histogram, worst rows,
the median) must be identical whatever the split; float tallies (Brier, ECE, calibration bins,
per-class means, priors) are sums in another order and agree to 1e-12.
"""

from __future__ import annotations

import gzip
import json
import math
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from tests.conftest import SAMPLES

# Leaves that are float sums over chunks (their order differs between engines): 1e-12.
FLOAT_TALLIES = {
    "brier", "ece", "mean_pred", "frac_pos", "prior", "baseline_loss", "ne", "entropy_floor",
    "mean_metric",
}  # fmt: skip
OUTPUT_TALLIES = {"mean_loss", "prior", "baseline"}  # per class / output
RANDOM_ROWS = 30_011
RANDOM_CUTS = (0, 3_000, 4_097, 11_111, 11_112, 25_000, RANDOM_ROWS)  # not multiples of 4096


# --------------------------------------------------------------------------------------------
# datasets


def split_csv_text(src: Path, out: Path, cuts: list[int]) -> None:
    """The file's own lines, cut into partitions that each repeat the header."""
    out.mkdir(parents=True)
    header, *rows = src.read_text().splitlines(keepends=True)
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        (out / f"part-{i:04d}.csv").write_text(header + "".join(rows[a:b]))


def split_table(table: pa.Table, out: Path, cuts: tuple[int, ...] | list[int], fmt: str) -> None:
    out.mkdir(parents=True)
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        part = table.slice(a, b - a)
        if fmt == "parquet":
            pq.write_table(part, out / f"part-{i:04d}.parquet", row_group_size=1_000)
        else:
            pacsv.write_csv(part, out / f"part-{i:04d}.csv")


def random_table() -> pa.Table:
    """Weighted binary data with NaN rows, missing labels and saturated predictions."""
    rng = np.random.default_rng(20261122)
    y = (rng.random(RANDOM_ROWS) < 0.3).astype(np.float64)
    score = np.where(y == 1, 1.0, -1.5) + 1.5 * rng.standard_normal(RANDOM_ROWS)
    p = 1 / (1 + np.exp(-score))
    p[[5, 4_100, 4_101, 17_000, 29_999]] = np.nan
    y[[8_192, 20_000]] = np.nan
    p[[100, 12_345]], y[[100, 12_345]] = 0.0, 0.0  # saturated, on the right side
    w = rng.random(RANDOM_ROWS) + 0.5
    return pa.table({"y_true": y, "y_pred": p, "weight": w})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partitions")
    healthy = SAMPLES / "healthy_binary.csv"
    split_csv_text(healthy, root / "healthy_csv", [0, 333, 1_000, 1_001, 1_700, 2_000])
    healthy_table = pacsv.read_csv(healthy)
    split_table(healthy_table, root / "healthy_pq", [0, 333, 1_000, 1_001, 2_000], "parquet")
    split_csv_text(SAMPLES / "softmax_10class.csv", root / "softmax", [0, 100, 101, 1_513, 3_000])
    table = random_table()
    pq.write_table(table, root / "random.parquet")
    split_table(table, root / "random_pq", RANDOM_CUTS, "parquet")
    split_table(table, root / "random_csv", RANDOM_CUTS, "csv")
    (root / "random_gz").mkdir()
    (root / "random_headerless").mkdir()
    for f in sorted((root / "random_csv").iterdir()):
        (root / "random_gz" / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes()))
        header, body = f.read_text().split("\n", 1)
        (root / "random_headerless" / f.name).write_text(body)
    return root


def bce_json(*args: str, code: int | tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["score", *args, "--format", "json"])
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def error_line(args: list[str], code: int) -> str:
    result = CliRunner().invoke(cli, ["score", *args])
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --------------------------------------------------------------------------------------------
# comparisons


def assert_same(a: Any, b: Any, *, tallies: bool, path: tuple[str, ...] = ()) -> None:
    """Equal leaf by leaf, the float tallies too (the summary's determinism rule: the same
    bits whatever the split); ``tallies`` names a comparison that includes them."""
    where = ".".join(path) or "top"
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], tallies=tallies, path=(*path, k))
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, tallies=tallies, path=(*path, str(i)))
    elif tallies and isinstance(a, float) and _is_tally(path):
        assert a == b or (math.isnan(a) and math.isnan(b)), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _is_tally(path: tuple[str, ...]) -> bool:
    if path[0] == "outputs":
        return path[-1] in OUTPUT_TALLIES
    if path[0] == "prior":
        return True
    return path[-1] in FLOAT_TALLIES


def without(report: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in keys}


def assert_split_equals_whole(whole: dict[str, Any], split: dict[str, Any]) -> None:
    """The same numbers and flags (global rows in JSON); only the sources and the rows'
    wording in messages differ."""
    assert_same(
        without(whole, "inputs", "notes", "flags"),
        without(split, "inputs", "notes", "flags"),
        tallies=True,
    )
    strip = ("message",)
    assert [without(f, *strip) for f in whole["flags"]] == [
        without(f, *strip) for f in split["flags"]
    ]
    assert any("read as one dataset in sorted path order" in n for n in split["notes"])


# --------------------------------------------------------------------------------------------
# the local engine


@pytest.mark.parametrize("name", ["healthy_csv", "healthy_pq"])
def test_a_directory_scores_like_the_unsplit_file(data: Path, name: str) -> None:
    whole = bce_json(str(SAMPLES / "healthy_binary.csv"))
    split = bce_json(str(data / name))
    assert_split_equals_whole(whole, split)
    assert split["inputs"]["sources"] == [str(data / name)]


def test_a_glob_scores_like_the_unsplit_file(data: Path) -> None:
    whole = bce_json(str(SAMPLES / "softmax_10class.csv"))
    pattern = str(data / "softmax" / "part-*.csv")
    split = bce_json(pattern)
    assert_split_equals_whole(whole, split)
    assert split["inputs"]["sources"] == [pattern]


@pytest.mark.parametrize("name", ["random_pq", "random_csv"])
def test_partition_boundaries_inside_sum_blocks(data: Path, name: str) -> None:
    args = ("--sample-weight", "weight")
    whole = bce_json(str(data / "random.parquet"), *args)
    split = bce_json(str(data / name), *args)
    assert_split_equals_whole(whole, split)
    assert split["mean_loss"] == whole["mean_loss"] and split["sum_loss"] == whole["sum_loss"]
    non_finite = next(f for f in split["flags"] if f["id"] == "non_finite")
    assert non_finite["count"] == 7
    assert non_finite["rows"] == [5, 4_100, 4_101, 8_192, 17_000, 20_000, 29_999]  # global


def test_flag_messages_name_the_partition_file_and_its_row(data: Path) -> None:
    report = bce_json(str(data / "random_pq"), "--sample-weight", "weight")
    flag = next(f for f in report["flags"] if f["id"] == "non_finite")
    # rows 5, 4100, 4101, 8192, 17000: partitions start at 0, 3000, 4097, 11111, 11112, 25000
    expected = "(part-0000.parquet row 5; part-0002.parquet rows 3, 4, 4095; part-0004.parquet "
    assert expected + "row 5888, ...)" in flag["message"]
    saturated = next(f for f in report["flags"] if f["id"] == "saturated_predictions")
    assert "(part-0000.parquet row 100; part-0004.parquet row 1233)" in saturated["message"]


def test_table_and_stderr_name_partitions_too(data: Path) -> None:
    result = CliRunner().invoke(cli, ["score", str(data / "random_csv"), "-f", "tsv"])
    assert result.exit_code == 1  # the NaN rows are an error flag
    assert "part-0002.csv rows 3, 4, 4095" in result.stderr


def test_a_partition_without_the_columns_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("y_true,y_pred\n1,0.9\n0,0.2\n")
    (tmp_path / "b.csv").write_text("y_true,score\n1,0.8\n")
    line = error_line([str(tmp_path)], 3)
    assert f"{tmp_path / 'b.csv'}: has no column y_pred" in line
    assert "every partition must hold the columns" in line


def test_partitions_of_two_formats_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("y_true,y_pred\n1,0.9\n0,0.2\n")
    pq.write_table(pa.table({"y_true": [1.0], "y_pred": [0.8]}), tmp_path / "b.parquet")
    line = error_line([str(tmp_path)], 3)
    assert "b.parquet: is Parquet, but the first partition" in line


def test_a_glob_that_matches_nothing_is_a_usage_error(tmp_path: Path) -> None:
    line = error_line([str(tmp_path / "*.parquet")], 2)
    assert line.startswith(f"Error: {tmp_path / '*.parquet'}: matches no file;")


def test_a_directory_without_partition_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "_SUCCESS").write_text("")
    line = error_line([str(tmp_path)], 2)
    assert "is a directory without CSV or Parquet files" in line


def test_a_file_whose_name_has_glob_characters_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "preds[1].csv"
    path.write_text("y_true,y_pred\n1,0.9\n0,0.2\n")
    report = bce_json(str(path))
    assert report["n"] == 2 and report["inputs"]["sources"] == [str(path)]


def test_empty_parquet_partitions_are_skipped(data: Path, tmp_path: Path) -> None:
    for f in sorted((data / "healthy_pq").iterdir()):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    empty = pa.array([], pa.float64())
    pq.write_table(pa.table({"y_true": empty, "y_pred": empty}), tmp_path / "part-0001a.parquet")
    report = bce_json(str(tmp_path))
    assert report["mean_loss"] == bce_json(str(data / "healthy_pq"))["mean_loss"]
    assert any("1 empty partition skipped" in n for n in report["notes"])


# --------------------------------------------------------------------------------------------
# the accumulator across processes (no Dask needed)


def test_accumulators_pickle_and_merge_exactly_past_the_exact_median_limit() -> None:
    """Three partitions scored apart, pickled (as between processes) and merged give the
    one-pass report: bit-identical sums and counts; the median from the sketch within 0.05%."""
    import pandas as pd

    from bcecli.core.chunk import Chunk
    from bcecli.core.options import LossOptions, Task
    from bcecli.core.report import Context, finalize
    from bcecli.core.scoring import Scorer
    from bcecli.core.sketch import RELATIVE_ERROR
    from bcecli.run.dask import PartitionPlan, merge_accumulators, score_partition

    n = 1_200_007
    rng = np.random.default_rng(3)
    y = (rng.random(n) < 0.4).astype(np.float64)
    p = 1 / (1 + np.exp(-(np.where(y == 1, 1.0, -1.0) + rng.standard_normal(n))))
    p[[7, 600_001]] = np.nan
    opts = LossOptions(task=Task.BINARY)
    whole = Scorer(opts, 1)
    for s in range(0, n, 1 << 18):
        whole.score(Chunk(s, y[s : s + (1 << 18), None], p[s : s + (1 << 18), None]))
    plan = PartitionPlan(opts, 1, ("y_true",), ("y_pred",), None, None, 1 << 18)
    cuts = [0, 123_457, 700_001, n]
    accs = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        df = pd.DataFrame({"y_true": y[a:b], "y_pred": p[a:b]})
        accs.append(pickle.loads(pickle.dumps(score_partition(df, a, plan))))
    merged = merge_accumulators([accs[2], accs[0], accs[1]])  # any order
    one, parts = finalize(whole.accumulator, Context()), finalize(merged, Context())

    assert not one.median_exact and not parts.median_exact
    exact = ("n", "n_excluded", "mean_loss", "sum_loss", "median_loss", "max_loss", "n_above_1")
    for field in (*exact, "histogram", "worst"):
        assert getattr(parts, field) == getattr(one, field), field
    assert [(f.id, f.count, f.rows) for f in parts.flags] == [
        (f.id, f.count, f.rows) for f in one.flags
    ]
    assert parts.brier == one.brier and parts.calibration == one.calibration
    ok = np.isfinite(p)
    losses = -(y[ok] * np.log(p[ok]) + (1 - y[ok]) * np.log1p(-p[ok]))
    assert parts.median_loss == pytest.approx(np.median(losses), rel=RELATIVE_ERROR)


def test_errors_keep_their_fields_through_pickle() -> None:
    from bcecli.errors import FrameworkRaises

    e = FrameworkRaises("2 prediction(s) outside [0, 1]", "clip them", source="a.parquet")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is FrameworkRaises and back.line() == e.line() and back.source == e.source


# --------------------------------------------------------------------------------------------
# --engine dask


def test_engine_dask_without_dask_installed(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises
    line = error_line([str(data / "healthy_pq"), "--engine", "dask"], 2)
    assert line == "Error: --engine dask needs dask: pip install 'bcecli[dask]'"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--per-sample"], "--per-sample writes rows in input order"),
        (["--reduction", "none"], "--reduction none lists every loss"),
        (["--labels", str(SAMPLES / "healthy_binary.csv")], "from the same partitions"),
    ],
)
def test_engine_dask_refuses_what_needs_row_order(data: Path, extra: list[str], says: str) -> None:
    line = error_line([str(data / "healthy_pq"), "--engine", "dask", *extra], 2)
    assert says in line


def test_scheduler_needs_engine_dask(data: Path) -> None:
    line = error_line([str(data / "healthy_pq"), "--scheduler", "tcp://127.0.0.1:8786"], 2)
    assert line == "Error: --scheduler needs --engine dask; add --engine dask"


def test_help_imports_neither_dask_nor_numpy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bcecli.cli import cli\n"
        "assert CliRunner().invoke(cli, ['score', '--help']).exit_code == 0\n"
        "print(sorted(m for m in ('dask', 'distributed', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One local cluster of 2 worker processes for the module's dask runs."""
    distributed = pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install 'bcecli[dask]')"
    )
    pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield str(cluster.scheduler_address)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("random_pq", ("--sample-weight", "weight")),
        ("random_csv", ("--sample-weight", "weight")),
        ("random_gz", ()),
        ("random_headerless", ("--label-col", "column_1", "--pred-col", "column_2")),
        ("softmax", ()),
        ("healthy_csv", ("--compat", "keras")),
    ],
)
def test_engine_dask_gives_the_local_numbers(
    data: Path, scheduler: str, name: str, args: tuple[str, ...]
) -> None:
    local = bce_json(str(data / name), *args)
    on_dask = bce_json(str(data / name), *args, "--engine", "dask", "--scheduler", scheduler)
    assert_same(local, on_dask, tallies=True)  # flags, messages, rows, notes: all the same
    assert on_dask["mean_loss"] == local["mean_loss"]  # bit for bit
    assert on_dask["sum_loss"] == local["sum_loss"]


def test_engine_dask_names_a_partition_without_the_columns(tmp_path: Path, scheduler: str) -> None:
    pq.write_table(pa.table({"y_true": [1.0, 0.0], "y_pred": [0.9, 0.2]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"y_true": [1.0], "p": [0.8]}), tmp_path / "b.parquet")
    line = error_line([str(tmp_path), "--engine", "dask", "--scheduler", scheduler], 3)
    assert f"{tmp_path / 'b.parquet'}: has no column y_pred" in line


def test_engine_dask_on_its_own_local_cluster(data: Path) -> None:
    pytest.importorskip(
        "distributed", reason="the dask extra is not installed (pip install 'bcecli[dask]')"
    )
    pattern = str(data / "healthy_pq" / "*.parquet")
    local = bce_json(pattern)
    on_dask = bce_json(pattern, "--engine", "dask")
    assert_same(local, on_dask, tallies=True)


def test_engine_dask_median_past_the_exact_limit(
    data: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit the workers keep no losses and the median comes from the sketch (within
    0.05%); when exclusions bring the count back under it, the run is exact again."""
    import bcecli.run.dask as engine
    from bcecli.core.sketch import RELATIVE_ERROR

    args = (str(data / "random_pq"), "--engine", "dask", "--scheduler", scheduler)
    local = bce_json(str(data / "random_pq"))
    scored = RANDOM_ROWS - 7  # the rows with NaN are excluded
    monkeypatch.setattr(engine, "EXACT_LIMIT", scored - 1)
    sketched = bce_json(*args)
    assert local["median_exact"] and not sketched["median_exact"]
    assert sketched["median_loss"] == pytest.approx(local["median_loss"], rel=RELATIVE_ERROR)
    assert sketched["mean_loss"] == local["mean_loss"]
    monkeypatch.setattr(engine, "EXACT_LIMIT", scored)  # under it after the exclusions
    assert_same(local, bce_json(*args), tallies=True)


# --------------------------------------------------------------------------------------------
# the files as the Dask engine reads them: Input.dataset()


def quirky_csv(folder: Path) -> Path:
    """A semicolon file with a 'sep=' line, a comment, a decimal comma, text labels and a
    missing value: everything another CSV reader must be told to read it as bce does."""
    path = folder / "quirky.csv"
    rows = [f"{'yes' if i % 3 else 'no'};{0.1 + 0.8 * (i % 3 > 0):.1f}".replace(".", ",")
            for i in range(40)]  # fmt: skip
    rows[7] = "yes;NA"
    path.write_text("sep=;\n# exported by a spreadsheet\ny_true;y_pred;note\n" + "\n".join(
        f"{r};n{i}" for i, r in enumerate(rows)) + "\n")  # fmt: skip
    return path


def test_a_csv_file_described_for_another_reader(tmp_path: Path) -> None:
    from bcecli.readers import ColumnRequest, CsvDialect, open_input

    path = quirky_csv(tmp_path)
    inp = open_input(str(path), None, ColumnRequest())
    try:
        data = inp.dataset()
    finally:
        inp.close()
    assert data is not None
    assert (data.labels, data.preds, data.weight) == (("y_true",), ("y_pred",), None)
    assert data.columns == ["y_true", "y_pred"]
    files = data.files
    assert (files.fmt, files.paths, files.names) == ("csv", (str(path),), ("quirky.csv",))
    assert files.rows == (40,)
    assert not files.partitioned
    assert files.dialect is not None and "NA" in files.dialect.null_values
    assert files.dialect == CsvDialect(
        delimiter=";", header=True, skip_lines=2, decimal_comma=True,
        columns=("y_true", "y_pred", "note"), numeric=frozenset({"y_pred"}),
        null_values=files.dialect.null_values,
    )  # fmt: skip


def test_partitions_and_other_formats_described(data: Path, tmp_path: Path) -> None:
    from bcecli.readers import ColumnRequest, open_input

    def dataset(path: str, labels: str | None = None) -> Any:
        inp = open_input(path, labels, ColumnRequest())
        try:
            return inp.dataset()
        finally:
            inp.close()

    parts = dataset(str(data / "random_pq"))
    assert parts.files.fmt == "parquet" and parts.files.partitioned
    assert sum(parts.files.rows) == RANDOM_ROWS and len(parts.files.paths) == len(parts.files.names)
    np.save(tmp_path / "p.npy", np.array([0.2, 0.9]))
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0]))
    with pytest.raises(Exception, match="must come from one input"):
        dataset(str(tmp_path / "p.npy"), str(tmp_path / "y.npy"))
    np.savez(tmp_path / "both.npz", y_true=np.array([0.0, 1.0]), y_pred=np.array([0.2, 0.9]))
    assert dataset(str(tmp_path / "both.npz")) is None  # not files another reader reads


def test_engine_dask_reads_a_quirky_csv_as_the_local_engine(tmp_path: Path, scheduler: str) -> None:
    path = quirky_csv(tmp_path)
    local = bce_json(str(path))
    on_dask = bce_json(str(path), "--engine", "dask", "--scheduler", scheduler)
    assert local["n"] == 39 and local["n_excluded"] == 1
    assert_same(local, on_dask, tallies=True)
    assert on_dask["mean_loss"] == local["mean_loss"]
