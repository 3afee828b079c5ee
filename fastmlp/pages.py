"""Where the flat buffers start: on transparent huge pages, where Linux offers them, or on a
cache line.

Every training step reads and writes the flat parameter buffer. On 4 KB pages its physical
placement is left to chance, and with it how evenly it spreads over the sets of the CPU's
physically indexed L2 cache: on this project's 2-core machine, per-sample SGD on MNIST
784-128-64-10 took 0.29 to 0.41 s per epoch depending on where the buffer happened to land,
the same kernel on the same data, and minibatch training varied as much. On a 2 MB huge page
the buffer is physically contiguous, so it spreads evenly, and the fast time came every time.

The same held for a 784-64-10 network's 200 KB (eight networks: 0.163-0.190 s per epoch
on 4 KB pages, 0.165-0.177 s on huge pages). Only buffers of at least ``MIN_BYTES`` are
placed so: a huge page costs 2 MB of memory whatever the buffer's size.

Smaller buffers start on a 64-byte cache line, and so do all of them where Python has no
madvise(MADV_HUGEPAGE) or the mapping fails (larger ones otherwise start on a 2 MB boundary,
whether Linux then gives huge pages or not). NumPy's allocator promises 16 bytes,
and per-sample epochs of eight small networks took 1.08x as long on average with their
buffer at 16 mod 64 as at 0, and 1.05x at 48 (up to 1.34x; digits 64-32-10 1.14x and
1.02x, one shape 0.94x at 16), 0.99x at 32 (three processes each on the AMD EPYC). Likely
why: Zen 4 runs each 64-byte vector as two 32-byte halves, and at 16 or 48 mod 64 one half of
every vector of a row straddles two cache lines. (benchmarks/HISTORY.md, the session of
2026-12-06 17:41.)
"""

from __future__ import annotations

import mmap

import numpy as np

from .kernels.prefetch import LINE_BYTES

HUGE_PAGE = 2 << 20
MIN_BYTES = 64 << 10


def zeros(shape, dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)``, C-contiguous, on huge pages if it is large enough, else
    on a cache line."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return _line_aligned_zeros(shape, dtype, nbytes)
    span = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
    try:
        # One huge page more than needed, to start on a 2 MB boundary; the pages before it
        # are never touched, so they take no memory. Anonymous memory starts zeroed.
        region = mmap.mmap(-1, span + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError:
        return _line_aligned_zeros(shape, dtype, nbytes)
    raw = np.frombuffer(region, np.uint8)  # (keeps region alive as long as any view of it)
    start = -raw.ctypes.data % HUGE_PAGE
    try:
        region.madvise(mmap.MADV_HUGEPAGE, start, span)
    except OSError:
        pass  # (4 KB pages then: still correct)
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _line_aligned_zeros(shape: tuple, dtype: np.dtype, nbytes: int) -> np.ndarray:
    raw = np.zeros(nbytes + LINE_BYTES, np.uint8)
    start = -raw.ctypes.data % LINE_BYTES
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a, placed as ``zeros`` places it."""
    out = zeros(a.shape, a.dtype)
    out[...] = a
    return out
