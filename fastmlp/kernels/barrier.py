"""Threads that wait for each other: a barrier over a small int64 array shared by all of them.

``wait_for_all(sync, threads)`` returns once each of the ``threads`` threads running a kernel
has called it (sync: ``SYNC_SIZE`` int64 entries, zeroed, one array for all of them). The
last thread to arrive resets the count and moves the generation on; the others spin on the
generation, a ``pause`` between reads on x86-64, so a hand-over costs the time a cache line
takes to travel between cores (a thread that has to sleep and wake would cost microseconds).
Spinning suits one thread per core, which is how ``parallel`` starts them; a thread that has
spun SPINS times (a core busy with another process, say, has descheduled the one it waits
for) gives its core up between reads (``sched_yield``, where there is one).

A thread that cannot go on (its Python wrapper caught an exception) sets ``sync[FAILED]``:
every thread waiting returns False instead of waiting forever, and so does every later wait.
"""
import os
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .jit import inline_kernel

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
POSIX = os.name == "posix"
SPINS = 1 << 14  # about a millisecond of pauses
# Entries of sync, each on a cache line of its own (64 bytes = 8 int64).
ARRIVED, GENERATION, FAILED = 0, 8, 16
SYNC_SIZE = 24


def _is_int64_array(a) -> bool:
    return isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.int64


def _entry(context, builder, a_ty, a_val, k_ty, k_val):
    """The address of a[k]."""
    data = make_array(a_ty)(context, builder, a_val).data
    return builder.gep(data, [context.cast(builder, k_val, k_ty, types.intp)])


@intrinsic
def atomic_add(typingctx, a, k, value):
    """a[k] += value as one atomic step, ordered with every other atomic step; returns the
    value a[k] held before."""
    if not (_is_int64_array(a) and isinstance(k, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        pointer = _entry(context, builder, a, args[0], k, args[1])
        v = context.cast(builder, args[2], value, types.int64)
        return builder.atomic_rmw("add", pointer, v, "seq_cst")
    return types.int64(a, k, value), codegen


@intrinsic
def atomic_load(typingctx, a, k):
    """a[k], read from memory every time (a plain read may be hoisted out of a loop) and after
    every atomic step before it."""
    if not (_is_int64_array(a) and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_entry(context, builder, a, args[0], k, args[1]), "seq_cst",
                                   8)
    return types.int64(a, k), codegen


@intrinsic
def atomic_store(typingctx, a, k, value):
    """a[k] <- value, ordered with every atomic step."""
    if not (_is_int64_array(a) and isinstance(k, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        v = context.cast(builder, args[2], value, types.int64)
        builder.store_atomic(v, _entry(context, builder, a, args[0], k, args[1]), "seq_cst", 8)
        return context.get_dummy_value()
    return types.none(a, k, value), codegen


@intrinsic
def pause(typingctx):
    """x86's spin-wait hint (``pause``): the core spends less on the loop, and its other
    hardware thread gets more; nothing elsewhere."""
    def codegen(context, builder, signature, args):
        if X86_64:
            builder.call(cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def yield_core(typingctx):
    """Let the OS run another thread on this core for a while (POSIX ``sched_yield``; nothing
    elsewhere)."""
    def codegen(context, builder, signature, args):
        if POSIX:
            builder.call(cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield"), [])
        return context.get_dummy_value()
    return types.none(), codegen


@inline_kernel
def wait_for_all(sync, threads):
    """Return True once all ``threads`` threads have called this (with the same sync), or
    False if one of them failed (``sync[FAILED]``)."""
    if threads == 1:
        return True
    generation = atomic_load(sync, GENERATION)
    if atomic_add(sync, ARRIVED, 1) == threads - 1:  # the last to arrive lets the others go
        atomic_store(sync, ARRIVED, 0)
        atomic_add(sync, GENERATION, 1)
        return atomic_load(sync, FAILED) == 0
    spins = 0
    while atomic_load(sync, GENERATION) == generation:
        if atomic_load(sync, FAILED) != 0:
            return False
        if spins < SPINS:
            pause()
            spins += 1
        else:
            yield_core()
    return atomic_load(sync, FAILED) == 0
