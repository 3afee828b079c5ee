"""Narrow rows as masked vectors (fastmlp/kernels/vectors.py), against NumPy: every width they
take, every remainder of the four-input steps, and nothing read or written past a row's
end."""
import numpy as np
import pytest
from numba import njit
from numba.core.registry import cpu_target

from fastmlp.kernels.vectors import BLOCK_VECTORS, MASKED_LOADS, PENDING_FROM_BYTES, \
    SCALAR_UP_TO, STEP_VECTORS, SUM_VECTORS, VECTOR_LANES, blocks_in_vectors, fits_vector, \
    is_narrow, map_in_vectors, narrow_block_step, narrow_rows_sum, one_vector_cross_entropy, \
    pending_rows_sum, sigmoid_row, steps_in_vectors, steps_with_tails, sums_in_vectors, \
    takes_pending_rows, whole_vector_block_step, whole_vector_rows_step


@njit
def rows_sum(a, index, k, W, z):
    narrow_rows_sum(a, index, k, W, z)


DTYPES = [np.float32, np.float64]


def lanes(dtype) -> int:
    return VECTOR_LANES


def masked_loads() -> bool:
    """Whether Numba compiles for a CPU with masked loads."""
    features = cpu_target.target_context.codegen()._tm_features.split(",")
    return any(f in features for f in MASKED_LOADS)


@njit
def narrow(W):
    return is_narrow(W)


@njit
def summed_in_vectors(W):
    return sums_in_vectors(W)


@njit
def stepped_in_vectors(W):
    return steps_in_vectors(W)


@njit
def stepped_with_tails(W):
    return steps_with_tails(W)


@njit
def rows_step(a, index, k, W, d, lr, last_first):
    whole_vector_rows_step(a, index, k, W, d, lr, last_first, True)


@njit
def whole_rows_step(a, index, k, W, d, lr, last_first):
    whole_vector_rows_step(a, index, k, W, d, lr, last_first, False)


@njit
def pending_sum(a, index, k, W, z, slot, coef, D):
    pending_rows_sum(a, index, k, W, z, slot, coef, D)


@njit
def takes_pending(W):
    return takes_pending_rows(W)


@njit
def block_step(a, W, d, d_prev, lr, first):
    narrow_block_step(a, W, d, d_prev, lr, first)


@njit
def wide_block_step(a, W, d, d_prev, lr, first):
    whole_vector_block_step(a, W, d, d_prev, lr, first)


@njit
def stepped_in_blocks(W):
    return blocks_in_vectors(W)


@njit
def in_one_vector(z):
    return fits_vector(z)


@njit
def cross_entropy(z, t, delta, scale):
    return one_vector_cross_entropy(z, t, delta, scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_which_widths_take_the_vector_kernels(dtype):
    for n in range(1, (STEP_VECTORS + 1) * lanes(dtype) + 2):
        W = np.zeros((3, n), dtype)
        wide = SCALAR_UP_TO < n and masked_loads()
        assert narrow(W) == (wide and n <= lanes(dtype))
        assert summed_in_vectors(W) == (wide and n <= SUM_VECTORS * lanes(dtype))
        assert in_one_vector(W[0]) == (masked_loads() and n <= lanes(dtype))
    for n in range(1, (STEP_VECTORS + 1) * lanes(dtype) + 2):
        whole = masked_loads() and n % lanes(dtype) == 0 and n <= STEP_VECTORS * lanes(dtype)
        assert stepped_in_vectors(np.zeros((3, n), dtype)) == whole
        # 1 to STEP_VECTORS whole vectors, and maybe part of one more
        tailed = masked_loads() and lanes(dtype) <= n < (STEP_VECTORS + 1) * lanes(dtype)
        assert stepped_with_tails(np.zeros((3, n), dtype)) == tailed
        blocks = whole and lanes(dtype) < n <= BLOCK_VECTORS * lanes(dtype)
        assert stepped_in_blocks(np.zeros((3, n), dtype)) == blocks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_rows_sum_is_the_selected_rows_weighted_sum(dtype, index_dtype):
    rng = np.random.default_rng(0)
    for n in range(1, SUM_VECTORS * lanes(dtype) + 1):
        W = rng.standard_normal((9, n)).astype(dtype)
        a = rng.standard_normal(9).astype(dtype)
        for k in range(9):  # 0, 1, 2, 3 left over after the steps of four
            index = rng.permutation(9)[:k].astype(index_dtype)
            z = np.full(n + lanes(dtype), 7, dtype)
            rows_sum(a, index, k, W, z)
            expected = a[index] @ W[index] if k else np.zeros(n)
            np.testing.assert_allclose(z[:n], expected, rtol=1e-5, atol=1e-5)
            assert (z[n:] == 7).all()  # nothing stored past the row


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "whole-vectors"])
def test_block_step_takes_its_rows_dot_products_then_steps_them_only(dtype, wide):
    rng = np.random.default_rng(4)
    widths = ([v * lanes(dtype) for v in range(2, BLOCK_VECTORS + 1)] if wide
              else range(1, lanes(dtype) + 1))
    step = wide_block_step if wide else block_step
    for n in widths:
        # A block of the first rows, one with rows on both sides, one of the last rows.
        for first, after in [(0, 2), (3, 2), (3, 0)]:
            rows = lanes(dtype)
            W = rng.standard_normal((first + rows + after, n)).astype(dtype)
            # NaN in d past n, in a outside the block, in d_prev around it: reading or
            # writing any of them would show.
            a = np.full(len(W), np.nan, dtype)
            a[first:first + rows] = rng.standard_normal(rows)
            d = np.concatenate([rng.standard_normal(n), np.full(lanes(dtype), np.nan)])
            d = d.astype(dtype)
            d_prev = np.full(len(W), np.nan, dtype)
            before = W.copy()
            step(a, W, d[:n], d_prev, dtype(0.5), first)
            block = slice(first, first + rows)
            np.testing.assert_allclose(d_prev[block], before[block] @ d[:n], rtol=1e-5,
                                       atol=1e-5)
            np.testing.assert_allclose(W[block], before[block] - np.outer(0.5 * a[block], d[:n]),
                                       rtol=1e-5, atol=1e-6)
            outside = np.ones(len(W), bool)
            outside[block] = False
            np.testing.assert_array_equal(W[outside], before[outside])
            assert np.isnan(d_prev[outside]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last_first", [False, True])
@pytest.mark.parametrize("tails", [True, False], ids=["tails", "whole-rows"])
def test_rows_step_steps_the_selected_rows_only(dtype, last_first, tails):
    """Every width it takes: whole vectors, then (with ``tails``) the entries after them one
    by one; nothing written outside the selected rows, past the last row's end included."""
    rng = np.random.default_rng(2)
    step = rows_step if tails else whole_rows_step
    for n in range(lanes(dtype), (STEP_VECTORS + 1) * lanes(dtype)):
        if not tails and n % lanes(dtype):
            continue
        buffer = np.full(9 * n + lanes(dtype), np.nan, dtype)
        W = buffer[:9 * n].reshape(9, n)
        W[:] = rng.standard_normal((9, n))
        a = rng.standard_normal(9).astype(dtype)
        d = rng.standard_normal(n).astype(dtype)
        for k in range(9):
            index = rng.permutation(9)[:k].astype(np.int32)
            before = W.copy()
            step(a, index, k, W, d, dtype(0.5), last_first)
            expected = before.copy()
            expected[index] -= np.outer(dtype(0.5) * a[index], d)
            np.testing.assert_allclose(W, expected, rtol=1e-5, atol=1e-6)
            others = np.setdiff1d(np.arange(9), index)
            np.testing.assert_array_equal(W[others], before[others])
            assert np.isnan(buffer[9 * n:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_pending_rows_sum_steps_the_listed_rows_then_sums_them(dtype):
    """Each listed row takes its waiting step (coef[i] times the deltas of its slot; the last
    slot holds zeros), then the sum of a[i] times the stepped rows; other rows, and the
    entries past every vector, are left alone."""
    if not masked_loads():
        pytest.skip("no masked loads: the vector kernels are not used")
    rng = np.random.default_rng(4)
    fewest = -(-PENDING_FROM_BYTES // (lanes(dtype) * np.dtype(dtype).itemsize))
    for count in range(fewest, STEP_VECTORS + 1):
        n = count * lanes(dtype)
        W = rng.standard_normal((11, n)).astype(dtype)
        a = rng.standard_normal(11).astype(dtype)
        D = rng.standard_normal((4, n)).astype(dtype)
        D[3] = 0
        slot = rng.integers(0, 4, 11)
        coef = rng.standard_normal(11).astype(dtype)
        assert takes_pending(W)
        for k in range(10):  # (every remainder of the steps of 2 or 4 rows)
            index = rng.permutation(11)[:k].astype(np.int32)
            before = W.copy()
            z = np.full(n + 3, np.nan, dtype)
            pending_sum(a, index, k, W, z[:n], slot, coef, D)
            expected = before.copy()
            expected[index] -= coef[index, None] * D[slot[index]]
            np.testing.assert_allclose(W, expected, rtol=1e-5, atol=1e-6)
            others = np.setdiff1d(np.arange(11), index)
            np.testing.assert_array_equal(W[others], before[others])
            np.testing.assert_allclose(z[:n], a[index] @ expected[index], rtol=1e-4,
                                       atol=1e-5)
            assert np.isnan(z[n:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_which_rows_take_pending_steps(dtype):
    """Whole vectors, at least PENDING_FROM_BYTES and at most STEP_VECTORS of them."""
    if not masked_loads():
        pytest.skip("no masked loads: the vector kernels are not used")
    for n in range(1, STEP_VECTORS * lanes(dtype) + 2 * lanes(dtype)):
        W = np.zeros((2, n), dtype)
        expected = (n % lanes(dtype) == 0 and n <= STEP_VECTORS * lanes(dtype)
                    and n * W.itemsize >= PENDING_FROM_BYTES)
        assert takes_pending(W) == expected, n


def test_nan_in_a_row_propagates():
    W = np.ones((2, 10), np.float32)
    W[1, 9] = np.nan
    z = np.zeros(10, np.float32)
    rows_sum(np.ones(2, np.float32), np.array([0, 1], np.int32), 2, W, z)
    assert np.isnan(z[9]) and np.isfinite(z[:9]).all()
    W = np.ones((VECTOR_LANES, 10), np.float32)
    W[1, 9] = np.nan
    d_prev = np.zeros(VECTOR_LANES, np.float32)
    block_step(np.ones(VECTOR_LANES, np.float32), W, np.ones(10, np.float32), d_prev,
               np.float32(0.1), 0)
    assert np.isnan(d_prev[1]) and np.isfinite(np.delete(d_prev, 1)).all()


def softmax_cross_entropy(z, t, scale):
    """NumPy in float64: the loss, softmax(z) and scale * dL/dz."""
    z = z.astype(np.float64)
    log_p = z - z.max() - np.log(np.exp(z - z.max()).sum())
    p = np.exp(log_p)
    return -(t * log_p).sum(), p, scale * (p * t.sum() - t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_in_one_vector_is_numpys(dtype):
    rng = np.random.default_rng(3)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for n in range(1, lanes(dtype) + 1):
        for z0, t in [(rng.standard_normal(n) * 3, np.eye(n)[rng.integers(n)]),
                      (rng.standard_normal(n) * 30, rng.dirichlet(np.ones(n))),  # soft targets
                      (rng.standard_normal(n) + 500, np.zeros(n)),  # no target: loss 0
                      (np.full(n, -1e4), 2 * np.eye(n)[0])]:  # sum(t) 2; exp(z) underflows
            # NaN past z's, t's and delta's ends: reading them would make the results NaN,
            # and writing over them would show.
            z, t_, delta = (np.concatenate([v, np.full(lanes(dtype), np.nan)]).astype(dtype)
                            for v in (z0, t, np.zeros(n)))
            loss = cross_entropy(z[:n], t_[:n], delta[:n], dtype(0.25))
            expected_loss, p, d = softmax_cross_entropy(z0.astype(dtype), t, 0.25)
            assert isinstance(loss, float)
            np.testing.assert_allclose(loss, expected_loss, **tol)
            np.testing.assert_allclose(z[:n], p, **tol)
            np.testing.assert_allclose(delta[:n], d, **tol)
            assert np.isnan(z[n:]).all() and np.isnan(t_[n:]).all() and np.isnan(delta[n:]).all()


@njit
def sigmoid(z):
    sigmoid_row(z)


@njit
def sigmoid_takes(z):
    return map_in_vectors(z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_in_vectors_is_numpys(dtype):
    rng = np.random.default_rng(5)
    ulps = np.finfo(dtype).eps
    for n in range(0, 3 * lanes(dtype) + 2):
        assert sigmoid_takes(np.zeros(n, dtype)) == (SCALAR_UP_TO < n and masked_loads())
        z0 = rng.standard_normal(n) * 8
        z0[rng.random(n) < 0.1] = 1e4  # exp(-z) saturates (see ``exp``), and its reciprocal
        # 3 past the row: writing over it would show (each entry is its own sigmoid, so a
        # read past the row changes nothing).
        z = np.concatenate([z0, np.full(lanes(dtype), 3.0)]).astype(dtype)
        sigmoid(z[:n])
        expected = 1 / (1 + np.exp(-z0.astype(dtype).astype(np.float64)))
        np.testing.assert_allclose(z[:n], expected, rtol=2 * ulps, atol=ulps / 4)
        assert (z[n:] == 3).all()
    z = np.array([1.0, np.nan, -np.inf, np.inf, 0.0, -1e30, 3.0], dtype)
    sigmoid(z)
    np.testing.assert_array_equal(np.isnan(z), [False, True, False, False, False, False, False])
    assert z[2] < 1e-30 and z[3] == 1 and z[4] == 0.5 and z[5] < 1e-30


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_in_one_vector_keeps_nan_and_stays_finite_for_huge_z(dtype):
    z = np.array([1.0, np.nan, 2.0], dtype)
    assert np.isnan(cross_entropy(z, np.eye(3, dtype=dtype)[0], np.zeros(3, dtype), dtype(1)))
    assert np.isnan(z).all()
    n = lanes(dtype)
    for big in range(n):  # the max found in every lane
        z = np.zeros(n, dtype)
        z[big], z[(big + 1) % n] = 1e30, -1e30
        delta = np.zeros(n, dtype)
        t = np.eye(n, dtype=dtype)[(big + 2) % n]
        loss = cross_entropy(z, t, delta, dtype(1))
        assert np.isfinite(loss) and loss > 1e29
        expected = np.eye(n)[big]
        np.testing.assert_allclose(z, expected, atol=1e-30)  # (exp saturates: see ``exp``)
        np.testing.assert_allclose(delta, expected - t, atol=1e-30)
