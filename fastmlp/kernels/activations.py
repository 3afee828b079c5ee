"""Activation functions and their derivatives, selected by integer codes.

Every function works in place on one row, in the row's own dtype (float32 stays float32).
"""

from .exp import exp, sigmoid
from .jit import kernel
from .tanh import tanh
from .vectors import map_in_vectors, sigmoid_row, tanh_row

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
SOFTMAX = 4


@kernel
def row_max(z):
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    return m


@kernel
def softmax(z, m):
    """z <- softmax(z), given m = max(z): exp(z - m) never overflows. Returns the sum of
    exp(z - m), whose log the cross-entropy needs."""
    total = z.dtype.type(0.0)
    for j in range(z.shape[0]):
        z[j] = exp(z[j] - m)
        total += z[j]
    for j in range(z.shape[0]):
        z[j] /= total
    return total


@kernel
def activate(code, z):
    """z <- f(z) for one row ``z`` of pre-activations."""
    one = z.dtype.type(1.0)
    zero = z.dtype.type(0.0)
    if code == SIGMOID:
        if map_in_vectors(z):
            sigmoid_row(z)
        else:
            for j in range(z.shape[0]):
                z[j] = sigmoid(z[j])
    elif code == TANH:
        if map_in_vectors(z):
            tanh_row(z)
        else:
            for j in range(z.shape[0]):
                z[j] = tanh(z[j])
    elif code == RELU:
        for j in range(z.shape[0]):
            if z[j] < zero:
                z[j] = zero
    elif code == SOFTMAX:
        softmax(z, row_max(z))


@kernel
def backprop_activation(code, a, d):
    """d <- d * f'(z) for a hidden layer, with f'(z) written in terms of a = f(z)."""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    if code == SIGMOID:
        for j in range(a.shape[0]):
            d[j] *= a[j] * (one - a[j])
    elif code == TANH:
        for j in range(a.shape[0]):
            d[j] *= one - a[j] * a[j]
    elif code == RELU:
        for j in range(a.shape[0]):
            if a[j] <= zero:
                d[j] = zero
