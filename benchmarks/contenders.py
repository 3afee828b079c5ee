"""One adapter per contender, all with the same interface: ``make(kind, threads, workload)``
gives an object whose ``epoch()`` trains one (possibly partial, see ``Workload.subset``) epoch,
or ``Workload.epochs_per_call`` of them, and whose ``score()`` measures the held-out accuracy
or MSE afterwards.

Every adapter builds the workload's network, warms up with a small fit (so timing excludes JIT
compilation and first-call costs), then loads the same initial parameters as every other
contender. Data is converted to each library's native form before timing.
"""
from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Iterator

import numpy as np
from threadpoolctl import threadpool_limits  # a dependency of fastmlp

import fastmlp
from fastmlp import reference

from . import workloads
from .workloads import Workload

SUBSET_SEED = 1


class Contender:
    """The shared part: data selection, warm-up, initial parameters, thread pinning.

    Subclasses supply ``_build``, ``_load``, ``_native``, ``_train`` and ``_predict``.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    requires: ClassVar[str | None] = None  # the module to import; skipped when missing
    full_epoch: ClassVar[bool] = False  # True: never trains on a subset

    def __init__(self, workload: Workload, threads: int | None):
        self.workload = workload
        self.threads = threads
        data = workloads.load(workload.dataset, workload.dtype)
        subset, _, _ = workload.timing()
        if self.full_epoch or subset is None or subset >= data.n_train:
            X, y = data.X, data.y
        else:
            rows = np.random.default_rng(SUBSET_SEED).permutation(data.n_train)[:subset]
            X, y = data.X[rows], data.y[rows]
        self.data, self.samples, self.calls = data, len(X), 0
        weights, biases = workloads.initial_parameters(workload)
        warm = min(len(X), max(4, 2 * workload.batch_size))
        with self.pinned():
            self._build(weights, biases)
            self._train(self._native(X[:warm], y[:warm]), 1)
        self._load(weights, biases)
        self.train_data = self._native(X, y)

    @property
    def name(self) -> str:
        return name(self.kind, self.threads)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Limit the BLAS/OpenMP thread pools to ``threads`` (no-op for None)."""
        if self.threads is None:
            yield
        else:
            with threadpool_limits(limits=self.threads):
                yield

    def epoch(self) -> None:
        """Train ``epochs_per_call`` times over this contender's training samples (run under
        ``pinned``)."""
        self._train(self.train_data, self.workload.epochs_per_call)
        self.calls += 1

    def score(self) -> float:
        """Held-out accuracy (classifier) or mean squared error (regression)."""
        with self.pinned():
            predicted = self._predict(self.data.X_test)
        return workloads.score(self.workload, predicted, self.data.y_test)

    def info(self) -> dict[str, Any]:
        """What the report needs besides the times (goes into pytest-benchmark's extra_info)."""
        w = self.workload
        return {
            "workload": w.name, "title": w.title, "contender": self.name, "kind": self.kind,
            "label": self.label, "threads": self.threads or 1,
            "dtype": np.dtype(w.dtype).name, "batch_size": w.batch_size, "lr": w.lr,
            "samples_per_epoch_call": self.samples, "epoch_samples": self.data.n_train,
            "epochs_per_call": w.epochs_per_call,
            "flops_per_sample": w.flops_per_sample, "data": self.data.source,
            "zero_fraction": round(self.data.zero_fraction, 4), "metric": w.metric,
            "optimizer": w.optimizer,
        }

    # --- supplied by subclasses ----------------------------------------------------------

    def _build(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        """Create the network and optimizer (parameters are loaded after the warm-up)."""
        raise NotImplementedError

    def _load(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        """Set the parameters: weights ``(n_in, n_out)`` and biases per layer."""
        raise NotImplementedError

    def _native(self, X: np.ndarray, y: np.ndarray) -> Any:
        """The training data in the library's own form."""
        return X, y

    def _train(self, data: Any, epochs: int) -> None:
        """``epochs`` passes of SGD over ``data``, each in a fresh random order."""
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Labels (classifier) or values (regression) for X."""
        raise NotImplementedError


class Fastmlp(Contender):
    kind, label, full_epoch = "fastmlp", "fastmlp", True
    network_class: ClassVar[type] = fastmlp.Network

    def _build(self, weights, biases):
        self.net = self.workload.network(self.network_class)

    def _load(self, weights, biases):
        for l, (W, b) in enumerate(zip(weights, biases)):
            self.net.weights[l][...] = W
            self.net.biases[l][...] = b

    def _train(self, data, epochs):
        X, y = data
        self.net.fit(X, y, epochs=epochs, batch_size=self.workload.batch_size,
                     lr=self.workload.lr, threads=self.threads or 1,
                     optimizer=self.workload.optimizer)

    def _predict(self, X):
        return self.net.predict(X)


class Reference(Fastmlp):
    kind, label, full_epoch = "reference", "fastmlp.reference (NumPy)", False
    network_class = reference.Network


class Torch(Contender):
    kind, label, requires = "torch", "PyTorch eager", "torch"

    def _build(self, weights, biases):
        import torch
        from torch import nn

        self.torch = torch
        self.torch_dtype = torch.float64 if self.workload.dtype == np.float64 else torch.float32
        layers: list[nn.Module] = []
        for l, W in enumerate(weights):
            layers.append(nn.Linear(*W.shape))
            if l < len(weights) - 1:
                layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers).to(self.torch_dtype)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.workload.lr)
        if self.workload.is_classifier:
            self.loss = nn.CrossEntropyLoss()
        else:  # fastmlp's MSE is 0.5 * sum of squares, averaged over the batch
            self.loss = lambda out, target: 0.5 * nn.functional.mse_loss(out, target)
        self.generator = torch.Generator().manual_seed(0)

    def _load(self, weights, biases):
        with self.torch.no_grad():
            for linear, W, b in zip(self.linears, weights, biases):
                linear.weight.copy_(self.torch.from_numpy(np.ascontiguousarray(W.T)))
                linear.bias.copy_(self.torch.from_numpy(b))

    def _native(self, X, y):
        target = y if self.workload.is_classifier else y.reshape(-1, 1).astype(X.dtype)
        return self.torch.from_numpy(X), self.torch.from_numpy(np.ascontiguousarray(target))

    def _train(self, data, epochs):
        X, y = data
        batch = self.workload.batch_size
        for _ in range(epochs):
            order = self.torch.randperm(len(X), generator=self.generator)
            for start in range(0, len(X), batch):
                rows = order[start:start + batch]
                self.optimizer.zero_grad()
                self.loss(self.model(X[rows]), y[rows]).backward()
                self.optimizer.step()

    def _predict(self, X):
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(X)).numpy()
        return out.argmax(axis=1) if self.workload.is_classifier else out

    @contextlib.contextmanager
    def pinned(self):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with super().pinned():
                yield
        finally:
            torch.set_num_threads(before)


class Sklearn(Contender):
    kind, label, requires = "sklearn", "scikit-learn MLP", "sklearn"

    def _build(self, weights, biases):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        w = self.workload
        estimator = MLPClassifier if w.is_classifier else MLPRegressor
        self.model = estimator(
            hidden_layer_sizes=w.sizes[1:-1], activation="logistic", solver="sgd",
            batch_size=w.batch_size, learning_rate="constant", learning_rate_init=w.lr,
            momentum=0.0, nesterovs_momentum=False, alpha=0.0, shuffle=True, random_state=0)

    def _load(self, weights, biases):
        # In place: the optimizer of partial_fit holds on to these arrays.
        for coef, intercept, W, b in zip(self.model.coefs_, self.model.intercepts_, weights,
                                         biases):
            coef[...] = W
            intercept[...] = b

    def _train(self, data, epochs):
        X, y = data
        for _ in range(epochs):
            if self.workload.is_classifier:
                self.model.partial_fit(X, y, classes=np.arange(self.workload.sizes[-1]))
            else:
                self.model.partial_fit(X, y)

    def _predict(self, X):
        return self.model.predict(X)


KINDS: dict[str, type[Contender]] = {c.kind: c for c in (Fastmlp, Reference, Torch, Sklearn)}

# Every workload runs each of these (kind, threads): fastmlp is serial Numba; the NumPy
# reference, PyTorch and scikit-learn use BLAS/OpenMP, run with 1 and with 2 threads.
LINEUP: list[tuple[str, int | None]] = [("fastmlp", None), ("fastmlp", 2), ("reference", 1),
                                        ("reference", 2), ("torch", 1), ("torch", 2),
                                        ("sklearn", 1), ("sklearn", 2)]


def lineup(workload: Workload) -> list[tuple[str, int | None]]:
    """The contenders of ``workload``: fastmlp on 2 threads only for minibatches (its
    per-sample steps are sequential whatever ``threads`` says); fastmlp alone for another
    optimizer than SGD."""
    if workload.optimizer != "sgd":
        return [("fastmlp", None)]
    return [(kind, threads) for kind, threads in LINEUP
            if not (kind == "fastmlp" and threads and workload.batch_size == 1)]


def name(kind: str, threads: int | None) -> str:
    """``kind``, with ``-1t``/``-2t`` for a pinned thread count: "torch-2t"."""
    return kind if threads is None else f"{kind}-{threads}t"


def make(kind: str, threads: int | None, workload: Workload) -> Contender:
    """A warmed-up contender of ``kind`` for ``workload``, at its initial parameters."""
    return KINDS[kind](workload, threads)
