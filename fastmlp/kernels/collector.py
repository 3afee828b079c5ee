"""Python's cyclic garbage collector, run less often while Numba compiles or loads a fastmlp
kernel.

Compiling makes millions of short-lived Python objects (Numba's IR, types, LLVM handles). At
the default thresholds the collector ran about 1,700 times while per-sample SGD compiled, 13
of them over the whole heap: about a tenth of the compilation. Loading kernels from the cache
makes fewer, but enough for a collection of the whole heap in a first ``fit`` (44 ms of its
0.3 s). Meanwhile the youngest generation is collected every ``YOUNG_THRESHOLD`` new objects
instead of every 700 (which still frees most cycles young: the process grows by a few MB,
against ~100 MB with the collector off), and the thresholds are put back when it is done, or
fails (a ``gc.set_threshold`` meanwhile, from another thread, is undone then). A collector
that is off, or set to collect less often, is left as it is.
"""
import contextlib
import gc

from numba.core.compiler_lock import global_compiler_lock

YOUNG_THRESHOLD = 100_000

# How many blocks are open (they nest: a kernel compiles or loads its callees), under Numba's
# compiler lock: one thread at a time. The outermost sets the thresholds and puts them back.
_depth = 0


@contextlib.contextmanager
def fewer_collections():
    """A block during which the youngest generation waits for YOUNG_THRESHOLD objects."""
    global _depth
    thresholds = gc.get_threshold()
    _depth += 1
    if _depth == 1 and 0 < thresholds[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*thresholds)


def while_compiling(dispatcher):
    """``dispatcher`` (a kernel's) compiling, or loading from Numba's cache, with
    ``fewer_collections``: both happen in its ``compile``, called for a new type from Python
    or from a kernel being compiled."""
    compile = dispatcher.compile

    def compile_with_fewer_collections(sig):
        with global_compiler_lock, fewer_collections():
            return compile(sig)

    dispatcher.compile = compile_with_fewer_collections
    return dispatcher
