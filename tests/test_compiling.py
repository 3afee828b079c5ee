"""fastmlp.precompile: after it, a new process compiles nothing, whatever it trains; and one
process compiles each kernel once."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import cli
from fakes import FakeProcess

# The start of a script that prints the kernels Numba had to compile (a kernel loaded from
# the cache is not compiled) ...
LISTENING = """
import json
import sys
import numba
import numpy as np
from numba.core import event

compiled = []


class Listener(event.Listener):
    def on_start(self, e):
        compiled.append(e.data["dispatcher"].py_func.__qualname__)

    def on_end(self, e):
        pass


event.register("numba:compile", Listener())
import fastmlp
import fastmlp.network

"""
# ... and its end: a function of its own compiled last, which shows that the count works.
CANARY = """
@numba.njit
def canary():
    return 1


canary()
print(json.dumps(compiled))
"""

# Trains and evaluates every kind of network and setting a user could pick.
USE_EVERYTHING = LISTENING + """
fastmlp.network.THREADS_FROM = 0  # (the threaded kernel for these tiny batches too)

dtype = np.dtype(sys.argv[1]).type
rng = np.random.default_rng(1)
X = rng.normal(size=(40, 9)).astype(dtype)
X[rng.random(X.shape) < 0.7] = 0
y = rng.integers(0, 4, 40)
for sizes, activation in (([9, 4], "relu"), ([9, 17, 4], "tanh"), ([9, 40, 8, 4], "sigmoid")):
    net = fastmlp.Network(sizes, activation=activation, dtype=dtype, seed=0)
    for batch_size, optimizer, l1, l2, threads in (
            (1, "sgd", 0, 0, 1), (1, "sgd", 0, 0.01, 1), (1, "sgd", 0.01, 0, 1),
            (1, "momentum", 0, 0, 1), (1, "nesterov", 0, 0, 1), (1, "adam", 0, 0, 1),
            (5, "sgd", 0, 0, 1), (5, "adam", 0.01, 0.01, 1), (40, "momentum", 0, 0, 1),
            (8, "sgd", 0, 0, 2), (8, "adam", 0, 0.01, 2)):
        net.fit(X, y, batch_size=batch_size, optimizer=optimizer, l1=l1, l2=l2,
                threads=threads, validation_data=(X[:7], y[:7]))
    net.predict(X), net.score(X, y), net.loss(X, y, l2=0.1), net.gradient(X, y, l1=0.1)
    other = np.float64 if dtype == np.float32 else np.float32  # (X converted as it is checked)
    net.fit(X.astype(other), y), net.predict(X.astype(other))
    for source in (X, X.astype(other)):  # read-only X (a memmap, say): copied
        source.flags.writeable = False
        net.predict(source)
""" + CANARY


def with_cache(cache: Path) -> dict[str, str]:
    """The environment of a new process that imports this fastmlp and keeps Numba's cache in
    ``cache``."""
    package_parent = str(Path(fastmlp.__file__).resolve().parent.parent)
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": package_parent}


def compiled_by_a_new_process(cache: Path, dtype: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", USE_EVERYTHING, dtype], env=with_cache(cache),
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


# Compiles every float32 group in one process, with an empty cache, and prints each kernel
# that compiled more than once (by dispatcher: overloads share names).
ONE_PROCESS = """
import collections, json, sys
from numba.core import event
compiled = collections.Counter()
names = {}


class Listener(event.Listener):
    def on_start(self, e):
        d = e.data["dispatcher"]
        compiled[id(d)] += 1
        names[id(d)] = f"{d.py_func.__module__}.{d.py_func.__qualname__}"

    def on_end(self, e):
        pass


event.register("numba:compile", Listener())
from fastmlp.compiling import GROUPS, compile_group
for group in GROUPS:
    compile_group(group, "float32")
print(json.dumps({names[k]: n for k, n in compiled.items()
                  if names[k].startswith("fastmlp.") and n > 1}))
"""


def test_after_precompile_nothing_compiles(tmp_path, monkeypatch, capsys):
    """After ``fastmlp compile``, a new process that trains and evaluates everything compiles
    nothing. Meanwhile, on the core that leaves free, another process compiles every float32
    kernel with an empty cache of its own, each for one set of argument types only: a second
    specialization costs compilation and goes unnoticed otherwise (``rescale`` had one for a
    float32 factor, ``part_rows`` and ``workspace_part`` one for a uint64 loop index). Other
    tests run with a warm cache, in which a kernel that only other kernels call never
    compiles. (Both compile everything: side by side, they take the time of one and a half.)"""
    # (Its output to files: a pipe read only at the end could fill and stall it.)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        alone = subprocess.Popen([sys.executable, "-c", ONE_PROCESS],
                                 env=with_cache(tmp_path / "alone"), stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL)
    try:
        cache = tmp_path / "cache"
        monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))  # (for the processes it starts)
        assert cli.main(["compile", "--dtype", "float32", "--threads"]) == 0
        out = capsys.readouterr().out
        for group in ("per-sample", "momentum", "adam", "minibatch", "evaluation", "threads"):
            assert f"float32 {group}" in out
        assert compiled_by_a_new_process(cache, "float32") == ["canary"]
        assert alone.wait(timeout=600) == 0, (tmp_path / "err").read_text()[-3000:]
    finally:
        if alone.poll() is None:
            alone.kill()
            alone.wait()
    compiled_twice = json.loads((tmp_path / "out").read_text().splitlines()[-1])
    assert compiled_twice == {}


@pytest.mark.parametrize("kwargs, what", [
    (dict(dtypes=["int32"]), "dtypes: expected float32 and/or float64, got 'int32'"),
    (dict(dtypes="float16"), "got 'float16'"),
    (dict(dtypes=[]), "got none"),
    (dict(processes=0), "processes: expected an integer >= 1, got 0"),
    (dict(processes=1.5), "got 1.5"),
])
def test_bad_settings(kwargs, what):
    with pytest.raises(ValueError, match=what):
        fastmlp.precompile(**kwargs)


def test_a_failed_group_says_which(monkeypatch):
    monkeypatch.setattr(fastmlp.compiling, "GROUPS", {"nonsense": ("no process knows it", 1)})
    with pytest.raises(RuntimeError, match="compiling the float64 nonsense kernels failed: "
                                           "ValueError: group: expected one of"):
        fastmlp.precompile([np.float64], processes=1)


def test_a_failed_group_after_others_in_its_process_says_which(monkeypatch):
    """One process compiles both groups, the evaluation kernels first: the error names the
    group that failed, not the process's first."""
    monkeypatch.setattr(fastmlp.compiling, "GROUPS", {"evaluation": ("predict etc.", 2),
                                                       "nonsense": ("no process knows it", 1)})
    with pytest.raises(RuntimeError, match="compiling the float64 nonsense kernels failed: "):
        fastmlp.precompile([np.float64], processes=1)


# Evaluates a network of the given dtype: its loss with a penalty (as ``fastmlp train`` after
# each epoch) and its outputs.
EVALUATE = LISTENING + """
dtype = np.dtype(sys.argv[1]).type
rng = np.random.default_rng(1)
X = rng.normal(size=(40, 9)).astype(dtype)
y = rng.integers(0, 4, 40)
net = fastmlp.Network([9, 17, 4], dtype=dtype, seed=0)
net.loss(X, y, l2=1e-3), net.score(X, y), net.predict_proba(X)
""" + CANARY


def test_start_compiling_fills_the_cache_in_another_process(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    monkeypatch.setattr(fastmlp.compiling, "usable_cores", lambda: 2)
    helper = fastmlp.compiling.start_compiling([("evaluation", "float64")])
    assert helper.wait(timeout=300) == 0
    package_parent = str(Path(fastmlp.__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", EVALUATE, "float64"], check=True, text=True,
                          env={**os.environ, "PYTHONPATH": package_parent},
                          capture_output=True)
    assert json.loads(done.stdout.splitlines()[-1]) == ["canary"]


def test_start_compiling_on_one_core_starts_nothing(monkeypatch):
    monkeypatch.setattr(fastmlp.compiling, "usable_cores", lambda: 1)
    assert fastmlp.compiling.start_compiling([("evaluation", "float32")]) is None


@pytest.mark.parametrize("hangs, expected", [(False, ["wait at most"]),
                                             (True, ["wait at most", "kill", "wait"])])
def test_compiling_meanwhile_waits_for_its_process_at_most_so_long(monkeypatch, hangs,
                                                                    expected):
    events = []
    monkeypatch.setattr(fastmlp.compiling, "start_compiling",
                        lambda jobs: FakeProcess(events, hangs))
    with fastmlp.compiling.compiling_meanwhile([("evaluation", "float32")], after=0) as join:
        time.sleep(0.2)  # (the timer fires)
        join()
        assert events == expected
    assert events == expected  # (nothing left to stop)


def test_compiling_meanwhile_stops_its_process_if_the_block_fails(monkeypatch):
    events = []
    monkeypatch.setattr(fastmlp.compiling, "start_compiling",
                        lambda jobs: FakeProcess(events, hangs=False))
    with pytest.raises(RuntimeError):
        with fastmlp.compiling.compiling_meanwhile([("evaluation", "float32")], after=0):
            time.sleep(0.2)
            raise RuntimeError
    assert events == ["kill", "wait"]


def test_compiling_meanwhile_starts_nothing_in_a_short_block(monkeypatch):
    monkeypatch.setattr(fastmlp.compiling, "start_compiling", lambda jobs: pytest.fail("started"))
    with fastmlp.compiling.compiling_meanwhile([("evaluation", "float32")], after=60) as join:
        join()
