"""The kernels' exp against NumPy's: within a few ulps, finite where NumPy's overflows, NaN kept."""
import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.exp import exp


@njit
def exp_each(x, out):
    for j in range(x.shape[0]):
        out[j] = exp(x[j])


def kernel_exp(x):
    out = np.empty_like(x)
    exp_each(x, out)
    return out


# Where 2^n is a normal number of the dtype (beyond, exp saturates).
RANGES = {np.float32: (-87.3, 88.3), np.float64: (-708.3, 709.0)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_is_within_two_ulps(dtype):
    low, high = RANGES[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(low, high, 100_001), rng.standard_normal(100_000) * 5,
                        rng.uniform(-1, 1, 10_000) * 1e-6, [0.0, -0.0]]).astype(dtype)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs(kernel_exp(x) - exact) / (np.spacing(exact.astype(dtype)))
    assert ulps.max() <= 2, x[np.argmax(ulps)]
    assert kernel_exp(np.zeros(1, dtype))[0] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_saturates_instead_of_overflowing_and_keeps_nan(dtype):
    low, high = RANGES[dtype]
    x = np.array([high, high + 1, 1e30, np.inf, low, low - 1, -1e30, -np.inf, np.nan], dtype)
    out = kernel_exp(x)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out[:-1])) and np.all(out[:-1] > 0)
    assert np.all(out[1:4] == out[0]) and np.all(out[5:8] == out[4])
    assert np.isnan(out[-1])
