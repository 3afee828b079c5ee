"""Whole-epoch SGD loops: one call trains every sample of ``order``, no Python in between."""
import numpy as np

from .backward import backward, backward_sgd
from .forward import forward, forward_sample
from .buffers import layers
from .jit import kernel, inline_kernel
from .loss import output_loss
from .penalty import add_penalty_gradient
from .update import sgd
from .workspace import delta_block, workspace


@kernel
def batch_gradient(net, codes, loss_code, A0, T, targets, scale, ws, grad):
    """grad <- scale * gradient of the summed loss of the block A0; returns that summed loss.

    net, grad: Layers of the parameters and of the gradient buffer.
    A0: ``(rows, n_in)``; T: all targets ``(n, n_out)``, of which row ``targets[s]`` belongs
    to A0's row s.
    """
    n_layers = len(net.W)
    rows = A0.shape[0]
    Z, sparse = forward(net, codes, A0, ws)
    n_out = Z.shape[1]
    D = delta_block(ws.d_a, rows, n_out)
    loss = 0.0
    for s in range(rows):
        loss += output_loss(codes[n_layers - 1], loss_code, Z[s], T[targets[s]], D[s], scale)
    backward(net, codes, A0, sparse, ws, D, grad)
    return loss


@kernel
def sgd_epoch_samples(params, sizes, w_off, b_off, codes, loss_code, X, T, order, lr, l1, l2):
    """Per-sample SGD over the samples ``order`` (int64 indices into X and T), in that order.

    X: ``(n, n_in)``, T: ``(n, n_out)``, both of params' dtype. lr, l1, l2: scalars of that
    dtype. Returns the sum of the per-sample losses, each taken before its step.
    """
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    one = params.dtype.type(1.0)
    net = layers(params, sizes, w_off, b_off)
    ws = workspace(params, sizes, 1)
    total = 0.0
    for k in range(order.shape[0]):
        i = order[k]
        z, k0 = forward_sample(net, codes, X[i], ws)
        total += output_loss(codes[n_layers - 1], loss_code, z, T[i], ws.d_a[:n_out], one)
        backward_sgd(net, codes, X[i], k0, ws, lr, l1, l2)
    return total


@kernel
def sgd_epoch_batches(params, sizes, w_off, b_off, codes, loss_code, X, T, order, batch_size,
                      lr, l1, l2):
    """Minibatch SGD over the samples ``order``, taken ``batch_size`` at a time.

    Each step is params -= lr * (mean gradient of the batch + penalty gradient); the last
    batch may be smaller. Returns the sum of the per-sample losses, each taken before its step.
    """
    n = order.shape[0]
    capacity = min(batch_size, n)
    ws = workspace(params, sizes, capacity)
    A0 = np.empty((capacity, sizes[0]), params.dtype)
    grad = np.empty_like(params)
    net = layers(params, sizes, w_off, b_off)
    grad_layers = layers(grad, sizes, w_off, b_off)
    one = params.dtype.type(1.0)
    total = 0.0
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        batch = order[start:start + rows]
        for s in range(rows):
            A0[s] = X[batch[s]]
        total += batch_gradient(net, codes, loss_code, A0[:rows], T, batch,
                                one / params.dtype.type(rows), ws, grad_layers)
        add_penalty_gradient(params, grad, sizes, w_off, l1, l2)
        sgd(params, grad, lr)
    return total
