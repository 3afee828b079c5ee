"""Outputs, loss and exact gradient over a whole dataset, in chunks of rows."""
import numpy as np

from .arrays import add, copy
from .activations import activate
from .forward import forward
from .buffers import layers
from .jit import entry_kernel
from .loss import output_loss
from .train import batch_gradient
from .workspace import delta_block, workspace

CHUNK = 256


@entry_kernel
def outputs(params, sizes, w_off, b_off, codes, X, out):
    """out <- the network's output activations for X ``(n, n_in)``; out: ``(n, n_out)``."""
    n_layers = sizes.shape[0] - 1
    n = X.shape[0]
    net = layers(params, sizes, w_off, b_off)
    ws = workspace(params, sizes, min(CHUNK, n))
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        Z, _ = forward(net, codes, X[start:start + rows], ws)
        for s in range(rows):
            activate(codes[n_layers - 1], Z[s])
            copy(Z[s], out[start + s])


@entry_kernel
def loss_and_gradient(params, sizes, w_off, b_off, codes, loss_code, X, T, grad, want_grad):
    """Mean loss over X (no penalty); if want_grad, grad <- its gradient, laid out like params."""
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    n = X.shape[0]
    ws = workspace(params, sizes, min(CHUNK, n))
    scale = params.dtype.type(1.0) / params.dtype.type(n)
    rows_index = np.arange(n)
    chunk_grad = np.empty_like(params)
    net = layers(params, sizes, w_off, b_off)
    chunk_layers = layers(chunk_grad, sizes, w_off, b_off)
    grad[:] = 0
    total = 0.0
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        A0 = X[start:start + rows]
        if want_grad:
            loss, _ = batch_gradient(net, codes, loss_code, A0, T, rows_index[start:start + rows],
                                     scale, ws, chunk_layers, params.dtype.type(0.0))
            total += loss
            add(chunk_grad, grad)
        else:
            Z, _ = forward(net, codes, A0, ws)
            D = delta_block(ws.d_a, rows, n_out)
            for s in range(rows):
                total += output_loss(codes[n_layers - 1], loss_code, Z[s], T[start + s], D[s],
                                     scale)
    return total / n
