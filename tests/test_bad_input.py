"""Bad input gets a clear ValueError/TypeError before anything changes."""
import re

import numpy as np
import pytest

from fastmlp import DivergenceError, Network, training
from fastmlp.checks import as_features, as_targets

from conftest import make_data

SIZES = [4, 5, 3]


@pytest.fixture
def data():
    return make_data(SIZES, "softmax", None, n=10, dtype=np.float32)


def nan_at(X, i, j, value=np.nan):
    X = X.copy()
    X[i, j] = value
    return X


BAD_FITS = {
    "too few features": (lambda X, y: (X[:, :3], y, {}), ValueError, "3 features"),
    "X and y lengths": (lambda X, y: (X, y[:9], {}), ValueError, "10 samples but y has 9"),
    "NaN in X": (lambda X, y: (nan_at(X, 2, 1), y, {}), ValueError, "NaN or infinite"),
    "inf in X": (lambda X, y: (nan_at(X, 0, 0, np.inf), y, {}), ValueError, "NaN or infinite"),
    "NaN in y": (lambda X, y: (X, np.eye(3)[y] * np.r_[np.nan, np.ones(9)][:, None], {}),
                 ValueError, "NaN or infinite"),
    # float64 data for a float32 network: converted and checked in one pass
    "NaN in float64 X": (lambda X, y: (nan_at(X.astype(np.float64), 9, 3), y, {}), ValueError,
                         r"1 NaN or infinite values \(the first at index \(9, 3\)\)"),
    "X too large for float32": (lambda X, y: (nan_at(X.astype(np.float64), 4, 2, -1e39), y, {}),
                                ValueError, r"1 values too large for float32 \(the first, "
                                            r"-1e\+39, at index \(4, 2\)\); expected "
                                            r"magnitudes up to 3.4028235e\+38"),
    "y too large for float32": (lambda X, y: (X, np.eye(3)[y] * 1e300, {}), ValueError,
                                r"y holds 10 values too large for float32"),
    "Fortran-ordered X too large": (
        lambda X, y: (np.asfortranarray(nan_at(X.astype(np.float64), 7, 0, 1e39)), y, {}),
        ValueError, r"1 values too large for float32 \(the first, 1e\+39, at index \(7, 0\)\)"),
    "label too large": (lambda X, y: (X, np.r_[y[:-1], 3], {}), ValueError, "outside 0..2"),
    "negative label": (lambda X, y: (X, np.r_[y[:-1], -1], {}), ValueError, "outside 0..2"),
    "fractional label": (lambda X, y: (X, y + 0.5, {}), ValueError, "non-integer"),
    "3-D X": (lambda X, y: (X.reshape(10, 2, 2), y, {}), ValueError, "2-D"),
    "1-D X": (lambda X, y: (X[0], y, {}), ValueError, "2-D"),
    "empty X": (lambda X, y: (X[:0], y[:0], {}), ValueError, "empty"),
    "string X": (lambda X, y: (X.astype(str), y, {}), TypeError, "numbers"),
    "y columns": (lambda X, y: (X, np.zeros((10, 4)), {}), ValueError, "4 columns"),
    "zero lr": (lambda X, y: (X, y, {"lr": 0}), ValueError, "lr"),
    "negative lr": (lambda X, y: (X, y, {"lr": -0.1}), ValueError, "lr"),
    "nan lr": (lambda X, y: (X, y, {"lr": float("nan")}), ValueError, "lr"),
    "string lr": (lambda X, y: (X, y, {"lr": "0.1"}), TypeError, "lr"),
    "zero epochs": (lambda X, y: (X, y, {"epochs": 0}), ValueError, "epochs"),
    "fractional epochs": (lambda X, y: (X, y, {"epochs": 1.5}), TypeError, "epochs"),
    "zero batch": (lambda X, y: (X, y, {"batch_size": 0}), ValueError, "batch_size"),
    "negative l2": (lambda X, y: (X, y, {"l2": -1}), ValueError, "l2"),
    "bad validation": (lambda X, y: (X, y, {"validation_data": (X[:, :2], y)}), ValueError,
                       "validation X"),
}


@pytest.mark.parametrize("case", BAD_FITS)
def test_bad_fit_raises_and_changes_nothing(Impl, data, case):
    make, error, words = BAD_FITS[case]
    X, y, kwargs = make(*data)
    net = Impl(SIZES, seed=0)
    before = net.params.copy()
    rng_before = net._rng.bit_generator.state
    with pytest.raises(error, match=words):
        net.fit(X, y, **kwargs)
    assert np.array_equal(net.params, before)
    assert net._rng.bit_generator.state == rng_before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_finite_check_reads_all_of_X(Impl, dtype):
    net = Impl(SIZES, dtype=dtype)
    X = np.ones((7, 4))
    for value in (np.nan, np.inf, -np.inf):
        X[-1, -1] = value  # the last entry
        with pytest.raises(ValueError, match=r"1 NaN or infinite values \(the first at index "
                                              r"\(6, 3\)\)"):
            net.predict(X)
    # Finite values pass, also where their sum overflows (float64's: the element-wise look
    # finds nothing).
    X[:] = np.finfo(dtype).max / 8
    with np.errstate(over="ignore"):  # (the network's sums of them may overflow)
        assert net.predict(X).shape == (7,)


@pytest.mark.parametrize("source", [np.float64, np.float32, np.int16, np.uint8, bool, "F",
                                    "read-only"])
def test_X_of_another_kind_trains_as_its_float32_values(source):
    # Converted (float64, integers, booleans), made C-contiguous (Fortran order) or copied
    # (read-only): the same bits as the float32 array of the same values.
    rng = np.random.default_rng(1)
    X32 = (rng.random((40, 4)) * 5).round().astype(np.float32)
    y = rng.integers(0, 3, 40)
    if source == "F":
        X = np.asfortranarray(X32)
    elif source == "read-only":
        X = X32.copy()
        X.flags.writeable = False
    else:
        X = (X32 > 2) if source is bool else X32.astype(source)
        X32 = X.astype(np.float32)
    nets = [Network(SIZES, seed=0) for _ in range(2)]
    for net, data in zip(nets, (X, X32)):
        net.fit(data, y, epochs=2, batch_size=4)
    assert np.array_equal(nets[0].params, nets[1].params)
    assert np.array_equal(nets[0].predict_proba(X), nets[1].predict_proba(X32))


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.uint8, np.uint64, np.float32, list])
def test_labels_of_any_integer_kind_are_one_hot_targets(kind):
    # (uint64 labels plus int64 offsets would be float64 indices in NumPy.)
    y = np.array([2, 0, 1, 1, 2, 0, 0])
    labels = y.tolist() if kind is list else y.astype(kind)
    T = as_targets(labels, len(y), Network(SIZES).config)
    assert T.dtype == np.float32 and T.flags.c_contiguous
    assert np.array_equal(T, np.eye(3, dtype=np.float32)[y])


def test_float64_X_converts_as_numpy_does_at_float32s_edges():
    # Round to nearest even, as NumPy's cast: the largest float32, a value that rounds down to
    # it, the smallest subnormal and a value that rounds to zero (the kernels flush
    # subnormals, the conversion keeps them); -0.0 keeps its sign.
    top = float(np.finfo(np.float32).max)
    X = np.array([[top, top * (1 + 2.0 ** -26), 2.0 ** -149, -0.0],
                  [2.0 ** -151, -top, 1 / 3, 1e-40]])
    net = Network(SIZES, seed=0)
    converted = as_features(X, net.config)
    assert converted.dtype == np.float32 and converted.flags.c_contiguous
    assert converted.tobytes() == X.astype(np.float32).tobytes()
    X[0, 1] = top * (1 + 2.0 ** -23)  # rounds up past float32's largest
    with pytest.raises(ValueError, match=r"1 values too large for float32 \(the first, "
                                         r"3.40282387e\+38, at index \(0, 1\)\)"):
        as_features(X, net.config)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "loss", "gradient"])
def test_bad_input_to_other_methods(Impl, data, method):
    X, y = data
    net = Impl(SIZES, seed=0)
    args = (X[:, :3],) if method in ("predict", "predict_proba") else (X[:, :3], y)
    with pytest.raises(ValueError, match="3 features"):
        getattr(net, method)(*args)


BAD_CONFIGS = {
    "activation": ({"activation": "swish"}, ValueError, "unknown activation 'swish'"),
    "activation count": ({"activation": ["relu", "tanh"]}, ValueError, "one name per hidden"),
    "output": ({"output": "relu"}, ValueError, "unknown output"),
    "loss": ({"loss": "hinge"}, ValueError, "unknown loss"),
    "init": ({"init": "zeros"}, ValueError, "unknown init"),
    "dtype": ({"dtype": np.int32}, ValueError, "dtype"),
    "dtype name": ({"dtype": "float16"}, ValueError, "dtype"),
    "not a dtype": ({"dtype": "banana"}, TypeError, "dtype"),
    "cross entropy without softmax": ({"output": "sigmoid", "loss": "cross_entropy"},
                                      ValueError, "needs a 'softmax' output"),
    "bce without sigmoid": ({"output": "identity", "loss": "binary_cross_entropy"},
                            ValueError, "needs a 'sigmoid' output"),
    "seed": ({"seed": -1}, TypeError, "seed"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_configuration(Impl, case):
    kwargs, error, words = BAD_CONFIGS[case]
    with pytest.raises(error, match=words):
        Impl(SIZES, **kwargs)


@pytest.mark.parametrize("sizes", [[4], [4, 0, 3], [4, 2.5, 3], "4,3", 5])
def test_bad_sizes(Impl, sizes):
    with pytest.raises((TypeError, ValueError), match="sizes|width"):
        Impl(sizes)


def test_1d_targets_for_several_identity_outputs_rejected(Impl):
    net = Impl([2, 3], output="identity")
    with pytest.raises(ValueError, match=r"targets of shape \(4, 3\)"):
        net.fit(np.zeros((4, 2)), np.zeros(4))


def test_predict_proba_needs_a_probability_output(Impl):
    net = Impl([2, 1], output="identity")
    with pytest.raises(ValueError, match="identity"):
        net.predict_proba(np.zeros((1, 2)))


def test_divergence_stops_and_keeps_last_good_epoch(Impl):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * 10
    y = rng.normal(size=50) * 100
    net = Impl([3, 4, 1], activation="identity", output="identity", seed=0)
    net.fit(X, y, epochs=1, lr=1e-5)
    good = net.params.copy()
    with pytest.raises(DivergenceError, match="diverged in epoch 1"):
        net.fit(X, y, epochs=5, lr=1e6)
    assert np.array_equal(net.params, good)
    assert np.all(np.isfinite(net.params))
    # Training can go on from there.
    net.fit(X, y, epochs=1, lr=1e-5)
    assert np.all(np.isfinite(net.params))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_divergence_stops_a_long_epoch_at_the_slice_that_shows_it(Impl, monkeypatch,
                                                                  optimizer):
    # An epoch longer than a kernel call trains in slices; a slice whose loss is already NaN
    # or infinite ends training, not the end of the epoch, and the network is back where the
    # last good epoch (here: the last fit) left it.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) * 10
    y = rng.normal(size=300) * 100
    net = Impl([3, 4, 1], activation="identity", output="identity", seed=0)
    net.fit(X, y, epochs=1, batch_size=10, lr=1e-6, optimizer=optimizer)
    params, state, steps = net.params.copy(), net._state.copy(), net._steps
    rng_state, epochs = net._rng.bit_generator.state, net.epochs_trained
    monkeypatch.setattr(training, "CALL_SECONDS", 1e-9)  # slices of one batch
    calls = []
    train = net._train_epochs
    monkeypatch.setattr(net, "_train_epochs", lambda *a, **k: calls.append(a[3]) or
                        train(*a, **k))
    with pytest.raises(DivergenceError, match="diverged in epoch 1"):
        net.fit(X, y, epochs=2, batch_size=10, lr=1e6 if optimizer == "sgd" else 1e30,
                optimizer=optimizer)
    assert 0 < len(calls) < 5 and calls == list(range(0, 10 * len(calls), 10))
    assert np.array_equal(net.params, params)
    assert np.array_equal(net._state, state) and net._steps == steps
    assert net._rng.bit_generator.state == rng_state and net.epochs_trained == epochs


def test_divergence_after_good_epochs_keeps_the_last_of_them(Impl):
    # The loss grows every epoch (lr above the stable limit) and overflows after a few; three
    # samples, so that every shuffle draws from the random state.
    X = np.ones((3, 1), np.float32)
    y = np.ones(3, np.float32)
    net = Impl([1, 1], output="identity", seed=0)
    net.params[:] = [0.5, 0.0]
    with pytest.raises(DivergenceError, match=r"epoch (\d+)") as info:
        net.fit(X, y, epochs=500, lr=3.0)
    assert "after epoch 0" not in str(info.value)
    reached = net.params.copy()
    assert np.all(np.isfinite(reached)) and abs(reached[0]) > 1e10
    # The random state is where the last good epoch left it: one shuffle per good epoch.
    good_epochs = int(re.search(r"diverged in epoch (\d+)", str(info.value)).group(1)) - 1
    fresh = Impl([1, 1], output="identity", seed=0)
    for _ in range(good_epochs):
        fresh._rng.permutation(3)
    assert net._rng.bit_generator.state == fresh._rng.bit_generator.state
    # The parameters are those of the last good epoch, bit for bit.
    again = Impl([1, 1], output="identity", seed=0)
    again.params[:] = [0.5, 0.0]
    again.fit(X, y, epochs=good_epochs, lr=3.0)
    assert np.array_equal(net.params, again.params)
