"""The positions of a row's nonzero entries, one 32-byte vector at a time.

A loop over the entries one by one costs about five instructions each (a compare, a store, a
count), and MNIST's 784 pixels took a tenth of a per-sample step. Here a vector of 8 float32
(4 float64) is compared with zero at once; the bits of the comparison pick a row of a table
that lists their positions, that row is stored whole, and the count advances by the number of
set bits (the usual lookup-table stream compaction, for want of AVX-512's compress). LLVM
does not write this itself: Numba leaves its SLP vectorizer off, and the loop vectorizer does
not compact. 32 bytes is AVX2's width; on narrower hardware LLVM splits the vector.
"""
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array

VECTOR_BYTES = 32  # AVX2


def lanes(dtype) -> int:
    """Entries per vector."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


def bit_positions(n_lanes: int) -> np.ndarray:
    """``(2 ** n_lanes, n_lanes)`` int32: row m lists the set bits of m, lowest first."""
    table = np.zeros((2 ** n_lanes, n_lanes), np.int32)
    for m in range(2 ** n_lanes):
        bits = [q for q in range(n_lanes) if m >> q & 1]
        table[m, :len(bits)] = bits
    return table


TABLES = {types.float32: bit_positions(lanes(np.float32)),
          types.float64: bit_positions(lanes(np.float64))}


def position_table(a):
    """The ``bit_positions`` table for vectors of a's dtype (in kernels: a constant)."""
    return TABLES[numba.from_dtype(a.dtype)]


@overload(position_table)
def _position_table(a):
    table = TABLES[a.dtype]
    return lambda a: table


@intrinsic
def compact_vector(typingctx, a, i, index, k, table):
    """For the vector a[i:i + L] (L = ``lanes(a.dtype)``): index[k:k + c] <- the positions
    of its c nonzero entries; returns c. Writes index[k:k + L] (past k + c: anything), so
    the caller keeps k + L within index. NaN counts as nonzero, -0.0 as zero, as ``!= 0``."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and a.dtype in (types.float32, types.float64)
            and isinstance(index, types.Array) and index.dtype == types.int32
            and index.ndim == 1 and index.layout == "C"
            and isinstance(table, types.Array) and table.dtype == types.int32):
        return None
    n_lanes = VECTOR_BYTES // (a.dtype.bitwidth // 8)

    def codegen(context, builder, signature, args):
        a_val, i_val, index_val, k_val, table_val = args
        a_ty, i_ty, index_ty, k_ty, _ = signature.args
        i_val = context.cast(builder, i_val, i_ty, types.intp)
        k_val = context.cast(builder, k_val, k_ty, types.intp)
        float_t = context.get_value_type(a.dtype)
        int32 = ir.IntType(32)
        floats = ir.VectorType(float_t, n_lanes)
        ints = ir.VectorType(int32, n_lanes)
        source = builder.gep(make_array(a_ty)(context, builder, a_val).data, [i_val])
        values = builder.load(builder.bitcast(source, floats.as_pointer()), align=4)
        nonzero = builder.fcmp_unordered("!=", values, ir.Constant(floats, None))
        mask = builder.zext(builder.bitcast(nonzero, ir.IntType(n_lanes)), cgutils.intp_t)
        row = builder.gep(make_array(table)(context, builder, table_val).data,
                          [builder.mul(mask, cgutils.intp_t(n_lanes))])
        positions = builder.load(builder.bitcast(row, ints.as_pointer()), align=4)
        start = builder.trunc(i_val, int32)
        splat = builder.insert_element(ir.Constant(ints, ir.Undefined), start, int32(0))
        splat = builder.shuffle_vector(splat, ir.Constant(ints, ir.Undefined),
                                       ir.Constant(ints, None))
        target = builder.gep(make_array(index_ty)(context, builder, index_val).data, [k_val])
        builder.store(builder.add(positions, splat), builder.bitcast(target, ints.as_pointer()),
                      align=4)
        count = builder.call(builder.module.declare_intrinsic("llvm.ctpop", [cgutils.intp_t]),
                             [mask])
        return count
    return types.intp(a, i, index, k, table), codegen


@intrinsic
def lowest_set_bit(typingctx, word):
    """The position of word's lowest set bit (a uint64 that is not 0): one instruction
    (``tzcnt``), where a loop over the bits would take one step per bit."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        int64 = ir.IntType(64)
        count = builder.module.declare_intrinsic(
            "llvm.cttz", [int64], ir.FunctionType(int64, [int64, ir.IntType(1)]))
        return builder.call(count, [args[0], ir.IntType(1)(1)])  # (1: never called with 0)
    return types.int64(word), codegen
