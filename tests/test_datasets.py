import numpy as np

from fastmlp import datasets


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
