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


# What ``evaluate`` computes.
OUTPUTS = 0  # the output activations
LOSS = 1  # the mean loss
GRADIENT = 2  # the mean loss and its gradient
LOSS_AND_OUTPUTS = 3  # the mean loss, and the output activations as OUTPUTS gives them


@entry_kernel
def evaluate(params, sizes, w_off, b_off, codes, loss_code, X, T, what, out, grad):
    """The network on X ``(n, n_in)``, ``CHUNK`` rows at a time. If ``what`` is OUTPUTS,
    out ``(n, n_out)`` <- the output activations (returns 0); otherwise returns the mean loss
    (no penalty) against the targets T ``(n, n_out)``, and if it is GRADIENT, grad <- its
    gradient, laid out like params, or if LOSS_AND_OUTPUTS, out <- the output activations.

    (One kernel for the three: each kernel that Python calls links in the kernels it calls,
    ``forward``'s among them, and compiles them again; two took 0.5 s more.)
    """
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
        if what == GRADIENT:
            loss, _ = batch_gradient(net, codes, loss_code, A0, T, rows_index[start:start + rows],
                                     scale, ws, chunk_layers, net.W[0],
                                     params.dtype.type(1.0), params.dtype.type(0.0))
            total += loss
            add(chunk_grad, grad)
            continue
        Z, _ = forward(net, codes, A0, ws)
        if what == OUTPUTS:
            for s in range(rows):
                activate(codes[n_layers - 1], Z[s])
                copy(Z[s], out[start + s])
            continue
        D = delta_block(ws.d_a, rows, n_out)
        for s in range(rows):
            if what == LOSS_AND_OUTPUTS:  # (activated as for OUTPUTS: the same bits)
                copy(Z[s], out[start + s])
                activate(codes[n_layers - 1], out[start + s])
            total += output_loss(codes[n_layers - 1], loss_code, Z[s], T[start + s], D[s],
                                 scale)
    return total / n if what != OUTPUTS else 0.0
