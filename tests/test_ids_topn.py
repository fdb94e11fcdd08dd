"""Issue 19 item 8 (ids through to per-sample output, pred_class, --top N) and issue 21 item 12
(a per-sample stream that ends in an error says so). Files are built here with pandas and
numpy; losses are checked against numpy's own formula, the worst rows against a sort by
pandas."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bcecli
from bcecli.cli import cli

N = 500
CLASSES = ["cat", "dog", "eel"]


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["score", *args])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("ids")
    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, N)
    p = rng.dirichlet(np.ones(3), N)
    p[7] = p[11] = p[13] = [0.98, 0.01, 0.01]  # ties: rows 7, 11 and 13 cost the same
    y[[7, 11, 13]] = 1
    ids = [f"s-{i:04d}" for i in range(N)]
    df = pd.DataFrame(p, columns=CLASSES)
    df.insert(0, "label", np.array(CLASSES)[y])
    df.insert(0, "sample_id", ids)
    df.insert(1, "batch", rng.integers(0, 10**12, N))
    multi = tmp / "multi.csv"
    df.to_csv(multi, index=False)
    pb = rng.uniform(0.01, 0.99, N)
    yb = (rng.uniform(size=N) < pb).astype(int)
    binary = tmp / "binary.parquet"
    pd.DataFrame({"uuid": [f"u{i}" for i in range(N)], "y_true": yb, "y_pred": pb}).to_parquet(
        binary
    )
    loss_multi = -np.log(p[np.arange(N), y])
    loss_bin = -(yb * np.log(pb) + (1 - yb) * np.log(1 - pb))
    return {
        "multi": multi, "binary": binary, "y": y, "p": p, "ids": ids, "df": df,
        "loss_multi": loss_multi, "loss_bin": loss_bin, "tmp": tmp,
    }  # fmt: skip


def worst_rows(loss: np.ndarray, n: int) -> list[int]:
    """The n largest losses, ties by row: pandas' stable sort, independent of bce."""
    s = pd.Series(loss).sort_values(ascending=False, kind="stable")
    return [int(i) for i in s.index[:n]]


def test_ids_and_pred_class_in_every_record(files: Any) -> None:
    res = run(str(files["multi"]), "--id-col", "sample_id,batch", "--per-sample", "-f", "csv")
    assert res.exit_code == 0, res.stderr
    out = pd.read_csv(io.StringIO(res.stdout), dtype={"sample_id": str})
    assert list(out.columns[:3]) == ["row", "sample_id", "batch"]
    assert out["sample_id"].tolist() == files["ids"]
    assert out["batch"].tolist() == files["df"]["batch"].tolist()  # integers, not 1e11 floats
    assert out["pred_class"].tolist() == [CLASSES[i] for i in files["p"].argmax(axis=1)]
    np.testing.assert_allclose(out["loss"], files["loss_multi"], rtol=1e-12)


def test_unnamed_classes_give_the_argmax_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), 50)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", rng.integers(0, 4, 50))
    res = run(str(tmp_path / "p.npy"), "--labels", str(tmp_path / "y.npy"), "--per-sample",
              "-f", "jsonl")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["pred_class"] for r in records] == p.argmax(axis=1).tolist()


def test_binary_records_have_no_pred_class(files: Any) -> None:
    res = run(str(files["binary"]), "--per-sample", "-f", "jsonl", "--id-col", "uuid")
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert "pred_class" not in records[0]
    assert [r["uuid"] for r in records] == [f"u{i}" for i in range(N)]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_top_n_is_the_n_worst_worst_first(files: Any, fmt: str) -> None:
    res = run(str(files["multi"]), "--id-col", "sample_id,batch", "--top", "5", "-f", fmt, "-q")
    assert res.exit_code == 0, res.stderr
    if fmt == "jsonl":
        out = pd.DataFrame([json.loads(line) for line in res.stdout.splitlines()])
    else:
        out = pd.read_csv(io.StringIO(res.stdout), sep="\t" if fmt == "tsv" else ",")
    expected = worst_rows(files["loss_multi"], 5)
    assert out["row"].tolist() == expected
    assert out["sample_id"].tolist() == [files["ids"][i] for i in expected]
    np.testing.assert_allclose(out["loss"], files["loss_multi"][expected], rtol=1e-12)


def test_top_breaks_ties_by_row_across_chunks(files: Any, tmp_path: Path) -> None:
    # rows 7, 11, 13 tie; chunks of 4 rows put them in different chunks (numeric labels: text
    # labels are mapped from the first chunk)
    df = pd.DataFrame(files["p"], columns=["prob_0", "prob_1", "prob_2"])
    df.insert(0, "label", files["y"])
    df.to_csv(tmp_path / "m.csv", index=False)
    loss = files["loss_multi"]
    above = int((loss > loss[7]).sum())
    res = run(str(tmp_path / "m.csv"), "--top", str(above + 2), "-f", "csv", "--chunk-rows", "4")
    out = pd.read_csv(io.StringIO(res.stdout))
    assert out["row"].tolist()[-2:] == [7, 11]
    assert out["row"].tolist() == worst_rows(loss, above + 2)
    assert out["pred_class"].tolist() == files["p"][out["row"]].argmax(axis=1).tolist()


def test_top_larger_than_the_file_is_every_scored_row(files: Any) -> None:
    res = run(str(files["binary"]), "--top", "100000", "-f", "csv")
    out = pd.read_csv(io.StringIO(res.stdout))
    assert out["row"].tolist() == worst_rows(files["loss_bin"], N)


def test_worst_rows_carry_ids_in_json_and_table(files: Any) -> None:
    res = run(str(files["multi"]), "--id-col", "sample_id,batch", "-f", "json")
    data = json.loads(res.stdout)
    for w in data["worst"]:
        assert w["ids"]["sample_id"] == files["ids"][w["row"]]
    table = run(str(files["multi"]), "--id-col", "sample_id,batch", "-f", "table").stdout
    first = data["worst"][0]
    assert files["ids"][first["row"]] in table
    plain = run(str(files["binary"]), "-f", "json").stdout
    assert "ids" not in json.loads(plain)["worst"][0]


def test_api_takes_id_col(files: Any) -> None:
    report = bcecli.score_file(str(files["binary"]), id_col="uuid")
    assert [w.ids for w in report.worst] == [(f"u{w.row}",) for w in report.worst]
    assert report.to_dict()["worst"][0]["ids"] == {"uuid": f"u{report.worst[0].row}"}
    buf = io.BytesIO()
    bcecli.score_file(str(files["binary"]), per_sample=buf, per_sample_format="csv", top=3)
    rows = pd.read_csv(io.BytesIO(buf.getvalue()))["row"].tolist()
    assert rows == worst_rows(files["loss_bin"], 3)
    with pytest.raises(bcecli.BceError, match="top"):
        bcecli.score_file(str(files["binary"]), top=3)


def test_an_unused_id_column_is_named_in_a_note(files: Any) -> None:
    notes = json.loads(run(str(files["binary"]), "-f", "json").stdout)["notes"]
    assert any("uuid" in n and "--id-col" in n for n in notes)
    notes = json.loads(run(str(files["binary"]), "-f", "json", "--id-col", "uuid").stdout)["notes"]
    assert not any("--id-col" in n for n in notes)


def test_ids_with_delimiters_quotes_and_line_ends_survive(tmp_path: Path) -> None:
    ids = ["a,b", 'say "hi"', "tab\there", "back\\slash", "line\nend", "é"]
    n = len(ids)
    df = pd.DataFrame({"id": ids, "y_true": [0, 1] * 3, "y_pred": np.linspace(0.1, 0.9, n)})
    df.to_csv(tmp_path / "q.csv", index=False)
    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        res = run(str(tmp_path / "q.csv"), "--id-col", "id", "--per-sample", "-f", fmt)
        assert pd.read_csv(io.StringIO(res.stdout), sep=sep)["id"].tolist() == ids
    res = run(str(tmp_path / "q.csv"), "--id-col", "id", "--per-sample", "-f", "jsonl")
    assert [json.loads(line)["id"] for line in res.stdout.splitlines()] == ids


def test_a_missing_id_column_is_a_usage_error(files: Any) -> None:
    res = run(str(files["binary"]), "--id-col", "nope")
    assert res.exit_code == 2
    assert "--id-col" in res.stderr and "nope" in res.stderr


# -- issue 21 item 12: never a partial stream that looks whole --------------------------------


def test_lengths_checked_before_streaming(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    n = 200_000  # more than the first MiB the reader sniffs: its length is not known up front
    pd.DataFrame({"y_pred": rng.uniform(size=n)}).to_csv(tmp_path / "p.csv", index=False)
    np.save(tmp_path / "y.npy", (rng.uniform(size=n - 10) < 0.5).astype(float))
    pd.DataFrame({"y_true": rng.integers(0, 2, n + 3)}).to_csv(tmp_path / "y.csv", index=False)
    for labels in ("y.npy", "y.csv"):
        res = run(str(tmp_path / "p.csv"), "--labels", str(tmp_path / labels), "--per-sample",
                  "-f", "csv")  # fmt: skip
        assert res.exit_code == 3
        assert res.stdout == ""  # not one record
        assert "rows" in res.stderr


def test_a_stream_cut_short_ends_in_an_error_record(tmp_path: Path) -> None:
    # quoted cells: the line count is only an upper bound, so the mismatch is found late
    rng = np.random.default_rng(13)
    n = 100_000  # in chunks of 4096 rows: records are streamed before the mismatch shows
    pd.DataFrame({"y_pred": rng.uniform(size=n)}).to_csv(tmp_path / "p.csv", index=False)
    labels = pd.DataFrame({"y_true": rng.integers(0, 2, n + 7), "note": "x" * 20})  # > 1 MiB
    labels.to_csv(tmp_path / "y.csv", index=False, quoting=1)  # csv.QUOTE_ALL
    for fmt in ("csv", "jsonl"):
        res = run(str(tmp_path / "p.csv"), "--labels", str(tmp_path / "y.csv"), "--label-col",
                  "y_true", "--per-sample", "-f", fmt, "--chunk-rows", "4096")  # fmt: skip
        assert res.exit_code == 3
        last = res.stdout.splitlines()[-1]
        if fmt == "jsonl":
            assert "rows" in json.loads(last)["error"]
        else:
            assert last.startswith("# error: ") and "rows" in last
        assert len(res.stdout.splitlines()) < n  # the records before the error, then the error


def test_json_with_ids_validates_against_the_schema(files: Any) -> None:
    import jsonschema

    schema = json.loads(
        (Path(bcecli.__file__).parent / "schema" / "report.schema.json").read_text()
    )
    res = run(str(files["multi"]), "--id-col", "sample_id,batch", "-f", "json")
    jsonschema.validate(json.loads(res.stdout), schema)
