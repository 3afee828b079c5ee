"""The training kernels' stack frames aligned to 64 bytes (kernels/stack.py)."""
import ast
import importlib
import inspect
import re
import textwrap

import numpy as np
import pytest
from numba import njit

from fastmlp.kernels.fpmode import X86_64
from fastmlp.kernels.stack import LINE_BYTES, align_stack


@pytest.mark.skipif(not X86_64, reason="checks x86-64 machine code")
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


@pytest.mark.parametrize("module, name", [
    ("train", "sgd_sample_epochs"), ("train", "batch_epochs"),
    ("momentum", "momentum_sample_epochs"), ("adam", "adam_sample_epochs"),
    ("parallel", "thread_batch_epochs")])
def test_each_training_kernel_aligns_its_stack_first(module, name):
    kernel = getattr(importlib.import_module(f"fastmlp.kernels.{module}"), name)
    body = ast.parse(textwrap.dedent(inspect.getsource(kernel.py_func))).body[0].body
    first = body[1] if isinstance(body[0].value, ast.Constant) else body[0]  # (the docstring)
    assert ast.unparse(first) == "align_stack()"
