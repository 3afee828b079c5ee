"""Views into the flat parameter buffer and the activation workspace."""
import numpy as np

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


@kernel
def workspace_offsets(sizes, capacity):
    """Where layer l's output block of ``capacity`` rows starts in the activation workspace.

    Returns int64 ``(L + 1,)``; the last entry is the workspace's total length.
    """
    n_layers = sizes.shape[0] - 1
    offsets = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        offsets[l + 1] = offsets[l] + capacity * sizes[l + 1]
    return offsets


@kernel
def layer_block(work, offsets, sizes, l, rows):
    """The ``(rows, n_out)`` output block of layer l in the activation workspace."""
    n_out = sizes[l + 1]
    return work[offsets[l]:offsets[l] + rows * n_out].reshape((rows, n_out))
