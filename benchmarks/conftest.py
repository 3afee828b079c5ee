"""Benchmark session setup (the Numba cache folder is set in the repository's conftest.py)."""
import os

from benchmarks import machine, workloads

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
