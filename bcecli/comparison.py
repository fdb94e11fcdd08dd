"""Two models on the same rows: ``bcecli.compare_files(a, b)`` and ``bce compare A B``.

Each file is scored by ``score_file``, the one scoring path, under the same options; a row sink
takes each row's loss, weight, label and whether the model got it right as the chunks are
scored. With the files in the same row order, B's rows are paired with A's as B is scored (A's
rows wait in a spool: in memory up to 64 MB, then in a temporary file), and the paired tallies
stream and merge. Joined on an id column, both files' rows are held in memory (about 40 bytes a
row and output per file, and the ids), up to ``JOIN_MAX_ROWS`` rows.
"""

from __future__ import annotations

import math
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

import bcecli.text as fmt
from bcecli.core.options import Compat, Task
from bcecli.core.paired import (
    MeanTest,
    PairedTally,
    autocovariances,
    long_run_variance,
    mcnemar,
    mean_test,
    newey_west_lag,
)
from bcecli.errors import BceError, InputError, OptionError
from bcecli.version import __version__

if TYPE_CHECKING:
    from bcecli.api import Report
    from bcecli.core.chunk import ScoredChunk
    from bcecli.readers import Source
    from bcecli.run import RowColumns

SCHEMA = 1  # compare's JSON contract (bcecli/schema/compare.schema.json)
JOIN_MAX_ROWS = 50_000_000  # the join holds both files' rows in memory
SHOWN_IDS = 5  # ids named in an error
SPOOL_MEMORY = 64 << 20
BLOCK = 1 << 16
# A label row is compared through one number: its dot product with these weights (the
# square roots of the primes: no two label rows of 0/1 values, or small integers, collide).
_KEY_WEIGHTS = np.sqrt(np.array([2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37], dtype=np.float64))


# --------------------------------------------------------------------------------------------
# per-row records: what each model's scoring leaves behind


def _record_dtype(n_bits: int) -> np.dtype[Any]:
    return np.dtype(
        [
            ("loss", "f8"),  # the profile's per-sample value (NaN: excluded)
            ("weight", "f8"),  # its weight in the mean
            ("key", "f8"),  # the label row, as one number
            ("cls", "i8"),  # the true class (-1: none)
            ("top", "i8"),  # the predicted class (argmax)
            ("bits", "u1", (max(n_bits, 1),)),  # per output: right side of the threshold
        ]
    )


@dataclass(frozen=True)
class RowRule:
    """How a row's record is made, from the scored chunk (the same for A and B)."""

    n_outputs: int
    n_labels: int
    from_logits: bool
    weighted_mean: bool  # the mean divides by the sum of the weights (else the loss holds w)

    @property
    def per_output(self) -> bool:
        """Outputs judged one by one (binary and multi-label: p > 0.5 against y >= 0.5)."""
        return self.n_outputs == 1 or self.n_outputs == self.n_labels

    @property
    def dtype(self) -> np.dtype[Any]:
        return _record_dtype((self.n_outputs + 7) // 8 if self.per_output else 1)

    def records(self, scored: ScoredChunk) -> np.ndarray:
        chunk = scored.chunk
        y, x = np.asarray(chunk.labels), np.asarray(chunk.preds)
        n = len(x)
        out = np.empty(n, dtype=self.dtype)  # every field set below (zeros of a record: slow)
        out["loss"] = scored.loss
        out["weight"] = scored.weight if self.weighted_mean else 1.0
        with np.errstate(invalid="ignore"):
            k = min(y.shape[1], len(_KEY_WEIGHTS))
            out["key"] = y[:, 0] if y.shape[1] == 1 else y[:, :k] @ _KEY_WEIGHTS[:k]
            finite = np.isfinite(x).all(axis=1)
            out["top"] = np.where(
                finite, np.argmax(np.where(np.isfinite(x), x, -np.inf), axis=1), -1
            )
            if y.shape[1] == 1:
                cls = np.where(np.isfinite(y[:, 0]) & (y[:, 0] == np.round(y[:, 0])), y[:, 0], -1)
                out["cls"] = cls.astype(np.int64)
            else:
                out["cls"] = np.argmax(np.where(np.isfinite(y), y, -np.inf), axis=1)
            if self.per_output:
                threshold = 0.0 if self.from_logits else 0.5
                right = (x > threshold) == (y >= 0.5)
                out["bits"] = np.packbits(right, axis=1, bitorder="little")
            else:
                out["bits"] = 0
        return out

    def right(self, rec: np.ndarray, task: Task) -> np.ndarray:
        """(n,) or (n, K) bool: what the model got right, as the report's accuracy counts."""
        if task in (Task.BINARY, Task.MULTILABEL):
            bits = np.unpackbits(rec["bits"], axis=1, count=self.n_outputs, bitorder="little")
            return bits.astype(bool)
        return np.asarray(rec["top"] == rec["cls"])

    def groups(self, rec: np.ndarray, task: Task) -> tuple[np.ndarray | None, int]:
        """Each row's class for the per-class breakdown (-1: none), and the number of classes;
        None for multi-label (its outputs come from the reports)."""
        if task is Task.MULTILABEL:
            return None, 0
        k = 2 if task is Task.BINARY else self.n_outputs
        cls = rec["cls"]
        return np.where((cls >= 0) & (cls < k), cls, -1), k


class RecordSpool:
    """Records in row order: in memory up to SPOOL_MEMORY bytes, then in a temporary file."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)
        self.n = 0
        self._at = 0
        weakref.finalize(self, self._file.close)

    def add(self, rec: np.ndarray) -> None:
        try:
            self._file.write(rec.tobytes())
        except OSError as e:
            raise BceError(
                f"cannot keep the rows of the first file in a temporary file ({e.strerror})",
                f"set TMPDIR to a writable directory with room for {self.dtype.itemsize} bytes "
                "a row",
            ) from None
        self.n += len(rec)

    def rewind(self) -> None:
        self._file.seek(0)
        self._at = 0

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` records (fewer at the end)."""
        data = self._file.read(n * self.dtype.itemsize)
        out = np.frombuffer(data, dtype=self.dtype)
        self._at += len(out)
        return out

    def all(self) -> np.ndarray:
        self.rewind()
        return self.take(self.n).copy()

    def close(self) -> None:
        self._file.close()


class RecordSink:
    """A row sink that spools each row's record (``bcecli.run.RowSink``); ``rule_of`` makes
    the rule once the run has chosen the columns (and may refuse them)."""

    needs_row_order = (
        "bce compare pairs rows in input order",
        "use {engine=local} (the default)",
    )

    def __init__(self, rule_of: Callable[[RowColumns], RowRule], id_col: str | None = None) -> None:
        self.rule_of = rule_of
        self.rule: RowRule | None = None
        self.spool = RecordSpool(np.dtype("f8"))
        self.id_col = id_col
        self.id_parts: list[Any] = []  # each chunk's ids (``id_col``: a join keeps them all)

    def begin(self, columns: RowColumns) -> None:
        self.rule = self.rule_of(columns)
        self.spool = RecordSpool(self.rule.dtype)

    def records(self, scored: ScoredChunk) -> np.ndarray:
        assert self.rule is not None
        return self.rule.records(scored)

    def write(self, scored: ScoredChunk) -> None:
        self.spool.add(self.records(scored))
        if self.id_col is not None:
            assert scored.chunk.ids is not None
            self.id_parts.append(scored.chunk.ids[self.id_col])

    def ids(self) -> np.ndarray:
        """The ids of every row, as numbers (float) or text (object)."""
        from bcecli.readers import TextColumn

        if self.id_parts and isinstance(self.id_parts[0], TextColumn):
            text = TextColumn.concat(self.id_parts).values
            return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        parts = [np.asarray(p).reshape(len(p), -1)[:, 0] for p in self.id_parts]
        return np.concatenate(parts) if parts else np.zeros(0)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass  # the spool stays until the comparison is done


class Pairing:
    """Pairs A's records with B's, block by block, into the paired tallies."""

    def __init__(self, rule: RowRule, task: Task, time_ordered: bool) -> None:
        self.rule, self.task = rule, task
        _, k = rule.groups(np.zeros(0, dtype=rule.dtype), task)
        self.tally = PairedTally(max(k, 1))
        self.rows = 0
        self.excluded = 0
        self.disagree = 0
        self.disagree_rows: list[int | str] = []
        self.diffs = RecordSpool(np.dtype("f8")) if time_ordered else None

    def add(self, a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> None:
        """Records of the same rows (``rows``: their numbers in A, for the messages)."""
        self.rows += len(a)
        ka, kb = a["key"], b["key"]
        bad = ~((ka == kb) | (np.isnan(ka) & np.isnan(kb)))
        if bad.any():
            self.disagree += int(np.count_nonzero(bad))
            if len(self.disagree_rows) < SHOWN_IDS:
                self.disagree_rows += [int(r) for r in rows[bad][:SHOWN_IDS]]
            return
        both = ~(np.isnan(a["loss"]) | np.isnan(b["loss"]))
        self.excluded += int(np.count_nonzero(~both))
        a, b = a[both], b[both]
        with np.errstate(invalid="ignore"):
            d = b["loss"] - a["loss"]  # inf - inf: both infinite, NaN
        w = np.ascontiguousarray(a["weight"])  # a record's field is strided: slow sums
        group, _ = self.rule.groups(a, self.task)
        self.tally.add(d, w, group, self.rule.right(a, self.task), self.rule.right(b, self.task))
        if self.diffs is not None:
            self.diffs.add(d)


class PairSink(RecordSink):
    """B's row sink when the files are in the same order: each chunk's records are paired with
    as many of A's as they arrive."""

    def __init__(
        self, rule_of: Callable[[RowColumns], RowRule], first: RecordSpool, pairing: Pairing
    ) -> None:
        super().__init__(rule_of)
        self.first, self.pairing = first, pairing
        self.first.rewind()
        self.n = 0
        self.extra = 0  # rows of B beyond A's

    def write(self, scored: ScoredChunk) -> None:
        b = self.records(scored)
        a = self.first.take(len(b))
        if len(a) < len(b):
            self.extra += len(b) - len(a)
            b = b[: len(a)]
        self.pairing.add(a, b, np.arange(self.n, self.n + len(a)))
        self.n += len(a)


# --------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True)
class Side:
    """One model's headline, from its own report."""

    source: str
    n: int
    n_excluded: int
    mean_loss: float
    ne: float
    accuracy: float
    brier: float
    auc: float | None
    valid: bool
    errors: tuple[str, ...]  # ids of its error flags
    miscalibration: float | None
    discrimination: float | None
    uncertainty: float | None

    @classmethod
    def of(cls, source: str, r: Report) -> Side:
        d = r.decomposition
        return cls(
            source=source,
            n=r.n,
            n_excluded=r.n_excluded,
            mean_loss=r.mean_loss,
            ne=r.ne,
            accuracy=r.accuracy,
            brier=r.brier,
            auc=r.auc,
            valid=r.valid,
            errors=tuple(f.id for f in r.flags if f.severity.value == "error"),
            miscalibration=None if d is None else d.miscalibration,
            discrimination=None if d is None else d.discrimination,
            uncertainty=None if d is None else d.uncertainty,
        )

    def to_dict(self) -> dict[str, Any]:
        n = fmt.json_number
        return {
            "source": self.source,
            "n": self.n,
            "n_excluded": self.n_excluded,
            "mean_loss": n(self.mean_loss),
            "ne": n(self.ne),
            "accuracy": n(self.accuracy),
            "brier": n(self.brier),
            "auc": n(self.auc),
            "valid": self.valid,
            "error_flags": list(self.errors),
            "miscalibration": n(self.miscalibration),
            "discrimination": n(self.discrimination),
            "uncertainty": n(self.uncertainty),
        }


@dataclass(frozen=True)
class GroupChange:
    """A class's (or an output's) change: paired where the rows say which class they are."""

    name: str
    n: int
    a: float | None  # mean loss (per output: from the reports)
    b: float | None
    diff: float
    std_error: float | None
    ci: tuple[float, float] | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        n = fmt.json_number
        return {
            "name": self.name,
            "n": self.n,
            "mean_loss_a": n(self.a),
            "mean_loss_b": n(self.b),
            "diff": n(self.diff),
            "std_error": n(self.std_error),
            "ci": None if self.ci is None else [n(self.ci[0]), n(self.ci[1])],
            "p_value": n(self.p_value),
        }


@dataclass(frozen=True)
class DieboldMariano:
    statistic: float
    p_value: float
    lag: int
    long_run_variance: float


@dataclass(frozen=True)
class Comparison:
    """B against A on the same rows. ``diff`` values are B - A (lower loss is better);
    ``to_dict()`` is the JSON of ``bce compare --format json``."""

    task: Task
    compat: Compat
    framework: str
    a: Side
    b: Side
    id_col: str | None
    n_rows: int  # rows paired (both files)
    n: int  # rows both models scored
    n_excluded: int  # rows one of them excluded
    level: float
    alpha: float
    loss: MeanTest  # the paired difference of the mean loss, its interval and t-test
    weighted: bool
    dm: DieboldMariano | None
    improved: int
    worse: int
    tied: int
    a_only: int  # elements A got right and B wrong
    b_only: int
    both_right: int
    elements: int
    mcnemar_p: float
    by_class: tuple[GroupChange, ...]
    outputs: tuple[GroupChange, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def p_value(self) -> float:
        """The deciding test's p-value: Diebold-Mariano with ``time_ordered``, else the t-test."""
        return self.dm.p_value if self.dm is not None else self.loss.p_value

    @property
    def test_name(self) -> str:
        return "diebold-mariano" if self.dm is not None else "paired-t"

    @property
    def better(self) -> str | None:
        """ "b" or "a" where the deciding test rejects "no difference" at ``alpha``, else None."""
        if not (self.p_value < self.alpha) or self.loss.diff == 0:
            return None
        return "b" if self.loss.diff < 0 else "a"

    @property
    def b_is_better(self) -> bool:
        return self.better == "b" and self.a.valid and self.b.valid

    @property
    def changed(self) -> str | None:
        """Which term of the decomposition moved more: "calibration" or "discrimination"."""
        d = self.decomposition_diff
        if d is None:
            return None
        mcb, dsc = d
        if mcb == 0 and dsc == 0:
            return "neither"
        return "calibration" if abs(mcb) >= abs(dsc) else "discrimination"

    @property
    def decomposition_diff(self) -> tuple[float, float] | None:
        a, b = self.a, self.b
        if None in (a.miscalibration, b.miscalibration, a.discrimination, b.discrimination):
            return None
        assert a.miscalibration is not None and b.miscalibration is not None
        assert a.discrimination is not None and b.discrimination is not None
        return b.miscalibration - a.miscalibration, b.discrimination - a.discrimination

    def verdict(self) -> str:
        """One line: "B is better by 0.031 nats, 95% CI [0.024, 0.038], p < 0.001"."""
        t = self.loss
        pct = f"{self.level * 100:g}%"
        p = _p_text(self.p_value)
        if self.better is None:
            lo, hi = t.ci
            return (
                f"No difference at alpha {self.alpha:g}: B - A = {_signed(t.diff)} nats, "
                f"{pct} CI [{_signed(lo)}, {_signed(hi)}], {p}"
            )
        lo, hi = (-t.ci[1], -t.ci[0]) if self.better == "b" else t.ci
        who = "B is better" if self.better == "b" else "B is worse"
        text = f"{who} by {_num(abs(t.diff))} nats, {pct} CI [{_num(lo)}, {_num(hi)}], {p}"
        if not (self.a.valid and self.b.valid):
            text += " (but " + ("A" if not self.a.valid else "B") + " is not a valid loss)"
        return text

    def to_dict(self) -> dict[str, Any]:
        n = fmt.json_number
        t = self.loss
        mcb_dsc = self.decomposition_diff
        return {
            "schema": SCHEMA,
            "bce_version": __version__,
            "task": self.task.value,
            "compat": self.compat.value,
            "framework": self.framework,
            "id_col": self.id_col,
            "level": self.level,
            "alpha": self.alpha,
            "n_rows": self.n_rows,
            "n": self.n,
            "n_excluded": self.n_excluded,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "mean_loss": {
                "a": n(self.a.mean_loss),
                "b": n(self.b.mean_loss),
                "diff": n(t.diff),
                "std_error": n(t.std_error),
                "ci": [n(t.ci[0]), n(t.ci[1])],
                "ci_method": "normal approximation on the per-row differences",
                "weighted": self.weighted,
            },
            "test": {
                "name": self.test_name,
                "p_value": n(self.p_value),
            },
            "t_test": {
                "statistic": n(t.statistic),
                "df": n(t.df),
                "p_value": n(t.p_value),
            },
            "diebold_mariano": None
            if self.dm is None
            else {
                "statistic": n(self.dm.statistic),
                "p_value": n(self.dm.p_value),
                "lag": self.dm.lag,
                "lag_rule": "floor(4 (n/100)^(2/9)) (Newey-West 1994), Bartlett weights",
                "long_run_variance": n(self.dm.long_run_variance),
            },
            "ne": _change(self.a.ne, self.b.ne),
            "brier": _change(self.a.brier, self.b.brier),
            "auc": _change(self.a.auc, self.b.auc),
            "accuracy": {
                **_change(self.a.accuracy, self.b.accuracy),
                "a_only": self.a_only,
                "b_only": self.b_only,
                "both_right": self.both_right,
                "elements": self.elements,
                "test": "mcnemar-exact",
                "p_value": n(self.mcnemar_p),
            },
            "rows": {
                "improved": self.improved,
                "worse": self.worse,
                "tied": self.tied,
                "share_improved": n(self.improved / self.n if self.n else math.nan),
            },
            "by_class": [g.to_dict() for g in self.by_class],
            "outputs": [g.to_dict() for g in self.outputs],
            "decomposition": {
                "miscalibration": None if mcb_dsc is None else n(mcb_dsc[0]),
                "discrimination": None if mcb_dsc is None else n(mcb_dsc[1]),
                "changed": self.changed,
            },
            "verdict": {
                "better": self.better,
                "b_is_better": self.b_is_better,
                "text": self.verdict(),
            },
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        return f"<bcecli.Comparison {self.task.value}, {self.compat.value}: {self.verdict()}>"

    def __rich__(self) -> Any:
        from rich.console import Group

        from bcecli.render.compare import render_comparison

        return Group(*render_comparison(self))

    def _repr_html_(self) -> str:
        from bcecli.render.compare import render_comparison
        from bcecli.render.terminal import html

        return html(render_comparison(self))


def _change(a: float | None, b: float | None) -> dict[str, Any]:
    n = fmt.json_number
    diff = None if a is None or b is None else b - a
    return {"a": n(a), "b": n(b), "diff": n(diff)}


def _num(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}"


def _signed(v: float) -> str:
    s = _num(v)
    return s if s.startswith("-") or s == "nan" else "+" + s


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# --------------------------------------------------------------------------------------------
# the entry points


def compare_files(
    a: str | os.PathLike[str] | Source,
    b: str | os.PathLike[str] | Source,
    *,
    labels: str | os.PathLike[str] | Source | None = None,
    id_col: str | None = None,
    label_col: str | Sequence[str] | None = None,
    pred_col: str | Sequence[str] | None = None,
    sample_weight: str | None = None,
    header: bool | None = None,
    index_col: bool | None = None,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    dtype: object = None,
    alpha: float = 0.05,
    level: float | None = None,
    time_ordered: bool = False,
    chunk_rows: int | None = None,
) -> Comparison:
    """Compare model B's predictions with model A's on the same rows: both files (and
    ``labels``, if the labels are in a file of their own) are scored by ``score_file`` under the
    same options. The rows pair in file order, or by the values of ``id_col`` (each file's
    column of that name). ``alpha``: the test's level for the verdict; ``level``: the
    interval's coverage (default 1 - alpha). ``time_ordered``: the rows are a time series;
    the test is then Diebold-Mariano's.
    """
    from bcecli.api import score_file

    a, b = _path(a), _path(b)
    labels = None if labels is None else _path(labels)
    if level is None:
        level = 1.0 - alpha
    if not 0 < level < 1:
        raise OptionError(f"the level {level} is not between 0 and 1", "pass e.g. 0.95")
    if not 0 < alpha < 1:
        raise OptionError(f"alpha {alpha} is not between 0 and 1", "pass e.g. 0.05")
    if id_col is not None and labels is not None:
        raise OptionError(
            "{labels} fixes the row order of both files, so {id_col} has nothing to join",
            "drop {id_col}, or put the labels in both files and join them on {id_col}",
        )
    options: dict[str, Any] = dict(
        label_col=label_col,
        pred_col=pred_col,
        sample_weight=sample_weight,
        header=header,
        index_col=index_col,
        compat=compat,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        class_weight=class_weight,
        pos_weight=pos_weight,
        ignore_class=ignore_class,
        dtype=dtype,
        chunk_rows=chunk_rows,
    )
    first = RecordSink(lambda columns: _rule(columns, from_logits, compat), id_col)
    options["id_col"] = id_col  # carried through the scoring path with each chunk
    report_a = score_file(a, labels=labels, task=task, rows=first, **options)
    assert first.rule is not None
    rule = first.rule
    name_a, name_b = _name(a), _name(b)

    def same_rule(columns: RowColumns) -> RowRule:
        if len(columns.preds) != rule.n_outputs or len(columns.labels) != rule.n_labels:
            raise InputError(
                f"has {len(columns.preds)} prediction and {len(columns.labels)} label columns "
                f"where {name_a} has {rule.n_outputs} and {rule.n_labels}",
                "compare predictions of the same task and classes",
                source=name_b,
            )
        return rule

    try:
        if id_col is None:
            pairing = Pairing(rule, report_a.task, time_ordered)
            second = PairSink(same_rule, first.spool, pairing)
            report_b = _score_b(score_file, b, labels, report_a, second, options)
            if second.extra or second.n < first.spool.n:
                nb = second.n + second.extra
                raise InputError(
                    f"{name_b} has {nb:,} rows but {name_a} has {first.spool.n:,}",
                    "compare predictions of the same rows, or join the files on an id column "
                    "with {id_col=COL}",
                )
        else:
            joined = RecordSink(same_rule, id_col)
            report_b = _score_b(score_file, b, labels, report_a, joined, options)
            try:
                pairing = _join(first, joined, name_a, name_b, id_col, report_a.task, time_ordered)
            finally:
                joined.spool.close()
        _check_labels(pairing, name_a, name_b, id_col)
        return _result(pairing, report_a, report_b, name_a, name_b, id_col, level, alpha)
    finally:
        first.spool.close()


def _score_b(
    score_file: Callable[..., Report],
    b: str | Source,
    labels: str | Source | None,
    report_a: Report,
    sink: RecordSink,
    options: dict[str, Any],
) -> Report:
    """Score B under A's task (decided once, so both are scored alike), with A's classes."""
    report_b = score_file(b, labels=labels, task=report_a.task, rows=sink, **options)
    names_a = tuple(o.name for o in report_a.outputs)
    names_b = tuple(o.name for o in report_b.outputs)
    if names_a != names_b:
        raise InputError(
            f"its classes (or outputs) are {', '.join(names_b)} where the first file's are "
            f"{', '.join(names_a)}",
            "compare predictions of the same classes, in the same order",
            source=_name(b),
        )
    return report_b


def _rule(columns: RowColumns, from_logits: bool, compat: Compat | str) -> RowRule:
    c = compat if isinstance(compat, Compat) else Compat(compat)
    from bcecli.core.options import LossOptions

    weighted_mean = LossOptions(task=Task.AUTO, compat=c).weighted_mean
    return RowRule(len(columns.preds), len(columns.labels), from_logits, weighted_mean)


def _path(path: str | os.PathLike[str] | Source) -> str | Source:
    return os.fspath(path) if isinstance(path, os.PathLike) else path


def _name(path: str | Source) -> str:
    return path if isinstance(path, str) else path.name


def _check_labels(pairing: Pairing, name_a: str, name_b: str, id_col: str | None) -> None:
    if not pairing.disagree:
        return
    what = "ids" if id_col else "rows"
    shown = ", ".join(str(r) for r in pairing.disagree_rows[:SHOWN_IDS])
    raise InputError(
        f"the labels of {name_a} and {name_b} disagree in {pairing.disagree:,} of "
        f"{pairing.rows:,} rows ({what} of {name_a}: {shown}"
        + (", ..." if pairing.disagree > SHOWN_IDS else "")
        + ")",
        "compare predictions of the same rows"
        + ("" if id_col else ": if the order differs, join them with {id_col=COL}"),
    )


def _show_id(v: object) -> str:
    """An id as the file has it: numbers are read as floats, 7.0 was written 7."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return fmt.show(str(v), 40)


def _duplicates(ids: Any) -> tuple[int, list[str]]:
    dup = ids[ids.duplicated()].unique()
    return len(dup), [_show_id(v) for v in dup[:SHOWN_IDS]]


def _join(
    first: RecordSink,
    second: RecordSink,
    name_a: str,
    name_b: str,
    id_col: str,
    task: Task,
    time_ordered: bool,
) -> Pairing:
    """B's records joined to A's on ``id_col``, paired in A's order."""
    import pandas as pd

    spool_a, spool_b = first.spool, second.spool
    assert first.rule is not None
    for spool, name in ((spool_a, name_a), (spool_b, name_b)):
        if spool.n > JOIN_MAX_ROWS:
            raise InputError(
                f"has {spool.n:,} rows; a join on {{id_col}} holds every row in memory, up to "
                f"{JOIN_MAX_ROWS:,}",
                "sort both files by the id and compare them without {id_col}",
                source=name,
            )
    ids_a, ids_b = first.ids(), second.ids()
    if ids_a.dtype.kind != ids_b.dtype.kind:  # numbers in one file, text in the other
        ids_a, ids_b = ids_a.astype(str), ids_b.astype(str)
    index_a, index_b = pd.Index(ids_a), pd.Index(ids_b)
    for index, name in ((index_a, name_a), (index_b, name_b)):
        if index.hasnans:
            raise InputError(
                f"{int(index.isna().sum()):,} rows have no value in the id column {id_col!r}",
                "give every row an id",
                source=name,
            )
        count, shown = _duplicates(index)
        if count:
            raise InputError(
                f"{count:,} ids appear more than once in column {id_col!r} "
                f"({', '.join(shown)}{', ...' if count > SHOWN_IDS else ''})",
                "give every row its own id",
                source=name,
            )
    at = index_b.get_indexer(index_a)
    missing_in_b = np.flatnonzero(at < 0)
    missing_in_a = np.flatnonzero(index_a.get_indexer(index_b) < 0)
    if len(missing_in_b) or len(missing_in_a):
        parts = []
        for rows, ids, other in ((missing_in_b, ids_a, name_b), (missing_in_a, ids_b, name_a)):
            if len(rows):
                listed = ", ".join(_show_id(ids[r]) for r in rows[:SHOWN_IDS])
                more = ", ..." if len(rows) > SHOWN_IDS else ""
                parts.append(f"{len(rows):,} ids are missing from {other} ({listed}{more})")
        raise InputError(
            "; ".join(parts), "compare predictions of the same rows: every id in both files"
        )
    rec_a, rec_b = spool_a.all(), spool_b.all()
    pairing = Pairing(first.rule, task, time_ordered)
    for lo in range(0, len(rec_a), BLOCK):
        rows = np.arange(lo, min(lo + BLOCK, len(rec_a)))
        pairing.add(rec_a[rows], rec_b[at[rows]], rows)
    if pairing.disagree:  # name the ids, not A's row numbers
        pairing.disagree_rows = [_show_id(ids_a[r]) for r in pairing.disagree_rows]
    return pairing


def _result(
    pairing: Pairing,
    ra: Report,
    rb: Report,
    name_a: str,
    name_b: str,
    id_col: str | None,
    level: float,
    alpha: float,
) -> Comparison:
    notes: list[str] = []
    t = pairing.tally
    m = t.overall
    se = float(m.std_error()[0])
    weighted = bool(m.w2[0] != m.n[0] or m.w[0] != m.n[0])
    df = float(m.df()[0])
    loss = mean_test(float(m.mean[0]), se, df if df > 0 else None, level)
    if t.n < 2:
        notes.append("fewer than 2 rows both models scored: no interval or test")
    headline = rb.mean_loss - ra.mean_loss
    if pairing.excluded:
        notes.append(
            f"{pairing.excluded:,} rows excluded by either model are left out of the paired "
            "statistics"
        )
    elif math.isfinite(headline) and abs(headline - loss.diff) > 1e-9 * max(1.0, abs(ra.mean_loss)):
        notes.append(
            f"the paired difference is the weighted mean of the per-row differences; the "
            f"reports' means differ by {headline:.6g} ({ra.framework}'s reduction divides by "
            "another sum)"
        )
    if weighted:
        notes.append("weighted: the standard error is the linearised one, the t-test's df Kish's")
    dm = None
    if pairing.diffs is not None and weighted:
        pairing.diffs.close()
        raise OptionError(
            "the Diebold-Mariano test of time-ordered rows takes every row at weight 1, and "
            "these rows are weighted in the mean",
            "compare them as unordered rows, or without the weights (or under a profile that "
            "multiplies the weight into each row's loss, such as {compat=keras})",
        )
    if pairing.diffs is not None:
        dm = _diebold_mariano(pairing.diffs, float(m.mean[0]))
        notes.append(
            f"Diebold-Mariano: Newey-West variance with lag {dm.lag} "
            "(floor(4 (n/100)^(2/9))), Bartlett weights, normal reference"
        )
        pairing.diffs.close()
    by_class: list[GroupChange] = []
    if ra.task is not Task.MULTILABEL:
        g = t.by_group
        names = ["0", "1"] if ra.task is Task.BINARY else [o.name for o in ra.outputs]
        ses = g.std_error()
        dfs = g.df()
        for i, name in enumerate(names[: g.groups]):
            if g.n[i] == 0:
                continue
            mt = mean_test(float(g.mean[i]), float(ses[i]), float(dfs[i]) or None, level)
            by_class.append(
                GroupChange(name, int(g.n[i]), None, None, mt.diff, mt.std_error, mt.ci, mt.p_value)
            )
    outputs = tuple(
        GroupChange(
            oa.name,
            oa.support,
            oa.mean_loss,
            ob.mean_loss,
            ob.mean_loss - oa.mean_loss,
            None,
            None,
            None,
        )  # fmt: skip
        for oa, ob in zip(ra.outputs, rb.outputs, strict=True)
        if ra.task is Task.MULTILABEL
    )
    elements = t.a_only + t.b_only + t.both_right + t.both_wrong
    return Comparison(
        task=ra.task,
        compat=ra.compat,
        framework=ra.framework,
        a=Side.of(name_a, ra),
        b=Side.of(name_b, rb),
        id_col=id_col,
        n_rows=pairing.rows,
        n=t.n,
        n_excluded=pairing.excluded,
        level=level,
        alpha=alpha,
        loss=loss,
        weighted=weighted,
        dm=dm,
        improved=t.improved,
        worse=t.worse,
        tied=t.tied,
        a_only=t.a_only,
        b_only=t.b_only,
        both_right=t.both_right,
        elements=elements,
        mcnemar_p=mcnemar(t),
        by_class=tuple(by_class),
        outputs=outputs,
        notes=tuple(notes),
    )


def _diebold_mariano(diffs: RecordSpool, mean: float) -> DieboldMariano:
    from bcecli.core.stats import normal_two_sided

    lag = newey_west_lag(diffs.n)

    def blocks() -> Iterator[np.ndarray]:
        diffs.rewind()
        while len(block := diffs.take(BLOCK)):
            yield block

    gammas, n = autocovariances(blocks(), mean, lag)
    lrv = long_run_variance(gammas)
    if n < 2 or not lrv > 0:
        stat = 0.0 if mean == 0 else math.copysign(math.inf, mean)
        return DieboldMariano(stat, 1.0 if mean == 0 else 0.0, lag, lrv)
    stat = mean / math.sqrt(lrv / n)
    return DieboldMariano(stat, normal_two_sided(stat), lag, lrv)


def compare(
    y_true: object,
    y_pred_a: object,
    y_pred_b: object,
    *,
    sample_weight: object = None,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    dtype: object = None,
    alpha: float = 0.05,
    level: float | None = None,
    time_ordered: bool = False,
) -> Comparison:
    """Compare two models' predictions of the same labels, given as arrays, lists, or pandas /
    polars objects (as ``bcecli.score`` takes them; ``sample_weight``: one weight per row)."""
    from bcecli.api import as_array, named_columns, weight_array, weight_column_name
    from bcecli.readers.memory import ArraySource

    y, label_names = as_array(y_true, "y_true")
    labels = named_columns("y_true", y, label_names)
    preds: list[dict[str, np.ndarray]] = []
    for name, value in (("y_pred_a", y_pred_a), ("y_pred_b", y_pred_b)):
        p, pred_names = as_array(value, "y_pred")
        if len(p) != len(y):
            raise InputError(
                f"{name} has {len(p):,} rows but y_true has {len(y):,}",
                "pass one prediction (or prediction row) per label",
                param="y_pred",
            )
        preds.append(named_columns("y_pred", p, pred_names))
    columns = tuple(preds[0])
    if tuple(preds[1]) != columns:
        raise InputError(
            f"y_pred_a has the columns {', '.join(columns)}, y_pred_b {', '.join(preds[1])}",
            "pass the two models' predictions of the same classes",
            param="y_pred",
        )
    weight_col = None
    if sample_weight is not None:
        w = weight_array(sample_weight, len(y), "pass one weight per row")
        weight_col = weight_column_name(columns)
        for cols in preds:
            cols[weight_col] = w
    return compare_files(
        ArraySource("y_pred_a", preds[0]), ArraySource("y_pred_b", preds[1]),
        labels=ArraySource("y_true", labels), label_col=tuple(labels), pred_col=columns,
        sample_weight=weight_col, task=task, compat=compat, from_logits=from_logits,
        label_smoothing=label_smoothing, class_weight=class_weight, pos_weight=pos_weight,
        ignore_class=ignore_class, dtype=dtype, level=level, alpha=alpha,
        time_ordered=time_ordered,
    )  # fmt: skip
