"""Whole-array copies and sums written as loops.

Numba compiles ``a[:] = b`` and ``a += b`` with a broadcasting error message whose string
formatting takes seconds to compile; these loops have the same effect for equal shapes.
"""
from .jit import inline_kernel, kernel


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
