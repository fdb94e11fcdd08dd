#!/usr/bin/env python3
"""Peer: a polars one-liner, lazy scan + the formula.

Usage: python polars_bce.py binary FILE                  (CSV or Parquet; y_true, y_pred)
       python polars_bce.py binary PREDS.npy LABELS.npy  (numpy arrays in a DataFrame)
       python polars_bce.py sparse FILE                  (label, prob_0 .. prob_K-1)

Prints the mean cross-entropy with repr(), so the harness can compare it with bce's
``mean_loss``. Probabilities are clipped to [1e-15, 1 - 1e-15] as a user would.
"""

from __future__ import annotations

import sys

import polars as pl

EPS = 1e-15


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in ("binary", "sparse"):
        print("usage: polars_bce.py binary|sparse FILE [LABELS.npy]", file=sys.stderr)
        return 2
    path = argv[1]
    if path.endswith(".npy"):
        import numpy as np

        frame = pl.DataFrame({"y_true": np.load(argv[2]), "y_pred": np.load(path)}).lazy()
    elif path.endswith(".parquet"):
        frame = pl.scan_parquet(path)
    else:
        frame = pl.scan_csv(path)
    if argv[0] == "binary":
        y, p = pl.col("y_true"), pl.col("y_pred").clip(EPS, 1 - EPS)
        loss = (-(y * p.log() + (1 - y) * (1 - p).log())).mean()
    else:
        # The label's column, one when/then per class: several times faster than the shorter
        # pl.concat_list(pl.col("^prob_.*$")).list.get(pl.col("label")), which builds a list
        # per row.
        probs = [c for c in frame.collect_schema().names() if c.startswith("prob_")]
        label = pl.col("label")
        p_true = pl.coalesce([pl.when(label == k).then(pl.col(c)) for k, c in enumerate(probs)])
        loss = (-p_true.clip(EPS, 1 - EPS).log()).mean()
    print(repr(float(frame.select(loss).collect().item())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
