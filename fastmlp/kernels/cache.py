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
"""
import hashlib
import pathlib

from numba.core.caching import (CacheImpl, InTreeCacheLocator, UserProvidedCacheLocator,
                                UserWideCacheLocator)

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
