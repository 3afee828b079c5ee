"""Datasets: XOR, the UCI handwritten digits bundled with the package, MNIST and bike sharing.

MNIST and bike sharing are read from a folder: ``data_home`` when given, else
``$FASTMLP_DATA/mnist`` (``$FASTMLP_DATA/bike-sharing``), else ``~/.cache/fastmlp/mnist``
(``~/.cache/fastmlp/bike-sharing``). Missing files are downloaded there when ``download`` is
true: from each source in turn, checked against their SHA-256 and written atomically (a
temporary file in the same folder, fsync, rename), so an interrupted download never leaves a
file that looks complete. Files already there are checked against the same sums.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from .download import DownloadError, fetch, sha256_hex  # noqa: F401  (DownloadError: API)

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Public copies of the original MNIST files, tried in turn.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of each original .gz file and of its unpacked content (the raw IDX file).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}

BIKE_FILE = "hour.csv"
# The UCI zip (hour.csv is taken out of it), then the same file in the Udacity course
# repository at a fixed commit.
BIKE_SOURCES = (
    "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip",
    "https://raw.githubusercontent.com/udacity/deep-learning-v2-pytorch/"
    "c9404fc86181fc3f0906b368697268257f348535/project-bikesharing/Bike-Sharing-Dataset/hour.csv",
)
# SHA-256 of hour.csv as distributed (CRLF line endings), and of the common copy whose
# line endings were converted to LF (the same content otherwise).
BIKE_SHA256 = (
    "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f",
    "b03a2d02e8c10f435c43c7f0b358b7e34a003afea53dbc37f0183f2763295133",
)
BIKE_COLUMNS = ("instant", "dteday", "season", "yr", "mnth", "hr", "holiday", "weekday",
                "workingday", "weathersit", "temp", "atemp", "hum", "windspeed", "casual",
                "registered", "cnt")
# One-hot columns and the values each can take (fixed, so there are always 56 features).
BIKE_ONE_HOT = {"season": range(1, 5), "weathersit": range(1, 5), "mnth": range(1, 13),
                "hr": range(24), "weekday": range(7)}
BIKE_KEPT = ("yr", "holiday", "temp", "hum", "windspeed")
BIKE_STANDARDIZED = ("casual", "registered", "cnt", "temp", "hum", "windspeed")
BIKE_TARGETS = ("cnt", "casual", "registered")
BIKE_TEST_HOURS = 21 * 24
BIKE_VAL_HOURS = 60 * 24

# --- XOR and the bundled digits ---------------------------------------------------------------

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


# --- where the files live, and how they get there ---------------------------------------------

def _home(data_home, subfolder: str) -> Path:
    if data_home is not None:
        return Path(data_home)
    if os.environ.get("FASTMLP_DATA"):
        return Path(os.environ["FASTMLP_DATA"]) / subfolder
    return Path.home() / ".cache" / "fastmlp" / subfolder


def mnist_home(data_home=None) -> Path:
    """Where MNIST's files are looked for: data_home, else $FASTMLP_DATA/mnist, else
    ~/.cache/fastmlp/mnist."""
    return _home(data_home, "mnist")


def bike_sharing_home(data_home=None) -> Path:
    """Where hour.csv is looked for: data_home, else $FASTMLP_DATA/bike-sharing, else
    ~/.cache/fastmlp/bike-sharing."""
    return _home(data_home, "bike-sharing")


# --- MNIST ------------------------------------------------------------------------------------

def _mnist_how_to(folder: Path) -> str:
    files = ", ".join(n + ".gz" for n in MNIST_FILES.values())
    return (f"Put the four original files ({files}; from {MNIST_MIRRORS[0]}) in {folder} by "
            f"hand, or set FASTMLP_DATA to a folder holding mnist/")


def read_idx(path, magic: int, shape_tail: tuple[int, ...], sha256: str | None = None
             ) -> np.ndarray:
    """An IDX file (raw or .gz) of unsigned bytes: checks its magic number, its dimensions,
    its length and, when ``sha256`` is given, the SHA-256 of its unpacked content.
    Returns uint8 ``(count, *shape_tail)``."""
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
    if sha256 is not None and sha256_hex(data) != sha256:
        raise ValueError(f"{path} is damaged or not the original file: the SHA-256 of its "
                         f"content is {sha256_hex(data)[:16]}..., expected {sha256[:16]}...; "
                         f"delete it and download it again")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find_mnist_file(folder: Path, name: str, download: bool) -> Path:
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    if not download:
        raise FileNotFoundError(f"MNIST file {name}(.gz) not found in {folder} (and "
                                f"download=False). {_mnist_how_to(folder)}")
    dest = folder / (name + ".gz")
    fetch([m + dest.name for m in MNIST_MIRRORS], dest, MNIST_SHA256[name][:1],
              _mnist_how_to(folder))
    return dest


def load_mnist(data_home=None, download: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST from its four original IDX files (``.gz`` or raw), downloaded when missing.

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 in [0, 1] of shape ``(n, 784)``
    (60000 and 10000 images), y int64 labels 0..9. See ``mnist_home`` for where it looks.
    Raises ValueError for a damaged file, FileNotFoundError for a missing one when
    ``download`` is false, DownloadError when a missing file cannot be fetched.
    """
    folder = mnist_home(data_home)
    arrays = {}
    for key, name in MNIST_FILES.items():
        images = key.endswith("images")
        path = _find_mnist_file(folder, name, download)
        arrays[key] = read_idx(path, 2051 if images else 2049, (28, 28) if images else (),
                               sha256=MNIST_SHA256[name][1])
    out = []
    for part in ("train", "test"):
        X, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(X) != len(y):
            raise ValueError(f"MNIST {part} set: {len(X)} images but {len(y)} labels")
        if len(y) and y.max() > 9:
            raise ValueError(f"MNIST {part} labels: found {y.max()}, expected 0..9")
        X = X.reshape(len(X), 784).astype(np.float32)
        X /= 255  # (in place: a second float32 copy of the training set is 188 MB)
        out += [X, y.astype(np.int64)]
    return tuple(out)


# --- bike sharing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BikeSharing:
    """The bike-sharing regression, prepared as the Udacity tutorial does.

    X_*: float32 ``(n, 56)``; y_*: float32 ``(n,)`` for one target, ``(n, k)`` for several
    (standardized: ``(value - mean) / std``). ``scaling`` maps each standardized column
    (casual, registered, cnt, temp, hum, windspeed) to its ``(mean, std)``; ``unscale``
    turns predictions back into rides. ``*_times``: ``datetime64[h]`` of each row.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    scaling: dict[str, tuple[float, float]]
    train_times: np.ndarray = field(repr=False)
    val_times: np.ndarray = field(repr=False)
    test_times: np.ndarray = field(repr=False)

    def unscale(self, values, target: str = "cnt") -> np.ndarray:
        """Standardized values of ``target`` back in its units: ``values * std + mean``."""
        if target not in self.scaling:
            raise ValueError(f"unknown column {target!r}: expected one of {sorted(self.scaling)}")
        mean, std = self.scaling[target]
        return np.asarray(values, np.float64) * std + mean


def _bike_how_to(folder: Path) -> str:
    return (f"Put hour.csv (from the UCI Bike Sharing Dataset zip, {BIKE_SOURCES[0]}) in "
            f"{folder} by hand, or set FASTMLP_DATA to a folder holding bike-sharing/")


def _read_bike_csv(path: Path) -> dict[str, np.ndarray]:
    """hour.csv's columns: ``dteday`` as ``datetime64[D]``, the others as float64 ``(n,)``."""
    raw = path.read_bytes()
    _check_bike_sum(path, raw)
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(c.strip() for c in rows[0]) != BIKE_COLUMNS:
        raise ValueError(f"{path} does not look like the bike-sharing hour.csv: its header is "
                         f"{rows[0] if rows else 'missing'}, expected {','.join(BIKE_COLUMNS)}")
    body = [r for r in rows[1:] if r]
    for line, r in enumerate(body, start=2):
        if len(r) != len(BIKE_COLUMNS):
            raise ValueError(f"{path}, line {line}: {len(r)} fields, expected "
                             f"{len(BIKE_COLUMNS)}")
    columns = {}
    for j, name in enumerate(BIKE_COLUMNS):
        values = [r[j] for r in body]
        try:
            columns[name] = np.array(values, "datetime64[D]" if name == "dteday" else np.float64)
        except ValueError as e:
            raise ValueError(f"{path}: column {name!r} holds a value that is not a "
                             f"{'date' if name == 'dteday' else 'number'} ({e})") from None
    return columns


def _check_bike_sum(path: Path, raw: bytes) -> None:
    actual = sha256_hex(raw)
    if actual not in BIKE_SHA256:
        raise ValueError(f"{path} is damaged or not the original hour.csv: its SHA-256 is "
                         f"{actual[:16]}..., expected {BIKE_SHA256[0][:16]}... (or "
                         f"{BIKE_SHA256[1][:16]}... with LF line endings); delete it and "
                         f"download it again")


def _one_hot(values: np.ndarray, name: str, domain) -> tuple[np.ndarray, list[str]]:
    domain = np.array(list(domain), np.float64)
    outside = ~np.isin(values, domain)
    if outside.any():
        raise ValueError(f"bike sharing column {name!r} holds {values[outside][0]:g}, expected "
                         f"one of {domain.astype(int).tolist()}")
    return ((values[:, None] == domain[None, :]).astype(np.float64),
            [f"{name}_{int(v)}" for v in domain])


def _as_targets(targets) -> tuple[str, ...]:
    names = (targets,) if isinstance(targets, str) else tuple(targets)
    unknown = [t for t in names if t not in BIKE_TARGETS]
    if not names or unknown:
        raise ValueError(f"targets must be names among {list(BIKE_TARGETS)}; got {targets!r}")
    return names


def load_bike_sharing(data_home=None, download: bool = True,
                      targets: str | Sequence[str] = "cnt") -> BikeSharing:
    """The UCI Bike Sharing ``hour.csv`` (17379 hours), prepared as the Udacity tutorial does.

    One-hot ``season, weathersit, mnth, hr, weekday``; drop ``instant, dteday, atemp,
    workingday``; standardize ``casual, registered, cnt, temp, hum, windspeed`` with the mean
    and sample std (ddof=1) over all rows; the last 21 days (504 hours) are the test set,
    the 60 days (1440 hours) before them the validation set, the rest training. That leaves
    56 features: yr, holiday, temp, hum, windspeed and 51 one-hot columns. ``targets`` is
    "cnt" (y of shape ``(n,)``) or a list of "cnt", "casual", "registered" (``(n, k)``).
    See ``bike_sharing_home`` for where it looks; errors as for ``load_mnist``.
    """
    target_names = _as_targets(targets)
    folder = bike_sharing_home(data_home)
    path = folder / BIKE_FILE
    if not path.is_file():
        if not download:
            raise FileNotFoundError(f"{BIKE_FILE} not found in {folder} (and download=False). "
                                    f"{_bike_how_to(folder)}")
        fetch(BIKE_SOURCES, path, BIKE_SHA256, _bike_how_to(folder))
    columns = _read_bike_csv(path)
    n = len(columns["cnt"])
    if n <= BIKE_TEST_HOURS + BIKE_VAL_HOURS:
        raise ValueError(f"{path} has {n} rows; the split needs more than "
                         f"{BIKE_TEST_HOURS + BIKE_VAL_HOURS} (21 + 60 days of hours)")

    scaling = {}
    for name in BIKE_STANDARDIZED:
        mean, std = float(columns[name].mean()), float(columns[name].std(ddof=1))
        if not std > 0:
            raise ValueError(f"{path}: column {name!r} is constant, it cannot be standardized")
        scaling[name] = (mean, std)
        columns[name] = (columns[name] - mean) / std

    blocks = [np.column_stack([columns[name] for name in BIKE_KEPT])]
    feature_names = list(BIKE_KEPT)
    for name, domain in BIKE_ONE_HOT.items():
        block, names = _one_hot(columns[name], name, domain)
        blocks.append(block)
        feature_names += names
    X = np.hstack(blocks).astype(np.float32)
    y = np.column_stack([columns[t] for t in target_names]).astype(np.float32)
    if len(target_names) == 1:
        y = y[:, 0]
    times = columns["dteday"].astype("datetime64[h]") + columns["hr"].astype(np.int64)

    test = slice(n - BIKE_TEST_HOURS, n)
    val = slice(n - BIKE_TEST_HOURS - BIKE_VAL_HOURS, n - BIKE_TEST_HOURS)
    train = slice(0, n - BIKE_TEST_HOURS - BIKE_VAL_HOURS)
    return BikeSharing(X[train], y[train], X[val], y[val], X[test], y[test],
                       tuple(feature_names), target_names, scaling,
                       times[train], times[val], times[test])
