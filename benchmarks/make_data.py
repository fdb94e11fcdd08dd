#!/usr/bin/env python3
"""Generate the benchmark inputs for ``bce``: seeded, deterministic and streamed.

Every file is produced in blocks of 1,000,000 rows, so memory stays bounded (a few hundred
MB at most) whatever the size asked for.  Each block draws from its own random stream,
derived from ``(seed, stream, block index)``, so the content of a file does not depend on
how it was written, and a smaller binary file is a prefix of a larger one: ``binary_1k.csv``
is the first 1,000 rows of ``binary_1M_17d.csv``, which is the first 1M rows of
``binary_10M_17d.csv``, which holds the same rows as ``binary_10M_*.npy`` and
``binary_10M.parquet``.

Examples::

    python benchmarks/make_data.py                      # 1M and 10M CSVs + NPY, Parquet, ...
    python benchmarks/make_data.py --sizes 1M --kinds csv,small
    python benchmarks/make_data.py --sizes 50M --kinds csv
    python benchmarks/make_data.py --partitioned        # also partitioned_20M/
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.lib.format import open_memmap

SEED = 20_240_611
BLOCK_ROWS = 1_000_000  # generation block: fixed, so the data never depends on the writer
FORMAT_VALUES = 500_000  # values turned into text at once (caps the transient Python objects)

BINARY_STREAM = 1
MULTICLASS_STREAM = 2

POSITIVE_RATE = 0.3
# Logit of the prediction: a class-dependent mean plus Gaussian noise.  The clip is a safety
# net that keeps every prediction strictly inside (0, 1) even after "%.6g" rounding, so the
# exact (unclipped) cross-entropy is finite on every file.
LOGIT_POS, LOGIT_NEG, LOGIT_NOISE = 1.0, -1.5, 1.5
P_MIN, P_MAX = 1e-6, 1.0 - 1e-6

N_CLASSES = 10
CLASS_BOOST = 2.0  # added to the true class's logit

NPY_ROWS = 10_000_000
PARQUET_ROWS = 10_000_000
MULTICLASS_ROWS = 5_000_000
SMALL_ROWS = 1_000
PARTITIONED_ROWS = 20_000_000
PARTITIONED_FILES = 20

KINDS = ("csv", "npy", "parquet", "multiclass", "small", "partitioned")
DEFAULT_KINDS = ("csv", "npy", "parquet", "multiclass", "small")
DEFAULT_SIZES = "1M,10M"

# Approximate bytes per row, for the disk-space check before writing.
BYTES_PER_ROW = {
    "csv17": 22.2,
    "csv6": 11.7,
    "npy": 16.0,
    "parquet": 8.5,  # y_true compresses to almost nothing
    "multiclass": 119.0,
}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


# --------------------------------------------------------------------------- sizes


def parse_size(text: str) -> int:
    """``"1M"`` -> 1_000_000, ``"500k"`` -> 500_000, ``"2.5M"`` -> 2_500_000, ``"1234"``."""
    m = _SIZE_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r} (use e.g. 1M, 500k, 1234)")
    n = float(m.group(1)) * _MULTIPLIER[m.group(2).lower()]
    if n < 1 or n != int(n):
        raise argparse.ArgumentTypeError(f"not a whole positive row count: {text!r}")
    return int(n)


def size_label(n: int) -> str:
    """The size as it appears in file names: 1000 -> '1k', 10_000_000 -> '10M'."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


# --------------------------------------------------------------------------- generators


def _block_rngs(seed: int, stream: int, block: int) -> tuple[np.random.Generator, ...]:
    """Two independent generators (labels, noise) for one block of one stream."""
    children = np.random.SeedSequence([seed, stream, block]).spawn(2)
    return tuple(np.random.default_rng(c) for c in children)


def _block_spans(n_rows: int) -> Iterator[tuple[int, int]]:
    """(block index, rows in block) covering ``n_rows``."""
    for block, start in enumerate(range(0, n_rows, BLOCK_ROWS)):
        yield block, min(BLOCK_ROWS, n_rows - start)


def binary_block(seed: int, block: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (uint8, 0/1, ~30% ones) and predictions (float64 in (0, 1)) of one block."""
    rng_label, rng_noise = _block_rngs(seed, BINARY_STREAM, block)
    positive = rng_label.random(n) < POSITIVE_RATE
    score = np.where(positive, LOGIT_POS, LOGIT_NEG)
    score += LOGIT_NOISE * rng_noise.standard_normal(n)
    pred = 1.0 / (1.0 + np.exp(-score))
    np.clip(pred, P_MIN, P_MAX, out=pred)
    return positive.astype(np.uint8), pred


def binary_blocks(seed: int, n_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for block, n in _block_spans(n_rows):
        yield binary_block(seed, block, n)


def multiclass_blocks(seed: int, n_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Integer labels 0..9 and softmax probability rows (n, 10), correlated with the label."""
    for block, n in _block_spans(n_rows):
        rng_label, rng_noise = _block_rngs(seed, MULTICLASS_STREAM, block)
        label = rng_label.integers(0, N_CLASSES, n)
        logits = rng_noise.standard_normal((n, N_CLASSES))
        logits[np.arange(n), label] += CLASS_BOOST
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        yield label, logits


# --------------------------------------------------------------------------- writers


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; move it into place only on success."""
    tmp = final.with_name(final.name + ".partial")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    os.replace(tmp, final)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _format_rows(fmt: str, columns: Sequence[np.ndarray]) -> Iterator[bytes]:
    """Text of the rows, about FORMAT_VALUES values at a time.

    ``str.format`` mapped over ``tolist()`` columns is the fastest exact ``%.17g`` we
    measured (about 0.6 s per 1M binary rows, against 1.6 s for ``numpy.savetxt`` and 2.0 s
    for ``DataFrame.to_csv(float_format=...)``); ``pyarrow.csv.write_csv`` is faster but
    writes the shortest round-trip repr, not a fixed number of digits.
    """
    n = len(columns[0])
    step = max(1, FORMAT_VALUES // len(columns))
    for lo in range(0, n, step):
        lists = [c[lo : lo + step].tolist() for c in columns]
        yield "".join(map(fmt.format, *lists)).encode("ascii")


def write_binary_csvs(seed: int, n_rows: int, targets: Sequence[tuple[Path, str]]) -> None:
    """Write one or more binary CSVs of the same rows, each with its own float format."""
    with contextlib.ExitStack() as stack:
        handles = []
        for path, float_fmt in targets:
            tmp = stack.enter_context(atomic_path(path))
            fh = stack.enter_context(open(tmp, "wb"))
            fh.write(b"y_true,y_pred\n")
            handles.append((fh, "{}," + float_fmt + "\n"))
        for labels, preds in binary_blocks(seed, n_rows):
            for fh, fmt in handles:
                for chunk in _format_rows(fmt, (labels, preds)):
                    fh.write(chunk)
        # Files are closed (ExitStack unwinds in reverse) before atomic_path renames them.


def write_npy_pair(seed: int, n_rows: int, labels_path: Path, preds_path: Path) -> None:
    """Two float64 .npy files, filled block by block.

    ``open_memmap`` writes each header and sizes the file; every block is then written
    through its own short-lived map of just that block's bytes, so the resident set stays at
    one block whatever the row count.
    """
    with atomic_path(labels_path) as lt, atomic_path(preds_path) as pt:
        offsets = []
        for tmp in (lt, pt):
            mm = open_memmap(tmp, mode="w+", dtype=np.float64, shape=(n_rows,))
            offsets.append(mm.offset)
            del mm
        start = 0
        for labels, preds in binary_blocks(seed, n_rows):
            n = len(labels)
            for tmp, offset, values in ((lt, offsets[0], labels), (pt, offsets[1], preds)):
                window = np.memmap(
                    tmp, dtype=np.float64, mode="r+", offset=offset + 8 * start, shape=(n,)
                )
                window[:] = values
                window.flush()
                del window
            start += n


_BINARY_SCHEMA = pa.schema([("y_true", pa.float64()), ("y_pred", pa.float64())])


def _binary_table(labels: np.ndarray, preds: np.ndarray) -> pa.Table:
    return pa.table([labels.astype(np.float64), preds], schema=_BINARY_SCHEMA)


def write_parquet(seed: int, n_rows: int, path: Path) -> None:
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, _BINARY_SCHEMA) as writer:
        for labels, preds in binary_blocks(seed, n_rows):
            writer.write_table(_binary_table(labels, preds), row_group_size=BLOCK_ROWS)


def write_partitioned(seed: int, n_rows: int, n_files: int, directory: Path) -> None:
    if n_rows % n_files or (n_rows // n_files) % BLOCK_ROWS:
        raise ValueError("partitioned rows must split into whole blocks per file")
    blocks_per_file = n_rows // n_files // BLOCK_ROWS
    with atomic_path(directory) as tmp:
        tmp.mkdir(parents=True)
        spans = _block_spans(n_rows)
        for part in range(n_files):
            with pq.ParquetWriter(tmp / f"part-{part:04d}.parquet", _BINARY_SCHEMA) as writer:
                for _ in range(blocks_per_file):
                    block, n = next(spans)
                    labels, preds = binary_block(seed, block, n)
                    writer.write_table(_binary_table(labels, preds), row_group_size=BLOCK_ROWS)


def write_multiclass_csv(seed: int, n_rows: int, path: Path) -> None:
    header = "label," + ",".join(f"prob_{k}" for k in range(N_CLASSES)) + "\n"
    fmt = "{}," + ",".join(["{:.8g}"] * N_CLASSES) + "\n"
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header.encode("ascii"))
        for labels, probs in multiclass_blocks(seed, n_rows):
            for chunk in _format_rows(fmt, (labels, *probs.T)):
                fh.write(chunk)


# --------------------------------------------------------------------------- planning


@dataclass
class Job:
    """One thing to write: its outputs, an estimate of their size, and how to write them."""

    title: str
    outputs: list[Path]
    est_bytes: float
    run: Callable[[], None]

    def done(self) -> bool:
        return all(p.exists() for p in self.outputs)


def plan(args: argparse.Namespace) -> list[Job]:
    out: Path = args.out
    seed: int = args.seed
    kinds: set[str] = set(args.kinds)
    jobs: list[Job] = []

    if "csv" in kinds:
        for n in args.sizes:
            label = size_label(n)
            p17, p6 = out / f"binary_{label}_17d.csv", out / f"binary_{label}_6d.csv"
            est = n * (BYTES_PER_ROW["csv17"] + BYTES_PER_ROW["csv6"])
            run = partial(write_binary_csvs, seed, n, [(p17, "{:.17g}"), (p6, "{:.6g}")])
            jobs.append(Job(f"binary CSV {label} rows (17 and 6 digits)", [p17, p6], est, run))
    if "npy" in kinds:
        label = size_label(NPY_ROWS)
        lp, pp = out / f"binary_{label}_labels.npy", out / f"binary_{label}_preds.npy"
        est = NPY_ROWS * BYTES_PER_ROW["npy"]
        run = partial(write_npy_pair, seed, NPY_ROWS, lp, pp)
        jobs.append(Job(f"NPY pair {label}", [lp, pp], est, run))
        # the same rows' first 1,000: bce's start-up on this format, to take off the 10M run
        label = size_label(SMALL_ROWS)
        lp, pp = out / f"binary_{label}_labels.npy", out / f"binary_{label}_preds.npy"
        run = partial(write_npy_pair, seed, SMALL_ROWS, lp, pp)
        jobs.append(Job(f"NPY pair {label}", [lp, pp], SMALL_ROWS * BYTES_PER_ROW["npy"], run))
    if "parquet" in kinds:
        label = size_label(PARQUET_ROWS)
        path = out / f"binary_{label}.parquet"
        est = PARQUET_ROWS * BYTES_PER_ROW["parquet"]
        run = partial(write_parquet, seed, PARQUET_ROWS, path)
        jobs.append(Job(f"Parquet {label}", [path], est, run))
    if "multiclass" in kinds:
        label = size_label(MULTICLASS_ROWS)
        path = out / f"multiclass_{label}.csv"
        est = MULTICLASS_ROWS * BYTES_PER_ROW["multiclass"]
        run = partial(write_multiclass_csv, seed, MULTICLASS_ROWS, path)
        jobs.append(Job(f"multiclass CSV {label} ({N_CLASSES} classes)", [path], est, run))
    if "small" in kinds:
        path = out / f"binary_{size_label(SMALL_ROWS)}.csv"
        est = SMALL_ROWS * BYTES_PER_ROW["csv17"]
        run = partial(write_binary_csvs, seed, SMALL_ROWS, [(path, "{:.17g}")])
        jobs.append(Job(f"small binary CSV ({SMALL_ROWS} rows)", [path], est, run))
    if "partitioned" in kinds:
        label = size_label(PARTITIONED_ROWS)
        path = out / f"partitioned_{label}"
        est = PARTITIONED_ROWS * BYTES_PER_ROW["parquet"]
        run = partial(write_partitioned, seed, PARTITIONED_ROWS, PARTITIONED_FILES, path)
        jobs.append(
            Job(f"partitioned Parquet {label} in {PARTITIONED_FILES} files", [path], est, run)
        )
    return jobs


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _disk_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --------------------------------------------------------------------------- CLI


def _parse_sizes(text: str) -> list[int]:
    return [parse_size(part) for part in text.split(",") if part.strip()]


def _parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}"
        )
    return kinds


def build_parser() -> argparse.ArgumentParser:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(
        description="Generate seeded benchmark data for bce (streamed in 1M-row blocks).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=_parse_sizes(DEFAULT_SIZES),
        help="row counts of the binary CSVs (binary_<size>_17d.csv and _6d.csv), "
        f"comma-separated, e.g. 1M,10M,50M [default: {DEFAULT_SIZES}]",
    )
    p.add_argument("--out", type=Path, default=here / "data", help="output directory")
    p.add_argument(
        "--kinds",
        type=_parse_kinds,
        default=list(DEFAULT_KINDS),
        help="what to build, comma-separated, from: "
        "csv (binary CSVs at --sizes), npy (10M NPY pair), parquet (10M), "
        "multiclass (5M, 10 classes), small (1k CSV), partitioned (20M in 20 files) "
        f"[default: {','.join(DEFAULT_KINDS)}]",
    )
    p.add_argument(
        "--partitioned",
        action="store_true",
        help="also build partitioned_20M/ (20 Parquet files of 1M rows)",
    )
    p.add_argument("--seed", type=int, default=SEED, help="random seed")
    p.add_argument("--force", action="store_true", help="rewrite files that already exist")
    p.add_argument("--dry-run", action="store_true", help="only print what would be written")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.partitioned and "partitioned" not in args.kinds:
        args.kinds.append("partitioned")
    args.out.mkdir(parents=True, exist_ok=True)

    jobs = plan(args)
    todo = [j for j in jobs if args.force or not j.done()]
    for job in jobs:
        if job not in todo:
            print(f"exists, skipped: {job.title} ({', '.join(p.name for p in job.outputs)})")

    need = sum(j.est_bytes for j in todo)
    free = shutil.disk_usage(args.out).free
    print(f"to write: {len(todo)} job(s), about {_human(need)}; free in {args.out}: {_human(free)}")
    if need + 1e9 > free:
        print("error: not enough free disk space (keeping a 1 GB margin)", file=sys.stderr)
        return 2
    if args.dry_run:
        for job in todo:
            print(f"would write: {job.title}: {', '.join(str(p) for p in job.outputs)}")
        return 0

    for job in todo:
        t0 = time.perf_counter()
        print(f"writing {job.title} ...", end="", flush=True)
        job.run()
        dt = time.perf_counter() - t0
        sizes = ", ".join(f"{p.name} {_human(_disk_size(p))}" for p in job.outputs)
        print(f" {dt:.1f} s: {sizes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
