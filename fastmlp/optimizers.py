"""Optimizers: their names and settings, checked. The update rules are in
``kernels/update.py`` (and in NumPy in ``reference.py``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import real
from .kernels.update import ADAM, MOMENTUM, NESTEROV, SGD

CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}
STATE_ROWS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2}  # v; m and v


@dataclass(frozen=True)
class Optimizer:
    name: str
    momentum: float
    beta1: float
    beta2: float
    eps: float

    @classmethod
    def create(cls, name, momentum, beta1, beta2, eps) -> "Optimizer":
        if not isinstance(name, str) or name not in CODES:
            raise ValueError(f"optimizer must be one of {', '.join(map(repr, CODES))}; "
                             f"got {name!r}")
        momentum = real(momentum, "momentum")
        if name == "nesterov" and momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        for value, label in ((beta1, "beta1"), (beta2, "beta2")):
            if real(value, label) >= 1:
                raise ValueError(f"{label} must be in [0, 1); got {value!r}")
        return cls(name, momentum, float(beta1), float(beta2), real(eps, "eps", strict=True))

    @property
    def code(self) -> int:
        return CODES[self.name]

    @property
    def state_rows(self) -> int:
        return STATE_ROWS[self.name]

    def hyper(self, dtype) -> np.ndarray:
        """``[momentum, beta1, beta2, eps]`` as the kernels take them."""
        return np.array([self.momentum, self.beta1, self.beta2, self.eps], dtype)
