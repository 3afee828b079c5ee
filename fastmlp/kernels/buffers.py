"""Views of one layer's tensors in a flat buffer laid out like the parameters."""
from .jit import kernel


@kernel
def weight(params, sizes, w_off, l):
    """W_l, a ``(n_in, n_out)`` view of the flat buffer."""
    n_in, n_out = sizes[l], sizes[l + 1]
    return params[w_off[l]:w_off[l] + n_in * n_out].reshape((n_in, n_out))


@kernel
def bias(params, sizes, b_off, l):
    """b_l, a ``(n_out,)`` view of the flat buffer."""
    return params[b_off[l]:b_off[l] + sizes[l + 1]]
