"""Per-sample Adam, fused into the backward pass.

Adam moves every parameter at every step, so per sample it is a pass over the whole buffer
(``update.adam_step``'s rule, with the penalty's gradient added to each weight's). Here each
row takes that step as soon as its gradient a_i d is known, in the pass that also takes its
dot product for the layer below, instead of the gradient going through a buffer to be zeroed,
filled, read and stepped. The first layer's every row steps, zero inputs' rows with the
gradient 0 (and the penalty's); so no list of nonzero inputs is needed there. Against the
minibatch kernel at batch 1: MNIST 1.27x (~50 us per sample, about what its vector square
roots and divisions take), digits 1.68x, float64 MNIST 1.135x (whose parameters and moments,
2.6 MB, overflow L2).
"""
import numpy as np

from .activations import backprop_activation
from .borrow import borrowed
from .buffers import borrowed_flat, layer_bias, layer_weight
from .forward import forward_sample
from .jit import entry_kernel, inline_kernel
from .loss import output_loss
from .stack import align_stack
from .train import GOING_ON, DIVERGED, end_epoch, prefetch_ahead
from .update import adam_factors, adam_step, adam_update
from .workspace import borrowed_workspace, layer_row, workspace


@inline_kernel
def adam_row(a_i, d, W, M, V, i, factors, l1, l2):
    """Row i of W (its moments rows i of M and V) takes Adam's step (``update.adam_update``)
    for the gradient a_i d plus the penalty's; returns W[i] . d with W before its step."""
    acc = W.dtype.type(0.0)
    for j in range(W.shape[1]):
        w = W[i, j]
        acc += w * d[j]
        g = a_i * d[j]
        if l1 != 0 or l2 != 0:
            g += l1 * np.sign(w) + l2 * w
        W[i, j], M[i, j], V[i, j] = adam_update(w, g, M[i, j], V[i, j], factors)
    return acc


@inline_kernel
def backward_adam(net, mom, vel, codes, x, ws, t, lr, b1, b2, eps, l1, l2):
    """Backpropagate one sample's output deltas (in ``ws.d_a``) and take Adam's step t.
    net, mom, vel: Flats of the parameters and of the first and second moments; x: the
    sample ``(n_in,)``; the workspace holds its hidden activations from ``forward_sample``."""
    n_layers = net.sizes.shape[0] - 1
    factors = adam_factors(x, lr, b1, b2, eps, t)
    d_cur, d_next = ws.d_a, ws.d_b
    for l in range(n_layers - 1, -1, -1):
        W, M, V = layer_weight(net, l), layer_weight(mom, l), layer_weight(vel, l)
        n_in, n_out = W.shape
        d = d_cur[:n_out]
        a = x if l == 0 else layer_row(ws, l - 1)
        for i in range(n_in):  # (for the first layer, dot products that nothing reads)
            d_next[i] = adam_row(a[i], d, W, M, V, i, factors, l1, l2)
        if l > 0:
            backprop_activation(codes[l - 1], a, d_next[:n_in])
        adam_step(layer_bias(net, l), d, layer_bias(mom, l), layer_bias(vel, l), t, lr, b1, b2,
                  eps)
        d_cur, d_next = d_next, d_cur


@entry_kernel
def adam_sample_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin, end,
                       lrs, hyper, l1, l2, state, steps, losses, last_good, last_state):
    """Per-sample Adam over ``orders``, as ``train.sgd_sample_epochs``; hyper as
    ``update.step`` takes it, state[0] and state[1] the moments m and v (laid out like params),
    steps[0] the step count t (steps[1] and last_state the last good epoch's)."""
    align_stack()  # (its spilled vectors on whole cache lines: see ``stack``)
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    k, n = orders.shape
    one = params.dtype.type(1.0)
    b1, b2, eps = hyper[1], hyper[2], hyper[3]
    # The per-sample loop takes borrowed views only (see ``borrow``).
    net = borrowed_flat(params, sizes, w_off, b_off)
    mom = borrowed_flat(state[0], sizes, w_off, b_off)
    vel = borrowed_flat(state[1], sizes, w_off, b_off)
    X, T, codes, orders = borrowed(X), borrowed(T), borrowed(codes), borrowed(orders)
    owner = workspace(params, sizes, np.int64(1))  # (a literal 1: one more compilation)
    for e in range(k):
        ws = borrowed_workspace(owner)  # (owner, used on every pass, outlives ws)
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        for position in range(begin if e == 0 else 0, stop):
            i = orders[e, position]
            prefetch_ahead(X, T, orders, e, position, stop)
            z, _ = forward_sample(net, codes, X[i], ws, one, 0)
            total += output_loss(codes[n_layers - 1], loss_code, z, T[i], ws.d_a[:n_out], one)
            steps[0] += 1
            backward_adam(net, mom, vel, codes, X[i], ws, steps[0], lrs[e], b1, b2, eps, l1,
                          l2)
        status = end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n, losses,
                           e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
