"""Per-sample SGD with momentum or Nesterov momentum (0 < mu < 1, no penalty), fused into
the backward pass, with the first layer kept in a form that a zero input's row never needs.

A step without gradient multiplies v by mu and moves W along it, and leaves U = W - c v
unchanged, where c = lr mu / (1 - mu) (Nesterov: lr mu^2 / (1 - mu)). So W_0 is kept as U
and its velocity as sigma * S, sigma = mu^t a float64 scalar. A step with gradient g is then

    sigma <- mu sigma;   S += g / sigma;   U -= lr / (1 - mu) g     (momentum and Nesterov)

which changes only the rows of nonzero inputs, and the forward pass reads W = U + c sigma S.
S is multiplied by sigma whenever sigma gets small (sigma <- 1), and W_0 and its velocity
are written back at the end of every epoch and call, so between calls the parameters and
velocities are those of the eager rule (``update.momentum_step``), up to rounding. They are
also written back, and taken up again, after every position of the epoch that is a multiple
of ``fold_every``: a call that ends there does the same, so the results do not depend on how
an epoch is split into calls. The hidden layers, whose inputs are rarely zero, step eagerly.
(Adam has no such form: per sample it updates every parameter.)
"""

import numpy as np

from .activations import backprop_activation
from .arrays import add_scaled, rescale
from .borrow import borrowed
from .buffers import borrowed_flat, layer_bias, layer_weight
from .forward import forward_hidden, nonzeros
from .jit import entry_kernel, inline_kernel
from .loss import output_loss
from .stack import align_stack
from .train import DIVERGED, GOING_ON, end_epoch, prefetch_ahead
from .update import momentum_step, momentum_update
from .vectors import narrow_rows_sum, steps_with_tails, sums_in_vectors, \
    whole_vector_rows_step
from .workspace import borrowed_workspace, layer_row, workspace

# sigma's floor: S = v / sigma stays far from float32's overflow, c sigma from its underflow.
FOLD_BELOW = 1e-18


@inline_kernel
def lagged_forward_row(x, index, k, U, S, c_sigma, b, z, scratch):
    """z = x @ (U + c_sigma S) + b over x's k nonzero inputs ``index[:k]``; scratch: an
    ``(n_out,)`` buffer. Rows up to SUM_VECTORS wide sum U's rows and S's in registers
    (``vectors.narrow_rows_sum``), then join the sums: MNIST per sample 1.08x against the
    loop below, 0.75 s more to compile."""
    n_out = U.shape[1]
    if sums_in_vectors(U):
        narrow_rows_sum(x, index, k, U, z)
        narrow_rows_sum(x, index, k, S, scratch)
        for j in range(n_out):
            z[j] += c_sigma * scratch[j] + b[j]
        return
    for j in range(n_out):
        z[j] = 0
    for t in range(k):
        i = index[t]
        x_i = x[i]
        x_c = x_i * c_sigma
        for j in range(n_out):
            z[j] += x_i * U[i, j] + x_c * S[i, j]
    for j in range(n_out):
        z[j] += b[j]


@inline_kernel
def lagged_step(x, index, k, d, U, S, rate, inv_sigma):
    """U -= rate g, S += g / sigma for the rows of x's nonzero inputs, g = x_i d. Rows of
    whole vectors step U's rows, then S's, as SGD steps its rows
    (``vectors.whole_vector_rows_step``; S's rate -1 / sigma): MNIST per sample 1.09x
    against the loop below, which LLVM vectorized poorly in float64 (with both changes,
    float64 per-sample momentum 2.2x as fast)."""
    if steps_with_tails(U):
        whole_vector_rows_step(x, index, k, U, d, rate, False, True)
        whole_vector_rows_step(x, index, k, S, d, -inv_sigma, False, True)
        return
    for t in range(k):
        i = index[t]
        u = rate * x[i]
        s = inv_sigma * x[i]
        for j in range(U.shape[1]):
            U[i, j] -= u * d[j]
            S[i, j] += s * d[j]


@inline_kernel
def momentum_row(a_i, d, W, V, i, lr, mu, nesterov):
    """v = mu v + g, W -= lr v (Nesterov: lr (g + mu v)) for row i, whose gradient is a_i d;
    returns W[i] . d with W before its step, taken in the same pass (against a pass of its
    own: MNIST 1.05x). Four rows per pass over d: 1.015x, not kept. MNIST's 128-to-64
    layer's W and V together (64 KB) overflow L1, so each sample's step of them runs at
    L2's pace: about a fifth of per-sample momentum's time."""
    acc = W.dtype.type(0.0)
    for j in range(W.shape[1]):
        w = W[i, j]
        acc += w * d[j]
        W[i, j], V[i, j] = momentum_update(w, a_i * d[j], V[i, j], lr, mu, nesterov)
    return acc


@inline_kernel
def backward_momentum(net, vel, codes, x, k0, ws, lr, mu, nesterov, rate, inv_sigma):
    """Backpropagate one sample's output deltas (in ``ws.d_a``) and take its momentum step:
    the lagged step of the rows of x's nonzero inputs of W_0 (rate = lr / (1 - mu)), every
    other weight and bias eagerly. net, vel: Flats of the parameters and of the velocities
    (W_0 and its velocity being U and S)."""
    n_layers = net.sizes.shape[0] - 1
    d_cur, d_next = ws.d_a, ws.d_b
    for l in range(n_layers - 1, -1, -1):
        W, V = layer_weight(net, l), layer_weight(vel, l)
        n_in, n_out = W.shape
        d = d_cur[:n_out]
        if l == 0:
            lagged_step(x, ws.input_index, k0, d, W, V, rate, inv_sigma)
        else:
            a = layer_row(ws, l - 1)
            if n_out == 1:  # a column: one loop LLVM vectorizes (bike sharing 1.11x)
                d_0 = d[0]
                for i in range(n_in):
                    w = W[i, 0]
                    d_next[i] = w * d_0
                    W[i, 0], V[i, 0] = momentum_update(w, a[i] * d_0, V[i, 0], lr, mu,
                                                       nesterov)
            else:
                for i in range(n_in):
                    d_next[i] = momentum_row(a[i], d, W, V, i, lr, mu, nesterov)
            backprop_activation(codes[l - 1], a, d_next[:n_in])
        momentum_step(layer_bias(net, l), d, layer_bias(vel, l), lr, mu, nesterov)
        d_cur, d_next = d_next, d_cur


@entry_kernel
def momentum_sample_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin,
                           end, lrs, mu, nesterov, fold_every, state, steps, losses, last_good,
                           last_state):
    """Per-sample momentum (Nesterov if ``nesterov``) with 0 < mu < 1 and no penalty over
    ``orders``, as ``train.sgd_sample_epochs``; state[0] holds the velocities (laid out like
    params)."""
    align_stack()  # (its spilled vectors on whole cache lines: see ``stack``)
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    k, n = orders.shape
    one = params.dtype.type(1.0)
    zero = params.dtype.type(0.0)
    # The per-sample loop takes borrowed views only (see ``borrow``).
    net = borrowed_flat(params, sizes, w_off, b_off)
    vel = borrowed_flat(state[0], sizes, w_off, b_off)
    U, S, b0 = layer_weight(net, 0), layer_weight(vel, 0), layer_bias(net, 0)
    X, T, codes, orders = borrowed(X), borrowed(T), borrowed(codes), borrowed(orders)
    owner = workspace(params, sizes, np.int64(1))  # (a literal 1: one more compilation)
    m = float(mu)
    for e in range(k):
        ws = borrowed_workspace(owner)  # (owner, used on every pass, outlives ws)
        lr = lrs[e]
        c = float(lr) * (m * m if nesterov else m) / (1.0 - m)
        rate = params.dtype.type(float(lr) / (1.0 - m))
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        add_scaled(S, -c, U)  # (W, v) -> (U, S) with sigma = 1
        sigma = 1.0
        for position in range(begin if e == 0 else 0, stop):
            i = orders[e, position]
            prefetch_ahead(X, T, orders, e, position, stop)
            x = X[i]
            k0 = nonzeros(x, ws.input_index)
            lagged_forward_row(x, ws.input_index, k0, U, S, params.dtype.type(c * sigma),
                               b0, layer_row(ws, 0), ws.d_b[:U.shape[1]])
            z = forward_hidden(net, codes, ws)
            total += output_loss(codes[n_layers - 1], loss_code, z, T[i], ws.d_a[:n_out], one)
            sigma *= m
            backward_momentum(net, vel, codes, x, k0, ws, lr, mu, nesterov, rate,
                              params.dtype.type(1.0 / sigma))
            if sigma < FOLD_BELOW:
                sigma = rescale(S, sigma)
            if (position + 1) % fold_every == 0 and position + 1 < stop:
                # As at a call's end and the next call's start: (U, S) -> (W, v) -> (U, S).
                rescale(S, sigma)
                add_scaled(S, c, U)
                add_scaled(S, -c, U)
                sigma = 1.0
        rescale(S, sigma)  # (U, S) -> (W, v): v = sigma S, W = U + c v
        add_scaled(S, c, U)
        status = end_epoch(params, state, steps, sizes, w_off, zero, zero, total, stop, n,
                           losses, e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
