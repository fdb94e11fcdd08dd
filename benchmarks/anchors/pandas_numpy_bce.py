#!/usr/bin/env python3
"""Anchor: the plain pandas + numpy way to get a binary cross-entropy from a CSV.

Usage: python pandas_numpy_bce.py FILE.csv    (columns y_true, y_pred)

Prints the mean loss with repr(), so the harness can compare it with bce's ``mean_loss``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

EPS = 1e-15


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: pandas_numpy_bce.py FILE.csv", file=sys.stderr)
        return 2
    df = pd.read_csv(argv[0])
    y = df["y_true"].to_numpy(dtype=np.float64)
    p = np.clip(df["y_pred"].to_numpy(dtype=np.float64), EPS, 1.0 - EPS)
    loss = -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
    print(repr(float(loss.mean())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
