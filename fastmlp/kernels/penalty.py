"""The l1/l2 penalty on weights (never biases): l1 * sum|W| + (l2 / 2) * sum W^2."""
import numpy as np

from .jit import entry_kernel


@entry_kernel
def penalty(params, sizes, w_off, l1, l2):
    """The penalty's value, as float64."""
    total = 0.0
    if l1 == 0 and l2 == 0:
        return total
    for l in range(sizes.shape[0] - 1):
        start = w_off[l]
        for k in range(start, start + sizes[l] * sizes[l + 1]):
            w = params[k]
            total += l1 * abs(w) + 0.5 * l2 * w * w
    return total


@entry_kernel
def add_penalty_gradient(params, grad, sizes, w_off, l1, l2):
    """grad += l1 * sign(W) + l2 * W on every weight."""
    if l1 == 0 and l2 == 0:
        return
    for l in range(sizes.shape[0] - 1):
        start = w_off[l]
        for k in range(start, start + sizes[l] * sizes[l + 1]):
            grad[k] += l1 * np.sign(params[k]) + l2 * params[k]
