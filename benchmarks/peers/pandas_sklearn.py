#!/usr/bin/env python3
"""Peer: ``sklearn.metrics.log_loss``, the library call a user reaches for.

Usage: python pandas_sklearn.py binary FILE                  (CSV or Parquet; y_true, y_pred)
       python pandas_sklearn.py binary PREDS.npy LABELS.npy  (numpy arrays, no pandas)
       python pandas_sklearn.py sparse FILE                  (label, prob_0 .. prob_K-1)

Prints the mean cross-entropy with repr(), so the harness can compare it with bce's
``mean_loss``. log_loss clips at the machine epsilon of the predictions' dtype.
"""

from __future__ import annotations

import sys

from sklearn.metrics import log_loss


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "binary" and argv[1].endswith(".npy"):
        import numpy as np

        loss = log_loss(np.load(argv[2]), np.load(argv[1]), labels=[0, 1])
        print(repr(float(loss)))
        return 0
    if len(argv) != 2 or argv[0] not in ("binary", "sparse"):
        print("usage: pandas_sklearn.py binary|sparse FILE [LABELS.npy]", file=sys.stderr)
        return 2
    import pandas as pd

    path = argv[1]
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    if argv[0] == "binary":
        loss = log_loss(df["y_true"].to_numpy(), df["y_pred"].to_numpy(), labels=[0, 1])
    else:
        probs = df.filter(like="prob_").to_numpy()
        loss = log_loss(df["label"].to_numpy(), probs, labels=range(probs.shape[1]))
    print(repr(float(loss)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
