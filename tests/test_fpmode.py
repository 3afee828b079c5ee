"""Subnormal numbers flushed to zero while the kernels run (kernels/fpmode.py), and the
caller's floating-point mode given back afterwards."""
import numba
import numpy as np
import pytest

from fastmlp import Network
from fastmlp.kernels.fpmode import FLUSH, X86_64, current_mode, flush_subnormals, restore_mode

from conftest import make_data

pytestmark = pytest.mark.skipif(not X86_64, reason="the mode is set on x86-64 only")


@pytest.mark.parametrize("settings", [dict(batch_size=1), dict(batch_size=4),
                                      dict(batch_size=4, threads=2)],
                         ids=["per-sample", "batches", "threads"])
def test_training_gives_back_the_callers_mode(settings):
    X, y = make_data([6, 5, 3], "softmax", None, n=20)
    net = Network([6, 5, 3], seed=0)
    before = current_mode()
    during = []
    net.fit(X, y, epochs=2, lr=0.1, callback=lambda history: during.append(current_mode()),
            **settings)
    # (Between the kernel calls, the callback too runs in the caller's mode.)
    assert during == [before, before] and current_mode() == before
    assert before & FLUSH != FLUSH


def test_predictions_hold_no_subnormal_numbers():
    # exp(-200) saturates at float32's smallest normal number; halved, it is subnormal.
    net = Network([2, 3], seed=0)
    net.weights[0][...] = 0
    net.biases[0][...] = [0, 0, -200]
    before = current_mode()
    proba = net.predict_proba(np.ones((4, 2), np.float32))
    assert np.array_equal(proba, np.tile(np.float32([0.5, 0.5, 0]), (4, 1)))
    assert current_mode() == before


@numba.njit(parallel=True)
def thread_modes(out):
    """out[k] <- the mode of the thread that runs iteration k, and whether it could flush."""
    for k in numba.prange(out.shape[0]):
        out[k, 0] = current_mode()
        previous = flush_subnormals()
        out[k, 1] = current_mode()
        restore_mode(previous)


def test_threaded_training_leaves_every_thread_in_the_callers_mode():
    X, y = make_data([6, 5, 3], "softmax", None, n=20)
    net = Network([6, 5, 3], seed=0)
    before = current_mode()
    net.fit(X, y, epochs=2, batch_size=4, lr=0.1, threads=2)
    modes = np.zeros((64, 2), np.int64)
    thread_modes(modes)
    assert current_mode() == before
    assert np.all(modes[:, 0] == before) and np.all(modes[:, 1] & FLUSH == FLUSH)


@pytest.mark.parametrize("settings", [dict(batch_size=1), dict(batch_size=1, l2=1e-9),
                                      dict(batch_size=1, optimizer="momentum"),
                                      dict(batch_size=8), dict(batch_size=8, threads=2)],
                         ids=["per-sample", "per-sample-l2", "momentum", "batches", "threads"])
def test_a_saturated_unit_passes_no_subnormal_gradient(settings):
    """Hidden unit 0's input is -1000 whatever the sample: its sigmoid (and slope) is
    subnormal, unless flushed to 0. Its outgoing weights are 1e31: a subnormal slope would
    come back as a gradient of ~1e-7 for its incoming weights, which stay 0 when flushed
    (on every thread that computes a part of a batch)."""
    X, y = make_data([4, 3, 2], "softmax", None, n=32, seed=4, dtype=np.float32)
    net = Network([4, 3, 2], seed=5)
    net.weights[0][:, 0] = 0
    net.biases[0][0] = -1000
    net.weights[1][0] = 1e31
    net.fit(X, y, epochs=2, lr=0.5, **settings)
    assert np.all(net.weights[0][:, 0] == 0)
