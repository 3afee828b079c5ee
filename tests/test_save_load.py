"""Save and load: one .npz, written atomically, read back bit for bit."""
import os

import numpy as np
import pytest

from fastmlp import Network, reference

from conftest import make_data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(Impl, tmp_path, dtype):
    sizes = [5, 7, 4, 3]
    X, y = make_data(sizes, "softmax", None, n=30, dtype=dtype)
    net = Impl(sizes, activation=["relu", "tanh"], dtype=dtype, seed=3)
    net.fit(X, y, epochs=2, batch_size=4)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = Impl.load(path)
    assert type(loaded) is Impl
    assert loaded.config == net.config
    assert np.array_equal(loaded.params, net.params) and loaded.params.dtype == dtype
    assert np.shares_memory(loaded.weights[1], loaded.params)
    assert np.array_equal(loaded.predict_proba(X), net.predict_proba(X))
    # The random state travels too: training on from both gives the same bits.
    net.fit(X, y, epochs=1, batch_size=4)
    loaded.fit(X, y, epochs=1, batch_size=4)
    assert np.array_equal(loaded.params, net.params)


def test_models_move_between_implementations(tmp_path):
    net = Network([3, 4, 2], output="identity", dtype=np.float64, seed=1)
    net.save(tmp_path / "m.npz")
    ref = reference.Network.load(tmp_path / "m.npz")
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(ref.predict(X), net.predict(X), rtol=1e-12)


def test_save_writes_exactly_the_path_and_leaves_no_temporary(tmp_path):
    net = Network([2, 2], seed=0)
    net.save(tmp_path / "model")  # no .npz appended
    assert os.listdir(tmp_path) == ["model"]
    assert Network.load(tmp_path / "model").config == net.config


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = Network([2, 3, 2], seed=0)
    old.save(path)
    content = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Network([2, 3, 2], seed=1).save(path)
    assert path.read_bytes() == content
    assert os.listdir(tmp_path) == ["model.npz"]


def test_loading_foreign_or_damaged_files(tmp_path):
    good = tmp_path / "good.npz"
    Network([3, 2], seed=0).save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    bare = tmp_path / "bare.npy"
    np.save(bare, np.zeros(3))
    for path in (truncated, text, foreign, bare):
        with pytest.raises(ValueError, match="not a readable fastmlp model"):
            Network.load(path)
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")

    # A well-formed archive whose parameters do not fit its configuration.
    mismatched = tmp_path / "mismatched.npz"
    with np.load(good) as d:
        np.savez(mismatched, **{k: d[k] for k in d.files if k != "params"},
                 params=np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="not a valid fastmlp model"):
        Network.load(mismatched)


def test_pickled_network_keeps_its_views(Impl):
    import pickle
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    net = Impl([3, 4, 2], seed=0)
    net.fit(X, y, batch_size=4, optimizer="momentum")
    copy = pickle.loads(pickle.dumps(net))
    assert np.array_equal(copy.params, net.params) and np.array_equal(copy._state, net._state)
    assert all(np.shares_memory(W, copy.params) for W in copy.weights + copy.biases)
    copy.fit(X, y, batch_size=4, optimizer="momentum")
    net.fit(X, y, batch_size=4, optimizer="momentum")
    assert np.array_equal(copy.params, net.params)
    assert np.array_equal(copy.weights[0], net.weights[0])
