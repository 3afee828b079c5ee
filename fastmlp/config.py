"""A network's configuration: validated names, their kernel codes, and the initial parameters."""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import pages
from .kernels.activations import IDENTITY, RELU, SIGMOID, SOFTMAX, TANH
from .kernels.loss import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, MSE
from .layout import Layout

HIDDEN = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
OUTPUTS = {"softmax": SOFTMAX, "sigmoid": SIGMOID, "identity": IDENTITY}
LOSSES = {"mse": MSE, "cross_entropy": CROSS_ENTROPY, "binary_cross_entropy": BINARY_CROSS_ENTROPY}
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy", "identity": "mse"}
# The loss a probability output needs: log p is only defined on (0, 1).
LOSS_NEEDS_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
INITS = ("xavier", "he", "uniform", "normal")
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _choice(value, name: str, options) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(options)}; got {value!r}")
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}: expected one of {sorted(options)}")
    return value


@dataclass(frozen=True)
class Config:
    """Everything that defines a network apart from its parameters."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]  # one per hidden layer
    output: str
    loss: str
    init: str
    dtype: np.dtype
    seed: int | None

    @classmethod
    def create(cls, sizes, activation="sigmoid", output="softmax", loss=None, init="xavier",
               dtype=np.float32, seed=None) -> "Config":
        """Validate the constructor's arguments; raise TypeError/ValueError naming the problem."""
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of layer widths like [784, 128, 10]; got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width; got {list(sizes)!r}")
        for n in sizes:
            if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
                raise TypeError(f"layer widths must be integers; got {n!r} in {list(sizes)!r}")
            if n < 1:
                raise ValueError(f"layer widths must be >= 1; got {n} in {list(sizes)!r}")
        sizes = tuple(int(n) for n in sizes)
        n_hidden = len(sizes) - 2

        if isinstance(activation, str):
            activations = (activation,) * n_hidden
        elif isinstance(activation, (list, tuple)):
            if len(activation) != n_hidden:
                raise ValueError(f"activation lists one name per hidden layer: expected "
                                 f"{n_hidden}, got {len(activation)} ({list(activation)!r})")
            activations = tuple(activation)
        else:
            raise TypeError(f"activation must be a name or a list of names; got {activation!r}")
        if isinstance(activation, str):
            _choice(activation, "activation", HIDDEN)
        for a in activations:
            _choice(a, "activation", HIDDEN)

        _choice(output, "output", OUTPUTS)
        if loss is None:
            loss = DEFAULT_LOSS[output]
        _choice(loss, "loss", LOSSES)
        needed = LOSS_NEEDS_OUTPUT.get(loss)
        if needed is not None and output != needed:
            raise ValueError(f"loss {loss!r} needs a {needed!r} output, not {output!r}; "
                             f"use loss='mse' or output={needed!r}")
        _choice(init, "init", INITS)

        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be np.float32 or np.float64; got {dtype!r}") from None
        if dt not in DTYPES:
            raise ValueError(f"unsupported dtype {dt}: expected float32 or float64")

        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, numbers.Integral) or seed < 0):
            raise TypeError(f"seed must be None or a non-negative integer; got {seed!r}")
        return cls(sizes, activations, output, loss, init, dt,
                   None if seed is None else int(seed))

    @property
    def codes(self) -> np.ndarray:
        """int64 ``(L,)``: the activation code of every layer, the output's last."""
        return np.array([HIDDEN[a] for a in self.activations] + [OUTPUTS[self.output]], np.int64)

    @property
    def loss_code(self) -> int:
        return LOSSES[self.loss]

    @property
    def is_classifier(self) -> bool:
        return self.output != "identity"

    def to_dict(self) -> dict:
        return {"sizes": list(self.sizes), "activation": list(self.activations),
                "output": self.output, "loss": self.loss, "init": self.init,
                "dtype": self.dtype.name, "seed": self.seed}


def initial_params(layout: Layout, init: str, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """A new flat buffer: weights drawn layer by layer in C order from ``rng``, biases zero.

    xavier: U(-r, r), r = sqrt(6 / (n_in + n_out)); he: N(0, 2 / n_in);
    uniform: U(-1, 1); normal: N(0, 1 / n_in).
    """
    params = pages.zeros(layout.size, dtype)
    for W in layout.weights(params):
        n_in, n_out = W.shape
        if init == "xavier":
            r = np.sqrt(6.0 / (n_in + n_out))
            W[...] = rng.uniform(-r, r, size=W.shape)
        elif init == "he":
            W[...] = rng.normal(0.0, np.sqrt(2.0 / n_in), size=W.shape)
        elif init == "uniform":
            W[...] = rng.uniform(-1.0, 1.0, size=W.shape)
        else:
            W[...] = rng.normal(0.0, np.sqrt(1.0 / n_in), size=W.shape)
    return params
