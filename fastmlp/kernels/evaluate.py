"""Outputs, loss and exact gradient over a whole dataset, in blocks of rows."""
import numpy as np

from .activations import activate
from .forward import forward
from .jit import kernel
from .loss import output_loss
from .train import accumulate_gradient, workspace

BLOCK = 256


@kernel
def outputs(params, sizes, w_off, b_off, codes, X, out):
    """out <- the network's output activations for X ``(n, n_in)``; out: ``(n, n_out)``."""
    n_layers = sizes.shape[0] - 1
    n = X.shape[0]
    work, offsets, _, _, index = workspace(params, sizes, min(BLOCK, n))
    for start in range(0, n, BLOCK):
        rows = min(BLOCK, n - start)
        Z = forward(params, sizes, w_off, b_off, codes, X[start:start + rows], work, offsets,
                    index)
        for s in range(rows):
            activate(codes[n_layers - 1], Z[s])
            out[start + s] = Z[s]


@kernel
def loss_and_gradient(params, sizes, w_off, b_off, codes, loss_code, X, T, grad, want_grad):
    """Mean loss over X (no penalty); if want_grad, grad <- its gradient, laid out like params."""
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    n = X.shape[0]
    work, offsets, d_a, d_b, index = workspace(params, sizes, min(BLOCK, n))
    scale = params.dtype.type(1.0) / params.dtype.type(n)
    rows_index = np.arange(n)
    grad[:] = 0
    total = 0.0
    for start in range(0, n, BLOCK):
        rows = min(BLOCK, n - start)
        A0 = X[start:start + rows]
        if want_grad:
            total += accumulate_gradient(params, sizes, w_off, b_off, codes, loss_code, A0, T,
                                         rows_index[start:start + rows], scale,
                                         work, offsets, d_a, d_b, index, grad)
        else:
            Z = forward(params, sizes, w_off, b_off, codes, A0, work, offsets, index)
            for s in range(rows):
                total += output_loss(codes[n_layers - 1], loss_code, Z[s], T[start + s],
                                     d_a[:n_out], scale)
    return total / n
