"""fit(threads=k): each batch in k parts at once (the first layer's rows, then the batch's
rows), summed in order. Against the reference, and the same bits whatever the threads actually
available."""
import numpy as np
import pytest

import fastmlp.network
from fastmlp import Network, reference

from conftest import make_data, relative_error

SIZES = [9, 8, 6, 3]
LARGE = [260, 64, 6, 3]  # (the first layer's rows in parts of over a hundred)


def _inputs(zeros, sizes, n, seed):
    """make_data's inputs, or for "mixed" dense first columns and sparse last ones (so one
    thread's rows of W_0 take the dense path and another's the sparse one)."""
    if zeros != "mixed":
        return make_data(sizes, "softmax", None, n=n, seed=seed, zeros=zeros)
    X, y = make_data(sizes, "softmax", None, n=n, seed=seed, zeros=0.0)
    X[:, sizes[0] // 2:][np.random.default_rng(seed).random((n, sizes[0] - sizes[0] // 2))
                         < 0.9] = 0.0
    return X, y


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("zeros", [0.3, 0.85], ids=["dense", "sparse"])
@pytest.mark.parametrize("batch_size, threads", [(7, 2), (2, 3)],
                         ids=["7-rows-2-parts", "2-rows-3-parts"])  # the second: empty parts
def test_threads_match_the_reference(optimizer, zeros, batch_size, threads):
    X, y = make_data(SIZES, "softmax", None, n=52, seed=5, zeros=zeros)  # 7 * 7 + 3
    nets = [impl(SIZES, activation="tanh", dtype=np.float64, seed=11)
            for impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.05, l1=0.001, l2=0.01,
                         optimizer=optimizer, threads=threads) for net in nets]
    assert relative_error(nets[0].params, nets[1].params) < 1e-10
    assert relative_error(nets[0]._state, nets[1]._state) < 1e-10
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-10)


@pytest.mark.parametrize("zeros", [0.3, 0.85, "mixed"])
@pytest.mark.parametrize("batch_size, threads", [(7, 2), (2, 3)],
                         ids=["7-rows-2-parts", "2-rows-3-parts"])
def test_first_layer_rows_on_threads_match_the_reference(zeros, batch_size, threads):
    """Plain SGD without a penalty: each thread steps its rows of W_0."""
    X, y = _inputs(zeros, LARGE, n=52, seed=7)
    nets = [impl(LARGE, activation="sigmoid", dtype=np.float64, seed=2)
            for impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.3, threads=threads)
                 for net in nets]
    assert relative_error(nets[0].params, nets[1].params) < 1e-10
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-10)


def _fit(threads, batch_size=5, sizes=SIZES, **kwargs):
    X, y = make_data(sizes, "softmax", None, n=40, zeros=0.85)
    net = Network(sizes, activation="relu", dtype=np.float64, seed=3)
    net.fit(X, y, epochs=3, batch_size=batch_size, lr=0.1, threads=threads, **kwargs)
    return net.params.copy()


@pytest.mark.parametrize("sizes", [SIZES, LARGE], ids=["small", "large"])
def test_the_same_bits_on_one_thread_or_two(monkeypatch, sizes):
    """The split into parts decides the sums; which thread computes a part does not."""
    on_two = _fit(2, sizes=sizes)
    assert np.array_equal(on_two, _fit(2, sizes=sizes))
    monkeypatch.setattr(fastmlp.network, "_threads_for", lambda parts: 1)
    assert np.array_equal(on_two, _fit(2, sizes=sizes))
    # Another split rounds differently, so it is not the serial run.
    assert not np.array_equal(on_two, _fit(1, sizes=sizes))


def test_parts_shared_out_among_fewer_threads(monkeypatch):
    """Five parts on five threads, on two (three and two parts each) or on one: the same
    bits."""
    monkeypatch.setattr(fastmlp.network, "_threads_for", lambda parts: parts)
    on_five = _fit(5, sizes=LARGE)
    for threads in (2, 1):
        monkeypatch.setattr(fastmlp.network, "_threads_for", lambda parts: threads)
        assert np.array_equal(on_five, _fit(5, sizes=LARGE))


def test_per_sample_training_ignores_threads():
    assert np.array_equal(_fit(1, batch_size=1), _fit(4, batch_size=1))


@pytest.mark.parametrize("threads, error", [(0, ValueError), (-2, ValueError),
                                            (1.5, TypeError), ("2", TypeError)])
def test_bad_threads(threads, error):
    net = Network(SIZES, dtype=np.float64)
    before = net.params.copy()
    X, y = make_data(SIZES, "softmax", None, n=10)
    with pytest.raises(error, match="threads"):
        net.fit(X, y, batch_size=4, threads=threads)
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_more_threads_than_inputs(optimizer):
    """Some threads get no rows of W_0 (1 input, 3 parts): they still add up their share of
    the other parameters."""
    X, y = make_data([1, 4, 2], "softmax", None, n=20, seed=2, zeros=0.5)
    nets = [impl([1, 4, 2], dtype=np.float64, seed=1) for impl in (Network, reference.Network)]
    for net in nets:
        net.fit(X, y, epochs=3, batch_size=4, lr=0.1, optimizer=optimizer, threads=3)
    assert relative_error(nets[0].params, nets[1].params) < 1e-10


def test_batches_too_small_for_threads_train_on_one(monkeypatch, threads_for_any_batch):
    """Below THREADS_FROM multiply-adds per batch (rows x weights), fit(threads=2) trains as on
    one thread, bit for bit, and never starts the threaded kernel; at it, it does."""
    monkeypatch.setattr(fastmlp.network, "THREADS_FROM", threads_for_any_batch)
    calls = []
    threaded = fastmlp.network.run_on_threads

    def spy(*args):
        calls.append(args[13])  # (batch_size)
        return threaded(*args)

    monkeypatch.setattr(fastmlp.network, "run_on_threads", spy)
    sizes = [300, 60, 10]  # 18,600 weights
    X, y = make_data(sizes, "softmax", None, n=120, seed=4, zeros=0.85)
    small = -(-threads_for_any_batch // 18600) - 1  # the largest batch under the threshold

    def fit(threads, batch_size):
        net = Network(sizes, dtype=np.float64, seed=6)
        net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.1, threads=threads)
        return net.params

    assert np.array_equal(fit(2, small), fit(1, small)) and calls == []
    assert not np.array_equal(fit(2, small + 1), fit(1, small + 1))
    assert calls == [small + 1]
