"""Small stand-ins, written by the tests themselves: for the real datasets' files, and for a
process that compiles kernels.

``write_mnist`` writes the four IDX files of a tiny MNIST; ``write_bike_csv`` an hour.csv of
a few months with the real file's columns and CRLF line endings. Each returns what the
loaders' checksum tables must hold for the files to be accepted. ``FakeProcess`` stands for
what ``compiling.start_compiling`` returns.
"""
from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

import numpy as np

from fastmlp import datasets

MNIST_NAMES = tuple(datasets.MNIST_FILES.values())


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0800 + n_dims, the dimensions, the data."""
    magic = 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def mnist_arrays(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images ``(n, 28, 28)`` uint8 and labels ``(n,)`` 0..9, by file name."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte"] = np.arange(n, dtype=np.uint8) % 10
    return arrays


def write_mnist(folder: Path, arrays: dict | None = None, gz: bool = True) -> dict:
    """Write the four files (``.gz`` or raw) to ``folder``; return a table like
    ``datasets.MNIST_SHA256`` ({name: (sha256 of the .gz, sha256 of the raw file)})."""
    arrays = mnist_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name in MNIST_NAMES:
        raw = idx_bytes(arrays[name])
        packed = gzip.compress(raw, mtime=0)
        (folder / (name + ".gz" if gz else name)).write_bytes(packed if gz else raw)
        sums[name] = (hashlib.sha256(packed).hexdigest(), hashlib.sha256(raw).hexdigest())
    return sums


def bike_rows(days: int = 90, seed: int = 0) -> list[list[str]]:
    """``days * 24`` rows of an hour.csv: every column of the real file, plausible values."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2011-01-01")
    rows = []
    for i in range(days * 24):
        day = start + np.timedelta64(i // 24, "D")
        month = int(str(day)[5:7])
        weekday = int((day.astype("datetime64[D]").view("int64") + 4) % 7)  # 1970-01-01: Thu
        casual, registered = int(rng.integers(0, 50)), int(rng.integers(0, 300))
        rows.append([str(i + 1), str(day), str((month % 12) // 3 + 1), "0", str(month),
                     str(i % 24), str(int(rng.random() < 0.03)), str(weekday),
                     str(int(weekday not in (0, 6))), str(int(rng.integers(1, 5))),
                     f"{rng.random():.2f}", f"{rng.random():.4f}", f"{rng.random():.2f}",
                     f"{rng.random():.4f}", str(casual), str(registered),
                     str(casual + registered)])
    return rows


def bike_csv_bytes(rows: list[list[str]], newline: str = "\r\n") -> bytes:
    lines = [",".join(datasets.BIKE_COLUMNS)] + [",".join(r) for r in rows]
    return (newline.join(lines) + newline).encode()


def write_bike_csv(folder: Path, rows: list[list[str]] | None = None,
                   newline: str = "\r\n") -> tuple[str, ...]:
    """Write hour.csv to ``folder``; return a table like ``datasets.BIKE_SHA256``."""
    data = bike_csv_bytes(bike_rows() if rows is None else rows, newline)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hour.csv").write_bytes(data)
    return (hashlib.sha256(data).hexdigest(),)


class FakeProcess:
    """A process as ``compiling.start_compiling`` returns it, appending to ``events`` what is
    done to it: "wait" (or "wait at most", with a timeout), "kill". One that ``hangs`` times
    out when waited for with a timeout."""

    def __init__(self, events: list, hangs: bool = False):
        self.events, self.hangs, self.running = events, hangs, True

    def wait(self, timeout=None):
        self.events.append("wait" if timeout is None else "wait at most")
        if self.hangs and timeout is not None:
            raise subprocess.TimeoutExpired("helper", timeout)
        self.running = False
        return 0

    def poll(self):
        return None if self.running else 0

    def kill(self):
        self.events.append("kill")
        self.running = False
