"""The first layer's SGD step of a sparse batch (fastmlp/kernels/backward.py), in chunks of
W's rows of any size and row by row, against NumPy. Machines with a small L1d step rows of
whole vectors row by row, others in chunks (``backward.CHUNK_BYTES``): all must give the
same bits as sample by sample."""
import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.backward import BLOCK_SAMPLES, l1d_bytes, sparse_sgd_step, step_by_rows, \
    step_in_chunks
from fastmlp.kernels.compact import lowest_set_bit
from fastmlp.kernels.forward import input_nonzeros
from fastmlp.kernels.jit import FASTMATH

# (An inlined kernel compiles with its caller's flags: the kernels' own, as in training.)
kernel_flags = njit(fastmath=FASTMATH, error_model="numpy")


@kernel_flags
def stepped_in_chunks(A, ptr, index, D, W, lr, step):
    step_in_chunks(A, ptr, index, D, W, lr, step)


@kernel_flags
def stepped(A, ptr, index, D, W, lr):
    sparse_sgd_step(A, ptr, index, D, W, lr)


@kernel_flags
def stepped_by_rows(A, ptr, index, D, W, lr):
    step_by_rows(A, ptr, index, D, W, lr)


@njit
def listed(A, ptr, index):
    return input_nonzeros(A, ptr, index)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_out", [32, 20])  # whole vectors; and rows the loop steps
def test_chunks_of_any_size_give_the_same_step(dtype, n_out):
    rng = np.random.default_rng(7)
    rows, n_in = 9, 45
    A = rng.normal(size=(rows, n_in)).astype(dtype)
    A[rng.random(A.shape) < 0.6] = 0
    A[:, 5] = 0  # a row of W that no sample steps
    D = rng.normal(size=(rows, n_out)).astype(dtype)
    W0 = rng.normal(size=(n_in, n_out)).astype(dtype)
    ptr, index = np.empty(rows + 1, np.int64), np.empty(A.size, np.int32)
    assert listed(A, ptr, index) == np.count_nonzero(A)
    lr = dtype(0.3)

    W = W0.copy()
    stepped(A, ptr, index, D, W, lr)
    expected = W0.astype(np.float64) - 0.3 * A.astype(np.float64).T @ D.astype(np.float64)
    np.testing.assert_allclose(W, expected, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)
    assert (W[5] == W0[5]).all()
    for step in (1, 2, 7, n_in - 1, n_in, 1 << 62):
        W_chunks = W0.copy()
        stepped_in_chunks(A, ptr, index, D, W_chunks, lr, step)
        np.testing.assert_array_equal(W_chunks, W, err_msg=f"chunks of {step} rows")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_out", [16, 48, 128])  # rows of 1, 3 and 8 whole vectors
@pytest.mark.parametrize("rows", [0, 1, BLOCK_SAMPLES - 1, BLOCK_SAMPLES, BLOCK_SAMPLES + 1,
                                  2 * BLOCK_SAMPLES, 150])
def test_rows_stepped_in_registers_take_the_samples_steps_in_order(dtype, n_out, rows):
    # A row by row step holds each row in registers while every sample of a block of
    # BLOCK_SAMPLES that steps it does, in the samples' order: the same bits as stepping the
    # row sample by sample (chunks of one row, each sample's steps in turn).
    rng = np.random.default_rng(rows * n_out)
    n_in = 70
    A = rng.normal(size=(rows, n_in)).astype(dtype)
    A[rng.random(A.shape) < 0.7] = 0
    A[:, 3] = 0  # a row of W that no sample steps
    A[:, 4] = rng.normal(size=rows)  # one that every sample steps
    D = rng.normal(size=(rows, n_out)).astype(dtype)
    W0 = rng.normal(size=(n_in, n_out)).astype(dtype)
    ptr, index = np.empty(rows + 1, np.int64), np.empty(A.size, np.int32)
    listed(A, ptr, index)
    lr = dtype(0.3)

    W = W0.copy()
    stepped_by_rows(A, ptr, index, D, W, lr)
    one_by_one = W0.copy()
    stepped_in_chunks(A, ptr, index, D, one_by_one, lr, 1)
    np.testing.assert_array_equal(W, one_by_one)
    expected = W0.astype(np.float64) - 0.3 * A.astype(np.float64).T @ D.astype(np.float64)
    np.testing.assert_allclose(W, expected, rtol=0, atol=1e-4 if dtype == np.float32 else 1e-11)
    assert (W[3] == W0[3]).all() and (rows == 0 or (W[4] != W0[4]).any())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_stepped_in_registers_of_a_slice_of_w_with_a_negative_rate(dtype):
    # The threads' parts step a slice of W's rows, with positions relative to it; the
    # gradient is a step of rate -1 from zero.
    rng = np.random.default_rng(3)
    rows, n_in, n_out = 100, 60, 32
    A = rng.normal(size=(rows, n_in)).astype(dtype)
    A[rng.random(A.shape) < 0.5] = 0
    D = rng.normal(size=(rows, n_out)).astype(dtype)
    W0 = rng.normal(size=(n_in + 20, n_out)).astype(dtype)
    ptr, index = np.empty(rows + 1, np.int64), np.empty(A.size, np.int32)
    listed(A, ptr, index)
    for lr in (dtype(-1.0), dtype(0.05)):
        W, one_by_one = W0.copy(), W0.copy()
        stepped_by_rows(A, ptr, index, D, W[10:10 + n_in], lr)
        stepped_in_chunks(A, ptr, index, D, one_by_one[10:10 + n_in], lr, 1)
        np.testing.assert_array_equal(W, one_by_one)
        assert (W[:10] == W0[:10]).all() and (W[10 + n_in:] == W0[10 + n_in:]).all()


def test_a_block_of_samples_steps_only_its_own_rows():
    # Sample 0 steps row 7 in the first block; sample 64, in the second, does not, and its
    # deltas are infinite: a bit of the first block left set would step row 7 by 0 x inf.
    rows, n_in, n_out = 2 * BLOCK_SAMPLES, 10, 16
    A = np.zeros((rows, n_in), np.float32)
    A[0, 7] = 1
    A[BLOCK_SAMPLES, 9] = 1
    D = np.ones((rows, n_out), np.float32)
    D[BLOCK_SAMPLES] = np.inf
    ptr, index = np.empty(rows + 1, np.int64), np.empty(A.size, np.int32)
    listed(A, ptr, index)
    W = np.zeros((n_in, n_out), np.float32)
    stepped_by_rows(A, ptr, index, D, W, np.float32(0.5))
    assert (W[7] == -0.5).all() and (W[9] == -np.inf).all()
    assert (np.delete(W, [7, 9], axis=0) == 0).all()


@njit
def lowest_bits(words):
    return [lowest_set_bit(w) for w in words]


def test_lowest_set_bit():
    words = np.array([1, 2, 12, 1 << 40, (1 << 63) | (1 << 5), (1 << 64) - 1, 1 << 63],
                     np.uint64)
    assert lowest_bits(words) == [0, 1, 2, 40, 5, 0, 63]


def test_l1d_size_is_read_from_sysfs(tmp_path):
    for name, (level, kind, size) in {"index0": ("1", "Instruction", "32K"),
                                      "index1": ("1", "Data", "48K"),
                                      "index2": ("2", "Unified", "2048K")}.items():
        folder = tmp_path / name
        folder.mkdir()
        for field, text in (("level", level), ("type", kind), ("size", size)):
            (folder / field).write_text(text + "\n")
    assert l1d_bytes(tmp_path) == 48 * 1024
    assert l1d_bytes(tmp_path / "missing") is None
