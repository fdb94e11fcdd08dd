"""NPY files and NPZ archives, read a batch of rows at a time (never memory-mapped: a mapped
file truncated while it is read kills the process), pickles always refused."""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from bcecli.errors import InputError
from bcecli.readers.base import Batch, Source, display_name
from bcecli.readers.detect import unsupported
from bcecli.readers.display import show, show_cell, show_names

if TYPE_CHECKING:
    import zipfile


_DTYPE_WORDS = {
    "O": "Python objects",
    "U": "text",
    "S": "bytes",
    "c": "complex numbers",
    "V": "raw records",
    "M": "dates",
    "m": "time spans",
}
_NPY_FIX = "save a float array, e.g. np.save(path, np.asarray(preds, dtype='float32'))"


def _pickle_refused(source: str) -> InputError:
    return InputError(
        "holds pickled Python objects (dtype object), which bce never loads (loading a pickle "
        "can run code)",
        "save a plain numeric array: np.save(path, np.asarray(values, dtype='float64'))",
        source=source,
    )


def _check_dtype(dtype: np.dtype[Any], what: str, source: str) -> None:
    """Refuse anything that is not plain numbers; pickles before a byte of them is loaded."""
    if dtype.hasobject:
        raise _pickle_refused(source)
    if dtype.names:
        for n in dtype.names:
            field = dtype.fields[n][0] if dtype.fields else dtype
            _check_dtype(field, f"field {show_cell(n)}", source)
        return
    if dtype.subdtype is not None:
        _check_dtype(dtype.subdtype[0], what, source)
        return
    if dtype.kind not in "fiub":
        word = _DTYPE_WORDS.get(dtype.kind, str(dtype))
        raise InputError(
            f"{what} holds {word} (dtype {dtype}), not numbers", _NPY_FIX, source=source
        )


def _check_shape(shape: tuple[int, ...], what: str, source: str) -> None:
    if len(shape) == 0:
        raise InputError(
            f"{what} is a single number (shape ())",
            "save one value per sample: shape (n,) or (n, K)",
            source=source,
        )
    if len(shape) > 2:
        raise InputError(
            f"{what} has shape {shape}; expected (n,) or (n, K)",
            "reshape it to one row per sample, e.g. arr.reshape(len(arr), -1)",
            source=source,
        )
    if shape[0] == 0:
        raise InputError(
            f"{what} is empty (shape {shape})", "save one row per sample", source=source
        )
    if len(shape) == 2 and shape[1] == 0:
        raise InputError(
            f"{what} has shape {shape}: {shape[0]:,} rows of no values",
            "save one value per sample and output: shape (n,) or (n, K) with K >= 1",
            source=source,
        )


def _read_npy_header(fp: IO[bytes], source: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Shape, Fortran order and dtype from an NPY header, without loading (or unpickling) any
    data; ``fp`` is left where the data starts."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as e:
        raise InputError(
            f"has a corrupt NPY header ({show(str(e), 100)})",
            "save the array again with np.save",
            source=source,
        ) from None
    return tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


# Rows of a compressed NPZ array decompressed at a time (each read briefly holds two copies).
DECOMPRESSED_BATCH_ROWS = 1 << 18


# Rows of an NPY array (or an NPZ member stored uncompressed) read per batch: a chunk's worth,
# so that each batch is read into memory that is still in the CPU's cache when it is scored.
READ_BATCH_ROWS = 1 << 16


class FileRows:
    """An array's rows read from where they lie in a file, a batch at a time with ``pread``
    into fresh memory. Not memory-mapped: a mapped file truncated by another program while it is
    read kills the process with SIGBUS, where a short read here is one clear error (and the
    file's size and time are checked again once the last row is read)."""

    def __init__(
        self,
        path: str,
        offset: int,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        fortran: bool,
        name: str,
    ) -> None:
        self.name = name
        self.offset, self.shape, self.dtype = offset, shape, dtype
        self.fortran = fortran and len(shape) == 2  # a 1-D array is both orders at once
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        try:
            self.fd = os.open(path, os.O_RDONLY)
            self.opened = os.fstat(self.fd)
        except OSError as e:
            raise InputError(
                f"cannot be read ({e.strerror})", "check the path", source=name
            ) from None

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, n: int) -> np.ndarray:
        """Rows ``start .. start + n``."""
        if not self.fortran:
            out = np.empty((n, *self.shape[1:]), dtype=self.dtype)
            self._read(out, self.offset + start * self.row_bytes)
            return out
        # column-major: each column's rows lie apart, one read per column
        total, k = self.shape
        cols = np.empty((k, n), dtype=self.dtype)
        for j in range(k):
            self._read(cols[j], self.offset + (j * total + start) * self.dtype.itemsize)
        return cols.T

    def _read(self, out: np.ndarray, offset: int) -> None:
        view = out.reshape(-1).view(np.uint8).data
        done = 0
        try:
            while done < len(view):
                got = os.preadv(self.fd, [view[done:]], offset + done)
                if got == 0:
                    raise self.changed() or InputError(
                        f"ended at byte {offset + done:,}, before the rows its header promises",
                        "copy the file again, or save it again with np.save",
                        source=self.name,
                    )
                done += got
        except OSError as e:
            raise InputError(
                f"cannot be read ({e.strerror})", "check the file and the disk", source=self.name
            ) from None

    def changed(self) -> InputError | None:
        """The file written to since it was opened (another program rewriting it in place), or
        None."""
        try:
            now = os.fstat(self.fd)
        except OSError:
            return None
        was = self.opened
        if now.st_size == was.st_size and now.st_mtime_ns == was.st_mtime_ns:
            return None
        how = (
            f"its size went from {was.st_size:,} to {now.st_size:,} bytes"
            if now.st_size != was.st_size
            else "it was rewritten (same size, new modification time)"
        )
        return InputError(
            f"changed while it was read: {how}, so its rows are not one version of the file",
            "score it once the program writing it has finished (or score a copy taken then)",
            source=self.name,
        )

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _read_batches(
    arrays: dict[str, FileRows], n: int, rows: int = READ_BATCH_ROWS
) -> Iterator[Batch]:
    """Batches of the ``n`` rows of equally long arrays read from their files; after the last,
    the files are checked to be as they were when opened."""
    for s in range(0, n, rows):
        m = min(rows, n - s)
        yield {c: a.rows(s, m) for c, a in arrays.items()}
    for a in arrays.values():
        changed = a.changed()
        if changed is not None:
            raise changed


class NpySource(Source):
    def __init__(self, path: str, role: str) -> None:
        self.path = path
        self.name = display_name(path)
        try:
            with open(path, "rb") as fp:
                shape, fortran, dtype = _read_npy_header(fp, self.name)
                data_at = fp.tell()
        except OSError as e:
            raise InputError(
                f"cannot be read ({e.strerror})", "check the path", source=self.name
            ) from None
        _check_dtype(dtype, "the array", self.name)
        what = "the array"
        _check_shape(shape, what, self.name)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        have = os.path.getsize(path) - data_at
        if have < need:
            raise InputError(
                f"is truncated: its header promises shape {shape} of {dtype} ({need:,} bytes "
                f"of data) but the file holds {have:,}",
                "copy the file again, or save it again with np.save",
                source=self.name,
            )
        self._rows = FileRows(path, data_at, shape, dtype, fortran, self.name)
        if dtype.names:  # a structured array: its fields are named columns
            self._fields = {n: dtype.fields[n][0] for n in dtype.names} if dtype.fields else {}
            for n, field in self._fields.items():
                _check_shape((shape[0], *field.shape), f"field {show_cell(n)}", self.name)
        else:
            self._fields = {role: dtype}
        self._shape = shape
        self.columns = list(self._fields)
        self.n_rows = shape[0]

    def kind(self, column: str) -> str:
        return "numeric"

    def type_name(self, column: str) -> str:
        field = self._fields[column]
        return str(field.base if field.subdtype is not None else field)

    def width(self, column: str) -> int:
        field = self._fields[column]
        if self._rows.dtype.names:
            return int(np.prod(field.shape, dtype=np.int64)) if field.shape else 1
        return 1 if len(self._shape) == 1 else int(self._shape[1])

    mapped = True  # batches are read a chunk at a time: small chunks cost no copy

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        names = self._rows.dtype.names
        for batch in _read_batches({"": self._rows}, self.n_rows or 0):
            records = batch[""]
            assert isinstance(records, np.ndarray)
            yield {c: records[c] for c in columns} if names else {c: records for c in columns}

    def close(self) -> None:
        self._rows.close()


# The compression methods Python's zipfile reads: stored, deflate, bzip2, lzma.
_ZIP_METHODS = (0, 8, 12, 14)
_ZIP_METHOD_NAMES = {9: "Deflate64 (Windows' 'compressed folder' for large files)", 6: "Implode",
                     93: "Zstandard", 95: "XZ", 98: "PPMd", 99: "AES encryption"}  # fmt: skip


def _stored(info: zipfile.ZipInfo) -> bool:
    """A zip member kept as plain bytes in the archive (not compressed, not encrypted)."""
    return info.compress_type == 0 and not info.flag_bits & 0x1  # 0: ZIP_STORED; 0x1: encrypted


class NpzSource(Source):
    """The arrays of an ``np.savez`` archive, each a column named by its key.

    Only the headers are read up front, and arrays the run does not use are never read. Arrays
    stored uncompressed (``np.savez``, the default) are read from where they lie in the archive
    like an NPY file; compressed ones (``np.savez_compressed``) are decompressed a batch of rows
    at a time, front to back (an array in Fortran order by one stream per column). Memory never
    grows with the file, nor with what a header claims: a header that promises more bytes than
    the archive's directory holds is refused before anything is allocated.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = display_name(path)
        import zipfile

        self._members: dict[str, zipfile.ZipInfo] = {}
        self._headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
        self._fortran: set[str] = set()  # arrays stored in Fortran (column-major) order
        self._short: dict[str, InputError] = {}  # arrays whose header promises more than is there
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                arrays = [i for i in members if i.filename.endswith(".npy")]
                if not arrays:
                    raise self._not_npz([i.filename for i in members])
                for info in arrays:
                    key = info.filename[: -len(".npy")]
                    if key in self._members:
                        raise InputError(
                            f"holds two members named {show_cell(info.filename)}: numpy would "
                            "read the last one, and which is meant cannot be told",
                            "save the arrays again with np.savez (one name per array)",
                            source=self.name,
                        )
                    self._check_readable(info, key)
                    self._members[key] = info
                    shape, fortran, dtype = self._check_member(zf, info, key)
                    self._headers[key] = shape, dtype
                    if fortran:
                        self._fortran.add(key)
                others = [i.filename for i in members if not i.filename.endswith(".npy")]
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise self._unreadable(e) from None
        if others:
            self.notes = (
                f"{self.name}: ignored {len(others)} member(s) that are not arrays "
                f"({show_names(others, 4)})",
            )
        self.columns = list(self._members)
        lengths = {shape[0] for shape, _ in self._headers.values()}
        self.n_rows = lengths.pop() if len(lengths) == 1 else None
        self.mapped = all(_stored(info) for info in self._members.values())

    def _check_readable(self, info: zipfile.ZipInfo, key: str) -> None:
        """A member Python's zipfile can read: not encrypted, compressed by a method it
        knows."""
        where = f"array {show_cell(key)}"
        if info.flag_bits & 0x1:
            raise InputError(
                f"{where} is encrypted (a password-protected zip archive)",
                "unzip it with its password and save the arrays again with np.savez",
                source=self.name,
            )
        if info.compress_type not in _ZIP_METHODS:
            method = _ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise InputError(
                f"{where} is compressed with {method}, which Python's zipfile cannot read",
                "save the arrays again with np.savez or np.savez_compressed (or re-zip with "
                "deflate: zip -Z deflate)",
                source=self.name,
            )

    def _unreadable(self, e: BaseException) -> InputError:
        return InputError(
            f"is not a readable NPZ file ({show(str(e), 100)}): a zip archive cut short?",
            "copy it again, or save it again with np.savez",
            source=self.name,
        )

    def _not_npz(self, names: list[str]) -> InputError:
        if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
            return unsupported("an Excel workbook (.xlsx)", self.name)
        if any(n.endswith("data.pkl") for n in names):
            return unsupported("a PyTorch file (torch.save)", self.name)
        if not names:
            return InputError(
                "is an empty zip archive (no arrays)",
                "save the labels and predictions into it with np.savez",
                source=self.name,
            )
        return InputError(
            f"is a zip archive without NPY arrays inside (it holds {show_names(names, 4)})",
            "unzip it and pass the file inside, or save the arrays with np.savez",
            source=self.name,
        )

    def _check_member(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str
    ) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
        """A member's shape, Fortran order and dtype, refused (pickles first) before any data
        is read."""
        where = f"array {show_cell(key)}"
        with zf.open(info) as fp:
            shape, fortran, dtype = _read_npy_header(fp, f"{self.name}[{show(key, 40)}]")
            data_at = fp.tell()
        _check_dtype(dtype, where, f"{self.name}[{show(key, 40)}]")
        _check_shape(shape, where, self.name)
        # the archive's directory says how many bytes the member holds, and zipfile never
        # gives more: a header that promises more is refused before anything is allocated
        # (an array the run does not use may be cut short: it is refused only when read)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if data_at + need > info.file_size:
            self._short[key] = InputError(
                f"{where} is truncated or corrupt: its header promises shape {shape} of "
                f"{dtype} ({need:,} bytes) but the archive holds {info.file_size - data_at:,} "
                "bytes of it",
                "save the archive again with np.savez",
                source=self.name,
            )
        if dtype.names:
            raise InputError(
                f"{where} is a structured array (fields {show_names(list(dtype.names))})",
                "save each field as an array of its own: np.savez(path, y_true=..., y_pred=...)",
                source=self.name,
            )
        return shape, fortran, dtype

    def _member_at(self, key: str) -> int | None:
        """Where a member stored uncompressed starts in the archive (its NPY header first), or
        None where it is compressed or its local header is not where the directory says."""
        info = self._members[key]
        if not _stored(info):
            return None
        with open(self.path, "rb") as fp:
            fp.seek(info.header_offset)
            local = fp.read(30)  # the local file header; its name and extra field follow
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None
        begin = info.header_offset + 30
        return (
            begin + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
        )

    def _reader(self, zf: zipfile.ZipFile, key: str, stack: contextlib.ExitStack) -> _Rows:
        """How a member's rows are read: from where they lie in the archive (stored), or
        decompressed front to back (one stream per column for an array in Fortran order)."""
        shape, dtype = self._headers[key]
        begin = self._member_at(key)
        if begin is not None:
            with open(self.path, "rb") as fp:
                fp.seek(begin)
                _read_npy_header(fp, self.name)
                data_at = fp.tell()
            rows = FileRows(self.path, data_at, shape, dtype, key in self._fortran, self.name)
            stack.callback(rows.close)
            return rows
        if key in self._fortran and len(shape) == 2:
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if shape[1] > MAX_COLUMN_STREAMS and need <= WHOLE_BYTES:
                # the header's claim is bounded by the archive's directory (checked on
                # opening) and here by WHOLE_BYTES: the allocation cannot run away
                with zf.open(self._members[key]) as member:
                    whole = np.lib.format.read_array(member, allow_pickle=False)
                return _Whole(whole)
            if shape[1] > MAX_COLUMN_STREAMS:
                raise InputError(
                    f"array {show_cell(key)} is compressed in Fortran (column-major) order with "
                    f"{shape[1]:,} columns: its rows lie apart in the compressed stream, and "
                    f"bce decompresses such an array by column only up to {MAX_COLUMN_STREAMS} "
                    "columns",
                    "save it in row order: np.savez_compressed(path, "
                    f"{show(key, 40)}=np.ascontiguousarray(a)), or with np.savez (uncompressed)",
                    source=self.name,
                )
            streams = []
            for j in range(shape[1]):
                member = zf.open(self._members[key])
                stack.callback(member.close)
                _read_npy_header(member, self.name)
                _skip(member, j * shape[0] * dtype.itemsize)
                streams.append(_Stream(member, (shape[0],), dtype, key, self.name))
            return _Columns(streams)
        member = zf.open(self._members[key])
        stack.callback(member.close)
        _read_npy_header(member, self.name)  # to where the data starts
        return _Stream(member, shape, dtype, key, self.name)

    def kind(self, column: str) -> str:
        return "numeric"

    def type_name(self, column: str) -> str:
        return str(self._headers[column][1])

    def width(self, column: str) -> int:
        shape = self._headers[column][0]
        return 1 if len(shape) == 1 else int(shape[1])

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        for c in columns:
            if c in self._short:
                raise self._short[c]
        lengths = {c: self._headers[c][0][0] for c in columns}
        if len(set(lengths.values())) > 1:
            raise InputError(
                "holds arrays of different lengths: "
                + ", ".join(f"{show(c, 40)} has {n}" for c, n in lengths.items()),
                "save one entry per sample in every array",
                source=self.name,
            )
        n = next(iter(lengths.values()), 0)
        rows = READ_BATCH_ROWS if self.mapped else DECOMPRESSED_BATCH_ROWS
        import zipfile

        try:
            with contextlib.ExitStack() as stack:
                zf = stack.enter_context(zipfile.ZipFile(self.path))
                readers = {c: self._reader(zf, c, stack) for c in columns}
                for s in range(0, n, rows):
                    m = min(rows, n - s)
                    yield {c: r.rows(s, m) for c, r in readers.items()}
                for r in readers.values():
                    changed = r.changed() if isinstance(r, FileRows) else None
                    if changed is not None:
                        raise changed
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:  # a bad CRC, ...
            raise self._unreadable(e) from None
        except InputError:
            raise
        except ValueError as e:  # numpy's reading of an array loaded whole
            raise InputError(
                f"an array is truncated or corrupt ({show(str(e), 100)})",
                "save the archive again with np.savez",
                source=self.name,
            ) from None


# Columns of an array compressed in Fortran order that are decompressed side by side (each
# stream decompresses the columns before its own again: j + 1 columns' worth for column j).
MAX_COLUMN_STREAMS = 16
# A compressed Fortran-order array of more columns than that is loaded whole up to this size.
WHOLE_BYTES = 64 << 20


class _Stream:
    """A compressed member's rows, decompressed front to back."""

    def __init__(
        self, fp: IO[bytes], shape: tuple[int, ...], dtype: np.dtype[Any], key: str, name: str
    ) -> None:
        self.fp, self.shape, self.dtype, self.key, self.name = fp, shape, dtype, key, name

    def rows(self, start: int, n: int) -> np.ndarray:
        want = n * int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        data = self.fp.read(want)
        if len(data) < want:
            raise InputError(
                f"array {show_cell(self.key)} is truncated or corrupt (its header promises "
                f"{self.shape[0]:,} rows)",
                "save the archive again with np.savez",
                source=self.name,
            )
        return np.frombuffer(data, dtype=self.dtype).reshape((n, *self.shape[1:]))


class _Columns:
    """A 2-D member in Fortran order, each column decompressed by a stream of its own."""

    def __init__(self, streams: list[_Stream]) -> None:
        self.streams = streams

    def rows(self, start: int, n: int) -> np.ndarray:
        return np.column_stack([s.rows(start, n) for s in self.streams])


class _Whole:
    """A small array loaded whole."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def rows(self, start: int, n: int) -> np.ndarray:
        return self.array[start : start + n]


_Rows = FileRows | _Stream | _Columns | _Whole


def _skip(fp: IO[bytes], n: int) -> None:
    """Decompress and drop ``n`` bytes of a member (a Fortran-order column's start)."""
    while n > 0:
        got = len(fp.read(min(n, 1 << 22)))
        if got == 0:
            return  # cut short: the first read of rows says so
        n -= got


# --------------------------------------------------------------------------------------------
