"""Listing a row's nonzero entries a vector at a time (fastmlp/kernels/compact.py), against
NumPy's flatnonzero."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import njit

from fastmlp.kernels.compact import bit_positions, lanes
from fastmlp.kernels.forward import nonzeros


@njit
def listed(a, index):
    return nonzeros(a, index)


def check(a):
    """The listing is flatnonzero's, and nothing is written past an index of a's length."""
    n = a.shape[0]
    buffer = np.full(n + 16, -7, np.int32)
    k = listed(a, buffer[:n])
    np.testing.assert_array_equal(buffer[:k], np.flatnonzero(a != 0))
    assert (buffer[n:] == -7).all()


def test_bit_positions_lists_the_set_bits():
    table = bit_positions(4)
    assert table.shape == (16, 4)
    assert list(table[0b1010, :2]) == [1, 3]
    assert list(table[0b1111]) == [0, 1, 2, 3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_counts_as_nonzero_and_negative_zero_as_zero(dtype):
    a = np.zeros(2 * lanes(dtype) + 3, dtype)
    a[[1, 5, -1]] = [np.nan, -0.0, np.inf]
    a[lanes(dtype)] = -2.5
    check(a)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.integers(0, 40), st.floats(0, 1),
       st.integers(0, 2 ** 32 - 1))
def test_nonzeros_are_flatnonzero(dtype, n, zeros, seed):
    """Every length (whole vectors and a remainder) and density, in both dtypes."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n).astype(dtype)
    a[rng.random(n) < zeros] = 0
    check(a)


def test_a_block_of_rows_lists_each_row_in_turn():
    """input_nonzeros: rows listed back to back in one index buffer (each row's vectors may
    write past its own entries, into the space the next row then overwrites)."""
    from fastmlp.kernels.forward import input_nonzeros
    rng = np.random.default_rng(3)
    A = rng.normal(size=(5, 21)).astype(np.float32)
    A[rng.random(A.shape) < 0.6] = 0
    ptr = np.empty(6, np.int64)
    index = np.empty(A.size, np.int32)
    total = njit(lambda A, p, i: input_nonzeros(A, p, i))(A, ptr, index)
    assert total == np.count_nonzero(A)
    for s in range(5):
        np.testing.assert_array_equal(index[ptr[s]:ptr[s + 1]], np.flatnonzero(A[s]))
