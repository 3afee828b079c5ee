"""Views that hold no reference to their memory, for the per-sample loops.

Every array view Numba makes (a row ``X[i]``, a slice, an array passed into an inlined
kernel, a list of views passed on) takes a reference to the memory it views: an atomic
increment when made and an atomic decrement when dropped, which LLVM may not remove when a
loop or another view's decrement lies between. Per-sample SGD on digits 64-32-10 made 49
such pairs per sample, a sixth of its time and more when the other core is busy; XOR's step
took 2.2x as long with them. A view of a borrowed array holds no reference, so making and
passing it costs no atomic operation.

The rule: borrow only arrays that outlive every view made of them, a kernel's arguments (the
caller holds them) or buffers that a variable of the same loop iteration still holds.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def borrowed(typingctx, array):
    """``array`` itself, as a view that holds no reference (a null meminfo)."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        source = make_array(signature.args[0])(context, builder, value=args[0])
        view = make_array(signature.return_type)(context, builder)
        populate_array(view, data=source.data, shape=source.shape, strides=source.strides,
                       itemsize=source.itemsize, meminfo=None)
        return view._getvalue()
    return array(array), codegen


@intrinsic
def borrowed_matrix(typingctx, buffer, start, rows, cols):
    """A borrowed ``(rows, cols)`` C-ordered view of ``buffer[start:start + rows * cols]``,
    for a 1-D C-contiguous buffer; made without the checks of a slice and reshape, so the
    caller keeps it in bounds."""
    if not (isinstance(buffer, types.Array) and buffer.ndim == 1 and buffer.layout == "C"):
        return None
    matrix = types.Array(buffer.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        source = make_array(signature.args[0])(context, builder, value=args[0])
        first, n_rows, n_cols = (context.cast(builder, value, typ, types.intp) for value, typ
                                 in zip(args[1:], signature.args[1:]))
        view = make_array(matrix)(context, builder)
        itemsize = source.itemsize
        populate_array(view, data=builder.gep(source.data, [first]),
                       shape=cgutils.pack_array(builder, [n_rows, n_cols]),
                       strides=cgutils.pack_array(builder, [builder.mul(n_cols, itemsize),
                                                            itemsize]),
                       itemsize=itemsize, meminfo=None)
        return view._getvalue()
    return matrix(buffer, start, rows, cols), codegen
