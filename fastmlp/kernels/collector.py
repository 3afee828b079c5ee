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

from numba.core import event

YOUNG_THRESHOLD = 100_000

# The thresholds to put back, while a compilation or load runs (they nest: a kernel compiles
# or loads its callees). Numba compiles and loads under its compiler lock: one at a time.
_saved = []


@contextlib.contextmanager
def fewer_collections():
    """A block during which the youngest generation waits for YOUNG_THRESHOLD objects."""
    _pause()
    try:
        yield
    finally:
        _resume()


def _pause():
    thresholds = gc.get_threshold()
    _saved.append(thresholds)
    if len(_saved) == 1 and 0 < thresholds[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])


def _resume():
    if _saved:
        thresholds = _saved.pop()
        if not _saved:
            gc.set_threshold(*thresholds)


class _WhileCompiling(event.Listener):
    """``fewer_collections`` from the start of a fastmlp kernel's compilation to its end.

    A compilation's start and end events carry the same data, by which they are paired: an
    earlier listener that raises stops Numba from telling the later ones, so an end may come
    without its start (and a start without its end: the thresholds then stay raised)."""

    def __init__(self):
        self.paused = {}  # id(data) -> data, of each fastmlp compilation started, not ended

    def on_start(self, ev):
        if _is_fastmlp((ev.data or {}).get("dispatcher")):
            self.paused[id(ev.data)] = ev.data
            _pause()

    def on_end(self, ev):
        if self.paused.pop(id(ev.data), None) is not None:
            _resume()


def _is_fastmlp(dispatcher) -> bool:
    """Whether ``dispatcher`` compiles a fastmlp function (never raises: a listener's error
    would be the compilation's)."""
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", None)
    return isinstance(module, str) and module.startswith("fastmlp.")


LISTENER = _WhileCompiling()
event.register("numba:compile", LISTENER)


def while_loading(dispatcher):
    """``dispatcher`` (a kernel's), loading from Numba's cache with ``fewer_collections``."""
    cache = dispatcher._cache
    load = cache.load_overload

    def load_overload(*args, **kwargs):
        with fewer_collections():
            return load(*args, **kwargs)

    cache.load_overload = load_overload
    return dispatcher
