"""The kernels' tanh (scalar, and a row's vectors) against NumPy's: within a few ulps, +-1 for
large |x|, NaN kept."""
import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.tanh import SMALL, tanh
from fastmlp.kernels.vectors import VECTOR_LANES, tanh_row


@njit
def tanh_each(x, out):
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])


@njit
def tanh_in_vectors(z):
    tanh_row(z)


def arguments(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(2000) * s for s in (1e-6, 1e-2, 0.3, 1, 4, 30)]
                       + [np.linspace(-2 * SMALL, 2 * SMALL, 4001), [0.0, 1e-30, -1e-30, 100,
                                                                    -100, 1e6, -1e6]])
    return x.astype(dtype)


def ulps(got, x):
    """|got - tanh(x)| in units of the dtype's spacing at tanh(x) (NumPy's, in float64)."""
    want = np.tanh(x.astype(np.float64))
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(x.dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_numpys_within_a_few_ulps(dtype):
    x = arguments(dtype)
    scalar = np.empty_like(x)
    tanh_each(x, scalar)
    # In vectors, rows of every length of a vector's lanes or less, and longer.
    vector = x.copy()
    for start, n in ((0, 1), (1, 5), (6, VECTOR_LANES), (6 + VECTOR_LANES, len(x) - 22)):
        tanh_in_vectors(vector[start:start + n])
    for got in (scalar, vector):
        assert ulps(got, x).max() <= 3
        assert np.all(np.abs(got) <= 1) and np.array_equal(np.sign(got), np.sign(x))
        assert np.all(got[np.abs(x) > 20] == np.sign(x[np.abs(x) > 20]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_nan_and_saturates_at_infinity(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1.0], dtype)
    for f in (tanh_each, None):
        got = np.empty_like(x)
        if f is None:
            got[:] = x
            tanh_in_vectors(got)
        else:
            f(x, got)
        assert np.isnan(got[0]) and got[1] == 1 and got[2] == -1
        assert got[3] == pytest.approx(np.tanh(1.0), rel=1e-6)
