"""The loss of one sample and its gradient with respect to the output pre-activations.

The loss is computed from the pre-activations z (log-sum-exp, softplus), so it stays finite
where the probabilities round to 0 or 1.
"""
import numpy as np

from .activations import SIGMOID, SOFTMAX, activate, row_max, softmax
from .jit import kernel
from .vectors import fits_vector, one_vector_cross_entropy

MSE = 0
CROSS_ENTROPY = 1
BINARY_CROSS_ENTROPY = 2


@kernel
def softplus(x):
    """log(1 + exp(x)) without overflow."""
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@kernel
def output_loss(out_code, loss_code, z, t, delta, scale):
    """Loss of one sample; z <- f(z) and delta <- scale * dL/dz.

    z: ``(n_out,)`` output pre-activations, replaced by the output activations.
    t: ``(n_out,)`` targets. delta: ``(n_out,)`` written. Returns the loss as float64.
    """
    if loss_code == CROSS_ENTROPY and fits_vector(z):
        return one_vector_cross_entropy(z, t, delta, scale)  # (the same, as vectors)
    n = z.shape[0]
    zero = z.dtype.type(0.0)
    one = z.dtype.type(1.0)
    loss = 0.0
    if loss_code == CROSS_ENTROPY:
        # -sum t log p with log p = (z - m) - log(sum exp(z - m)), m = max z (so exp never
        # overflows); dL/dz = p * sum(t) - t.
        m = row_max(z)
        t_sum = zero
        for k in range(n):
            loss -= t[k] * (z[k] - m)
            t_sum += t[k]
        loss += t_sum * np.log(softmax(z, m))
        for k in range(n):
            delta[k] = scale * (z[k] * t_sum - t[k])
    elif loss_code == BINARY_CROSS_ENTROPY:
        # log s = -softplus(-z), log(1 - s) = -softplus(z); dL/dz = s - t.
        for k in range(n):
            loss += t[k] * softplus(-z[k]) + (one - t[k]) * softplus(z[k])
        activate(out_code, z)  # (sigmoid: checked before training)
        for k in range(n):
            delta[k] = scale * (z[k] - t[k])
    else:  # MSE: 0.5 * sum (y - t)^2, chained through the output activation.
        activate(out_code, z)
        for k in range(n):
            g = z[k] - t[k]
            loss += 0.5 * g * g
            delta[k] = g
        if out_code == SIGMOID:
            for k in range(n):
                delta[k] *= z[k] * (one - z[k])
        elif out_code == SOFTMAX:
            # Jacobian of softmax: dy_k/dz_j = y_k (1[k=j] - y_j).
            dot = zero
            for k in range(n):
                dot += z[k] * delta[k]
            for k in range(n):
                delta[k] = z[k] * (delta[k] - dot)
        for k in range(n):
            delta[k] *= scale
    return loss
