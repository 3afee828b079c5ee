"""Python's collector runs less often while a fastmlp kernel compiles or loads, and as before
after (``kernels/collector.py``)."""
import gc

import numba
import pytest
from numba.core import event

from fastmlp.kernels import collector, jit

from test_compilation import kernels


class Thresholds(event.Listener):
    """Records the collector's thresholds as each compilation starts."""

    def __init__(self):
        self.seen = []

    def on_start(self, ev):
        self.seen.append((ev.data["dispatcher"].py_func.__name__, gc.get_threshold()))

    def on_end(self, ev):
        pass


def kernel(func=None):
    """``func`` (by default, a new x + 1) as a new, uncached Numba function compiling with
    fewer collections, as fastmlp's kernels do."""
    if func is None:
        def func(x):
            return x + 1
    return collector.while_compiling(numba.njit(func))


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    listener = Thresholds()
    with event.install_listener("numba:compile", listener):
        yield listener
    gc.set_threshold(*before)


def test_a_fastmlp_kernel_compiles_with_fewer_collections_then_thresholds_come_back(thresholds):
    gc.set_threshold(700, 10, 10)
    inner = kernel()

    def twice_inner(x):
        return inner(x) * 2
    outer = kernel(twice_inner)
    assert outer(3) == 8
    assert gc.get_threshold() == (700, 10, 10)
    # The outer compilation and the nested one (a kernel compiles its callees) alike.
    assert [t for name, t in thresholds.seen] == [(collector.YOUNG_THRESHOLD, 10, 10)] * 2


def test_other_functions_compile_at_the_callers_thresholds(thresholds):
    gc.set_threshold(700, 10, 10)
    assert numba.njit(lambda x: x + 1)(1) == 2
    assert [t for name, t in thresholds.seen] == [(700, 10, 10)]


def test_a_failed_compilation_puts_the_thresholds_back(thresholds):
    gc.set_threshold(500, 5, 5)

    def broken(x):
        return x + "one"
    broken = kernel(broken)
    with pytest.raises(numba.TypingError):
        broken(1)
    assert gc.get_threshold() == (500, 5, 5)
    assert thresholds.seen[0][1] == (collector.YOUNG_THRESHOLD, 5, 5)


@pytest.mark.parametrize("young", [0, collector.YOUNG_THRESHOLD * 3])
def test_a_collector_off_or_set_to_collect_less_often_is_left_alone(thresholds, young):
    gc.set_threshold(young, 10, 10)
    assert kernel()(1) == 2
    assert thresholds.seen[0][1] == (young, 10, 10)
    assert gc.get_threshold() == (young, 10, 10)


def probe(x):
    return x * 3


def test_a_kernel_loads_from_the_cache_with_fewer_collections_then_thresholds_come_back():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert jit.entry_kernel(probe)(2) == 6  # compiled and saved (or loaded)
        kernel = jit.entry_kernel(probe)  # a new dispatcher: its first call loads
        seen = []
        load = kernel._cache._cache_file.load

        def spied_load(key):
            seen.append(gc.get_threshold())
            return load(key)

        kernel._cache._cache_file.load = spied_load
        assert kernel(2) == 6
        assert kernel.stats.cache_hits and seen[0] == (collector.YOUNG_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_every_kernel_compiles_and_loads_with_fewer_collections():
    for kernel in kernels():
        assert kernel.compile.__qualname__.startswith("while_compiling."), kernel


def test_a_function_of_no_module_compiles(thresholds):
    """(``exec`` in a fresh namespace, as code generators do, gives __module__ None.)"""
    namespace = {}
    exec("def made(x):\n    return x - 1", namespace)
    assert namespace["made"].__module__ is None
    assert numba.njit(namespace["made"])(3) == 2


def test_a_failed_load_puts_the_thresholds_back():
    class Dispatcher:
        def compile(self, sig):
            seen.append(gc.get_threshold())
            raise OSError("unreadable cache")

    seen = []
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        loading = collector.while_compiling(Dispatcher())
        with pytest.raises(OSError):
            loading.compile(None)
        assert seen == [(collector.YOUNG_THRESHOLD, 10, 10)]
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
