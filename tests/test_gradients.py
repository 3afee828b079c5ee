"""Every gradient against central finite differences of the loss, in float64."""
import numpy as np
import pytest

from fastmlp import Network, reference

from conftest import HIDDEN, OUTPUT_LOSSES, make_data, relative_error

SHAPES = {"no-hidden": [4, 3], "one-hidden": [4, 5, 3], "three-hidden": [4, 5, 6, 4, 3]}


def finite_difference_gradient(net, X, y, l1, l2, eps=1e-6):
    grad = np.empty_like(net.params)
    for k in range(net.params.size):
        saved = net.params[k]
        net.params[k] = saved + eps
        up = net.loss(X, y, l1, l2)
        net.params[k] = saved - eps
        down = net.loss(X, y, l1, l2)
        net.params[k] = saved
        grad[k] = (up - down) / (2 * eps)
    return grad


def randomized(Impl, sizes, activation, output, loss, seed):
    net = Impl(sizes, activation=activation, output=output, loss=loss, dtype=np.float64,
               seed=seed)
    # Nonzero biases and weights well away from 0, so l1's kink is never crossed.
    rng = np.random.default_rng(seed + 100)
    p = rng.normal(0, 0.5, net.params.size)
    net.params[:] = np.sign(p) * (np.abs(p) + 0.05)
    return net


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSSES)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.01, 0.1)], ids=["plain", "l1l2"])
def test_gradient_matches_finite_differences(Impl, shape, activation, output, loss, l1, l2):
    sizes = SHAPES[shape]
    X, y = make_data(sizes, output, loss, n=6, seed=1, zeros=0.2)
    net = randomized(Impl, sizes, activation, output, loss, seed=3)
    analytic = net.gradient(X, y, l1, l2)
    numeric = finite_difference_gradient(net, X, y, l1, l2)
    assert analytic.shape == net.params.shape
    assert np.linalg.norm(analytic) > 0
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("zeros", [0.3, 0.85], ids=["dense", "sparse"])
@pytest.mark.parametrize("output,loss", OUTPUT_LOSSES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_kernel_gradient_and_loss_match_reference(activation, output, loss, zeros):
    sizes = [7, 6, 5, 4]
    X, y = make_data(sizes, output, loss, n=600, seed=2, zeros=zeros)  # several 256-row chunks
    nets = [randomized(Impl, sizes, activation, output, loss, seed=4)
            for Impl in (Network, reference.Network)]
    fast, ref = nets
    assert relative_error(fast.gradient(X, y, 0.01, 0.1), ref.gradient(X, y, 0.01, 0.1)) < 1e-12
    assert fast.loss(X, y, 0.01, 0.1) == pytest.approx(ref.loss(X, y, 0.01, 0.1), rel=1e-12)
    if output != "identity":
        np.testing.assert_allclose(fast.predict_proba(X), ref.predict_proba(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.predict(X), ref.predict(X), rtol=1e-10, atol=1e-12)


def test_loss_is_finite_where_probabilities_saturate():
    # Logits of +-800 make exp overflow; the loss must come from log-sum-exp and softplus.
    for Impl in (Network, reference.Network):
        for output, y in (("softmax", [1]), ("sigmoid", [[0.0, 1.0]])):
            net = Impl([1, 2], output=output, dtype=np.float64, seed=0)
            net.params[:] = [800.0, -800.0, 0.0, 0.0]
            loss = net.loss([[1.0]], y)
            assert np.isfinite(loss) and loss > 1000
            assert np.all(np.isfinite(net.gradient([[1.0]], y)))
