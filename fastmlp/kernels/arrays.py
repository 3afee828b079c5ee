"""Whole-array copies and sums written as loops.

Numba compiles ``a[:] = b`` and ``a += b`` with a broadcasting error message whose string
formatting takes seconds to compile; these loops have the same effect for equal shapes.
"""
import numpy as np

from .jit import entry_kernel, inline_kernel, kernel


@inline_kernel
def copy(src, dst):
    """dst <- src, for 1-D arrays of one length."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@inline_kernel
def add(src, dst):
    """dst <- dst + src, for 1-D arrays of one length."""
    for k in range(dst.shape[0]):
        dst[k] += src[k]


@kernel
def rescale(A, factor):
    """A <- factor * A, for a 2-D array. Returns 1.0: a factor kept aside (a float64 scalar,
    see ``train.sgd_sample_epochs`` and ``momentum.py``) once folded into A."""
    f = A.dtype.type(factor)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] *= f
    return 1.0


@kernel
def add_scaled(V, c, W):
    """W <- W + c V, for 2-D arrays of one shape."""
    cc = W.dtype.type(c)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            W[i, j] += cc * V[i, j]


@entry_kernel
def all_finite(a):
    """Whether the sum of the 1-D array a, in float64, is finite: it carries any NaN or
    infinity, and for float32 entries it cannot overflow. For float64 entries False may also
    mean an overflow of finite ones: look entry by entry. (On MNIST's X, flattened, 1.3x as
    fast as NumPy's pairwise sum: it reads X as fast as memory gives it.)"""
    total = 0.0
    for k in range(a.shape[0]):
        total += a[k]
    return np.isfinite(total)


@entry_kernel
def copy_finite(src, dst):
    """dst <- src in dst's dtype (1-D arrays of one length); returns whether the sum of dst,
    in float64, is finite (``all_finite``'s sum, which a value too large for dst's dtype makes
    infinite too). One pass for the conversion and the check of a float X of the other dtype:
    as fast as NumPy's conversion alone (MNIST's X from float64: 60 ms; and 13 ms for a check
    after it)."""
    total = 0.0
    for k in range(dst.shape[0]):
        value = dst.dtype.type(src[k])
        dst[k] = value
        total += value
    return np.isfinite(total)
