"""Datasets: XOR, and the UCI handwritten digits bundled with the package."""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


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
