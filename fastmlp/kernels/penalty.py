"""The l1/l2 penalty on weights (never biases): l1 * sum|W| + (l2 / 2) * sum W^2."""
import numpy as np

from .jit import entry_kernel, kernel


@kernel
def flat_weight(buffer, sizes, w_off, l):
    """W_l as a 1-D view ``(n_in * n_out,)``. Loops over it from 0 vectorize; a loop over the
    buffer from W_l's offset does not (each index might be negative, for all LLVM knows)."""
    return buffer[w_off[l]:w_off[l] + sizes[l] * sizes[l + 1]]


@entry_kernel
def penalty(params, sizes, w_off, l1, l2):
    """The penalty's value, as float64."""
    total = 0.0
    if l1 == 0 and l2 == 0:
        return total
    for l in range(sizes.shape[0] - 1):
        w = flat_weight(params, sizes, w_off, l)
        for k in range(w.shape[0]):
            total += l1 * abs(w[k]) + 0.5 * l2 * w[k] * w[k]
    return total


@entry_kernel
def add_penalty_gradient(params, grad, sizes, w_off, l1, l2):
    """grad += l1 * sign(W) + l2 * W on every weight."""
    if l1 == 0 and l2 == 0:
        return
    for l in range(sizes.shape[0] - 1):
        w = flat_weight(params, sizes, w_off, l)
        g = flat_weight(grad, sizes, w_off, l)
        for k in range(w.shape[0]):
            g[k] += l1 * np.sign(w[k]) + l2 * w[k]
