"""The epoch loop behind ``fit``.

Training runs in kernel calls sized to take about CALL_SECONDS / 2: several epochs of a tiny
network (the Python around a call costs more than its epoch), one epoch, or a slice of a long
epoch. So Ctrl-C is noticed within a fraction of a second; a call never runs past a
checkpoint. After each epoch come its chores: history, validation, early stopping,
checkpoints, the callback (with chores, a call trains at most one epoch).
"""
from __future__ import annotations

import _signal
import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .optimizers import Optimizer
from .schedules import Schedule

# A kernel call trains at most this many sample visits' worth of epochs (its orders are int64),
# and grows towards CALL_SECONDS of work.
MAX_ORDERS = 1 << 20
CALL_SECONDS = 0.1


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss or parameter; the network was rolled back."""


@dataclass
class Plan:
    """What one ``fit`` call does, its arguments checked."""

    epochs: int
    batch_size: int
    lr: float
    l1: float
    l2: float
    shuffle: bool
    schedule: Schedule
    optimizer: Optimizer
    validation: tuple[np.ndarray, np.ndarray] | None
    early_stopping: bool
    patience: int
    min_delta: float
    checkpoint: str | None
    checkpoint_every: int
    callback: Callable[[dict], object] | None
    verbose: bool
    threads: int = 1

    @property
    def each_epoch(self) -> bool:
        """Whether something must happen in Python after every epoch."""
        return (self.validation is not None or self.callback is not None or self.verbose)


@contextlib.contextmanager
def deferred_interrupt():
    """Within the block, Ctrl-C only sets ``flag[0]``: the epoch loop stops after the kernel
    call under way, keeping what it completed. A second Ctrl-C raises KeyboardInterrupt at
    once. Only in the main thread, and only where Ctrl-C has Python's default handler."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True

    # _signal is what ``signal`` wraps; ``signal``'s enum conversions cost ~10 us per fit,
    # as much as a few epochs of a tiny network.
    previous = _signal.signal(_signal.SIGINT, handler)
    if previous is not signal.default_int_handler:  # someone else's: leave it be
        _signal.signal(_signal.SIGINT, previous)
        yield flag
        return
    try:
        yield flag
    finally:
        _signal.signal(_signal.SIGINT, previous)


def run(net, X: np.ndarray, T: np.ndarray, plan: Plan) -> dict:
    """Train ``net`` on X, T as ``plan`` says; returns the history (see ``fit``)."""
    n = X.shape[0]
    batch_size = min(plan.batch_size, n)
    history = {"loss": [], "lr": [], "time": []}
    if plan.validation is not None:
        history.update(val_loss=[], val_score=[])
    history["stopped"] = None
    best = (np.inf, None, 0)  # early stopping: (val_loss, parameters, epoch)
    # Sample visits per kernel call: first from a generous guess of their cost, then what the
    # last call's time says fills half of CALL_SECONDS.
    budget = CALL_SECONDS / 4 / net._visit_seconds(plan)
    grain = net._grain(plan)
    # The last good epoch's parameters and optimizer state (steps: [now, last good]).
    last_good, last_state = net._params.copy(), net._state.copy()
    steps = np.array([net._steps, net._steps])
    rng_at_start = net._rng.bit_generator.state
    done = 0  # epochs ended in this call
    position, partial, partial_seconds = 0, 0.0, 0.0  # within an epoch trained in slices
    # Overflow is caught by the divergence check, not warned about sample by sample.
    with (deferred_interrupt() as interrupted, net._compute_context(plan),
          np.errstate(over="ignore", invalid="ignore")):
        while done < plan.epochs and history["stopped"] is None:
            if position == 0:
                k = min(max(1, int(budget // n)), plan.epochs - done, max(1, MAX_ORDERS // n))
                if plan.each_epoch:
                    k = 1
                if plan.checkpoint is not None:
                    k = min(k, plan.checkpoint_every - done % plan.checkpoint_every)
                lrs = plan.schedule.rates(plan.lr, net.epochs_trained, k)
                orders = net._orders(k, n, plan.shuffle)
            # An epoch longer than a call is trained in slices of whole batches (of whole
            # grains, which a kernel may need for the same bits whatever the slices).
            end = n
            if k == 1 and budget < n - position:
                end = min(n, position + max(1, int(budget) // grain) * grain)
            losses = np.empty(k)
            losses[0] = partial
            start = time.perf_counter()
            ended, diverged = net._train_epochs(X, T, orders, position, end, batch_size, lrs,
                                                plan.l1, plan.l2, plan.optimizer, losses,
                                                last_good, last_state, steps, plan.threads)
            seconds = time.perf_counter() - start
            visits = (k - 1) * n + end - position
            budget = max(batch_size, visits * CALL_SECONDS / 2 / max(seconds, 1e-6))
            net.epochs_trained += ended
            if end < n and not np.isfinite(losses[0]):
                # The slice's loss is already NaN or infinite, and so will the epoch's be:
                # stop now rather than train the rest of the epoch on NaN.
                _roll_back(net, last_good, last_state, steps)
                diverged = True
            if diverged:
                epoch = done + ended + 1
                net._replay_shuffles(rng_at_start, epoch - 1 if plan.shuffle else 0, n)
                raise DivergenceError(
                    f"training diverged in epoch {epoch}: the loss became {losses[ended]} "
                    f"(lr={lrs[ended]:g}, batch_size={batch_size}); the parameters are "
                    f"those after epoch {epoch - 1} of this call. Try a smaller lr.")
            if end < n:
                position, partial, partial_seconds = end, losses[0], partial_seconds + seconds
            else:
                seconds = (seconds + partial_seconds) / k
                position, partial, partial_seconds = 0, 0.0, 0.0
                if not plan.each_epoch:  # (per-epoch Python costs more than a tiny epoch)
                    done += k
                    history["loss"] += losses.tolist()
                    history["lr"] += lrs.tolist()
                    history["time"] += [seconds] * k
                for e in range(k if plan.each_epoch else 0):
                    done += 1
                    _record(net, plan, history, losses[e], lrs[e], seconds, done)
                    if plan.early_stopping:
                        best = _early_stopping(net, plan, history, best, done)
                    if plan.callback is not None and plan.callback(history) is False:
                        history["stopped"] = "callback"
            if interrupted[0] and history["stopped"] is None:
                history["stopped"] = "interrupted"
                if position > 0:  # back to the end of the last whole epoch
                    _roll_back(net, last_good, last_state, steps)
                    net._replay_shuffles(rng_at_start, done if plan.shuffle else 0, n)
                    position = 0
            if plan.checkpoint is not None and position == 0 and (
                    done % plan.checkpoint_every == 0 or done == plan.epochs
                    or history["stopped"] is not None):
                net.save(plan.checkpoint)
    if plan.early_stopping and best[1] is not None:
        net._params[:] = best[1]
        history["best_epoch"] = best[2]
    return history


def _roll_back(net, last_good: np.ndarray, last_state: np.ndarray, steps: np.ndarray) -> None:
    """The parameters and optimizer state of the last good epoch back in ``net``."""
    net._params[:] = last_good
    net._state[...], net._steps = last_state, int(steps[1])


def _record(net, plan: Plan, history: dict, loss: float, lr: float, seconds: float,
            epoch: int) -> None:
    history["loss"].append(float(loss))
    history["lr"].append(float(lr))
    history["time"].append(seconds)
    line = f"epoch {epoch}/{plan.epochs}  loss {loss:.6f}"
    if plan.validation is not None:
        X_val, T_val = plan.validation
        val_loss, val_score = net._validation(X_val, T_val, plan.l1, plan.l2)
        history["val_loss"].append(val_loss)
        history["val_score"].append(val_score)
        line += (f"  val_loss {history['val_loss'][-1]:.6f}"
                 f"  val_score {history['val_score'][-1]:.4f}")
    if plan.verbose:
        print(f"{line}  {seconds:.3f}s", flush=True)


def _early_stopping(net, plan: Plan, history: dict, best: tuple, epoch: int) -> tuple:
    """Keep the parameters of the best validation loss so far; stop after ``patience``
    epochs without an improvement of more than ``min_delta``."""
    val_loss = history["val_loss"][-1]
    if val_loss < best[0] - plan.min_delta or best[1] is None:
        return val_loss, net._params.copy(), epoch
    if epoch - best[2] >= plan.patience:
        history["stopped"] = "early_stopping"
    return best
