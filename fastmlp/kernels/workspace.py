"""The scratch buffers of a kernel call, allocated once per call and sized by the batch."""
from collections import namedtuple

import numpy as np

from .borrow import borrowed
from .jit import kernel, inline_kernel

# work: every layer's output block of ``capacity`` rows, one after another; layer l's block
#   starts at offsets[l] and holds rows of widths[l].
# d_a, d_b: two delta buffers of ``capacity`` rows of the widest layer.
# index: a nonzero list for one row of the widest layer.
# ptr, input_index: the nonzero positions of a block of inputs, row s's being
#   input_index[ptr[s]:ptr[s + 1]] (compressed sparse rows).
Workspace = namedtuple("Workspace", ["work", "offsets", "widths", "d_a", "d_b", "index", "ptr",
                                     "input_index"])


@kernel
def workspaces(params, sizes, capacity, parts):
    """``parts`` Workspaces for blocks of up to ``capacity`` rows, stacked: every buffer has a
    leading axis of length parts (see ``workspace_part``); offsets and widths are shared."""
    n_layers = sizes.shape[0] - 1
    offsets = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers):
        offsets[l + 1] = offsets[l] + capacity * sizes[l + 1]
    width = 0
    for l in range(n_layers + 1):  # (sizes.max() costs a second of compilation)
        width = max(width, sizes[l])
    return Workspace(np.empty((parts, offsets[-1]), params.dtype), offsets, sizes[1:].copy(),
                     np.empty((parts, capacity * width), params.dtype),
                     np.empty((parts, capacity * width), params.dtype),
                     np.empty((parts, width), np.int32),
                     np.empty((parts, capacity + 1), np.int64),
                     np.empty((parts, capacity * width), np.int32))


@kernel
def workspace_part(stacked, p):
    """Workspace p of ``workspaces``' stack."""
    return Workspace(stacked.work[p], stacked.offsets, stacked.widths, stacked.d_a[p],
                     stacked.d_b[p], stacked.index[p], stacked.ptr[p], stacked.input_index[p])


@kernel
def workspace(params, sizes, capacity):
    """A Workspace for blocks of up to ``capacity`` rows."""
    return workspace_part(workspaces(params, sizes, capacity, np.int64(1)), np.int64(0))


@inline_kernel
def borrowed_workspace(ws):
    """ws's buffers as borrowed views (see ``borrow``): ws must outlive them."""
    return Workspace(borrowed(ws.work), borrowed(ws.offsets), borrowed(ws.widths),
                     borrowed(ws.d_a), borrowed(ws.d_b), borrowed(ws.index), borrowed(ws.ptr),
                     borrowed(ws.input_index))


@kernel
def layer_block(ws, l, rows):
    """The ``(rows, n_out)`` output block of layer l."""
    n_out = ws.widths[l]
    start = ws.offsets[l]
    return ws.work[start:start + rows * n_out].reshape((rows, n_out))


@inline_kernel
def layer_row(ws, l):
    """The first row ``(n_out,)`` of layer l's output block, without a 2-D view's cost."""
    start = ws.offsets[l]
    return ws.work[start:start + ws.widths[l]]


@kernel
def delta_block(buffer, rows, width):
    """A ``(rows, width)`` view of the start of a delta buffer."""
    return buffer[:rows * width].reshape((rows, width))
