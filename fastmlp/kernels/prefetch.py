"""Asking for the next samples' rows before they are needed.

Training visits the samples in a shuffled order, so each one's input row (3 KB for MNIST) and
target row start out in DRAM or L3, and the first reads of each wait for them: the scan of a
per-sample step's input for its nonzeros and the copy of a batch's rows into its block were
the hottest loads of their loops. Hardware prefetchers only catch on within a row. A
prefetch of the row's start a few samples ahead (see ``prefetch_row`` and ``train.AHEAD``)
lets more of those loads find it in cache: MNIST 1.07x per sample, 1.04-1.05x in batches,
though the copy of a batch's rows still took about a tenth of a batch-128 epoch, mostly
waiting for DRAM. In batches, every line of the input row further ahead
(``train.FAR_AHEAD``), into L2 only, brings the rest of it: on Zen 4, MNIST batch 128 1.03x;
and per sample, for rows over EVERY_LINE_UP_TO (``train.FAR_AHEAD_SAMPLE``): MNIST 1.03x.
A prefetch changes no value and never faults, so results are the same bits.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .jit import inline_kernel

PAGE_BYTES = 4096
LINE_BYTES = 64
EVERY_LINE_UP_TO = 1024  # bytes


def _prefetch_line(builder, address, locality):
    """Emit a prefetch of the line holding ``address``, for reading, with LLVM's locality: 3
    into L1 (``prefetcht0``), 2 into L2 only (``prefetcht1``)."""
    pointer = builder.bitcast(address, ir.IntType(8).as_pointer())
    int32 = ir.IntType(32)
    function = builder.module.declare_intrinsic(
        "llvm.prefetch", [pointer.type],
        ir.FunctionType(ir.VoidType(), [pointer.type, int32, int32, int32]))
    builder.call(function, [pointer, int32(0), int32(locality), int32(1)])  # (data cache)


@intrinsic
def prefetch(typingctx, array, k):
    """Bring the cache line holding ``array[k]`` (a 1-D array) into L1, for reading."""
    if not (isinstance(array, types.Array) and array.ndim == 1
            and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_ty, k_ty = signature.args
        data = make_array(array_ty)(context, builder, args[0]).data
        _prefetch_line(builder, builder.gep(data, [context.cast(builder, args[1], k_ty,
                                                                types.intp)]), 3)
        return context.get_dummy_value()
    return types.none(array, k), codegen


@intrinsic
def prefetch_row_to_l2(typingctx, X, i):
    """Bring row i of X (2-D, C-contiguous) into L2 only, leaving L1 to the loops at work: one
    prefetch every 64 bytes from the row's start. (A row that does not start on a line
    boundary, as NumPy's rows at 16 mod 64 do not, has its last line left to
    ``prefetch_row``'s last-line prefetch.) An intrinsic because, written as an inline
    kernel, its loop cost Numba 2.8% more work in the per-sample process when the per-sample
    kernels called it (``fastmlp compile`` 14.35-15.05 s against 13.93-14.11 s)."""
    if not (isinstance(X, types.Array) and X.ndim == 2 and X.layout == "C"
            and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        X_ty, i_ty = signature.args
        array = make_array(X_ty)(context, builder, args[0])
        n = cgutils.unpack_tuple(builder, array.shape)[1]
        i = context.cast(builder, args[1], i_ty, types.intp)
        row = builder.bitcast(builder.gep(array.data, [builder.mul(i, n)]),
                              ir.IntType(8).as_pointer())
        n_bytes = builder.mul(n, array.itemsize)
        with cgutils.for_range_slice(builder, cgutils.intp_t(0), n_bytes,
                                     cgutils.intp_t(LINE_BYTES)) as (offset, _):
            _prefetch_line(builder, builder.gep(row, [offset]), 2)
        return context.get_dummy_value()
    return types.none(X, i), codegen


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
