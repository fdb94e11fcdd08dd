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


def sparse(source: str) -> str:
    """The label's column by a CASE over prob_0 .. prob_K-1 (a little faster than
    list_extract(list_value(*COLUMNS('prob_.*')), label + 1), which builds a list per row)."""
    probs = [c for c in duckdb.sql(f"FROM {source}").columns if c.startswith("prob_")]
    case = " ".join(f"WHEN {k} THEN {c}" for k, c in enumerate(probs))
    return "avg(-ln({}))".format(CLIP.format(f"CASE label {case} END"))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in ("binary", "sparse"):
        print("usage: duckdb_bce.py binary|sparse FILE [LABELS.npy]", file=sys.stderr)
        return 2
    path = argv[1]
    if path.endswith(".npy"):
        import numpy as np

        arrays = {"y_true": np.load(argv[2]), "y_pred": np.load(path)}  # noqa: F841 (scanned)
        source = "arrays"
    elif path.endswith(".parquet"):
        source = f"read_parquet('{path}')"
    else:
        source = f"read_csv('{path}')"
    formula = BINARY if argv[0] == "binary" else sparse(source)
    print(repr(float(duckdb.sql(f"SELECT {formula} FROM {source}").fetchall()[0][0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
