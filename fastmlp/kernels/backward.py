"""Backward pass: deltas from the output to the input, gradients into a flat buffer.

For a block of rows: dW = A^T D, db = column sums of D, D_prev = (D @ W^T) * f'(A), with
BLAS, except that a sparse first-layer input adds only its nonzero inputs' rows to dW. For one
sample the SGD step is fused into the pass (see ``hidden_layer_sgd``).
"""
from pathlib import Path

import numpy as np

from .activations import backprop_activation
from .arrays import rescale
from .borrow import borrowed
from .buffers import layer_bias, layer_weight
from .compact import lowest_set_bit
from .jit import kernel, inline_kernel
from .vectors import blocks_in_vectors, is_narrow, narrow_block_step, narrow_width, \
    row_steps_in_registers, steps_in_vectors, steps_with_tails, whole_vector_block_step, \
    whole_vector_row_steps, whole_vector_rows_step
from .workspace import delta_block, layer_block, layer_row

# Rows at least this wide take their per-sample steps four at a time (``sgd_nonzero_rows``).
FOUR_ROWS_FROM = 64


def l1d_bytes(caches: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int | None:
    """The size of a core's L1 data cache, from Linux's sysfs folder ``caches`` (CPU 0's), or
    None where it is not known."""
    for index in sorted(caches.glob("index*")):
        try:
            level, kind, size = ((index / name).read_text().strip()
                                 for name in ("level", "type", "size"))
            if level == "1" and kind == "Data" and size.endswith("K"):
                return int(size[:-1]) * 1024
        except (OSError, ValueError):
            continue
    return None


# A block's sparse first-layer step goes through W a chunk of rows at a time, every sample's
# rows in the chunk before the next chunk's: the chunk stays in L1 while the samples step it,
# so each row comes from L2 once per block instead of once per sample that uses it. On an
# Intel Xeon (L1d 48 KB), MNIST against sample by sample: batch 128 1.12x, batch 32 1.11x,
# batch 8 1.08x; chunks of 16 KB stepped 0.85x as fast as these, of 40 KB as fast. Where L1d
# is smaller, a chunk and the batch's deltas do not stay in it: on AMD's Zen 4 (L1d 32 KB),
# against 32 KB chunks, the whole of W at once (one chunk) trained MNIST batch 32 1.047x and
# batch 128 1.065x as fast, chunks of 16 KB 0.95x; the same bits either way. Measured on those
# two machines only. (Frozen into the compiled kernels, which Numba caches per CPU model.)
# Where W is stepped whole, rows of whole vectors now step row by row (``step_by_rows``).
WHOLE = 1 << 62  # (a chunk larger than any W)
CHUNK_BYTES = 32768 if (l1d_bytes() or 48 * 1024) >= 48 * 1024 else WHOLE


@inline_kernel
def chunk_rows(W):
    """How many rows of W make a chunk (at least one)."""
    return max(1, CHUNK_BYTES // (W.shape[1] * W.itemsize))


@inline_kernel
def chunk_end(index, t, end, stop):
    """The first position from t (up to end) of the sorted list ``index`` at or after row
    stop."""
    while t < end and index[t] < stop:
        t += 1
    return t


@kernel
def sparse_weight_gradient(A, ptr, index, D, dW):
    """dW = A^T D over A's nonzeros (row s's positions are ``index[ptr[s]:ptr[s + 1]]``):
    each nonzero a_si adds a_si * D[s] to row i of dW, samples in order; as a step of rate -1
    from zero (``sparse_sgd_step``: W - (-a_si) D[s] is W + a_si D[s], to the bit)."""
    for i in range(dW.shape[0]):
        for j in range(dW.shape[1]):
            dW[i, j] = 0
    sparse_sgd_step(A, ptr, index, D, dW, dW.dtype.type(-1.0))


@kernel
def column_sums(D, out):
    out[:] = 0
    for s in range(D.shape[0]):
        for j in range(D.shape[1]):
            out[j] += D[s, j]


@kernel
def sparse_sgd_step(A, ptr, index, D, W, lr):
    """W -= lr * A^T D over A's nonzeros: the SGD step of a first layer whose gradient is not
    needed whole, without a gradient buffer to zero, fill and read (W and dW together
    overflow L2 on MNIST). Each row takes its steps in the samples' order, as sample by
    sample would: the same bits either way. Where W is not stepped in chunks (see
    ``CHUNK_BYTES``) and its rows fit in registers (``row_steps_in_registers``), row by row
    (``step_by_rows``); otherwise a chunk of W's rows at a time, every sample's rows in the
    chunk, in order, before the next chunk's."""
    if CHUNK_BYTES == WHOLE and row_steps_in_registers(W):
        step_by_rows(A, ptr, index, D, W, lr)
    else:
        step_in_chunks(A, ptr, index, D, W, lr, chunk_rows(W))


# ``step_by_rows`` takes up to this many samples at a time: a bit each in a word per row.
# (It runs where W is stepped whole: measured on Zen 4 only, whose L1d is 32 KB.)
BLOCK_SAMPLES = 64


@inline_kernel
def step_by_rows(A, ptr, index, D, W, lr):
    """``sparse_sgd_step`` row by row, for rows that fit in registers
    (``row_steps_in_registers``). For each block of up to BLOCK_SAMPLES samples, a bit per
    sample in a word per row of W says which of them step that row; then each such row is
    loaded once, takes their steps in the samples' order in registers, and is stored once
    (``whole_vector_row_steps``), where sample by sample it was loaded and stored for every
    step. On Zen 4, which stores 32 bytes a cycle, a 512-byte row's eight vector stores
    bounded each step. Side by side on MNIST: batch 128 1.06-1.10x (the step alone 1.30x),
    batch 32 1.06-1.09x, float64 batch 128 1.05-1.12x, momentum 1.07-1.08x, two threads
    1.05-1.08x; digits batch 32 1.0x."""
    rows = A.shape[0]
    masks = np.empty(W.shape[0], np.uint64)
    samples = np.empty(BLOCK_SAMPLES, np.int64)
    coefs = np.empty(BLOCK_SAMPLES, W.dtype)
    for first in range(0, rows, BLOCK_SAMPLES):
        masks[:] = 0
        for s in range(min(BLOCK_SAMPLES, rows - first)):
            bit = np.uint64(1) << np.uint64(s)
            for t in range(ptr[first + s], ptr[first + s + 1]):
                masks[index[t]] |= bit
        for i in range(W.shape[0]):
            mask, k = masks[i], 0
            while mask != 0:
                s = first + lowest_set_bit(mask)
                mask &= mask - np.uint64(1)
                samples[k], coefs[k] = s, lr * A[s, i]
                k += 1
            if k > 0:
                whole_vector_row_steps(W, i, samples, coefs, k, D)


@inline_kernel
def step_in_chunks(A, ptr, index, D, W, lr, step):
    """``sparse_sgd_step`` in chunks of ``step`` rows of W: the same bits for any step."""
    rows = A.shape[0]
    cursor = ptr[:rows].copy()  # each sample's first row not yet stepped
    # Borrowed (see ``borrow``): a chunk's views of A, index and D cost no atomic operations.
    A, index, D, W = borrowed(A), borrowed(index), borrowed(D), borrowed(W)
    for first in range(0, W.shape[0], step):
        for s in range(rows):
            t = cursor[s]
            end = chunk_end(index, t, ptr[s + 1], first + step)
            step_rows(A[s], index[t:end], end - t, W, D[s], lr)
            cursor[s] = end


@inline_kernel
def step_rows(a, index, k, W, d, lr):
    """W[i] -= (lr a[i]) d for the k rows ``index[:k]``: rows of whole vectors through
    ``whole_vector_rows_step``, without tails (in chunks, against the loop below: float64
    MNIST batch 32 1.13x, batch 128 1.1x; a batch's whole rows at once, float64 ran 0.96x
    with it), others four per pass (a quarter of the loads of d, and of the loops' set-up;
    one by one made bike's 20-wide batches 0.95x as fast)."""
    if steps_in_vectors(W):
        whole_vector_rows_step(a, index, k, W, d, lr, False, False)
        return
    u = 0
    while u + 4 <= k:
        i0, i1, i2, i3 = index[u], index[u + 1], index[u + 2], index[u + 3]
        c0, c1, c2, c3 = lr * a[i0], lr * a[i1], lr * a[i2], lr * a[i3]
        for j in range(W.shape[1]):
            W[i0, j] -= c0 * d[j]
            W[i1, j] -= c1 * d[j]
            W[i2, j] -= c2 * d[j]
            W[i3, j] -= c3 * d[j]
        u += 4
    for u in range(u, k):
        i = index[u]
        c = lr * a[i]
        for j in range(W.shape[1]):
            W[i, j] -= c * d[j]


@inline_kernel
def backward(net, codes, A0, sparse, ws, d_out, grad, first, keep, rate):
    """grad (Layers of the gradient buffer) <- the gradient of ``net`` whose output deltas are
    ``d_out`` ``(rows, n_out)``; except that if rate is not 0 and the input is sparse, grad.W[0]
    is left as it was and ``first`` (a matrix shaped like W_0) takes the step
    ``first <- keep first - rate dW_0`` over the rows of nonzero inputs (``sparse_sgd_step``;
    keep 1: no other row changes). Plain SGD's step of W_0 is (W_0, 1, lr); momentum's
    velocity v <- mu v + dW_0 is (V_0, mu, -1). Returns whether ``first`` stepped.

    A0: ``(rows, n_in)`` the inputs; the workspace holds every hidden layer's activations from
    ``forward`` (and A0's nonzero positions if ``sparse``). d_out must be ``ws.d_a``'s start;
    both delta buffers are overwritten.
    """
    D = hidden_backward(net, codes, ws, d_out, grad)
    dW = grad.W[0]
    if sparse and rate != 0:
        if keep != 1:
            rescale(first, np.float64(keep))  # (float64, as every other caller's)
        sparse_sgd_step(A0, ws.ptr, ws.input_index, D, first, rate)
    elif sparse:
        sparse_weight_gradient(A0, ws.ptr, ws.input_index, D, dW)
    else:
        np.dot(A0.T, D, dW)
    column_sums(D, grad.b[0])
    return sparse and rate != 0


@kernel
def hidden_backward(net, codes, ws, d_out, grad):
    """``backward`` down to the first layer: grad's layers above it <- their gradients;
    returns the first layer's deltas ``(rows, n_out of W_0)``, in a delta buffer."""
    n_layers = len(net.W)
    rows = d_out.shape[0]
    D = d_out
    in_a = True  # D lives in ws.d_a; the next deltas go to the other buffer
    for l in range(n_layers - 1, 0, -1):
        W, dW = net.W[l], grad.W[l]
        A = layer_block(ws, l - 1, rows)
        np.dot(A.T, D, dW)
        column_sums(D, grad.b[l])
        D_prev = delta_block(ws.d_b if in_a else ws.d_a, rows, W.shape[0])
        np.dot(D, W.T, D_prev)
        for s in range(rows):
            backprop_activation(codes[l - 1], A[s], D_prev[s])
        in_a = not in_a
        D = D_prev
    return D


@inline_kernel
def row_dot(W, i, d):
    """W[i] . d"""
    acc = W.dtype.type(0.0)
    for j in range(W.shape[1]):
        acc += W[i, j] * d[j]
    return acc


@inline_kernel
def four_row_dots(W, i, d):
    """W[i + r] . d for r = 0..3, in one pass over d: the latencies of the four sums (a
    vector's lanes added up at the end) overlap."""
    acc0 = W.dtype.type(0.0)
    acc1 = W.dtype.type(0.0)
    acc2 = W.dtype.type(0.0)
    acc3 = W.dtype.type(0.0)
    for j in range(W.shape[1]):
        acc0 += W[i, j] * d[j]
        acc1 += W[i + 1, j] * d[j]
        acc2 += W[i + 2, j] * d[j]
        acc3 += W[i + 3, j] * d[j]
    return acc0, acc1, acc2, acc3


@inline_kernel
def sgd_row(W, i, a_i, d, lr, l1, l2):
    """Row i of W takes its SGD step for the gradient a_i d, plus the penalty's."""
    if l1 != 0 or l2 != 0:
        for j in range(W.shape[1]):
            W[i, j] -= lr * (a_i * d[j] + l1 * np.sign(W[i, j]) + l2 * W[i, j])
    else:
        for j in range(W.shape[1]):
            W[i, j] -= lr * (a_i * d[j])


@inline_kernel
def sgd_nonzero_rows(W, a, index, k, d, lr):
    """The rows of a's k nonzero inputs ``index[:k]`` take their SGD steps (``sgd_row``
    without a penalty). Rows of FOUR_ROWS_FROM or more go four per pass over d: a quarter of
    the loads of d and of the loops' set-up (MNIST per sample: 1.04-1.12x). Narrower rows go
    one by one: LLVM checks at run time that four rows overlap neither d nor each other,
    which costs more than it saves on digits' 32-wide rows (0.9x).
    """
    # Rows of whole vectors, and maybe a few entries more (see ``vectors``; per sample: digits
    # 1.05-1.24x, MNIST 1.05-1.06x, dense MNIST 1.02x; 20 wide, bike sharing, 1.03x).
    if steps_with_tails(W):
        whole_vector_rows_step(a, index, k, W, d, lr, True, True)
        return
    # Last row first: the next sample's forward pass reads its rows first to last, and finds
    # the first ones it shares with this sample still in L1 (MNIST 1.012-1.033x side by
    # side; the same bits).
    t = k
    if W.shape[1] >= FOUR_ROWS_FROM:
        while t >= 4:
            i0, i1, i2, i3 = index[t - 1], index[t - 2], index[t - 3], index[t - 4]
            a0, a1, a2, a3 = a[i0], a[i1], a[i2], a[i3]
            for j in range(W.shape[1]):
                W[i0, j] -= lr * (a0 * d[j])
                W[i1, j] -= lr * (a1 * d[j])
                W[i2, j] -= lr * (a2 * d[j])
                W[i3, j] -= lr * (a3 * d[j])
            t -= 4
    for t in range(t - 1, -1, -1):
        i = index[t]
        a_i = a[i]
        for j in range(W.shape[1]):
            W[i, j] -= lr * (a_i * d[j])


@inline_kernel
def hidden_layer_sgd(a, W, b, d, d_prev, lr, l1, l2):
    """One sample's SGD step on a hidden layer, fused with backpropagation through it: d_prev
    ``(n_in,)`` <- W d, each row's dot product taken just before the row steps (while it is
    in L1), four rows' at a time (``four_row_dots``: digits 1.10x, bike 1.05x, MNIST 1.01x
    per sample); rows of one vector or less, or of a few whole vectors, as vectors, a
    vector's length of rows at a time (``narrow_block_step``, ``whole_vector_block_step``),
    the rest as the others. Every row steps: a zero input's row by zero, cheaper than a
    branch that mispredicts on ReLU outputs.

    a: ``(n_in,)`` the layer's inputs; d: ``(n_out,)`` its deltas.
    """
    n_in = W.shape[0]
    i = 0
    if W.shape[1] == 1 and l1 == 0 and l2 == 0:
        # One output (a regression's): W is a contiguous column, which LLVM steps as
        # vectors, where the loop below takes its rows one at a time (bike sharing per sample
        # 1.13x). (Other bits than that loop's: LLVM takes lr d_0 once, not lr a_i per row.)
        d_0 = d[0]
        for i in range(n_in):
            d_prev[i] = W[i, 0] * d_0
            W[i, 0] -= lr * (a[i] * d_0)
        i = n_in
    elif is_narrow(W) and l1 == 0 and l2 == 0:  # a row in one vector (see ``vectors``)
        while i + narrow_width(W) <= n_in:
            narrow_block_step(a, W, d, d_prev, lr, i)
            i += narrow_width(W)
    elif blocks_in_vectors(W) and l1 == 0 and l2 == 0:
        while i + narrow_width(W) <= n_in:
            whole_vector_block_step(a, W, d, d_prev, lr, i)
            i += narrow_width(W)
    while i < n_in:  # (every row of other layers, the rows after the last block)
        rows = 4 if i + 4 <= n_in else 1
        if rows == 4:
            d_prev[i], d_prev[i + 1], d_prev[i + 2], d_prev[i + 3] = four_row_dots(W, i, d)
        else:
            d_prev[i] = row_dot(W, i, d)
        for r in range(i, i + rows):
            sgd_row(W, r, a[r], d, lr, l1, l2)
        i += rows
    for j in range(d.shape[0]):
        b[j] -= lr * d[j]


@inline_kernel
def input_layer_sgd(x, index, k, W, b, d, lr_w, lr, l1, l2):
    """One sample's SGD step on the first layer: W at rate lr_w (lr, or more for a W stored
    scaled down: see ``train.sgd_sample_epochs``), b at lr. Without a penalty only the rows
    of x's k nonzero inputs ``index[:k]`` change; with one, every row.

    x: ``(n_in,)`` the sample; d: ``(n_out,)`` the layer's deltas.
    """
    if l1 != 0 or l2 != 0:
        for i in range(W.shape[0]):
            sgd_row(W, i, x[i], d, lr_w, l1, l2)
    else:
        sgd_nonzero_rows(W, x, index, k, d, lr_w)
    for j in range(d.shape[0]):
        b[j] -= lr * d[j]


@inline_kernel
def backward_sgd(net, codes, x, k0, ws, lr, l1, l2, lazy, scale0, last):
    """Backpropagate one sample's output deltas (in ``ws.d_a``) and take its SGD step, down
    to layer ``last`` (0, or 1 when the first layer's step is deferred: see ``deferred``);
    returns the deltas of layer last - 1's outputs (a workspace buffer; layer 0's if last
    is 1).

    net: a Flat of the parameters; x: ``(n_in,)`` the sample, ``ws.input_index[:k0]`` its
    nonzero inputs; the workspace holds its hidden activations from ``forward_sample``. If
    ``lazy``, the first layer's weights are scale0 * W_0, scale0 already holding this step's
    l2 decay, and only the rows of W_0 of nonzero inputs take the gradient (see
    ``train.sgd_sample_epochs``).
    """
    n_layers = net.sizes.shape[0] - 1
    d_cur, d_next = ws.d_a, ws.d_b
    for l in range(n_layers - 1, last - 1, -1):
        W, b = layer_weight(net, l), layer_bias(net, l)
        n_in, n_out = W.shape
        if l == 0:
            # (One call, one inlined copy: each costs compilation time.)
            zero = W.dtype.type(0.0)
            input_layer_sgd(x, ws.input_index, k0, W, b, d_cur[:n_out],
                            lr / scale0 if lazy else lr, lr, zero if lazy else l1,
                            zero if lazy else l2)
        else:
            a = layer_row(ws, l - 1)
            hidden_layer_sgd(a, W, b, d_cur[:n_out], d_next[:n_in], lr, l1, l2)
            backprop_activation(codes[l - 1], a, d_next[:n_in])
        d_cur, d_next = d_next, d_cur
    return d_cur
