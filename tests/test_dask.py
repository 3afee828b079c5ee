"""Scale-out: a hyperparameter sweep of fastmlp.sklearn estimators on a Dask cluster, through
joblib, as a user with a real cluster would run it (here two worker processes on loopback)."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from fastmlp import datasets
from fastmlp.sklearn import MLPClassifier

distributed = pytest.importorskip("dask.distributed")


def thread_pools() -> list[int]:
    """The thread counts of the BLAS and OpenMP pools loaded in this process."""
    import scipy.linalg  # noqa: F401  (loads the BLAS the kernels call)
    from threadpoolctl import threadpool_info
    return [pool["num_threads"] for pool in threadpool_info()]


def test_grid_search_runs_on_the_cluster_workers(tmp_path, monkeypatch):
    from joblib import parallel_backend
    # An empty Numba cache: both workers compile the kernels at once and write the same cache.
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    X, y, X_test, y_test = datasets.load_digits()
    grid = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [0.003, 0.01]}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks, parallel_backend("dask"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = GridSearchCV(MLPClassifier(max_iter=30, random_state=0), grid, cv=2,
                                  n_jobs=-1).fit(X, y)
        workers = {task["worker"] for task in tasks.data}
        assert len(workers) == 2  # both workers trained
        assert any((tmp_path / "numba").rglob("*.nbi"))
        # One thread per worker process: fastmlp's kernels are serial, and Dask starts its
        # workers with OpenMP and BLAS held to one thread, so two workers fill two cores.
        pools = client.run(thread_pools)
        assert all(threads == [1] * len(threads) and threads for threads in pools.values())
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.9 and search.score(X_test, y_test) > 0.9
    # The same sweep without the cluster finds the same best settings.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = GridSearchCV(MLPClassifier(max_iter=30, random_state=0), grid, cv=2).fit(X, y)
    assert local.best_params_ == search.best_params_
    np.testing.assert_allclose(local.cv_results_["mean_test_score"],
                               search.cv_results_["mean_test_score"])
