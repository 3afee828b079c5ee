"""Exact gradients: of a block of rows (each minibatch's), and of a whole dataset."""
import numpy as np

from .arrays import add
from .backward import backward
from .buffers import layers
from .forward import forward
from .jit import inline_kernel
from .loss import output_loss
from .workspace import delta_block, workspace

# Rows of a dataset taken at a time: its gradient's scratch is sized by them, not by the data.
CHUNK = 256


@inline_kernel
def batch_gradient(net, codes, loss_code, A0, T, targets, scale, ws, grad, first, keep, rate):
    """grad <- scale * gradient of the summed loss of the block A0; returns that summed loss
    and whether ``first`` took the first layer's step instead (see ``backward``; rate 0:
    never).

    net, grad: Layers of the parameters and of the gradient buffer.
    A0: ``(rows, n_in)``; T: all targets ``(n, n_out)``, of which row ``targets[s]`` belongs
    to A0's row s.

    (Inlined, with ``backward``, into ``train.batch_epochs``, the one kernel that Python
    calls for them, at both its call sites: as kernels of their own, each was optimized and
    compiled alone and then again with its caller. Two inlined copies still compile about a
    second quicker.)
    """
    n_layers = len(net.W)
    rows = A0.shape[0]
    Z, sparse = forward(net, codes, A0, ws)
    n_out = Z.shape[1]
    D = delta_block(ws.d_a, rows, n_out)
    loss = 0.0
    for s in range(rows):
        loss += output_loss(codes[n_layers - 1], loss_code, Z[s], T[targets[s]], D[s], scale)
    stepped = backward(net, codes, A0, sparse, ws, D, grad, first, keep, rate)
    return loss, stepped


@inline_kernel
def dataset_gradient(params, sizes, w_off, b_off, codes, loss_code, X, T, grad):
    """grad <- the gradient of the mean loss (no penalty) over X ``(n, n_in)`` against the
    targets T ``(n, n_out)``, laid out like params; returns that mean loss. ``CHUNK`` rows at
    a time.

    (Inlined into ``train.batch_epochs``, whose machine code has ``batch_gradient``'s: each
    kernel that Python calls links in the kernels it calls and compiles them again, and a
    kernel of its own would add about a second to the minibatch kernels' compilation.)
    """
    n = X.shape[0]
    one = params.dtype.type(1.0)
    ws = workspace(params, sizes, min(CHUNK, n))
    rows_index = np.arange(n)
    chunk_grad = np.empty_like(params)
    net = layers(params, sizes, w_off, b_off)
    chunk_layers = layers(chunk_grad, sizes, w_off, b_off)
    grad[:] = 0
    total = 0.0
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        loss, _ = batch_gradient(net, codes, loss_code, X[start:start + rows], T,
                                 rows_index[start:start + rows], one / params.dtype.type(n),
                                 ws, chunk_layers, net.W[0], one, params.dtype.type(0.0))
        total += loss
        add(chunk_grad, grad)
    return total / n
