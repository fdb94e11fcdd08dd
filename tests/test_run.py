"""The run's contract with its caller: a row sink gets ``begin`` once, every scored chunk in row
order, then ``finish``, or ``close`` when the run fails (before ``begin`` too); an engine that
does not keep row order refuses a sink with the sink's own words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bcecli.core.chunk import ScoredChunk
from bcecli.core.options import Compat, LossOptions, Task
from bcecli.errors import BceError, OptionError
from bcecli.run import (
    DaskEngine,
    Inputs,
    LocalEngine,
    RowColumns,
    ScoreRequest,
    run_score,
)

N = 10_007


class Recorder:
    needs_row_order = ("{reduction=none} lists every loss in input order", "use mean")

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.columns: RowColumns | None = None
        self.starts: list[int] = []
        self.losses: list[np.ndarray] = []

    def begin(self, columns: RowColumns) -> None:
        self.calls.append("begin")
        self.columns = columns

    def write(self, scored: ScoredChunk) -> None:
        self.calls.append("write")
        self.starts.append(scored.chunk.start)
        self.losses.append(scored.loss)

    def finish(self) -> None:
        self.calls.append("finish")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    y = (rng.random(N) < 0.4).astype(np.float64)
    p = rng.uniform(0.01, 0.99, N)
    d = tmp_path_factory.mktemp("pair")
    np.save(d / "preds.npy", p)
    np.save(d / "labels.npy", y)
    return d / "preds.npy", d / "labels.npy", y, p


def test_a_sink_gets_every_row_in_order(pair: tuple[Path, Path, np.ndarray, np.ndarray]) -> None:
    preds, labels, y, p = pair
    sink = Recorder()
    engine = LocalEngine(threads=2, chunk_rows=1000)
    report = run_score(ScoreRequest(Inputs(str(preds), str(labels)), engine=engine), sink=sink)
    chunks = -(-N // 1000)
    assert sink.calls == ["begin", *["write"] * chunks, "finish"]
    assert sink.starts == list(range(0, N, 1000))
    assert sink.columns == RowColumns(labels=("labels",), preds=("preds",), weighted=False)
    losses = np.concatenate(sink.losses)
    np.testing.assert_allclose(losses, -(y * np.log(p) + (1 - y) * np.log1p(-p)), rtol=1e-13)
    assert report.n == N


def test_a_failed_run_closes_the_sink(
    pair: tuple[Path, Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    preds, labels, y, p = pair
    q = p.copy()
    q[5_500] = 1.5  # PyTorch refuses it, in the sixth chunk
    np.save(tmp_path / "bad.npy", q)
    sink = Recorder()
    loss = LossOptions(task=Task.AUTO, compat=Compat.TORCH)
    engine = LocalEngine(chunk_rows=1000)
    with pytest.raises(BceError, match="first at row 5500"):
        run_score(
            ScoreRequest(Inputs(str(tmp_path / "bad.npy"), str(labels)), loss, engine), sink=sink
        )
    assert sink.calls[0] == "begin" and sink.calls[-1] == "close" and "finish" not in sink.calls
    assert sink.starts == list(range(0, 5000, 1000))  # the rows before the bad chunk, in order

    early = Recorder()  # the input cannot even be opened: closed, never begun
    with pytest.raises(BceError):
        run_score(ScoreRequest(Inputs(str(tmp_path / "missing.npy"))), sink=early)
    assert early.calls == ["close"]


def test_the_dask_engine_refuses_a_sink_in_its_words(
    pair: tuple[Path, Path, np.ndarray, np.ndarray],
) -> None:
    sink = Recorder()
    request = ScoreRequest(Inputs(str(pair[0])), engine=DaskEngine())
    with pytest.raises(OptionError) as e:
        run_score(request, sink=sink)
    assert e.value.line() == (
        'reduction="none" lists every loss in input order, which engine="dask" does not do; '
        "use mean"
    )
    assert sink.calls == ["close"]
