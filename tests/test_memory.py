"""Memory: no copy of X that is already usable, a workspace per kernel call whatever the number
of epochs, and everything the kernels allocate freed again."""
import tracemalloc

import numpy as np
import pytest
from numba.core.runtime import rtsys

from fastmlp import Network
from fastmlp.checks import as_features, as_targets
from fastmlp.optimizers import Optimizer


def numba_allocations():
    stats = rtsys.get_allocation_stats()
    return stats.alloc, stats.free


@pytest.mark.parametrize("batch_size", [1, 16])
def test_fit_copies_X_only_to_convert_it(batch_size):
    rng = np.random.default_rng(0)
    X32 = rng.random((4000, 300), dtype=np.float32)
    y = rng.integers(0, 10, 4000)
    net = Network([300, 8, 10], seed=0)
    net.fit(X32[:50], y[:50], batch_size=batch_size)  # compile outside the measurement
    for X, copies in ((X32, 0), (X32.astype(np.float64), 1)):
        tracemalloc.start()
        net.fit(X, y, epochs=2, batch_size=batch_size)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # Targets, shuffles and a parameter snapshot are far smaller than X32 (4.8 MB).
        assert copies * X32.nbytes <= peak < (copies + 0.25) * X32.nbytes, (X.dtype, peak)


@pytest.mark.parametrize("batch_size, optimizer, threads", [
    (1, "sgd", 1), (16, "sgd", 1), (1, "adam", 1), (16, "nesterov", 1), (16, "adam", 2)])
def test_kernel_allocations_do_not_grow_with_epochs(batch_size, optimizer, threads):
    rng = np.random.default_rng(1)
    net = Network([12, 9, 4], seed=0, dtype=np.float64)
    X = as_features(rng.normal(size=(40, 12)), net.config)
    T = as_targets(rng.integers(0, 4, 40), 40, net.config)
    opt = Optimizer.create(optimizer, 0.9, 0.9, 0.999, 1e-8)
    net._use_optimizer(opt)
    counts = []
    for epochs in (1, 1, 30):
        orders = np.tile(np.arange(40), (epochs, 1))
        losses, last_good, last_state = np.zeros(epochs), net.params.copy(), net._state.copy()
        before = numba_allocations()
        done = net._train_epochs(X, T, orders, 0, 40, batch_size, np.full(epochs, 0.01), 0.0,
                                 0.0, opt, losses, last_good, last_state, np.zeros(2, np.int64),
                                 threads)
        after = numba_allocations()
        assert done == (epochs, False)
        counts.append(after[0] - before[0])
        assert after[0] - before[0] == after[1] - before[1]  # all freed
    assert counts[1] == counts[2] > 0


def test_long_training_frees_everything():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, 64)
    net = Network([5, 7, 3], seed=0)
    net.fit(X, y, epochs=2, batch_size=8)
    before = numba_allocations()
    for batch_size in (1, 8):
        net.fit(X, y, epochs=100, batch_size=batch_size, validation_data=(X, y))
        net.predict(X)
        net.gradient(X, y, l2=0.1)
    after = numba_allocations()
    assert after[0] - before[0] == after[1] - before[1] > 0


def test_read_only_X_is_copied_rather_than_compiled_for(tmp_path):
    from fastmlp.kernels.evaluate import evaluate
    from fastmlp.kernels.train import sgd_sample_epochs
    rng = np.random.default_rng(3)
    X, y = rng.random((30, 5), dtype=np.float32), rng.integers(0, 3, 30)
    np.save(tmp_path / "X.npy", X)
    frozen = np.load(tmp_path / "X.npy", mmap_mode="r")
    net = Network([5, 4, 3], seed=0)
    net.fit(X, y)
    net.predict(X)
    compiled = len(sgd_sample_epochs.signatures), len(evaluate.signatures)
    twin = Network([5, 4, 3], seed=0)
    net.fit(frozen, y)
    twin.fit(X, y)
    twin.fit(X, y)
    assert np.array_equal(net.predict(frozen), twin.predict(X))
    assert (len(sgd_sample_epochs.signatures), len(evaluate.signatures)) == compiled


def test_read_only_targets_are_copied_rather_than_compiled_for(tmp_path):
    from fastmlp.kernels.evaluate import evaluate
    from fastmlp.kernels.train import batch_epochs
    rng = np.random.default_rng(4)
    X, T = rng.random((30, 5), dtype=np.float32), rng.random((30, 2), dtype=np.float32)
    np.save(tmp_path / "T.npy", T)
    frozen = np.load(tmp_path / "T.npy", mmap_mode="r")
    net = Network([5, 4, 2], output="identity", seed=0)
    net.fit(X, T, batch_size=4)
    net.gradient(X, T)
    net.loss(X, T)
    compiled = len(batch_epochs.signatures), len(evaluate.signatures)
    twin = Network([5, 4, 2], output="identity", seed=0)
    net.fit(X, frozen, batch_size=4)
    twin.fit(X, T, batch_size=4)
    twin.fit(X, T, batch_size=4)
    assert np.array_equal(net.gradient(X, frozen), twin.gradient(X, T))
    assert net.loss(X, frozen) == twin.loss(X, T)
    assert (len(batch_epochs.signatures), len(evaluate.signatures)) == compiled
