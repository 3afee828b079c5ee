"""Parameter updates: one loop over the flat buffer, whatever the network's shape.

An optimizer's state is rows of buffers laid out like the parameters: none for SGD, the
velocity v for momentum and Nesterov, the moments m and v for Adam. g is the gradient of the
batch's mean loss plus the penalty.

    sgd:       params -= lr g
    momentum:  v = mu v + g;  params -= lr v                      (PyTorch's SGD, dampening 0)
    nesterov:  v = mu v + g;  params -= lr (g + mu v)
    adam:      t += 1;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
               params -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (PyTorch's Adam)
"""
import numpy as np

from .jit import inline_kernel, kernel

SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAM = 3


@kernel
def sgd(params, grad, lr):
    """params -= lr * grad."""
    for k in range(params.shape[0]):
        params[k] -= lr * grad[k]


@inline_kernel
def momentum_update(w, g, v, lr, mu, nesterov):
    """One parameter w, its gradient g and its velocity v after a momentum (or Nesterov)
    step: returns (w, v)."""
    v = mu * v + g
    if nesterov:
        return w - lr * (g + mu * v), v
    return w - lr * v, v


@kernel
def momentum_step(params, grad, v, lr, mu, nesterov):
    for k in range(params.shape[0]):
        params[k], v[k] = momentum_update(params[k], grad[k], v[k], lr, mu, nesterov)


@inline_kernel
def adam_factors(params, lr, beta1, beta2, eps, t):
    """The constants of Adam's step t, in params' dtype, for ``adam_update``: the bias
    corrections in float64, then in params' dtype. sqrt(v / (1 - b2^t)) is sqrt(v) times
    1 / sqrt(1 - b2^t): a division per parameter fewer (divisions and square roots are the
    loop's slowest instructions), rounded a little differently from PyTorch's
    sqrt(v) / sqrt(1 - b2^t)."""
    one = params.dtype.type(1.0)
    step_size = params.dtype.type(lr / (1.0 - float(beta1) ** t))
    root_factor = params.dtype.type(1.0 / np.sqrt(1.0 - float(beta2) ** t))
    return step_size, root_factor, beta1, one - beta1, beta2, one - beta2, eps


@inline_kernel
def adam_update(w, g, m, v, factors):
    """One parameter w, its gradient g and its moments m and v after Adam's step (factors:
    ``adam_factors``'s): returns (w, m, v)."""
    step_size, root_factor, beta1, rest1, beta2, rest2, eps = factors
    m = beta1 * m + rest1 * g
    v = beta2 * v + rest2 * g * g
    return w - step_size * m / (np.sqrt(v) * root_factor + eps), m, v


@kernel
def adam_step(params, grad, m, v, t, lr, beta1, beta2, eps):
    factors = adam_factors(params, lr, beta1, beta2, eps, t)
    for k in range(params.shape[0]):
        params[k], m[k], v[k] = adam_update(params[k], grad[k], m[k], v[k], factors)


@kernel
def step(code, params, grad, state, steps, lr, hyper):
    """One step of optimizer ``code`` on params with ``grad``.

    state: ``(rows, n_params)`` the optimizer's buffers; steps[0]: Adam's step count t;
    hyper: ``[mu, b1, b2, eps]`` in params' dtype.
    """
    if code == SGD:
        sgd(params, grad, lr)
    elif code == ADAM:
        steps[0] += 1
        adam_step(params, grad, state[0], state[1], steps[0], lr, hyper[1], hyper[2], hyper[3])
    else:
        momentum_step(params, grad, state[0], lr, hyper[0], code == NESTEROV)
