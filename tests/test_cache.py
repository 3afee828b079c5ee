"""Numba's on-disk cache of the kernels goes with any change to their sources
(``kernels/cache.py``)."""
import os
import pathlib
import shutil
import subprocess
import sys

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
