"""The BLAS that the minibatch and evaluation kernels call runs on one thread while they run,
and the caller's thread counts come back afterwards, errors included."""
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fastmlp.network
from fastmlp import Network

from conftest import make_data


def blas_threads() -> list[int]:
    import scipy.linalg  # noqa: F401  (loads the BLAS the kernels call)
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != [2] * len(blas_threads()) or not blas_threads():
            pytest.skip("the BLAS libraries here do not run on two threads")
        yield


def test_minibatch_training_runs_blas_on_one_thread(two_blas_threads):
    X, y = make_data([6, 5, 3], "softmax", None, n=20)
    during = []
    Network([6, 5, 3], seed=0).fit(X, y, epochs=2, batch_size=4,
                                   callback=lambda history: during.append(blas_threads()))
    assert during and all(threads == [1] * len(threads) for threads in during)
    assert blas_threads() == [2] * len(blas_threads())


def test_prediction_runs_blas_on_one_thread_and_gives_back_the_count_on_error(
        two_blas_threads, monkeypatch):
    X, _ = make_data([6, 5, 3], "softmax", None, n=20)
    net = Network([6, 5, 3], seed=0)
    during = []
    evaluate = fastmlp.network.evaluate

    def recording(*args):
        during.append(blas_threads())
        return evaluate(*args)

    monkeypatch.setattr(fastmlp.network, "evaluate", recording)
    net.predict(X)
    assert during == [[1] * len(during[0])]
    assert blas_threads() == [2] * len(blas_threads())

    def failing(*args):
        raise RuntimeError("a kernel failed")

    monkeypatch.setattr(fastmlp.network, "evaluate", failing)
    with pytest.raises(RuntimeError, match="a kernel failed"):
        net.predict(X)
    assert blas_threads() == [2] * len(blas_threads())
