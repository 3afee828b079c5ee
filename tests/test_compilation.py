"""Kernels compile once per dtype, not per network shape, batch size, learning rate or thread
count."""
import numpy as np

from fastmlp import Network
from fastmlp.kernels import evaluate, parallel, train

from conftest import make_data


def test_one_compilation_per_dtype():
    for dtype in (np.float32, np.float64):
        for sizes, activation in (([5, 3], "relu"), ([7, 4, 3], "tanh"), ([9, 6, 5, 2], "sigmoid")):
            X, y = make_data(sizes, "softmax", None, n=30, dtype=dtype)
            net = Network(sizes, activation=activation, dtype=dtype, seed=0)
            for batch_size, lr in ((1, 0.1), (4, 0.3), (30, 1)):
                net.fit(X, y, batch_size=batch_size, lr=lr, l2=0.01)
            net.predict(X)
            net.gradient(X, y, l1=0.1)
            net.fit(X.astype(np.float64 if dtype == np.float32 else np.float32), y)
    for kernel in (train.sgd_sample_epochs, train.batch_epochs, evaluate.outputs,
                   evaluate.loss_and_gradient):
        dtypes = [sig[0].dtype for sig in kernel.signatures]
        assert len(dtypes) == len(set(dtypes)) == 2, (kernel, kernel.signatures)


def test_one_threaded_compilation_whatever_the_shape_or_thread_count():
    for sizes, threads in (([5, 3], 2), ([7, 4, 3], 3), ([9, 6, 5, 2], 2)):
        X, y = make_data(sizes, "softmax", None, n=30)
        net = Network(sizes, dtype=np.float64, seed=0)
        for batch_size in (4, 30):
            net.fit(X, y, batch_size=batch_size, threads=threads)
    assert len(parallel.parallel_batch_epochs.signatures) == 1
