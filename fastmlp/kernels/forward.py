"""Forward pass: z = a @ W + b, then the activation, layer by layer."""
from .activations import activate
from .buffers import bias, layer_block, weight
from .jit import kernel


@kernel
def nonzeros(a, index):
    """index[:k] <- the positions of a's nonzero entries, in order; returns k.

    Branch-free: a test per input would mispredict on image pixels more often than not.
    """
    k = 0
    for i in range(a.shape[0]):
        index[k] = i
        k += a[i] != 0
    return k


@kernel
def dense_forward_row(a, index, k, W, b, z):
    """z = a @ W + b for one row, summing over the k inputs ``index[:k]`` (a's nonzeros).

    W's rows are contiguous, so each input adds a scaled row of W.
    """
    n_out = W.shape[1]
    for j in range(n_out):
        z[j] = b[j]
    for t in range(k):
        i = index[t]
        a_i = a[i]
        w = W[i]
        for j in range(n_out):
            z[j] += a_i * w[j]


@kernel
def forward(params, sizes, w_off, b_off, codes, A0, work, offsets, index):
    """Run every layer on the block A0 ``(rows, n_in)``.

    Hidden layers' activations land in the workspace blocks; the output layer's block holds
    its pre-activations z, left for the loss (which applies the output activation). Returns
    that output block ``(rows, n_out)``. index: int64 scratch as long as the widest layer.
    """
    n_layers = sizes.shape[0] - 1
    rows = A0.shape[0]
    A = A0
    for l in range(n_layers):
        W = weight(params, sizes, w_off, l)
        b = bias(params, sizes, b_off, l)
        Z = layer_block(work, offsets, sizes, l, rows)
        for s in range(rows):
            k = nonzeros(A[s], index)
            dense_forward_row(A[s], index, k, W, b, Z[s])
            if l < n_layers - 1:
                activate(codes[l], Z[s])
        A = Z
    return A


@kernel
def forward_sample(params, sizes, w_off, b_off, codes, x, input_index, work, offsets, index):
    """``forward`` for one sample x ``(n_in,)``, keeping the list of its nonzero inputs in
    input_index for the update. Returns (output pre-activations ``(n_out,)``, that list's length).
    """
    n_layers = sizes.shape[0] - 1
    k0 = nonzeros(x, input_index)
    a = x
    for l in range(n_layers):
        z = layer_block(work, offsets, sizes, l, 1)[0]
        if l == 0:
            dense_forward_row(x, input_index, k0, weight(params, sizes, w_off, 0),
                              bias(params, sizes, b_off, 0), z)
        else:
            k = nonzeros(a, index)
            dense_forward_row(a, index, k, weight(params, sizes, w_off, l),
                              bias(params, sizes, b_off, l), z)
        if l < n_layers - 1:
            activate(codes[l], z)
        a = z
    return a, k0
