"""Views of every layer's tensors in a flat buffer laid out like the parameters."""
from collections import namedtuple

from .borrow import borrowed, borrowed_matrix
from .jit import inline_kernel, kernel

# W: a list with every layer's weights, ``(n_in, n_out)`` views; b: their biases ``(n_out,)``.
Layers = namedtuple("Layers", ["W", "b"])

# A flat buffer and its layout (``buffer``, ``sizes``, ``w_off``, ``b_off``), of which the
# per-sample kernels make a layer's views where they use them (``layer_weight``,
# ``layer_bias``): passing Layers' two lists into an inlined kernel costs two atomic
# reference counts (see ``borrow``), passing a Flat of borrowed arrays none.
Flat = namedtuple("Flat", ["buffer", "sizes", "w_off", "b_off"])


@kernel
def weight(buffer, sizes, w_off, l):
    """W_l, a ``(n_in, n_out)`` view of the flat buffer."""
    n_in, n_out = sizes[l], sizes[l + 1]
    return buffer[w_off[l]:w_off[l] + n_in * n_out].reshape((n_in, n_out))


@inline_kernel
def bias(buffer, sizes, b_off, l):
    """b_l, a ``(n_out,)`` view of the flat buffer."""
    return buffer[b_off[l]:b_off[l] + sizes[l + 1]]


@kernel
def layers(buffer, sizes, w_off, b_off):
    """Every layer's views, made once per kernel call (by the minibatch kernels, which pass
    them on once per batch)."""
    n_layers = sizes.shape[0] - 1
    return Layers([weight(buffer, sizes, w_off, l) for l in range(n_layers)],
                  [bias(buffer, sizes, b_off, l) for l in range(n_layers)])


@inline_kernel
def borrowed_flat(buffer, sizes, w_off, b_off):
    """A Flat of borrowed views of these arrays (kernel arguments: see ``borrow``)."""
    return Flat(borrowed(buffer), borrowed(sizes), borrowed(w_off), borrowed(b_off))


@inline_kernel
def layer_weight(net, l):
    """W_l of a Flat, ``(n_in, n_out)``, borrowed."""
    return borrowed_matrix(net.buffer, net.w_off[l], net.sizes[l], net.sizes[l + 1])


@inline_kernel
def layer_bias(net, l):
    """b_l of a Flat, ``(n_out,)``."""
    return bias(net.buffer, net.sizes, net.b_off, l)
