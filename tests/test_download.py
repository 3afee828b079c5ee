"""Downloads, served from local file:// URLs: no test here touches the network."""
import gzip
import hashlib
import io
import urllib.error
import zipfile

import numpy as np
import pytest

from fastmlp import datasets, download
from fakes import MNIST_NAMES, bike_csv_bytes, bike_rows, idx_bytes, mnist_arrays, write_mnist

real_open_url = download._open_url


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Only file:// URLs may be opened; anything else fails the test."""
    opened = []

    def open_url(url, timeout):
        assert url.startswith("file://"), f"a test tried to reach the network: {url}"
        opened.append(url)
        return real_open_url(url, timeout)

    monkeypatch.setattr(download, "_open_url", open_url)
    return opened


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A folder of small MNIST .gz files served as the second mirror, after a dead one; the
    checksum table holds their sums. Returns (arrays, folder)."""
    arrays = mnist_arrays()
    folder = tmp_path / "mirror"
    monkeypatch.setattr(datasets, "MNIST_SHA256", write_mnist(folder, arrays))
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", ((tmp_path / "dead").as_uri() + "/",
                                                    folder.as_uri() + "/"))
    return arrays, folder


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_mnist_downloads_missing_files_from_the_next_mirror(tmp_path, mirror, offline):
    arrays, _ = mirror
    home = tmp_path / "cache" / "mnist"  # created on demand
    X_train, y_train, X_test, y_test = datasets.load_mnist(home)
    assert sorted(p.name for p in home.iterdir()) == sorted(n + ".gz" for n in MNIST_NAMES)
    assert np.array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    assert X_test.shape == (20, 784)
    assert any("/dead/" in url for url in offline) and len(offline) == 8
    # A second load finds the files and opens nothing.
    offline.clear()
    datasets.load_mnist(home)
    assert offline == []


def test_mnist_downloads_only_what_is_missing(tmp_path, mirror, offline):
    arrays, folder = mirror
    home = tmp_path / "home"
    home.mkdir()
    raw = idx_bytes(arrays["train-images-idx3-ubyte"])
    (home / "train-images-idx3-ubyte").write_bytes(raw)  # an unpacked copy counts
    datasets.load_mnist(home)
    assert not (home / "train-images-idx3-ubyte.gz").exists()
    assert not any("train-images" in url for url in offline)


def test_mnist_checksum_failure_leaves_nothing(tmp_path, mirror, monkeypatch):
    _, folder = mirror
    bad = dict(datasets.MNIST_SHA256)
    bad["t10k-labels-idx1-ubyte"] = ("0" * 64, bad["t10k-labels-idx1-ubyte"][1])
    monkeypatch.setattr(datasets, "MNIST_SHA256", bad)
    home = tmp_path / "home"
    with pytest.raises(datasets.DownloadError) as e:
        datasets.load_mnist(home)
    message = str(e.value)
    assert "could not download t10k-labels-idx1-ubyte.gz" in message
    assert "SHA-256" in message and "expected 0000000000000000" in message
    assert f"in {home} by hand" in message and "FASTMLP_DATA" in message
    assert not (home / "t10k-labels-idx1-ubyte.gz").exists()
    assert leftovers(home) == []


def test_mnist_without_network(tmp_path, monkeypatch):
    def no_network(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download, "_open_url", no_network)
    with pytest.raises(OSError) as e:
        datasets.load_mnist(tmp_path)
    message = str(e.value)
    assert isinstance(e.value, datasets.DownloadError)
    assert message.startswith("could not download train-images-idx3-ubyte.gz: "
                              "https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert "Temporary failure in name resolution" in message
    assert "storage.googleapis.com" in message and str(tmp_path) in message


class _Broken(io.BytesIO):
    """A response that delivers some bytes, then fails like a dropped connection."""

    headers = {"Content-Length": "1000000"}

    def read(self, size=-1):
        if self.tell() >= 300:
            raise ConnectionResetError(104, "Connection reset by peer")
        return super().read(min(size, 100))


def test_interrupted_download_never_looks_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_open_url", lambda url, timeout: _Broken(b"x" * 5000))
    with pytest.raises(datasets.DownloadError, match="Connection reset by peer"):
        datasets.load_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_interrupted_by_the_user_leaves_nothing(tmp_path, monkeypatch):
    class Interrupted(_Broken):
        def read(self, size=-1):
            if self.tell() >= 300:
                raise KeyboardInterrupt
            return super().read(size)

    monkeypatch.setattr(download, "_open_url", lambda url, timeout: Interrupted(b"x" * 5000))
    with pytest.raises(KeyboardInterrupt):
        datasets.load_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_existing_damaged_file_is_not_replaced(tmp_path, mirror, offline):
    arrays, _ = mirror
    home = tmp_path / "home"
    write_mnist(home, arrays)
    path = home / "train-labels-idx1-ubyte.gz"
    other = arrays["train-labels-idx1-ubyte"].copy()
    other[0] = 9
    path.write_bytes(gzip.compress(idx_bytes(other)))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz is damaged or not the "
                                         "original file.*download it again"):
        datasets.load_mnist(home)
    assert offline == []


# --- bike sharing -----------------------------------------------------------------------------

@pytest.fixture
def bike_source(tmp_path, monkeypatch):
    """A UCI-like zip and a plain hour.csv served from file:// URLs; returns (csv bytes,
    zip path, csv path)."""
    data = bike_csv_bytes(bike_rows(days=82))
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "bike+sharing+dataset.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Readme.txt", "readme")
        zf.writestr("day.csv", "day")
        zf.writestr("hour.csv", data)
    plain = served / "hour.csv"
    plain.write_bytes(data)
    monkeypatch.setattr(datasets, "BIKE_SHA256", (hashlib.sha256(data).hexdigest(),))
    monkeypatch.setattr(datasets, "BIKE_SOURCES", (archive.as_uri(), plain.as_uri()))
    return data, archive, plain


def test_bike_sharing_downloads_hour_csv_from_the_zip(tmp_path, bike_source, offline):
    data, archive, _ = bike_source
    home = tmp_path / "bike"
    b = datasets.load_bike_sharing(home)
    assert (home / "hour.csv").read_bytes() == data
    assert sorted(p.name for p in home.iterdir()) == ["hour.csv"]
    assert offline == [archive.as_uri()] and b.X_train.shape[1] == 56


def test_bike_sharing_falls_back_to_the_plain_file(tmp_path, bike_source, offline):
    data, archive, plain = bike_source
    archive.write_bytes(b"this is not a zip file")
    home = tmp_path / "bike"
    datasets.load_bike_sharing(home)
    assert (home / "hour.csv").read_bytes() == data
    assert offline == [archive.as_uri(), plain.as_uri()]


def test_bike_sharing_download_fails_clearly(tmp_path, bike_source):
    data, archive, plain = bike_source
    archive.write_bytes(b"this is not a zip file")
    plain.write_bytes(data.replace(b"\r\n", b"\n"))  # a different file: checksum fails
    home = tmp_path / "bike"
    with pytest.raises(datasets.DownloadError) as e:
        datasets.load_bike_sharing(home)
    message = str(e.value)
    assert "could not download hour.csv" in message and "not a valid zip" in message
    assert "the download has SHA-256" in message and f"in {home} by hand" in message
    assert leftovers(home) == [] and not (home / "hour.csv").exists()
