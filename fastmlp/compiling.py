"""Compile the kernels ahead of use, several processes at once.

Numba compiles a kernel at its first call, in the calling process, one kernel after another,
and keeps the machine code in its on-disk cache for later processes. ``precompile`` fills
that cache: each group of kernels below compiles in a process of its own, as many at once as
there are cores. Run it once after installing (``fastmlp compile``), in a container image's
build, or before starting workers that share a cache (``NUMBA_CACHE_DIR``): later processes
then load every kernel instead of compiling it.

Each group trains or evaluates a tiny network through the public API, so it compiles exactly
what those calls compile for any network, batch size or learning rate of that dtype.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Each group: what it compiles, and about how long it takes alone in a new process (seconds,
# on this project's 2-core machine), to start the longest first.
GROUPS = {
    "threads": ("minibatches on threads, fit(threads=k)", 14.0),
    "per-sample": ("per-sample SGD", 9.0),
    "minibatch": ("minibatches, every optimizer", 7.0),
    "momentum": ("per-sample momentum and Nesterov", 4.5),
    "adam": ("per-sample Adam", 5.0),
    "evaluation": ("predict, loss, gradient, penalties", 3.0),
}
DTYPES = ("float32", "float64")


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def precompile(dtypes=("float32",), threads: bool = False, processes: int | None = None
               ) -> dict[str, float]:
    """Compile every kernel for each dtype in ``dtypes`` (np.float32 and/or np.float64, or
    their names) into Numba's cache, with the threaded minibatch kernel too if ``threads``;
    in up to ``processes`` processes at once (default: one per usable core).

    Returns the seconds each group took, keyed "float32 per-sample" and so on, and "wall":
    the time of the whole call. Raises RuntimeError if a group fails to compile: its first
    line says which and how, the rest is the process's error output.
    """
    names = []
    for dtype in dtypes if isinstance(dtypes, (list, tuple)) else [dtypes]:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = None
        if name not in DTYPES:
            raise ValueError(f"dtypes: expected float32 and/or float64, got {dtype!r}")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("dtypes: expected float32 and/or float64, got none")
    if processes is not None and (not isinstance(processes, (int, np.integer))
                                  or isinstance(processes, bool) or processes < 1):
        raise ValueError(f"processes: expected an integer >= 1, got {processes!r}")
    groups = [g for g in GROUPS if threads or g != "threads"]
    jobs = sorted(((g, d) for d in names for g in groups), key=lambda job: -GROUPS[job[0]][1])
    start = time.perf_counter()
    with ThreadPoolExecutor(min(processes or _cores(), len(jobs))) as pool:
        seconds = list(pool.map(lambda job: _compile_in_a_process(*job), jobs))
    result = {f"{d} {g}": s for (g, d), s in zip(jobs, seconds)}
    result["wall"] = time.perf_counter() - start
    return result


def _compile_in_a_process(group: str, dtype: str) -> float:
    """Compile one group in a new Python process that imports this same fastmlp; its
    seconds."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    # (Not ``-m fastmlp.compiling``: the package imports this module first, and runpy warns.)
    child = "import sys; from fastmlp.compiling import compile_group; compile_group(*sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", child, group, dtype],
                          env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                          text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(f"compiling the {dtype} {group} kernels failed: {last}\n"
                           f"{done.stderr[-3000:]}")
    return time.perf_counter() - start


def compile_group(group: str, dtype: str) -> None:
    """Compile one group's kernels in this process (what each process of ``precompile``
    runs)."""
    from .network import Network

    dtype = np.dtype(dtype).type
    rng = np.random.default_rng(0)
    X = rng.random((16, 6)).astype(dtype)
    X[X < 0.5] = 0  # (sparse or dense, the same kernels: the choice is made as they run)
    y = rng.integers(0, 3, 16)
    net = Network([6, 5, 4, 3], dtype=dtype, seed=0)
    if group == "per-sample":
        net.fit(X, y, batch_size=1)
    elif group == "momentum":
        net.fit(X, y, batch_size=1, optimizer="momentum")
    elif group == "adam":
        net.fit(X, y, batch_size=1, optimizer="adam")
    elif group == "minibatch":
        net.fit(X, y, batch_size=4)
    elif group == "threads":
        # One batch just big enough to be split (``network.THREADS_FROM``).
        from .network import THREADS_FROM
        rows = -(-THREADS_FROM // (6 * 5 + 5 * 4 + 4 * 3))
        net.fit(np.resize(X, (rows, 6)), np.resize(y, rows), batch_size=rows, threads=2)
    elif group == "evaluation":
        net.predict_proba(X)
        net.gradient(X, y, l1=0.01, l2=0.01)
    else:
        raise ValueError(f"group: expected one of {', '.join(GROUPS)}, got {group!r}")
