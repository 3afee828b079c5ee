"""What fastmlp.Network and fastmlp.reference.Network share: configuration, the flat buffer,
input checks, the epoch loop and its history, prediction, scoring, save and load.

Subclasses supply the math: ``_train`` (one epoch of SGD) or ``_train_epochs`` (several,
with the divergence check after each), ``_outputs``, ``_data_loss``
(mean loss and its gradient) and ``_penalty`` (l1/l2 value and gradient).
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import pages, persist
from .checks import as_features, as_targets, positive_int, real
from .config import Config, initial_params
from .layout import Layout
from .optimizers import STATE_ROWS, Optimizer
from .schedules import as_schedule
from .training import MAX_ORDERS, Plan, run


class BaseNetwork:
    def __init__(self, sizes, activation="sigmoid", output="softmax", loss=None, init="xavier",
                 dtype=np.float32, seed=None):
        self.config = Config.create(sizes, activation, output, loss, init, dtype, seed)
        self.layout = Layout.from_sizes(self.config.sizes)
        self._rng = np.random.default_rng(self.config.seed)
        self._params = initial_params(self.layout, self.config.init, self.config.dtype, self._rng)
        self.weights = self.layout.weights(self._params)
        self.biases = self.layout.biases(self._params)
        self.epochs_trained = 0  # over the network's life; learning-rate schedules count it
        # The optimizer's buffers, laid out like params (see kernels/update.py), kept across
        # fit calls and saved with the network; reset when another optimizer takes over.
        self._optimizer = "sgd"
        self._state = np.zeros((0, self.layout.size), self.config.dtype)
        self._steps = 0

    def __getstate__(self) -> dict:
        # The views are rebuilt on unpickling: pickled, they would become copies.
        state = self.__dict__.copy()
        for name in ("weights", "biases", "_kernel_args"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._params, self._state = pages.copy(self._params), pages.copy(self._state)
        self.weights = self.layout.weights(self._params)
        self.biases = self.layout.biases(self._params)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer ``(n_params,)``; ``weights``/``biases`` are views into it."""
        return self._params

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.config.sizes

    @property
    def dtype(self) -> np.dtype:
        return self.config.dtype

    def __repr__(self) -> str:
        c = self.config
        return (f"{type(self).__module__}.{type(self).__name__}({list(c.sizes)}, "
                f"activation={list(c.activations)}, output={c.output!r}, loss={c.loss!r}, "
                f"init={c.init!r}, dtype={c.dtype.name}, seed={c.seed})")

    # --- training -------------------------------------------------------------------------

    def fit(self, X, y, epochs: int = 1, batch_size: int = 1, lr: float = 0.1, l1: float = 0.0,
            l2: float = 0.0, shuffle: bool = True, validation_data=None,
            verbose: bool = False, *, schedule=None, validation_fraction: float | None = None,
            early_stopping: bool = False, patience: int = 5, min_delta: float = 0.0,
            checkpoint=None, checkpoint_every: int = 1, callback=None, optimizer: str = "sgd",
            momentum: float = 0.9, beta1: float = 0.9, beta2: float = 0.999,
            eps: float = 1e-8, threads: int = 1) -> dict:
        """Train, continuing from the current parameters (and optimizer state).

        X: ``(n, n_in)``; y: labels ``(n,)`` or targets ``(n, n_out)``. Each step uses the
        gradient g of the batch's mean loss plus the penalty ``l1 * sum|W| + (l2/2) sum W^2``;
        ``batch_size=1`` steps per sample, and with ``shuffle`` every epoch visits the samples
        in a new order drawn from the seed. ``optimizer`` (PyTorch's conventions):

            "sgd":       params -= lr g
            "momentum":  v = momentum v + g;  params -= lr v
            "nesterov":  v = momentum v + g;  params -= lr (g + momentum v)
            "adam":      t += 1;  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
                         params -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

        The optimizer's buffers (v; m, v, t) start at zero, carry on across ``fit`` calls and
        are saved with the network; changing ``optimizer`` starts them afresh.

        schedule: the learning rate per epoch, ``lr_t = schedule.rate(lr, t)`` for the
            network's t-th epoch (``fastmlp.schedules``: Constant (None), Step, InvScaling,
            Cosine); it is applied per epoch, and t counts on across calls (``epochs_trained``).
        validation_data: ``(X_val, y_val)``, scored after every epoch; or
        validation_fraction: hold out that fraction of X, y (a random split seeded by the
            network's seed, the same in every call) and score on it instead.
        early_stopping: stop once the validation loss has not improved by more than
            ``min_delta`` for ``patience`` epochs, and restore the parameters of the best epoch.
        checkpoint: a path; every ``checkpoint_every`` epochs, and when training ends or
            stops, the network is saved there atomically (before early stopping restores the
            best epoch). ``Network.load`` of it and ``fit`` for the remaining
            epochs continue bit for bit as the uninterrupted run would.
        callback: ``callback(history)`` after every epoch; returning False stops training.
        threads: minibatch steps (batch_size > 1) split each batch into ``threads`` parts
            computed at once on up to that many threads (the first layer's rows, then
            blocks of the batch's rows), summed in order. Results depend on ``threads`` (the
            split), never on scheduling:
            the same ``threads`` gives the same bits on any machine. Per-sample steps are
            sequential and ignore it, and so do batches too small to gain from threads (batch
            rows times weights under 750,000: ``network.THREADS_FROM``), which train
            as on one thread. The threads are started per kernel call, one per part up to
            one per usable core (see the README).
        Ctrl-C stops training after the kernel call under way (kernel calls take a fraction of
        a second: long epochs are trained in slices); the network goes back to the end of the
        last completed epoch (parameters, optimizer and random state). Twice aborts at once.

        Returns the history: lists with one entry per epoch, ``loss`` (mean of the per-sample
        losses, each taken just before its step, plus the penalty at the epoch's end), ``lr``,
        ``time`` (seconds of training; epochs trained in one kernel call share its time
        equally), with validation also ``val_loss`` and ``val_score`` (see ``score``); then
        ``stopped``: None, or why training stopped before ``epochs`` ("early_stopping",
        "callback", "interrupted"), and with early stopping ``best_epoch`` (1-based in this
        call). Raises DivergenceError, leaving the parameters of the last good epoch, if the
        loss or a parameter becomes NaN or infinite.
        """
        X = as_features(X, self.config)
        T = as_targets(y, X.shape[0], self.config)
        epochs = positive_int(epochs, "epochs")
        batch_size = positive_int(batch_size, "batch_size")
        lr = real(lr, "lr", strict=True)
        l1 = real(l1, "l1")
        l2 = real(l2, "l2")
        for flag, name in ((shuffle, "shuffle"), (verbose, "verbose"),
                           (early_stopping, "early_stopping")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {flag!r}")
        schedule = as_schedule(schedule)
        optimizer = Optimizer.create(optimizer, momentum, beta1, beta2, eps)
        patience = positive_int(patience, "patience")
        min_delta = real(min_delta, "min_delta")
        checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
        threads = positive_int(threads, "threads")
        if checkpoint is not None:
            checkpoint = persist.checked_path(checkpoint)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable; got {callback!r}")
        validation = None
        if validation_data is not None and validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            X_val = as_features(validation_data[0], self.config, "validation X")
            validation = X_val, as_targets(validation_data[1], X_val.shape[0], self.config,
                                           "validation y")
        elif validation_fraction is not None:
            X, T, validation = self._split(X, T, validation_fraction)
        if early_stopping and validation is None:
            raise ValueError("early_stopping needs validation_data or validation_fraction")
        plan = Plan(epochs, batch_size, lr, l1, l2, bool(shuffle), schedule, optimizer,
                    validation, bool(early_stopping), patience, min_delta, checkpoint,
                    checkpoint_every, callback, bool(verbose), threads)
        self._use_optimizer(optimizer)
        return run(self, X, T, plan)

    def _split(self, X, T, fraction):
        """(X_train, T_train, (X_val, T_val)): a seeded random ``fraction`` held out."""
        fraction = real(fraction, "validation_fraction", strict=True)
        n_val = int(round(fraction * X.shape[0]))
        if fraction >= 1 or n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(f"validation_fraction must leave at least one sample on each side; "
                             f"got {fraction} of {X.shape[0]} samples")
        rows = np.random.default_rng(self.config.seed).permutation(X.shape[0])
        val, train = np.sort(rows[:n_val]), np.sort(rows[n_val:])
        return X[train], T[train], (X[val], T[val])

    def _orders(self, epochs: int, n: int, shuffle: bool) -> np.ndarray:
        """The order in which each of ``epochs`` epochs visits the samples ``(epochs, n)``.

        Shuffled rows are drawn from the random state as ``epochs`` calls of
        ``permutation(n)`` would draw them, in one call: for a tiny network a call per epoch
        costs more than its training.
        """
        orders = np.empty((epochs, n), np.int64)
        orders[:] = np.arange(n)
        if shuffle:
            self._rng.permuted(orders, axis=1, out=orders)
        return orders

    def _replay_shuffles(self, state: dict, epochs: int, n: int) -> None:
        """Put the random state where it was after ``epochs`` shuffles from ``state``: cheaper
        than saving it every epoch, and needed only when training diverges."""
        self._rng.bit_generator.state = state
        step = max(1, MAX_ORDERS // n)
        for start in range(0, epochs, step):
            self._orders(min(step, epochs - start), n, shuffle=True)

    # --- inference ------------------------------------------------------------------------

    def predict(self, X) -> np.ndarray:
        """Class labels ``(n,)`` for softmax/sigmoid outputs (argmax; 0/1 for one sigmoid
        unit), or the values ``(n, n_out)`` of an identity output (``(n,)`` for one unit)."""
        out = self._outputs(as_features(X, self.config))
        return self._labels_or_values(out)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax ``(n, n_out)`` with rows summing to 1; one sigmoid unit
        gives ``(n, 2)`` as ``[1 - p, p]``; several sigmoid units their own ``(n, n_out)``."""
        if not self.config.is_classifier:
            raise ValueError("predict_proba needs a softmax or sigmoid output; this network's "
                             "output is identity (use predict)")
        out = self._outputs(as_features(X, self.config))
        if out.shape[1] == 1:
            return np.hstack([1 - out, out])
        return out

    def score(self, X, y) -> float:
        """Accuracy for classifiers; R^2 (averaged over outputs) for an identity output."""
        X = as_features(X, self.config)
        return self._score_targets(X, as_targets(y, X.shape[0], self.config))

    def loss(self, X, y, l1: float = 0.0, l2: float = 0.0) -> float:
        """Mean loss over the samples plus ``l1 * sum|W| + (l2 / 2) * sum W^2``."""
        X = as_features(X, self.config)
        T = as_targets(y, X.shape[0], self.config)
        return self._total_loss(X, T, real(l1, "l1"), real(l2, "l2"))

    def gradient(self, X, y, l1: float = 0.0, l2: float = 0.0) -> np.ndarray:
        """The gradient of ``loss(X, y, l1, l2)`` with respect to ``params``, laid out like it."""
        X = as_features(X, self.config)
        T = as_targets(y, X.shape[0], self.config)
        _, grad = self._data_loss(X, T, want_grad=True)
        grad += self._penalty(real(l1, "l1"), real(l2, "l2"), want_grad=True)[1]
        return grad

    def _total_loss(self, X, T, l1, l2) -> float:
        return self._plus_penalty(self._data_loss(X, T, want_grad=False)[0], l1, l2)

    def _plus_penalty(self, loss, l1, l2) -> float:
        return float(loss + self._penalty(l1, l2, want_grad=False)[0])

    def _labels_or_values(self, out):
        if not self.config.is_classifier:
            return out[:, 0] if out.shape[1] == 1 else out
        if out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def _score_targets(self, X, T) -> float:
        return self._score_outputs(self._outputs(X), T)

    def _validation(self, X, T, l1, l2) -> tuple[float, float]:
        """The loss (penalty included) and the score on the validation data X, T."""
        loss, out = self._data_loss_and_outputs(X, T)
        return self._plus_penalty(loss, l1, l2), self._score_outputs(out, T)

    def _data_loss_and_outputs(self, X, T) -> tuple[float, np.ndarray]:
        """``_data_loss``'s mean loss and ``_outputs``, the same numbers (here: two passes)."""
        return self._data_loss(X, T, want_grad=False)[0], self._outputs(X)

    def _score_outputs(self, out, T) -> float:
        if self.config.is_classifier:
            return float(np.mean(self._labels_or_values(out) == self._labels_or_values(T)))
        residual = ((T - out) ** 2).sum(axis=0, dtype=np.float64)
        total = ((T - T.mean(axis=0)) ** 2).sum(axis=0, dtype=np.float64)
        # A constant target column is predicted perfectly or not at all, as in scikit-learn.
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                      np.where(residual == 0, 1.0, 0.0))
        return float(r2.mean())

    # --- files ----------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the configuration, parameters and training state (random state, epochs
        trained) to one .npz, atomically."""
        persist.write(path, self.config.to_dict(), self._params,
                      {"rng": self._rng.bit_generator.state,
                       "epochs_trained": self.epochs_trained, "optimizer": self._optimizer,
                       "optimizer_steps": self._steps}, self._state)

    @classmethod
    def load(cls, path):
        """A network read from a file written by ``save``; ValueError if it is not one."""
        config, params, state, buffers = persist.read(path)
        try:
            net = cls(config["sizes"], config["activation"], config["output"], config["loss"],
                      config["init"], config["dtype"], config["seed"])
            if params.shape != net._params.shape or params.dtype != net._params.dtype:
                raise ValueError(f"its parameters are {params.dtype}{params.shape}, the "
                                 f"configuration needs {net._params.dtype}{net._params.shape}")
            net._rng.bit_generator.state = state["rng"]
            net.epochs_trained = positive_int(state["epochs_trained"], "epochs_trained", 0)
            optimizer = state.get("optimizer", "sgd")
            rows = STATE_ROWS.get(optimizer)
            if rows is None or buffers.shape != (rows, params.size) or buffers.dtype != \
                    params.dtype:
                raise ValueError(f"its optimizer state ({optimizer!r}, {buffers.dtype}"
                                 f"{buffers.shape}) does not fit its parameters")
            net._optimizer, net._state = optimizer, pages.copy(buffers)
            net._steps = positive_int(state.get("optimizer_steps", 0), "optimizer_steps", 0)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{str(path)!r} is not a valid fastmlp model: {e}") from e
        net._params[:] = params
        return net

    # --- the math, supplied by subclasses -------------------------------------------------

    def _train(self, X, T, order, batch_size, lr, l1, l2, optimizer) -> float:
        """One epoch over ``order``; returns the sum of the per-sample losses."""
        raise NotImplementedError

    def _train_epochs(self, X, T, orders, begin, end, batch_size, lrs, l1, l2, optimizer,
                      losses, last_good, last_state, steps, threads=1) -> tuple[int, bool]:
        """Train the rows of ``orders`` ``(k, n)`` (row e: epoch e's visiting order, at rate
        lrs[e]) with ``optimizer`` (its state in ``_state``/``_steps``): row 0 from position
        ``begin``, the last row up to position ``end``, the others whole; ``threads`` as
        ``fit`` takes it (the reference ignores it).

        losses[0] comes in with the loss summed over row 0's positions before ``begin``;
        losses[e] leaves with epoch e's loss (mean per-sample loss plus the penalty at its
        end) if the epoch ended, else its sum so far. After each epoch, if that loss or a
        parameter is not finite, the parameters and optimizer state of the last good epoch
        (``last_good``, ``last_state``, steps[1]) come back and training stops; otherwise they
        become the last good ones. (``training.run`` also stops at a slice of an epoch whose
        loss so far is not finite.) Returns (epochs ended, whether training diverged).
        """
        k, n = orders.shape
        for e, order in enumerate(orders):
            stop = end if e == k - 1 else n
            total = (losses[e] if e == 0 else 0.0) + self._train(
                X, T, order[begin if e == 0 else 0:stop], batch_size, lrs[e], l1, l2, optimizer)
            if stop < n:
                losses[e] = total
                return e, False
            losses[e] = total / n + self._penalty(l1, l2, want_grad=False)[0]
            if not (np.isfinite(losses[e]) and np.isfinite(self._params).all()):
                self._params[:] = last_good
                self._state[...], self._steps = last_state, int(steps[1])
                return e, True
            last_good[:] = self._params
            last_state[...], steps[1] = self._state, self._steps
        return k, False

    def _use_optimizer(self, optimizer) -> None:
        """Fresh state if ``optimizer`` is not the one whose state the network holds."""
        if optimizer.name != self._optimizer:
            self._optimizer = optimizer.name
            self._state = pages.zeros((optimizer.state_rows, self.layout.size), self.dtype)
            self._steps = 0

    def _outputs(self, X) -> np.ndarray:
        """Output activations ``(n, n_out)``."""
        raise NotImplementedError

    def _grain(self, plan) -> int:
        """A call that trains part of an epoch ends at a multiple of this many samples."""
        return plan.batch_size

    def _visit_seconds(self, plan) -> float:
        """A generous guess of what one sample visit costs in training as ``plan`` says:
        about 10 ns per parameter (kernels are faster: see ``fastmlp.Network``)."""
        return 1e-8 * self._params.size + 3e-7

    def _compute_context(self, plan):
        """A context to train in as ``plan`` says (fastmlp.Network: one BLAS thread)."""
        return contextlib.nullcontext()

    def _data_loss(self, X, T, want_grad: bool) -> tuple[float, np.ndarray | None]:
        """Mean loss over the samples, and its gradient as a new flat array if asked."""
        raise NotImplementedError

    def _penalty(self, l1, l2, want_grad: bool) -> tuple[float, np.ndarray | None]:
        """The penalty's value, and its gradient as a new flat array if asked."""
        raise NotImplementedError
