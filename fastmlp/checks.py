"""Validation of data and training settings, before anything changes.

Every problem raises a ValueError or TypeError that says what was wrong and what was expected.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .config import Config
from .kernels.arrays import all_finite, copy_finite


def _numeric_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; could not convert it: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; got an array of dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str, source: np.ndarray | None = None,
                  kernel: bool = False) -> None:
    # One reduction instead of a boolean copy of the whole array: a NaN or inf makes the sum
    # non-finite; only then (or on overflow of finite values) look element by element. With
    # ``kernel``, for an array of the network's dtype as kernels take it (writable,
    # C-contiguous: anything else would compile the kernel again), a kernel's sum: faster
    # than NumPy's, and without NumPy's error state to set (XOR's targets: 1.1 us against 4.8).
    # ``source``: what arr was converted from, to tell values too large for arr's dtype.
    if arr.dtype.kind != "f":
        return
    if kernel:
        finite = all_finite(arr.reshape(-1))
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # (a float64 sum may overflow)
            finite = np.isfinite(arr.sum(dtype=np.float64))
    if not finite:
        _look_for_non_finite(arr, name, source)


def _look_for_non_finite(arr: np.ndarray, name: str, source: np.ndarray | None) -> None:
    """Raise a ValueError naming the first NaN or infinity of arr (float), if there is one;
    or, where arr was converted from ``source``, the first value too large for its dtype."""
    if source is not None and source.dtype.kind == "f":
        _look_for_non_finite(source, name, None)  # NaN or infinite already before
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    if source is not None and np.isfinite(source[where]):
        raise ValueError(f"{name} holds {int(bad.sum())} values too large for "
                         f"{arr.dtype.name} (the first, "
                         f"{np.format_float_scientific(source[where], precision=8, trim='-')}, at index "
                         f"{where}); expected magnitudes up to "
                         f"{np.format_float_scientific(np.finfo(arr.dtype).max, trim='-')}")
    raise ValueError(f"{name} holds {int(bad.sum())} NaN or infinite values "
                     f"(the first at index {where}); expected finite numbers")


def as_features(X, config: Config, name: str = "X") -> np.ndarray:
    """X as a writable, C-contiguous ``(n, n_in)`` array of the network's dtype (copied only
    if needed)."""
    arr = _numeric_array(X, name)
    n_in = config.sizes[0]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_in}); got a {arr.ndim}-D array "
                         f"of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one sample")
    if arr.shape[1] != n_in:
        raise ValueError(f"{name} has {arr.shape[1]} features but the network's input layer "
                         f"has {n_in}")
    if (arr.dtype in (np.float32, np.float64) and arr.dtype != config.dtype
            and arr.flags.c_contiguous and arr.flags.writeable and arr.flags.aligned):
        # Converted and checked in one pass. (Only arrays of the types that ``fastmlp
        # compile`` compiles it for: a read-only one, a memmap say, is another type for Numba.)
        out = np.empty(arr.shape, config.dtype)
        if not copy_finite(arr.reshape(-1), out.reshape(-1)):
            _look_for_non_finite(out, name, arr)
        return out
    return _as_dtype(arr, config.dtype, name)


def as_targets(y, n: int, config: Config, name: str = "y") -> np.ndarray:
    """Targets as a C-contiguous ``(n, n_out)`` array of the network's dtype.

    Integer labels ``(n,)`` are one-hot encoded for softmax/sigmoid outputs; for an output of
    one unit, a 1-D y is taken as ``(n, 1)`` (0/1 labels for sigmoid, values for identity).
    """
    arr = _numeric_array(y, name)
    n_out = config.sizes[-1]
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D labels (n_samples,) or 2-D targets "
                         f"(n_samples, {n_out}); got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X has {n} samples but {name} has {arr.shape[0]}; expected one "
                         f"target per sample")
    if arr.ndim == 2:
        if arr.shape[1] != n_out:
            raise ValueError(f"{name} has {arr.shape[1]} columns but the network has {n_out} "
                             f"outputs")
        return _as_dtype(arr, config.dtype, name)
    if n_out == 1 and config.output != "softmax":
        if config.output == "sigmoid":
            _check_labels(arr, 2, name)
        return _as_dtype(arr, config.dtype, name).reshape(n, 1)
    if not config.is_classifier:
        raise ValueError(f"{name} is 1-D but the network has {n_out} identity outputs; "
                         f"expected targets of shape ({n}, {n_out})")
    labels = _check_labels(arr, n_out, name)
    T = np.zeros((n, n_out), config.dtype)
    T.reshape(-1)[np.arange(0, n * n_out, n_out) + labels] = 1  # (a 2-D index costs 1.4x)
    return T


def _as_dtype(arr: np.ndarray, dtype, name: str) -> np.ndarray:
    """arr as a writable C-contiguous array of dtype (copied only if needed), checked to be
    finite once converted: a NaN or infinity in arr, or a value too large for dtype, raises a
    ValueError that says which. (A read-only array would make Numba compile every kernel
    again for it; kernels never write X, but a copy is cheaper than a second compilation.)"""
    if arr.dtype == dtype:
        out = np.ascontiguousarray(arr)
    else:
        with np.errstate(over="ignore"):  # (reported below)
            out = np.ascontiguousarray(arr, dtype=dtype)
    if not out.flags.writeable:
        out = out.copy()
    if arr.dtype.kind == "f":  # (integers and booleans are finite in either dtype)
        _check_finite(out, name, source=arr, kernel=True)
    return out


def _check_labels(arr: np.ndarray, n_classes: int, name: str) -> np.ndarray:
    """arr's labels, checked to be finite integers in 0..n_classes - 1, as integers."""
    _check_finite(arr, name)
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
        raise ValueError(f"{name} holds non-integer labels; expected class labels "
                         f"0..{n_classes - 1} (or 2-D targets)")
    # (Two reductions rather than a mask: fit checks the labels on every call.)
    if arr.min() < 0 or arr.max() >= n_classes:
        labels = arr.astype(np.int64)
        bad = (labels < 0) | (labels >= n_classes)
        raise ValueError(f"{name} holds labels outside 0..{n_classes - 1}: "
                         f"{sorted(set(labels[bad].tolist()))[:10]}")
    return arr.astype(np.int64, copy=False)


def positive_int(value, name: str, minimum: int = 1) -> int:
    """An integer >= minimum."""
    # (Exact types first: the ABC checks cost microseconds, and fit makes many of these.)
    if type(value) is not int and (isinstance(value, (bool, np.bool_))
                                   or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def real(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """A finite real number >= minimum (> minimum if strict)."""
    if type(value) not in (float, int) and (isinstance(value, (bool, np.bool_))
                                            or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {op} {minimum:g}; got {value!r}")
    return value
