"""Kernels compile once per dtype, not per network shape, batch size, learning rate or thread
count. (That a new process compiles each kernel once: ``test_compiling``.)"""
import importlib
import pkgutil

import numpy as np
from numba.core import types
from numba.core.registry import CPUDispatcher

import fastmlp
import fastmlp.kernels
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
    # (batch_epochs: the gradient takes it too, with the argument types training passes.)
    for kernel in (train.sgd_sample_epochs, train.batch_epochs, evaluate.evaluate):
        dtypes = [sig[0].dtype for sig in kernel.signatures]
        assert len(dtypes) == len(set(dtypes)) == 2, (kernel, kernel.signatures)


def test_one_threaded_compilation_whatever_the_shape_or_thread_count():
    for sizes, threads in (([5, 3], 2), ([7, 4, 3], 3), ([9, 6, 5, 2], 2)):
        X, y = make_data(sizes, "softmax", None, n=30)
        net = Network(sizes, dtype=np.float64, seed=0)
        for batch_size in (4, 30):
            net.fit(X, y, batch_size=batch_size, threads=threads)
    # (Other tests may have trained float32 networks on threads before: one per dtype.)
    dtypes = [sig[4].dtype for sig in parallel.thread_batch_epochs.signatures]  # (params)
    assert types.float64 in dtypes and len(dtypes) == len(set(dtypes)), dtypes


def kernels():
    """Every compiled function defined in ``fastmlp.kernels``."""
    for info in pkgutil.iter_modules(fastmlp.kernels.__path__):
        module = importlib.import_module(f"fastmlp.kernels.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                yield obj


def test_no_kernel_compiles_twice_for_a_constant_argument():
    """A constant argument types as a literal (``workspace(params, sizes, 1)``), so the callee
    compiles once for it and once more for a variable: seconds of compilation for nothing."""
    sizes = [9, 6, 5, 3]
    X, y = make_data(sizes, "softmax", None, n=30, zeros=0.8)
    net = Network(sizes, seed=0)
    for batch_size, l2, optimizer in ((1, 0.0, "sgd"), (1, 0.01, "sgd"), (1, 0.0, "momentum"),
                                      (4, 0.0, "sgd"), (4, 0.01, "adam")):
        net.fit(X, y, batch_size=batch_size, l2=l2, optimizer=optimizer)
    net.fit(X, y, batch_size=8, threads=2)
    net.predict(X)
    net.gradient(X, y, l1=0.1)
    for kernel in kernels():
        signatures = [tuple(types.unliteral(arg) for arg in sig) for sig in kernel.signatures]
        assert len(signatures) == len(set(signatures)), (kernel, kernel.signatures)
