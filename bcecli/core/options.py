"""What to compute: the task, the framework profile and the loss options."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from bcecli.errors import OptionError

if TYPE_CHECKING:
    import numpy as np

    from bcecli.core.bootstrap import BootstrapPlan
    from bcecli.core.slices import SlicePlan


class Task(str, Enum):
    AUTO = "auto"
    BINARY = "binary"
    MULTILABEL = "multilabel"
    CATEGORICAL = "categorical"
    SPARSE = "sparse"

    @property
    def is_multiclass(self) -> bool:
        return self in (Task.CATEGORICAL, Task.SPARSE)


class Compat(str, Enum):
    EXACT = "exact"
    KERAS = "keras"
    KERAS_TF = "keras-tf"
    KERAS2 = "keras2"
    TORCH = "torch"
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    LIGHTGBM_XENTROPY = "lightgbm-xentropy"
    CATBOOST = "catboost"
    CATBOOST_XENTROPY = "catboost-xentropy"
    OPTAX = "optax"

    @property
    def is_keras(self) -> bool:
        return self in (Compat.KERAS, Compat.KERAS_TF, Compat.KERAS2)

    @property
    def library(self) -> Library | None:
        """The rules of a gradient-boosting or JAX profile (None: not one of them)."""
        return LIBRARIES.get(self)


class Reduction(str, Enum):
    MEAN = "mean"
    SUM = "sum"
    NONE = "none"


# Keras' backend.epsilon(); the same constant in Keras 2 and Keras 3.
KERAS_EPSILON = 1e-7
# PyTorch clamps every log at -100 in F.binary_cross_entropy.
TORCH_LOG_FLOOR = -100.0

FRAMEWORK_NAMES = {
    Compat.EXACT: "exact (literal formula, float64)",
    Compat.KERAS: "Keras 3 (jax/torch backends)",
    Compat.KERAS_TF: "Keras 3 on TensorFlow",
    Compat.KERAS2: "Keras 2 (tf_keras)",
    Compat.TORCH: "PyTorch",
    Compat.SKLEARN: "scikit-learn log_loss",
    Compat.XGBOOST: "XGBoost eval metric",
    Compat.LIGHTGBM: "LightGBM eval metric",
    Compat.LIGHTGBM_XENTROPY: "LightGBM cross_entropy",
    Compat.CATBOOST: "CatBoost eval metric",
    Compat.CATBOOST_XENTROPY: "CatBoost CrossEntropy",
    Compat.OPTAX: "optax (JAX) losses",
}


class Labels(str, Enum):
    """What a library does with a binary label before the loss."""

    AS_GIVEN = "as given"  # soft labels used as they are
    ABOVE_0 = "label > 0 is a positive"  # LightGBM binary_logloss
    ABOVE_HALF = "label > 0.5 is a positive"  # CatBoost Logloss (its border 0.5)


class Floor(str, Enum):
    """Where a library bounds the probability inside a log."""

    NONE = "none"
    PER_TERM = "per term"  # XGBoost: max(p, eps) and max(1 - p, eps), each where it is used
    TRUE_CLASS = "true class"  # LightGBM: the true class's p <= eps scores -log(eps)


class EmptyWeights(str, Enum):
    """The mean a library reports when the weights sum to 0."""

    SUM = "the weighted sum"  # XGBoost logloss
    ZERO = "0"  # CatBoost GetFinalError
    NAN = "nan"  # LightGBM binary_logloss / multi_logloss, optax (0 / 0)
    RAISES = "raises"  # LightGBM cross_entropy


@dataclass(frozen=True)
class Library:
    """A gradient-boosting or JAX library's log loss, as measured (docs/gbdt-semantics.md): data the
    loss kernels read, not a path of their own.

    ``floor``: the probability below which the log is bounded, and ``cap`` the loss there (the
    library's own float: XGBoost's -log(1e-16f), LightGBM's -log(1e-15f) taken in float).
    ``raw_scores``: the library takes log-odds / class scores, so probabilities reach it as
    ``logit(p)`` / ``log p`` (no clip: a 0 or 1 becomes an infinite score).
    """

    metrics: dict[str, str]  # task name -> the library's metric
    dtype: str  # the float type it computes in
    floor: Floor
    eps: float | None
    cap: float | None
    labels: Labels
    float32_labels: bool  # labels stored as float32 before the loss
    raw_scores: bool
    empty_weights: EmptyWeights
    dtype_choice: bool = False  # --dtype picks the type (optax: JAX_ENABLE_X64)
    label_smoothing: bool = False
    ignore_class: bool = False
    truncated_weight_sum: bool = False  # multi-label: sum of int(w) in the denominator
    unit_labels: bool = False  # raises for labels outside [0, 1] and negative weights
    sparse_wraps: bool = False  # a label -1 takes the last class, K and above give nan
    label_rows: bool = False  # categorical labels as rows (soft ones too), not class indices
    truncated_class_labels: bool = False  # a class index is cast to int: 1.7 is class 1

    def metric(self, task: Task) -> str | None:
        return self.metrics.get(task.value)


# float32(1e-16) and float32(1e-15) as doubles, and -log of each taken in float32
_EPS16, _CAP16 = 1.0000000168623835e-16, 36.84136199951172
_EPS15, _CAP15 = 1.0000000036274937e-15, 34.53877639770508
_XENT_EPS, _XENT_CAP = 1e-12, 27.631021115928547

LIBRARIES: dict[Compat, Library] = {
    Compat.XGBOOST: Library(
        metrics={"binary": "logloss", "multilabel": "logloss",
                 "categorical": "mlogloss", "sparse": "mlogloss"},
        dtype="float32", floor=Floor.PER_TERM, eps=_EPS16, cap=_CAP16,
        labels=Labels.AS_GIVEN, float32_labels=True, raw_scores=False,
        empty_weights=EmptyWeights.SUM, truncated_class_labels=True,
    ),
    Compat.LIGHTGBM: Library(
        metrics={"binary": "binary_logloss",
                 "categorical": "multi_logloss", "sparse": "multi_logloss"},
        dtype="float64", floor=Floor.TRUE_CLASS, eps=_EPS15, cap=_CAP15,
        labels=Labels.ABOVE_0, float32_labels=True, raw_scores=False,
        empty_weights=EmptyWeights.NAN, truncated_class_labels=True,
    ),
    Compat.LIGHTGBM_XENTROPY: Library(
        metrics={"binary": "cross_entropy"},
        dtype="float64", floor=Floor.PER_TERM, eps=_XENT_EPS, cap=_XENT_CAP,
        labels=Labels.AS_GIVEN, float32_labels=True, raw_scores=False,
        empty_weights=EmptyWeights.RAISES, unit_labels=True,
    ),
    Compat.CATBOOST: Library(
        metrics={"binary": "Logloss", "multilabel": "MultiLogloss",
                 "categorical": "MultiClass", "sparse": "MultiClass"},
        dtype="float64", floor=Floor.NONE, eps=None, cap=None,
        labels=Labels.ABOVE_HALF, float32_labels=True, raw_scores=True,
        empty_weights=EmptyWeights.ZERO, truncated_weight_sum=True,
        truncated_class_labels=True,
    ),
    Compat.CATBOOST_XENTROPY: Library(
        metrics={"binary": "CrossEntropy", "multilabel": "MultiCrossEntropy"},
        dtype="float64", floor=Floor.NONE, eps=None, cap=None,
        labels=Labels.AS_GIVEN, float32_labels=True, raw_scores=True,
        empty_weights=EmptyWeights.ZERO, truncated_weight_sum=True,
    ),
    Compat.OPTAX: Library(
        metrics={"binary": "sigmoid_binary_cross_entropy",
                 "multilabel": "sigmoid_binary_cross_entropy",
                 "categorical": "softmax_cross_entropy",
                 "sparse": "softmax_cross_entropy_with_integer_labels"},
        dtype="float32", floor=Floor.NONE, eps=None, cap=None,
        labels=Labels.AS_GIVEN, float32_labels=False, raw_scores=True,
        empty_weights=EmptyWeights.NAN, dtype_choice=True, label_smoothing=True,
        ignore_class=True, sparse_wraps=True, label_rows=True,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class LossOptions:
    """Everything that changes the per-sample loss or its reduction."""

    task: Task
    compat: Compat = Compat.EXACT
    from_logits: bool = False
    label_smoothing: float = 0.0
    pos_weight: tuple[float, ...] | None = None
    class_weight: tuple[float, ...] | None = None
    ignore_class: int | None = None
    dtype: str | None = None  # None: the profile's default
    # Sample weights are multiplied by 2 ** weight_scale before any sum (bcecli.core.weight_scale:
    # set from the first row's weight when it is far from 1; 0 otherwise).
    weight_scale: int = 0
    # Not the loss's semantics but what the summary tallies besides it, carried here so that
    # every engine's accumulators (threads, Dask workers) are built alike: --ci's replicates.
    bootstrap: BootstrapPlan | None = None
    slices: SlicePlan | None = None  # --by (its bin edges decided on the first chunk)

    def compute_dtype(self, input_dtype: np.dtype[np.floating] | None = None) -> type[np.floating]:
        """The float type the profile computes in (Keras and PyTorch default to float32)."""
        import numpy as np  # the CLI imports this module for its enums; keep --help light

        if self.dtype is not None:
            return np.float32 if self.dtype == "float32" else np.float64
        lib = self.compat.library
        if lib is not None:
            return np.float32 if lib.dtype == "float32" else np.float64
        if self.compat in (Compat.KERAS, Compat.KERAS_TF, Compat.KERAS2, Compat.TORCH):
            return np.float32
        if self.compat is Compat.SKLEARN and input_dtype is not None:
            # log_loss works in the array's own dtype, and clips with its eps (float16's:
            # 2**-10, so a saturated wrong prediction costs 6.93)
            if input_dtype == np.dtype(np.float32):
                return np.float32
            if input_dtype == np.dtype(np.float16):
                return np.float16
        return np.float64

    @property
    def per_sample_weighted(self) -> bool:
        """Keras and PyTorch multiply the weight into what reduction='none' returns."""
        return self.compat.is_keras or self.compat is Compat.TORCH

    @property
    def weighted_mean(self) -> bool:
        """The mean divides by the sum of the weights (the others divide by N)."""
        return self.compat in (Compat.EXACT, Compat.SKLEARN) or self.compat.library is not None

    def check(self, n_outputs: int) -> None:
        """Refuse options the chosen framework does not have (a usage error, exit 2)."""
        check_options(self, n_outputs)


def check_options(opts: LossOptions, n_outputs: int) -> None:
    compat, task = opts.compat, opts.task
    for name, weights in (("class_weight", opts.class_weight), ("pos_weight", opts.pos_weight)):
        if weights is not None and not all(math.isfinite(v) for v in weights):
            shown = ",".join(f"{v:g}" for v in weights)
            raise OptionError(
                f"{{{name}}} {shown} is not a weight: each value must be a finite number",
                "give finite weights, e.g. 2.0 (or one per class: 1,3)",
                param=name,
            )
    ls = opts.label_smoothing
    if not 0.0 <= ls <= 1.0:
        raise OptionError(
            f"{{label_smoothing={ls}}} is outside [0, 1]",
            "pass a value such as 0.1",
            param="label_smoothing",
        )
    lib = compat.library
    if lib is not None:
        _check_library(opts, lib, n_outputs)
    if opts.pos_weight is not None:
        if task.is_multiclass:
            raise OptionError(
                "{pos_weight} applies to binary and multi-label tasks only",
                "use {class_weight} for categorical tasks",
                param="pos_weight",
            )
        if len(opts.pos_weight) not in (1, n_outputs):
            raise OptionError(
                f"{{pos_weight}} has {len(opts.pos_weight)} values for {n_outputs} outputs",
                "give one value, or one per output",
                param="pos_weight",
            )
        if compat is Compat.TORCH and not opts.from_logits:
            raise OptionError(
                "{compat=torch}: F.binary_cross_entropy has no pos_weight (only the "
                "*_with_logits form)",
                "pass logits with {from_logits}, or use {compat=exact}",
                param="pos_weight",
            )
        if compat is Compat.SKLEARN:
            raise OptionError(
                "{compat=sklearn}: log_loss has no pos_weight",
                "drop {pos_weight}",
                param="pos_weight",
            )
        if compat.is_keras and (task is Task.MULTILABEL or len(opts.pos_weight) > 1):
            raise OptionError(
                f"{{compat={compat.value}}}: Keras losses have no per-output pos_weight",
                "use {compat=torch} with {from_logits}, or {compat=exact}",
                param="pos_weight",
            )
    if ls > 0:
        if compat is Compat.SKLEARN:
            raise OptionError(
                "{compat=sklearn}: log_loss has no label smoothing",
                "drop {label_smoothing}",
                param="label_smoothing",
            )
        if compat is Compat.TORCH and not task.is_multiclass:
            raise OptionError(
                "{compat=torch}: BCELoss and BCEWithLogitsLoss have no label_smoothing",
                "use {compat=keras} or {compat=exact}",
                param="label_smoothing",
            )
        if compat.is_keras and task is Task.SPARSE:
            raise OptionError(
                f"{{compat={compat.value}}}: SparseCategoricalCrossentropy has no label_smoothing",
                "use {compat=torch} or {compat=exact}, or one-hot labels with categorical CE",
                param="label_smoothing",
            )
    if opts.from_logits and compat is Compat.SKLEARN:
        raise OptionError(
            "{compat=sklearn}: log_loss takes probabilities only, not logits",
            "drop {from_logits}, or use {compat=exact}",
            param="from_logits",
        )
    if opts.class_weight is not None:
        if task is Task.MULTILABEL:
            raise OptionError(
                "{class_weight} is not defined for multi-label outputs",
                "use {pos_weight} (one value per output) or {sample_weight}",
                param="class_weight",
            )
        expected = 2 if task is Task.BINARY else n_outputs
        if len(opts.class_weight) != expected:
            raise OptionError(
                f"{{class_weight}} has {len(opts.class_weight)} values for {expected} classes",
                "give one weight per class, in class order",
                param="class_weight",
            )
    if opts.ignore_class is not None and task is not Task.SPARSE:
        raise OptionError(
            "{ignore_class} applies to sparse (integer) labels only",
            "use {task=sparse}, or drop {ignore_class}",
            param="ignore_class",
        )


def _check_library(opts: LossOptions, lib: Library, n_outputs: int) -> None:
    """What a gradient-boosting or JAX library does not have is a usage error."""
    name = f"{{compat={opts.compat.value}}}"
    metric = lib.metric(opts.task)
    if metric is None:
        others = ", ".join(lib.metrics.values())
        raise OptionError(
            f"{name} has no {opts.task.value} log loss (its metrics: {others})",
            "use another {task}, or another {compat}",
            param="task" if opts.task is not Task.AUTO else "compat",
        )
    if opts.task.is_multiclass and n_outputs < 2 and not lib.label_rows:
        raise OptionError(
            f"{name}: {metric} needs two or more class columns",
            "give one column per class, or score a single column as {task=binary}",
            param="task",
        )
    if opts.pos_weight is not None:
        raise OptionError(
            f"{name}: {metric} has no pos_weight (scale_pos_weight leaves the metric unchanged)",
            "drop {pos_weight}, or use {compat=exact}",
            param="pos_weight",
        )
    if opts.label_smoothing and not lib.label_smoothing:
        raise OptionError(
            f"{name}: {metric} has no label smoothing",
            "drop {label_smoothing}",
            param="label_smoothing",
        )
    if opts.ignore_class is not None and not lib.ignore_class:
        raise OptionError(
            f"{name}: {metric} has no ignore_class",
            "drop the rows, or use {compat=exact}",
            param="ignore_class",
        )
    if opts.dtype is not None and opts.dtype != lib.dtype and not lib.dtype_choice:
        raise OptionError(
            f"{name}: {metric} computes in {lib.dtype} only", "drop {dtype}", param="dtype"
        )
