"""Errors with a documented exit code.

Every error renders as one line: ``<source>: <what was found>; <what to do>``. The click layer
prefixes ``Error: `` and exits with ``exit_code``; nothing below it calls ``sys.exit``.
"""

from __future__ import annotations


class BceError(ValueError):
    """A problem the user can fix; never a bug in bce."""

    exit_code = 3

    def __init__(self, what: str, fix: str = "", *, source: str | None = None) -> None:
        self.what = what
        self.fix = fix
        self.source = source
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.source}: {self.what}" if self.source else self.what
        return f"{text}; {self.fix}" if self.fix else text

    def __reduce__(self) -> tuple[object, ...]:
        # every field survives pickling (errors raised on Dask workers come back this way)
        return (_rebuild, (type(self), self.what, self.fix, self.source))

    def with_source(self, source: str) -> BceError:
        """The same error attributed to ``source`` (when the core did not know the file)."""
        if self.source is None:
            self.source = source
            self.args = (self.line(),)
        return self


def _rebuild(cls: type[BceError], what: str, fix: str, source: str | None) -> BceError:
    return cls(what, fix, source=source)


class InputError(BceError):
    """The input cannot be scored: unreadable, no usable columns, mismatched lengths. Exit 3."""

    exit_code = 3


class FrameworkRaises(InputError):
    """The framework named by --compat refuses this input (it raises), so there is no number."""

    exit_code = 3


class OptionError(BceError):
    """Options that do not fit together or the chosen profile. Exit 2, like click's usage errors."""

    exit_code = 2
