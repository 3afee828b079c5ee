"""Minibatch training on several threads: each batch in ``parts`` parts at once.

Three parallel regions per batch:

1. ``first_layer_parts``: thread c takes part c of W_0's rows (of the inputs), and adds those
   inputs' share to the first layer's pre-activations of every row of the batch.
2. ``upper_layer_parts``: part p of the batch's rows (p * rows // parts up to (p + 1) * rows
   // parts) adds up those shares in order, then runs the layers above, its loss and its
   gradients of everything but W_0, in its own workspace and gradient buffer.
3. ``finish_parts``: thread c steps its rows of W_0 (plain SGD) or computes their gradient,
   and adds up part c of the other parameters' gradients over the parts, in order.

So the results depend on ``parts`` but never on how the threads are scheduled. W_0, the
largest tensor, never goes through the parts' gradient buffers (to be zeroed, filled, summed
and stepped), and each of its rows is read and written by one thread only. Against the
earlier split of the batch's rows alone, side by side on 2 threads: MNIST 784-128-64-10 at
batch 32 1.5x as fast, at batch 128 1.2x, dense MNIST at batch 128 1.17x; tiny networks,
which gain nothing from threads either way, lose (bike 56-20-1 0.7-0.8x, digits 0.85-0.87x).

Python calls ``parallel_batch_epochs`` only when asked for threads: compiling it starts
Numba's thread pool.
"""
import numpy as np
from numba import prange

from .arrays import add, copy
from .backward import column_sums, hidden_backward, sparse_sgd_step, sparse_weight_gradient
from .buffers import layers
from .forward import first_layer_forward, forward_layers
from .fpmode import flush_subnormals, restore_mode
from .jit import entry_kernel, kernel, parallel_kernel
from .loss import output_loss
from .penalty import add_penalty_gradient
from .stack import align_stack
from .train import DIVERGED, GOING_ON, end_epoch
from .update import SGD, sgd, step
from .workspace import delta_block, layer_block, workspace_part, workspaces


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
    (their nonzero positions then in workspace c's lists, for ``finish_parts``).
    Subnormals flushed on each thread, then the mode ``caller``."""
    parts = inputs.shape[0]
    rows = batch.shape[0]
    for c in prange(parts):
        flush_subnormals()
        # (A prange's index may be typed uint64, here or in another loop: as int64, each
        # callee compiles once for every loop.)
        first, last = part_rows(np.int64(c), W.shape[0], parts)
        A = flat_block(inputs[c], rows, last - first)
        for s in range(rows):
            copy(X[batch[s], first:last], A[s])
        ws = workspace_part(stacked, np.int64(c))
        sparse[c] = first_layer_forward(A, W[first:last], b if c == 0 else zero_bias,
                                        Z_parts[c, :rows], ws.ptr, ws.input_index)
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
    for p in prange(parts):
        flush_subnormals()
        begin, end = part_rows(np.int64(p), rows, parts)
        if end > begin:
            ws = workspace_part(stacked, np.int64(p))
            Z0 = layer_block(ws, np.int64(0), end - begin)
            for s in range(end - begin):
                copy(Z_parts[0, begin + s], Z0[s])
                for c in range(1, Z_parts.shape[0]):
                    add(Z_parts[c, begin + s], Z0[s])
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
def finish_parts(params, n_w0, W, dW, lr, step_now, inputs, D0, stacked, sparse, grads, scratch,
                 caller):
    """Thread c finishes part c of W_0's rows (see ``first_layer_parts``) and part c of the
    parameters after W_0, ``params[n_w0:]``, every part at once.

    W_0 ``(n_in, n_out)``'s rows, with the batch's deltas D0 ``(rows, n_out)``: if
    ``step_now`` (plain SGD without a penalty), their SGD step (for sparse inputs sample by
    sample, ``sparse_sgd_step``; for dense ones through their gradient in scratch[c]);
    otherwise their gradient, into the same rows of dW. A thread's rows of W_0 are read and
    written by that thread only, so they stay in its core's cache; and W_0's gradient, the
    largest, is never summed over parts. (Columns split among the threads instead, each
    thread writing only cache lines of its own, ran 5x slower than one thread; the same work
    on two copies of W_0 did not slow down.)

    The other parameters: grads[0] <- the sum of the parts' gradients (added in order), and
    if ``step_now``, their SGD step. Subnormals flushed, then the mode ``caller``."""
    parts = inputs.shape[0]
    rows, n_out = D0.shape
    n = params.shape[0]
    for c in prange(parts):
        flush_subnormals()
        first, last = part_rows(np.int64(c), W.shape[0], parts)
        A = flat_block(inputs[c], rows, last - first)
        ws = workspace_part(stacked, np.int64(c))
        if step_now and sparse[c]:
            sparse_sgd_step(A, ws.ptr, ws.input_index, D0, W[first:last], lr)
        elif step_now:
            # (W_0's rows first..last are params[first * n_out:last * n_out].)
            G = flat_block(scratch[c], last - first, n_out)
            np.dot(A.T, D0, G)
            sgd(params[first * n_out:last * n_out], scratch[c, :G.size], lr)
        elif sparse[c]:
            sparse_weight_gradient(A, ws.ptr, ws.input_index, D0, dW[first:last])
        else:
            np.dot(A.T, D0, dW[first:last])
        begin, end = part_rows(np.int64(c), n - n_w0, parts)
        total = grads[0, n_w0 + begin:n_w0 + end]
        for p in range(1, parts):
            add(grads[p, n_w0 + begin:n_w0 + end], total)
        if step_now:
            sgd(params[n_w0 + begin:n_w0 + end], total, lr)
        restore_mode(caller)


@entry_kernel
def parallel_batch_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin,
                          end, batch_size, parts, lrs, l1, l2, optimizer, hyper, state, steps,
                          losses, last_good, last_state, caller):
    """``train.batch_epochs`` with each batch computed in ``parts`` parts at once (see above).
    Called with subnormals flushed (see ``fpmode``); each thread that computes a part flushes
    them too, then takes the mode ``caller`` (a thread that Numba starts within this call
    starts in its creator's mode, not in the one it should go back to), and this thread
    flushes them again for a step of its own."""
    align_stack()  # (this kernel's own frame; its parts run in frames of their own: see ``stack``)
    k, n = orders.shape
    capacity = min(batch_size, n)
    n_in, n_out0 = sizes[0], sizes[1]
    n_w0 = n_in * n_out0  # (W_0 comes first in the buffer)
    w0_part = (n_in + parts - 1) // parts
    stacked = workspaces(params, sizes, capacity, parts)
    inputs = np.empty((parts, capacity * w0_part), params.dtype)
    Z_parts = np.empty((parts, capacity, n_out0), params.dtype)
    scratch = np.empty((parts, w0_part * n_out0), params.dtype)
    D0 = np.empty((capacity, n_out0), params.dtype)
    zero_bias = np.zeros(n_out0, params.dtype)
    sparse = np.zeros(parts, np.bool_)
    grads = np.empty((parts, params.shape[0]), params.dtype)
    net = layers(params, sizes, w_off, b_off)
    grad_layers = [layers(grads[p], sizes, w_off, b_off) for p in range(parts)]
    part_losses = np.empty(parts)
    one = params.dtype.type(1.0)
    # Plain SGD without a penalty steps on the threads; other steps on this one.
    step_now = optimizer == SGD and l1 == 0 and l2 == 0
    for e in range(k):
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        for start in range(begin if e == 0 else 0, stop, batch_size):
            batch = orders[e, start:min(start + batch_size, stop)]
            rows = batch.shape[0]
            first_layer_parts(X, batch, net.W[0], net.b[0], zero_bias, inputs, Z_parts, stacked,
                              sparse, caller)
            upper_layer_parts(net, codes, loss_code, T, batch, one / params.dtype.type(rows),
                              Z_parts, stacked, grads, grad_layers, D0[:rows], part_losses,
                              caller)
            finish_parts(params, n_w0, net.W[0], grad_layers[0].W[0], lrs[e], step_now, inputs,
                         D0[:rows], stacked, sparse, grads, scratch, caller)
            for p in range(parts):
                total += part_losses[p]
            if not step_now:
                flush_subnormals()  # (this thread computed a part too: flushed again)
                add_penalty_gradient(params, grads[0], sizes, w_off, l1, l2)
                step(optimizer, params, grads[0], state, steps, lrs[e], hyper)
        status = end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n, losses,
                           e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
