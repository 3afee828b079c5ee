"""Minibatch training on several threads.

Each batch is split into ``parts`` blocks of consecutive rows (part p: rows p * rows // parts
up to (p + 1) * rows // parts). The parts' gradients are computed at once, each in its own
workspace and gradient buffer, then summed in the order of the parts; so the results depend
on ``parts`` but never on how the threads are scheduled. The step itself is the serial
``update.step``. Python calls ``parallel_batch_epochs`` only when asked for threads:
compiling it starts Numba's thread pool.
"""
import numpy as np
from numba import prange

from .arrays import add, copy
from .buffers import layers
from .fpmode import flush_subnormals, restore_mode
from .jit import entry_kernel, parallel_kernel
from .penalty import add_penalty_gradient
from .train import DIVERGED, GOING_ON, batch_gradient, end_epoch
from .update import step
from .workspace import workspace_part, workspaces


@parallel_kernel
def part_gradients(net, codes, loss_code, X, T, batch, scale, stacked, A0s, grads, grad_layers,
                   losses, caller):
    """grads[p], losses[p] <- ``batch_gradient`` of part p of ``batch`` (gathered into
    A0s[p]), every part at once. net: Layers of the parameters; grad_layers[p]: of grads[p].
    Each part's thread computes with subnormals flushed, then takes the mode ``caller``."""
    parts = grads.shape[0]
    rows = batch.shape[0]
    for p in prange(parts):
        flush_subnormals()
        begin = p * rows // parts
        end = (p + 1) * rows // parts
        if end > begin:
            A0 = A0s[p]
            for s in range(end - begin):
                copy(X[batch[begin + s]], A0[s])
            losses[p], _ = batch_gradient(net, codes, loss_code, A0[:end - begin], T,
                                          batch[begin:end], scale, workspace_part(stacked, p),
                                          grad_layers[p], grads.dtype.type(0.0))
        else:
            losses[p] = 0.0
            grads[p][:] = 0
        restore_mode(caller)


@parallel_kernel
def sum_parts(grads, tasks, caller):
    """grads[0] <- grads[0] + grads[1] + ... (added in that order), in ``tasks`` slices at
    once (as ``part_gradients``, subnormals flushed, then the mode ``caller``)."""
    parts, n = grads.shape
    for c in prange(tasks):
        flush_subnormals()
        begin = c * n // tasks
        end = (c + 1) * n // tasks
        total = grads[0, begin:end]
        for p in range(1, parts):
            add(grads[p, begin:end], total)
        restore_mode(caller)


@entry_kernel
def parallel_batch_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin,
                          end, batch_size, parts, lrs, l1, l2, optimizer, hyper, state, steps,
                          losses, last_good, last_state, caller):
    """``train.batch_epochs`` with each batch's gradient computed in ``parts`` parts at once
    (see above). Called with subnormals flushed (see ``fpmode``); each thread that computes a
    part flushes them too, then takes the mode ``caller`` (a thread that Numba starts within
    this call starts in its creator's mode, not in the one it should go back to), and this
    thread flushes them again for the step."""
    k, n = orders.shape
    capacity = min(batch_size, n)
    part_capacity = (capacity + parts - 1) // parts
    stacked = workspaces(params, sizes, part_capacity, parts)
    A0s = np.empty((parts, part_capacity, sizes[0]), params.dtype)
    grads = np.empty((parts, params.shape[0]), params.dtype)
    net = layers(params, sizes, w_off, b_off)
    grad_layers = [layers(grads[p], sizes, w_off, b_off) for p in range(parts)]
    part_losses = np.empty(parts)
    one = params.dtype.type(1.0)
    for e in range(k):
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        for start in range(begin if e == 0 else 0, stop, batch_size):
            batch = orders[e, start:min(start + batch_size, stop)]
            part_gradients(net, codes, loss_code, X, T, batch,
                           one / params.dtype.type(batch.shape[0]), stacked, A0s, grads,
                           grad_layers, part_losses, caller)
            for p in range(parts):
                total += part_losses[p]
            sum_parts(grads, parts, caller)
            flush_subnormals()  # (this thread computed a part too: flushed again for the step)
            add_penalty_gradient(params, grads[0], sizes, w_off, l1, l2)
            step(optimizer, params, grads[0], state, steps, lrs[e], hyper)
        status = end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n, losses,
                           e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
