"""Large flat buffers start on a 2 MB boundary, asked for as huge pages, and small ones on a
64-byte cache line (fastmlp/pages.py)."""
import mmap
import pickle

import numpy as np
import pytest

from fastmlp import Network, pages

on_huge_pages = pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"),
                                   reason="no madvise(MADV_HUGEPAGE) on this system")


def _on_boundary(a):
    return a.ctypes.data % pages.HUGE_PAGE == 0


@pytest.mark.parametrize("shape, dtype", [(1, np.float32), (40_000, np.float32),
                                          ((3, 50_000), np.float64), ((0, 70_000), np.float64),
                                          (600_000, np.float32)])
def test_zeros_is_np_zeros(shape, dtype):
    a = pages.zeros(shape, dtype)
    expected = np.zeros(shape, dtype)
    assert a.shape == expected.shape and a.dtype == expected.dtype
    assert a.flags.c_contiguous and a.flags.writeable
    assert np.array_equal(a, expected)
    a[...] = 7  # every byte of it is usable
    assert (a == 7).all()


@on_huge_pages
def test_only_large_buffers_are_placed_on_a_boundary():
    assert _on_boundary(pages.zeros(pages.MIN_BYTES // 4, np.float32))
    assert _on_boundary(pages.zeros(3 * pages.HUGE_PAGE // 8 + 5, np.float64))  # > one page
    small = pages.zeros(pages.MIN_BYTES // 4 - 1, np.float32)
    assert _on_line(small) and small.base.nbytes < pages.HUGE_PAGE  # (no page of its own)


def _on_line(a):
    return a.ctypes.data % pages.LINE_BYTES == 0


@pytest.mark.parametrize("size", [1, 3, 13, 100, 2_090, pages.MIN_BYTES // 8 - 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_buffers_start_on_a_cache_line(size, dtype):
    # NumPy's own arrays start on 16 bytes; many at once land on every offset mod 64.
    buffers = [pages.zeros(size, dtype) for _ in range(16)]
    assert all(_on_line(a) for a in buffers)
    assert all(np.array_equal(a, np.zeros(size, dtype)) for a in buffers)
    assert _on_line(pages.copy(np.arange(size, dtype=dtype)))


def test_copy():
    a = np.arange(50_000, dtype=np.float64).reshape(2, -1)
    b = pages.copy(a)
    assert np.array_equal(a, b) and not np.shares_memory(a, b)


@pytest.mark.parametrize("sizes, batch_size, optimizer, placed", [
    # 50,890 float32 parameters (~200 KB): on a 2 MB boundary
    pytest.param([784, 64, 10], 4, "momentum", _on_boundary, marks=on_huge_pages),
    # digits: 2,410 float32 parameters, on a cache line
    ([64, 32, 10], 1, "adam", _on_line)])
def test_a_networks_buffers_stay_placed(tmp_path, sizes, batch_size, optimizer, placed):
    net = Network(sizes, seed=0)
    assert placed(net.params)
    X = np.random.default_rng(0).random((20, sizes[0]), np.float32)
    y = np.arange(20) % 10
    net.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer)
    assert placed(net._state)
    twin = pickle.loads(pickle.dumps(net))
    assert placed(twin.params) and placed(twin._state)
    assert np.shares_memory(twin.weights[0], twin.params)
    assert np.array_equal(twin.params, net.params) and np.array_equal(twin._state, net._state)
    net.save(tmp_path / "m.npz")
    loaded = Network.load(tmp_path / "m.npz")
    assert placed(loaded.params) and placed(loaded._state)
    assert np.array_equal(loaded.params, net.params)
    assert np.array_equal(loaded._state, net._state)
