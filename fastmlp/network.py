"""fastmlp.Network: the public API over the flat parameter buffer, trained by @njit kernels."""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from .kernels.adam import adam_sample_epochs
from .kernels.evaluate import LOSS, LOSS_AND_OUTPUTS, OUTPUTS, evaluate
from .kernels.fpmode import flush_subnormals, restore_mode
from .kernels.penalty import add_penalty_gradient, penalty
from .kernels.momentum import momentum_sample_epochs
from .kernels.parallel import run_on_threads, shared_buffers
from .kernels.train import batch_epochs, sgd_sample_epochs
from .compiling import usable_cores
from .model import BaseNetwork

# Fused per-sample training writes its lagged first layer back every this many samples.
FOLD_EVERY = 1024


# fit(threads=k) splits a batch only if it holds this many nominal multiply-adds (rows times
# weights) or more: below it, the three hand-overs between the cores per batch cost more than
# the split saves. Two threads against one, side by side on this project's 2-core machine
# (min of three epochs each, three processes): MNIST 784-128-64-10 at batch 4 (0.44M)
# 0.90-0.94x, batch 5 (0.55M) 0.95-0.98x, batch 6 (0.66M) 1.00-1.01x, batch 8 (0.87M)
# 1.11-1.14x, batch 16 (1.75M) 1.31x. (With Numba's parallel kernels, whose hand-overs cost
# more, the threshold was 2^20: batch 8 had run 0.69-1.01x, batch 16 0.71-1.26x.) Bike and
# digits at batch 8 to 128 (9K-0.3M) had run 0.22-0.9x.
THREADS_FROM = 750_000


@contextlib.contextmanager
def _subnormals_flushed():
    """Within the block, this thread computes with subnormal numbers flushed to zero
    (``kernels/fpmode.py``); the caller's mode (yielded) comes back afterwards. Around kernel
    calls only: fit's callback, say, runs in the caller's mode."""
    previous = flush_subnormals()
    try:
        yield previous
    finally:
        restore_mode(previous)


@functools.cache
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries of this process, found once the one
    Numba calls is loaded."""
    import scipy.linalg.cython_blas  # noqa: F401  (np.dot inside the kernels calls it)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas").lib_controllers


@contextlib.contextmanager
def _one_blas_thread():
    """A minibatch's matrix products are small: BLAS threads would spend more time waking and
    spinning (and, on a busy machine, waiting for each other) than multiplying. (Each
    library's own get and set, as threadpoolctl's ``limit`` calls them, without the
    description of every library that ``limit`` builds: 11 us, as much as 14 epochs of XOR,
    on every ``fit`` of minibatches and every prediction.)"""
    changed = []
    for library in _blas_libraries():
        threads = library.get_num_threads()
        if threads is not None and threads != 1:
            library.set_num_threads(1)
            changed.append((library, threads))
    try:
        yield
    finally:
        for library, threads in changed:
            library.set_num_threads(threads)


def _threads_for(parts: int) -> int:
    """How many threads compute a batch's ``parts``: one per part, up to one per core this
    process may use (they wait for each other spinning first, see ``kernels/barrier.py``;
    a thread then takes several parts, with the same results)."""
    return max(1, min(parts, usable_cores()))


class Network(BaseNetwork):
    """A fully-connected network trained by Numba kernels over one flat parameter buffer.

    ``Network([784, 128, 64, 10], activation="sigmoid", output="softmax", loss=None,
    init="xavier", dtype=np.float32, seed=None)``: layer widths from input to output; one
    hidden activation for all hidden layers or a list with one per layer ("sigmoid", "tanh",
    "relu", "identity"); output "softmax", "sigmoid" or "identity"; loss "cross_entropy",
    "binary_cross_entropy" or "mse" (None picks the output's natural loss).

    ``params`` is a 1-D C-contiguous buffer holding, per layer, ``W (n_in, n_out)`` then
    ``b (n_out,)``; ``weights[l]`` and ``biases[l]`` are views into it.
    """

    @functools.cached_property
    def _kernel_args(self):
        """The network as kernels see it; built once, as the per-epoch cost counts for tiny
        networks."""
        lay = self.layout
        return self._params, lay.sizes, lay.w_off, lay.b_off, self.config.codes

    def _scalar(self, x):
        # A float64 scalar would promote float32 kernels' arithmetic to float64.
        return self.config.dtype.type(x)

    @staticmethod
    def _fused(batch_size, optimizer, l1, l2) -> bool:
        """Whether per-sample steps are fused into the backward pass: SGD, Adam, and momentum
        or Nesterov with 0 < momentum < 1 and no penalty (see ``kernels/momentum.py`` and
        ``kernels/adam.py``). Those kernels call no BLAS."""
        return batch_size == 1 and (optimizer.name in ("sgd", "adam") or (
            optimizer.name in ("momentum", "nesterov") and 0 < optimizer.momentum < 1
            and l1 == l2 == 0))

    def _threaded(self, batch_size, threads) -> bool:
        """Whether batches are split into ``threads`` parts at once (``kernels/parallel.py``):
        per-sample steps are sequential, and batches of fewer than THREADS_FROM multiply-adds
        run on one thread."""
        n_weights = sum(a * b for a, b in zip(self.sizes, self.sizes[1:]))
        return threads > 1 and batch_size > 1 and batch_size * n_weights >= THREADS_FROM

    def _train_epochs(self, X, T, orders, begin, end, batch_size, lrs, l1, l2, optimizer,
                      losses, last_good, last_state, steps, threads=1) -> tuple[int, bool]:
        with _subnormals_flushed():
            s = self._scalar
            lrs = lrs.astype(self.dtype)
            fused = self._fused(batch_size, optimizer, l1, l2)
            if fused and optimizer.name == "sgd":
                return sgd_sample_epochs(*self._kernel_args, self.config.loss_code, X, T, orders,
                                         begin, end, lrs, s(l1), s(l2), FOLD_EVERY, losses,
                                         last_good)
            steps[0] = self._steps
            if self._threaded(batch_size, threads):
                on = _threads_for(threads)
                shared = shared_buffers(self._params, self.layout.sizes,
                                        min(batch_size, X.shape[0]), threads)
                before = self._params.copy(), self._state.copy()
                try:
                    result = run_on_threads(
                        on, shared, *self._kernel_args, self.config.loss_code, X, T, orders,
                        begin, end, batch_size, lrs, s(l1), s(l2), optimizer.code,
                        optimizer.hyper(self.dtype), self._state, steps, losses, last_good,
                        last_state)
                except BaseException:
                    # A thread failed, and the others stopped at their next wait, maybe within
                    # a batch: the network goes back to where the call started.
                    self._params[:], self._state[:] = before
                    raise
            elif fused and optimizer.name == "adam":
                result = adam_sample_epochs(
                    *self._kernel_args, self.config.loss_code, X, T, orders, begin, end, lrs,
                    optimizer.hyper(self.dtype), s(l1), s(l2), self._state, steps, losses,
                    last_good, last_state)
            elif fused:
                result = momentum_sample_epochs(
                    *self._kernel_args, self.config.loss_code, X, T, orders, begin, end, lrs,
                    s(optimizer.momentum), optimizer.name == "nesterov", FOLD_EVERY, self._state,
                    steps, losses, last_good, last_state)
            else:
                result = batch_epochs(*self._kernel_args, self.config.loss_code, X, T, orders,
                                      begin, end, batch_size, lrs, s(l1), s(l2), optimizer.code,
                                      optimizer.hyper(self.dtype), self._state, steps, losses,
                                      last_good, last_state, self._params[:0])
            self._steps = int(steps[0])
            return result

    def _grain(self, plan) -> int:
        # Per-sample SGD with an l2-only penalty, and fused momentum, keep the first layer in
        # a lagged form, written back at the multiples of FOLD_EVERY (kernels/train.py,
        # kernels/momentum.py): a call ending there, and only there, leaves the results as
        # one long call would.
        lagged = plan.optimizer.name != "sgd" or (plan.l1 == 0 and plan.l2 != 0)
        if self._fused(plan.batch_size, plan.optimizer, plan.l1, plan.l2) and lagged:
            return FOLD_EVERY
        return plan.batch_size

    def _visit_seconds(self, plan) -> float:
        # At least twice what this project's machine takes, per parameter: a fused
        # per-sample step of SGD or momentum touches the rows of nonzero inputs (~0.1 ns per
        # parameter on MNIST); other steps move every parameter once per batch.
        per_parameter = 3e-10
        if not (self._fused(plan.batch_size, plan.optimizer, plan.l1, plan.l2)
                and plan.l1 == 0 and plan.optimizer.name != "adam"):
            per_parameter += 1e-8 / plan.batch_size
        return per_parameter * self._params.size + 3e-7

    def _compute_context(self, plan):
        if self._fused(plan.batch_size, plan.optimizer, plan.l1, plan.l2):
            return contextlib.nullcontext()
        return _one_blas_thread()

    def _outputs(self, X) -> np.ndarray:
        return self._evaluate(X, None, OUTPUTS)[1]

    def _data_loss_and_outputs(self, X, T):
        # (One pass over X: validation after each epoch cost two, 17% of a batch-128 epoch
        # of MNIST with its 10,000 test images.)
        return self._evaluate(X, T, LOSS_AND_OUTPUTS)

    def _data_loss(self, X, T, want_grad):
        if want_grad:
            return self._data_gradient(X, T)
        return self._evaluate(X, T, LOSS)[0], None

    def _evaluate(self, X, T, what: int):
        """``kernels.evaluate``'s ``what`` on X ``(n, n_in)`` and T ``(n, n_out)`` (None for
        OUTPUTS): (mean loss, outputs ``(n, n_out)`` or None)."""
        outputs = what in (OUTPUTS, LOSS_AND_OUTPUTS)
        out = np.empty((X.shape[0] if outputs else 0, self.sizes[-1]), self.dtype)
        with _subnormals_flushed(), _one_blas_thread():
            loss = evaluate(*self._kernel_args, self.config.loss_code, X,
                            out[:0] if T is None else T, what, out)
        return loss, out if outputs else None

    def _data_gradient(self, X, T):
        """(mean loss, its flat gradient) over X ``(n, n_in)`` and T ``(n, n_out)``: what
        ``batch_epochs`` computes when given a gradient buffer. Its other arguments are of the
        types training passes, so that it runs the kernel training compiled."""
        grad = np.empty_like(self._params)
        losses = np.empty(1)
        no_state = np.empty((0, self._params.size), self.dtype)
        zero = self._scalar(0)
        with _subnormals_flushed(), _one_blas_thread():
            batch_epochs(*self._kernel_args, self.config.loss_code, X, T,
                         np.empty((0, 0), np.int64), 0, 0, 1, np.empty(0, self.dtype), zero, zero,
                         0, np.empty(4, self.dtype), no_state, np.zeros(2, np.int64), losses,
                         self._params, no_state, grad)
        return float(losses[0]), grad

    def _penalty(self, l1, l2, want_grad):
        if l1 == 0 and l2 == 0 and not want_grad:
            return 0.0, None
        lay, s = self.layout, self._scalar
        value = penalty(self._params, lay.sizes, lay.w_off, s(l1), s(l2))
        if not want_grad:
            return value, None
        grad = np.zeros_like(self._params)
        add_penalty_gradient(self._params, grad, lay.sizes, lay.w_off, s(l1), s(l2))
        return value, grad
