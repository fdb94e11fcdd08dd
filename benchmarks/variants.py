#!/usr/bin/env python3
"""How the shape of the input moves bce's time: each variant against the plain file it comes from.

Files from real models differ from the harness's clean ones: predictions rounded to exactly 0
or 1, a few missing values, logits, labels written as words, one-hot labels, two softmax
columns for a binary problem, several binary outputs, and what ``DataFrame.to_csv`` writes by
default (an unnamed index column, float or boolean label columns). Each of them should take
bce's fast kernels; this script shows whether it does. It writes seeded variants of one
generated dataset (to ``benchmarks/data/variants/``, which git ignores), then times ``bce
score ... --format json`` on each variant and on its plain counterpart in interleaved rounds,
as ``run.py`` does, and prints medians and the same-round ratio variant / plain.

Examples::

    python benchmarks/variants.py                     # 10M rows (5M for ten classes), 5 rounds
    python benchmarks/variants.py --rows 1M --rounds 3
    python benchmarks/variants.py --only missing,logits
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_data import parse_size  # noqa: E402
from run import Command, child_env, default_bce, failure_of, prime_cache, run_once  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261130
CLASSES = 10


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    files: tuple[str, ...]  # the variant's inputs; the first is PREDS
    args: tuple[str, ...]  # bce score arguments after PREDS (and --labels)
    plain: str  # the name of the variant it is compared with ("" for a plain one)


def _binary(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (0/1, 30% ones), logits and their sigmoid probabilities."""
    rng = np.random.default_rng(SEED)
    y = (rng.random(n) < 0.3).astype(np.int8)
    logit = np.where(y == 1, 1.0, -1.5) + 1.5 * rng.standard_normal(n)
    return y, logit, 1.0 / (1.0 + np.exp(-logit))


def _multiclass(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels and float32 logits, the true class 2 higher on average."""
    rng = np.random.default_rng(SEED + 1)
    y = rng.integers(0, CLASSES, n)
    logits = rng.standard_normal((n, CLASSES)).astype(np.float32)
    logits[np.arange(n), y] += 2
    return y, logits


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _csv(path: Path, columns: dict[str, object], *, plain_header: bool = False) -> None:
    """Write ``columns`` as CSV; ``plain_header``: an unquoted header line, as pandas writes it
    (pyarrow quotes every name)."""
    table = pa.table(columns)
    if not plain_header:
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
        return
    with open(path, "wb") as out:
        out.write((",".join(columns) + "\n").encode())
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none", include_header=False))


def write_variants(out: Path, rows: int) -> None:
    """Every variant's files under ``out`` (files already there are kept)."""
    out.mkdir(parents=True, exist_ok=True)

    def missing(*names: str) -> bool:
        return any(not (out / name).exists() for name in names)

    y, logit, p = _binary(rows)
    csvs = ("plain.csv", "saturated_6d.csv", "missing.csv", "words.csv", "logits.csv")
    if missing(*csvs, "weighted.csv"):
        _csv(out / "plain.csv", {"y_true": y, "y_pred": p})
        # 6 digits, and the most confident 1% saturated at exactly 0 or 1 (a float32 sigmoid)
        rounded = np.round(p, 6)
        lo, hi = np.quantile(p, [0.005, 0.995])
        rounded[p <= lo], rounded[p >= hi] = 0.0, 1.0
        _csv(out / "saturated_6d.csv", {"y_true": y, "y_pred": rounded})
        holes = np.random.default_rng(SEED + 2).random(rows) < 0.001
        _csv(out / "missing.csv", {"y_true": y, "y_pred": pa.array(p, mask=holes)})
        _csv(out / "words.csv", {"label": np.where(y == 1, "yes", "no"), "score": p})
        _csv(out / "logits.csv", {"y_true": y, "logit": logit})
        weights = np.random.default_rng(SEED + 4).uniform(0.5, 2.0, rows)
        _csv(out / "weighted.csv", {"y_true": y, "y_pred": p, "sample_weight": weights})
    if missing("pandas.csv", "bools.csv"):
        # DataFrame.to_csv(): the index as an unnamed first column; a float label column
        # written 0.0 / 1.0; a boolean one written True / False
        _csv(
            out / "pandas.csv",
            {"": np.arange(rows), "y_true": np.where(y == 1, "1.0", "0.0"), "y_pred": p},
            plain_header=True,
        )
        _csv(
            out / "bools.csv",
            {"y_true": np.where(y == 1, "True", "False"), "y_pred": p},
            plain_header=True,
        )
    if missing("y.npy", "p.npy", "logit.npy", "p2.npy"):
        np.save(out / "y.npy", y.astype(np.int64))
        np.save(out / "p.npy", p)
        np.save(out / "logit.npy", logit)
        np.save(out / "p2.npy", np.stack([1 - p, p], axis=1))  # a two-unit softmax
    del y, logit, p
    n_mc = rows // 2
    if missing("mc_y.npy", "mc_p.npy", "mc_logits.npy", "mc_onehot.npy"):
        y, logits = _multiclass(n_mc)
        np.save(out / "mc_y.npy", y)
        np.save(out / "mc_p.npy", _softmax(logits))
        np.save(out / "mc_logits.npy", logits)
        np.save(out / "mc_onehot.npy", np.eye(CLASSES, dtype=np.float32)[y])
    n_ml = rows // 5
    if missing("ml_y.npy", "ml_p.npy"):
        rng = np.random.default_rng(SEED + 3)
        y5 = (rng.random((n_ml, 5)) < 0.3).astype(np.float64)
        p5 = 1.0 / (1.0 + np.exp(-(np.where(y5 == 1, 1.0, -1.5) + rng.standard_normal(y5.shape))))
        np.save(out / "ml_y.npy", y5)
        np.save(out / "ml_p.npy", p5)


def variants(rows: int) -> list[Variant]:
    mc, ml = rows // 2, rows // 5
    return [
        Variant("plain", f"{rows:,} rows, y_true,y_pred (17 digits)", ("plain.csv",), (), ""),
        Variant(
            "saturated",
            "6 digits, the most confident 1% of the predictions exactly 0 or 1",
            ("saturated_6d.csv",),
            (),
            "plain",
        ),
        Variant("missing", "0.1% of the predictions missing", ("missing.csv",), (), "plain"),
        Variant("words", "labels written as yes/no", ("words.csv",), (), "plain"),
        Variant("logits", "logits, --from-logits", ("logits.csv",), ("--from-logits",), "plain"),
        Variant(
            "weighted",
            "a third column of sample weights, --sample-weight",
            ("weighted.csv",),
            ("--sample-weight", "sample_weight"),
            "plain",
        ),  # fmt: skip
        Variant(
            "pandas",
            "as DataFrame.to_csv() writes it: an unnamed index column, labels 0.0 / 1.0",
            ("pandas.csv",),
            (),
            "plain",
        ),
        Variant("bools", "labels True / False (a boolean column)", ("bools.csv",), (), "plain"),
        Variant("npy", f"NPY pair, {rows:,} float64 predictions", ("p.npy", "y.npy"), (), ""),
        Variant(
            "npy-logits",
            "NPY logits, --from-logits",
            ("logit.npy", "y.npy"),
            ("--from-logits",),
            "npy",
        ),
        Variant(
            "npy-2col", "two softmax columns for a binary problem", ("p2.npy", "y.npy"), (), "npy"
        ),
        Variant(
            "mc",
            f"{mc:,} x {CLASSES} softmax rows (float32), integer labels",
            ("mc_p.npy", "mc_y.npy"),
            (),
            "",
        ),  # fmt: skip
        Variant("mc-onehot", "one-hot labels", ("mc_p.npy", "mc_onehot.npy"), (), "mc"),
        Variant(
            "mc-logits",
            "logits (float32), --from-logits",
            ("mc_logits.npy", "mc_y.npy"),
            ("--from-logits",),
            "mc",
        ),  # fmt: skip
        Variant(
            "multilabel",
            f"{ml:,} x 5 binary outputs (as many values as the NPY pair)",
            ("ml_p.npy", "ml_y.npy"),
            (),
            "npy",
        ),  # fmt: skip
    ]


def command(bce: str, data: Path, v: Variant) -> Command:
    files = [str(data / f) for f in v.files]
    labels = ("--labels", files[1]) if len(files) > 1 else ()
    argv = (bce, "score", files[0], *labels, *v.args, "--format", "json")
    return Command(v.name, argv, is_bce=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10M", help="binary rows (default 10M; k/M suffixes)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated variant names (their plain ones run too)")
    parser.add_argument("--data", type=Path, default=HERE / "data" / "variants")
    parser.add_argument("--bce", default=default_bce())
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    rows = parse_size(args.rows)
    data = args.data / f"{rows}"
    write_variants(data, rows)

    chosen = variants(rows)
    if args.only:
        wanted = set(args.only.split(","))
        wanted |= {v.plain for v in chosen if v.name in wanted and v.plain}
        chosen = [v for v in chosen if v.name in wanted]
    commands = [command(args.bce, data, v) for v in chosen]
    env = child_env(args.data.parent / ".pycache")
    prime_cache(data / f for v in chosen for f in v.files)
    walls: dict[str, list[float]] = {v.name: [] for v in chosen}
    for r in range(-1, args.rounds):  # round -1: warm-up
        for cmd in commands:
            sample = run_once(cmd.argv, args.timeout, env)
            failure = failure_of(cmd, sample)
            if failure is not None:
                print(f"{cmd.key}: {failure}", file=sys.stderr)
                return 1
            if r >= 0:
                walls[cmd.key].append(sample.wall)
        if r >= 0:
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    print(f"| variant | input | bce wall s (median of {args.rounds}) | / plain (same round) |")
    print("| --- | --- | --- | --- |")
    for v in chosen:
        compared = ""
        if v.plain:
            ratios = [a / b for a, b in zip(walls[v.name], walls[v.plain], strict=True)]
            compared = f"{statistics.median(ratios):.2f}x {v.plain}"
        print(f"| {v.name} | {v.what} | {statistics.median(walls[v.name]):.3f} | {compared} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
