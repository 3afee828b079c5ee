"""Subnormal numbers flushed to zero while the kernels run (x86-64: MXCSR's FTZ and DAZ bits).

On many x86 CPUs an operation whose operand or result is subnormal (nonzero but below ~1.2e-38
in float32, ~2.2e-308 in float64) takes a microcode assist, ~100 times a normal operation.
Saturated units make such numbers in every layer: on this project's Intel Xeon, per-sample SGD
on MNIST at lr 1.0 (a rate too high for it) took 3.5-6 s per epoch instead of 0.34 s. With
FTZ a result below the normal range is 0, with DAZ such an operand counts as 0: the kernels
never see one, and what they compute changes only below ~1e-38.

The mode belongs to a thread: ``Network`` sets it around its kernel calls and puts the
caller's back afterwards; each thread of a threaded call (``parallel``) sets and restores
it on its own.
Elsewhere than on x86-64 these change nothing.
"""
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .jit import inline_kernel

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
FLUSH = 0x8040  # FTZ (bit 15): subnormal results are 0; DAZ (bit 6): subnormal operands are 0


@intrinsic
def _exchange_mode(typingctx, mode):
    """The thread's MXCSR, replaced by ``mode`` if mode >= 0."""
    if not isinstance(mode, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        int32, int64 = ir.IntType(32), ir.IntType(64)
        if not X86_64:
            return int64(0)
        pointer = ir.IntType(8).as_pointer()
        function = ir.FunctionType(ir.VoidType(), [pointer])
        store = cgutils.get_or_insert_function(builder.module, function, "llvm.x86.sse.stmxcsr")
        load = cgutils.get_or_insert_function(builder.module, function, "llvm.x86.sse.ldmxcsr")
        slot = cgutils.alloca_once(builder, int32)
        builder.call(store, [builder.bitcast(slot, pointer)])
        previous = builder.zext(builder.load(slot), int64)
        new = context.cast(builder, args[0], signature.args[0], types.int64)
        with builder.if_then(builder.icmp_signed(">=", new, int64(0))):
            builder.store(builder.trunc(new, int32), slot)
            builder.call(load, [builder.bitcast(slot, pointer)])
        return previous
    return types.int64(mode), codegen


@inline_kernel
def current_mode():
    """The calling thread's floating-point mode (MXCSR; 0 elsewhere than on x86-64)."""
    return _exchange_mode(-1)


@inline_kernel
def flush_subnormals():
    """Subnormal numbers flushed to zero on this thread; returns the mode to restore."""
    previous = _exchange_mode(-1)
    _exchange_mode(previous | FLUSH)
    return previous


@inline_kernel
def restore_mode(previous):
    """This thread's mode back to ``previous`` (from ``flush_subnormals``)."""
    _exchange_mode(previous)
