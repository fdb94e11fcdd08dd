#!/usr/bin/env python3
"""Anchor: pandas + ``sklearn.metrics.log_loss``, the other usual way to score a CSV.

Usage: python pandas_sklearn.py FILE.csv    (columns y_true, y_pred; needs scikit-learn)

Prints the mean loss with repr(), so the harness can compare it with bce's ``mean_loss``.
"""

from __future__ import annotations

import sys

import pandas as pd
from sklearn.metrics import log_loss


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: pandas_sklearn.py FILE.csv", file=sys.stderr)
        return 2
    df = pd.read_csv(argv[0])
    loss = log_loss(df["y_true"].to_numpy(), df["y_pred"].to_numpy(), labels=[0, 1])
    print(repr(float(loss)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
