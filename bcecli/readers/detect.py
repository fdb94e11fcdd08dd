"""What a file is, from its first bytes, then its extension: the formats bce reads, and the
ones people save classifier outputs in that it does not (refused with a way out). Pickles are
named here, before anything in them is loaded."""

from __future__ import annotations

import os
import stat

from bcecli.errors import InputError
from bcecli.readers.base import FORMATS

# Extensions that promise a binary format (a file with one that holds text says so).
BINARY_EXTENSIONS = {".npy": "NPY", ".npz": "NPZ", ".parquet": "Parquet", ".pq": "Parquet"}
# Text formats bce does not read, by extension.
TEXT_NOT_READ = {".json": "JSON", ".jsonl": "JSON lines", ".ndjson": "JSON lines"}
# Binary formats bce does not read, by their first bytes.
_FOREIGN_MAGIC = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"ARROW1", "an Arrow IPC / Feather file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls) or another OLE document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF", "a PDF document"),
)


def sniff_format(path: str, head: bytes) -> str:
    """'csv', 'tsv', 'parquet', 'npy' or 'npz', from the first bytes, then the extension."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if extension(path) in (".tsv", ".tab"):
        return "tsv"
    return "csv"


def extension(path: str) -> str:
    """The extension that names the format, past a .gz: 'x.csv.gz' -> '.csv'."""
    lower = path.lower()
    for ext in (".gz", ".gzip"):
        if lower.endswith(ext):
            lower = lower[: -len(ext)]
    return os.path.splitext(lower)[1]


def article(word: str) -> str:
    """'a' or 'an' before a format's name."""
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"


def foreign(head: bytes) -> str | None:
    """What a file in a format bce does not read is, by its first bytes (None: not known)."""
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle"
    return None


def unsupported(what: str, source: str) -> InputError:
    """The error for a file that is ``what`` ('an HDF5 file'), which bce does not read."""
    fix = f"save the labels and predictions as {FORMATS} (e.g. with pandas' to_csv or np.save)"
    if "pickle" in what:
        return InputError(
            "is a Python pickle, which bce never loads (loading a pickle can run code)",
            fix,
            source=source,
        )
    return InputError(f"is {what}, which bce does not read", fix, source=source)


def read_head(path: str, n: int = 16) -> bytes:
    """A file's first bytes (an ``InputError`` when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except IsADirectoryError:
        raise InputError(
            "is a directory, not a file", f"give the path of a {FORMATS} file", source=path
        ) from None
    except PermissionError:
        raise InputError(
            "cannot be read (permission denied)",
            "check the file's permissions (chmod u+r)",
            source=path,
        ) from None
    except FileNotFoundError:
        raise InputError("no such file", "check the path", source=path) from None
    except OSError as e:
        raise InputError(f"cannot be read ({e.strerror})", "check the path", source=path) from None


def is_regular(path: str) -> bool:
    """A regular file (not a pipe or a device: those can be read only once)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
