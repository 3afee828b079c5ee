"""Asking for the next samples' rows before they are needed.

Training visits the samples in a shuffled order, so each one's input row (3 KB for MNIST) and
target row start out in DRAM or L3, and the first reads of each wait for them: the scan of a
per-sample step's input for its nonzeros and the copy of a batch's rows into its block were
the hottest loads of their loops. Hardware prefetchers only catch on within a row. A
prefetch of the row's start a few samples ahead (see ``prefetch_row`` and ``train.AHEAD``)
lets more of those loads find it in cache: MNIST 1.07x per sample, 1.04-1.05x in batches,
though the copy of a batch's rows still took about a tenth of a batch-128 epoch, mostly
waiting for DRAM. Every line of the row further ahead (``train.FAR_AHEAD``), into L2 only,
then brings the rest of it: MNIST per sample 1.02-1.05x, batch 128 1.03-1.04x on Zen 4.
A prefetch changes no value and never faults, so results are the same bits.
"""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .jit import inline_kernel

PAGE_BYTES = 4096
LINE_BYTES = 64
EVERY_LINE_UP_TO = 1024  # bytes


def _prefetch_line(locality: int):
    """The code of a prefetch of the line holding ``array[k]``, with LLVM's ``locality``."""
    def codegen(context, builder, signature, args):
        array_ty, k_ty = signature.args
        data = make_array(array_ty)(context, builder, args[0]).data
        address = builder.gep(data, [context.cast(builder, args[1], k_ty, types.intp)])
        pointer = builder.bitcast(address, ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [pointer.type],
            ir.FunctionType(ir.VoidType(), [pointer.type, int32, int32, int32]))
        # (read, locality, data cache)
        builder.call(function, [pointer, int32(0), int32(locality), int32(1)])
        return context.get_dummy_value()
    return codegen


def _is_vector_and_index(array, k) -> bool:
    return isinstance(array, types.Array) and array.ndim == 1 and isinstance(k, types.Integer)


@intrinsic
def prefetch(typingctx, array, k):
    """Bring the cache line holding ``array[k]`` (a 1-D array) into L1, for reading."""
    if not _is_vector_and_index(array, k):
        return None
    return types.none(array, k), _prefetch_line(3)  # (prefetcht0)


@intrinsic
def prefetch_to_l2(typingctx, array, k):
    """``prefetch`` into L2 only, leaving L1 to the loops at work."""
    if not _is_vector_and_index(array, k):
        return None
    return types.none(array, k), _prefetch_line(2)  # (prefetcht1)


@inline_kernel
def prefetch_row(row):
    """Prefetch ``row`` (1-D, contiguous): its first line, one line every 4 KB after it, and
    its last line; every line of a row of up to EVERY_LINE_UP_TO bytes. The hardware's
    prefetchers bring in the lines that follow a touched one (within its 4 KB page), so a
    prefetch of every line of MNIST's 3 KB rows, as before, cost more issue slots and miss
    buffers than it saved: side by side on the Intel Xeon these few train MNIST 1.02-1.05x
    faster per sample and 1.02-1.035x at batch 32 and 128, and no prefetch at all 0.93x and
    0.95-0.96x as fast as these; on AMD's Zen 4 every line 0.90-1.05x per sample (noisy).
    A short row is over before those prefetchers catch on: on Zen 4 the scan of digits'
    256-byte rows for nonzeros waited on their middle lines (a quarter of the epoch), and
    every line made digits per sample 1.07-1.095x as fast (bike sharing 1.02x; Intel: the
    same either way)."""
    step = PAGE_BYTES // row.itemsize
    if row.shape[0] * row.itemsize <= EVERY_LINE_UP_TO:
        step = LINE_BYTES // row.itemsize
    for k in range(0, row.shape[0], step):
        prefetch(row, k)
    if row.shape[0] > 0:
        prefetch(row, row.shape[0] - 1)


@inline_kernel
def prefetch_sample(X, T, i):
    """Prefetch sample i's input and target rows (X, T: 2-D, C-contiguous)."""
    prefetch_row(X[i])
    prefetch_row(T[i])


@inline_kernel
def prefetch_row_to_l2(row):
    """Prefetch every line of ``row`` (1-D, contiguous) into L2."""
    for k in range(0, row.shape[0], LINE_BYTES // row.itemsize):
        prefetch_to_l2(row, k)


@inline_kernel
def prefetch_ahead(X, T, order, position, stop, near, far):
    """For a loop over the samples ``order[position]`` up to position stop: prefetch the
    rows of the sample ``near`` positions ahead (``prefetch_sample``), and every line of the
    input row ``far`` positions ahead into L2 (see the module's docstring)."""
    if position + near < stop:
        prefetch_sample(X, T, order[position + near])
    if position + far < stop:
        prefetch_row_to_l2(X[order[position + far]])
