import os

# Count the Numba runtime's allocations and frees (tests/test_memory.py).
os.environ.setdefault("NUMBA_NRT_STATS", "1")

import numpy as np
import pytest

from fastmlp import Network, reference

# Every (output, loss) pair the design allows.
OUTPUT_LOSSES = [("softmax", "cross_entropy"), ("softmax", "mse"),
                 ("sigmoid", "binary_cross_entropy"), ("sigmoid", "mse"), ("identity", "mse")]
HIDDEN = ["sigmoid", "tanh", "relu", "identity"]


def make_data(sizes, output, loss, n, seed=0, zeros=0.3, dtype=np.float64):
    """Random inputs (a fraction of exact zeros, to exercise the sparse paths) and targets
    suited to the loss: integer labels for softmax, 0/1 for sigmoid, reals for identity."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    X[rng.random(X.shape) < zeros] = 0.0
    n_out = sizes[-1]
    if output == "softmax":
        y = rng.integers(0, n_out, size=n)
    elif output == "sigmoid":
        y = (rng.random((n, n_out)) < 0.5).astype(float)
    else:
        y = rng.normal(size=(n, n_out))
    return X.astype(dtype), y


def relative_error(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.fixture(autouse=True)
def threads_for_any_batch(monkeypatch):
    """fit(threads=k) splits even the tests' tiny batches (which it would train on one
    thread: ``network.THREADS_FROM``), so that the threaded kernel is what they test. Returns
    the threshold fit uses outside the tests."""
    import fastmlp.network
    threshold = fastmlp.network.THREADS_FROM
    monkeypatch.setattr(fastmlp.network, "THREADS_FROM", 0)
    return threshold


@pytest.fixture(params=[Network, reference.Network], ids=["fastmlp", "reference"])
def Impl(request):
    return request.param
