"""Borrowed views (fastmlp/kernels/borrow.py): the same memory as the array they view, and no
reference counting left in the per-sample training loops."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

import fastmlp
from fastmlp.kernels.borrow import borrowed, borrowed_matrix


@njit
def write_through_borrowed(a, value):
    view = borrowed(a)
    view[0] = value
    return view.shape, view.strides


@njit
def matrix_of(buffer, start, rows, cols):
    return borrowed_matrix(buffer, start, rows, cols).copy()


@njit
def scale_matrix(buffer, start, rows, cols, factor):
    view = borrowed_matrix(buffer, start, rows, cols)
    for i in range(rows):
        for j in range(cols):
            view[i, j] *= factor


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_borrowed_is_the_array_itself(shape):
    a = np.zeros(shape, np.float32)
    view_shape, view_strides = write_through_borrowed(a, np.float32(4.0))
    assert view_shape == a.shape and view_strides == a.strides
    assert a.flat[0] == 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_borrowed_matrix_is_the_reshaped_slice(dtype):
    buffer = np.arange(40, dtype=dtype)
    np.testing.assert_array_equal(matrix_of(buffer, np.int64(7), 3, 5),
                                  buffer[7:22].reshape(3, 5))
    scale_matrix(buffer, 7, 3, 5, dtype(2.0))
    expected = np.arange(40, dtype=dtype)
    expected[7:22] *= 2
    np.testing.assert_array_equal(buffer, expected)


def test_borrowing_needs_an_array_and_a_matrix_a_contiguous_buffer():
    with pytest.raises(TypingError):
        njit(lambda x: borrowed(x))(1.0)
    with pytest.raises(TypingError):
        matrix_of(np.arange(40.0)[::2], 0, 2, 2)


COUNT_REFERENCES = """
import ctypes, sys
import numpy as np
from fastmlp import Network
libc = ctypes.CDLL(None)
rng = np.random.default_rng(0)
X = rng.random((160, 6)).astype(np.float32)
X[X < 0.4] = 0
y = rng.integers(0, 3, 160)
net = Network([6, 5, 4, 3], seed=0)

def fit(label, n, **kwargs):
    libc.fflush(None)
    print(f"=== {label}", flush=True)
    net.fit(X[:n], y[:n], **kwargs)
    libc.fflush(None)

if sys.argv[1] == "per-sample":
    for optimizer in ("sgd", "momentum"):
        fit(f"compiling {optimizer}", 2, optimizer=optimizer)
        fit(f"{optimizer} 10", 10, optimizer=optimizer)
        fit(f"{optimizer} 30", 30, optimizer=optimizer)
else:
    fit("compiling batches", 8, batch_size=4)
    fit("10 batches of 4", 40, batch_size=4)
    fit("10 batches of 16", 160, batch_size=16)
print("=== end", flush=True)
"""


def test_training_counts_no_references_per_sample(tmp_path):
    """With NUMBA_DEBUG_NRT, the runtime prints every reference count it changes (each an
    atomic operation, which slowed XOR's step 2.2x). Per sample: a fit of 30 samples must
    print as many as one of 10. In minibatches: 10 batches of 16 as many as 10 of 4."""
    package_parent = str(Path(fastmlp.__file__).resolve().parent.parent)
    env = {**os.environ, "NUMBA_DEBUG_NRT": "1", "NUMBA_CACHE_DIR": str(tmp_path),
           "PYTHONPATH": package_parent}
    # Two processes at once, as each compiles its kernels (with NUMBA_DEBUG_NRT, which
    # changes the machine code, into a cache of their own): per sample, and minibatches.
    # Their output goes to files: the runtime's prints would fill a pipe read one at a time.
    parts = ("per-sample", "batches")
    runs = []
    for part in parts:
        with open(tmp_path / f"{part}.out", "w") as out, \
                open(tmp_path / f"{part}.err", "w") as err:
            runs.append(subprocess.Popen([sys.executable, "-c", COUNT_REFERENCES, part],
                                         env=env, stdout=out, stderr=err, cwd=tmp_path))
    counts = {}
    for part, run in zip(parts, runs):
        assert run.wait() == 0, (tmp_path / f"{part}.err").read_text()[-3000:]
        section = None
        for line in (tmp_path / f"{part}.out").read_text().splitlines():
            if line.startswith("=== "):
                section = line[4:]
            elif section and "NRT_Incref" in line:
                counts[section] = counts.get(section, 0) + 1
    for optimizer in ("sgd", "momentum"):
        assert counts.get(f"{optimizer} 10", 0) > 0  # the fit's own, once per call
        assert counts.get(f"{optimizer} 30") == counts.get(f"{optimizer} 10"), counts
    assert counts.get("10 batches of 4", 0) > 0
    assert counts.get("10 batches of 16") == counts.get("10 batches of 4"), counts
