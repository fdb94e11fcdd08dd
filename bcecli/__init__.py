"""bce: a loss doctor for classifier outputs.

The library that ``bce`` itself calls::

    import bcecli
    report = bcecli.score(y_true, y_pred, compat="keras")
    report.mean_loss, report.ne, report.flags, report.to_dict()
    bcecli.score_file("preds.csv", labels=None, label_col="y")

Names are imported when first used, so ``import bcecli`` (and ``bce --help``) stays light:
numpy and pandas load with the first call that scores.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bcecli.version import __version__

if TYPE_CHECKING:
    from bcecli.api import Report, detect_task, score, score_file
    from bcecli.checkinit import InitReport, check_init, check_init_file
    from bcecli.comparison import Comparison, compare, compare_files
    from bcecli.core.options import Compat, LossOptions, Reduction, Task
    from bcecli.errors import BceError, FrameworkRaises, InputError, OptionError

# public name -> the module that defines it
_HOME = {
    "score": "bcecli.api",
    "score_file": "bcecli.api",
    "detect_task": "bcecli.api",
    "Report": "bcecli.api",
    "check_init": "bcecli.checkinit",
    "check_init_file": "bcecli.checkinit",
    "InitReport": "bcecli.checkinit",
    "compare": "bcecli.comparison",
    "compare_files": "bcecli.comparison",
    "Comparison": "bcecli.comparison",
    "Task": "bcecli.core.options",
    "Compat": "bcecli.core.options",
    "Reduction": "bcecli.core.options",
    "LossOptions": "bcecli.core.options",
    "BceError": "bcecli.errors",
    "InputError": "bcecli.errors",
    "OptionError": "bcecli.errors",
    "FrameworkRaises": "bcecli.errors",
}

__all__ = [
    "BceError",
    "Compat",
    "Comparison",
    "FrameworkRaises",
    "InitReport",
    "InputError",
    "LossOptions",
    "OptionError",
    "Reduction",
    "Report",
    "Task",
    "__version__",
    "check_init",
    "check_init_file",
    "compare",
    "compare_files",
    "detect_task",
    "score",
    "score_file",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bcecli' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
