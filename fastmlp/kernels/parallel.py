"""Minibatch training on several threads: each batch in ``parts`` parts at once.

Three phases per batch:

1. first layer: part c of W_0's rows (of the inputs) adds those inputs' share to the first
   layer's pre-activations of every row of the batch (``first_layer_part``).
2. upper layers: part p of the batch's rows (p * rows // parts up to (p + 1) * rows // parts)
   adds up those shares in order, then runs the layers above, its loss and its gradients of
   everything but W_0, in its own workspace and gradient buffer (``upper_layer_part``).
3. finish: part c of W_0's rows takes its SGD step (plain SGD) or gets its gradient, and part
   c of the other parameters' gradients is added up over the parts, in order
   (``finish_part``).

So the results depend on ``parts`` but never on how the threads are scheduled. W_0, the
largest tensor, never goes through the parts' gradient buffers (to be zeroed, filled, summed
and stepped), and each of its rows is read and written by one thread only. Against the
earlier split of the batch's rows alone, side by side on 2 threads: MNIST 784-128-64-10 at
batch 32 1.5x as fast, at batch 128 1.2x, dense MNIST at batch 128 1.17x; tiny networks,
which gain nothing from threads either way, lose (bike 56-20-1 0.7-0.8x, digits 0.85-0.87x).

``run_on_threads`` starts ``threads`` Python threads, each running ``thread_batch_epochs``
(compiled without the GIL) over the whole call: thread t computes parts t, t + threads, ...
of each phase, and the threads wait for each other after each phase (``barrier``). Thread 0
adds up the losses, takes the steps of other optimizers and ends the epochs. (It was three
``prange`` loops per batch, each a parallel kernel: Numba compiled each loop's body as a
function of its own with every kernel it calls, then again inside its caller, 6-7 s of
compilation; and it needed a thread pool of Numba's.)
"""
import threading
from collections import namedtuple

import numpy as np

from .arrays import add, copy
from .backward import column_sums, hidden_backward, sparse_sgd_step, sparse_weight_gradient
from .barrier import FAILED, SYNC_SIZE, wait_for_all
from .borrow import borrowed
from .buffers import layers
from .forward import first_layer_forward, forward_layers
from .fpmode import flush_subnormals, restore_mode
from .jit import entry_kernel, inline_kernel, kernel, thread_kernel
from .loss import output_loss
from .penalty import add_penalty_gradient
from .prefetch import prefetch_row, prefetch_row_to_l2
from .stack import align_stack
from .train import AHEAD, DIVERGED, FAR_AHEAD, GOING_ON, end_epoch
from .update import SGD, sgd, step
from .workspace import delta_block, layer_block, workspace_part, workspaces

# What the threads of a call share: the parts' workspaces (stacked), their inputs' columns of
# W_0's rows (inputs), their shares of the first layer's pre-activations (Z_parts), their
# dense W_0 gradients (scratch), the batch's first-layer deltas (D0), a zero bias for parts
# after the first, whether each part's inputs were sparse, the parts' gradients (grads) and
# losses, and thread 0's outcome: (epochs ended, diverged).
Shared = namedtuple("Shared", ["stacked", "inputs", "Z_parts", "scratch", "D0", "zero_bias",
                               "sparse", "grads", "losses", "outcome"])

# sync (see ``barrier``) holds, after the barrier's entries, how thread 0 ended an epoch.
STATUS = SYNC_SIZE


@kernel
def part_rows(p, rows, parts):
    """Rows ``(begin, end)`` of part p of ``rows`` split into ``parts``."""
    return p * rows // parts, (p + 1) * rows // parts


@kernel
def flat_block(buffer, rows, cols):
    """A ``(rows, cols)`` C-ordered view of the start of a 1-D buffer."""
    return buffer[:rows * cols].reshape((rows, cols))


@kernel
def first_layer_part(c, X, order, start, stop, rows, W, b, shared):
    """Phase 1, part c: Z_parts[c] <- the batch's inputs ``X[order[start:start + rows]]`` in
    W_0's rows of part c (copied into inputs[c]) times those rows, plus b in part 0 only;
    sparse[c] <- whether they were taken as sparse (their nonzero positions then in workspace
    c's lists, for ``finish_part``). As it copies a row, it prefetches the part's columns of
    the row AHEAD samples on in the epoch (up to ``stop``), and the whole row FAR_AHEAD on
    into L2, as ``train.epoch_batches`` does. (Without the second, MNIST batch 128 on two
    threads ran 1.02-1.06x slower, on one part 1.03x.)"""
    parts = shared.inputs.shape[0]
    first, last = part_rows(c, W.shape[0], parts)
    A = flat_block(shared.inputs[c], rows, last - first)
    X = borrowed(X)  # (a row's view costs no atomic operations: see ``borrow``)
    for s in range(rows):
        if start + s + AHEAD < stop:
            prefetch_row(X[order[start + s + AHEAD], first:last])
        if start + s + FAR_AHEAD < stop:
            prefetch_row_to_l2(X, order[start + s + FAR_AHEAD])
        copy(X[order[start + s], first:last], A[s])
    ws = workspace_part(shared.stacked, c)
    shared.sparse[c] = first_layer_forward(A, W[first:last],
                                           b if c == 0 else shared.zero_bias,
                                           shared.Z_parts[c, :rows], ws.ptr, ws.input_index)


@kernel
def upper_layer_part(p, net, codes, loss_code, T, batch, scale, shared, grad_layers):
    """Phase 2, part p of the batch's rows: the first layer's pre-activations (the sum of
    Z_parts, in order), the layers above it, the loss (losses[p]), and the gradients of
    everything but W_0 into grads[p] (grad_layers its Layers); their rows of D0 <- the first
    layer's deltas."""
    parts = shared.grads.shape[0]
    rows = batch.shape[0]
    begin, end = part_rows(p, rows, parts)
    if end == begin:
        shared.losses[p] = 0.0
        shared.grads[p][:] = 0
        return
    ws = workspace_part(shared.stacked, p)
    Z0 = layer_block(ws, np.int64(0), end - begin)
    for s in range(end - begin):
        copy(shared.Z_parts[0, begin + s], Z0[s])
        for c in range(1, shared.Z_parts.shape[0]):
            add(shared.Z_parts[c, begin + s], Z0[s])
    Z = forward_layers(net, codes, Z0, ws, 1)
    D = delta_block(ws.d_a, end - begin, Z.shape[1])
    loss = 0.0
    for s in range(end - begin):
        loss += output_loss(codes[len(net.W) - 1], loss_code, Z[s], T[batch[begin + s]], D[s],
                            scale)
    shared.losses[p] = loss
    deltas = hidden_backward(net, codes, ws, D, grad_layers)
    column_sums(deltas, grad_layers.b[0])
    for s in range(end - begin):
        copy(deltas[s], shared.D0[begin + s])


@kernel
def finish_part(c, params, n_w0, W, dW, lr, step_now, rows, shared):
    """Phase 3, part c of W_0's rows (see ``first_layer_part``) and part c of the parameters
    after W_0, ``params[n_w0:]``.

    W_0 ``(n_in, n_out)``'s rows, with the batch's deltas D0 ``(rows, n_out)``: if
    ``step_now`` (plain SGD without a penalty), their SGD step (for sparse inputs sample by
    sample, ``sparse_sgd_step``; for dense ones through their gradient in scratch[c]);
    otherwise their gradient, into the same rows of dW. A part's rows of W_0 are read and
    written by one thread only, so they stay in its core's cache; and W_0's gradient, the
    largest, is never summed over parts. (Columns split among the threads instead, each
    thread writing only cache lines of its own, ran 5x slower than one thread; the same work
    on two copies of W_0 did not slow down.)

    The other parameters: grads[0] <- the sum of the parts' gradients (added in order), and
    if ``step_now``, their SGD step."""
    parts = shared.inputs.shape[0]
    D0 = shared.D0[:rows]
    n_out = D0.shape[1]
    n = params.shape[0]
    first, last = part_rows(c, W.shape[0], parts)
    A = flat_block(shared.inputs[c], rows, last - first)
    ws = workspace_part(shared.stacked, c)
    if step_now and shared.sparse[c]:
        sparse_sgd_step(A, ws.ptr, ws.input_index, D0, W[first:last], lr)
    elif step_now:
        # (W_0's rows first..last are params[first * n_out:last * n_out].)
        G = flat_block(shared.scratch[c], last - first, n_out)
        np.dot(A.T, D0, G)
        sgd(params[first * n_out:last * n_out], shared.scratch[c, :G.size], lr)
    elif shared.sparse[c]:
        sparse_weight_gradient(A, ws.ptr, ws.input_index, D0, dW[first:last])
    else:
        np.dot(A.T, D0, dW[first:last])
    grads = shared.grads
    begin, end = part_rows(c, n - n_w0, parts)
    total = grads[0, n_w0 + begin:n_w0 + end]
    for p in range(1, parts):
        add(grads[p, n_w0 + begin:n_w0 + end], total)
    if step_now:
        sgd(params[n_w0 + begin:n_w0 + end], total, lr)


@entry_kernel
def shared_buffers(params, sizes, capacity, parts):
    """The buffers the threads of a call share (``Shared``), for batches of up to
    ``capacity`` rows in ``parts`` parts."""
    n_in, n_out0 = sizes[0], sizes[1]
    w0_part = (n_in + parts - 1) // parts
    return Shared(workspaces(params, sizes, capacity, parts),
                  np.empty((parts, capacity * w0_part), params.dtype),
                  np.empty((parts, capacity, n_out0), params.dtype),
                  np.empty((parts, w0_part * n_out0), params.dtype),
                  np.empty((capacity, n_out0), params.dtype),
                  np.zeros(n_out0, params.dtype), np.zeros(parts, np.bool_),
                  np.empty((parts, params.shape[0]), params.dtype), np.empty(parts),
                  np.zeros(2, np.int64))


@thread_kernel
def thread_batch_epochs(t, threads, sync, shared, params, sizes, w_off, b_off, codes, loss_code,
                        X, T, orders, begin, end, batch_size, lrs, l1, l2, optimizer, hyper,
                        state, steps, losses, last_good, last_state):
    """Thread t of ``threads``' share of ``train.batch_epochs`` with each batch computed in
    ``parts`` parts (see above; parts: shared's first axis); thread 0 sets outcome to
    (epochs ended, whether training diverged), or (-1, 0) if another thread failed (see
    ``barrier``). With
    subnormals flushed on this thread (see ``fpmode``), its mode restored at the end."""
    align_stack()  # (its spilled vectors on whole cache lines: see ``stack``)
    caller = flush_subnormals()
    ended, diverged = thread_epochs(t, threads, sync, shared, params, sizes, w_off, b_off,
                                    codes, loss_code, X, T, orders, begin, end, batch_size, lrs,
                                    l1, l2, optimizer, hyper, state, steps, losses, last_good,
                                    last_state)
    if t == 0:
        shared.outcome[0], shared.outcome[1] = ended, diverged
    restore_mode(caller)


@inline_kernel
def thread_epochs(t, threads, sync, shared, params, sizes, w_off, b_off, codes, loss_code, X, T,
                  orders, begin, end, batch_size, lrs, l1, l2, optimizer, hyper, state, steps,
                  losses, last_good, last_state):
    """``thread_batch_epochs``' loop: (epochs ended, diverged)."""
    k, n = orders.shape
    parts = shared.grads.shape[0]
    n_w0 = sizes[0] * sizes[1]  # (W_0 comes first in the buffer)
    net = layers(params, sizes, w_off, b_off)
    grad_layers = [layers(shared.grads[p], sizes, w_off, b_off) for p in range(parts)]
    one = params.dtype.type(1.0)
    # Plain SGD without a penalty steps in the parts; other steps on thread 0.
    step_now = optimizer == SGD and l1 == 0 and l2 == 0
    for e in range(k):
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        for start in range(begin if e == 0 else 0, stop, batch_size):
            batch = orders[e, start:min(start + batch_size, stop)]
            rows = batch.shape[0]
            for c in range(t, parts, threads):
                first_layer_part(c, X, orders[e], start, stop, rows, net.W[0], net.b[0],
                                 shared)
            if not wait_for_all(sync, threads):
                return -1, False
            for p in range(t, parts, threads):
                upper_layer_part(p, net, codes, loss_code, T, batch,
                                 one / params.dtype.type(rows), shared, grad_layers[p])
            if not wait_for_all(sync, threads):
                return -1, False
            for c in range(t, parts, threads):
                finish_part(c, params, n_w0, net.W[0], grad_layers[0].W[0], lrs[e], step_now,
                            rows, shared)
            if t == 0:
                for p in range(parts):
                    total += shared.losses[p]
            if not wait_for_all(sync, threads):
                return -1, False
            if not step_now:
                if t == 0:
                    add_penalty_gradient(params, shared.grads[0], sizes, w_off, l1, l2)
                    step(optimizer, params, shared.grads[0], state, steps, lrs[e], hyper)
                if not wait_for_all(sync, threads):
                    return -1, False
        if t == 0:
            sync[STATUS] = end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n,
                                     losses, e, last_good, last_state)
        if not wait_for_all(sync, threads):
            return -1, False
        status = sync[STATUS]
        if not wait_for_all(sync, threads):  # (every thread has read it)
            return -1, False
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False


def run_on_threads(threads: int, shared, *args) -> tuple[int, bool]:
    """Run ``thread_batch_epochs`` on ``threads`` threads at once (this one and threads - 1
    new ones) with the buffers ``shared`` and the rest of its arguments ``args``; returns
    thread 0's (epochs ended, diverged). If a thread raises (or this one is interrupted), the
    others stop at their next wait, and the exception is raised here once every thread has
    ended."""
    sync = np.zeros(STATUS + 1, np.int64)
    errors = []

    def run(t):
        try:
            thread_batch_epochs(t, threads, sync, shared, *args)
        except BaseException as error:  # (any: the others must not wait forever)
            sync[FAILED] = 1
            errors.append(error)

    workers = []
    done = False
    try:
        for t in range(1, threads):
            workers.append(threading.Thread(target=run, args=(t,), daemon=True))
            workers[-1].start()
        run(0)
        done = True
    finally:
        if not done:
            sync[FAILED] = 1
        _join(workers)
    if errors:
        raise errors[0]
    return int(shared.outcome[0]), bool(shared.outcome[1])


def _join(workers: list[threading.Thread]) -> None:
    """Wait until every started thread of ``workers`` has ended, even through Ctrl-C (raised
    after): they may be writing the parameters."""
    interrupted = None
    for worker in workers:
        while worker.ident is not None:  # (started)
            try:
                worker.join()
                break
            except KeyboardInterrupt as error:
                interrupted = error
    if interrupted is not None:
        raise interrupted
