"""Compilation cost, measured on its own: a fresh Python process imports fastmlp and trains
one epoch of XOR, once with an empty Numba cache (everything compiles) and once with a warm
one (kernels load from disk).

pytest-benchmark times the whole process (interpreter start included); the process also
reports the time of ``import fastmlp`` and of the first epoch, kept in ``extra_info``.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import fastmlp

from benchmarks.workloads import SMOKE

FIRST_EPOCH = """
import json, time
import numpy
start = time.perf_counter()
import fastmlp
imported = time.perf_counter()
X, y = fastmlp.datasets.load_xor()
net = fastmlp.Network([2, 3, 1], activation="sigmoid", output="identity", init="uniform", seed=0)
net.fit(X, y, epochs=1, batch_size=1, lr=0.5)
done = time.perf_counter()
print(json.dumps({"import_s": imported - start, "first_epoch_s": done - imported}))
"""


def first_epoch(cache_dir: Path) -> dict:
    """Run FIRST_EPOCH in a new process with NUMBA_CACHE_DIR=cache_dir; its two timings."""
    # The child imports the same fastmlp as this process, wherever it is run from.
    package_parent = str(Path(fastmlp.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": path}
    result = subprocess.run([sys.executable, "-c", FIRST_EPOCH], env=env,
                            cwd=tempfile.gettempdir(), capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_compilation(benchmark, cache, tmp_path):
    """Cold: every round starts from a new, empty cache (skipped in smoke mode: it compiles
    everything, about ten seconds). Warm: the suite's own kernel cache, filled first."""
    if cache == "cold" and SMOKE:
        pytest.skip("smoke mode: a cold compilation takes too long for CI")
    runs: list[dict] = []
    warm = Path(os.environ["NUMBA_CACHE_DIR"])  # set by conftest, keyed by the kernels' source
    if cache == "warm":
        first_epoch(warm)  # fills it if needed; not timed

    def setup():  # before each round
        return (warm if cache == "warm" else tmp_path / f"cold-{len(runs)}",), {}

    benchmark.group = "compilation"
    benchmark.extra_info.update(workload="compilation", contender=f"{cache} cache",
                                cache=cache)
    rounds = 1 if SMOKE else {"cold": 1, "warm": 3}[cache]
    benchmark.pedantic(lambda d: runs.append(first_epoch(d)), setup=setup, rounds=rounds)
    benchmark.extra_info["import_s"] = [r["import_s"] for r in runs]
    benchmark.extra_info["first_epoch_s"] = [r["first_epoch_s"] for r in runs]
