"""Regenerate pandas_export.csv (seeded, so the committed file is reproducible):

    python sample_data/make_pandas_export.py

A classifier's probabilities as scikit-learn and pandas users save them:
``pd.DataFrame(clf.predict_proba(X), columns=clf.classes_)`` beside the labels, written with
``to_csv``'s defaults (the frame's index first, unnamed). bce reads it with no column hints: the
index is skipped, and the label column is the one whose values name the other columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
CLASSES = ["setosa", "versicolor", "virginica"]


def main() -> None:
    rng = np.random.default_rng(20261204)
    n = 150
    y = rng.integers(0, len(CLASSES), n)
    z = rng.normal(size=(n, len(CLASSES))) + 2.5 * np.eye(len(CLASSES))[y]
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(proba, columns=CLASSES)
    frame.insert(0, "species", np.array(CLASSES)[y])
    frame.to_csv(HERE / "pandas_export.csv")


if __name__ == "__main__":
    main()
