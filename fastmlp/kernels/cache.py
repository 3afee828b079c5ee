"""Numba's on-disk cache of the kernels, kept only while none of the kernels' sources changed.

Numba checks a cached kernel against a hash of its own file only. A kernel whose file did not
change but which inlines or calls kernels from files that did would load its old machine code:
after an upgrade of fastmlp (files Numba wrote stay in ``__pycache__``) or while developing it.
That happened here: the per-sample loop (``train.py``, unchanged) kept running the code of an
older ``vectors.py``. So each kernel's cache here is stamped with a hash of every source file
of the kernels package as well, and any change there compiles every kernel again.

Numba finds a kernel's cache through the first of its locator classes that takes it; the ones
here take the kernels package's functions only, in front of Numba's own (the same places:
``NUMBA_CACHE_DIR`` if set, else ``__pycache__``, else the user's cache directory). A
``NUMBA_CACHE_LOCATOR_CLASSES`` setting bypasses them.

And each kernel's cache saves under a lock (``LockedCacheFile``), for processes that compile at
once into one cache: ``fastmlp compile``'s, ``fastmlp train``'s, a sweep's workers.
"""
import contextlib
import hashlib
import os
import pathlib

from numba.core.caching import (CacheImpl, IndexDataCacheFile, InTreeCacheLocator,
                                UserProvidedCacheLocator, UserWideCacheLocator)

try:
    import fcntl
except ImportError:  # (Windows: saves unlocked, as Numba's own)
    fcntl = None

PACKAGE = pathlib.Path(__file__).resolve().parent


def sources_hash() -> bytes:
    """A hash of the names and contents of the kernels package's source files."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


SOURCES = sources_hash()


def _for_kernels(locator_class):
    """locator_class for the kernels package's functions, its stamp covering SOURCES."""
    class KernelsLocator(locator_class):
        def get_source_stamp(self):
            return super().get_source_stamp(), SOURCES

        @classmethod
        def from_function(cls, py_func, py_file):
            if pathlib.Path(py_file).resolve().parent != PACKAGE:
                return None
            return super().from_function(py_func, py_file)

    KernelsLocator.__name__ = KernelsLocator.__qualname__ = "Kernels" + locator_class.__name__
    return KernelsLocator


LOCATORS = [_for_kernels(c) for c in (UserProvidedCacheLocator, InTreeCacheLocator,
                                      UserWideCacheLocator)]
if not any(c.__name__.startswith("Kernels") for c in CacheImpl._locator_classes):
    CacheImpl._locator_classes[:0] = LOCATORS  # (once, even if this module is reloaded)


class LockedCacheFile(IndexDataCacheFile):
    """A kernel's index and data files in Numba's cache, saved by one process at a time.

    Numba saves a new entry by reading the index, taking the first data file name it does
    not list, writing the index, then the data file. Two processes that save entries of one
    kernel for different types at once (``rescale`` for a float32 and a float64 scalar, say)
    can both take the same name: the index then gives one type's entry the other's machine
    code, in the cache until the kernels' sources change. Under a lock on a file in the cache
    folder, the second process reads the index once the first has written both files.
    (Loading needs no lock: an entry whose data file is not written yet loads as missing.)
    """

    def save(self, key, data):
        with _locked(os.path.join(self._cache_path, LOCK_FILE)):
            super().save(key, data)


LOCK_FILE = "fastmlp-kernels.lock"


@contextlib.contextmanager
def _locked(path: str):
    """An exclusive lock on the file at path while in the block (none where there is no
    fcntl, or the file cannot be opened: as Numba saves)."""
    try:
        f = open(path, "a") if fcntl is not None else None
    except OSError:
        f = None
    if f is None:
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)  # (released when f closes, or its process ends)
        yield


def lock_saves(dispatcher):
    """dispatcher, a kernel compiled with ``cache=True``, saving its cache entries through
    a LockedCacheFile."""
    cache = dispatcher._cache
    cache._cache_file = LockedCacheFile(cache._cache_path, cache._impl.filename_base,
                                        cache._impl.locator.get_source_stamp())
    return dispatcher
