"""The process's standard streams as the command line needs them, whatever it was started with.

* stdout closed (``>&-``) or failing (a full disk, a file-size limit): the first failed write is
  ``OutputError``, one ``Error:`` line with exit code 3, never a traceback; what follows it is
  dropped. A reader that has gone away (``| head``) stays a ``BrokenPipeError``: a quiet exit 0.
* stderr closed or failing (cron jobs run with ``2>&-``; ``2>/dev/full``): bce is quiet, as with
  ``-q``; the report and the exit code are unchanged.
* A closed descriptor 1 or 2 is held by ``/dev/null``, so that no file bce opens later takes its
  number (a warning must never be written into an input file).
* An encoding that cannot spell a character bce writes (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``)
  gets an ASCII spelling of it (``-`` for an en dash, ``>=`` for ``≥``), never an error.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys

from bcecli.errors import BceError

ASCII_ERRORS = "bce-ascii"

# The non-ASCII characters bce's own text uses, in ASCII; anything else (from the data) is "?".
_ASCII = {
    "–": "-", "−": "-", "—": "-", "─": "-", "│": "|", "≥": ">=", "≤": "<=", "±": "+/-",
    "∞": "inf", "→": "->", "…": "...", "•": "*", "·": ".", "●": "*", "█": "#", "×": "x",
    "≈": "~",
}  # fmt: skip


def _ascii_spelling(e: UnicodeError) -> tuple[str, int]:
    if not isinstance(e, UnicodeEncodeError):
        raise e
    text = e.object[e.start : e.end]
    return "".join(_ASCII.get(c, "?") for c in text), e.end


codecs.register_error(ASCII_ERRORS, _ascii_spelling)


class OutputError(BceError):
    """stdout cannot be written: the report is lost, so the run cannot succeed."""

    exit_code = 3


def _output_error(e: OSError) -> OutputError:
    if e.errno == errno.EBADF:
        return OutputError(
            "stdout is closed: the report cannot be written",
            "give bce somewhere to write (a file, a pipe, or /dev/null)",
        )
    reason = os.strerror(e.errno) if e.errno else str(e)
    return OutputError(
        f"cannot write the report to stdout: {reason} (errno {e.errno})",
        "free space (or raise the file-size limit) where stdout goes, or redirect it elsewhere",
    )


class _Stdout(io.FileIO):
    """Descriptor 1, raising ``OutputError`` on the first failed write and dropping the rest."""

    failed = False

    def write(self, b: object) -> int:
        n = len(memoryview(b))  # type: ignore[arg-type]
        if self.failed:
            return n
        try:
            return super().write(b)  # type: ignore[arg-type]
        except BrokenPipeError:
            raise
        except OSError as e:
            self.failed = True
            raise _output_error(e) from None


class _Stderr(io.FileIO):
    """Descriptor 2, going quiet on the first failed write."""

    failed = False

    def write(self, b: object) -> int:
        n = len(memoryview(b))  # type: ignore[arg-type]
        if not self.failed:
            try:
                super().write(b)  # type: ignore[arg-type]
            except OSError:
                self.failed = True
        return n


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _hold(fd: int, flags: int) -> None:
    """Put /dev/null on the closed descriptor ``fd``."""
    null = os.open(os.devnull, flags)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def _errors(encoding: str, errors: str) -> str:
    """The error handler for a stream: ASCII spellings where the encoding is not Unicode."""
    name = codecs.lookup(encoding).name
    return errors if name.startswith("utf") else ASCII_ERRORS


def _text(raw: io.FileIO, like: object, default_errors: str) -> io.TextIOWrapper:
    encoding = getattr(like, "encoding", None) or "utf-8"
    errors = _errors(encoding, getattr(like, "errors", None) or default_errors)
    tty = raw.isatty()
    return io.TextIOWrapper(
        io.BufferedWriter(raw), encoding=encoding, errors=errors, line_buffering=tty
    )


def guard() -> None:
    """Replace ``sys.stdout`` and ``sys.stderr`` by the streams described above."""
    if not _is_open(1):
        _hold(1, os.O_RDONLY)  # a write to it fails (EBADF): "stdout is closed"
    if not _is_open(2):
        _hold(2, os.O_WRONLY)  # writes vanish: quiet
    out, err = sys.stdout, sys.stderr
    sys.stdout = _text(_Stdout(1, "w", closefd=False), out, "strict")
    err_raw = _Stderr(2, "w", closefd=False)
    sys.stderr = _text(err_raw, err, "backslashreplace")
    sys.stderr.reconfigure(line_buffering=True)


def stdout_failed() -> bool:
    """Whether a write to stdout has failed (and was reported)."""
    buf = getattr(sys.stdout, "buffer", None)
    raw = getattr(buf, "raw", None)
    return isinstance(raw, _Stdout) and raw.failed
