import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from fastmlp import datasets
from fakes import (MNIST_NAMES, bike_csv_bytes, bike_rows, idx_bytes, mnist_arrays,
                   write_bike_csv, write_mnist)


def real_data(subfolder: str) -> Path:
    """$FASTMLP_DATA/subfolder, or skip the test."""
    root = os.environ.get("FASTMLP_DATA")
    if not root:
        pytest.skip("FASTMLP_DATA is not set: no real data to check")
    folder = Path(root) / subfolder
    if not folder.is_dir():
        pytest.skip(f"FASTMLP_DATA has no {subfolder}/ folder")
    return folder


def test_xor():
    X, y = datasets.load_xor()
    assert X.shape == (4, 2) and y.shape == (4,)
    assert np.array_equal(y, np.logical_xor(X[:, 0], X[:, 1]))


def test_digits_bundled_and_split_fixed():
    X_train, y_train, X_test, y_test = datasets.load_digits()
    assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0 and X_train.max() == 1
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # 1797 distinct images in all, none in both parts.
    every = np.vstack([X_train, X_test])
    assert len(every) == 1797
    train_rows = {row.tobytes() for row in X_train}
    assert sum(row.tobytes() in train_rows for row in X_test) < 5  # a few true duplicates
    again = datasets.load_digits()
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, y_train, X_test, y_test)))
    other = datasets.load_digits(seed=1)
    assert not np.array_equal(other[1], y_train)


# --- where the files are looked for ---------------------------------------------------------

def test_data_folders_follow_argument_then_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    assert datasets.mnist_home() == tmp_path / "home" / ".cache" / "fastmlp" / "mnist"
    assert datasets.bike_sharing_home() == tmp_path / "home/.cache/fastmlp/bike-sharing"
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "data"))
    assert datasets.mnist_home() == tmp_path / "data" / "mnist"
    assert datasets.bike_sharing_home() == tmp_path / "data" / "bike-sharing"
    assert datasets.mnist_home(tmp_path / "x") == tmp_path / "x"
    assert datasets.bike_sharing_home(str(tmp_path / "y")) == tmp_path / "y"


# --- MNIST from small files of our own --------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_mnist_reads_idx_files(monkeypatch, tmp_path, gz):
    arrays = mnist_arrays(n_train=30, n_test=12)
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(tmp_path, arrays, gz=gz))
    X_train, y_train, X_test, y_test = datasets.load_mnist(tmp_path, download=False)
    assert X_train.shape == (30, 784) and X_test.shape == (12, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    images = arrays["train-images-idx3-ubyte"].reshape(30, 784)
    assert np.array_equal(X_train, images.astype(np.float32) / np.float32(255))
    assert np.array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert 0 <= X_train.min() and X_train.max() <= 1


def test_mnist_found_through_fastmlp_data(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(tmp_path / "mnist"))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path))
    assert datasets.load_mnist(download=False)[0].shape == (60, 784)


def test_mnist_missing_without_download(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*download=False") as e:
        datasets.load_mnist(tmp_path, download=False)
    assert str(tmp_path) in str(e.value) and "FASTMLP_DATA" in str(e.value)


def _rewrite(folder: Path, name: str, raw: bytes) -> None:
    (folder / (name + ".gz")).write_bytes(gzip.compress(raw))


@pytest.mark.parametrize("damage, message", [
    (lambda raw: (2050).to_bytes(4, "big") + raw[4:], "not an IDX file with magic number 2051"),
    (lambda raw: raw[:-7], "truncated or damaged"),
    (lambda raw: raw[:8] + (27).to_bytes(4, "big") + raw[12:], r"shape \(27, 28\)"),
    (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "SHA-256 of its content"),
], ids=["magic", "truncated", "shape", "checksum"])
def test_mnist_damaged_file_is_named(monkeypatch, tmp_path, damage, message):
    arrays = mnist_arrays()
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(tmp_path, arrays))
    name = "train-images-idx3-ubyte"
    _rewrite(tmp_path, name, damage(idx_bytes(arrays[name])))
    with pytest.raises(ValueError, match=message) as e:
        datasets.load_mnist(tmp_path, download=False)
    assert name in str(e.value)


def test_mnist_broken_gzip_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(tmp_path))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])  # cut inside the gzip stream
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is damaged"):
        datasets.load_mnist(tmp_path, download=False)


def test_mnist_labels_out_of_range(monkeypatch, tmp_path):
    arrays = mnist_arrays()
    arrays["t10k-labels-idx1-ubyte"][3] = 10
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(tmp_path, arrays))
    with pytest.raises(ValueError, match="found 10, expected 0..9"):
        datasets.load_mnist(tmp_path, download=False)


# --- bike sharing from a small hour.csv of our own ----------------------------------------------

def test_bike_sharing_prepared_like_the_tutorial(monkeypatch, tmp_path):
    rows = bike_rows(days=90)
    monkeypatch.setattr(datasets, "BIKE_SHA256", write_bike_csv(tmp_path, rows))
    b = datasets.load_bike_sharing(tmp_path, download=False)
    n = 90 * 24
    assert b.X_test.shape == (504, 56) and b.X_val.shape == (1440, 56)
    assert b.X_train.shape == (n - 504 - 1440, 56)
    assert b.y_train.shape == (n - 504 - 1440,) and b.y_test.dtype == np.float32
    assert len(b.feature_names) == 56 and b.target_names == ("cnt",)
    assert b.feature_names[:5] == ("yr", "holiday", "temp", "hum", "windspeed")
    assert "season_1" in b.feature_names and "hr_23" in b.feature_names
    assert "weekday_6" in b.feature_names and "mnth_12" in b.feature_names
    for dropped in ("instant", "dteday", "atemp", "workingday", "cnt", "casual"):
        assert dropped not in b.feature_names

    table = np.array([[float(v) if i != 1 else 0 for i, v in enumerate(r)] for r in rows])
    column = {name: table[:, i] for i, name in enumerate(datasets.BIKE_COLUMNS)}
    X = np.vstack([b.X_train, b.X_val, b.X_test])
    # Standardized with the mean and sample std over all rows; undone by unscale.
    for name in ("temp", "hum", "windspeed"):
        mean, std = b.scaling[name]
        assert mean == pytest.approx(column[name].mean())
        assert std == pytest.approx(column[name].std(ddof=1))
        j = b.feature_names.index(name)
        np.testing.assert_allclose(X[:, j], (column[name] - mean) / std, rtol=1e-5, atol=1e-6)
    y = np.concatenate([b.y_train, b.y_val, b.y_test])
    np.testing.assert_allclose(b.unscale(y), column["cnt"], atol=1e-3)
    assert set(b.scaling) == {"casual", "registered", "cnt", "temp", "hum", "windspeed"}
    # One-hot blocks: exactly one 1 per block and row, at the row's value.
    for name, domain in datasets.BIKE_ONE_HOT.items():
        cols = [b.feature_names.index(f"{name}_{v}") for v in domain]
        block = X[:, cols]
        assert np.array_equal(block.sum(axis=1), np.ones(n))
        assert np.array_equal(np.array(list(domain))[block.argmax(axis=1)], column[name])
    # The last 21 days are the test set, in time order.
    assert b.test_times[0] == np.datetime64("2011-03-31T00") - np.timedelta64(20 * 24, "h")
    assert b.test_times[-1] == np.datetime64("2011-03-31T23")
    assert len(b.train_times) == len(b.X_train) and len(b.val_times) == 1440


def test_bike_sharing_targets_and_lf_line_endings(monkeypatch, tmp_path):
    rows = bike_rows(days=85, seed=3)
    data = bike_csv_bytes(rows, newline="\n")
    (tmp_path / "hour.csv").write_bytes(data)
    monkeypatch.setattr(datasets, "BIKE_SHA256", (hashlib.sha256(data).hexdigest(),))
    b = datasets.load_bike_sharing(tmp_path, download=False,
                                   targets=["cnt", "casual", "registered"])
    assert b.y_train.shape == (85 * 24 - 1944, 3)
    assert b.target_names == ("cnt", "casual", "registered")
    total = b.unscale(b.y_test[:, 0], "cnt")
    parts = b.unscale(b.y_test[:, 1], "casual") + b.unscale(b.y_test[:, 2], "registered")
    np.testing.assert_allclose(total, parts, atol=1e-3)
    with pytest.raises(ValueError, match="targets must be names among"):
        datasets.load_bike_sharing(tmp_path, targets="rides")
    with pytest.raises(ValueError, match="unknown column 'rides'"):
        b.unscale([0.0], "rides")


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[:1000], "has 1000 rows; the split needs more than 1944"),
    (lambda rows: [r[:5] + ["25"] + r[6:] if i == 7 else r for i, r in enumerate(rows)],
     "'hr' holds 25, expected one of"),
    (lambda rows: [r[:12] + ["humid"] + r[13:] if i == 3 else r for i, r in enumerate(rows)],
     "column 'hum' holds a value that is not a number"),
    (lambda rows: [r[:-1] if i == 4 else r for i, r in enumerate(rows)],
     "line 6: 16 fields, expected 17"),
], ids=["too-short", "bad-hour", "not-a-number", "missing-field"])
def test_bike_sharing_bad_file(monkeypatch, tmp_path, edit, message):
    monkeypatch.setattr(datasets, "BIKE_SHA256",
                        write_bike_csv(tmp_path, edit(bike_rows(days=82))))
    with pytest.raises(ValueError, match=message):
        datasets.load_bike_sharing(tmp_path, download=False)


def test_bike_sharing_checksum_and_missing_file(tmp_path):
    write_bike_csv(tmp_path)  # not the real hour.csv: its checksum is not in the table
    with pytest.raises(ValueError, match="hour.csv is damaged or not the original"):
        datasets.load_bike_sharing(tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match="hour.csv not found in .*download=False"):
        datasets.load_bike_sharing(tmp_path / "empty", download=False)


# --- the real files, when FASTMLP_DATA points at them -------------------------------------------

def test_real_mnist_files():
    folder = real_data("mnist")
    for name in MNIST_NAMES:
        gz = folder / (name + ".gz")
        if gz.is_file():
            assert hashlib.sha256(gz.read_bytes()).hexdigest() == datasets.MNIST_SHA256[name][0]
    X_train, y_train, X_test, y_test = datasets.load_mnist(download=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0 and X_train.max() == 1
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                             5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                            1009]
    # About 19% of the pixels are nonzero (the per-sample kernel's sparse first layer).
    assert 0.15 < np.count_nonzero(X_train[:5000]) / X_train[:5000].size < 0.25


def test_real_bike_sharing():
    folder = real_data("bike-sharing")
    raw = (folder / "hour.csv").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == datasets.BIKE_SHA256[0]
    assert raw.count(b"\r\n") == 17380  # the header and 17379 rows, CRLF as distributed
    b = datasets.load_bike_sharing(download=False)
    assert b.X_train.shape == (15435, 56) and b.X_val.shape == (1440, 56)
    assert b.X_test.shape == (504, 56)
    assert b.test_times[0] == np.datetime64("2012-12-10T22")
    assert b.test_times[-1] == np.datetime64("2012-12-31T23")
    mean, std = b.scaling["cnt"]
    assert mean == pytest.approx(189.46, abs=0.01) and std == pytest.approx(181.39, abs=0.01)
    rides = b.unscale(b.y_test)
    np.testing.assert_allclose(rides, np.round(rides), atol=1e-3)  # whole rides again
    assert rides.min() >= 1
