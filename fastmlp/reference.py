"""The same math as fastmlp.Network in plain, vectorized NumPy: no Numba, written for reading.

It is the oracle for the tests and the baseline for the benchmarks. With the same arguments it
starts from the same parameters and shuffles in the same order as ``fastmlp.Network``, so the
two can be compared step by step. Notation, for a batch of B samples:

    forward:   z_l = a_{l-1} @ W_l + b_l,   a_l = f_l(z_l),   a_0 = X
    loss:      mean over the batch of L(a_L, t), plus l1 * sum|W| + (l2 / 2) * sum W^2
    backward:  delta_L = dL/dz_L / B
               dW_l = a_{l-1}^T @ delta_l,   db_l = sum over the batch of delta_l
               delta_{l-1} = (delta_l @ W_l^T) * f'_{l-1}(z_{l-1})
    SGD step:  params -= lr * gradient   (momentum, Nesterov, Adam: see kernels/update.py)
"""
from __future__ import annotations

import numpy as np

from .model import BaseNetwork


def sigmoid(z):
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for z << 0; 1/inf is 0
        return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "softmax": softmax,
}

# f'(z) written in terms of a = f(z), for hidden layers.
DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "sigmoid": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
}


def loss_and_delta(output: str, loss: str, z, t):
    """Per-sample losses ``(B,)``, output activations and dL/dz ``(B, n_out)`` from logits z."""
    y = ACTIVATIONS[output](z)
    if loss == "cross_entropy":
        m = z.max(axis=1, keepdims=True)
        log_p = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
        return -(t * log_p).sum(axis=1), y, y * t.sum(axis=1, keepdims=True) - t
    if loss == "binary_cross_entropy":
        # -log s = softplus(-z), -log(1 - s) = softplus(z)
        losses = (t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)).sum(axis=1)
        return losses, y, y - t
    g = y - t  # mse
    losses = 0.5 * (g * g).sum(axis=1)
    if output == "sigmoid":
        g = g * y * (1 - y)
    elif output == "softmax":
        g = y * (g - (y * g).sum(axis=1, keepdims=True))
    return losses, y, g


class Network(BaseNetwork):
    """The NumPy reference network; same arguments and methods as ``fastmlp.Network``."""

    def _forward(self, X):
        """Activations ``[a_0 = X, a_1, ..., a_{L-1}]`` and the output pre-activations z_L."""
        activations = [X]
        a = X
        n_layers = len(self.weights)
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b
            if l == n_layers - 1:
                return activations, z
            a = ACTIVATIONS[self.config.activations[l]](z)
            activations.append(a)

    def _outputs(self, X):
        return ACTIVATIONS[self.config.output](self._forward(X)[1])

    def _backward(self, activations, delta):
        """The flat gradient from the output deltas (already divided by the batch size)."""
        grad = np.empty_like(self.params)
        grad_W = self.layout.weights(grad)
        grad_b = self.layout.biases(grad)
        for l in reversed(range(len(self.weights))):
            grad_W[l][...] = activations[l].T @ delta
            grad_b[l][...] = delta.sum(axis=0)
            if l > 0:
                a = activations[l]
                delta = (delta @ self.weights[l].T) * DERIVATIVES[self.config.activations[l - 1]](a)
        return grad

    def _batch(self, X, T):
        """Summed loss of the batch and the gradient of its mean."""
        activations, z = self._forward(X)
        losses, _, delta = loss_and_delta(self.config.output, self.config.loss, z, T)
        return losses.sum(), self._backward(activations, delta / len(X))

    def _data_loss(self, X, T, want_grad):
        if want_grad:
            total, grad = self._batch(X, T)
            return total / len(X), grad
        losses, _, _ = loss_and_delta(self.config.output, self.config.loss, self._forward(X)[1], T)
        return losses.mean(), None

    def _penalty(self, l1, l2, want_grad):
        value = sum(l1 * np.abs(W).sum() + l2 / 2 * (W * W).sum() for W in self.weights)
        if not want_grad:
            return float(value), None
        grad = np.zeros_like(self.params)
        for G, W in zip(self.layout.weights(grad), self.weights):
            G[...] = l1 * np.sign(W) + l2 * W
        return float(value), grad

    def _train(self, X, T, order, batch_size, lr, l1, l2, optimizer):
        lr = self.dtype.type(lr)  # keep float32 arithmetic float32
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss, grad = self._batch(X[batch], T[batch])
            if l1 or l2:
                grad += self._penalty(l1, l2, want_grad=True)[1]
            self._step(grad, lr, optimizer)
            total += loss
        return total

    def _step(self, g, lr, optimizer):
        """One optimizer step (the rules of fastmlp/kernels/update.py), in the params' dtype."""
        p, state = self.params, self._state
        mu, b1, b2, eps = optimizer.hyper(self.dtype)
        if optimizer.name == "sgd":
            p -= lr * g
        elif optimizer.name in ("momentum", "nesterov"):
            v = state[0]
            v[...] = mu * v + g
            p -= lr * (g + mu * v) if optimizer.name == "nesterov" else lr * v
        else:  # adam
            self._steps += 1
            t = self._steps
            m, v = state
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g * g
            step_size = self.dtype.type(lr / (1.0 - float(b1) ** t))
            root_correction = self.dtype.type(np.sqrt(1.0 - float(b2) ** t))
            p -= step_size * m / (np.sqrt(v) / root_correction + eps)
