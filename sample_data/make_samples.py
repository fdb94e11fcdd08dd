"""Regenerate the sample files (seeded, so the committed files are reproducible):

    python sample_data/make_samples.py

Healthy files show what a good report looks like; the broken ones each carry one classic mistake.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
rng = np.random.default_rng(20261122)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write_csv(name: str, header: list[str], columns: list[np.ndarray], fmt: list[str]) -> None:
    rows = zip(*columns, strict=True)
    with open(HERE / name, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(fm % v for fm, v in zip(fmt, row, strict=True)) + "\n")


def binary_scores(n: int, prevalence: float, separation: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and calibrated-ish probabilities: logit = prior logit + separation * signal."""
    y = (rng.random(n) < prevalence).astype(int)
    signal = rng.normal(loc=np.where(y == 1, 1.0, -1.0), scale=1.0)
    z = np.log(prevalence / (1 - prevalence)) + separation * signal
    return y, sigmoid(z)


def main() -> None:
    # The question that started it all: label 1, prediction 0.1.
    write_csv("seed.csv", ["y_true", "y_pred"], [np.array([1]), np.array([0.1])], ["%d", "%g"])

    # A healthy binary classifier: balanced-ish classes, decent separation.
    y, p = binary_scores(2000, 0.4, 2.0)
    write_csv("healthy_binary.csv", ["y_true", "y_pred"], [y, p], ["%d", "%.6f"])

    # Rare positives: the mean looks 'fine' on the bands, NE tells the truth.
    y, p = binary_scores(5000, 0.03, 1.2)
    write_csv("imbalanced_binary.csv", ["label", "score"], [y, p], ["%d", "%.6f"])

    # Multi-label with soft labels (annotator agreement) over four tags.
    n, k = 600, 4
    true_rate = rng.random((n, k)) * 0.9 + 0.05
    soft = np.round(np.clip(true_rate + rng.normal(0, 0.15, (n, k)), 0, 1) * 4) / 4
    pred = np.clip(
        sigmoid(np.log(true_rate / (1 - true_rate)) + rng.normal(0, 0.6, (n, k))), 1e-4, 1 - 1e-4
    )
    tags = ["cat", "dog", "outdoor", "night"]
    write_csv(
        "multilabel_soft.csv",
        [f"y_true_{t}" for t in tags] + [f"prob_{t}" for t in tags],
        [soft[:, j] for j in range(k)] + [pred[:, j] for j in range(k)],
        ["%.2f"] * k + ["%.5f"] * k,
    )

    # A binary NPY pair, predictions in float32 as a model would emit them.
    y, p = binary_scores(1000, 0.5, 1.5)
    np.save(HERE / "labels.npy", y.astype(np.int64))
    np.save(HERE / "preds.npy", p.astype(np.float32))

    # Broken: logits saved as if they were probabilities.
    y, p = binary_scores(1000, 0.5, 1.5)
    write_csv("logits_as_probs.csv", ["y_true", "y_pred"], [y, np.log(p / (1 - p))], ["%d", "%.5f"])

    # Broken: Dense(1, activation='softmax') always outputs 1.0.
    y, _ = binary_scores(500, 0.35, 1.0)
    write_csv("single_unit_softmax.csv", ["y_true", "y_pred"], [y, np.ones(500)], ["%d", "%.1f"])

    # Broken: predictions and labels from different runs (1000 vs 999 rows).
    y, p = binary_scores(1000, 0.5, 1.5)
    write_csv("mismatch_preds.csv", ["y_pred"], [p], ["%.6f"])
    write_csv("mismatch_labels.csv", ["y_true"], [y[:999]], ["%d"])

    # A healthy 10-class softmax classifier with integer labels.
    n, k = 3000, 10
    labels = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), labels] += 2.5
    probs = softmax(logits)
    write_csv(
        "softmax_10class.csv",
        ["label"] + [f"prob_{i}" for i in range(k)],
        [labels] + [probs[:, i] for i in range(k)],
        ["%d"] + ["%.6f"] * k,
    )

    # Broken: softmax applied twice (a softmax layer plus a loss that applies its own).
    twice = softmax(probs)
    write_csv(
        "double_softmax.csv",
        ["label"] + [f"prob_{i}" for i in range(k)],
        [labels] + [twice[:, i] for i in range(k)],
        ["%d"] + ["%.6f"] * k,
    )

    # Broken: labels 1 .. 10 for 10 prediction columns.
    write_csv(
        "one_indexed_labels.csv",
        ["label"] + [f"prob_{i}" for i in range(k)],
        [labels + 1] + [probs[:, i] for i in range(k)],
        ["%d"] + ["%.6f"] * k,
    )

    # One-hot labels and softmax outputs for three classes, scored as categorical...
    n, k = 900, 3
    labels3 = rng.integers(0, k, n)
    logits3 = rng.normal(0, 1, (n, k))
    logits3[np.arange(n), labels3] += 2.0
    probs3 = softmax(logits3)
    onehot = np.eye(k, dtype=int)[labels3]
    write_csv(
        "onehot_3class.csv",
        [f"y_true_{i}" for i in range(k)] + [f"prob_{i}" for i in range(k)],
        [onehot[:, i] for i in range(k)] + [probs3[:, i] for i in range(k)],
        ["%d"] * k + ["%.6f"] * k,
    )

    # One dataset in three CSV partitions of uneven sizes (bce score sample_data/partitioned/);
    # one prediction is missing, so its flag names the partition file and the row there.
    y, p = binary_scores(120, 0.4, 2.0)
    p[57] = np.nan
    (HERE / "partitioned").mkdir(exist_ok=True)
    for i, (a, b) in enumerate([(0, 50), (50, 90), (90, 120)]):
        write_csv(
            f"partitioned/part-{i:04d}.csv", ["y_true", "y_pred"], [y[a:b], p[a:b]], ["%d", "%.6f"]
        )


if __name__ == "__main__":
    main()
