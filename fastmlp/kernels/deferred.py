"""Per-sample SGD's first-layer steps, each taken when the next sample reads its row.

Per sample, plain SGD reads the rows of W_0 of the nonzero inputs twice: for the forward sum,
and again for the step once the deltas are known, most of them from L2 (MNIST's W_0 is
400 KB, and a sample reads 150 of its rows). Here sample p's step of row i waits, as a
coefficient c_i = lr x_i and the slot of p's deltas d in a ring, until the next sample that
reads row i: its forward pass loads the row, takes the waiting step, stores the row and adds
it to its sum, in one pass (``vectors.pending_rows_sum``). The next reader takes a row's
waiting step, so a row has at most one, and the state is a coefficient and a slot per row.
Before the ring comes round (every RING samples), at the end of every epoch and call, and
before a rescale of the lazy l2 decay, every row takes its waiting step (``settle_all``).
Each row takes the same steps in the same order with the same arithmetic, so the parameters
are the same bits as with every step taken at once.

Side by side against stepping at once, per sample (MNIST 784-128-64-10): float32 1.14x,
float64 1.21x, dense MNIST 1.35x (a ring of 64 samples: float32 1.12x; 1024: 1.15x). Rows
narrower than ``vectors.PENDING_FROM_BYTES`` step at once. Compiling per-sample SGD takes
about 1.5 s more.
"""
from collections import namedtuple

import numpy as np

from .borrow import borrowed
from .forward import nonzeros
from .jit import inline_kernel, kernel
from .vectors import pending_rows_sum

RING = 256  # samples whose deltas are kept (128 KB for MNIST); slot RING holds zeros

# deltas: (RING + 1, n_out) the deltas of the ring's samples; slot, coef: (n_in,) each row's
# waiting step, ``W_0[i] -= coef[i] * deltas[slot[i]]``.
Pending = namedtuple("Pending", ["deltas", "slot", "coef"])


@kernel
def pending_steps(W):
    """The state of W's waiting steps, none waiting."""
    n_in, n_out = W.shape
    # (2-D np.empty only, as the workspace's: each other allocation costs compile time)
    deltas = np.empty((RING + 1, n_out), W.dtype)
    slot = np.empty((1, n_in), np.int64)[0]
    coef = np.empty((1, n_in), W.dtype)[0]
    deltas[:] = 0
    slot[:] = RING
    coef[:] = 0
    return Pending(deltas, slot, coef)


@inline_kernel
def borrowed_pending(p):
    """p's arrays as borrowed views (see ``borrow``): p must outlive them."""
    return Pending(borrowed(p.deltas), borrowed(p.slot), borrowed(p.coef))


@kernel
def settle_all(W, p):
    """Every row of W takes its waiting step."""
    for i in range(W.shape[0]):
        q = p.slot[i]
        if q != RING:
            c = p.coef[i]
            for j in range(W.shape[1]):
                W[i, j] -= c * p.deltas[q, j]
            p.slot[i] = RING


@inline_kernel
def pending_forward(x, index, W, b, z, scale, p):
    """z <- scale * (x @ W) + b for one sample x ``(n_in,)``, each row it reads taking its
    waiting step first. Lists x's nonzero inputs in index; returns how many there are."""
    k = nonzeros(x, index)
    pending_rows_sum(x, index, k, W, z, p.slot, p.coef, p.deltas)
    for j in range(z.shape[0]):
        z[j] = b[j] + scale * z[j]
    return k


@inline_kernel
def defer_steps(x, index, k, b, d, lr_w, lr, p, q):
    """A sample's steps of the rows of its k nonzero inputs ``index[:k]`` wait in slot q, at
    rate lr_w (d ``(n_out,)``: its first layer's deltas); b steps now, at lr."""
    for j in range(d.shape[0]):
        p.deltas[q, j] = d[j]
        b[j] -= lr * d[j]
    for t in range(k):
        i = index[t]
        p.slot[i] = q
        p.coef[i] = lr_w * x[i]
