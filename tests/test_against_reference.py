"""fastmlp's kernels against the NumPy reference: same seed, same data, same order."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastmlp.training
from fastmlp import DivergenceError, Network, reference
from fastmlp.kernels.backward import FOUR_ROWS_FROM
from fastmlp.kernels.deferred import RING

from conftest import HIDDEN, OUTPUT_LOSSES, make_data, relative_error

CASES = [
    # sizes, activation, output, loss, l1, l2
    ([8, 6, 4], "sigmoid", "softmax", None, 0.0, 0.0),
    ([8, 7, 5, 3], ["relu", "tanh"], "identity", "mse", 0.0, 0.0),
    ([8, 5, 3], "tanh", "sigmoid", "binary_cross_entropy", 0.001, 0.01),
    ([8, 6, 6, 2], "relu", "softmax", "mse", 0.01, 0.0),
    ([8, 3], "identity", "sigmoid", "mse", 0.0, 0.05),
    ([8, 6, 4], "relu", "softmax", None, 0.0, 0.02),
    # Narrow layers as vectors (see ``vectors``): a 37 -> 10 layer steps in two blocks of
    # 16 rows, its last 5 rows as a wider layer's; a 10-class softmax cross-entropy in one
    # vector.
    ([12, 37, 10], "sigmoid", "softmax", None, 0.0, 0.0),
    # and a 37 -> 48 layer (rows of 3 whole vectors) in two blocks and 5 rows more.
    ([9, 37, 48, 10], "tanh", "softmax", None, 0.0, 0.0),
    # A regression shaped like bike sharing's: first-layer rows of a vector and 4 entries
    # more, stepped as a vector then one by one; one output, its column stepped as a vector.
    ([23, 20, 1], "sigmoid", "identity", "mse", 0.0, 0.0),
]
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}


@pytest.mark.parametrize("zeros", [0.3, 0.85], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batch_size", [1, 7], ids=["per-sample", "batch7"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[1]}-{c[2]}")
def test_one_epoch_matches_reference(case, batch_size, dtype, zeros):
    """Both minibatch paths: dense inputs go through BLAS, sparse ones skip their zeros."""
    sizes, activation, output, loss, l1, l2 = case
    X, y = make_data(sizes, output, loss, n=52, seed=5, dtype=dtype, zeros=zeros)  # 7 * 7 + 3
    nets = [Impl(sizes, activation=activation, output=output, loss=loss, dtype=dtype, seed=11)
            for Impl in (Network, reference.Network)]
    fast, ref = nets
    assert np.array_equal(fast.params, ref.params)  # the same starting point
    h_fast = fast.fit(X, y, epochs=1, batch_size=batch_size, lr=0.05, l1=l1, l2=l2)
    h_ref = ref.fit(X, y, epochs=1, batch_size=batch_size, lr=0.05, l1=l1, l2=l2)
    assert fast.params.dtype == ref.params.dtype == dtype
    assert not np.array_equal(fast.params, Network(sizes, activation=activation,
                                                   output=output, loss=loss, dtype=dtype,
                                                   seed=11).params)  # it did train
    assert relative_error(fast.params, ref.params) < TOLERANCE[dtype]
    assert h_fast["loss"][0] == pytest.approx(h_ref["loss"][0], rel=TOLERANCE[dtype])


@pytest.mark.parametrize("zeros", [0.3, 0.85], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_wide_first_layer_per_sample_matches_reference(dtype, zeros):
    """Per sample, rows of W_0 at least ``FOUR_ROWS_FROM`` wide step four at a time, the
    rest of a sample's nonzero inputs one by one."""
    sizes = [21, FOUR_ROWS_FROM + 3, 3]
    X, y = make_data(sizes, "softmax", None, n=40, seed=8, dtype=dtype, zeros=zeros)
    fast, ref = [Impl(sizes, dtype=dtype, seed=3) for Impl in (Network, reference.Network)]
    for net in (fast, ref):
        net.fit(X, y, epochs=2, batch_size=1, lr=0.1)
    assert relative_error(fast.params, ref.params) < TOLERANCE[dtype]


@pytest.mark.parametrize("zeros", [0.3, 0.9], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype, width", [(np.float32, 128), (np.float32, 96), (np.float64, 48),
                                          (np.float64, 128)],
                         ids=["float32-128", "float32-96", "float64-48", "float64-128"])
@pytest.mark.parametrize("l2", [0.0, 0.05], ids=["no-penalty", "lazy-l2"])
def test_deferred_first_layer_steps_match_reference(dtype, width, zeros, l2, monkeypatch):
    """Per sample, a first layer of rows of PENDING_FROM_BYTES or more takes each step when
    the next sample reads the row (kernels/deferred.py): over more samples than its ring
    holds, with rows that no sample reads again for longer, with a lazy l2 decay folded
    back every few steps, and in calls of a few samples each."""
    monkeypatch.setattr(fastmlp.training, "CALL_SECONDS", 1e-9)  # (calls of a few samples)
    sizes = [40, width, 3]
    X, y = make_data(sizes, "softmax", None, n=2 * RING + 37, seed=5, dtype=dtype,
                     zeros=zeros)
    X[:, :4] = 0  # (rows never read)
    X[::97, 4] = 1.0  # (a row read once every 97 samples)
    X[:, 5] = np.where(np.arange(len(X)) % 2, 0.5, 0.0)  # (every other sample)
    fast, ref = [Impl(sizes, dtype=dtype, seed=6) for Impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=2, batch_size=1, lr=0.05, l2=l2) for net in (fast, ref)]
    assert relative_error(fast.params, ref.params) < TOLERANCE[dtype]
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"],
                               rtol=TOLERANCE[dtype])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_networks_match_reference(data):
    """Any shape, activation per layer, output/loss pair, batch size and sample count."""
    n_hidden = data.draw(st.integers(0, 3), "n_hidden")
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=n_hidden + 2,
                               max_size=n_hidden + 2), "sizes")
    activation = data.draw(st.lists(st.sampled_from(HIDDEN), min_size=n_hidden,
                                    max_size=n_hidden), "activation")
    output, loss = data.draw(st.sampled_from(OUTPUT_LOSSES), "output/loss")
    n = data.draw(st.integers(1, 12), "n")
    batch_size = data.draw(st.integers(1, 14), "batch_size")
    l2 = data.draw(st.sampled_from([0.0, 0.01]), "l2")
    zeros = data.draw(st.sampled_from([0.0, 0.5, 0.9]), "fraction of zero inputs")
    seed = data.draw(st.integers(0, 2**16), "seed")
    X, y = make_data(sizes, output, loss, n=n, seed=seed, zeros=zeros)
    fast = Network(sizes, activation=activation, output=output, loss=loss, dtype=np.float64,
                   seed=seed)
    ref = reference.Network(sizes, activation=activation, output=output, loss=loss,
                            dtype=np.float64, seed=seed)
    # (At lr 0.1 some draws diverge, a deep linear net on inputs over 2, say: then both must,
    # in the same epoch, and roll back to the same parameters.)
    assert fit_outcome(fast, X, y, batch_size, l2) == fit_outcome(ref, X, y, batch_size, l2)
    assert relative_error(fast.params, ref.params) < 1e-10


def fit_outcome(net, X, y, batch_size, l2):
    """Train net two epochs at lr 0.1: None, or the epoch in which it diverged."""
    try:
        net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.1, l2=l2)
    except DivergenceError as error:
        return str(error).split(":")[0]  # ("training diverged in epoch e")
    return None


def test_a_diverging_network_diverges_as_the_reference_does():
    """A draw of test_random_networks_match_reference that diverges in its second epoch:
    fastmlp and the reference both stop there and keep the first epoch's parameters."""
    sizes = [1, 1, 1, 1]
    X, y = make_data(sizes, "identity", "mse", n=4, seed=126, zeros=0.0)
    fast, ref = [Impl(sizes, activation="identity", output="identity", loss="mse",
                      dtype=np.float64, seed=126) for Impl in (Network, reference.Network)]
    outcomes = [fit_outcome(net, X, y, 1, 0.0) for net in (fast, ref)]
    assert outcomes == ["training diverged in epoch 2"] * 2
    assert np.all(np.isfinite(fast.params))
    assert relative_error(fast.params, ref.params) < 1e-10


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("lr, l2", [(0.05, 0.01), (0.5, 0.4), (0.3, 4.0)],
                         ids=["few-folds", "folds-every-few-steps", "too-strong-to-defer"])
def test_lazy_l2_decay_matches_the_eager_reference(dtype, lr, l2):
    """Per sample, an l2-only decay of W_0 is kept in a scalar and folded back into W_0 when
    it falls below 1/2 and after every epoch (kernels/train.py); the reference decays every
    weight at every step."""
    sizes = [10, 7, 4]
    X, y = make_data(sizes, "softmax", None, n=60, seed=2, dtype=dtype, zeros=0.8)
    nets = [Impl(sizes, activation="tanh", dtype=dtype, seed=4)
            for Impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=3, batch_size=1, lr=lr, l2=l2) for net in nets]
    assert relative_error(nets[0].params, nets[1].params) < TOLERANCE[dtype]
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"],
                               rtol=TOLERANCE[dtype])
