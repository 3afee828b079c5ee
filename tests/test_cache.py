"""Numba's on-disk cache of the kernels goes with any change to their sources
(``kernels/cache.py``)."""
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import fastmlp
from fastmlp.kernels import cache

from test_compilation import kernels

PREDICT = """
import numpy as np, fastmlp
net = fastmlp.Network([4, 3, 2], seed=0)
print(repr(float(net.predict_proba(np.linspace(-1, 1, 8).reshape(2, 4))[0, 0])))
"""


def test_every_kernel_cache_covers_all_the_kernels_sources():
    for kernel in kernels():
        locator = kernel._cache._impl.locator
        assert type(locator) in cache.LOCATORS, kernel
        assert locator.get_source_stamp()[1] == cache.SOURCES


def test_a_change_in_a_called_kernels_file_compiles_its_callers_again(tmp_path):
    """An upgrade that changes the sigmoid (activations.py) but not the prediction kernel
    that inlines it (evaluate.py): the prediction must change with it, not come from the
    cache of the old code."""
    package = tmp_path / "site" / "fastmlp"
    shutil.copytree(pathlib.Path(fastmlp.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"),
           "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def predict() -> float:
        out = subprocess.run([sys.executable, "-c", PREDICT], env=env, cwd=tmp_path,
                             capture_output=True, text=True, check=True)
        return float(out.stdout)

    before = predict()
    assert predict() == before  # (from the cache)
    activations = package / "kernels" / "activations.py"
    sigmoid = "z[j] = sigmoid(z[j])"  # (the scalar loop: the hidden layer is 3 wide)
    assert sigmoid in activations.read_text()
    activations.write_text(activations.read_text().replace(sigmoid, "z[j] = sigmoid(z[j] - one)"))
    assert predict() != before


class SlowCacheFile(cache.LockedCacheFile):
    """Saves that leave room for another process's save in between: a pause after reading
    the index, and a longer one before writing the data of the entry "first"."""

    def _load_index(self):
        index = super()._load_index()
        time.sleep(0.1)
        return index

    def _save_data(self, name, data):
        if data == "first":
            time.sleep(0.2)
        super()._save_data(name, data)


def test_saves_at_once_keep_each_entry_with_its_own_data(tmp_path):
    """Two saves of one kernel's entries for different types at once, as from two processes
    (two threads, each with its own lock file handle). Unlocked, both would take the first
    data file and the second key would load the first's data."""
    def save(key, data):
        SlowCacheFile(str(tmp_path), "kernel", "stamp").save(key, data)

    threads = [threading.Thread(target=save, args=("key 1", "first")),
               threading.Thread(target=save, args=("key 2", "second"))]
    threads[0].start()
    time.sleep(0.02)
    threads[1].start()
    for thread in threads:
        thread.join()
    files = cache.LockedCacheFile(str(tmp_path), "kernel", "stamp")
    assert files.load("key 1") == "first" and files.load("key 2") == "second"


def test_every_kernel_saves_under_the_lock():
    for kernel in kernels():
        assert type(kernel._cache._cache_file) is cache.LockedCacheFile, kernel
