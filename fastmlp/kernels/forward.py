"""Forward pass: z = a @ W + b, then the activation, layer by layer."""
from numba import njit

from .activations import activate
from .buffers import bias, layer_block, weight


@njit(cache=True)
def dense_forward(A, W, b, Z):
    """Z = A @ W + b for a block of rows.

    A: ``(rows, n_in)``, W: ``(n_in, n_out)``, b: ``(n_out,)``, Z: ``(rows, n_out)`` written.
    W's rows are contiguous, so each input adds a scaled row of W; zero inputs add nothing
    and are skipped (most MNIST pixels, every inactive relu unit).
    """
    rows, n_in = A.shape
    n_out = W.shape[1]
    for s in range(rows):
        z = Z[s]
        for j in range(n_out):
            z[j] = b[j]
        for i in range(n_in):
            a = A[s, i]
            if a != 0:
                w = W[i]
                for j in range(n_out):
                    z[j] += a * w[j]


@njit(cache=True)
def forward(params, sizes, w_off, b_off, codes, A0, work, offsets):
    """Run every layer on the block A0 ``(rows, n_in)``.

    Hidden layers' activations land in the workspace blocks; the output layer's block holds
    its pre-activations z, left for the loss (which applies the output activation). Returns
    that output block ``(rows, n_out)``.
    """
    n_layers = sizes.shape[0] - 1
    rows = A0.shape[0]
    A = A0
    for l in range(n_layers):
        Z = layer_block(work, offsets, sizes, l, rows)
        dense_forward(A, weight(params, sizes, w_off, l), bias(params, sizes, b_off, l), Z)
        if l < n_layers - 1:
            for s in range(rows):
                activate(codes[l], Z[s])
        A = Z
    return A
