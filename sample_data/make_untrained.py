"""Write the outputs of small untrained networks (numpy only, seeded) for ``bce check-init``.

A two-layer network (20 inputs, 64 ReLU units, then the output layer; every kernel
Glorot-uniform and every bias zero, as Keras initialises Dense layers) is run on one
batch of 512 standard-normal inputs, before any training. The labels come from a fixed rule the
network has not learnt. Files (every one holds the columns y_true and y_pred, or label and
prob_0..prob_9):

    untrained_binary.csv        8% positives, default initialisation (sigmoid)
    untrained_prior_bias.csv    the same network with the output bias set to ln(p / (1 - p))
    untrained_large_init.csv    the output kernel drawn 10 times too large
    untrained_10class.csv       10 classes, default initialisation (softmax)

    python sample_data/make_untrained.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N, D, H = 512, 20, 64


def dense_init(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot-uniform, Keras' default kernel initialiser."""
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def hidden(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ dense_init(rng, D, H), 0.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def write(name: str, header: list[str], rows: np.ndarray, label_int: bool = True) -> None:
    lines = [",".join(header)]
    for row in rows:
        label = str(int(row[0])) if label_int else repr(float(row[0]))
        lines.append(",".join([label, *(f"{float(v):.8g}" for v in row[1:])]))
    (HERE / name).write_text("\n".join(lines) + "\n")


def main() -> None:
    rng = np.random.default_rng(20)
    x = rng.normal(size=(N, D))
    h = hidden(rng, x)
    # a rule on the inputs that the untrained network knows nothing about: 8% positives
    score = x[:, 0] + 0.5 * x[:, 1]
    y = (score > np.quantile(score, 0.92)).astype(int)
    w = dense_init(rng, H, 1)
    logits = (h @ w)[:, 0]
    write("untrained_binary.csv", ["y_true", "y_pred"], np.column_stack([y, sigmoid(logits)]))
    p = y.mean()
    bias = np.log(p / (1 - p))
    write(
        "untrained_prior_bias.csv",
        ["y_true", "y_pred"],
        np.column_stack([y, sigmoid(logits + bias)]),
    )
    write(
        "untrained_large_init.csv",
        ["y_true", "y_pred"],
        np.column_stack([y, sigmoid(10 * logits)]),
    )
    k = 10
    classes = np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))
    z = h @ dense_init(rng, H, k)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    write(
        "untrained_10class.csv",
        ["label", *(f"prob_{i}" for i in range(k))],
        np.column_stack([classes, probs]),
    )


if __name__ == "__main__":
    main()
