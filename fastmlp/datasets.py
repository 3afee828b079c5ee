"""Datasets: XOR, the UCI handwritten digits bundled with the package, and MNIST."""
from __future__ import annotations

import gzip
import os
from importlib import resources
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def load_xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR cases: X ``(4, 2)`` float32 and y ``(4,)`` float32 targets 0/1."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0], np.float32)
    return X, y


def load_digits(test_fraction: float = 0.2, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The UCI optical recognition of handwritten digits (1797 images of 8x8, 10 classes).

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 in [0, 1] of shape ``(n, 64)``
    (pixel counts 0..16 divided by 16), y int64 labels 0..9. The split is a fixed permutation
    drawn from ``seed``; the default gives 1438 training and 359 test images.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction!r}")
    with resources.files("fastmlp").joinpath("data/digits.csv.gz").open("rb") as f:
        data = np.loadtxt(gzip.open(f), delimiter=",", dtype=np.int64)
    X = (data[:, :-1] / 16).astype(np.float32)
    y = data[:, -1]
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def mnist_home(data_home=None) -> Path:
    """Where MNIST's files are looked for: data_home, else $FASTMLP_DATA/mnist, else
    ~/.cache/fastmlp/mnist."""
    if data_home is not None:
        return Path(data_home)
    if os.environ.get("FASTMLP_DATA"):
        return Path(os.environ["FASTMLP_DATA"]) / "mnist"
    return Path.home() / ".cache" / "fastmlp" / "mnist"


def read_idx(path, magic: int, shape_tail: tuple[int, ...]) -> np.ndarray:
    """An IDX file (raw or .gz) of unsigned bytes: checks its magic number, its dimensions
    and its length. Returns uint8 ``(count, *shape_tail)``."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path} is damaged ({e}); delete it and download it again") from e
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file with magic number {magic} "
                         f"(it starts with {data[:4].hex() or 'nothing'})")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims))
    if dims[1:] != shape_tail:
        raise ValueError(f"{path} holds items of shape {dims[1:]}, expected {shape_tail}")
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise ValueError(f"{path} has {len(data)} bytes, its header promises {expected}: "
                         f"the file is truncated or damaged")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {name}(.gz) not found in {folder}. Put the four original files "
        f"({', '.join(n + '.gz' for n in MNIST_FILES.values())}) there, or pass data_home=, "
        f"or set FASTMLP_DATA to a folder holding mnist/")


def load_mnist(data_home=None, download: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST from its four original IDX files (``.gz`` or raw).

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 in [0, 1] of shape ``(n, 784)``
    (60000 and 10000 images), y int64 labels 0..9. See ``mnist_home`` for where it looks.
    """
    folder = mnist_home(data_home)
    arrays = {}
    for key, name in MNIST_FILES.items():
        images = key.endswith("images")
        arrays[key] = read_idx(_find(folder, name), 2051 if images else 2049,
                               (28, 28) if images else ())
    out = []
    for part in ("train", "test"):
        X, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(X) != len(y):
            raise ValueError(f"MNIST {part} set: {len(X)} images but {len(y)} labels")
        if y.max() > 9:
            raise ValueError(f"MNIST {part} labels: found {y.max()}, expected 0..9")
        out += [X.reshape(len(X), 784).astype(np.float32) / np.float32(255), y.astype(np.int64)]
    return tuple(out)
