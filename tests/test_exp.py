"""The kernels' exp against NumPy's: within a few ulps, finite where NumPy's overflows, NaN kept."""
import numpy as np
import pytest
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from fastmlp.kernels.exp import exp, sigmoid, vector_exp
from fastmlp.kernels.vectors import sigmoid_row

LANES = 16


@intrinsic
def _exp_of_vector(typingctx, x, out):
    """out[:LANES] <- vector_exp(x[:LANES]), as one LLVM vector."""
    def codegen(context, builder, signature, args):
        vector_t = ir.VectorType(context.get_value_type(x.dtype), LANES)
        x_ptr, out_ptr = (builder.bitcast(make_array(ty)(context, builder, v).data,
                                          vector_t.as_pointer()) for ty, v in zip((x, out), args))
        builder.store(vector_exp(builder, builder.load(x_ptr, align=1)), out_ptr, align=1)
        return context.get_dummy_value()
    return types.void(x, out), codegen


@njit
def vector_exp_each(x, out):
    for i in range(0, x.shape[0], LANES):
        _exp_of_vector(x[i:i + LANES], out[i:i + LANES])


@njit
def exp_each(x, out):
    for j in range(x.shape[0]):
        out[j] = exp(x[j])


def kernel_exp(x):
    out = np.empty_like(x)
    exp_each(x, out)
    return out


def vector_kernel_exp(x):
    """``vector_exp``, LANES entries at a time."""
    padded = np.concatenate([x, np.zeros(-len(x) % LANES, x.dtype)])
    out = np.empty_like(padded)
    vector_exp_each(padded, out)
    return out[:len(x)]


# Where 2^n is a normal number of the dtype (beyond, exp saturates).
RANGES = {np.float32: (-87.3, 88.3), np.float64: (-708.3, 709.0)}


EXPS = [kernel_exp, vector_kernel_exp]


@pytest.mark.parametrize("kernel_exp", EXPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_is_within_two_ulps(dtype, kernel_exp):
    low, high = RANGES[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(low, high, 100_001), rng.standard_normal(100_000) * 5,
                        rng.uniform(-1, 1, 10_000) * 1e-6, [0.0, -0.0]]).astype(dtype)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs(kernel_exp(x) - exact) / (np.spacing(exact.astype(dtype)))
    assert ulps.max() <= 2, x[np.argmax(ulps)]
    assert kernel_exp(np.zeros(1, dtype))[0] == 1


@pytest.mark.parametrize("kernel_exp", EXPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_saturates_instead_of_overflowing_and_keeps_nan(dtype, kernel_exp):
    low, high = RANGES[dtype]
    x = np.array([high, high + 1, 1e30, np.inf, low, low - 1, -1e30, -np.inf, np.nan], dtype)
    out = kernel_exp(x)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out[:-1])) and np.all(out[:-1] > 0)
    assert np.all(out[1:4] == out[0]) and np.all(out[5:8] == out[4])
    assert np.isnan(out[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_exp_is_the_scalar_exp(dtype):
    x = np.random.default_rng(1).standard_normal(100_000).astype(dtype) * 20
    np.testing.assert_array_max_ulp(vector_kernel_exp(x), kernel_exp(x), maxulp=1)


@njit
def sigmoid_each(z, out):
    for j in range(z.shape[0]):
        out[j] = sigmoid(z[j])


@njit
def sigmoid_rows(z):
    for s in range(0, z.shape[0], 37):
        sigmoid_row(z[s:s + 37])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_of_a_row_is_the_scalar_kernels(dtype):
    """A row's sigmoid (vectors) and the scalar kernel's (rows of up to 4 entries, CPUs
    without masked loads) are the same arithmetic, float64's in one division, but for where
    LLVM fuses multiply-adds (3 ulps apart at most, rarely more than 0); within 2.5 ulps of
    the exact sigmoid; NaN kept, 1 and ~0 far out."""
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.standard_normal(37_000) * s for s in (1e-3, 1, 5, 40, 300)]
                       + [[0.0, -0.0, 1e-300, 700, -700, 708.9, -708.9, 709.5, -709.5, 745,
                           -745, 1e4, -1e4, 1e300, -1e300, np.inf, -np.inf, np.nan]])
    with np.errstate(over="ignore"):
        z = np.concatenate([z, np.zeros(-len(z) % 37)]).astype(dtype)
    scalar, vector = np.empty_like(z), z.copy()
    sigmoid_each(z, scalar)
    sigmoid_rows(vector)
    nan = np.isnan(z)
    assert np.isnan(scalar[nan]).all() and np.isnan(vector[nan]).all()
    assert not np.isnan(scalar[~nan]).any() and not np.isnan(vector[~nan]).any()
    np.testing.assert_array_max_ulp(vector[~nan], scalar[~nan], maxulp=3)
    assert (vector != scalar).mean() < 0.01
    with np.errstate(over="ignore"):
        exact = 1 / (1 + np.exp(-z[~nan].astype(np.longdouble)))
    normal = exact > (1e-37 if dtype == np.float32 else 1e-307)  # (not saturated)
    ulps = np.abs(vector[~nan] - exact) / np.spacing(exact.astype(dtype))
    assert ulps[normal].max() <= 2.5
    assert (vector[z > 50] == 1).all() and (vector[z < -800] < 1e-37).all()
