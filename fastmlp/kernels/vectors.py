"""Rows of W as vectors of 16 entries (one 64-byte register of float32, two of float64), where
LLVM's loops do worse:
- per sample, the forward sums of rows up to SUM_VECTORS wide in registers, the last
  vector masked (``forward.sample_forward_row``, ``momentum.lagged_forward_row``): the
  softmax layer of a small net (10 classes), narrow hidden layers;
- per sample, the fused backward dot products and SGD steps of hidden layers' rows up to one
  vector wide or of 2 to BLOCK_VECTORS whole vectors, 16 rows at a time
  (``backward.hidden_layer_sgd``);
- the first layer's steps of rows of up to STEP_VECTORS whole vectors (and the entries after
  them), per sample (``backward.sgd_nonzero_rows``, ``momentum.lagged_step``) and in
  minibatches (``backward.sparse_sgd_step``), there a row's steps from a block of samples in
  registers at once (``whole_vector_row_steps``);
- per sample, the first layer's waiting steps and forward sums in one pass, for rows of
  PENDING_FROM_BYTES to STEP_VECTORS whole vectors (``deferred.pending_forward``);
- the softmax cross-entropy of up to one vector of outputs (``loss.output_loss``);
- a row's sigmoid and tanh (``activations.activate``).

LLVM vectorizes a loop over a row 32 float32 at a time (8 lanes, unrolled 4 times) and runs
anything shorter one element at a time, so a 10-wide layer ran scalar; a 32-wide row took
one pass of that loop per four inputs, with its checks that rows and sums do not overlap. A
masked load reads the row's n entries into one vector (the lanes past n read nothing and
hold 0); a row of up to SUM_VECTORS sums into registers. Digits (64-32-10) per
sample: the 32->10 layer's forward pass 3x as fast (103 -> 35 ns), the epoch 1.16-1.34x;
MNIST (its 128->64 and 64->10 layers) 1.02-1.05x.

A masked store blocks a later masked load that overlaps its vector's span (not only its n
entries) until the store retires, and narrow rows sit closer than 64 bytes: stepping the
rows one by one in order made digits 0.7x as fast. So ``narrow_block_step`` loads 16 rows,
then steps them as the contiguous vectors of their entries.

Masked loads are single instructions with AVX2 and AVX-512; elsewhere LLVM would split them
into a branch per lane, so there ``narrow_width`` is 0, ``is_narrow``, ``sums_in_vectors``,
``steps_in_vectors`` and ``steps_with_tails`` are false, and callers keep their loops.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from .exp import vector_exp, vector_sigmoid
from .jit import inline_kernel
from .tanh import vector_tanh

# Entries per vector, either dtype: float64 with 8 (one register), the 10-wide layers of MNIST
# and digits stayed scalar, and float64 per sample took 2.03x float32's time (goal: 2x).
VECTOR_LANES = 16
# Rows this narrow or narrower keep their loops: a masked vector for XOR's 3-wide and 1-wide
# layers made its epoch 0.95-1.0x as fast (bike's 1-wide output: the same speed).
SCALAR_UP_TO = 4
# The widest rows narrow_rows_sum takes, in vectors: 128 entries, whose sums fit in eight
# 64-byte registers for float32, sixteen for float64. Float64 rows of 65-128 took LLVM's loop
# until only the last vector was masked (with every vector masked, 0.93x per sample); since,
# in registers, float64 MNIST batch 32 1.075x, batch 128 1.053x, per sample 1.0x.
SUM_VECTORS = 8
STEP_VECTORS = 8  # the widest rows whole_vector_rows_step takes, in vectors
# The narrowest rows pending_rows_sum takes, in bytes. For narrower ones, deferring their steps
# (see ``deferred``) costs more than the pass it saves: each row's slot and coefficient, then
# its deltas' address, come before its first load. Side by side per sample, rows of 64 and 128
# bytes: 0.80-0.84x; 256: 0.91-0.94x; 384: 1.04x; 512: 1.03-1.12x; 1 KB (float64 MNIST) 1.15x.
PENDING_FROM_BYTES = 384
BLOCK_VECTORS = 4  # the widest rows whole_vector_block_step takes, in vectors
MASKED_LOADS = ("+avx2", "+avx512f")  # target features with single-instruction masked loads


def _features(context) -> list[str]:
    """The target features Numba compiles for ("+avx2", ...)."""
    return getattr(context.codegen(), "_tm_features", "").split(",")


def _has_masked_loads(context) -> bool:
    return any(f in _features(context) for f in MASKED_LOADS)


def _has_64_byte_registers(context) -> bool:
    return "+avx512f" in _features(context)


def _is_matrix(W) -> bool:
    return (isinstance(W, types.Array) and W.ndim == 2 and W.layout == "C"
            and W.dtype in (types.float32, types.float64))


def _is_vector(a, dtype) -> bool:
    return isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and a.dtype == dtype


def _is_row(z) -> bool:
    """Whether z is a contiguous float32 or float64 vector."""
    return isinstance(z, types.Array) and _is_vector(z, z.dtype) and z.dtype in (types.float32,
                                                                                 types.float64)


@intrinsic
def narrow_width(typingctx, W):
    """A vector's entries (VECTOR_LANES), or 0 where the CPU has no masked loads. W: a matrix
    or a row."""
    if not (_is_matrix(W) or _is_row(W)):
        return None

    def codegen(context, builder, signature, args):
        return cgutils.intp_t(VECTOR_LANES if _has_masked_loads(context) else 0)
    return types.intp(W), codegen


@intrinsic
def register_bytes(typingctx, W):
    """The bytes of a vector register: 64 with AVX-512 (32 registers), else 32 (AVX2: 16).
    W: a matrix or a row (for its typing only)."""
    if not (_is_matrix(W) or _is_row(W)):
        return None

    def codegen(context, builder, signature, args):
        return cgutils.intp_t(64 if _has_64_byte_registers(context) else 32)
    return types.intp(W), codegen


# (Kernels, not intrinsics that compare the width themselves: with those, digits per
# sample ran 1.10-1.22x slower, for no reason found.)
@inline_kernel
def is_narrow(W) -> bool:
    """Whether W's rows go through ``narrow_block_step``: one vector each."""
    return SCALAR_UP_TO < W.shape[1] <= narrow_width(W)


@inline_kernel
def steps_in_vectors(W) -> bool:
    """Whether W's rows go through ``whole_vector_rows_step``: 1 to STEP_VECTORS whole
    vectors each."""
    lanes = narrow_width(W)
    return lanes > 0 and W.shape[1] % lanes == 0 and W.shape[1] <= STEP_VECTORS * lanes


@inline_kernel
def row_steps_in_registers(W) -> bool:
    """Whether W's rows go through ``whole_vector_row_steps``: rows of whole vectors
    (``steps_in_vectors``) on a CPU with AVX-512, where a row of up to STEP_VECTORS vectors
    (16 registers in float64) leaves half of its 32 registers free. (With AVX2's 16, a wide
    row would spill; not measured.)"""
    return steps_in_vectors(W) and register_bytes(W) == 64


@inline_kernel
def steps_with_tails(W) -> bool:
    """Whether W's rows go through ``whole_vector_rows_step`` with tails: 1 to STEP_VECTORS
    whole vectors each, and maybe fewer than a vector's entries after them."""
    lanes = narrow_width(W)
    return lanes > 0 and lanes <= W.shape[1] < (STEP_VECTORS + 1) * lanes


@inline_kernel
def blocks_in_vectors(W) -> bool:
    """Whether W's rows go through ``whole_vector_block_step``: 2 to BLOCK_VECTORS whole
    vectors each."""
    lanes = narrow_width(W)
    return lanes > 0 and W.shape[1] % lanes == 0 and lanes < W.shape[1] <= BLOCK_VECTORS * lanes


@inline_kernel
def takes_pending_rows(W) -> bool:
    """Whether W's rows go through ``pending_rows_sum``: PENDING_FROM_BYTES or more, of 1 to
    STEP_VECTORS whole vectors."""
    return steps_in_vectors(W) and W.shape[1] * W.itemsize >= PENDING_FROM_BYTES


@inline_kernel
def map_in_vectors(z) -> bool:
    """Whether the row z goes through ``sigmoid_row`` and ``tanh_row``."""
    return SCALAR_UP_TO < z.shape[0] and narrow_width(z) > 0


@inline_kernel
def fits_vector(z) -> bool:
    """Whether the row z goes through ``one_vector_cross_entropy``: one vector or less."""
    return z.shape[0] <= narrow_width(z)


@inline_kernel
def sums_in_vectors(W) -> bool:
    """Whether W's rows go through ``narrow_rows_sum``: up to SUM_VECTORS each."""
    return (narrow_width(W) > 0 and SCALAR_UP_TO < W.shape[1]
            and W.shape[1] <= SUM_VECTORS * VECTOR_LANES)


def _splat(builder, vector_t, x):
    """A vector of vector_t whose every lane is x."""
    one = builder.insert_element(ir.Constant(vector_t, ir.Undefined), x, ir.IntType(32)(0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector_t.count), None)
    return builder.shuffle_vector(one, ir.Constant(vector_t, ir.Undefined), zeros)


def _first_lanes(builder, count, n):
    """The mask of the first n of count lanes."""
    lanes_t = ir.VectorType(cgutils.intp_t, count)
    return builder.icmp_unsigned("<", ir.Constant(lanes_t, list(range(count))),
                                 _splat(builder, lanes_t, n))


def _suffix(vector_t) -> str:
    """How LLVM's intrinsics name vector_t: v16f32, v16f64."""
    return f"v{vector_t.count}{vector_t.element.intrinsic_name}"


def _masked_load(builder, vector_t, pointer, mask):
    """The lanes of vector_t at pointer that mask selects; 0 in the others. (The names of the
    masked intrinsics end in ``.p0``: LLVM's opaque pointers, as in llvmlite 0.50.)"""
    load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector_t, [ir.PointerType(), ir.IntType(32), mask.type,
                                                   vector_t]),
        f"llvm.masked.load.{_suffix(vector_t)}.p0")
    return builder.call(load, [pointer, ir.IntType(32)(4), mask, ir.Constant(vector_t, None)])


def _masked_store(builder, value, pointer, mask):
    vector_t = value.type
    store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vector_t, ir.PointerType(),
                                                        ir.IntType(32), mask.type]),
        f"llvm.masked.store.{_suffix(vector_t)}.p0")
    builder.call(store, [value, pointer, ir.IntType(32)(4), mask])


def _vector_at(builder, vector_t, pointer, offset):
    """A pointer to the vector_t that starts offset entries past pointer."""
    return builder.bitcast(builder.gep(pointer, [offset]), vector_t.as_pointer())


def _row(context, builder, W_ty, W_val, i, i_ty):
    """A pointer to row i of the C-contiguous matrix W, and W's row length."""
    W_arr = make_array(W_ty)(context, builder, W_val)
    n = cgutils.unpack_tuple(builder, W_arr.shape)[1]
    i = context.cast(builder, i, i_ty, types.intp)
    return builder.gep(W_arr.data, [builder.mul(i, n)]), n


def _are_listed_rows(a, index, k, W) -> bool:
    """Whether a (n_in,), index (integers) and k fit W for ``_listed_row``."""
    return (_is_matrix(W) and _is_vector(a, W.dtype) and isinstance(index, types.Array)
            and index.ndim == 1 and isinstance(index.dtype, types.Integer)
            and isinstance(k, types.Integer))


def _listed_row(context, builder, a_ty, a_val, index_ty, index_val, W_ty, W_val, t):
    """For i = index[t]: a pointer to row i of W, a[i], and i (an intp)."""
    i = builder.load(builder.gep(make_array(index_ty)(context, builder, index_val).data, [t]))
    row, _ = _row(context, builder, W_ty, W_val, i, index_ty.dtype)
    i = context.cast(builder, i, index_ty.dtype, types.intp)
    a_data = make_array(a_ty)(context, builder, a_val).data
    return row, builder.load(builder.gep(a_data, [i])), i


def _sum_lanes(builder, vector):
    """The sum of a vector's lanes, in any order."""
    vector_t = vector.type
    f = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector_t.element, [vector_t.element, vector_t]),
        f"llvm.vector.reduce.fadd.{_suffix(vector_t)}")
    return builder.call(f, [ir.Constant(vector_t.element, 0.0), vector], fastmath=("reassoc",))


def _max_lanes(builder, vector):
    """The largest of a vector's lanes (or any lane, with NaN among them), as a tree of
    vector comparisons: LLVM's own reduction goes one lane after the other, to keep NaN."""
    count = vector.type.count
    width = count // 2
    while width >= 1:
        other = builder.shuffle_vector(vector, ir.Constant(vector.type, ir.Undefined), ir.Constant(
            ir.VectorType(ir.IntType(32), count), [(j + width) % count for j in range(count)]))
        vector = builder.select(builder.fcmp_ordered(">", other, vector), other, vector)
        width //= 2
    return builder.extract_element(vector, ir.IntType(32)(0))


def _sum_rows(builder, k_val, n_vectors, counts, vector_t, terms, store_sums):
    """The loops of a sum over t < k of row terms, for rows of n_vectors vectors, one of
    ``counts``: ``terms(t, count)`` gives row t's count vectors of terms, ``store_sums(sums)``
    takes the count sums. One loop per number of vectors, so that each keeps its sums in
    registers. Four rows per step, added together before they join the sums (several loads in
    flight instead of one chain of dependent additions), while the sums take up to 4 of
    AVX-512's 32 64-byte registers; two rows while they take up to 8, one beyond (float64
    rows of over 4 vectors: with two, their 16 sums' and two rows' terms' registers spilled
    to the stack in every step; with this rule, float64 rows of 3-4 vectors, MNIST's 64-wide
    layer among them, take two rows instead of four: float64 MNIST per sample 1.13x, batch
    128 1.01x, on Zen 4). (AVX2 has 16 registers of 32 bytes: fewer rows still would fit its
    float64 sums; not measured.)"""
    flags = ("contract",)

    def add_to(sums, values):
        for total, value in zip(sums, values):
            builder.store(builder.fadd(builder.load(total), value, flags=flags), total)

    for count in counts:
        with builder.if_then(builder.icmp_unsigned("==", n_vectors, cgutils.intp_t(count))):
            sums = [cgutils.alloca_once_value(builder, ir.Constant(vector_t, None))
                    for _ in range(count)]
            registers = count * (2 if isinstance(vector_t.element, ir.DoubleType) else 1)
            per_step = 4 if registers <= 4 else 2 if registers <= 8 else 1
            steps = builder.udiv(k_val, cgutils.intp_t(per_step))
            with cgutils.for_range(builder, steps) as loop:
                t = builder.mul(loop.index, cgutils.intp_t(per_step))
                p = [terms(builder.add(t, cgutils.intp_t(r)), count) for r in range(per_step)]
                while len(p) > 1:  # (pairs: (p0 + p1) + (p2 + p3))
                    p = [[builder.fadd(a[v], b[v], flags=flags) for v in range(count)]
                         for a, b in zip(p[::2], p[1::2])]
                add_to(sums, p[0])
            with cgutils.for_range_slice(builder, builder.mul(steps, cgutils.intp_t(per_step)),
                                         k_val, cgutils.intp_t(1)) as (t, _):
                add_to(sums, terms(t, count))
            store_sums([builder.load(total) for total in sums])


@intrinsic
def narrow_rows_sum(typingctx, a, index, k, W, z):
    """z <- sum over t < k of a[i] * W[i] with i = index[t], for rows of W no wider than
    ``SUM_VECTORS`` vectors (``sums_in_vectors``): each row's vectors go into sums held in
    registers, the last vector masked (see ``_sum_rows``). (MNIST's 128-wide first layer in
    float32, against LLVM's loop: per sample 1.02-1.03x, dense MNIST 1.055-1.07x; with four
    inputs per step, 0.94-0.96x.) Only the last vector is masked: with every vector masked,
    a 128-wide row's eight masks outnumbered AVX-512's seven mask registers and were
    recomputed in the loop, and its sums took 1.08-1.2x the time (MNIST batch 128 1.03x)."""
    if not (_are_listed_rows(a, index, k, W) and _is_vector(z, W.dtype)):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        a_val, index_val, k_val, W_val, z_val = args
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        z_data = make_array(z)(context, builder, z_val).data
        n = cgutils.unpack_tuple(builder, make_array(W)(context, builder, W_val).shape)[1]
        k_val = context.cast(builder, k_val, k, types.intp)
        n_vectors = builder.udiv(builder.add(n, cgutils.intp_t(VECTOR_LANES - 1)),
                                 cgutils.intp_t(VECTOR_LANES))
        # Vector v of a row starts at entry v * VECTOR_LANES; only the last is partial.
        most = SUM_VECTORS
        offsets = [cgutils.intp_t(v * VECTOR_LANES) for v in range(most)]
        masks = [_first_lanes(builder, VECTOR_LANES, builder.sub(n, offset))
                 for offset in offsets]

        def terms(t, count):  # a[i] * W[i]'s first count vectors, i = index[t]
            row, a_i, _ = _listed_row(context, builder, a, a_val, index, index_val, W, W_val, t)
            a_i = _splat(builder, vector_t, a_i)
            # Only a row's last vector can be partial: the others load whole.
            vectors = [builder.load(_vector_at(builder, vector_t, row, offsets[v]), align=4)
                       for v in range(count - 1)]
            vectors.append(_masked_load(builder, vector_t, builder.gep(row, [offsets[count - 1]]),
                                        masks[count - 1]))
            return [builder.fmul(a_i, vector, flags=flags) for vector in vectors]

        def store_sums(sums):  # (once per call: no next load to block)
            for v, total in enumerate(sums[:-1]):
                builder.store(total, _vector_at(builder, vector_t, z_data, offsets[v]), align=4)
            last = len(sums) - 1
            _masked_store(builder, sums[last], builder.gep(z_data, [offsets[last]]), masks[last])

        _sum_rows(builder, k_val, n_vectors, range(1, most + 1), vector_t, terms, store_sums)
        return context.get_dummy_value()
    return types.void(a, index, k, W, z), codegen


@intrinsic
def pending_rows_sum(typingctx, a, index, k, W, z, slot, coef, D):
    """For each i = index[t], t < k: W[i] <- W[i] - coef[i] D[slot[i]] (row i's waiting
    step, see ``deferred``), stored, then z <- sum of a[i] * W[i]: in one pass over the
    rows, for rows of W of PENDING_FROM_BYTES or more in 1 to STEP_VECTORS whole vectors
    (``takes_pending_rows``). The sums as ``narrow_rows_sum``'s (``_sum_rows``), and each
    step as ``whole_vector_rows_step``'s, to the bit. D: ``(slots, n_out)``; slot: integers,
    coef: W's dtype, both ``(n_in,)``."""
    if not (_are_listed_rows(a, index, k, W) and _is_vector(z, W.dtype)
            and _is_vector(coef, W.dtype) and _is_matrix(D) and D.dtype == W.dtype
            and isinstance(slot, types.Array) and slot.ndim == 1
            and isinstance(slot.dtype, types.Integer)):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        a_val, index_val, k_val, W_val, z_val, slot_val, coef_val, D_val = args
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        z_data = make_array(z)(context, builder, z_val).data
        n = cgutils.unpack_tuple(builder, make_array(W)(context, builder, W_val).shape)[1]
        k_val = context.cast(builder, k_val, k, types.intp)
        n_vectors = builder.udiv(n, cgutils.intp_t(VECTOR_LANES))
        offsets = [cgutils.intp_t(v * VECTOR_LANES) for v in range(STEP_VECTORS)]
        slot_data = make_array(slot)(context, builder, slot_val).data
        coef_data = make_array(coef)(context, builder, coef_val).data
        D_data = make_array(D)(context, builder, D_val).data

        def terms(t, count):  # row i = index[t] after its step (stored), times a[i]
            row, a_i, i = _listed_row(context, builder, a, a_val, index, index_val, W, W_val, t)
            q = context.cast(builder, builder.load(builder.gep(slot_data, [i])), slot.dtype,
                             types.intp)
            c = _splat(builder, vector_t, builder.load(builder.gep(coef_data, [i])))
            d = builder.gep(D_data, [builder.mul(q, n)])
            a_i = _splat(builder, vector_t, a_i)
            products = []
            for o in offsets[:count]:
                w = _vector_at(builder, vector_t, row, o)
                step = builder.fmul(c, builder.load(_vector_at(builder, vector_t, d, o),
                                                    align=4), flags=flags)
                stepped = builder.fsub(builder.load(w, align=4), step, flags=flags)
                builder.store(stepped, w, align=4)
                products.append(builder.fmul(a_i, stepped, flags=flags))
            return products

        def store_sums(sums):
            for o, total in zip(offsets, sums):
                builder.store(total, _vector_at(builder, vector_t, z_data, o), align=4)

        fewest = -(-PENDING_FROM_BYTES // (VECTOR_LANES * W.dtype.bitwidth // 8))  # vectors
        _sum_rows(builder, k_val, n_vectors, range(fewest, STEP_VECTORS + 1), vector_t, terms,
                  store_sums)
        return context.get_dummy_value()
    return types.void(a, index, k, W, z, slot, coef, D), codegen


def _lane_sums(builder, vectors):
    """The vector of each vector's sum of lanes (one vector per lane), as a tree of
    shuffles and additions: 2 shuffles and an addition per vector instead of 4 and 4."""
    count = vectors[0].type.count
    size = count  # each vector holds count // size segments of size lanes, a row's each
    while size > 1:
        half = size // 2
        firsts = [s + j for s in range(0, 2 * count, size) for j in range(half)]
        mask_t = ir.VectorType(ir.IntType(32), count)
        vectors = [builder.fadd(builder.shuffle_vector(x, y, ir.Constant(mask_t, firsts)),
                                builder.shuffle_vector(x, y, ir.Constant(
                                    mask_t, [f + half for f in firsts])), flags=("contract",))
                   for x, y in zip(vectors[0::2], vectors[1::2])]
        size = half
    return vectors[0]


def _are_block_args(a, W, d, d_prev, lr, first) -> bool:
    """Whether the arguments fit W for a block step (``narrow_block_step``)."""
    return (_is_matrix(W) and _is_vector(a, W.dtype) and _is_vector(d, W.dtype)
            and _is_vector(d_prev, W.dtype) and lr == W.dtype and isinstance(first, types.Integer))


def _block(context, builder, signature, args):
    """For a block step's arguments: pointers to the block's first row of W, to a and d_prev
    at that row, and to d; and W's row length."""
    a, W, d, d_prev, _, first = signature.args
    a_val, W_val, d_val, d_prev_val, _, first_val = args
    row, n = _row(context, builder, W, W_val, first_val, first)
    first_val = context.cast(builder, first_val, first, types.intp)
    a_data = builder.gep(make_array(a)(context, builder, a_val).data, [first_val])
    d_prev_data = builder.gep(make_array(d_prev)(context, builder, d_prev_val).data,
                              [first_val])
    return row, a_data, make_array(d)(context, builder, d_val).data, d_prev_data, n


@intrinsic
def narrow_block_step(typingctx, a, W, d, d_prev, lr, first):
    """For the VECTOR_LANES rows i of W from ``first``, one vector wide or less
    (``is_narrow``): d_prev[i] <- W[i] . d, then W[i] <- W[i] - (lr a[i]) d.

    The dot products go by masked loads, the steps over the block's entries as contiguous
    vectors. Row by row, each row's masked store blocked the next row's masked load of the
    same vector span until it retired (digits 0.7x), and rows stepped a vector apart still
    waited on each other in a small layer (this block: digits 1.07-1.3x, MNIST 1.01x). (A
    block that also took the last rows of W, fewer, by masks: digits 0.95-0.97x.)"""
    if not _are_block_args(a, W, d, d_prev, lr, first):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        lr_val = args[4]
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        row, a_data, d_data, d_prev_data, n = _block(context, builder, signature, args)
        mask = _first_lanes(builder, VECTOR_LANES, n)
        d_vec = _masked_load(builder, vector_t, d_data, mask)  # 0 past n
        # a[r] (lr d): a broadcast from memory and a product per row
        lr_d = builder.fmul(_splat(builder, vector_t, lr_val), d_vec, flags=flags)
        # Row r's step (lr a[r]) d, at r n in steps: each row's vector overwrites the
        # previous one's lanes past n (d's zeros), so steps holds them back to back.
        steps = cgutils.alloca_once(builder, vector_t.element,
                                    size=cgutils.intp_t((VECTOR_LANES + 1) * VECTOR_LANES))
        products = []
        for r in range(VECTOR_LANES):
            row_r = builder.gep(row, [builder.mul(n, cgutils.intp_t(r))])
            products.append(builder.fmul(_masked_load(builder, vector_t, row_r, mask), d_vec,
                                         flags=flags))
            a_r = builder.load(builder.gep(a_data, [cgutils.intp_t(r)]))
            step = builder.fmul(_splat(builder, vector_t, a_r), lr_d, flags=flags)
            builder.store(step, _vector_at(builder, vector_t, steps,
                                           builder.mul(n, cgutils.intp_t(r))), align=4)
        builder.store(_lane_sums(builder, products),
                      _vector_at(builder, vector_t, d_prev_data, cgutils.intp_t(0)), align=4)
        # The block's VECTOR_LANES rows of n entries: n vectors.
        with cgutils.for_range(builder, n) as loop:
            offset = builder.mul(loop.index, cgutils.intp_t(VECTOR_LANES))
            w = _vector_at(builder, vector_t, row, offset)
            step = builder.load(_vector_at(builder, vector_t, steps, offset), align=4)
            builder.store(builder.fsub(builder.load(w, align=4), step, flags=flags), w,
                          align=4)
        return context.get_dummy_value()
    return types.void(a, W, d, d_prev, lr, first), codegen


@intrinsic
def whole_vector_block_step(typingctx, a, W, d, d_prev, lr, first):
    """``narrow_block_step`` for rows of 2 to BLOCK_VECTORS whole vectors
    (``blocks_in_vectors``): each row's vectors loaded once for its dot product and its step,
    d's vectors held in registers, the dot products summed as one tree. MNIST per sample
    (its 128->64 layer) 1.11x, float64 1.05x, dense MNIST 1.01x; 0.5 s more to compile
    per-sample SGD. (One loop over the vectors instead of a copy per count: slower, and no
    quicker to compile.)"""
    if not _are_block_args(a, W, d, d_prev, lr, first):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        lr_val = args[4]
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        row, a_data, d_data, d_prev_data, n = _block(context, builder, signature, args)

        def at(pointer, offset):
            return _vector_at(builder, vector_t, pointer, offset)

        # One copy of the block per number of vectors, so that d's stay in registers.
        n_vectors = builder.udiv(n, cgutils.intp_t(VECTOR_LANES))
        for count in range(2, BLOCK_VECTORS + 1):
            with builder.if_then(builder.icmp_unsigned("==", n_vectors, cgutils.intp_t(count))):
                offsets = [cgutils.intp_t(v * VECTOR_LANES) for v in range(count)]
                d_vecs = [builder.load(at(d_data, o), align=4) for o in offsets]
                lr_d = [builder.fmul(_splat(builder, vector_t, lr_val), d_v, flags=flags)
                        for d_v in d_vecs]
                products = []
                for r in range(VECTOR_LANES):
                    row_r = builder.gep(row, [builder.mul(n, cgutils.intp_t(r))])
                    w = [builder.load(at(row_r, o), align=4) for o in offsets]
                    product = builder.fmul(w[0], d_vecs[0], flags=flags)
                    for w_v, d_v in zip(w[1:], d_vecs[1:]):
                        product = builder.fadd(product, builder.fmul(w_v, d_v, flags=flags),
                                               flags=flags)
                    products.append(product)
                    a_r = _splat(builder, vector_t,
                                 builder.load(builder.gep(a_data, [cgutils.intp_t(r)])))
                    for w_v, step, o in zip(w, lr_d, offsets):
                        builder.store(builder.fsub(w_v, builder.fmul(a_r, step, flags=flags),
                                                   flags=flags), at(row_r, o), align=4)
                builder.store(_lane_sums(builder, products), at(d_prev_data, cgutils.intp_t(0)),
                              align=4)
        return context.get_dummy_value()
    return types.void(a, W, d, d_prev, lr, first), codegen


@intrinsic
def whole_vector_rows_step(typingctx, a, index, k, W, d, lr, last_first, tails):
    """W[i] <- W[i] - (lr a[i]) d for i = index[t], t < k, the last row first if
    ``last_first``, for rows of W of 1 to STEP_VECTORS whole vectors (``steps_in_vectors``):
    without the checks of LLVM's loops that rows and d do not overlap, and without masks (so
    nothing waits on an overlapping store); a loop per number of vectors, d's vectors held
    in registers. Against one loop over the vectors loading d's: per sample digits (rows of 2
    vectors) 1.16x, MNIST 784-64-10 (4) 1.09x, dense MNIST (8) 1.03x, MNIST 1.0x; MNIST
    batch 32 1.03x, batch 128 1.02x.

    With ``tails`` (a literal True), rows may have up to a vector's entries more
    (``steps_with_tails``), stepped one by one after every row's vectors: LLVM's loop had run
    such rows (20 or 50 wide) one entry at a time. Per sample, bike sharing 1.03x, MNIST 784-50-10 1.06-1.10x. A
    minibatch's step, which calls this once per chunk and sample, takes no tails: their loops
    made MNIST batch 128 0.99x as fast."""
    if not (_are_listed_rows(a, index, k, W) and _is_vector(d, W.dtype) and lr == W.dtype
            and isinstance(last_first, types.Boolean) and isinstance(tails, types.BooleanLiteral)):
        return None
    flags = ("contract",)
    with_tails = tails.literal_value

    def codegen(context, builder, signature, args):
        a_val, index_val, k_val, W_val, d_val, lr_val, last_first_val, _ = args
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        d_data = make_array(d)(context, builder, d_val).data
        n = cgutils.unpack_tuple(builder, make_array(W)(context, builder, W_val).shape)[1]
        k_val = context.cast(builder, k_val, k, types.intp)
        n_vectors = builder.udiv(n, cgutils.intp_t(VECTOR_LANES))

        # A loop per number of vectors, d's vectors held in registers.
        for count in range(1, STEP_VECTORS + 1):
            with builder.if_then(builder.icmp_unsigned("==", n_vectors, cgutils.intp_t(count))):
                offsets = [cgutils.intp_t(v * VECTOR_LANES) for v in range(count)]
                d_vecs = [builder.load(_vector_at(builder, vector_t, d_data, o), align=4)
                          for o in offsets]
                with cgutils.for_range(builder, k_val) as loop:
                    last = builder.sub(builder.sub(k_val, loop.index), cgutils.intp_t(1))
                    t = builder.select(last_first_val, last, loop.index)
                    row, a_i, _ = _listed_row(context, builder, a, a_val, index, index_val, W,
                                              W_val, t)
                    c = _splat(builder, vector_t, builder.fmul(lr_val, a_i))
                    for o, d_v in zip(offsets, d_vecs):
                        w = _vector_at(builder, vector_t, row, o)
                        step = builder.fmul(c, d_v, flags=flags)
                        builder.store(builder.fsub(builder.load(w, align=4), step, flags=flags),
                                      w, align=4)
        if not with_tails:
            return context.get_dummy_value()
        # The entries after the whole vectors, one by one (no masked store, which would block
        # the next row's loads where rows sit closer than a vector), in a pass of their own:
        # their loop in every row's made digits, whose rows have none, 0.97x as fast, and two
        # loops per number of vectors took 0.7 s more to compile.
        tail = builder.mul(n_vectors, cgutils.intp_t(VECTOR_LANES))
        with builder.if_then(builder.icmp_unsigned("<", tail, n)):
            with cgutils.for_range(builder, k_val) as loop:
                row, a_i, _ = _listed_row(context, builder, a, a_val, index, index_val, W,
                                          W_val, loop.index)
                c = builder.fmul(lr_val, a_i)
                with cgutils.for_range_slice(builder, tail, n, cgutils.intp_t(1)) as (j, _):
                    w = builder.gep(row, [j])
                    step = builder.fmul(c, builder.load(builder.gep(d_data, [j])), flags=flags)
                    builder.store(builder.fsub(builder.load(w), step, flags=flags), w)
        return context.get_dummy_value()
    return types.void(a, index, k, W, d, lr, last_first, tails), codegen


@intrinsic
def whole_vector_row_steps(typingctx, W, i, samples, coefs, k, D):
    """W[i] <- W[i] - coefs[u] D[samples[u]] for u < k, in that order, for rows of W of 1 to
    STEP_VECTORS whole vectors (``row_steps_in_registers``) and D's rows as wide as W's: the
    row is loaded once, takes its k steps in registers and is stored once, where
    ``whole_vector_rows_step`` loads and stores it for every step (``backward.step_by_rows``).
    Each step is the same fused multiply-add, so the same bits as there for coefs[u] = lr
    a_i in W's dtype."""
    if not (_is_matrix(W) and isinstance(i, types.Integer) and isinstance(k, types.Integer)
            and isinstance(samples, types.Array) and samples.ndim == 1 and samples.layout == "C"
            and isinstance(samples.dtype, types.Integer) and _is_vector(coefs, W.dtype)
            and _is_matrix(D) and D.dtype == W.dtype):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        W_val, i_val, samples_val, coefs_val, k_val, D_val = args
        vector_t = ir.VectorType(context.get_value_type(W.dtype), VECTOR_LANES)
        row, n = _row(context, builder, W, W_val, i_val, i)
        k_val = context.cast(builder, k_val, k, types.intp)
        D_data = make_array(D)(context, builder, D_val).data
        samples_data = make_array(samples)(context, builder, samples_val).data
        coefs_data = make_array(coefs)(context, builder, coefs_val).data
        n_vectors = builder.udiv(n, cgutils.intp_t(VECTOR_LANES))
        # A loop per number of vectors, the row's vectors in registers.
        for count in range(1, STEP_VECTORS + 1):
            with builder.if_then(builder.icmp_unsigned("==", n_vectors, cgutils.intp_t(count))):
                offsets = [cgutils.intp_t(v * VECTOR_LANES) for v in range(count)]
                vectors = [cgutils.alloca_once_value(
                    builder, builder.load(_vector_at(builder, vector_t, row, o), align=4))
                    for o in offsets]
                with cgutils.for_range(builder, k_val) as loop:
                    s = builder.load(builder.gep(samples_data, [loop.index]))
                    s = context.cast(builder, s, samples.dtype, types.intp)
                    d = builder.gep(D_data, [builder.mul(s, n)])
                    c = _splat(builder, vector_t, builder.load(builder.gep(coefs_data,
                                                                           [loop.index])))
                    for w, o in zip(vectors, offsets):
                        step = builder.fmul(c, builder.load(_vector_at(builder, vector_t, d, o),
                                                            align=4), flags=flags)
                        builder.store(builder.fsub(builder.load(w), step, flags=flags), w)
                for w, o in zip(vectors, offsets):
                    builder.store(builder.load(w), _vector_at(builder, vector_t, row, o), align=4)
        return context.get_dummy_value()
    return types.void(W, i, samples, coefs, k, D), codegen


@intrinsic
def one_vector_cross_entropy(typingctx, z, t, delta, scale):
    """``loss.output_loss``'s softmax cross-entropy for z of one vector or less (``fits_vector``)
    in vector arithmetic: exp (``exp.vector_exp``) of all of z at once, the sums as
    reductions. z <- softmax(z), delta <- scale (z sum(t) - t); returns the loss, float64."""
    if not (_is_row(z) and _is_vector(t, z.dtype) and _is_vector(delta, z.dtype)
            and scale == z.dtype):
        return None
    flags = ("contract",)

    def codegen(context, builder, signature, args):
        z_val, t_val, delta_val, scale_val = args
        vector_t = ir.VectorType(context.get_value_type(z.dtype), VECTOR_LANES)
        z_arr = make_array(z)(context, builder, z_val)
        mask = _first_lanes(builder, VECTOR_LANES, cgutils.unpack_tuple(builder, z_arr.shape)[0])
        zv = _masked_load(builder, vector_t, z_arr.data, mask)
        tv = _masked_load(builder, vector_t, make_array(t)(context, builder, t_val).data, mask)
        zero = ir.Constant(vector_t, None)
        m = _max_lanes(builder, builder.select(
            mask, zv, ir.Constant(vector_t, [float("-inf")] * VECTOR_LANES)))
        shifted = builder.fsub(zv, _splat(builder, vector_t, m), flags=flags)  # z - m
        e = builder.select(mask, vector_exp(builder, shifted), zero)
        total = _sum_lanes(builder, e)
        t_sum = _sum_lanes(builder, tv)
        p = builder.fdiv(e, _splat(builder, vector_t, total), flags=flags)
        _masked_store(builder, p, z_arr.data, mask)
        d = builder.fmul(_splat(builder, vector_t, scale_val), builder.fsub(
            builder.fmul(p, _splat(builder, vector_t, t_sum), flags=flags), tv, flags=flags),
            flags=flags)
        _masked_store(builder, d, make_array(delta)(context, builder, delta_val).data, mask)
        # The loss last (the backward pass waits for delta, not for log's call):
        # -sum t log p, log p = (z - m) - log(total).
        log = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector_t.element, [vector_t.element]),
            f"llvm.log.{vector_t.element.intrinsic_name}")
        t_shifted = _sum_lanes(builder, builder.fmul(tv, shifted, flags=flags))
        loss = builder.fsub(builder.fmul(t_sum, builder.call(log, [total]), flags=flags),
                            t_shifted, flags=flags)
        return context.cast(builder, loss, z.dtype, types.float64)
    return types.float64(z, t, delta, scale), codegen


def _map_row(context, builder, z, z_val, f):
    """z <- f(z) for a row, VECTOR_LANES entries at a time, the last vector masked; f: IR
    from a vector to a vector of the same type."""
    vector_t = ir.VectorType(context.get_value_type(z.dtype), VECTOR_LANES)
    z_arr = make_array(z)(context, builder, z_val)
    n = cgutils.unpack_tuple(builder, z_arr.shape)[0]
    lanes = cgutils.intp_t(VECTOR_LANES)
    whole = builder.udiv(n, lanes)
    with cgutils.for_range(builder, whole) as loop:
        p = _vector_at(builder, vector_t, z_arr.data, builder.mul(loop.index, lanes))
        builder.store(f(builder.load(p, align=4)), p, align=4)
    done = builder.mul(whole, lanes)
    with builder.if_then(builder.icmp_unsigned("<", done, n)):
        mask = _first_lanes(builder, VECTOR_LANES, builder.sub(n, done))
        p = builder.gep(z_arr.data, [done])
        _masked_store(builder, f(_masked_load(builder, vector_t, p, mask)), p, mask)


def _row_map(vector_f, name, doc):
    """An intrinsic ``name(z)``: z <- vector_f(z) for a row, by ``_map_row``."""
    def typer(typingctx, z):
        if not _is_row(z):
            return None

        def codegen(context, builder, signature, args):
            _map_row(context, builder, z, args[0], lambda v: vector_f(builder, v))
            return context.get_dummy_value()
        return types.void(z), codegen
    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


sigmoid_row = _row_map(vector_sigmoid, "sigmoid_row", """z <- 1 / (1 + exp(-z)) for a row
(``map_in_vectors``), VECTOR_LANES entries at a time (``exp.vector_sigmoid``), the last vector
masked. LLVM's loop took 32 float32 a pass (8 lanes, 4 times) and a row's last entries one by
one: side by side, bike sharing (20 hidden units) per sample 1.15x, MNIST per sample 1.01x,
batch 128 1.016x; digits 0.99-1.0x, float64 batch 128 1.0x (1.015x more since with float64's
one division).""")


tanh_row = _row_map(vector_tanh, "tanh_row", """z <- tanh(z) for a row (``map_in_vectors``), as
``sigmoid_row`` (``tanh.vector_tanh``). With ``tanh.tanh`` for the narrowest rows, in place of
a call into libm per entry: tanh networks per sample MNIST 1.51x, digits 2.34x, bike sharing
2.76x; batch 128 1.45x.""")
