"""The fastmlp benchmark suite (pytest-benchmark): fastmlp against its NumPy reference, and
against PyTorch and scikit-learn where they are installed.

    pip install -e ".[bench,peers]"             # peers: torch (CPU) and scikit-learn, optional
    python -m pytest benchmarks                   # the full suite, a few minutes on 2 cores
    FASTMLP_BENCH_SMOKE=1 python -m pytest benchmarks --benchmark-disable   # CI: tiny, seconds
    python -m benchmarks.report                   # run the suite, print the Markdown report

Modules: ``workloads`` (the networks, settings and data), ``contenders`` (one adapter per
library with the same interface), ``machine`` (what the run ran on), ``report`` (the tables);
``test_training`` and ``test_compilation`` are the benchmarks. No benchmark asserts a time.
"""
