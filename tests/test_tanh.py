"""The kernels' tanh (scalar, and a row's vectors) against NumPy's: within an ulp or two, +-1
for large |x|, the sign of zero and NaN kept, nothing written past a row."""
import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.tanh import SMALL, tanh
from fastmlp.kernels.vectors import VECTOR_LANES, tanh_row

# Most ulps from NumPy's tanh over ``arguments`` (measured: 1.21 and 2.0, NumPy's own float64
# tanh off by up to an ulp); the polynomial's switch moved from 0.625 to 0.3 gives 2.4.
MOST_ULPS = {np.float32: 1.5, np.float64: 2.0}


@njit
def tanh_each(x, out):
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])


@njit
def tanh_in_vectors(z):
    tanh_row(z)


def arguments(dtype):
    rng = np.random.default_rng(0)
    switch = dtype(SMALL)
    near = switch + np.arange(-1000, 1000) * np.spacing(switch)  # floats around the switch
    x = np.concatenate([rng.standard_normal(2000) * s for s in (1e-6, 1e-2, 0.3, 1, 4, 30)]
                       + [np.linspace(-2 * SMALL, 2 * SMALL, 4001), near, -near,
                          [0.0, 1e-30, -1e-30, 100, -100, 1e6, -1e6]])
    return x.astype(dtype)


def ulps(got, x):
    """|got - tanh(x)| in units of the dtype's spacing at tanh(x) (NumPy's, in float64)."""
    want = np.tanh(x.astype(np.float64))
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(x.dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_numpys_within_an_ulp_or_two(dtype):
    x = arguments(dtype)
    scalar = np.empty_like(x)
    tanh_each(x, scalar)
    vector = x.copy()
    tanh_in_vectors(vector)
    for got in (scalar, vector):
        assert ulps(got, x).max() <= MOST_ULPS[dtype]
        assert np.all(np.abs(got) <= 1) and np.array_equal(np.signbit(got), np.signbit(x))
        assert np.all(got[np.abs(x) > 20] == np.sign(x[np.abs(x) > 20]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_row_takes_every_length_and_writes_nothing_past_it(dtype):
    rng = np.random.default_rng(1)
    for n in range(0, 3 * VECTOR_LANES + 2):
        z0 = rng.standard_normal(n) * 2
        # 3 past the row: writing over it would show.
        z = np.concatenate([z0, np.full(VECTOR_LANES, 3.0)]).astype(dtype)
        tanh_in_vectors(z[:n])
        assert ulps(z[:n], z0.astype(dtype)).max(initial=0) <= MOST_ULPS[dtype]
        assert (z[n:] == 3).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_nan_and_saturates_at_infinity(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1.0, -0.0], dtype)
    scalar = np.empty_like(x)
    tanh_each(x, scalar)
    vector = x.copy()
    tanh_in_vectors(vector)
    for got in (scalar, vector):
        assert np.isnan(got[0]) and got[1] == 1 and got[2] == -1
        assert got[3] == pytest.approx(np.tanh(1.0), rel=1e-6)
        assert got[4] == 0 and np.signbit(got[4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_of_a_row_is_the_scalar_kernels(dtype):
    """A row's tanh (vectors) and the scalar kernel's (rows of up to 4 entries, CPUs without
    masked loads) are the same arithmetic, float64's large branch in one division, but for
    where LLVM fuses multiply-adds (about 1% of these arguments, 2 ulps apart at most)."""
    x = arguments(dtype)
    scalar, vector = np.empty_like(x), x.copy()
    tanh_each(x, scalar)
    tanh_in_vectors(vector)
    np.testing.assert_array_max_ulp(vector, scalar, maxulp=2)
    assert (vector != scalar).mean() < 0.02
