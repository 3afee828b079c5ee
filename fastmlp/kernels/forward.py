"""Forward pass: z = a @ W + b, then the activation, layer by layer.

A block of rows goes through BLAS (``np.dot``) layer by layer, except that a sparse first
layer input (most MNIST pixels are 0) adds only the rows of W its nonzero inputs select.
One sample goes row by row, skipping zero inputs in every layer.
"""
import numpy as np
from .activations import activate
from .buffers import layer_bias, layer_weight
from .compact import compact_vector, position_table
from .jit import kernel, inline_kernel
from .vectors import narrow_rows_sum, sums_in_vectors
from .workspace import layer_block, layer_row

# Below this fraction of nonzero inputs, skipping zeros beats a dense matrix product.
SPARSE_BELOW = 0.3


@inline_kernel
def nonzeros(a, index):
    """index[:k] <- the positions of a's nonzero entries, in order; returns k.

    A vector of entries at a time (see ``compact``), the last few one by one, branch-free: a
    test per entry would mispredict on image pixels more often than not.
    """
    table = position_table(a)
    n_lanes = table.shape[1]
    n = a.shape[0]
    k = 0
    i = 0
    while i + n_lanes <= n:
        k += compact_vector(a, i, index, k, table)
        i += n_lanes
    for i in range(i, n):
        index[k] = i
        k += a[i] != 0
    return k


@inline_kernel
def dense_forward_row(a, index, k, W, b, z, scale):
    """z = scale * (a @ W) + b for one row, summing over the k inputs ``index[:k]`` (a's
    nonzeros). (scale: see ``train.sgd_sample_epochs``; 1 elsewhere.)

    W's rows are contiguous, so each input adds a scaled row of W.
    """
    n_out = W.shape[1]
    for j in range(n_out):
        z[j] = 0
    # Four inputs per pass over z: a quarter of the loads and stores of z.
    t = 0
    while t + 4 <= k:
        i0, i1, i2, i3 = index[t], index[t + 1], index[t + 2], index[t + 3]
        a0, a1, a2, a3 = a[i0], a[i1], a[i2], a[i3]
        for j in range(n_out):
            z[j] += a0 * W[i0, j] + a1 * W[i1, j] + a2 * W[i2, j] + a3 * W[i3, j]
        t += 4
    for t in range(t, k):
        i = index[t]
        a_i = a[i]
        for j in range(n_out):
            z[j] += a_i * W[i, j]
    for j in range(n_out):
        z[j] = b[j] + scale * z[j]


@inline_kernel
def sample_forward_row(a, index, k, W, b, z, scale):
    """``dense_forward_row`` for one sample: rows of W up to a few vectors wide as vectors
    in registers (``vectors``: digits per sample 1.16-1.34x, MNIST's 64-wide and 10-wide
    layers 1.02-1.05x), wider ones as LLVM's loops."""
    if W.shape[1] == 1:
        # One output (a regression's): a dot product with W's column over every input, zero
        # or not, which LLVM takes as vectors (per sample: bike sharing 1.16x, XOR 1.16x).
        acc = W.dtype.type(0.0)
        for i in range(W.shape[0]):
            acc += a[i] * W[i, 0]
        z[0] = b[0] + scale * acc
    elif sums_in_vectors(W):
        narrow_rows_sum(a, index, k, W, z)
        for j in range(z.shape[0]):
            z[j] = b[j] + scale * z[j]
    else:
        dense_forward_row(a, index, k, W, b, z, scale)


@kernel
def input_nonzeros(A, ptr, index):
    """The nonzero positions of every row of A: row s's are ``index[ptr[s]:ptr[s + 1]]``.
    Returns how many there are."""
    nnz = 0
    for s in range(A.shape[0]):
        ptr[s] = nnz
        nnz += nonzeros(A[s], index[nnz:])
    ptr[A.shape[0]] = nnz
    return nnz


@kernel
def sparse_forward(A, ptr, index, W, b, Z):
    """Z = A @ W + b over A's nonzeros only, a row's sums in registers as one sample's are
    (``sample_forward_row``, against LLVM's loop: MNIST batch 32 1.12x, batch 128 1.09x)."""
    one = W.dtype.type(1.0)
    for s in range(A.shape[0]):
        sample_forward_row(A[s], index[ptr[s]:ptr[s + 1]], ptr[s + 1] - ptr[s], W, b, Z[s], one)


@kernel
def gemm_forward(A, W, b, Z):
    """Z = A @ W + b with BLAS."""
    np.dot(A, W, Z)
    for s in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[s, j] += b[j]


@kernel
def forward(net, codes, A0, ws):
    """Run every layer of ``net`` (Layers) on the block A0 ``(rows, n_in)``.

    Hidden layers' activations land in the workspace's blocks; the output layer's block holds
    its pre-activations z, left for the loss (which applies the output activation). Returns
    that block ``(rows, n_out)`` and whether the input was taken as sparse (its nonzero
    positions are then in ``ws.ptr``/``ws.input_index`` for the backward pass).
    """
    rows = A0.shape[0]
    Z = layer_block(ws, np.int64(0), rows)  # (a literal 0: one more compilation)
    sparse = first_layer_forward(A0, net.W[0], net.b[0], Z, ws.ptr, ws.input_index)
    return forward_layers(net, codes, Z, ws, 1), sparse


@kernel
def first_layer_forward(A0, W, b, Z, ptr, index):
    """Z = A0 @ W + b; returns whether A0 was taken as sparse (then its nonzero positions are
    in ptr and index, as ``input_nonzeros`` lists them)."""
    # (Listing the nonzeros costs little more than counting them.)
    if input_nonzeros(A0, ptr, index) < SPARSE_BELOW * A0.size:
        sparse_forward(A0, ptr, index, W, b, Z)
        return True
    gemm_forward(A0, W, b, Z)
    return False


@kernel
def forward_layers(net, codes, Z, ws, first):
    """Layers ``first``, ``first + 1``, ... of ``net`` (see ``forward``), given the
    pre-activations Z ``(rows, width)`` of layer first - 1 in its workspace block. Returns the
    output layer's pre-activations."""
    n_layers = len(net.W)
    rows = Z.shape[0]
    for l in range(first, n_layers):
        for s in range(rows):
            activate(codes[l - 1], Z[s])
        A = Z
        Z = layer_block(ws, l, rows)
        gemm_forward(A, net.W[l], net.b[l], Z)
    return Z


@inline_kernel
def forward_sample(net, codes, x, ws, scale0, first):
    """``forward`` for one sample x ``(n_in,)``, the first layer's weights being scale0 * W_0
    (see ``train.sgd_sample_epochs``), from layer ``first``: 0, or 1 when layer 0's
    pre-activations are in ``layer_row(ws, 0)`` already (see ``deferred``). net: a Flat of
    the parameters. Lists x's k0 nonzero inputs in ``ws.input_index[:k0]`` (see
    ``nonzeros``; from layer 0); returns the output pre-activations ``(n_out,)`` and k0.

    Every layer through one loop: one inlined copy of each kernel it calls (with a copy for
    the first layer and one for the others, per-sample SGD compiled in 8.9 s, not 7.7 s)."""
    n_layers = net.sizes.shape[0] - 1
    a, index, scale, k0 = x, ws.input_index, scale0, 0
    for l in range(first, n_layers):
        if l > 0:
            a = layer_row(ws, l - 1)
            activate(codes[l - 1], a)
            index, scale = ws.index, x.dtype.type(1.0)
        k = nonzeros(a, index)
        if l == 0:
            k0 = k
        sample_forward_row(a, index, k, layer_weight(net, l), layer_bias(net, l),
                           layer_row(ws, l), scale)
    return layer_row(ws, n_layers - 1), k0


@inline_kernel
def forward_hidden(net, codes, ws):
    """``forward_sample`` from the second layer on, once the first layer's pre-activations
    are in ``layer_row(ws, 0)``."""
    n_layers = net.sizes.shape[0] - 1
    a = layer_row(ws, 0)
    for l in range(1, n_layers):
        activate(codes[l - 1], a)
        z = layer_row(ws, l)
        k = nonzeros(a, ws.index)
        sample_forward_row(a, ws.index, k, layer_weight(net, l), layer_bias(net, l), z,
                           a.dtype.type(1.0))
        a = z
    return a
