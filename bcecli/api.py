"""The public API: score arrays or a file, get a Report. ``bce score`` calls ``score_file``.

Options are keyword-only and take what a Python caller has at hand: enum members or their
names (``compat="keras"``), a number or a sequence for weights (a ``{class: weight}`` dict for
``class_weight``, as Keras takes it), ``"float32"`` or ``np.float32`` for ``dtype``. Problems
raise :class:`bcecli.BceError` subclasses that name the parameter (``e.param``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import numpy as np

import bcecli.text as fmt
from bcecli.core.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapPlan
from bcecli.core.options import Compat, LossOptions, Reduction, Task
from bcecli.core.report import Report as Statistics
from bcecli.core.slices import DEFAULT_BINS, DEFAULT_MIN_SLICE, SlicePlan
from bcecli.errors import InputError, OptionError
from bcecli.version import __version__

if TYPE_CHECKING:
    from rich.console import RenderableType

    from bcecli.core.bootstrap import Intervals
    from bcecli.core.decomposition import Decomposition, Recalibration
    from bcecli.core.slices import Slice
    from bcecli.core.softmax_fit import SoftmaxRecalibration
    from bcecli.gates import Gates
    from bcecli.readers import Source
    from bcecli.run import RowSink
    from bcecli.spool import LossSpool

SCHEMA = 1  # the JSON contract's version: keys change only with a new number

E = TypeVar("E", bound=Enum)


@dataclass(frozen=True, eq=False)
class Report(Statistics):
    """The report of one run: every statistic and flag (the fields below), the reduction its
    headline ``loss`` is under, and, with ``reduction="none"``, every per-sample loss.

    ``to_dict()`` is the JSON object of ``bce score --format json``; ``repr`` is one line; in
    Jupyter (or ``rich.print``) it renders as the terminal report.
    """

    reduction: Reduction = Reduction.MEAN
    loss_spool: LossSpool | None = field(default=None, repr=False)
    top_k_asked: int | None = None  # a k of top-k accuracy asked for besides 1 and 5

    @classmethod
    def of(
        cls,
        stats: Statistics,
        reduction: Reduction,
        losses: LossSpool | None = None,
        top_k: int | None = None,
    ) -> Report:
        values = {f.name: getattr(stats, f.name) for f in fields(Statistics)}
        return cls(**values, reduction=reduction, loss_spool=losses, top_k_asked=top_k)

    @property
    def loss(self) -> float | None:
        """The headline number under the reduction: the mean, the sum, or None for "none"."""
        if self.reduction is Reduction.NONE:
            return None
        return self.sum_loss if self.reduction is Reduction.SUM else self.mean_loss

    @property
    def losses(self) -> np.ndarray | None:
        """With ``reduction="none"``: the loss of every input row in row order (NaN for an
        excluded row); else None."""
        if self.loss_spool is None:
            return None
        return np.concatenate([np.zeros(0), *self.loss_blocks()])

    def loss_blocks(self) -> Iterator[np.ndarray]:
        """The per-sample losses a block at a time (nothing without ``reduction="none"``)."""
        return iter(()) if self.loss_spool is None else self.loss_spool.blocks()

    def to_dict(self, *, losses: bool = True, gates: Gates | None = None) -> dict[str, Any]:
        """The JSON object of ``bce score --format json`` (schema 1): infinities and NaN as the
        strings "inf", "-inf", "nan", a value that does not apply as None. ``losses=False``
        leaves out the per-sample ``losses`` list of ``reduction="none"``; ``gate`` is the
        verdict of ``gates`` (default: ``Gates()``, fail on an error flag)."""
        from bcecli.gates import Gates, evaluate

        r, c, n = self, self.context, fmt.json_number
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "bce_version": __version__,
            "task": r.task.value,
            "task_reason": r.task_reason,
            "compat": r.compat.value,
            "framework": r.framework,
            "dtype": r.dtype,
            "reduction": r.reduction.value,
            "loss": n(r.loss),
            "valid": r.valid,
            "invalid_reason": r.invalid_reason,
            "n_rows": r.n_rows,
            "n": r.n,
            "n_excluded": r.n_excluded,
            "mean_loss": n(r.mean_loss),
            "mean_loss_se": n(r.mean_loss_se),
            "sum_loss": n(r.sum_loss),
            "median_loss": n(r.median_loss),
            "median_exact": r.median_exact,
            "max_loss": n(r.max_loss),
            "n_above_1": r.n_above_1,
            "share_above_1": n(r.share_above_1),
            "mean_metric": n(r.mean_metric),
            "band": r.band,
            "baseline_loss": n(r.baseline_loss),
            "ne": n(r.ne),
            "rce": n(r.rce),
            "calibration_ratio": n(r.calibration_ratio),
            "entropy_floor": n(r.entropy_floor),
            "accuracy": n(r.accuracy),
            "brier": n(r.brier),
            "ece": n(r.ece),
            "auc": _auc_json(r),
            "average_precision": n(r.average_precision),
            "top_k_accuracy": _top_k_json(r),
            "prior": [n(p) for p in r.prior],
            "inputs": {
                "sources": list(c.sources),
                "label_columns": list(c.label_columns),
                "pred_columns": list(c.pred_columns),
                "weight_column": c.weight_column,
            },
            "calibration": [
                {
                    "lo": b.lo,
                    "hi": b.hi,
                    "count": b.count,
                    "mean_pred": n(b.mean_pred),
                    "frac_pos": n(b.frac_pos),
                }
                for b in r.calibration
            ],
            "decomposition": _decomposition_json(r.decomposition),
            "recalibration": _recalibration_json(r.recalibration)
            or _softmax_recalibration_json(r.softmax_recalibration),
            "outputs": [
                {
                    "name": o.name,
                    "support": o.support,
                    "prior": n(o.prior),
                    "mean_loss": n(o.mean_loss),
                    "accuracy": n(o.accuracy),
                    "baseline": n(o.baseline),
                    "auc": n(o.auc),
                    "average_precision": n(o.average_precision),
                    "decomposition": _decomposition_json(o.decomposition),
                    "recalibration": _recalibration_json(o.recalibration),
                    "calibration_ratio": n(o.calibration_ratio),
                }
                for o in r.outputs
            ],
            "mistakes": [
                {"true": m.true_class, "predicted": m.predicted, "count": m.count}
                for m in r.mistakes
            ],
            "worst": [
                {
                    "row": w.row,
                    **_ids_json(c.id_columns, w.ids),
                    "labels": [n(v) for v in w.labels],
                    "preds": [n(v) for v in w.preds],
                    "p_true": n(w.p_true),
                    "loss": n(w.loss),
                }
                for w in r.worst
            ],
            "histogram": [{"lo": n(lo), "hi": n(hi), "count": k} for lo, hi, k in r.histogram],
            "flags": [
                {
                    "id": f.id,
                    "severity": f.severity.value,
                    "count": f.count,
                    "rows": list(f.rows),
                    "message": f.message,
                    "hint": f.hint,
                }
                for f in r.flags
            ],
            "notes": list(r.notes),
            "gate": evaluate(r, gates or Gates()).to_dict(),
            "ci": _intervals_json(r.ci),
            "slices": None if r.slices is None else [_slice_json(s) for s in r.slices],
        }
        if losses and self.loss_spool is not None:
            # JSON's null for an excluded row (NaN), "inf" for an infinite loss
            out["losses"] = [
                None if math.isnan(v) else n(v) for b in self.loss_blocks() for v in b.tolist()
            ]
        return out

    def __repr__(self) -> str:
        flags = ", ".join(f"{f.id} ({f.severity.value})" for f in self.flags) or "none"
        return (
            f"<bcecli.Report {self.task.value}, {self.compat.value}: {self.n:,} rows scored"
            + (f" ({self.n_excluded:,} excluded)" if self.n_excluded else "")
            + f", mean loss {fmt.loss(self.mean_loss)} ({self.band or '-'}), "
            + ("" if self.valid else f"not a valid loss ({self.invalid_reason}), ")
            + f"NE {fmt.num(self.ne, 3)}, accuracy {fmt.pct(self.accuracy)}; flags: {flags}>"
        )

    def __rich__(self) -> RenderableType:
        from rich.console import Group

        from bcecli.render.table import render_report

        return Group(*render_report(self))

    def _repr_html_(self) -> str:
        from bcecli.render.table import render_report
        from bcecli.render.terminal import html

        return html(render_report(self))


def _ids_json(columns: tuple[str, ...], values: tuple[object, ...]) -> dict[str, Any]:
    """A worst row's ids (``--id-col``) as ``{"ids": {column: value}}``; nothing without
    id columns (the key is absent, not empty). Whole numbers as integers."""
    if not columns:
        return {}

    def value(v: object) -> object:
        if isinstance(v, float):
            if math.isnan(v):
                return None
            if v == int(v) and abs(v) <= 2.0**53:
                return int(v)
            return fmt.json_number(v)
        return v

    return {"ids": {c: value(v) for c, v in zip(columns, values, strict=False)}}


def _decomposition_json(d: Decomposition | None) -> dict[str, Any] | None:
    """S = miscalibration - discrimination + uncertainty; ``loss`` is S, the literal log loss
    (the headline mean under compat exact); ``resolution`` the bins' logit width, null when
    exact."""
    if d is None:
        return None
    n = fmt.json_number
    return {
        "miscalibration": n(d.miscalibration),
        "discrimination": n(d.discrimination),
        "uncertainty": n(d.uncertainty),
        "method": d.method,
        "resolution": d.resolution or None,
        "loss": n(d.mean_loss),
    }


def _auc_json(r: Report) -> Any:
    """The binary (or mean multi-label) AUC; for a multi-class task the one-vs-rest AUC, its
    macro and prevalence-weighted means."""
    n = fmt.json_number
    if r.auc_ovr is None:
        return n(r.auc)
    return {"macro": n(r.auc_ovr.macro), "weighted": n(r.auc_ovr.weighted), "method": "one-vs-rest"}


def _top_k_json(r: Report) -> dict[str, Any] | None:
    acc = r.top_k_accuracy(r.top_k_asked)
    return None if acc is None else {str(k): fmt.json_number(v) for k, v in acc.items()}


def _softmax_recalibration_json(r: SoftmaxRecalibration | None) -> dict[str, Any] | None:
    """The multi-class ladder: a bias vector and a temperature on the scores (log p, or the
    logits), fitted in sample on ``rows`` rows (every row when ``exact``)."""
    if r is None:
        return None
    n = fmt.json_number
    return {
        "bias": {"loss": n(r.bias_loss), "b": [n(v) for v in r.b]},
        "temperature": {"loss": n(r.temperature_loss), "T": n(r.T)},
        "rows": r.rows,
        "exact": r.exact,
    }


def _slice_json(s: Slice) -> dict[str, Any]:
    n = fmt.json_number
    return {
        "name": s.name,
        "n": s.n,
        "base_rate": n(s.base_rate),
        "mean_loss": n(s.mean_loss),
        "share_of_loss": n(s.share_of_loss),
        "ne": n(s.ne),
        "ne_overall": n(s.ne_overall),
        "calibration_ratio": n(s.calibration_ratio),
        "ece": n(s.ece),
        "auc": n(s.auc),
    }


def _intervals_json(ci: Intervals | None) -> dict[str, Any] | None:
    """--ci: the level, how the intervals were made, and [lo, hi] per figure (null where
    the figure is undefined)."""
    if ci is None:
        return None
    n = fmt.json_number

    def pair(v: tuple[float, float] | None) -> list[Any] | None:
        return None if v is None else [n(v[0]), n(v[1])]

    return {
        "level": ci.level,
        "method": ci.method,
        "n_resamples": ci.n_resamples,
        "seed": ci.seed,
        "scope": ci.scope,
        "mean_loss": pair(ci.mean_loss),
        "ne": pair(ci.ne),
        "accuracy": pair(ci.accuracy),
        "brier": pair(ci.brier),
        "auc": pair(ci.auc),
    }


def _recalibration_json(r: Recalibration | None) -> dict[str, Any] | None:
    if r is None:
        return None
    n = fmt.json_number
    return {
        "bias": {"loss": n(r.bias.loss), "b": n(r.bias.b)},
        "temperature": {"loss": n(r.temperature.loss), "T": n(r.temperature.T)},
        "platt": {"loss": n(r.platt.loss), "a": n(r.platt.a), "b": n(r.platt.b)},
        "isotonic": {"loss": n(r.isotonic_loss)},
    }


# --------------------------------------------------------------------------------------------
# options


def _enum(cls: type[E], value: E | str, param: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(f'"{m.value}"' for m in cls)
        raise OptionError(
            f"{{{param}}} {value!r} is not one of {choices}", "pick one of them", param=param
        ) from None


def weight_tuple(
    value: float | Sequence[float] | Mapping[int, float] | None, param: str
) -> tuple[float, ...] | None:
    """A weight, or one per class or output, as a tuple of floats."""
    if value is None:
        return None
    if isinstance(value, Mapping):  # Keras' class_weight={0: 1.0, 1: 5.0}
        keys = sorted(value)
        if keys != list(range(len(keys))):
            raise OptionError(
                f"{{{param}}} has classes {keys}; expected every class 0 .. K-1",
                "give one weight for each class index",
                param=param,
            )
        value = [value[k] for k in keys]
    try:
        out = tuple(float(v) for v in np.atleast_1d(np.asarray(value, dtype=np.float64)))
    except (TypeError, ValueError):
        raise OptionError(
            f"{{{param}}} {value!r} is not a number or a sequence of numbers",
            "pass e.g. 2.0 or [1.0, 3.0]",
            param=param,
        ) from None
    if not out:
        raise OptionError(f"{{{param}}} is empty", "pass at least one weight", param=param)
    return out


def _dtype(value: Any) -> str | None:
    if value is None:
        return None
    try:
        name = np.dtype(value).name
    except TypeError:
        name = str(value)
    if name not in ("float32", "float64"):
        raise OptionError(
            f'{{dtype}} {value!r} is not "float32" or "float64"', "pick one", param="dtype"
        )
    return str(name)


def _columns(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Column names: a sequence, or one string holding a comma-separated list (as the
    command line takes them)."""
    from bcecli.readers.columns import split_list

    if value is None or isinstance(value, str):
        return split_list(value)
    return tuple(str(v) for v in value) or None  # exact names: a comma may be part of one


def _loss_options(
    task: Task | str,
    compat: Compat | str,
    from_logits: bool,
    label_smoothing: float,
    class_weight: float | Sequence[float] | Mapping[int, float] | None,
    pos_weight: float | Sequence[float] | None,
    ignore_class: int | None,
    dtype: object,
) -> LossOptions:
    """The loss's semantics from the API's arguments (an "auto" task is decided from the first
    rows; the core checks the values against the task and the profile)."""
    if ignore_class is not None and (
        isinstance(ignore_class, bool) or int(ignore_class) != ignore_class
    ):
        raise OptionError(
            f"{{ignore_class}} {ignore_class!r} is not a class index",
            "pass an int",
            param="ignore_class",
        )
    return LossOptions(
        task=_enum(Task, task, "task"),
        compat=_enum(Compat, compat, "compat"),
        from_logits=bool(from_logits),
        label_smoothing=float(label_smoothing),
        pos_weight=weight_tuple(pos_weight, "pos_weight"),
        class_weight=weight_tuple(class_weight, "class_weight"),
        ignore_class=None if ignore_class is None else int(ignore_class),
        dtype=_dtype(dtype),
    )


def _slice_plan(by: tuple[str, ...] | None, bins: int, min_slice: int) -> SlicePlan | None:
    if not by:
        return None
    for name, v, least in (("bins", bins, 2), ("min_slice", min_slice, 1)):
        if isinstance(v, bool) or int(v) != v or v < least:
            raise OptionError(
                f"{{{name}}} {v!r} is not a whole number of at least {least}",
                "pass e.g. 10",
                param=name,
            )
    return SlicePlan(by, int(bins), int(min_slice))


def _bootstrap_plan(ci: float | None, resamples: int, seed: int) -> BootstrapPlan | None:
    if ci is None:
        return None
    if not 0 < ci < 1:
        raise OptionError(f"{{ci}} {ci!r} is not a level in (0, 1)", "pass e.g. 0.95", param="ci")
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 10:
        raise OptionError(
            f"{{bootstrap}} {resamples!r} is not a number of resamples of at least 10",
            "pass e.g. 200",
            param="bootstrap",
        )
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**63:
        raise OptionError(
            f"{{seed}} {seed!r} is not an integer in [0, 2^63)", "pass e.g. 1", param="seed"
        )
    return BootstrapPlan(float(ci), int(resamples), int(seed))


# --------------------------------------------------------------------------------------------
# arrays, Series and DataFrames


def as_array(value: object, param: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """``value`` as a 1-D or 2-D numpy array, with its column names when it is a data frame
    (pandas or polars, or anything with ``columns`` and ``to_numpy``)."""
    names = None
    columns = getattr(value, "columns", None)
    if columns is not None and hasattr(value, "to_numpy"):
        names = tuple(str(c) for c in columns)
        arr = np.asarray(value.to_numpy())
    elif hasattr(value, "to_numpy"):  # a pandas or polars Series
        arr = np.asarray(value.to_numpy())
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"cannot be read as an array ({e})",
                "pass a list, a numpy array, or a pandas/polars Series or DataFrame",
                source=param,
                param=param,
            ) from None
    if arr.ndim == 0 or arr.ndim > 2:
        raise InputError(
            f"has shape {arr.shape}; expected (n,) or (n, K)",
            "pass one value (or one row of K values) per sample",
            source=param,
            param=param,
        )
    if len(arr) == 0:
        raise InputError("is empty", "pass at least one sample", source=param, param=param)
    if arr.dtype == object:
        arr = _object_numbers(arr)
    if arr.ndim == 2 and arr.shape[1] == 1 and arr.dtype.kind in "USO":
        arr = arr[:, 0]  # a data frame of one text column
    if arr.dtype.kind not in "biuf" and not (param == "y_true" and arr.dtype.kind in "USO"):
        raise InputError(
            f"holds {arr.dtype} values, not numbers",
            "pass numbers (labels may also be text or booleans)",
            source=param,
            param=param,
        )
    if arr.ndim == 2 and arr.dtype.kind in "USO":
        raise InputError(
            "holds text in several columns",
            "pass text labels as one column, or numbers (one-hot rows)",
            source=param,
            param=param,
        )
    if names is not None and arr.ndim == 2 and len(names) != arr.shape[1]:
        names = None
    return arr, names


def _object_numbers(arr: np.ndarray) -> np.ndarray:
    """An object array as float64 where every value is a number or missing (None, NaN,
    pandas' NA: what a nullable column gives), else unchanged (text labels, say)."""
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        pass
    values = arr.ravel().tolist()
    if not all(_missing(v) or isinstance(v, (int, float, np.number)) for v in values):
        return arr
    numbers = [math.nan if _missing(v) else float(v) for v in values]
    return np.array(numbers, dtype=np.float64).reshape(arr.shape)


def _missing(v: object) -> bool:
    return v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and math.isnan(v))


def weight_array(sample_weight: object, n: int, hint: str) -> np.ndarray:
    """``sample_weight=`` as one weight per row of ``n``, or the usage error that says so."""
    w, _ = as_array(sample_weight, "sample_weight")
    if w.ndim != 1 or len(w) != n:
        raise InputError(
            f"has shape {w.shape}; expected ({n},), one weight per sample",
            hint,
            source="sample_weight",
            param="sample_weight",
        )
    return w


def weight_column_name(columns: Container[str]) -> str:
    """The name the weights take beside ``columns`` (a class may be called sample_weight)."""
    return "sample_weight" if "sample_weight" not in columns else "_sample_weight"


def named_columns(
    name: str, arr: np.ndarray, names: tuple[str, ...] | None
) -> dict[str, np.ndarray]:
    """One side (``y_true`` or ``y_pred``) as named columns: a data frame's by their names, an
    array as one column named after the parameter."""
    if names is not None and arr.ndim == 2 and len(set(names)) == len(names):
        return {c: arr[:, i] for i, c in enumerate(names)}
    return {name: arr}


def detect_task(y_true: object, y_pred: object, *, from_logits: bool = False) -> tuple[Task, str]:
    """The task ``task="auto"`` would pick for these arrays, and why."""
    from bcecli.core.tasks import decide_task

    y, _ = as_array(y_true, "y_true")
    p, _ = as_array(y_pred, "y_pred")
    labels = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    preds = np.asarray(p, dtype=np.float64).reshape(len(p), -1)
    d = decide_task(Task.AUTO, labels, preds, from_logits=from_logits, rows_seen=0)
    return d.task, d.reason


# --------------------------------------------------------------------------------------------
# the two entry points


def score(
    y_true: object,
    y_pred: object,
    *,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    sample_weight: object = None,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    reduction: Reduction | str = "mean",
    dtype: object = None,
    top_k: int | None = None,
    ci: float | None = None,
    bootstrap: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Report:
    """Score predictions against labels: numpy arrays, lists, pandas or polars Series and
    DataFrames, or anything with ``__array__``; (n,) or (n, K). A data frame's column names
    become the classes' (or outputs') names. Returns the same Report as ``bce score``."""
    y, label_names = as_array(y_true, "y_true")
    p, pred_names = as_array(y_pred, "y_pred")
    if len(y) != len(p):
        raise InputError(
            f"y_true has {len(y):,} rows but y_pred has {len(p):,}",
            "pass one label (or label row) per prediction (or prediction row)",
            param="y_true",
        )
    from bcecli.readers.memory import ArraySource

    labels = named_columns("y_true", y, label_names)
    preds = named_columns("y_pred", p, pred_names)
    pred_cols = tuple(preds)
    weight_col = None
    if sample_weight is not None:
        weight_col = weight_column_name(preds)
        preds[weight_col] = weight_array(sample_weight, len(p), "pass one weight per row of y_pred")
    return score_file(
        ArraySource("y_pred", preds),
        labels=ArraySource("y_true", labels),
        label_col=tuple(labels),
        pred_col=pred_cols,
        sample_weight=weight_col,
        task=task,
        compat=compat,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        class_weight=class_weight,
        pos_weight=pos_weight,
        ignore_class=ignore_class,
        reduction=reduction,
        dtype=dtype,
        top_k=top_k,
        ci=ci,
        bootstrap=bootstrap,
        seed=seed,
    )


def score_file(
    path: str | Source,
    *,
    labels: str | Source | None = None,
    label_col: str | Sequence[str] | None = None,
    pred_col: str | Sequence[str] | None = None,
    sample_weight: str | None = None,
    header: bool | None = None,
    index_col: bool | None = None,
    id_col: str | Sequence[str] | None = None,
    task: Task | str = "auto",
    compat: Compat | str = "exact",
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    class_weight: float | Sequence[float] | Mapping[int, float] | None = None,
    pos_weight: float | Sequence[float] | None = None,
    ignore_class: int | None = None,
    reduction: Reduction | str = "mean",
    dtype: object = None,
    engine: str = "local",
    scheduler: str | None = None,
    per_sample: BinaryIO | None = None,
    per_sample_format: str = "csv",
    top: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    chunk_rows: int | None = None,
    rows: RowSink | None = None,
    top_k: int | None = None,
    ci: float | None = None,
    bootstrap: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    by: str | Sequence[str] | None = None,
    bins: int = DEFAULT_BINS,
    min_slice: int = DEFAULT_MIN_SLICE,
) -> Report:
    """Score a file (CSV, TSV, gzip'd CSV, NPY, NPZ, Parquet; '-' for CSV on stdin), or a
    directory or glob of partition files: the same Report as ``bce score PATH``.

    ``path`` and ``labels`` may also be sources already open (``bcecli.score`` passes its
    arrays so). ``labels``: a second file holding the labels. ``label_col`` / ``pred_col``:
    column names (a sequence, or a comma-separated string). ``sample_weight``: a column or a file.
    ``header`` / ``index_col``: whether a CSV file's first line is a header and its first
    column pandas' index (None: bce decides, from the rows and the other file, and says why).
    ``per_sample``: a binary stream that gets one record per input row as they are scored,
    as ``per_sample_format`` ("csv", "tsv" or "jsonl"); ``top``: only the ``top`` records
    with the largest loss, worst first (ties: the earlier row), written at the end.
    ``id_col``: columns (of either file) carried into every record and into the report's
    worst rows (``worst[i].ids``). ``progress(rows_done, rows_total)`` is called as the rows
    are scored. A per-sample stream that fails part way ends in an error record (JSONL
    ``{"error": ...}``, CSV/TSV a line ``# error: ...``).
    ``rows``: a row sink of the caller's own (``bcecli.run.RowSink``) that gets every scored
    chunk in row order (``bcecli.compare``'s). ``ci``: a level (e.g. 0.95) adds bootstrap
    intervals (``Report.ci``) from ``bootstrap`` Poisson resamples drawn with ``seed``.
    ``by``: columns whose groups (text values, or ``bins`` quantile bins of a numeric column)
    get a row each in ``Report.slices``; groups of fewer than ``min_slice`` rows are pooled.
    ``top_k``: a k of top-k accuracy to report besides 1 and 5 (multi-class).
    """
    from bcecli.readers import ColumnRequest
    from bcecli.render.persample import PerSampleSink
    from bcecli.run import DaskEngine, Inputs, LocalEngine, ScoreRequest, run_score
    from bcecli.spool import LossSpool

    if top_k is not None and top_k < 1:
        raise OptionError(
            f"{{top_k}} must be at least 1, not {top_k}", "give a k >= 1", param="top_k"
        )
    if per_sample_format not in ("csv", "tsv", "jsonl"):
        raise OptionError(
            f"per-sample records are csv, tsv or jsonl, not {per_sample_format!r}",
            "pick one of them",
        )
    run_on: DaskEngine | LocalEngine
    if engine == "dask":
        run_on = DaskEngine(scheduler, chunk_rows=chunk_rows)
    elif engine != "local":
        raise OptionError(
            f'{{engine}} {engine!r} is not "local" or "dask"', "pick one", param="engine"
        )
    elif scheduler is not None:
        raise OptionError("{scheduler} needs {engine=dask}", "add {engine=dask}", param="scheduler")
    else:
        run_on = LocalEngine(chunk_rows=chunk_rows)
    opts = _loss_options(
        task, compat, from_logits, label_smoothing, class_weight, pos_weight, ignore_class, dtype
    )
    red = _enum(Reduction, reduction, "reduction")
    if top is not None and (isinstance(top, bool) or int(top) != top or top < 1):
        raise OptionError(f"{{top}} {top!r} is not a positive count", "pass e.g. 10", param="top")
    if top is not None and per_sample is None:
        raise OptionError("{top} needs {per_sample}", "add {per_sample}", param="top")
    by_cols = _columns(by)
    opts = replace(
        opts,
        bootstrap=_bootstrap_plan(ci, bootstrap, seed),
        slices=_slice_plan(by_cols, bins, min_slice),
    )
    columns = ColumnRequest(
        _columns(label_col),
        _columns(pred_col),
        sample_weight,
        header=header,
        index_col=index_col,
        id_cols=_columns(id_col),
        by_cols=by_cols,
    )
    # the per-sample records hold every loss: with them, reduction="none" keeps no copy
    losses = LossSpool() if red is Reduction.NONE and per_sample is None else None
    sink: RowSink | None = losses
    if per_sample is not None:
        sink = PerSampleSink(per_sample, per_sample_format, top=None if top is None else int(top))
    if rows is not None:
        if sink is not None:
            raise OptionError(
                "a row sink (rows=) goes alone", 'drop per_sample and reduction="none"'
            )
        sink = rows
    request = ScoreRequest(Inputs(path, labels, columns), opts, run_on)
    try:
        stats = run_score(request, sink=sink, progress=progress)
    except (MemoryError, RuntimeError) as e:  # an address-space limit, a full machine
        from bcecli.readers.base import display_name, is_out_of_memory, out_of_memory

        if not is_out_of_memory(e):
            raise
        raise out_of_memory(display_name(path) if isinstance(path, str) else path.name, e) from None
    return Report.of(stats, red, losses, top_k)
