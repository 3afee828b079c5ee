"""Backward pass: deltas from the output to the input, gradients into a flat buffer."""
import numpy as np

from .activations import backprop_activation
from .buffers import bias, layer_block, weight
from .forward import nonzeros
from .jit import kernel


@kernel
def dense_backward(A, W, D, dW, db, D_prev, want_prev):
    """dW += A^T D, db += column sums of D, and (if want_prev) D_prev = D @ W^T.

    A: ``(rows, n_in)`` the layer's inputs, W: ``(n_in, n_out)``, D: ``(rows, n_out)`` deltas
    at the layer's pre-activations, dW/db: gradient views, D_prev: ``(rows, n_in)`` written.
    """
    rows, n_in = A.shape
    n_out = W.shape[1]
    for s in range(rows):
        d = D[s]
        for j in range(n_out):
            db[j] += d[j]
        for i in range(n_in):
            w = W[i]
            if want_prev:
                acc = W.dtype.type(0.0)
                for j in range(n_out):
                    acc += w[j] * d[j]
                D_prev[s, i] = acc
            a = A[s, i]
            if a != 0:  # a zero input has a zero gradient row
                g = dW[i]
                for j in range(n_out):
                    g[j] += a * d[j]


@kernel
def backward(params, sizes, w_off, b_off, codes, A0, work, offsets, d_out, d_spare, grad):
    """Backpropagate the output deltas through every layer, adding the gradient into ``grad``.

    A0: ``(rows, n_in)`` the inputs; the workspace holds every hidden layer's activations from
    ``forward``. d_out: flat buffer whose first ``rows * n_out`` entries are the output deltas;
    d_spare: a second flat buffer as long. Both are overwritten.
    """
    n_layers = sizes.shape[0] - 1
    rows = A0.shape[0]
    d_cur, d_next = d_out, d_spare
    for l in range(n_layers - 1, -1, -1):
        n_in, n_out = sizes[l], sizes[l + 1]
        A = A0 if l == 0 else layer_block(work, offsets, sizes, l - 1, rows)
        D = d_cur[:rows * n_out].reshape((rows, n_out))
        D_prev = d_next[:rows * n_in].reshape((rows, n_in))
        dense_backward(A, weight(params, sizes, w_off, l), D,
                       weight(grad, sizes, w_off, l), bias(grad, sizes, b_off, l),
                       D_prev, l > 0)
        if l > 0:
            for s in range(rows):
                backprop_activation(codes[l - 1], A[s], D_prev[s])
        d_cur, d_next = d_next, d_cur


@kernel
def dense_backward_sgd(a, index, k, W, b, d, d_prev, want_prev, lr, l1, l2):
    """One sample's SGD step on one layer, fused with backpropagation through it.

    a: ``(n_in,)`` inputs, of which ``index[:k]`` are the nonzero ones; d: ``(n_out,)``
    deltas; d_prev: ``(n_in,)`` written with W d using W before its update. Each row of W is
    read for d_prev and updated in the same pass. Without a penalty only the rows of nonzero
    inputs change.
    """
    n_in, n_out = W.shape
    if l1 != 0 or l2 != 0:
        for i in range(n_in):
            w = W[i]
            if want_prev:
                d_prev[i] = row_dot(w, d)
            a_i = a[i]
            for j in range(n_out):
                w[j] -= lr * (a_i * d[j] + l1 * np.sign(w[j]) + l2 * w[j])
    else:
        if want_prev:
            for i in range(n_in):
                d_prev[i] = row_dot(W[i], d)
        for t in range(k):
            i = index[t]
            a_i = a[i]
            w = W[i]
            for j in range(n_out):
                w[j] -= lr * (a_i * d[j])
    for j in range(n_out):
        b[j] -= lr * d[j]


@kernel
def row_dot(w, d):
    acc = w.dtype.type(0.0)
    for j in range(w.shape[0]):
        acc += w[j] * d[j]
    return acc


@kernel
def backward_sgd(params, sizes, w_off, b_off, codes, x, input_index, k0, work, offsets,
                 d_out, d_spare, index, lr, l1, l2):
    """Backpropagate one sample's output deltas and take its SGD step, layer by layer.

    x: ``(n_in,)`` the sample, ``input_index[:k0]`` its nonzero inputs; the workspace holds
    its hidden activations (one row per layer).
    """
    n_layers = sizes.shape[0] - 1
    d_cur, d_next = d_out, d_spare
    for l in range(n_layers - 1, -1, -1):
        n_in, n_out = sizes[l], sizes[l + 1]
        W = weight(params, sizes, w_off, l)
        b = bias(params, sizes, b_off, l)
        if l == 0:
            dense_backward_sgd(x, input_index, k0, W, b, d_cur[:n_out], d_next[:n_in], False,
                               lr, l1, l2)
        else:
            a = layer_block(work, offsets, sizes, l - 1, 1)[0]
            k = nonzeros(a, index)
            dense_backward_sgd(a, index, k, W, b, d_cur[:n_out], d_next[:n_in], True,
                               lr, l1, l2)
            backprop_activation(codes[l - 1], a, d_next[:n_in])
        d_cur, d_next = d_next, d_cur
