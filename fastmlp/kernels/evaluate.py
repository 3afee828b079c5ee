"""Outputs and loss over a whole dataset, in chunks of rows. (Its gradient: see
``gradient.dataset_gradient``.)"""
from .arrays import copy
from .activations import activate
from .forward import forward
from .buffers import layers
from .gradient import CHUNK
from .jit import entry_kernel
from .loss import output_loss
from .workspace import delta_block, workspace


# What ``evaluate`` computes.
OUTPUTS = 0  # the output activations
LOSS = 1  # the mean loss
LOSS_AND_OUTPUTS = 2  # the mean loss, and the output activations as OUTPUTS gives them


@entry_kernel
def evaluate(params, sizes, w_off, b_off, codes, loss_code, X, T, what, out):
    """The network on X ``(n, n_in)``, ``CHUNK`` rows at a time. If ``what`` is OUTPUTS,
    out ``(n, n_out)`` <- the output activations (returns 0); otherwise returns the mean loss
    (no penalty) against the targets T ``(n, n_out)``, and if it is LOSS_AND_OUTPUTS, out <-
    the output activations too.

    (One kernel for the three: each kernel that Python calls links in the kernels it calls,
    ``forward``'s among them, and compiles them again; two took 0.5 s more.)
    """
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    n = X.shape[0]
    ws = workspace(params, sizes, min(CHUNK, n))
    scale = params.dtype.type(1.0) / params.dtype.type(n)
    net = layers(params, sizes, w_off, b_off)
    total = 0.0
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        Z, _ = forward(net, codes, X[start:start + rows], ws)
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
