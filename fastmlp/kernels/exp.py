"""exp(x) as plain arithmetic, so that loops over a row (sigmoid, softmax) vectorize.

``np.exp`` inside a loop is a call into libm per element (no SVML in PyPI's llvmlite). Here
it is Cephes' method in the argument's own dtype: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by
a polynomial (float32) or a rational function (float64), each within ~1 ulp, times 2^n built
in the float's exponent bits. x is clamped to where 2^n is a normal number, so the result is
always finite: it saturates (float32: between 1.2e-38 and 2.2e38) where exp would overflow to
inf or underflow to 0. NaN stays NaN.

``exp`` is the scalar kernel; ``vector_exp`` builds the same arithmetic on an LLVM vector, for
intrinsics (``vectors``), from the same constants. ``sigmoid`` and ``vector_sigmoid`` take
1 / (1 + exp(-z)) from the same parts: float64's in one division (see ``vector_sigmoid``),
saturating at 1.2e-308 for z below -709 (0 while the kernels flush subnormals).
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .jit import by_dtype, inline_kernel

LOG2E = 1.4426950408889634073599
# float32: the clamp, ln2 in two parts (n * the first is exact), the polynomial's coefficients.
LOW32, HIGH32 = -87.3, 88.3
LN2_32 = (0.693359375, -2.12194440e-4)
P32 = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
       5.0000001201e-1)
# float64: the same, with a rational function p / q.
LOW64, HIGH64 = -708.3, 709.0
LN2_64 = (6.93145751953125e-1, 1.42860682030941723212e-6)
P64 = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
Q64 = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
       2.00000000000000000009e0)


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
    x = np.float32(LOW32) if value < np.float32(LOW32) else value
    x = np.float32(HIGH32) if x > np.float32(HIGH32) else x
    n = np.floor(x * np.float32(LOG2E) + np.float32(0.5))
    r = x - n * np.float32(LN2_32[0]) - n * np.float32(LN2_32[1])
    n = n if n == n else np.float32(0.0)  # (NaN has no integer; r makes the result NaN)
    p = np.float32(P32[0])
    p = p * r + np.float32(P32[1])
    p = p * r + np.float32(P32[2])
    p = p * r + np.float32(P32[3])
    p = p * r + np.float32(P32[4])
    p = p * r + np.float32(P32[5])
    p = p * (r * r) + r + np.float32(1.0)
    # (Numba widens int32 arithmetic to int64: narrow the bits again.)
    return p * _float_from_bits(np.int32((np.int64(n) + 127) << 23))


@inline_kernel
def exp64_parts(value):
    """float64's exp(value) = 2^n (q + p) / (q - p), value clamped: (p, q, 2^n)."""
    x = LOW64 if value < LOW64 else value
    x = HIGH64 if x > HIGH64 else x
    n = np.floor(x * LOG2E + 0.5)
    r = x - n * LN2_64[0] - n * LN2_64[1]
    rr = r * r
    p = r * ((P64[0] * rr + P64[1]) * rr + P64[2])
    q = ((Q64[0] * rr + Q64[1]) * rr + Q64[2]) * rr + Q64[3]
    n = n if n == n else 0.0  # (NaN has no integer; p and q make the result NaN)
    return p, q, _float_from_bits((np.int64(n) + 1023) << 52)


@inline_kernel
def _exp64(value):
    p, q, two_n = exp64_parts(value)
    return (1.0 + 2.0 * (p / (q - p))) * two_n


@by_dtype(_exp32, _exp64)
def exp(x):
    """exp(x) for a float32 or float64 x, in its dtype, in kernels (see the module's
    docstring); called from Python, NumPy's."""
    return np.exp(x)


@inline_kernel
def _sigmoid32(z):
    return np.float32(1.0) / (np.float32(1.0) + _exp32(-z))


@inline_kernel
def _sigmoid64(z):
    p, q, two_n = exp64_parts(-z)
    below = q - p
    return below / (below + two_n * (q + p))


@by_dtype(_sigmoid32, _sigmoid64)
def sigmoid(z):
    """1 / (1 + exp(-z)) for a float32 or float64 z, in kernels as ``vector_sigmoid`` takes it
    lane by lane; called from Python, NumPy's."""
    return 1.0 / (1.0 + np.exp(-z))


def splat_constant(vector_t: ir.VectorType, c: float) -> ir.Constant:
    """The constant vector of c in every lane."""
    return ir.Constant(vector_t, [c] * vector_t.count)


def lanewise(builder: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """IR for LLVM's intrinsic ``llvm.<name>`` (floor, fabs, copysign, ...) on vectors of one
    type, lane by lane."""
    vector_t = args[0].type
    f = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector_t, [vector_t] * len(args)),
        f"llvm.{name}.v{vector_t.count}{vector_t.element.intrinsic_name}")
    return builder.call(f, list(args))


def horner(builder: ir.IRBuilder, r: ir.Value, coefficients, flags) -> ir.Value:
    """IR for the polynomial of r with ``coefficients``, highest degree first (Horner's rule)."""
    p = splat_constant(r.type, coefficients[0])
    for c in coefficients[1:]:
        p = builder.fadd(builder.fmul(p, r, flags=flags), splat_constant(r.type, c), flags=flags)
    return p


def _reduce_argument(builder: ir.IRBuilder, x: ir.Value):
    """x clamped (see the module's docstring), then split as n ln2 + r: (n, r, r * r)."""
    vector_t = x.type
    flags = ("contract",)  # (no reassoc: ln2's two parts must be subtracted one by one)

    def splat(c):
        return splat_constant(vector_t, c)

    is_float = isinstance(vector_t.element, ir.FloatType)
    low, high = (LOW32, HIGH32) if is_float else (LOW64, HIGH64)
    x = builder.select(builder.fcmp_ordered("<", x, splat(low)), splat(low), x)
    x = builder.select(builder.fcmp_ordered(">", x, splat(high)), splat(high), x)
    n = lanewise(builder, "floor", builder.fadd(builder.fmul(x, splat(LOG2E), flags=flags),
                                                splat(0.5), flags=flags))
    ln2 = LN2_32 if is_float else LN2_64
    r = builder.fsub(builder.fsub(x, builder.fmul(n, splat(ln2[0]), flags=flags), flags=flags),
                     builder.fmul(n, splat(ln2[1]), flags=flags), flags=flags)
    return n, r, builder.fmul(r, r, flags=flags)


def _power_of_two(builder: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """2^n for each lane of n (whole numbers where 2^n is a normal float), from its bits; 1 in
    NaN lanes (which have no integer to convert: their results are NaN from r anyway)."""
    vector_t = n.type
    n = builder.select(builder.fcmp_unordered("uno", n, n), ir.Constant(vector_t, None), n)
    is_float = isinstance(vector_t.element, ir.FloatType)
    bits_t, bias, shift = (ir.IntType(32), 127, 23) if is_float else (ir.IntType(64), 1023, 52)
    int_t = ir.VectorType(bits_t, vector_t.count)
    bits = builder.shl(builder.add(builder.fptosi(n, int_t), ir.Constant(int_t, bias)),
                       ir.Constant(int_t, shift))
    return builder.bitcast(bits, vector_t)


def _rational64(builder: ir.IRBuilder, r: ir.Value, rr: ir.Value, flags):
    """float64's exp(r) = (q + p) / (q - p): (p, q)."""
    p = builder.fmul(r, horner(builder, rr, P64, flags), flags=flags)
    return p, horner(builder, rr, Q64, flags)


def vector_exp64_parts(builder: ir.IRBuilder, x: ir.Value):
    """float64's exp(x) = above / below for each lane of x (clamped), as ``exp64_parts``: (below,
    above) = (q - p, 2^n (q + p)), for a quotient that needs one division."""
    flags = ("contract",)
    n, r, rr = _reduce_argument(builder, x)
    p, q = _rational64(builder, r, rr, flags)
    above = builder.fmul(_power_of_two(builder, n), builder.fadd(q, p, flags=flags), flags=flags)
    return builder.fsub(q, p, flags=flags), above


def vector_exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """IR for exp of each lane of x, a vector of float or double: ``exp``'s arithmetic."""
    vector_t = x.type
    flags = ("contract",)
    n, r, rr = _reduce_argument(builder, x)
    if isinstance(vector_t.element, ir.FloatType):
        e = builder.fadd(builder.fadd(builder.fmul(horner(builder, r, P32, flags), rr, flags=flags),
                                      r, flags=flags), splat_constant(vector_t, 1.0), flags=flags)
    else:
        p, q = _rational64(builder, r, rr, flags)
        e = builder.fadd(splat_constant(vector_t, 1.0), builder.fmul(
            splat_constant(vector_t, 2.0), builder.fdiv(p, builder.fsub(q, p, flags=flags),
                                                        flags=flags), flags=flags), flags=flags)
    return builder.fmul(e, _power_of_two(builder, n), flags=flags)


def vector_sigmoid(builder: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """IR for 1 / (1 + exp(-z)) of each lane of z. float64's in one division, (q - p) /
    ((q - p) + 2^n (q + p)) with exp(-z) = 2^n (q + p) / (q - p), where 1 / (1 + exp(-z))
    took two: float64 divisions are slow (a 512-bit one per 16 cycles on this project's Xeon),
    and a batch-128 epoch's sigmoids of MNIST took 4.9x float32's time."""
    vector_t = z.type
    flags = ("contract",)
    one = splat_constant(vector_t, 1.0)
    minus_z = builder.fsub(ir.Constant(vector_t, None), z, flags=flags)
    if isinstance(vector_t.element, ir.FloatType):
        return builder.fdiv(one, builder.fadd(one, vector_exp(builder, minus_z), flags=flags),
                            flags=flags)
    below, above = vector_exp64_parts(builder, minus_z)
    return builder.fdiv(below, builder.fadd(below, above, flags=flags), flags=flags)
