"""bce compare: the paired statistics against scipy (ttest_rel, binomtest) and a hand
Diebold-Mariano, the invariances (a file against itself, A and B swapped, rows shuffled and
joined on an id), and the errors that name the rows that do not pair."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import special, stats

import bcecli
from bcecli.cli import cli
from bcecli.core.paired import Moments, autocovariances, long_run_variance, newey_west_lag
from bcecli.core.stats import betainc, mcnemar_exact, normal_quantile, t_two_sided
from tests.conftest import SAMPLES

SCHEMA = Path(bcecli.__file__).parent / "schema" / "compare.schema.json"


# --------------------------------------------------------------------------------------------
# the distributions, without scipy at run time


@pytest.mark.parametrize("df", [1, 2, 3, 7, 10, 30, 999, 1e5, 1e6, 1e7])
@pytest.mark.parametrize("t", [0.0, 1e-3, 0.5, 1.7, 2.0, -2.6, 5.0, 20.0, 100.0])
def test_t_tail_matches_scipy(t: float, df: float) -> None:
    want = 2 * stats.t.sf(abs(t), df)
    got = t_two_sided(t, df)
    if want < 1e-300:
        assert got < 1e-290
    else:
        assert got == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(0.5, 0.5, 0.3), (3, 4, 0.9), (1e5, 0.5, 0.99999), (100, 200, 0.33), (2, 9, 1e-4)],
)
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("b", "c"),
    [(0, 1), (1, 0), (3, 10), (50, 52), (5, 5), (10, 0), (1000, 1100), (400_000, 401_500)],
)
def test_mcnemar_is_scipy_binomtest(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c).pvalue, rel=1e-7)


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def test_normal_quantile() -> None:
    assert normal_quantile(0.975) == pytest.approx(stats.norm.ppf(0.975), rel=1e-12)


def test_moments_merge_equal_the_whole() -> None:
    rng = np.random.default_rng(3)
    d, w = rng.normal(1e3, 1e-3, 5000), rng.uniform(0.5, 2, 5000)  # a mean far from zero
    whole = Moments.of(d, w, None, 1)
    parts = Moments(1)
    for lo in range(0, 5000, 701):
        parts.merge(Moments.of(d[lo : lo + 701], w[lo : lo + 701], None, 1))
    assert parts.mean[0] == pytest.approx(np.average(d, weights=w), rel=1e-15)
    assert parts.s[0] == pytest.approx(whole.s[0], rel=1e-9)
    m = np.average(d, weights=w)
    assert parts.s[0] == pytest.approx(float(np.sum(w * w * (d - m) ** 2)), rel=1e-9)


# --------------------------------------------------------------------------------------------
# the library against scipy on the same per-row data


def _binary(n: int = 3000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    pa = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.15, n), 0.01, 0.99)
    pb = np.clip(pa + 0.01 * (y - 0.5) + rng.normal(0, 0.03, n), 0.01, 0.99)
    return y, pa, pb


def _bce(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.asarray(-(special.xlogy(y, p) + special.xlogy(1 - y, 1 - p)))


def test_binary_against_ttest_rel_and_binomtest() -> None:
    y, pa, pb = _binary()
    c = bcecli.compare(y, pa, pb)
    la, lb = _bce(y, pa), _bce(y, pb)
    ref = stats.ttest_rel(lb, la)
    assert c.loss.diff == pytest.approx(float(np.mean(lb - la)), rel=1e-12)
    assert c.loss.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert c.loss.p_value == pytest.approx(ref.pvalue, rel=1e-7)
    assert c.loss.df == len(y) - 1
    se = stats.sem(lb - la)
    z = stats.norm.ppf(0.975)
    assert c.loss.ci == pytest.approx((np.mean(lb - la) - z * se, np.mean(lb - la) + z * se))
    right_a, right_b = (pa > 0.5) == (y >= 0.5), (pb > 0.5) == (y >= 0.5)
    b_, c_ = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    assert (c.a_only, c.b_only) == (b_, c_)
    assert c.mcnemar_p == pytest.approx(stats.binomtest(b_, b_ + c_).pvalue, rel=1e-9)
    assert c.improved == int(np.sum(lb < la)) and c.worse == int(np.sum(lb > la))
    assert c.b.accuracy - c.a.accuracy == pytest.approx((c_ - b_) / len(y))
    # per class: the paired test on the rows of each true class
    for g in c.by_class:
        rows = y == float(g.name)
        assert g.n == int(rows.sum())
        assert g.p_value == pytest.approx(stats.ttest_rel(lb[rows], la[rows]).pvalue, rel=1e-7)
    assert c.a.mean_loss == pytest.approx(float(np.mean(la)), rel=1e-12)


def test_data_frames_of_the_same_class_names() -> None:
    """One-hot labels and both models' probabilities as data frames with the same column names
    (the classes'), and weights: the labels stay the labels."""
    rng = np.random.default_rng(8)
    n, classes = 500, ["cat", "dog", "fox"]
    y = rng.integers(0, 3, n)
    pa = special.softmax(rng.normal(0, 1, (n, 3)) + 2 * np.eye(3)[y], axis=1)
    pb = special.softmax(rng.normal(0, 1, (n, 3)) + 2.5 * np.eye(3)[y], axis=1)
    w = rng.uniform(0.5, 2, n)
    frame = lambda v: pd.DataFrame(v, columns=classes)  # noqa: E731
    c = bcecli.compare(frame(np.eye(3)[y]), frame(pa), frame(pb), sample_weight=w)
    d = -np.log(pb[np.arange(n), y]) + np.log(pa[np.arange(n), y])
    assert c.task.value == "categorical" and c.weighted
    assert c.loss.diff == pytest.approx(float(np.average(d, weights=w)), rel=1e-12)
    assert [g.name for g in c.by_class] == classes


def test_a_model_against_itself() -> None:
    y, pa, _ = _binary()
    c = bcecli.compare(y, pa, pa)
    assert c.loss.diff == 0.0 and c.loss.p_value == 1.0 and c.mcnemar_p == 1.0
    assert c.better is None and not c.b_is_better and c.tied == len(y)
    assert c.verdict().startswith("No difference")


def test_swapping_a_and_b_flips_the_sign() -> None:
    y, pa, pb = _binary()
    ab, ba = bcecli.compare(y, pa, pb), bcecli.compare(y, pb, pa)
    assert ba.loss.diff == pytest.approx(-ab.loss.diff, rel=1e-12)
    assert ba.loss.ci == pytest.approx((-ab.loss.ci[1], -ab.loss.ci[0]), rel=1e-12)
    assert ba.loss.p_value == pytest.approx(ab.loss.p_value, rel=1e-9)
    assert (ba.a_only, ba.b_only) == (ab.b_only, ab.a_only)
    assert ab.mcnemar_p == ba.mcnemar_p
    assert ab.better == "b" and ba.better == "a"


def test_sparse_classes_and_accuracy() -> None:
    rng = np.random.default_rng(5)
    n, k = 2000, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y]
    pa = special.softmax(logits, axis=1)
    pb = special.softmax(logits * 1.3 + rng.normal(0, 0.3, (n, k)), axis=1)
    c = bcecli.compare(y, pa, pb)
    la, lb = -np.log(pa[np.arange(n), y]), -np.log(pb[np.arange(n), y])
    assert c.task.value == "sparse"
    assert c.loss.p_value == pytest.approx(stats.ttest_rel(lb, la).pvalue, rel=1e-7)
    right_a, right_b = pa.argmax(1) == y, pb.argmax(1) == y
    assert c.a_only == int(np.sum(right_a & ~right_b))
    assert c.b_only == int(np.sum(right_b & ~right_a))
    assert [g.n for g in c.by_class] == list(np.bincount(y, minlength=k))
    for i, g in enumerate(c.by_class):
        assert g.diff == pytest.approx(float(np.mean((lb - la)[y == i])), rel=1e-10)


@pytest.mark.parametrize(
    "name",
    ["healthy_binary.csv", "imbalanced_binary.csv", "onehot_3class.csv", "softmax_10class.csv",
     "multilabel_soft.csv", "pandas_export.csv"],
)  # fmt: skip
def test_per_row_rule_counts_the_reports_accuracy(name: str) -> None:
    """A file against itself: the elements compare counts right are the report's accuracy."""
    c = bcecli.compare_files(SAMPLES / name, SAMPLES / name)  # type: ignore[arg-type]
    assert c.both_right / c.elements == pytest.approx(c.a.accuracy, rel=1e-12)
    assert c.loss.diff == 0 and c.loss.p_value == 1.0


def test_weights_give_the_weighted_headline_difference(tmp_path: Path) -> None:
    y, pa, pb = _binary(800)
    w = np.random.default_rng(2).uniform(0.2, 3, len(y))
    for name, p in (("a", pa), ("b", pb)):
        pd.DataFrame({"y_true": y, "y_pred": p, "w": w}).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
    for compat in ("exact", "keras", "sklearn"):
        c = bcecli.compare_files(
            str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), sample_weight="w", compat=compat
        )
        assert c.loss.diff == pytest.approx(c.b.mean_loss - c.a.mean_loss, rel=1e-6), compat
    c = bcecli.compare_files(str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), sample_weight="w")
    d = _bce(y, pb) - _bce(y, pa)
    m = np.average(d, weights=w)
    se = math.sqrt(len(d) / (len(d) - 1) * np.sum(w**2 * (d - m) ** 2)) / w.sum()
    assert c.weighted and c.loss.std_error == pytest.approx(se, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Diebold-Mariano


def test_diebold_mariano_by_hand() -> None:
    rng = np.random.default_rng(9)
    n = 1500
    y = rng.integers(0, 2, n).astype(float)
    drift = np.convolve(rng.normal(0, 0.05, n + 20), np.ones(20) / 20, "valid")[:n]
    pa = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.1, n), 0.02, 0.98)
    pb = np.clip(pa + (y - 0.5) * (0.004 + drift), 0.02, 0.98)
    c = bcecli.compare(y, pa, pb, time_ordered=True)
    d = _bce(y, pb) - _bce(y, pa)
    lag = int(np.floor(4 * (n / 100) ** (2 / 9)))
    e = d - d.mean()
    gammas = [sum(e[t] * e[t - k] for t in range(k, n)) / n for k in range(lag + 1)]
    lrv = gammas[0] + 2 * sum((1 - k / (lag + 1)) * gammas[k] for k in range(1, lag + 1))
    stat = d.mean() / math.sqrt(lrv / n)
    assert c.dm is not None and c.dm.lag == lag == newey_west_lag(n)
    assert c.dm.long_run_variance == pytest.approx(lrv, rel=1e-9)
    assert c.dm.statistic == pytest.approx(stat, rel=1e-9)
    assert c.dm.p_value == pytest.approx(2 * stats.norm.sf(abs(stat)), rel=1e-7)
    assert c.p_value == c.dm.p_value and c.test_name == "diebold-mariano"


def test_autocovariances_stream_across_blocks() -> None:
    d = np.random.default_rng(1).normal(size=1000)
    whole, _ = autocovariances([d], float(d.mean()), 6)
    pieces, n = autocovariances(np.array_split(d, [3, 4, 500, 997]), float(d.mean()), 6)
    assert n == 1000 and pieces == pytest.approx(whole, rel=1e-12)
    assert long_run_variance(whole) > 0


# --------------------------------------------------------------------------------------------
# the command line: joins, errors, formats, exit codes


@pytest.fixture
def files(tmp_path: Path) -> Path:
    y, pa, pb = _binary(1200)
    ids = np.arange(1000, 2200)
    pd.DataFrame({"id": ids, "y_true": y, "y_pred": pa}).to_csv(tmp_path / "a.csv", index=False)
    b = pd.DataFrame({"id": ids, "y_true": y, "y_pred": pb})
    b.to_csv(tmp_path / "b.csv", index=False)
    b.sample(frac=1, random_state=4).to_csv(tmp_path / "b_shuffled.csv", index=False)
    return tmp_path


def run(runner: CliRunner, *args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(cli, ["compare", *args, "--format", "json"])
    assert "Traceback" not in result.output
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, data, result.stderr


def test_join_on_id_equals_same_order(runner: CliRunner, files: Path) -> None:
    code, same, _ = run(runner, str(files / "a.csv"), str(files / "b.csv"))
    code2, joined, _ = run(
        runner, str(files / "a.csv"), str(files / "b_shuffled.csv"), "--id-col", "id"
    )
    assert code == code2 == 0
    # B's rows are paired in A's order: the same sums in the same order, to the last bit
    for key in ("t_test", "accuracy", "rows", "by_class", "decomposition"):
        assert joined[key] == same[key], key
    for key in ("diff", "std_error", "ci"):
        assert joined["mean_loss"][key] == same["mean_loss"][key]  # type: ignore[index]
    assert joined["mean_loss"]["b"] == pytest.approx(same["mean_loss"]["b"], rel=1e-14)  # type: ignore[index]
    assert joined["id_col"] == "id" and same["id_col"] is None


def test_shuffled_rows_without_id_are_labels_that_disagree(runner: CliRunner, files: Path) -> None:
    code, _, err = run(runner, str(files / "a.csv"), str(files / "b_shuffled.csv"))
    assert code == 3
    line = err.strip()
    assert line.startswith("Error: ") and "\n" not in line
    assert "labels of" in line and "disagree in" in line and "--id-col COL" in line


def test_missing_and_duplicated_ids(runner: CliRunner, files: Path) -> None:
    b = pd.read_csv(files / "b.csv")
    b.iloc[3:10].to_csv(files / "short.csv", index=False)
    b.drop(index=[0, 1]).to_csv(files / "missing.csv", index=False)
    pd.concat([b, b.iloc[[5, 5, 7]]]).to_csv(files / "dup.csv", index=False)
    a = str(files / "a.csv")
    code, _, err = run(runner, a, str(files / "missing.csv"), "--id-col", "id")
    assert code == 3 and "2 ids are missing from" in err and "(1000, 1001)" in err
    assert err.count("\n") == 1
    code, _, err = run(runner, a, str(files / "dup.csv"), "--id-col", "id")
    assert code == 3 and "2 ids appear more than once" in err and "1005, 1007" in err
    code, _, err = run(runner, a, str(files / "short.csv"), "--id-col", "id")
    assert code == 3 and "1,193 ids are missing" in err and ", ...)" in err
    code, _, err = run(runner, a, str(files / "short.csv"))
    assert code == 3 and "has 7 rows but" in err and "1,200" in err
    code, _, err = run(runner, a, str(files / "b.csv"), "--id-col", "nope")
    assert code == 2 and "no column 'nope' (asked for by --id-col" in err  # as bce score says


def test_labels_that_disagree_are_named(runner: CliRunner, files: Path) -> None:
    b = pd.read_csv(files / "b.csv")
    b.loc[[2, 40], "y_true"] = 1 - b.loc[[2, 40], "y_true"]
    b.to_csv(files / "flipped.csv", index=False)
    code, _, err = run(runner, str(files / "a.csv"), str(files / "flipped.csv"))
    assert code == 3 and "disagree in 2 of 1,200 rows" in err and "2, 40" in err
    code, _, err = run(runner, str(files / "a.csv"), str(files / "flipped.csv"), "--id-col", "id")
    assert code == 3 and "1002, 1040" in err


def test_json_follows_the_schema(runner: CliRunner, files: Path) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    for extra in ([], ["--time-ordered"], ["--id-col", "id"]):
        code, data, _ = run(runner, str(files / "a.csv"), str(files / "b.csv"), *extra)
        assert code == 0
        jsonschema.validate(data, schema)
    code, data, _ = run(
        runner, str(SAMPLES / "multilabel_soft.csv"), str(SAMPLES / "multilabel_soft.csv")
    )
    assert code == 0 and len(data["outputs"]) == 4  # type: ignore[arg-type]
    jsonschema.validate(data, schema)


def test_require_better_and_alpha(runner: CliRunner, files: Path) -> None:
    a, b = str(files / "a.csv"), str(files / "b.csv")
    code, data, _ = run(runner, a, b, "--require-better")
    assert data["verdict"]["b_is_better"] is True and code == 0  # type: ignore[index]
    code, data, err = run(runner, b, a, "--require-better")
    assert code == 1 and "Failed: --require-better: B is worse by" in err
    code, _, err = run(runner, a, a, "--require-better")
    assert code == 1 and "No difference at alpha 0.05" in err
    p = data["test"]["p_value"]  # type: ignore[index]
    code, data, _ = run(runner, a, b, "--alpha", "0.01")
    assert data["level"] == pytest.approx(0.99) and data["alpha"] == 0.01
    assert "99% CI" in data["verdict"]["text"]  # type: ignore[index]
    assert p < 0.01


def test_tsv_lines(runner: CliRunner, files: Path) -> None:
    result = runner.invoke(
        cli, ["compare", str(files / "a.csv"), str(files / "b.csv"), "--format", "tsv"]
    )
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter="\t"))
    keys = {r[0]: r[1:] for r in rows}
    assert keys["schema"] == ["1"] and keys["test.name"] == ["paired-t"]
    assert float(keys["mean_loss.diff"][0]) < 0 and len(keys["mean_loss.ci"]) == 2
    assert [r[1] for r in rows if r[0] == "class"] == ["0", "1"]
    assert keys["verdict.text"][0].startswith("B is better by")


def test_table_on_a_terminal(runner: CliRunner, files: Path) -> None:
    result = runner.invoke(
        cli,
        ["compare", str(files / "a.csv"), str(files / "b.csv"), "--format", "table"],
        env={"COLUMNS": "100"},
    )
    assert result.exit_code == 0
    assert "mean loss" in result.stdout and "McNemar" in result.stdout
    assert "B is better by" in result.stdout


def test_pandas_predict_proba_exports(runner: CliRunner, tmp_path: Path) -> None:
    """pd.DataFrame(clf.predict_proba(X), columns=clf.classes_) beside text labels, written with
    to_csv: the index as the id, B's rows in another order."""
    df = pd.read_csv(SAMPLES / "pandas_export.csv", index_col=0)
    classes = ["setosa", "versicolor", "virginica"]
    sharper = df[classes].to_numpy() ** 1.3
    b = df.copy()
    b[classes] = sharper / sharper.sum(axis=1, keepdims=True)
    df.index.name = b.index.name = "id"
    df.to_csv(tmp_path / "a.csv")
    b.sample(frac=1, random_state=2).to_csv(tmp_path / "b.csv")
    code, data, _ = run(runner, str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--id-col", "id")
    assert code == 0, data
    y = df["species"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    la = -np.log(df[classes].to_numpy()[np.arange(len(y)), y])
    lb = -np.log(b.loc[df.index, classes].to_numpy()[np.arange(len(y)), y])
    assert data["mean_loss"]["diff"] == pytest.approx(float(np.mean(lb - la)), rel=1e-12)  # type: ignore[index]
    assert data["t_test"]["p_value"] == pytest.approx(stats.ttest_rel(lb, la).pvalue, rel=1e-7)  # type: ignore[index]
    assert [g["name"] for g in data["by_class"]] == classes  # type: ignore[union-attr,index]


def test_options_that_do_not_fit(runner: CliRunner, files: Path) -> None:
    a, b = str(files / "a.csv"), str(files / "b.csv")
    code, _, err = run(runner, a, b, "--reduction", "sum")
    assert code == 2 and "--reduction does not apply" in err
    code, _, err = run(runner, a, b, "--labels", a, "--id-col", "id")
    assert code == 2 and "--labels fixes the row order" in err


def test_chunks_merge_to_the_whole(files: Path) -> None:
    """The paired sums stream: scored in chunks of 97 rows, the same statistics."""
    a, b = str(files / "a.csv"), str(files / "b.csv")
    whole = bcecli.compare_files(a, b).to_dict()
    chunked = bcecli.compare_files(a, b, chunk_rows=97).to_dict()
    for key in ("diff", "std_error"):
        assert chunked["mean_loss"][key] == pytest.approx(whole["mean_loss"][key], rel=1e-12)
    assert chunked["t_test"]["p_value"] == pytest.approx(whole["t_test"]["p_value"], rel=1e-9)
    assert chunked["accuracy"] == whole["accuracy"] and chunked["rows"] == whole["rows"]
    for g, h in zip(chunked["by_class"], whole["by_class"], strict=True):
        assert g["diff"] == pytest.approx(h["diff"], rel=1e-12)
        assert g["std_error"] == pytest.approx(h["std_error"], rel=1e-12)


def test_diebold_mariano_refuses_weighted_rows(files: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        frame = pd.read_csv(files / f"{name}.csv")
        frame["w"] = np.linspace(0.5, 2, len(frame))
        frame.to_csv(tmp_path / f"w{name}.csv", index=False)
    wa, wb = str(tmp_path / "wa.csv"), str(tmp_path / "wb.csv")
    with pytest.raises(bcecli.OptionError, match="Diebold-Mariano"):
        bcecli.compare_files(wa, wb, sample_weight="w", time_ordered=True)
    keras = bcecli.compare_files(wa, wb, sample_weight="w", time_ordered=True, compat="keras")
    assert keras.dm is not None and not keras.weighted  # Keras weighs each row's loss


def test_compare_help_loads_no_numpy() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom bcecli.cli import cli\n"
        "try:\n    cli.main(['compare', '--help'], prog_name='bce', standalone_mode=False)\n"
        "except BaseException:\n    pass\n"
        "print('numpy' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False False", out.stderr


def test_help_lists_compare(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert "compare" in result.stdout
    result = runner.invoke(cli, ["compare", "--help"])
    assert result.exit_code == 0 and "--require-better" in result.stdout
