"""NPY files and NPZ archives: memory-mapped where they can be, pickles always refused."""

from __future__ import annotations

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


# Rows of a memory-mapped array read per batch. Once a batch's rows are scored, its pages are
# dropped from the process (see _release_pages), so the resident set stays near two batches
# whatever the file's length.
MAPPED_BATCH_ROWS = 1 << 20
# Rows of a compressed NPZ array decompressed at a time (each read briefly holds two copies).
DECOMPRESSED_BATCH_ROWS = 1 << 18


def _release_pages(view: np.ndarray) -> None:
    """Drop the whole pages under ``view``, a contiguous view into a read-only memory map, from
    this process's resident set. They stay in the page cache; a later read of them (a chunk
    still being scored, a second pass) maps them back in, so nothing changes but the memory
    the process is charged with. A view not backed by a map is left alone."""
    import mmap

    if not (view.flags.c_contiguous or view.flags.f_contiguous) or view.nbytes == 0:
        return
    base: Any = view
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is None or not hasattr(base, "madvise"):
        return
    try:
        start = np.frombuffer(base, dtype=np.uint8).ctypes.data  # the map's first byte
    except ValueError:  # closed
        return
    page = mmap.PAGESIZE
    lo = view.ctypes.data - start
    lo, hi = -(-lo // page) * page, (lo + view.nbytes) // page * page
    if hi > lo:
        base.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _mapped_batches(arrays: dict[str, np.ndarray], n: int) -> Iterator[Batch]:
    """Batches of the ``n`` rows of equally long arrays; the pages of memory-mapped ones are
    released one batch behind the reader."""
    done: list[np.ndarray] = []
    for s in range(0, n, MAPPED_BATCH_ROWS):
        views = [a[s : s + MAPPED_BATCH_ROWS] for a in arrays.values()]
        batch: Batch = dict(zip(arrays, views, strict=True))
        yield batch
        # The caller has taken every chunk of this batch, so the batch before it is scored.
        for view in done:
            _release_pages(view)
        done = views


class NpySource(Source):
    def __init__(self, path: str, role: str) -> None:
        self.path = path
        self.name = display_name(path)
        try:
            with open(path, "rb") as fp:
                shape, _, dtype = _read_npy_header(fp, self.name)
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
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as e:
            if "pickle" in str(e).lower() or "object" in str(e).lower():
                raise _pickle_refused(self.name) from None
            raise InputError(
                f"is not a valid NPY file ({show(str(e), 100)})",
                "save it again with np.save",
                source=self.name,
            ) from None
        except (OSError, EOFError) as e:
            raise InputError(
                f"is not a readable NPY file ({show(str(e), 100)})",
                "check that the file is complete",
                source=self.name,
            ) from None
        if arr.dtype.names:  # a structured array: its fields are named columns
            self._fields = {n: arr[n] for n in arr.dtype.names}
            for n, a in self._fields.items():
                _check_shape(a.shape, f"field {show_cell(n)}", self.name)
        else:
            self._fields = {role: arr}
        self.columns = list(self._fields)
        self.n_rows = len(arr)

    def kind(self, column: str) -> str:
        return "numeric"

    def type_name(self, column: str) -> str:
        return str(self._fields[column].dtype)

    def width(self, column: str) -> int:
        a = self._fields[column]
        return 1 if a.ndim == 1 else int(a.shape[1])

    mapped = True

    def batches(self, columns: list[str]) -> Iterator[Batch]:
        return _mapped_batches({c: self._fields[c] for c in columns}, self.n_rows or 0)


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
    stored uncompressed (``np.savez``, the default) are memory-mapped in place like an NPY file;
    compressed ones (``np.savez_compressed``) are decompressed a batch of rows at a time, front
    to back. Either way memory does not grow with the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = display_name(path)
        import zipfile

        self._members: dict[str, zipfile.ZipInfo] = {}
        self._headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
        self._fortran: set[str] = set()  # arrays stored in Fortran (column-major) order
        self._arrays: dict[str, np.ndarray] = {}  # the arrays loaded so far
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

    def _array(self, key: str) -> np.ndarray:
        arr = self._arrays.get(key)
        if arr is None:
            import zipfile

            try:
                arr = self._mapped(key)
                if arr is None:
                    with zipfile.ZipFile(self.path) as zf, zf.open(self._members[key]) as fp:
                        arr = np.lib.format.read_array(fp, allow_pickle=False)
            except ValueError as e:
                raise InputError(
                    f"array {show_cell(key)} is truncated or corrupt ({show(str(e), 100)})",
                    "save the archive again with np.savez",
                    source=self.name,
                ) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise self._unreadable(e) from None
            self._arrays[key] = arr
        return arr

    def _mapped(self, key: str) -> np.ndarray | None:
        """The member memory-mapped where it lies in the archive, if it is stored uncompressed
        and whole (None otherwise: it is read instead)."""
        info = self._members[key]
        if not _stored(info):
            return None
        with open(self.path, "rb") as fp:
            fp.seek(info.header_offset)
            local = fp.read(30)  # the local file header; its name and extra field follow
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                return None
            begin = info.header_offset + 30
            begin += int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
            fp.seek(begin)
            shape, fortran, dtype = _read_npy_header(fp, self.name)
            data_at = fp.tell()
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size == 0 or data_at - begin + size > info.file_size:
            return None  # nothing to map, or cut short: the read reports it
        return np.memmap(
            self.path,
            dtype=dtype,
            mode="r",
            offset=data_at,
            shape=shape,
            order="F" if fortran else "C",
        )

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
        if self.mapped:
            yield from _mapped_batches({c: self._array(c) for c in columns}, n)
        else:
            yield from self._decompressed_batches(columns, n)

    def _decompressed_batches(self, columns: list[str], n: int) -> Iterator[Batch]:
        """The ``n`` rows, each compressed array decompressed one batch of rows at a time (an
        array in Fortran order holds its rows scattered, so it is loaded whole instead)."""
        import contextlib
        import zipfile

        try:
            with contextlib.ExitStack() as stack:
                zf = stack.enter_context(zipfile.ZipFile(self.path))
                streams: dict[str, IO[bytes]] = {}
                whole: dict[str, np.ndarray] = {}
                for c in columns:
                    if _stored(self._members[c]) or c in self._fortran:
                        whole[c] = self._array(c)
                    else:
                        streams[c] = stack.enter_context(zf.open(self._members[c]))
                        _read_npy_header(streams[c], self.name)  # to where the data starts
                done: list[np.ndarray] = []
                for s in range(0, n, DECOMPRESSED_BATCH_ROWS):
                    rows = min(DECOMPRESSED_BATCH_ROWS, n - s)
                    views = {c: a[s : s + rows] for c, a in whole.items()}
                    batch: Batch = dict(views)
                    for c, fp in streams.items():
                        batch[c] = self._read_rows(fp, c, rows)
                    yield batch
                    for view in done:  # a mapped array's rows, one batch behind
                        _release_pages(view)
                    done = list(views.values())
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:  # a bad CRC, ...
            raise self._unreadable(e) from None

    def _read_rows(self, fp: IO[bytes], key: str, rows: int) -> np.ndarray:
        shape, dtype = self._headers[key]
        want = rows * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        data = fp.read(want)
        if len(data) < want:
            raise InputError(
                f"array {show_cell(key)} is truncated or corrupt (its header promises "
                f"{shape[0]:,} rows)",
                "save the archive again with np.savez",
                source=self.name,
            )
        return np.frombuffer(data, dtype=dtype).reshape((rows, *shape[1:]))


# --------------------------------------------------------------------------------------------
