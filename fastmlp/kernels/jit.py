"""The one way kernels are compiled.

``reassoc`` lets LLVM vectorize sums (dot products, softmax totals) and ``contract`` fuse
multiply-adds. Neither assumes away NaN or infinity, so a diverging loss still shows as NaN/inf.
The compiled order is fixed, so results stay bit-identical from run to run.

NumPy's error model: a float division by zero gives inf or NaN, as the divergence checks
expect, instead of a ZeroDivisionError check whose branch keeps LLVM from vectorizing every
loop that divides (a row's sigmoid, say).
"""
from numba import njit, types
from numba.extending import overload

from . import cache  # (before any kernel: their caches cover every kernel's source)
from . import collector

FASTMATH = {"reassoc", "contract"}


OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


def _cached(dispatcher):
    """``dispatcher`` with its on-disk cache's saves under a lock, compiling and loading with
    fewer garbage collections (see ``cache``, ``collector``)."""
    return collector.while_compiling(cache.lock_saves(dispatcher))


def entry_kernel(func):
    """Compile ``func`` lazily (once per dtype), caching the machine code on disk: a kernel
    that Python calls."""
    return _cached(njit(**OPTIONS)(func))


def kernel(func):
    """``entry_kernel`` for a kernel that only other kernels call: compiled without the
    wrappers Python would need to call it (they cost compile time, most for arguments such
    as the Layers and Workspace tuples)."""
    return _cached(njit(**OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)(func))


def inline_kernel(func):
    """``kernel``, inlined into its callers. For the per-sample steps: a call passes every
    array's fields and adjusts reference counts, which costs as much as a small layer's
    arithmetic. And for a kernel with one caller in the middle of a chain of calls: Numba
    links each kernel's callees into its machine code and optimizes them all again, so each
    level of calls costs compile time (``train.epoch_batches``: ~1.3 s of ~10 s)."""
    return _cached(njit(**OPTIONS, inline="always")(func))


def thread_kernel(func):
    """``entry_kernel`` that runs without holding Python's lock (the GIL), so that several
    Python threads run it at once (see ``parallel``)."""
    return _cached(njit(**OPTIONS, nogil=True)(func))


def by_dtype(for_float32, for_float64):
    """Decorate a Python function of one float (NumPy's math, for callers in Python) so that
    kernels compile it as ``for_float32`` or ``for_float64``, whichever is its argument's
    dtype: arithmetic that stays in that dtype (``exp``, ``tanh``)."""
    def register(function):
        @overload(function)
        def _typed(x):
            if x == types.float32:
                return lambda x: for_float32(x)
            if x == types.float64:
                return lambda x: for_float64(x)
        return function
    return register
