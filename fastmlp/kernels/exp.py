"""exp(x) as plain arithmetic, so that loops over a row (sigmoid, softmax) vectorize.

``np.exp`` inside a loop is a call into libm per element (no SVML in PyPI's llvmlite). Here
it is Cephes' method in the argument's own dtype: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by
a polynomial (float32) or a rational function (float64), each within ~1 ulp, times 2^n built
in the float's exponent bits. x is clamped to where 2^n is a normal number, so the result is
always finite: it saturates (float32: between 1.2e-38 and 2.2e38) where exp would overflow to
inf or underflow to 0. NaN stays NaN.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .jit import inline_kernel


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float whose bit pattern is ``bits`` (int32 -> float32, int64 -> float64)."""
    result = {types.int32: types.float32, types.int64: types.float64}.get(bits)
    if result is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType() if result == types.float32
                               else ir.DoubleType())
    return result(bits), codegen


@inline_kernel
def _exp32(value):
    # min and max by comparisons, so that NaN passes through
    x = np.float32(-87.3) if value < np.float32(-87.3) else value
    x = np.float32(88.3) if x > np.float32(88.3) else x
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * (r * r) + r + np.float32(1.0)
    # (Numba widens int32 arithmetic to int64: narrow the bits again.)
    return p * _float_from_bits(np.int32((np.int64(n) + 127) << 23))


@inline_kernel
def _exp64(value):
    x = -708.3 if value < -708.3 else value
    x = 709.0 if x > 709.0 else x
    n = np.floor(x * 1.4426950408889634073599 + 0.5)
    r = x - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6
    rr = r * r
    p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
             + 9.99999999999999999910e-1)
    q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
         + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0
    e = 1.0 + 2.0 * (p / (q - p))
    return e * _float_from_bits((np.int64(n) + 1023) << 52)


def exp(x):
    """exp(x) for a float32 or float64 x, in its dtype (see the module's docstring)."""
    return np.exp(x)


@overload(exp)
def _exp(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    if x == types.float64:
        return lambda x: _exp64(x)
