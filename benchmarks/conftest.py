"""Benchmark session setup.

Numba checks a cached kernel against its own source file only, not against the kernels it
calls, so after an edit a stale cache could run old code. As in the tests, the cache is keyed
by the source of every kernel (the same ``.numba_cache/<digest>`` folder, so a CI run reuses
the tests' compiled kernels); it is set before numba is imported.
"""
import hashlib
import importlib.util
import os
from pathlib import Path

_package = Path(importlib.util.find_spec("fastmlp").submodule_search_locations[0])
_kernels = sorted((_package / "kernels").glob("*.py"))
_digest = hashlib.sha256(b"".join(p.read_bytes() for p in _kernels)).hexdigest()[:16]
os.environ.setdefault("NUMBA_CACHE_DIR",
                      str(Path(__file__).resolve().parent.parent / ".numba_cache" / _digest))

from benchmarks import machine, workloads  # noqa: E402  (after NUMBA_CACHE_DIR is set)

LOAD_AT_START = list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def pytest_report_header(config):
    mode = "SMOKE (tiny sizes, 1 round)" if workloads.SMOKE else "full"
    folder = workloads.mnist_folder()
    mnist = f"real MNIST from {folder}" if folder else "synthetic MNIST (FASTMLP_DATA not set)"
    return f"fastmlp benchmarks: {mode}; {mnist}"


def pytest_benchmark_update_machine_info(config, machine_info):
    """Store the machine and versions in the JSON, so a report of an old run describes the
    machine it ran on."""
    machine_info["fastmlp_bench"] = {**machine.describe(), "smoke": workloads.SMOKE,
                                     "load_average_start": LOAD_AT_START}
