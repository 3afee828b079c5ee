"""The threads of fit(threads=k): a barrier between Python threads running nogil kernels, a
failed thread's exception raised from fit, and threads that survive fork()."""
import multiprocessing
import threading

import numpy as np
import pytest
from numba import njit

import fastmlp.kernels.parallel as parallel
from fastmlp import Network
from fastmlp.kernels.barrier import FAILED, SYNC_SIZE, wait_for_all

from conftest import make_data


@njit(nogil=True)
def rounds(t, threads, sync, seen, n):
    """Each round, thread t writes its own entry, waits for all, then counts the entries of
    that round the others had not written yet; returns that count, or -1 if a wait failed."""
    missing = 0
    for r in range(n):
        seen[t, r] = r + 1
        if not wait_for_all(sync, threads):
            return -1
        for u in range(threads):
            missing += seen[u, r] != r + 1
    return missing


@pytest.mark.parametrize("threads", [2, 3])  # (3: more threads than this machine's cores)
def test_no_thread_passes_a_wait_before_every_thread_has_reached_it(threads):
    n = 3000
    sync = np.zeros(SYNC_SIZE, np.int64)
    seen = np.zeros((threads, n), np.int64)
    results = [None] * threads

    def run(t):
        results[t] = rounds(t, threads, sync, seen, n)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers)
    assert results == [0] * threads
    assert np.all(seen == np.arange(1, n + 1))


def test_a_failed_thread_releases_the_others():
    sync = np.zeros(SYNC_SIZE, np.int64)
    seen = np.zeros((2, 5), np.int64)
    result = []
    waiting = threading.Thread(target=lambda: result.append(rounds(0, 2, sync, seen, 5)))
    waiting.start()
    sync[FAILED] = 1  # (thread 1 never comes)
    waiting.join(60)
    assert not waiting.is_alive() and result == [-1]


def test_an_error_on_a_thread_is_raised_from_fit_and_leaves_the_network_as_it_was(monkeypatch):
    real = parallel.thread_batch_epochs

    def fails_on_thread_1(t, *args):
        if t == 1:
            raise MemoryError("thread 1")
        real(t, *args)

    monkeypatch.setattr(parallel, "thread_batch_epochs", fails_on_thread_1)
    X, y = make_data([9, 8, 3], "softmax", None, n=40, zeros=0.5)
    net = Network([9, 8, 3], dtype=np.float64, seed=0)
    net.fit(X, y, epochs=1, batch_size=5, lr=0.1)  # (one thread: not split)
    before, epochs = net.params.copy(), net.epochs_trained
    with pytest.raises(MemoryError, match="thread 1"):
        net.fit(X, y, epochs=2, batch_size=5, lr=0.1, threads=2)
    assert np.array_equal(net.params, before) and net.epochs_trained == epochs


def _fit_on_two_threads(queue=None):
    X, y = make_data([9, 8, 3], "softmax", None, n=40, zeros=0.5)
    net = Network([9, 8, 3], dtype=np.float64, seed=0)
    net.fit(X, y, epochs=2, batch_size=5, lr=0.1, threads=2)
    if queue is not None:
        queue.put(net.params)
    return net.params


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="this platform cannot fork")
def test_a_forked_child_trains_on_threads_after_its_parent_did(threads_for_any_batch):
    """The threads are the process's own, started per call: no thread pool that a child
    inherits broken (as GNU OpenMP's, which Numba's parallel kernels used, was)."""
    in_parent = _fit_on_two_threads()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fit_on_two_threads, args=(queue,))
    child.start()
    in_child = queue.get(timeout=120)
    child.join(60)
    assert child.exitcode == 0
    assert np.array_equal(in_child, in_parent)
