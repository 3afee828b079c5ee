"""Python's cyclic garbage collector, run less often while Numba compiles a fastmlp kernel.

Compiling makes millions of short-lived Python objects (Numba's IR, types, LLVM handles). At
the default thresholds the collector ran about 1,700 times while per-sample SGD compiled, 13
of them over the whole heap: about a tenth of the compilation. While a fastmlp kernel
compiles, the youngest generation is collected every ``YOUNG_THRESHOLD`` new objects instead
of every 700 (which still frees most cycles young: the process grows by a few MB, against
~100 MB with the collector off), and the thresholds are put back when it is done, or fails.
A collector that is off, or set to collect less often, is left as it is.
"""
import gc

from numba.core import event

YOUNG_THRESHOLD = 100_000


class _FewerCollections(event.Listener):
    """Raises the youngest generation's threshold from the start of the outermost compilation
    of a fastmlp kernel to its end (compilations nest: a kernel compiles its callees)."""

    def __init__(self):
        self.ours = []  # per compilation begun and not ended: whether it is a fastmlp kernel
        self.saved = None

    def on_start(self, ev):
        ours = _is_fastmlp(ev.data["dispatcher"])
        if ours and not any(self.ours):
            self.saved = gc.get_threshold()
            if 0 < self.saved[0] < YOUNG_THRESHOLD:
                gc.set_threshold(YOUNG_THRESHOLD, *self.saved[1:])
        self.ours.append(ours)

    def on_end(self, ev):
        ours = self.ours.pop()
        if ours and not any(self.ours):
            gc.set_threshold(*self.saved)


def _is_fastmlp(dispatcher) -> bool:
    return getattr(dispatcher.py_func, "__module__", "").startswith("fastmlp.")


LISTENER = _FewerCollections()
event.register("numba:compile", LISTENER)
