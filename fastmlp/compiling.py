"""Compile the kernels ahead of use, several processes at once.

Numba compiles a kernel at its first call, in the calling process, one kernel after another,
and keeps the machine code in its on-disk cache for later processes. ``precompile`` fills
that cache: the groups of kernels below are shared out among as many processes as there are
cores, the longest first, each to the process with the least work so far; a process compiles
its groups one after another, the later ones reusing what the earlier compiled (the small
kernels they share: losses, activations, workspaces). Run it once after installing
(``fastmlp compile``), in a container image's build, or before starting workers that share a
cache (``NUMBA_CACHE_DIR``): later processes then load every kernel instead of compiling it.

Each group trains or evaluates a tiny network through the public API, so it compiles exactly
what those calls compile for any network, batch size or learning rate of that dtype.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Each group: what it compiles, and a weight for sharing the groups out, the longest first.
# The weights were set near the groups' seconds on this project's 2-core machine; what they
# decide, and what was measured, is the schedule they give. (On the AMD EPYC: per-sample SGD
# 9-10 s; minibatches 10 s alone, 8.5 s after per-sample SGD; the evaluation group 6.5 s
# alone, 1.1 s after minibatches or threads; threads 14.5 s alone, 7 s after minibatches, 4.6 s
# for minibatches after threads, so the two share a process: with `--threads`, one process
# compiles threads, minibatches and evaluation, the other per-sample SGD, Adam and momentum.)
GROUPS = {
    "threads": ("minibatches on threads, fit(threads=k)", 7.5),
    "per-sample": ("per-sample SGD, X of the other float dtype", 9.0),
    "minibatch": ("minibatches, every optimizer, gradients", 7.0),
    "momentum": ("per-sample momentum and Nesterov", 4.5),
    "adam": ("per-sample Adam", 5.0),
    "evaluation": ("predict, loss, penalty", 3.0),
}
DTYPES = ("float32", "float64")


def usable_cores() -> int:
    """How many cores this process may run on."""
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
    # Longest first, each to the process with the least work so far. (On two cores: one
    # process compiles per-sample SGD and momentum, the other minibatches, Adam and the
    # evaluation kernels: 14.2 s against 15.9 s with a process per group.)
    shares = [[] for _ in range(min(processes or usable_cores(), len(jobs)))]
    work = [0.0] * len(shares)
    for job in jobs:
        least = work.index(min(work))
        shares[least].append(job)
        work[least] += GROUPS[job[0]][1]
    start = time.perf_counter()
    with ThreadPoolExecutor(len(shares)) as pool:
        timed = list(pool.map(_compile_in_a_process, shares))
    result = {f"{d} {g}": seconds for share in timed for (g, d), seconds in share}
    result["wall"] = time.perf_counter() - start
    return result


def _child(jobs: list[tuple[str, str]]) -> list[str]:
    """The command of a new Python process that imports this same fastmlp and compiles the
    groups ``jobs`` ((group, dtype) pairs) one after another."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    # This fastmlp first: ``-c`` puts the current folder first, where another may be. (Not
    # ``-m fastmlp.compiling``: the package imports this module first, and runpy warns.)
    # Its work done and saved, it ends without the interpreter's teardown, which would free
    # Numba's objects one by one (about half a second; atexit handlers do not run either, so
    # a NUMBA_CHROME_TRACE or coverage of the children is not written).
    child = (f"import os, sys; sys.path.insert(0, {package_parent!r}); "
             "from fastmlp.compiling import compile_groups; compile_groups(sys.argv[1:]); "
             "sys.stdout.flush(); os._exit(0)")
    return [sys.executable, "-c", child, *(f"{g}:{d}" for g, d in jobs)]


def start_compiling(jobs: list[tuple[str, str]]) -> subprocess.Popen | None:
    """Start compiling the groups ``jobs`` ((group, dtype) pairs) into Numba's cache in a new
    process, on another core, and return it (None if this machine has one core only, or the
    process could not start): for a caller that compiles other kernels meanwhile, then waits
    for it and loads these from the cache. Its output is discarded: a kernel it failed to
    compile is compiled where it is called, as without it."""
    try:
        if usable_cores() < 2:
            return None
        return subprocess.Popen(_child(jobs), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except Exception:  # (an optimization only: never an error of its own)
        return None


@contextlib.contextmanager
def compiling_meanwhile(jobs: list[tuple[str, str]], after: float, wait_at_most: float = 300):
    """A block during which, once it has lasted ``after`` seconds (it is compiling, then, not
    loading from the cache), the groups ``jobs`` compile in another process
    (``start_compiling``). Yields ``join()``, which waits for that process if it started, and
    stops it after ``wait_at_most`` seconds (what it had not compiled is then compiled where
    it is called). A process still running when the block ends (an error, Ctrl-C) is
    stopped."""
    helper = []

    def stop():
        starter.cancel()
        starter.join()  # (if it fired: until the process has started)
        if helper and helper[0] is not None and helper[0].poll() is None:
            helper[0].kill()
            helper[0].wait()

    def join():
        starter.cancel()
        starter.join()
        if helper and helper[0] is not None:
            try:
                helper[0].wait(timeout=wait_at_most)
            except subprocess.TimeoutExpired:
                stop()

    starter = threading.Timer(after, lambda: helper.append(start_compiling(jobs)))
    starter.start()
    try:
        yield join
    finally:
        stop()


def _compile_in_a_process(jobs: list[tuple[str, str]]) -> list[tuple[tuple[str, str], float]]:
    """Compile the groups ``jobs`` ((group, dtype) pairs) one after another in a new Python
    process that imports this same fastmlp; each job with its seconds there (the first's
    counting the process's start and end)."""
    start = time.perf_counter()
    done = subprocess.run(_child(jobs), capture_output=True, text=True)
    ended = [float(line.split()[-1]) for line in done.stdout.splitlines()
             if line.startswith(_DONE)]
    if done.returncode != 0 or len(ended) != len(jobs):
        group, dtype = jobs[min(len(ended), len(jobs) - 1)]
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(f"compiling the {dtype} {group} kernels failed: {last}\n"
                           f"{done.stderr[-3000:]}")
    # Each group's time in the child; the first's takes the rest of the process's time too.
    seconds = [b - a for a, b in zip([0.0, *ended], ended)]
    seconds[0] += time.perf_counter() - start - ended[-1]
    return list(zip(jobs, seconds))


_DONE = "fastmlp-compiled"  # how the child says a group is done


def compile_groups(jobs: list[str]) -> None:
    """Compile the groups ``jobs`` ("group:dtype") one after another in this process, saying
    on stdout when each is done (what each process of ``precompile`` runs)."""
    start = time.perf_counter()
    for job in jobs:
        compile_group(*job.split(":"))
        print(_DONE, job, time.perf_counter() - start, flush=True)


def compile_group(group: str, dtype: str) -> None:
    """Compile one group's kernels in this process."""
    from .network import Network

    dtype = np.dtype(dtype).type
    rng = np.random.default_rng(0)
    X = rng.random((16, 6)).astype(dtype)
    X[X < 0.5] = 0  # (sparse or dense, the same kernels: the choice is made as they run)
    y = rng.integers(0, 3, 16)
    net = Network([6, 5, 4, 3], dtype=dtype, seed=0)
    if group == "per-sample":
        net.fit(X, y, batch_size=1)
        net.fit(X.astype(np.float64 if dtype == np.float32 else np.float32), y, batch_size=1)
    elif group == "momentum":
        net.fit(X, y, batch_size=1, optimizer="momentum")
    elif group == "adam":
        net.fit(X, y, batch_size=1, optimizer="adam")
    elif group == "minibatch":
        net.fit(X, y, batch_size=4)
        net.gradient(X, y, l1=0.01, l2=0.01)
    elif group == "threads":
        # One batch just big enough to be split (``network.THREADS_FROM``).
        from .network import THREADS_FROM
        rows = -(-THREADS_FROM // (6 * 5 + 5 * 4 + 4 * 3))
        net.fit(np.resize(X, (rows, 6)), np.resize(y, rows), batch_size=rows, threads=2)
    elif group == "evaluation":
        net.predict_proba(X)
        net.loss(X, y, l1=0.01, l2=0.01)
    else:
        raise ValueError(f"group: expected one of {', '.join(GROUPS)}, got {group!r}")
