"""Buffers on transparent huge pages, where Linux offers them.

Every training step reads and writes the flat parameter buffer. On 4 KB pages its physical
placement is left to chance, and with it how evenly it spreads over the sets of the CPU's
physically indexed L2 cache: on this project's 2-core machine, per-sample SGD on MNIST
784-128-64-10 took 0.29 to 0.41 s per epoch depending on where the buffer happened to land,
the same kernel on the same data, and minibatch training varied as much. On a 2 MB huge page
the buffer is physically contiguous, so it spreads evenly, and the fast time came every time.

The same held for a 784-64-10 network's 200 KB (eight networks: 0.163-0.190 s per epoch
on 4 KB pages, 0.165-0.177 s on huge pages). Only buffers of at least ``MIN_BYTES`` are
placed so: a huge page costs 2 MB of memory whatever the buffer's size. Elsewhere (another
OS, huge pages turned off, a failed madvise) these are plain NumPy arrays.
"""
from __future__ import annotations

import mmap

import numpy as np

HUGE_PAGE = 2 << 20
MIN_BYTES = 64 << 10


def zeros(shape, dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)``, C-contiguous, on huge pages if it is large enough."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, dtype)
    span = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
    try:
        # One huge page more than needed, to start on a 2 MB boundary; the pages before it
        # are never touched, so they take no memory. Anonymous memory starts zeroed.
        region = mmap.mmap(-1, span + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError:
        return np.zeros(shape, dtype)
    raw = np.frombuffer(region, np.uint8)  # (keeps region alive as long as any view of it)
    start = -raw.ctypes.data % HUGE_PAGE
    try:
        region.madvise(mmap.MADV_HUGEPAGE, start, span)
    except OSError:
        pass  # (4 KB pages then: still correct)
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a, on huge pages if it is large enough."""
    out = zeros(a.shape, a.dtype)
    out[...] = a
    return out
