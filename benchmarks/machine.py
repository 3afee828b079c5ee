"""What a benchmark run ran on: CPU, cores, load, versions, thread settings."""
from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

PACKAGES = ("fastmlp", "numpy", "scipy", "numba", "torch", "scikit-learn", "threadpoolctl",
            "pytest-benchmark")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def blas() -> list[str]:
    """The BLAS/OpenMP libraries loaded in this process and their default thread counts."""
    from threadpoolctl import threadpool_info

    return [f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('num_threads')} threads)"
            .replace("  ", " ") for p in threadpool_info()]


def describe() -> dict[str, Any]:
    """A JSON-able description of this machine and software."""
    import numba

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in PACKAGES},
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "blas": blas(),
    }
