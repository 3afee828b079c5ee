"""tanh(x) as plain arithmetic, so that a row's loop vectorizes, as ``exp`` does for sigmoid.

``np.tanh`` in a loop is a call into libm per element: a tanh network's MNIST epoch took 1.35x
a sigmoid network's per sample and 1.45x at batch 128. Here it is Cephes' method in the
argument's own dtype: for |x| >= 0.625, 1 - 2 / (exp(2|x|) + 1) with the sign of x (float32:
``exp`` saturates, so tanh reaches +-1 and never NaN for large |x|; float64: in one division
from exp's parts, 2|x| held to 40, where tanh is 1 to the last bit: float64 tanh networks
1.022-1.028x); below, x + x^3 P(x^2), a polynomial (float32) or a rational function
(float64), where that subtraction would cancel. Within 2 ulps of NumPy's. NaN stays NaN.

``tanh`` is the scalar kernel; ``vector_tanh`` builds the same arithmetic on an LLVM vector.
"""
import numpy as np
from llvmlite import ir

from .exp import exp, exp64_parts, horner, lanewise, splat_constant, vector_exp, \
    vector_exp64_parts
from .jit import by_dtype, inline_kernel

SMALL = 0.625  # below: the polynomial
LARGE_64 = 40.0  # 2|x| beyond which float64's tanh(x) rounds to +-1 (1 - 2 e^-40 does)
P32 = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
       -3.33332819422e-1)
P64 = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
Q64 = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)


@inline_kernel
def _tanh32(x):
    z = np.abs(x)
    if z >= np.float32(SMALL):
        return np.copysign(np.float32(1.0) - np.float32(2.0) / (exp(z + z) + np.float32(1.0)),
                           x)
    s = x * x
    p = np.float32(P32[0])
    p = p * s + np.float32(P32[1])
    p = p * s + np.float32(P32[2])
    p = p * s + np.float32(P32[3])
    p = p * s + np.float32(P32[4])
    return np.copysign(p * s * x + x, x)  # (-0.0 stays -0.0)


@inline_kernel
def _tanh64(x):
    z = np.abs(x)
    if z >= SMALL:
        # 1 - 2 / (exp(2z) + 1) in one division, with exp(2z) = 2^n (q + p) / (q - p); 2z
        # held to LARGE_64, where tanh is 1 to the last bit, so that 2^n (q + p) stays finite.
        p, q, two_n = exp64_parts(LARGE_64 if z + z > LARGE_64 else z + z)
        below = q - p
        return np.copysign(1.0 - (below + below) / (two_n * (q + p) + below), x)
    s = x * x
    p = (P64[0] * s + P64[1]) * s + P64[2]
    q = ((s + Q64[0]) * s + Q64[1]) * s + Q64[2]
    return np.copysign(x + x * s * (p / q), x)


@by_dtype(_tanh32, _tanh64)
def tanh(x):
    """tanh(x) for a float32 or float64 x, in its dtype, in kernels (see the module's
    docstring); called from Python, NumPy's."""
    return np.tanh(x)


def vector_tanh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """IR for tanh of each lane of x, a vector of float or double: ``tanh``'s arithmetic
    (float64's large branch in one division: within 1.54 ulp of a long-double tanh, 1.34
    with two), both branches, each lane taking its own."""
    vector_t = x.type
    flags = ("contract",)

    def splat(c):
        return splat_constant(vector_t, c)

    def mul(a, b):
        return builder.fmul(a, b, flags=flags)

    def add(a, b):
        return builder.fadd(a, b, flags=flags)

    z = lanewise(builder, "fabs", x)
    s = mul(x, x)
    if isinstance(vector_t.element, ir.FloatType):
        large = builder.fsub(splat(1.0), builder.fdiv(
            splat(2.0), add(vector_exp(builder, add(z, z)), splat(1.0)), flags=flags), flags=flags)
        small = add(mul(mul(horner(builder, s, P32, flags), s), x), x)
    else:
        # As ``_tanh64``: one division, and 2z held to LARGE_64.
        two_z = add(z, z)
        two_z = builder.select(builder.fcmp_ordered(">", two_z, splat(LARGE_64)), splat(LARGE_64),
                               two_z)
        below, above = vector_exp64_parts(builder, two_z)
        large = builder.fsub(splat(1.0), builder.fdiv(add(below, below), add(above, below),
                                                      flags=flags), flags=flags)
        p = horner(builder, s, P64, flags)
        q = add(mul(add(mul(add(s, splat(Q64[0])), s), splat(Q64[1])), s), splat(Q64[2]))
        small = add(x, mul(mul(x, s), builder.fdiv(p, q, flags=flags)))
    return lanewise(builder, "copysign", builder.select(
        builder.fcmp_ordered(">=", z, splat(SMALL)), large, small), x)
