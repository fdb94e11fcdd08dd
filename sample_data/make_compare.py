"""Regenerate compare_a.csv and compare_b.csv (seeded, so the committed files are reproducible):

    python sample_data/make_compare.py

Two models' predictions of the same 3,000 rows, for ``bce compare``: A is a reasonable but
over-confident model, B ranks the rows a little better and is calibrated. Each file has an
``id`` column; B's rows are written in another order, so the files pair with ``--id-col id``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20261204)
    n = 3000
    signal = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.6 * signal))).astype(int)
    logit_a = 2.2 * (signal + rng.normal(0, 0.7, n))  # noisier and over-confident
    logit_b = 1.6 * (signal + rng.normal(0, 0.55, n))
    ids = rng.permutation(np.arange(100_000, 100_000 + n))
    for name, logit in (("a", logit_a), ("b", logit_b)):
        frame = pd.DataFrame(
            {"id": ids, "y_true": y, "y_pred": np.round(1 / (1 + np.exp(-logit)), 6)}
        )
        if name == "b":
            frame = frame.sample(frac=1, random_state=1)
        frame.to_csv(HERE / f"compare_{name}.csv", index=False)


if __name__ == "__main__":
    main()
