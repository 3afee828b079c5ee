"""Set-up shared by the tests and the benchmarks, loaded before either.

Numba checks a cached kernel against its own source file only, not the files of the kernels
it calls: after an edit, a stale caller could run old code. So the cache is keyed by the
source of every kernel (one ``.numba_cache/<digest>`` folder, so that a CI run's benchmarks
reuse the tests' compiled kernels), set before numba is imported.
"""
import hashlib
import os
from pathlib import Path

_root = Path(__file__).resolve().parent
_kernels = sorted((_root / "fastmlp" / "kernels").glob("*.py"))
_digest = hashlib.sha256(b"".join(p.read_bytes() for p in _kernels)).hexdigest()[:16]
os.environ.setdefault("NUMBA_CACHE_DIR", str(_root / ".numba_cache" / _digest))
