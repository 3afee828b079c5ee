"""Same seed, same data, same settings: the same parameters, bit for bit."""
import numpy as np
import pytest

from fastmlp import Network

from conftest import make_data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 5])
def test_same_seed_same_bits(Impl, dtype, batch_size):
    sizes = [6, 8, 4]
    X, y = make_data(sizes, "softmax", None, n=40, dtype=dtype)
    runs = []
    for _ in range(2):
        net = Impl(sizes, activation="relu", dtype=dtype, seed=123)
        net.fit(X, y, epochs=3, batch_size=batch_size, lr=0.1, l2=0.001)
        runs.append(net.params.copy())
    assert np.array_equal(runs[0], runs[1])
    other = Impl(sizes, activation="relu", dtype=dtype, seed=124)
    other.fit(X, y, epochs=3, batch_size=batch_size, lr=0.1, l2=0.001)
    assert not np.array_equal(runs[0], other.params)


def test_fit_continues_from_current_parameters():
    sizes = [6, 8, 4]
    X, y = make_data(sizes, "softmax", None, n=40, dtype=np.float32)
    once = Network(sizes, seed=5)
    once.fit(X, y, epochs=4)
    twice = Network(sizes, seed=5)
    twice.fit(X, y, epochs=2)
    twice.fit(X, y, epochs=2)
    assert np.array_equal(once.params, twice.params)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_epochs_batched_into_one_call_change_nothing(Impl, batch_size):
    # A tiny network trains many epochs per kernel call; per-epoch calls must agree with it.
    sizes = [2, 3, 2]
    X, y = make_data(sizes, "softmax", None, n=6, dtype=np.float64)
    together = Impl(sizes, dtype=np.float64, seed=3)
    per_call = []
    train_epochs = together._train_epochs
    together._train_epochs = lambda X, T, orders, *rest: (per_call.append(len(orders)),
                                                          train_epochs(X, T, orders, *rest))[1]
    history = together.fit(X, y, epochs=300, batch_size=batch_size, lr=0.2, l1=0.001)
    assert max(per_call) > 1 and sum(per_call) == 300
    apart = Impl(sizes, dtype=np.float64, seed=3)
    losses = [apart.fit(X, y, batch_size=batch_size, lr=0.2, l1=0.001)["loss"][0]
              for _ in range(300)]
    assert np.array_equal(together.params, apart.params)
    assert history["loss"] == losses and len(history["time"]) == 300
    assert together._rng.bit_generator.state == apart._rng.bit_generator.state


def test_no_shuffle_visits_samples_in_order(Impl):
    sizes = [3, 2]
    X, y = make_data(sizes, "identity", "mse", n=5, dtype=np.float64)
    net = Impl(sizes, output="identity", dtype=np.float64, seed=0)
    by_hand = net.params.copy()
    # Per-sample SGD by hand with the network's own gradient, samples in order.
    probe = Impl(sizes, output="identity", dtype=np.float64, seed=0)
    for i in range(5):
        probe.params[:] = by_hand
        by_hand -= 0.1 * probe.gradient(X[i:i + 1], y[i:i + 1])
    net.fit(X, y, epochs=1, lr=0.1, shuffle=False)
    np.testing.assert_allclose(net.params, by_hand, rtol=1e-12)
