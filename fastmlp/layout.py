"""Where each layer's weights and biases sit in the flat parameter buffer.

For each layer ``l`` (input to output) the buffer holds ``W_l`` of shape ``(n_in, n_out)`` in C
order, then ``b_l`` of shape ``(n_out,)``. Gradients and optimizer states use the same layout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Offsets of every layer's tensors in a flat buffer.

    sizes: int64 ``(L + 1,)``, the width of every layer, input first.
    w_off, b_off: int64 ``(L,)``, where ``W_l`` and ``b_l`` start.
    size: the length of the flat buffer.
    """

    sizes: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray
    size: int

    @classmethod
    def from_sizes(cls, sizes) -> "Layout":
        sizes = np.asarray(sizes, dtype=np.int64)
        n_layers = len(sizes) - 1
        w_off = np.empty(n_layers, np.int64)
        b_off = np.empty(n_layers, np.int64)
        offset = 0
        for l in range(n_layers):
            w_off[l] = offset
            offset += sizes[l] * sizes[l + 1]
            b_off[l] = offset
            offset += sizes[l + 1]
        return cls(sizes, w_off, b_off, int(offset))

    def weights(self, buffer: np.ndarray) -> list[np.ndarray]:
        """Views ``(n_in, n_out)`` of every layer's weights in ``buffer``."""
        return [buffer[o:o + n_in * n_out].reshape(n_in, n_out)
                for o, n_in, n_out in zip(self.w_off, self.sizes[:-1], self.sizes[1:])]

    def biases(self, buffer: np.ndarray) -> list[np.ndarray]:
        """Views ``(n_out,)`` of every layer's biases in ``buffer``."""
        return [buffer[o:o + n_out] for o, n_out in zip(self.b_off, self.sizes[1:])]
