#!/usr/bin/env python3
"""Peer: one duckdb query, read_csv / read_parquet + the formula.

Usage: python duckdb_bce.py binary FILE                  (CSV or Parquet; y_true, y_pred)
       python duckdb_bce.py binary PREDS.npy LABELS.npy  (numpy arrays, scanned in place)
       python duckdb_bce.py sparse FILE                  (label, prob_0 .. prob_K-1)

Prints the mean cross-entropy with repr(), so the harness can compare it with bce's
``mean_loss``. Probabilities are clipped to [1e-15, 1 - 1e-15] as a user would.
"""

from __future__ import annotations

import sys

import duckdb

CLIP = "greatest(least({}, 1 - 1e-15), 1e-15)"
BINARY = "avg(-(y_true * ln({p}) + (1 - y_true) * ln(1 - {p})))".format(p=CLIP.format("y_pred"))
# the label's column: list_value packs prob_0 .. prob_K-1 in order; list indices start at 1
SPARSE = "avg(-ln({}))".format(
    CLIP.format("list_extract(list_value(*COLUMNS('prob_.*')), label + 1)")
)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in ("binary", "sparse"):
        print("usage: duckdb_bce.py binary|sparse FILE [LABELS.npy]", file=sys.stderr)
        return 2
    path = argv[1]
    formula = BINARY if argv[0] == "binary" else SPARSE
    if path.endswith(".npy"):
        import numpy as np

        arrays = {"y_true": np.load(argv[2]), "y_pred": np.load(path)}  # noqa: F841 (scanned)
        source = "arrays"
    elif path.endswith(".parquet"):
        source = f"read_parquet('{path}')"
    else:
        source = f"read_csv('{path}')"
    print(repr(float(duckdb.sql(f"SELECT {formula} FROM {source}").fetchall()[0][0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
