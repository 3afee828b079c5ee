"""Views of every layer's tensors in a flat buffer laid out like the parameters."""
from collections import namedtuple

from .jit import kernel

# W: a list with every layer's weights, ``(n_in, n_out)`` views; b: their biases ``(n_out,)``.
Layers = namedtuple("Layers", ["W", "b"])


@kernel
def weight(buffer, sizes, w_off, l):
    """W_l, a ``(n_in, n_out)`` view of the flat buffer."""
    n_in, n_out = sizes[l], sizes[l + 1]
    return buffer[w_off[l]:w_off[l] + n_in * n_out].reshape((n_in, n_out))


@kernel
def bias(buffer, sizes, b_off, l):
    """b_l, a ``(n_out,)`` view of the flat buffer."""
    return buffer[b_off[l]:b_off[l] + sizes[l + 1]]


@kernel
def layers(buffer, sizes, w_off, b_off):
    """Every layer's views, made once per kernel call: making a 2-D view costs more than a
    small layer's arithmetic for one sample."""
    n_layers = sizes.shape[0] - 1
    return Layers([weight(buffer, sizes, w_off, l) for l in range(n_layers)],
                  [bias(buffer, sizes, b_off, l) for l in range(n_layers)])
