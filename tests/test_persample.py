"""Per-sample output formatted on several threads comes out in input order, byte for byte as on
one thread, and a failure part way stops the writer cleanly."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bcecli.cli import cli
from bcecli.render import persample
from bcecli.run import Inputs, LocalEngine, ScoreRequest, run_score

N = 20_000


@pytest.fixture(scope="module")
def preds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(23)
    y = rng.integers(0, 2, N)
    p = rng.uniform(0.001, 0.999, N)
    lines = [f"{a},{float(b)!r}" for a, b in zip(y, p, strict=True)]
    lines[1234] = "1,"  # an excluded row, written with an empty loss
    path = tmp_path_factory.mktemp("ps") / "preds.csv"
    path.write_text("y_true,y_pred\n" + "\n".join(lines) + "\n")
    return path


def per_sample(path: Path, fmt: str) -> str:
    # small chunks: many of them in flight on the formatting threads at once
    args = ["score", str(path), "--per-sample", "--format", fmt, "--chunk-rows", "997"]
    result = CliRunner().invoke(cli, [*args, "--fail-on", "never"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_rows_in_input_order_as_on_one_thread(
    preds: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threaded = per_sample(preds, fmt)
    monkeypatch.setattr(persample, "FORMAT_THREADS", 1)
    assert per_sample(preds, fmt) == threaded
    lines = threaded.splitlines()
    if fmt == "jsonl":
        rows = [json.loads(line)["row"] for line in lines]
        assert json.loads(lines[1234])["loss"] is None
    else:
        rows = [int(line.split("\t" if fmt == "tsv" else ",")[0]) for line in lines[1:]]
    assert rows == list(range(N))


def test_a_failing_chunk_stops_the_writer(preds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = persample.PerSampleWriter._format

    def fail_on_the_fifth(self: persample.PerSampleWriter, scored: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise OSError("disk full")
        return real(self, scored)  # type: ignore[arg-type]

    monkeypatch.setattr(persample.PerSampleWriter, "_format", fail_on_the_fifth)
    out = io.BytesIO()
    with pytest.raises(OSError, match="disk full"):
        run_score(
            ScoreRequest(Inputs(str(preds)), engine=LocalEngine(chunk_rows=997)),
            sink=persample.PerSampleSink(out, "csv"),
        )
    text = out.getvalue().decode()
    assert text.startswith("row,label,pred,p_true,loss,flags\n")
    lines = text.splitlines()
    assert len(lines) - 2 == 4 * 997  # the four chunks before it, whole
    assert lines[-1] == "# error: disk full"  # then the error: no reader takes it for whole
