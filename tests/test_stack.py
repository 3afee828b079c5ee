"""The training kernels' stack frames aligned to 64 bytes (kernels/stack.py)."""
import re

import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.fpmode import X86_64
from fastmlp.kernels.stack import LINE_BYTES, align_stack

pytestmark = pytest.mark.skipif(not X86_64, reason="checks x86-64 machine code")


def test_a_kernel_that_aligns_its_stack_realigns_its_frame():
    @njit
    def aligned(x):
        align_stack()
        return x + 1.0

    @njit
    def plain(x):
        return x + 1.0

    def realigns(f):
        asm = f.inspect_asm(f.signatures[0])
        return bool(re.search(rf"andq\s+\$-{LINE_BYTES}, %rsp", asm))

    assert aligned(np.float32(1.0)) == 2.0 and plain(np.float32(1.0)) == 2.0
    assert realigns(aligned)
    assert not realigns(plain)
