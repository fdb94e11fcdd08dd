"""The Dask engine: score the partitions of a directory or glob on a Dask cluster.

The client does what the local engine does before streaming: it opens the input, resolves the
columns on the first partition, reads the first chunk and decides the task from it, and checks
that every partition holds the columns. It then needs each partition's global row offset: for
Parquet the row counts come from the files' footers (cheap), for CSV from a first pass on the
cluster. Each worker turns its pandas partition into chunks numbered with global rows, scores
them into an ``Accumulator``, and the accumulators are merged in a tree on the cluster; only the
final one (about 700 KB) comes back to render the report. Block sums over global rows make the
exact statistics bit-identical to the local engine's.

Dask is an optional extra, imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bcecli.core.accumulator import Accumulator
from bcecli.core.options import LossOptions
from bcecli.core.sketch import EXACT_LIMIT
from bcecli.errors import BceError, InputError, OptionError
from bcecli.readers import (
    Column,
    Dataset,
    Files,
    LabelMapper,
    assemble_chunk,
    column_from_arrow,
)
from bcecli.readers.display import show
from bcecli.run.prepare import Prepared, prepare
from bcecli.run.request import DaskEngine, ScoreRequest
from bcecli.run.sink import RowSink

if TYPE_CHECKING:
    import pandas as pd

    from bcecli.core.report import Report

LOCAL_WORKERS = 2  # a LocalCluster of processes, one thread each
SPLIT_EVERY = 8  # accumulators merged by one task of the tree reduction
CONNECT_TIMEOUT = "10s"
NEEDS_DASK = "{engine=dask} needs dask: pip install 'bcecli[dask]'"


@dataclass(frozen=True)
class PartitionPlan:
    """What a worker needs to score a partition: pickled once and shared by every task."""

    opts: LossOptions
    n_outputs: int
    labels: tuple[str, ...]
    preds: tuple[str, ...]
    weight: str | None
    mapper: LabelMapper | None  # text labels: the mapping decided on the first chunk
    chunk_rows: int
    # Keep every loss for an exact median? Only when the whole input may have at most
    # EXACT_LIMIT of them: otherwise each partition would ship up to 8 MB of losses for nothing.
    keep_losses: bool = True
    by: tuple[str, ...] = ()  # --by's columns, carried to the chunks' groups

    @property
    def columns(self) -> list[str]:
        cols = [*self.labels, *self.preds, *([self.weight] if self.weight else []), *self.by]
        return list(dict.fromkeys(cols))


def check_request(req: ScoreRequest, sink: RowSink | None) -> None:
    """What the dask engine cannot do, refused before anything is read."""
    if sink is not None:  # the partitions are scored in no particular order
        what, fix = sink.needs_row_order
        raise OptionError(f"{what}, which {{engine=dask}} does not do", fix)
    if req.inputs.preds == "-":
        raise OptionError(
            "{engine=dask} reads files, not stdin", "save the data to Parquet or CSV files"
        )
    if req.inputs.labels is not None:
        raise OptionError(
            "{engine=dask} reads labels and predictions from the same partitions",
            "drop {labels} (one dataset holding both columns), or use {engine=local}",
        )


def _import_dask() -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise OptionError(NEEDS_DASK) from None


def run_dask(req: ScoreRequest, engine: DaskEngine, sink: RowSink | None) -> Report:
    from bcecli.core.report import finalize

    check_request(req, sink)
    _import_dask()
    prep = prepare(req)
    try:
        data = prep.inp.dataset()
        if data is None:
            raise OptionError(
                f"{{engine=dask}} reads Parquet or CSV files; {prep.sources} is not one",
                "use {engine=local} (the default) for NPY, NPZ or piped input",
            )
        plan = PartitionPlan(
            opts=prep.opts,
            n_outputs=prep.first.preds.shape[1],
            labels=data.labels,
            preds=data.preds,
            weight=data.weight,
            mapper=prep.inp.mapper,
            chunk_rows=prep.chunk_rows,
            by=() if prep.opts.slices is None else prep.opts.slices.columns,
        )
        with _client(engine.scheduler) as client:
            acc, lengths = _score(client, data, plan, prep)
        context = prep.context(_offsets(data, lengths))
        try:
            return finalize(acc, context)
        except BceError as e:
            raise e.with_source(prep.sources) from None
    finally:
        prep.inp.close()


@contextmanager
def _client(address: str | None) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or of a local cluster closed at the end."""
    import logging
    import tempfile

    import dask
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        except (ValueError, TypeError) as e:  # distributed's parse of the address
            raise OptionError(
                f"{{scheduler}} {show(address, 100)} is not a Dask scheduler address "
                f"({show(str(e), 100)})",
                "give HOST:PORT or tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 ([::1]:8786 for IPv6)",
            ) from None
        except (OSError, TimeoutError) as e:
            raise OptionError(
                f"cannot reach the Dask scheduler at {show(address, 100)} ({show(str(e), 100)})",
                "check the address (e.g. tcp://10.0.0.5:8786) and that the scheduler is running",
            ) from None
        with client:
            yield client
        return
    # The workers' scratch space (dask-scratch-space, with its lock files) goes into a folder of
    # bce's own, removed with the cluster, not into TMPDIR where Dask would leave it.
    with (
        tempfile.TemporaryDirectory(prefix="bce-dask-", ignore_cleanup_errors=True) as scratch,
        dask.config.set({"temporary-directory": scratch}),
        LocalCluster(
            n_workers=LOCAL_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # no fixed port: never "8787 is in use"
            silence_logs=logging.CRITICAL,
            local_directory=scratch,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _dataframe(files: Files, plan: PartitionPlan) -> Any:
    """One dask partition per file, in the files' (sorted) order."""
    import dask.dataframe as dd

    columns = plan.columns
    if files.fmt == "parquet":
        # dd.read_parquet orders the files by its own (natural) sort; from_map keeps ours
        import pyarrow.parquet as pq

        meta = pq.read_schema(files.paths[0]).empty_table().select(columns).to_pandas()
        return dd.from_map(
            read_parquet_file,
            list(files.paths),
            columns=columns,
            meta=meta,
            label="bce-read-parquet",
        )
    csv = files.dialect
    assert csv is not None
    options: dict[str, Any] = {
        "sep": csv.delimiter,
        "usecols": columns,
        # pyarrow: the parser of the local engine, so every number reads the same
        "engine": "pyarrow",
        "na_values": list(csv.null_values),
        "keep_default_na": False,
        "dtype": {c: "float64" for c in columns if c in csv.numeric},
        "skiprows": csv.skip_lines,
    }
    if not csv.header:  # (pandas' pyarrow engine mixes up usecols with names: read all)
        del options["usecols"]
        options.update(header=None, names=list(csv.columns))
    if csv.decimal_comma:
        options["decimal"] = ","
    return dd.read_csv(list(files.paths), blocksize=None, **options)


def read_parquet_file(path: str, columns: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def _score(
    client: Any, data: Dataset, plan: PartitionPlan, prep: Prepared
) -> tuple[Accumulator, list[int]]:
    """The merged accumulator of every partition, and the partitions' lengths."""
    files = data.files
    ddf = _dataframe(files, plan)
    known = [n for n in files.rows if n is not None]
    try:
        if len(known) == len(files.paths) and ddf.npartitions == len(files.paths):
            lengths = known
        else:  # CSV: one pass to count the rows of every partition
            lengths = [int(n) for n in client.compute(ddf.map_partitions(len)).result()]
        plan = replace(plan, keep_losses=sum(lengths) <= EXACT_LIMIT)
        acc = _score_tree(client, ddf, lengths, plan)
        if not plan.keep_losses and acc.sketch.n <= EXACT_LIMIT:
            # so many rows were excluded that the median is exact after all: score again,
            # keeping the losses (rare; the local engine's report, median included)
            acc = _score_tree(client, ddf, lengths, replace(plan, keep_losses=True))
    except BceError as e:
        raise e.with_source(prep.sources) from None
    except (ValueError, OSError, TypeError, KeyError) as e:
        raise InputError(
            f"a partition cannot be read on the Dask cluster ({type(e).__name__}: "
            f"{show(str(e).splitlines()[-1] if str(e) else '', 160)})",
            "run the same command with {engine=local} to find the file and the row",
            source=prep.sources,
        ) from None
    return acc, lengths


def _score_tree(client: Any, ddf: Any, lengths: list[int], plan: PartitionPlan) -> Accumulator:
    """Score every non-empty partition, then merge the accumulators in a tree on the cluster:
    only the root comes back to the client."""
    from dask.delayed import delayed

    plan_key = delayed(plan)
    level = [
        delayed(score_partition)(part, start, plan_key)
        for part, start, n in zip(ddf.to_delayed(), _starts(lengths), lengths, strict=True)
        if n
    ]
    while len(level) > 1:  # no more than SPLIT_EVERY accumulators meet anywhere
        level = [
            delayed(merge_accumulators)(level[i : i + SPLIT_EVERY])
            for i in range(0, len(level), SPLIT_EVERY)
        ]
    acc: Accumulator = client.compute(level[0]).result()
    return acc


def _starts(lengths: list[int]) -> list[int]:
    return [int(s) for s in np.concatenate([[0], np.cumsum(lengths)[:-1]])]


def _offsets(data: Dataset, lengths: list[int]) -> tuple[tuple[int, str], ...]:
    """(global first row, name) per partition file, for the messages (as the local engine)."""
    names = data.files.names
    if not data.files.partitioned or len(lengths) != len(names):
        return ()
    return tuple(zip(_starts(lengths), names, strict=True))


# --------------------------------------------------------------------------------------------
# what runs on the workers


def column_values(series: Any) -> Column:
    """A pandas column as the local readers give it: float64 with NaN for a missing number,
    text labels as a ``TextColumn``."""
    if series.dtype == np.float64:  # the common case: NaN already marks a missing number
        return np.asarray(series.to_numpy())
    import pyarrow as pa

    return column_from_arrow(pa.Array.from_pandas(series))


def score_partition(df: pd.DataFrame, start: int, plan: PartitionPlan) -> Accumulator:
    """Score one partition whose first row is global row ``start``."""
    from bcecli.core.scoring import Scorer

    scorer = Scorer(plan.opts, plan.n_outputs)
    if not plan.keep_losses:
        scorer.accumulator.sketch.buckets_only()  # the median comes from the buckets
    values = {c: column_values(df[c]) for c in plan.columns}
    n, at, rows = len(df), 0, plan.chunk_rows
    while at < n:
        # chunks end on the local engine's chunk boundaries (global multiples of chunk_rows)
        end = min(n, ((start + at) // rows + 1) * rows - start)
        weights = None if plan.weight is None else values[plan.weight][at:end]
        chunk = assemble_chunk(
            start + at,
            [(c, values[c][at:end]) for c in plan.labels],
            [values[c][at:end] for c in plan.preds],
            weights,
            plan.mapper,
        )
        if plan.by:
            chunk = replace(chunk, groups={c: values[c][at:end] for c in plan.by})
        scorer.score(chunk)
        at = end
    return scorer.accumulator


def merge_accumulators(accs: list[Accumulator]) -> Accumulator:
    acc = accs[0]
    for other in accs[1:]:
        acc.merge(other)
    return acc
