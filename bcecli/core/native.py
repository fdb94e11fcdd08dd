"""The compiled loops of ``_tally.c``, or None where they were not built (no C compiler at
install time) or ``BCE_PURE_NUMPY`` is set (to compare the two). The numpy code they replace
gives the same report: the same losses and counts, sums to the last bits of a float."""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("BCE_PURE_NUMPY"):
        return None
    try:
        from bcecli.core import _tally
    except ImportError:
        return None
    return _tally


tally: ModuleType | None = _load()
