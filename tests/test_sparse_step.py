"""The first layer's SGD step of a sparse batch (fastmlp/kernels/backward.py), in chunks of
W's rows of any size, against NumPy. Machines with a small L1d step all of W at once (one
chunk), others in chunks (``backward.CHUNK_BYTES``): both must give the same bits."""
import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.backward import l1d_bytes, sparse_sgd_step, step_in_chunks
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
