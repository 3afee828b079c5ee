"""Threads that wait for each other: a barrier over a small int64 array shared by all of them.

``wait_for_all(sync, threads)`` returns once each of the ``threads`` threads running a kernel
has called it (sync: ``SYNC_SIZE`` int64 entries, zeroed, one array for all of them). The
last thread to arrive resets the count and moves the generation on; the others spin on the
generation, a ``pause`` between reads on x86-64, so a hand-over costs the time a cache line
takes to travel between cores (a thread that has to sleep and wake would cost microseconds).
Spinning suits one thread per core, which is how ``parallel`` starts them. A thread that has
spun SPINS times (another process's work on the cores, say, has descheduled the one it waits
for) sleeps until woken (``sleep_while``, ``wake_all``: Linux's futex), so that its core is
free for the thread it waits for, as OpenMP's threads do.

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

from .fpmode import X86_64
from .jit import inline_kernel

POSIX = os.name == "posix"
# Linux's futex system call: its number, where known, and its private wait and wake.
FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98}.get(
    platform.machine().lower()) if platform.system() == "Linux" else None
FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 128, 129
SPINS = 1 << 12  # pauses (tens of microseconds) before a waiting thread sleeps
# Entries of sync, each on a cache line of its own (64 bytes = 8 int64).
ARRIVED, GENERATION, FAILED, SLEEPERS = 0, 8, 16, 24
SYNC_SIZE = 32


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
def sleep_while(typingctx, a, k, value):
    """Sleep until a[k] (an int64 of a generation count) changes from ``value``, is woken
    (``wake_all``), or a millisecond has passed: Linux's futex on a[k]'s low 32 bits; a
    sleep of 50 us on other POSIX systems; nothing elsewhere."""
    if not (_is_int64_array(a) and isinstance(k, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        int32, int64 = ir.IntType(32), ir.IntType(64)
        if FUTEX is not None:
            expected = builder.zext(builder.trunc(context.cast(builder, args[2], value,
                                                               types.int64), int32), int64)
            timeout = cgutils.alloca_once(builder, ir.LiteralStructType([int64, int64]))
            builder.store(ir.Constant(timeout.type.pointee, [0, 1_000_000]), timeout)
            _futex(context, builder, a, args[0], k, args[1], FUTEX_WAIT_PRIVATE, expected,
                   timeout)
        elif POSIX:
            builder.call(cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(int32, [int32]), "usleep"), [int32(50)])
        return context.get_dummy_value()
    return types.none(a, k, value), codegen


@intrinsic
def wake_all(typingctx, a, k):
    """Wake every thread sleeping in ``sleep_while`` on a[k] (Linux; nothing elsewhere, where
    they wake by themselves)."""
    if not (_is_int64_array(a) and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        if FUTEX is not None:
            _futex(context, builder, a, args[0], k, args[1], FUTEX_WAKE_PRIVATE,
                   ir.IntType(64)(2 ** 31 - 1))
        return context.get_dummy_value()
    return types.none(a, k), codegen


def _futex(context, builder, a_ty, a_val, k_ty, k_val, operation, *rest):
    """Linux's futex call ``operation`` on the low 32 bits of a[k], with the arguments
    ``rest`` after it (through libc's ``long syscall(long number, ...)``)."""
    int64 = ir.IntType(64)
    syscall = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(int64, [int64], var_arg=True), "syscall")
    word = builder.bitcast(_entry(context, builder, a_ty, a_val, k_ty, k_val),
                           ir.IntType(32).as_pointer())
    builder.call(syscall, [int64(FUTEX), word, int64(operation), *rest])


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
        if atomic_load(sync, SLEEPERS) != 0:
            wake_all(sync, GENERATION)
        return atomic_load(sync, FAILED) == 0
    spins = 0
    while atomic_load(sync, GENERATION) == generation:
        if atomic_load(sync, FAILED) != 0:
            return False
        if spins < SPINS:
            pause()
            spins += 1
        else:
            # (Counted first: the last thread to arrive moves the generation on, then looks
            # for sleepers; a sleeper whose generation has moved on returns at once.)
            atomic_add(sync, SLEEPERS, 1)
            sleep_while(sync, GENERATION, generation)
            atomic_add(sync, SLEEPERS, -1)
    return atomic_load(sync, FAILED) == 0
