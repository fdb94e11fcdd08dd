"""The command line on the shipped samples: numbers, flags, formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from tests.conftest import SAMPLES


def score(runner: CliRunner, *args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(cli, ["score", *args, "--format", "json"])
    assert "Traceback" not in result.output
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, data, result.stderr


def flag_ids(data: dict[str, object]) -> set[str]:
    return {f["id"] for f in data["flags"]}  # type: ignore[index, union-attr]


def sample(name: str) -> str:
    return str(SAMPLES / name)


def test_seed_example(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("seed.csv"))
    assert code == 0
    assert data["mean_loss"] == pytest.approx(2.302585092994046, rel=1e-15)
    assert data["n_above_1"] == 1 and data["share_above_1"] == 1.0
    assert {"mean_above_1", "loss_above_1"} <= flag_ids(data)


def test_healthy_binary_matches_an_independent_computation(runner: CliRunner) -> None:
    y, p = np.loadtxt(sample("healthy_binary.csv"), delimiter=",", skiprows=1, unpack=True)
    per = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    prior = y.mean()
    baseline = -(prior * np.log(prior) + (1 - prior) * np.log1p(-prior))
    code, data, _ = score(runner, sample("healthy_binary.csv"))
    assert code == 0
    assert data["mean_loss"] == pytest.approx(per.mean(), rel=1e-12)
    assert data["median_loss"] == pytest.approx(np.median(per), rel=1e-12)
    assert data["max_loss"] == pytest.approx(per.max(), rel=1e-12)
    assert data["share_above_1"] == pytest.approx((per > 1).mean())
    assert data["baseline_loss"] == pytest.approx(baseline, rel=1e-12)
    assert data["ne"] == pytest.approx(per.mean() / baseline, rel=1e-12)
    assert data["accuracy"] == pytest.approx(((p > 0.5) == (y == 1)).mean())
    assert data["brier"] == pytest.approx(((p - y) ** 2).mean(), rel=1e-12)
    assert flag_ids(data) == {"loss_above_1"}


def test_imbalanced_file_is_flagged(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("imbalanced_binary.csv"))
    assert code == 0
    assert data["band"] == "fine" and 0.5 < data["ne"] < 0.8  # type: ignore[operator]
    assert "class_imbalance" in flag_ids(data)


def test_logits_saved_as_probabilities(runner: CliRunner) -> None:
    code, data, stderr = score(runner, sample("logits_as_probs.csv"))
    assert code == 1
    assert "pred_out_of_range" in flag_ids(data)
    assert "--from-logits" in stderr
    code, data, _ = score(runner, sample("logits_as_probs.csv"), "--from-logits")
    assert code == 0 and math.isfinite(data["mean_loss"])  # type: ignore[arg-type]


def test_single_unit_softmax(runner: CliRunner) -> None:
    code, data, stderr = score(runner, sample("single_unit_softmax.csv"))
    assert code == 1
    assert "constant_predictions" in flag_ids(data)
    assert "softmax over a single unit" in stderr
    assert "Failed: 1 error flag (constant_predictions)" in stderr


def test_length_mismatch_is_exit_3_with_one_error_line(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["score", sample("mismatch_preds.csv"), "--labels", sample("mismatch_labels.csv")],
    )
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    line = lines[0].replace(",", "")
    assert "mismatch_preds.csv" in line and "1000" in line and "999" in line


def test_npy_pair(runner: CliRunner) -> None:
    y = np.load(sample("labels.npy"))
    p = np.load(sample("preds.npy"))
    per = -(y * np.log(p.astype(np.float64)) + (1 - y) * np.log1p(-p.astype(np.float64)))
    code, data, _ = score(runner, sample("preds.npy"), "--labels", sample("labels.npy"))
    assert code == 0
    assert data["mean_loss"] == pytest.approx(per.mean(), rel=1e-12)
    # scikit-learn works in the array's dtype: float32 predictions give float32 arithmetic
    code, data, _ = score(
        runner, sample("preds.npy"), "--labels", sample("labels.npy"), "--compat", "sklearn"
    )
    assert data["dtype"] == "float32"
    assert data["mean_loss"] == pytest.approx(per.mean(), rel=1e-5)


def test_multilabel_soft_labels(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("multilabel_soft.csv"))
    assert code == 0
    assert data["task"] == "multilabel"
    assert "soft_labels" in flag_ids(data)
    floor = data["entropy_floor"]
    assert isinstance(floor, float) and 0 < floor < data["mean_loss"]  # type: ignore[operator]
    names = [o["name"] for o in data["outputs"]]  # type: ignore[union-attr]
    assert names == ["cat", "dog", "outdoor", "night"]


def test_softmax_10class_is_sparse_and_clean(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("softmax_10class.csv"))
    assert code == 0
    assert data["task"] == "sparse"
    # its probabilities are a softmax at too high a temperature: T = 0.406 is a finding
    assert flag_ids(data) <= {"loss_above_1", "underconfident"}
    assert len(data["outputs"]) == 10  # type: ignore[arg-type]


def test_double_softmax_flag(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("double_softmax.csv"))
    assert "double_softmax" in flag_ids(data)
    floor = math.log(1 + 9 / math.e)
    assert data["mean_loss"] > floor  # type: ignore[operator]


def test_one_indexed_labels_are_an_input_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["score", sample("one_indexed_labels.csv")])
    assert result.exit_code == 3
    assert "1-indexed" in result.stderr


def test_onehot_categorical(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("onehot_3class.csv"))
    assert code == 0 and data["task"] == "categorical"
    code, bce, _ = score(runner, sample("onehot_3class.csv"), "--task", "multilabel")
    assert "one_hot_labels_bce" in flag_ids(bce)


def test_formats_tsv_csv_raw(runner: CliRunner) -> None:
    args = ["score", sample("healthy_binary.csv")]
    tsv = runner.invoke(cli, [*args, "--format", "tsv"]).stdout
    rows = dict(line.split("\t", 1) for line in tsv.splitlines() if not line.startswith("flag"))
    js = json.loads(runner.invoke(cli, [*args, "--format", "json"]).stdout)
    assert float(rows["mean_loss"]) == js["mean_loss"]
    assert rows["schema"] == "1"
    out = runner.invoke(cli, [*args, "--format", "csv"]).stdout
    parsed = {r[0]: r[1:] for r in csv.reader(io.StringIO(out))}
    assert float(parsed["ne"][0]) == js["ne"]
    raw = runner.invoke(cli, [*args, "--raw"]).stdout
    assert float(raw) == js["mean_loss"]
    total = runner.invoke(cli, [*args, "--raw", "--reduction", "sum"]).stdout
    assert float(total) == pytest.approx(js["sum_loss"])


def test_json_is_strict_even_with_infinities(runner: CliRunner) -> None:
    code, data, _ = score(runner, sample("single_unit_softmax.csv"))
    assert data["mean_loss"] == "inf"  # never a bare Infinity


def test_per_sample_csv_streams_every_row(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("y_true,y_pred\n1,0.1\n0,\n0,0.2\n")
    result = runner.invoke(cli, ["score", str(f), "--per-sample", "--format", "csv"])
    assert result.exit_code == 1  # the NaN row is an error flag
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["row"] for r in rows] == ["0", "1", "2"]
    assert float(rows[0]["loss"]) == pytest.approx(2.302585092994046)
    assert rows[1]["loss"] == "" and "non_finite" in rows[1]["flags"]
    assert "loss_above_1" in rows[0]["flags"]
    jsonl = runner.invoke(cli, ["score", str(f), "--per-sample", "--format", "jsonl"]).stdout
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert records[1]["loss"] is None and records[0]["p_true"] == pytest.approx(0.1)


def test_gates(runner: CliRunner) -> None:
    healthy = sample("healthy_binary.csv")
    assert runner.invoke(cli, ["score", healthy, "--max-loss", "0.5"]).exit_code == 0
    result = runner.invoke(cli, ["score", healthy, "--max-loss", "0.3"])
    assert result.exit_code == 1 and "--max-loss" in result.stderr
    assert runner.invoke(cli, ["score", healthy, "--max-ne", "0.4"]).exit_code == 1
    broken = sample("single_unit_softmax.csv")
    assert runner.invoke(cli, ["score", broken, "--fail-on", "never"]).exit_code == 0
    ignored = runner.invoke(cli, ["score", broken, "--ignore", "constant_predictions"])
    assert ignored.exit_code == 0
    strict = runner.invoke(cli, ["score", healthy, "--fail-on", "warning"])
    assert strict.exit_code == 0  # only an info flag
    quiet = runner.invoke(cli, ["score", broken, "-q"])
    assert quiet.exit_code == 1 and quiet.stderr == ""


def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["score", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    args = ["--compat", "sklearn", "--label-smoothing", "0.1"]
    unsupported = runner.invoke(cli, ["score", sample("healthy_binary.csv"), *args])
    assert unsupported.exit_code == 2
    assert unsupported.stderr.strip().startswith("Error: ")
    assert len(unsupported.stderr.strip().splitlines()) == 1


def test_framework_refusal_exit_3(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("y_true,y_pred\n1,1.0000001\n0,0.5\n")
    result = runner.invoke(cli, ["score", str(f), "--compat", "torch"])
    assert result.exit_code == 3
    assert "between 0 and 1" in result.stderr and str(f) in result.stderr


def test_explain(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["explain", "2.302585", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["p_true"] == pytest.approx(0.1, rel=1e-6)
    result = runner.invoke(cli, ["explain", "--label", "0", "--pred", "1.0", "--format", "json"])
    values = {f["compat"]: f["loss"] for f in json.loads(result.stdout)["frameworks"]}
    assert values["exact"] == "inf"
    assert values["keras"] == pytest.approx(15.942385, rel=1e-6)
    assert values["torch"] == 100.0
    assert values["sklearn"] == pytest.approx(36.043653, rel=1e-6)


def test_bands(runner: CliRunner) -> None:
    data = json.loads(runner.invoke(cli, ["bands", "--format", "json"]).stdout)
    labels = [b["label"] for b in data["bands"]]
    assert labels[0] == "perfect" and labels[-1] == "something is broken"
    assert "Brownlee" in data["source"]


def test_version(runner: CliRunner) -> None:
    import importlib.metadata

    import bcecli

    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"bce, version {bcecli.__version__}\n"
    # one source: the installed metadata is read from bcecli.__version__
    assert importlib.metadata.version("bcecli") == bcecli.__version__


def test_stdin(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["score", "-", "--raw"], input="y_true,y_pred\n1,0.1\n")
    assert float(result.stdout) == pytest.approx(2.302585092994046)


def test_true_false_labels_score_as_one_and_zero(runner: CliRunner, tmp_path: Path) -> None:
    # as pandas writes a boolean column; one label missing
    words = tmp_path / "words.csv"
    words.write_text("y_true,y_pred\nTrue,0.9\nFalse,0.2\n,0.5\nFalse,0.7\nTrue,0.4\n")
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("y_true,y_pred\n1,0.9\n0,0.2\n,0.5\n0,0.7\n1,0.4\n")
    code_w, got, _ = score(runner, str(words))
    code_n, ref, _ = score(runner, str(numbers))
    want = -(math.log(0.9) + math.log(0.8) + math.log(0.3) + math.log(0.4)) / 4
    assert code_w == code_n
    assert got["n"] == 4 and got["n_excluded"] == 1
    assert got["mean_loss"] == pytest.approx(want, rel=1e-15)
    assert got["mean_loss"] == ref["mean_loss"]


def test_errors_name_the_parameter_and_the_cli_spells_it_as_a_flag(runner: CliRunner) -> None:
    import pickle

    from bcecli.core.options import Compat, LossOptions, Task, check_options
    from bcecli.errors import OptionError

    opts = LossOptions(task=Task.BINARY, compat=Compat.SKLEARN, pos_weight=(2.0,))
    with pytest.raises(OptionError) as caught:
        check_options(opts, 1)
    e = caught.value
    assert e.param == "pos_weight"
    assert str(e) == 'compat="sklearn": log_loss has no pos_weight; drop pos_weight'
    back = pickle.loads(pickle.dumps(e))
    assert back.param == "pos_weight" and str(back) == str(e)
    args = ["score", sample("healthy_binary.csv"), "--compat", "sklearn", "--pos-weight", "2"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert result.stderr.endswith(
        ": --compat sklearn: log_loss has no pos_weight; drop --pos-weight\n"
    )


def test_only_the_names_of_parameters_are_spelled() -> None:
    from bcecli.errors import InputError, flag_spelling

    e = InputError("column '{x}' and {label_col}", "see {nothing=1}", source="a{b}.csv")
    assert e.line(flag_spelling) == "a{b}.csv: column '{x}' and --label-col; see {nothing=1}"
    assert e.line() == "a{b}.csv: column '{x}' and label_col; see {nothing=1}"


def test_per_sample_as_a_table_shows_the_first_records(runner: CliRunner) -> None:
    args = ["score", sample("healthy_binary.csv"), "--per-sample"]
    result = runner.invoke(cli, [*args, "--format", "table"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["row", "label", "pred", "p_true", "loss", "flags"]
    assert len(lines) == 2 + 20
    records = runner.invoke(cli, [*args, "--format", "tsv"]).stdout.splitlines()[1:21]
    for shown, record in zip(lines[2:], records, strict=True):  # the same rows, rounded
        cells, fields = shown.split(), record.split("\t")
        assert cells[:2] == fields[:2]
        assert [float(c) for c in cells[2:5]] == pytest.approx(
            [float(f) for f in fields[2:5]], rel=1e-5
        )
    assert "the first 20 of 2,000 records" in result.stderr and "--format csv" in result.stderr
    both = runner.invoke(cli, ["score", sample("seed.csv"), "--per-sample", "--raw"])
    assert both.exit_code == 2 and "do not go together" in both.stderr


def test_the_fail_on_choices_are_the_gates_enum() -> None:
    from bcecli.cli.score import score as command
    from bcecli.gates import FailOn

    option = next(p for p in command.params if p.name == "fail_on")
    assert list(option.type.choices) == [m.value for m in FailOn]  # type: ignore[attr-defined]


def test_every_parameter_an_error_names_is_a_flag_of_bce_score() -> None:
    from bcecli.cli.score import score as command
    from bcecli.errors import PARAMETERS, flag_spelling

    flags = {opt for p in command.params for opt in p.opts}
    for name in PARAMETERS - {"y_true", "y_pred"}:  # bcecli.score's arrays
        assert flag_spelling(name, None) in flags, name


def test_the_placeholders_in_messages_name_real_parameters() -> None:
    """A ``{name}`` in bce's strings is a parameter (spelled per reader) or one of the few
    str.format templates' fields: a misspelt parameter would print as it is."""
    import ast
    import re

    from bcecli.errors import PARAMETERS
    from tests.conftest import ROOT

    found = set()
    for path in (ROOT / "bcecli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= set(re.findall(r"\{([a-z_]+)(?:=[^{}]*)?\}", node.value))
    assert "pos_weight" in found  # the scan sees the messages
    assert found - PARAMETERS <= {"count", "rows", "name", "code"}
