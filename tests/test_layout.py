"""The flat parameter buffer and its views."""
import numpy as np
import pytest

from fastmlp import Network

from conftest import make_data


@pytest.mark.parametrize("sizes", [[5, 2], [5, 4, 2], [784, 128, 64, 10]])
def test_params_is_one_flat_buffer_with_views(Impl, sizes):
    net = Impl(sizes, seed=0)
    p = net.params
    assert p.ndim == 1 and p.flags.c_contiguous and p.dtype == np.float32
    assert p.size == sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert len(net.weights) == len(net.biases) == len(sizes) - 1
    offset = 0
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        assert W.shape == (sizes[l], sizes[l + 1]) and b.shape == (sizes[l + 1],)
        assert np.shares_memory(W, p) and np.shares_memory(b, p)
        # W_l then b_l, in C order, one after the other.
        assert np.array_equal(p[offset:offset + W.size], W.ravel())
        offset += W.size
        assert np.array_equal(p[offset:offset + b.size], b)
        offset += b.size
    assert offset == p.size
    # Views, not copies: writing through one shows in the other.
    net.weights[-1][0, 1] = 42.0
    assert 42.0 in p
    p[-1] = -7.0
    assert net.biases[-1][-1] == -7.0


def test_views_survive_training_and_gradient_has_the_layout(Impl):
    sizes = [6, 5, 3]
    X, y = make_data(sizes, "softmax", None, n=20, dtype=np.float32)
    net = Impl(sizes, seed=1)
    buffer = net.params
    net.fit(X, y, epochs=2, batch_size=4)
    assert net.params is buffer and np.shares_memory(net.weights[0], buffer)
    g = net.gradient(X, y)
    assert g.shape == net.params.shape and g.dtype == net.params.dtype
    # The gradient of the last bias is the mean of (p - t) over the samples.
    p = net.predict_proba(X)
    t = np.eye(3)[y]
    np.testing.assert_allclose(g[-3:], (p - t).mean(axis=0), rtol=1e-4, atol=1e-6)


def test_initial_scales():
    for init, check in [("uniform", lambda W: np.abs(W).max() <= 1 and np.abs(W).max() > 0.9),
                        ("xavier", lambda W: np.abs(W).max() <= np.sqrt(6 / 300)),
                        ("he", lambda W: abs(W.std() - np.sqrt(2 / 200)) < 0.01),
                        ("normal", lambda W: abs(W.std() - np.sqrt(1 / 200)) < 0.01)]:
        net = Network([200, 100, 3], init=init, seed=0)
        assert check(net.weights[0]), init
        assert not net.biases[0].any()
