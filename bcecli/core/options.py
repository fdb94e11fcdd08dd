"""What to compute: the task, the framework profile and the loss options."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from bcecli.errors import OptionError

if TYPE_CHECKING:
    import numpy as np


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

    @property
    def is_keras(self) -> bool:
        return self in (Compat.KERAS, Compat.KERAS_TF, Compat.KERAS2)


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
}


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

    def compute_dtype(self, input_dtype: np.dtype[np.floating] | None = None) -> type[np.floating]:
        """The float type the profile computes in (Keras and PyTorch default to float32)."""
        import numpy as np  # the CLI imports this module for its enums; keep --help light

        if self.dtype is not None:
            return np.float32 if self.dtype == "float32" else np.float64
        if self.compat in (Compat.KERAS, Compat.KERAS_TF, Compat.KERAS2, Compat.TORCH):
            return np.float32
        if self.compat is Compat.SKLEARN and input_dtype == np.dtype(np.float32):
            return np.float32  # log_loss works in the array's own dtype
        return np.float64

    @property
    def per_sample_weighted(self) -> bool:
        """Keras and PyTorch multiply the weight into what reduction='none' returns."""
        return self.compat.is_keras or self.compat is Compat.TORCH

    def check(self, n_outputs: int) -> None:
        """Refuse options the chosen framework does not have (a usage error, exit 2)."""
        check_options(self, n_outputs)


def check_options(opts: LossOptions, n_outputs: int) -> None:
    compat, task = opts.compat, opts.task
    ls = opts.label_smoothing
    if not 0.0 <= ls <= 1.0:
        raise OptionError(
            f"{{label_smoothing={ls}}} is outside [0, 1]",
            "pass a value such as 0.1",
            param="label_smoothing",
        )
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
