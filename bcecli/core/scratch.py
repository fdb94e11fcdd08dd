"""Buffers a thread reuses for the temporaries of its chunks.

Scoring a chunk makes arrays as long as the chunk that it drops before it returns (bin keys,
bucket indices, differences). Memory of that size that is fresh comes from the kernel page by
page (glibc gives large blocks back when they are freed), and faulting those pages in costs more
than the arithmetic done on them; a buffer kept by the thread is faulted in once per run. A
thread scores its chunks one after the other, so its buffers are never in use twice at once.
"""

from __future__ import annotations

import threading

import numpy as np

# Larger temporaries are allocated afresh: a buffer kept for them would hold their memory for
# as long as the thread lives (a whole array scored as one chunk, say).
MAX_BYTES = 8 << 20

_local = threading.local()


def scratch(shape: tuple[int, ...], dtype: type[np.generic]) -> np.ndarray:
    """An uninitialised C-contiguous array, valid until this thread calls ``scratch`` again:
    one buffer serves every temporary in turn, so it stays in the CPU's cache as well."""
    size = np.dtype(dtype).itemsize
    for d in shape:
        size *= d
    if size > MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    buf: np.ndarray | None = getattr(_local, "buffer", None)
    if buf is None or len(buf) < size:
        buf = _local.buffer = np.empty(size, dtype=np.uint8)
    return buf[:size].view(dtype).reshape(shape)
