"""Minibatch training on several threads.

A batch is split among ``parts`` threads in one of two ways; either way the results depend on
``parts`` but never on how the threads are scheduled.

- By rows of the batch: part p takes rows p * rows // parts up to (p + 1) * rows // parts and
  computes their gradient in its own workspace and gradient buffer; the parts' gradients are
  summed in order and the step is the serial ``update.step``.
- Plain SGD without a penalty, on a first layer of ROWS_OF_W0_FROM weights or more: thread c
  also takes part c of W_0's rows (of the inputs). It adds those inputs' share to the first
  layer's pre-activations of every row of the batch (``first_layer_parts``, summed in the
  order of the parts); the layers above are split by rows of the batch as above
  (``upper_layer_parts``); then thread c steps its rows of W_0 itself and its part of the
  other parameters (``sgd_steps``). W_0, the largest tensor, never goes through a gradient
  buffer, and each of its rows is read and written by one thread only. MNIST at batch 32
  trains 1.5x as fast as with rows of the batch alone, at batch 128 1.2x.

Python calls ``parallel_batch_epochs`` only when asked for threads: compiling it starts
Numba's thread pool.
"""
import numpy as np
from numba import prange

from .arrays import add, copy
from .backward import column_sums, hidden_backward, sparse_sgd_step
from .buffers import layers
from .forward import first_layer_forward, forward_layers
from .fpmode import flush_subnormals, restore_mode
from .jit import entry_kernel, kernel, parallel_kernel
from .loss import output_loss
from .penalty import add_penalty_gradient
from .train import DIVERGED, GOING_ON, batch_gradient, end_epoch
from .update import SGD, sgd, step
from .workspace import delta_block, layer_block, workspace_part, workspaces


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


# Plain SGD splits W_0 by rows among the threads from this many weights on (see ``sgd_steps``).
# Below, its parts' gradients cost less to zero, sum and step than the third parallel region
# of each batch costs: side by side at batch 32, 784-8-10 0.97x, 784-32-10 1.20x, 784-64-10
# 1.45x, MNIST's 784-128-64-10 1.57x; digits (64-32-10) 0.85x, bike (56-20-1) 0.81x.
ROWS_OF_W0_FROM = 16384


@kernel
def part_rows(p, rows, parts):
    """Rows ``(begin, end)`` of part p of ``rows`` split into ``parts``."""
    return p * rows // parts, (p + 1) * rows // parts


@kernel
def flat_block(buffer, rows, cols):
    """A ``(rows, cols)`` C-ordered view of the start of a 1-D buffer."""
    return buffer[:rows * cols].reshape((rows, cols))


@parallel_kernel
def first_layer_parts(X, batch, W, b, zero_bias, inputs, Z_parts, stacked, sparse, caller):
    """Part c of the first layer's pre-activations, every part at once: Z_parts[c] <- the
    batch's inputs ``X[batch]`` in W_0's rows of part c (copied into inputs[c]) times those
    rows, plus b in part 0 only. sparse[c] <- whether part c's inputs were taken as sparse
    (their nonzero positions then in workspace c's lists, for ``sgd_steps``).
    Subnormals flushed on each thread, then the mode ``caller``."""
    parts = inputs.shape[0]
    rows = batch.shape[0]
    n_out = W.shape[1]
    for c in prange(parts):
        flush_subnormals()
        first, last = part_rows(c, W.shape[0], parts)
        A = flat_block(inputs[c], rows, last - first)
        for s in range(rows):
            copy(X[batch[s], first:last], A[s])
        ws = workspace_part(stacked, c)
        sparse[c] = first_layer_forward(A, W[first:last], b if c == 0 else zero_bias,
                                        flat_block(Z_parts[c], rows, n_out), ws.ptr,
                                        ws.input_index)
        restore_mode(caller)


@parallel_kernel
def upper_layer_parts(net, codes, loss_code, T, batch, scale, Z_parts, stacked, grads,
                      grad_layers, D0, losses, caller):
    """For the rows of each part p of the batch at once: the first layer's pre-activations
    (the sum of Z_parts, in order), the layers above it, the loss (losses[p]), and the
    gradients of everything but W_0 into grads[p] (grad_layers[p] its Layers); their rows of
    D0 <- the first layer's deltas. Subnormals flushed, then the mode ``caller``."""
    parts = grads.shape[0]
    rows = batch.shape[0]
    n_out0 = D0.shape[1]
    for p in prange(parts):
        flush_subnormals()
        begin, end = part_rows(p, rows, parts)
        if end > begin:
            ws = workspace_part(stacked, p)
            Z0 = layer_block(ws, np.int64(0), end - begin)
            for s in range(end - begin):
                copy(flat_block(Z_parts[0], rows, n_out0)[begin + s], Z0[s])
                for c in range(1, Z_parts.shape[0]):
                    add(flat_block(Z_parts[c], rows, n_out0)[begin + s], Z0[s])
            Z = forward_layers(net, codes, Z0, ws, 1)
            D = delta_block(ws.d_a, end - begin, Z.shape[1])
            loss = 0.0
            for s in range(end - begin):
                loss += output_loss(codes[len(net.W) - 1], loss_code, Z[s], T[batch[begin + s]],
                                    D[s], scale)
            losses[p] = loss
            deltas = hidden_backward(net, codes, ws, D, grad_layers[p])
            column_sums(deltas, grad_layers[p].b[0])
            for s in range(end - begin):
                copy(deltas[s], D0[begin + s])
        else:
            losses[p] = 0.0
            grads[p][:] = 0
        restore_mode(caller)


@parallel_kernel
def sgd_steps(params, n_w0, W, lr, inputs, D0, stacked, sparse, grads, scratch, caller):
    """The SGD step of every parameter, each thread taking part c of W_0's rows (see
    ``first_layer_parts``) and part c of the parameters after W_0 ``params[n_w0:]``.

    W_0 ``(n_in, n_out)`` steps with the batch's deltas D0 ``(rows, n_out)``: for sparse
    inputs sample by sample (``sparse_sgd_step``), for dense ones through their gradient in
    scratch[c]. A thread's rows of W_0 are read and written by that thread only, so they stay
    in its core's cache. (Columns split among the threads instead ran 5x slower than one
    thread: each thread's writes made the other's prefetched lines stale.) The other
    parameters step with the sum of the parts' gradients ``grads`` (added in order).
    Subnormals flushed, then the mode ``caller``."""
    parts = inputs.shape[0]
    rows, n_out = D0.shape
    n = params.shape[0]
    for c in prange(parts):
        flush_subnormals()
        first, last = part_rows(c, W.shape[0], parts)
        A = flat_block(inputs[c], rows, last - first)
        Wc = W[first:last]
        if sparse[c]:
            ws = workspace_part(stacked, c)
            sparse_sgd_step(A, ws.ptr, ws.input_index, D0, Wc, lr)
        else:
            dW = flat_block(scratch[c], last - first, n_out)
            np.dot(A.T, D0, dW)
            for i in range(last - first):
                for j in range(n_out):
                    Wc[i, j] -= lr * dW[i, j]
        begin, end = part_rows(c, n - n_w0, parts)
        total = grads[0, n_w0 + begin:n_w0 + end]
        for p in range(1, parts):
            add(grads[p, n_w0 + begin:n_w0 + end], total)
        sgd(params[n_w0 + begin:n_w0 + end], total, lr)
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
    n_in, n_out0 = sizes[0], sizes[1]
    n_w0 = n_in * n_out0  # (W_0 comes first in the buffer)
    # Plain SGD without a penalty, and a large W_0: its rows in parts (see ``sgd_steps``).
    rows_of_w0 = optimizer == SGD and l1 == 0 and l2 == 0 and n_w0 >= ROWS_OF_W0_FROM
    stacked = workspaces(params, sizes, capacity if rows_of_w0 else part_capacity, parts)
    w0_part = (n_in + parts - 1) // parts
    A0s = np.empty((parts, 0 if rows_of_w0 else part_capacity, n_in), params.dtype)
    inputs = np.empty((parts, capacity * w0_part if rows_of_w0 else 0), params.dtype)
    Z_parts = np.empty((parts, capacity * n_out0 if rows_of_w0 else 0), params.dtype)
    scratch = np.empty((parts, w0_part * n_out0 if rows_of_w0 else 0), params.dtype)
    D0 = np.empty((capacity if rows_of_w0 else 0, n_out0), params.dtype)
    zero_bias = np.zeros(n_out0, params.dtype)
    sparse = np.zeros(parts, np.bool_)
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
            rows = batch.shape[0]
            scale = one / params.dtype.type(rows)
            if rows_of_w0:
                first_layer_parts(X, batch, net.W[0], net.b[0], zero_bias, inputs, Z_parts,
                                  stacked, sparse, caller)
                upper_layer_parts(net, codes, loss_code, T, batch, scale, Z_parts, stacked,
                                  grads, grad_layers, D0[:rows], part_losses, caller)
                sgd_steps(params, n_w0, net.W[0], lrs[e], inputs, D0[:rows], stacked, sparse,
                          grads, scratch, caller)
                for p in range(parts):
                    total += part_losses[p]
                continue
            part_gradients(net, codes, loss_code, X, T, batch, scale, stacked, A0s, grads,
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
