"""Per-sample SGD with momentum or Nesterov momentum, fused into the backward pass, with the
first layer's rows brought up to date lazily.

A row of W_0 whose input is zero gets no gradient, so a step only decays its velocity and
moves the row along it: after k such steps v <- mu^k v and W <- W - lr G_k v, where
G_k = mu + mu^2 + ... + mu^k (Nesterov: W <- W - lr mu G_k v). Each row remembers the step
it was last brought up to date; a sample first catches up the rows of its nonzero inputs,
then steps as ``update.momentum_step`` does, touching only those rows of W_0 (every row of
the other layers). All rows catch up at the end of every epoch and of every call, so between
calls the parameters and velocities are those of the eager rule, up to rounding. (Adam has no
such closed form: per sample it updates every parameter.)
"""
import numpy as np

from .activations import backprop_activation
from .backward import row_dot
from .buffers import layers
from .forward import forward_sample, nonzeros
from .jit import entry_kernel, inline_kernel
from .loss import output_loss
from .train import DIVERGED, GOING_ON, end_epoch
from .update import momentum_step
from .workspace import layer_row, workspace


@inline_kernel
def catch_up(W, V, i, k, lr, mu, nesterov):
    """Row i of W and of its velocity V after k steps without gradient."""
    if k == 0:
        return
    m = float(mu)
    decay = m ** k
    moved = float(k) if m == 1.0 else m * (1.0 - decay) / (1.0 - m)
    if nesterov:
        moved *= m
    step = W.dtype.type(float(lr) * moved)
    shrink = W.dtype.type(decay)
    for j in range(W.shape[1]):
        W[i, j] -= step * V[i, j]
        V[i, j] *= shrink


@inline_kernel
def momentum_row(a_i, d, W, V, i, lr, mu, nesterov):
    """v = mu v + g, W -= lr v (Nesterov: lr (g + mu v)) for row i, whose gradient is a_i d."""
    for j in range(W.shape[1]):
        g = a_i * d[j]
        V[i, j] = mu * V[i, j] + g
        if nesterov:
            W[i, j] -= lr * (g + mu * V[i, j])
        else:
            W[i, j] -= lr * V[i, j]


@inline_kernel
def backward_momentum(net, vel, codes, x, k0, ws, lr, mu, nesterov):
    """Backpropagate one sample's output deltas (in ``ws.d_a``) and take its momentum step:
    every row of the hidden layers' W, the rows of x's nonzero inputs of W_0, every bias.
    net, vel: Layers of the parameters and of the velocities."""
    n_layers = len(net.W)
    d_cur, d_next = ws.d_a, ws.d_b
    for l in range(n_layers - 1, -1, -1):
        W, V = net.W[l], vel.W[l]
        n_in, n_out = W.shape
        d = d_cur[:n_out]
        if l == 0:
            for t in range(k0):
                i = ws.input_index[t]
                momentum_row(x[i], d, W, V, i, lr, mu, nesterov)
        else:
            a = layer_row(ws, l - 1)
            for i in range(n_in):
                d_next[i] = row_dot(W, i, d)  # with W before its step
                momentum_row(a[i], d, W, V, i, lr, mu, nesterov)
            backprop_activation(codes[l - 1], a, d_next[:n_in])
        momentum_step(net.b[l], d, vel.b[l], lr, mu, nesterov)
        d_cur, d_next = d_next, d_cur


@entry_kernel
def momentum_sample_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin,
                           end, lrs, mu, nesterov, state, steps, losses, last_good, last_state):
    """Per-sample momentum (Nesterov if ``nesterov``) without a penalty over ``orders``, as
    ``train.sgd_sample_epochs``; state[0] holds the velocities (laid out like params)."""
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    k, n = orders.shape
    one = params.dtype.type(1.0)
    zero = params.dtype.type(0.0)
    net = layers(params, sizes, w_off, b_off)
    vel = layers(state[0], sizes, w_off, b_off)
    W0, V0 = net.W[0], vel.W[0]
    ws = workspace(params, sizes, 1)
    last = np.zeros(sizes[0], np.int64)  # the step each row of W_0 is up to date with
    for e in range(k):
        lr = lrs[e]
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        last[:] = 0
        t = 0
        for position in range(begin if e == 0 else 0, stop):
            i = orders[e, position]
            x = X[i]
            t += 1
            k0 = nonzeros(x, ws.input_index)
            for q in range(k0):
                r = ws.input_index[q]
                catch_up(W0, V0, r, t - 1 - last[r], lr, mu, nesterov)
                last[r] = t
            z = forward_sample(net, codes, x, k0, ws, one)
            total += output_loss(codes[n_layers - 1], loss_code, z, T[i], ws.d_a[:n_out], one)
            backward_momentum(net, vel, codes, x, k0, ws, lr, mu, nesterov)
        for r in range(sizes[0]):
            catch_up(W0, V0, r, t - last[r], lr, mu, nesterov)
        status = end_epoch(params, state, steps, sizes, w_off, zero, zero, total, stop, n,
                           losses, e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
