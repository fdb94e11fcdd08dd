"""Errors with a documented exit code, that name the parameter they concern.

Every error renders as one line: ``<source>: <what was found>; <what to do>``. The text names
parameters as ``{name}`` (or ``{name=value}``), and ``line`` spells them for the reader: a
library caller reads ``pos_weight`` and ``compat="sklearn"``, the command line (whose one
``Error:`` edge passes its own spelling) reads ``--pos-weight`` and ``--compat sklearn``.
Nothing below the click layer calls ``sys.exit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# The parameters of bcecli.score / bcecli.score_file that messages may name. Only these are
# spelled, so braces in text from the data (a column named "{x}") stay as they are.
PARAMETERS = frozenset(
    {
        "y_true", "y_pred", "labels", "label_col", "pred_col", "sample_weight", "task",
        "compat", "from_logits", "label_smoothing", "class_weight", "pos_weight",
        "ignore_class", "reduction", "dtype", "engine", "scheduler", "header", "index_col",
        "id_col", "top", "per_sample",
        "top_k",
        "ci", "bootstrap", "seed", "by", "bins", "min_slice",
    }
)  # fmt: skip

_NAMED = re.compile(r"\{([a-z_]+)(?:=([^{}]*))?\}")

Spelling = Callable[[str, "str | None"], str]


# Parameters that are switches: a caller writes them with their value.
SWITCHES = frozenset({"from_logits", "header", "index_col"})


def python_spelling(name: str, value: str | None) -> str:
    """How a library caller writes a parameter: ``pos_weight``, ``compat="sklearn"``,
    ``from_logits=True``."""
    if value is None:
        return f"{name}=True" if name in SWITCHES else name
    if re.fullmatch(r"[a-z][a-z0-9_-]*", value):  # an option's word: a string argument
        return f'{name}="{value}"'
    return f"{name}={value}"


# The command line's name for a parameter where it is not ``--`` + the name with dashes.
FLAGS = {"y_pred": "PREDS", "y_true": "--labels"}


def flag_spelling(name: str, value: str | None) -> str:
    """How the command line writes a parameter: ``--pos-weight``, ``--compat sklearn``."""
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    if name in SWITCHES and value in ("True", "False"):  # --header / --no-header
        return flag if value == "True" else "--no-" + flag[2:]
    return flag if value is None else f"{flag} {value}"


def spell(text: str, spelling: Spelling) -> str:
    """``text`` with each ``{name}`` / ``{name=value}`` of a known parameter spelled."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) not in PARAMETERS:
            return m.group()
        return spelling(m.group(1), m.group(2))

    return _NAMED.sub(one, text)


class BceError(ValueError):
    """A problem the user can fix; never a bug in bce. ``param``: the parameter it concerns
    (None when it is the data itself)."""

    exit_code = 3

    def __init__(
        self, what: str, fix: str = "", *, source: str | None = None, param: str | None = None
    ) -> None:
        self.what = what
        self.fix = fix
        self.source = source
        self.param = param
        super().__init__(self.line())

    def line(self, spelling: Spelling = python_spelling) -> str:
        text = f"{self.source}: {self.what}" if self.source else self.what
        text = f"{text}; {self.fix}" if self.fix else text
        return spell(text, spelling)

    def __reduce__(self) -> tuple[object, ...]:
        # every field survives pickling (errors raised on Dask workers come back this way)
        return (_rebuild, (type(self), self.what, self.fix, self.source, self.param))

    def with_source(self, source: str) -> BceError:
        """The same error attributed to ``source`` (when the core did not know the file)."""
        if self.source is None:
            self.source = source
            self.args = (self.line(),)
        return self


def _rebuild(
    cls: type[BceError], what: str, fix: str, source: str | None, param: str | None
) -> BceError:
    return cls(what, fix, source=source, param=param)


class InputError(BceError):
    """The input cannot be scored: unreadable, no usable columns, mismatched lengths. Exit 3."""

    exit_code = 3


class FrameworkRaises(InputError):
    """The framework named by ``compat`` refuses this input (it raises), so there is no
    number."""

    exit_code = 3


class OptionError(BceError):
    """Options that do not fit together or the chosen profile. Exit 2, like click's usage errors."""

    exit_code = 2
