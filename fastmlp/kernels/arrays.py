"""Whole-array copies and sums written as loops.

Numba compiles ``a[:] = b`` and ``a += b`` with a broadcasting error message whose string
formatting takes seconds to compile; these loops have the same effect for equal shapes.
"""
from .jit import inline_kernel


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
