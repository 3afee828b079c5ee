"""A kernel's stack frame aligned to 64 bytes, so that the vectors LLVM spills there are too.

The training kernels keep more vectors live than AVX-512's 32 registers hold, so LLVM spills
some to the stack: in per-sample SGD, 12 vectors in each pass of a hidden layer's fused step
(``vectors.whole_vector_block_step``, 16 rows at a time), each stored and read back as an
operand of a fused multiply-add. LLVM lays the frame out from the stack pointer the kernel is
called with, which is 16-byte aligned only, and the stack's start moves from process to process
(address-space randomization, the size of the environment): in over half of all processes most
spilled 64-byte vectors straddled two cache lines. MNIST per-sample SGD took 216-234 ms an
epoch in those processes and 192-199 ms in the others, the same code on the same data (and with
the address space fixed, the band followed the environment's size). With the frame realigned on
entry (one AND of the stack pointer), LLVM gives each spilled vector a line of its own: 192-201
ms in each of 25 processes, against 193-234 ms for the code before (over 215 ms in 16 of 25);
float64 346-365 ms against 354-462 ms (three each); the same bits. Minibatches, momentum,
digits and dense inputs took the same time either way (see benchmarks/HISTORY.md, the session
of 2026-12-06 15:34).

Only the frame of the kernel that calls ``align_stack`` is realigned. The kernels it calls
that are compiled apart rather than inlined (``kernel``, not ``inline_kernel``), such as the
parts of ``parallel.thread_batch_epochs``, have frames of their own: at a fixed offset from
the realigned one, so their speed no longer varies between processes, but a change in the
caller's frame could move them; a callee found to spill vectors in a hot loop should call it
too. (The parts' bodies realigned as well, when they were the bodies of Numba's parallel
loops, ran no faster.)
"""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .prefetch import LINE_BYTES


@intrinsic
def align_stack(typingctx):
    """Make the calling kernel realign its stack frame to LINE_BYTES on entry. (LLVM realigns
    a frame that holds a slot aligned more strictly than the stack: here a byte's, which an
    empty instruction takes the address of so that it is kept.)"""
    def codegen(context, builder, signature, args):
        with builder.goto_entry_block():  # (not cgutils.alloca_once, which zeroes the slot)
            slot = builder.alloca(ir.IntType(8))
        slot.align = LINE_BYTES
        keep = ir.InlineAsm(ir.FunctionType(ir.VoidType(), [slot.type]), "", "r",
                            side_effect=True)
        builder.call(keep, [slot])
        return context.get_dummy_value()
    return types.none(), codegen
