#!/usr/bin/env python3
"""Peer: pandas to read the file, numpy for the formula, the usual hand-written script.

Usage: python pandas_numpy.py binary FILE    (CSV or Parquet; columns y_true, y_pred)
       python pandas_numpy.py sparse FILE    (columns label, prob_0 .. prob_K-1)

Prints the mean cross-entropy with repr(), so the harness can compare it with bce's
``mean_loss``. Probabilities are clipped to [1e-15, 1 - 1e-15] as a user would.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

EPS = 1e-15


def read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def binary(df: pd.DataFrame) -> float:
    y = df["y_true"].to_numpy()
    p = np.clip(df["y_pred"].to_numpy(), EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def sparse(df: pd.DataFrame) -> float:
    y = df["label"].to_numpy()
    probs = df.filter(like="prob_").to_numpy()
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], EPS, 1 - EPS)).mean())


def main(argv: list[str]) -> int:
    tasks = {"binary": binary, "sparse": sparse}
    if len(argv) != 2 or argv[0] not in tasks:
        print("usage: pandas_numpy.py binary|sparse FILE", file=sys.stderr)
        return 2
    print(repr(tasks[argv[0]](read(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
