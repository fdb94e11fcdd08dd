"""Labels written as text ("yes"/"no", "cat"/"dog") mapped to numbers, the same way in every
chunk, with the mapping shown in the report."""

from __future__ import annotations

import numpy as np

from bcecli.errors import InputError

# Text labels whose positive class is clear without being told.
KNOWN_BINARY = (
    ("yes", "no"), ("true", "false"), ("y", "n"), ("t", "f"), ("pos", "neg"),
    ("positive", "negative"), ("1", "0"), ("spam", "ham"),
)  # fmt: skip


class LabelMapper:
    """Decides the mapping on the first chunk; later chunks must use the same labels."""

    def __init__(self, class_names: tuple[str, ...], *, source: str) -> None:
        self.class_names = class_names
        self.source = source
        self.mapping: dict[str, float] | None = None
        self.description = ""

    def _decide(self, values: list[str]) -> None:
        norm = {v: v.strip().lower() for v in values}
        names = [c.lower() for c in self.class_names]
        if names and all(norm[v] in names for v in values):
            self.mapping = {v: float(names.index(norm[v])) for v in values}
            self.description = "text labels matched to the prediction columns' class names"
            return
        present = {norm[v] for v in values}
        for pos, neg in KNOWN_BINARY:
            if present <= {pos, neg}:
                self.mapping = {v: 1.0 if norm[v] == pos else 0.0 for v in values}
                self.description = f"text labels mapped {pos} = 1, {neg} = 0"
                return
        ordered = sorted(values)
        self.mapping = {v: float(i) for i, v in enumerate(ordered)}
        shown = ", ".join(f"{v} = {i}" for i, v in enumerate(ordered[:10]))
        self.description = f"text labels mapped in sorted order (like sklearn's LabelEncoder): " \
            f"{shown}{', ...' if len(ordered) > 10 else ''}"

    def map(self, values: np.ndarray, start: int) -> np.ndarray:
        if values.dtype != object:
            return np.asarray(values, dtype=np.float64)
        missing = np.equal(values, None)
        text = np.where(missing, "", values).astype(str)
        uniq, inverse = np.unique(text, return_inverse=True)
        present = [u for u in uniq.tolist() if u != ""]
        if self.mapping is None:
            self._decide(present)
        assert self.mapping is not None
        unknown = [u for u in present if u not in self.mapping]
        if unknown:
            row = start + int(np.flatnonzero(text == unknown[0])[0])
            raise InputError(
                f"label {unknown[0]!r} at row {row} was not among the labels of the first rows "
                f"({', '.join(list(self.mapping)[:10])})",
                "map the labels to numbers (0/1 or class indices) before scoring",
                source=self.source,
            )
        codes = np.array([self.mapping.get(u, np.nan) for u in uniq.tolist()], dtype=np.float64)
        return codes[inverse.reshape(-1)]
