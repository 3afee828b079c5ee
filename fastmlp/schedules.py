"""Learning-rate schedules, applied per epoch.

Epoch ``t`` (counted from 0 over the network's whole training, so a second ``fit`` and a
resumed checkpoint carry on where the last left off; see ``Network.epochs_trained``) trains
with ``schedule.rate(lr, t)``. The names and formulas follow PyTorch's schedulers stepped once
per epoch, so settings carry over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import positive_int, real


class Schedule:
    def rate(self, lr: float, t: int) -> float:
        """The learning rate of epoch t, for base rate lr."""
        raise NotImplementedError

    def rates(self, lr: float, first: int, k: int) -> np.ndarray:
        """The rates of epochs ``first .. first + k - 1``, float64 ``(k,)``."""
        return np.array([self.rate(lr, first + e) for e in range(k)])


@dataclass(frozen=True)
class Constant(Schedule):
    """``lr`` every epoch."""

    def rate(self, lr, t):
        return lr

    def rates(self, lr, first, k):
        return np.full(k, lr)


@dataclass(frozen=True)
class Step(Schedule):
    """``lr * gamma ** (t // step_size)``: PyTorch's StepLR."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        positive_int(self.step_size, "step_size")
        real(self.gamma, "gamma", strict=True)

    def rate(self, lr, t):
        return lr * self.gamma ** (t // self.step_size)


@dataclass(frozen=True)
class InvScaling(Schedule):
    """``lr / (1 + decay * t)``."""

    decay: float

    def __post_init__(self):
        real(self.decay, "decay")

    def rate(self, lr, t):
        return lr / (1 + self.decay * t)


@dataclass(frozen=True)
class Cosine(Schedule):
    """``lr_min + (lr - lr_min) * (1 + cos(pi * t / t_max)) / 2`` for t <= t_max, then
    ``lr_min``: PyTorch's CosineAnnealingLR (T_max, eta_min) over one half period."""

    t_max: int
    lr_min: float = 0.0

    def __post_init__(self):
        positive_int(self.t_max, "t_max")
        real(self.lr_min, "lr_min")

    def rate(self, lr, t):
        t = min(t, self.t_max)
        return self.lr_min + (lr - self.lr_min) * (1 + math.cos(math.pi * t / self.t_max)) / 2


def as_schedule(value) -> Schedule:
    """A Schedule from None, "constant" or a Schedule instance."""
    if value is None or (isinstance(value, str) and value == "constant"):
        return Constant()
    if isinstance(value, Schedule):
        return value
    raise TypeError(f"schedule must be None, 'constant' or a fastmlp.schedules.Schedule "
                    f"(Constant, Step, InvScaling, Cosine); got {value!r}")
