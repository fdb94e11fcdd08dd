"""Regenerate ids_binary.csv (seeded, so the committed file is reproducible):

    python sample_data/make_ids_sample.py

A binary classifier's scores beside an id column, as an evaluation script writes them: the
per-sample workflow of the README (``--id-col image_id --top 3``) runs on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20261219)
    n = 400
    y = (rng.uniform(size=n) < 0.4).astype(int)
    z = rng.normal(size=n) + 2.0 * (2 * y - 1)
    p = np.round(1 / (1 + np.exp(-z)), 6)
    frame = pd.DataFrame({"image_id": [f"img-{i:05d}" for i in range(n)], "y_true": y, "y_pred": p})
    frame.to_csv(HERE / "ids_binary.csv", index=False)


if __name__ == "__main__":
    main()
