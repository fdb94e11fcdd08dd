#!/usr/bin/env python3
"""Peer: the plain numpy script for an NPY pair, what a user writes without bce.

Usage: python numpy_bce.py binary PREDS.npy LABELS.npy

Prints the mean binary cross-entropy with repr(), so the harness can compare it with bce's
``mean_loss``. Predictions are clipped to [1e-15, 1 - 1e-15] as a user would, so that a 0 or
a 1 gives a large loss rather than inf.
"""

from __future__ import annotations

import sys

import numpy as np

EPS = 1e-15


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "binary":
        print("usage: numpy_bce.py binary PREDS.npy LABELS.npy", file=sys.stderr)
        return 2
    p = np.clip(np.load(argv[1]), EPS, 1 - EPS)
    y = np.load(argv[2])
    print(repr(float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
