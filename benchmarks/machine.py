"""What a benchmark run ran on: CPU, cores, load, versions, thread settings."""
from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
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


def llvm_cpu() -> str | None:
    """The CPU as LLVM, and so Numba's code, targets it (``znver4``, ``skylake-avx512``): a
    virtual machine's model name often hides the generation."""
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_name()
    except Exception:  # (an llvmlite without it: the report says nothing)
        return None


def caches() -> str | None:
    """Per-core data cache sizes from sysfs (Linux), e.g. ``L1d 32K, L2 1024K, L3 32768K``."""
    found = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((index / name).read_text().strip()
                                 for name in ("level", "type", "size"))
        except OSError:
            continue
        if kind != "Instruction":
            found.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(found) or None


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
    import fastmlp.network

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "llvm_cpu": llvm_cpu(),
        "caches": caches(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in PACKAGES},
        "threads_from": fastmlp.network.THREADS_FROM,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "blas": blas(),
    }
