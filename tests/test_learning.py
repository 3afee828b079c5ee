"""The networks learn what their users train them on."""
import numpy as np
import pytest

from fastmlp import Network, datasets


@pytest.mark.parametrize("seed", range(5))
def test_xor_2_3_1_learns(seed):
    # The seed tutorial's network: sigmoid hidden layer, linear output, MSE, U(-1, 1) weights.
    X, y = datasets.load_xor()
    net = Network([2, 3, 1], activation="sigmoid", output="identity", init="uniform", seed=seed)
    before = net.loss(X, y)
    history = net.fit(X, y, epochs=2000, lr=0.5)
    assert len(history["loss"]) == 2000
    assert np.all(np.abs(net.predict(X) - y) < 0.1)
    assert net.loss(X, y) < before / 10


@pytest.mark.parametrize("batch_size", [1, 16])
def test_digits_reaches_95_percent(batch_size):
    X_train, y_train, X_test, y_test = datasets.load_digits()
    net = Network([64, 32, 10], activation="sigmoid", output="softmax", seed=0)
    lr = 0.1 if batch_size == 1 else 0.5
    history = net.fit(X_train, y_train, epochs=30, batch_size=batch_size, lr=lr,
                      validation_data=(X_test, y_test))
    assert history["loss"][-1] < history["loss"][0]
    assert net.score(X_test, y_test) >= 0.95
    assert history["val_score"][-1] == net.score(X_test, y_test)


def test_regression_r2():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    net = Network([3, 16, 1], activation="tanh", output="identity", dtype=np.float64, seed=0)
    net.fit(X, y, epochs=200, batch_size=8, lr=0.05)
    assert net.predict(X).shape == (400,)
    assert net.score(X, y) > 0.95


def test_binary_sigmoid_classifier_with_0_1_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = Network([2, 4, 1], activation="tanh", output="sigmoid", seed=0)
    net.fit(X, y, epochs=20, lr=0.1)
    proba = net.predict_proba(X)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(np.unique(net.predict(X))) <= {0, 1}
    assert net.score(X, y) > 0.95


@pytest.mark.parametrize("optimizer, lr, batch_size", [("adam", 1e-3, 128),
                                                       ("momentum", 0.1, 32)])
def test_digits_learns_with_every_optimizer(optimizer, lr, batch_size):
    X_train, y_train, X_test, y_test = datasets.load_digits()
    net = Network([64, 32, 10], activation="relu", seed=0)
    net.fit(X_train, y_train, epochs=30, batch_size=batch_size, lr=lr, optimizer=optimizer)
    assert net.score(X_test, y_test) >= 0.95


def test_adam_reaches_97_5_percent_on_mnist_in_5_epochs():
    # The goal of the optimizers' issue, on the real MNIST when FASTMLP_DATA has it.
    import os
    if not os.environ.get("FASTMLP_DATA"):
        pytest.skip("FASTMLP_DATA is not set: no real MNIST to train on")
    X_train, y_train, X_test, y_test = datasets.load_mnist(download=False)
    net = Network([784, 128, 64, 10], activation="relu", seed=0)
    net.fit(X_train, y_train, epochs=5, batch_size=128, lr=1e-3, optimizer="adam")
    assert net.score(X_test, y_test) >= 0.975
