"""Labels written as text ("yes"/"no", "cat"/"dog") mapped to numbers, the same way in every
chunk, with the mapping shown in the report."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.arrow import dictionary_indices
from bcecli.readers.base import Column, TextColumn
from bcecli.readers.display import show, show_cell, show_names

# Text labels whose positive class is clear without being told.
KNOWN_BINARY = (
    ("yes", "no"), ("true", "false"), ("y", "n"), ("t", "f"), ("pos", "neg"),
    ("positive", "negative"), ("1", "0"), ("spam", "ham"),
)  # fmt: skip


class LabelMapper:
    """Decides the mapping on the first chunk, from what it holds where that settles it
    (numbers written as text, the prediction columns' class names, a known pair such as
    yes/no, whose other word may come later), else from every distinct label of the whole
    input (``distinct``: read again for them). Where the input cannot be read twice (a pipe)
    the sorted order of the first rows' labels stands, and a later label may only sort after
    them; one that would change it is refused."""

    def __init__(
        self,
        class_names: tuple[str, ...],
        *,
        source: str,
        distinct: Callable[[], list[str] | None] | None = None,
    ) -> None:
        self.class_names = class_names
        self.source = source
        self.mapping: dict[str, float] | None = None
        self.description = ""
        self.sorted_order = False  # the last resort: nothing said which label is which class
        self._distinct = distinct
        self._pair: tuple[str, str] | None = None  # a known pair: its other word may come later
        self._first_rows_only = False  # sorted order of the first rows' labels (a pipe)

    def _decide(self, values: list[str]) -> None:
        numbers = {v: _number(v) for v in values}
        if values and all(x is not None for x in numbers.values()):
            # numbers the reader kept as text (odd spacing, quotes): their own values
            self.mapping = {v: float(x) for v, x in numbers.items() if x is not None}
            self.description = "labels written as text read as the numbers they spell"
            return
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
                self._pair = pos, neg
                return
        whole = self._distinct() if self._distinct is not None else None
        self._distinct = None  # read once; and a mapper travels to Dask workers by pickle
        if whole is not None:
            values = sorted({*values, *whole})
        else:
            self._first_rows_only = True
        self.mapping = {v: float(i) for i, v in enumerate(sorted(values))}
        self.sorted_order = True
        self._describe()

    def __getstate__(self) -> dict[str, object]:
        # the input's reader stays here: a worker maps with the mapping decided already
        return {**self.__dict__, "_distinct": None}

    def _describe(self) -> None:
        assert self.mapping is not None
        ordered = sorted(self.mapping, key=lambda v: self.mapping[v] if self.mapping else 0)
        shown = ", ".join(f"{show(v, 30)} = {i}" for i, v in enumerate(ordered[:10]))
        self.description = (
            f"text labels mapped in sorted order (like sklearn's LabelEncoder): "
            f"{shown}{', ...' if len(ordered) > 10 else ''}"
        )

    def _extend(self, unknown: list[str], first_row: int, where: str) -> list[str]:
        """Labels first seen after the first chunk that the mapping takes: the other word of a
        known pair; in sorted order from the first rows only, labels that sort after every
        label mapped so far (the order of the earlier ones stands). Returns those it cannot
        take."""
        assert self.mapping is not None
        if self._pair is not None:
            pos, neg = self._pair
            for u in unknown:
                if u.strip().lower() in self._pair:
                    self.mapping[u] = 1.0 if u.strip().lower() == pos else 0.0
        elif self._first_rows_only:
            top = max(self.mapping)
            later = sorted(u for u in unknown if u > top)
            if len(later) == len(unknown):
                for u in later:
                    self.mapping[u] = float(len(self.mapping))
                self._describe()
            else:
                early = min(u for u in unknown if u <= top)
                raise InputError(
                    f"row {first_row}{where}: label {show_cell(early)} first appears after "
                    f"the first rows ({show_names(list(self.mapping), 10)}) and sorts before "
                    f"{show_cell(top)}: the classes' sorted order, decided on the first rows "
                    "of a stream that cannot be read twice, would change",
                    "save the input to a file (bce then reads every label first), name the "
                    "prediction columns after the classes (prob_cat, prob_dog), or write the "
                    "labels as class indices",
                    source=self.source,
                )
        return [u for u in unknown if u not in self.mapping]

    def map(self, values: Column, start: int, column: str = "") -> np.ndarray:
        if isinstance(values, TextColumn):
            uniq, inverse = _factorize_text(values)
        elif values.dtype == object:
            uniq, inverse = _factorize_objects(values)
        else:
            return np.asarray(values, dtype=np.float64)
        present = sorted({u for u in uniq if u != ""})
        where = f", column {show(column, 40)}" if column else ""
        if self.mapping is None:
            self._check_mixed(present, uniq, inverse, start, where)
            self._decide(present)
        assert self.mapping is not None
        unknown = [u for u in present if u not in self.mapping]
        if unknown:
            rows = np.flatnonzero(np.isin(inverse, [uniq.index(u) for u in unknown]))
            unknown = self._extend(unknown, start + int(rows[0]), where)
        if unknown:
            row = start + int(np.flatnonzero(inverse == uniq.index(unknown[0]))[0])
            raise InputError(
                f"row {row}{where}: label {show_cell(unknown[0])} was not among the labels of "
                f"the first rows ({show_names(list(self.mapping), 10)})",
                "map the labels to numbers (0/1 or class indices) before scoring",
                source=self.source,
            )
        codes = np.array([self.mapping.get(u, np.nan) for u in uniq], dtype=np.float64)
        return codes[inverse]

    def _check_mixed(
        self, present: list[str], uniq: list[str], inverse: np.ndarray, start: int, where: str
    ) -> None:
        """Numbers and words in one label column: the rarer kind is the mistake."""
        words = [v for v in present if _number(v) is None]
        numbers = [v for v in present if _number(v) is not None]
        if not words or not numbers:
            return
        word_rows = np.isin(inverse, [i for i, u in enumerate(uniq) if u in words])
        number_rows = np.isin(inverse, [i for i, u in enumerate(uniq) if u in numbers])
        n_words = int(np.count_nonzero(word_rows))
        odd, kind, other = (
            (word_rows, "text", "numbers")
            if n_words <= len(inverse) - n_words
            else (number_rows, "a number", "text")
        )
        first = int(np.flatnonzero(odd)[0])
        row, value = start + first, uniq[inverse[first]]
        raise InputError(
            f"row {row}{where}: label {show_cell(str(value))} is {kind}, the other labels are "
            f"{other}",
            "fix that cell, or leave it empty to exclude the row",
            source=self.source,
        )


def _factorize_text(column: TextColumn) -> tuple[list[str], np.ndarray]:
    """The distinct texts of a column and each row's index among them; a missing value reads
    as "". Arrow's dictionary encoding: no sort, one Python string per distinct text."""
    encoded = column.values.dictionary_encode()
    distinct: list[str] = [*encoded.dictionary.to_pylist(), ""]
    return distinct, dictionary_indices(encoded, missing=len(distinct) - 1)


def _factorize_objects(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """``_factorize_text`` for an object array (None for a missing value), by numpy's sort."""
    missing = np.equal(values, np.array(None, dtype=object))
    texts, inverse = np.unique(np.where(missing, "", values).astype(str), return_inverse=True)
    return texts.tolist(), inverse.reshape(-1)


def _number(text: str) -> float | None:
    if not text.isascii():  # float() reads '٠' and a non-breaking space; nothing else does
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if "_" not in text else None
