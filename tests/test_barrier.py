"""The threads of fit(threads=k): a barrier between Python threads running nogil kernels, a
failed thread's exception raised from fit, and threads that survive fork()."""
import multiprocessing
import threading
import time

import numpy as np
import pytest
from numba import njit

import fastmlp.kernels.parallel as parallel
import fastmlp.network
from fastmlp import Network
from fastmlp.kernels.barrier import ARRIVED, FAILED, SPINS, SYNC_SIZE, pause, wait_for_all

from conftest import make_data


@njit(nogil=True)
def rounds(t, threads, sync, seen, n, delay=0):
    """Each round, thread t writes its own entry, waits for all, then counts the entries of
    that round the others had not written yet; returns that count, or -1 if a wait failed.
    The last thread comes ``delay`` pauses late to every round."""
    missing = 0
    for r in range(n):
        if t == threads - 1:
            for _ in range(delay):
                pause()
        seen[t, r] = r + 1
        if not wait_for_all(sync, threads):
            return -1
        for u in range(threads):
            missing += seen[u, r] != r + 1
    return missing


def _on_threads(threads, target, *args):
    """target(t, *args) on each of ``threads`` daemon threads; their results, once all have
    ended, or None for one still running after a minute (released then, so nothing hangs)."""
    results = [None] * threads

    def run(t):
        results[t] = target(t, *args)

    workers = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return results


@pytest.mark.parametrize("threads", [2, 3])  # (3: more threads than this machine's cores)
def test_no_thread_passes_a_wait_before_every_thread_has_reached_it(threads):
    n = 3000
    sync = np.zeros(SYNC_SIZE, np.int64)
    seen = np.zeros((threads, n), np.int64)
    try:
        assert _on_threads(threads, rounds, threads, sync, seen, n) == [0] * threads
    finally:
        sync[FAILED] = 1
    assert np.all(seen == np.arange(1, n + 1))


def test_threads_that_sleep_in_a_wait_are_woken():
    """One thread arrives late at every wait: the other has spun SPINS times by then and
    gone to sleep, and wakes when it comes."""
    n = 50
    sync = np.zeros(SYNC_SIZE, np.int64)
    seen = np.zeros((2, n), np.int64)
    try:
        assert _on_threads(2, rounds, 2, sync, seen, n, 4 * SPINS) == [0, 0]
    finally:
        sync[FAILED] = 1
    assert np.all(seen == np.arange(1, n + 1))


def test_a_failed_thread_releases_a_waiting_one():
    sync = np.zeros(SYNC_SIZE, np.int64)
    seen = np.zeros((2, 5), np.int64)
    result = []
    waiting = threading.Thread(target=lambda: result.append(rounds(0, 2, sync, seen, 5)),
                               daemon=True)
    waiting.start()
    deadline = time.monotonic() + 60
    while sync[ARRIVED] != 1 and time.monotonic() < deadline:
        time.sleep(0.001)  # (until it waits for thread 1, which never comes)
    time.sleep(0.05)  # (long enough to have spun SPINS times and gone to sleep)
    sync[FAILED] = 1
    waiting.join(60)
    assert not waiting.is_alive() and result == [-1]


@njit(nogil=True)
def wait_then_stop(sync, threads, n):
    """Take part in n waits, doing no work."""
    for _ in range(n):
        if not wait_for_all(sync, threads):
            return


def test_an_error_on_a_thread_is_raised_from_fit_and_leaves_the_network_as_it_was(monkeypatch):
    """Thread 1 takes part in two batches' waits (three each for plain SGD) while thread 0
    steps its parts of the parameters, then fails: fit raises its error, and the network is
    as before the call."""
    real = parallel.thread_batch_epochs

    def fails_after_two_batches(t, threads, sync, *args):
        if t == 1:
            wait_then_stop(sync, threads, 6)
            raise MemoryError("thread 1")
        real(t, threads, sync, *args)

    real_join = parallel._join
    monkeypatch.setattr(parallel, "thread_batch_epochs", fails_after_two_batches)
    monkeypatch.setattr(fastmlp.network, "_threads_for", lambda parts: parts)
    X, y = make_data([9, 8, 3], "softmax", None, n=40, zeros=0.5)
    net = Network([9, 8, 3], dtype=np.float64, seed=0)
    net.fit(X, y, epochs=1, batch_size=5, lr=0.1)  # (one thread: not split)
    before, epochs = net.params.copy(), net.epochs_trained
    stepped = []
    monkeypatch.setattr(parallel, "_join", lambda workers: (
        stepped.append(not np.array_equal(net.params, before)), real_join(workers)))
    with pytest.raises(MemoryError, match="thread 1"):
        net.fit(X, y, epochs=2, batch_size=5, lr=0.1, threads=2)
    assert stepped == [True]  # (thread 0 had changed them)
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
    child = context.Process(target=_fit_on_two_threads, args=(queue,), daemon=True)
    child.start()
    try:
        in_child = queue.get(timeout=120)
        child.join(60)
    finally:
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert np.array_equal(in_child, in_parent)
