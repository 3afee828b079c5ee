"""SGD loops: one call trains whole epochs, no Python in between."""
import numpy as np

from .arrays import all_finite, copy, rescale
from .backward import backward_sgd
from .borrow import borrowed, borrowed_matrix
from .buffers import borrowed_flat, layer_bias, layer_weight, layers
from .deferred import RING, borrowed_pending, defer_steps, pending_forward, pending_steps, \
    settle_all
from .forward import forward_sample
from .gradient import batch_gradient, dataset_gradient
from .jit import entry_kernel, inline_kernel, kernel
from .loss import output_loss
from .penalty import add_penalty_gradient, penalty
from .prefetch import EVERY_LINE_UP_TO, prefetch_row_to_l2, prefetch_sample
from .stack import align_stack
from .update import MOMENTUM, NESTEROV, SGD, momentum_step, sgd, step
from .vectors import takes_pending_rows
from .workspace import borrowed_workspace, layer_row, workspace


# Prefetch distances (see ``prefetch``), in samples: a batch's rows are copied into its block
# while the row AHEAD positions later is prefetched; a per-sample step prefetches the row
# AHEAD_SAMPLE positions later. Side by side on MNIST, prefetching every line of the rows:
# batch 128 gained 1.01-1.02x at 4 ahead, 1.05-1.06x at 12 and no more at 32; per sample, 1
# and 3 ahead both gained about 1.02x. With the rows' first lines only: 24 ahead gained
# nothing over 12 in batches, 6 or 10 nothing over 3 per sample.
AHEAD = 12
AHEAD_SAMPLE = 3
# And, in batches, every line of the input row this many positions later into L2
# (``prefetch_row_to_l2``), so that the copy finds the whole row in L2 rather than in DRAM.
# On Zen 4, MNIST batch 128 1.03x (paired epochs in six processes, X copied afresh every
# round: 1.02-1.035x in five, 0.98x in one). Per sample (16 ahead) it gained only when memory
# answered slowly (1.0-1.09x) and lost when it answered fast (0.97-1.0x; the suite's runs
# 0.21-0.215 s against 0.194-0.199 s; see HISTORY); at 6 ahead it gained (``prefetch_ahead``).
FAR_AHEAD = 32
# Per sample, every line of rows longer than ``prefetch.EVERY_LINE_UP_TO`` this many positions
# later into L2: the scan of a row for its nonzeros then waits for L2, not DRAM. On Zen 4,
# MNIST per sample 1.03x (the suite's fastmlp row, seven alternating runs each in a quiet
# hour: 0.186-0.196 s against 0.195-0.212 s), float64 1.05x; an epoch in visiting order, X
# shuffled beforehand, 1.05x: what any prefetch could win. (8 ahead, or every second line:
# between 6 and none.)
FAR_AHEAD_SAMPLE = 6


@inline_kernel
def prefetch_ahead(X, T, orders, e, position, stop):
    """Per sample, at ``position`` of epoch e's order (up to ``stop``): the sample
    AHEAD_SAMPLE positions on (``prefetch_sample``), and, if X's rows are longer than
    ``prefetch.EVERY_LINE_UP_TO`` (so that only their first and last lines are), every line
    of the input row FAR_AHEAD_SAMPLE positions on, into L2."""
    if position + AHEAD_SAMPLE < stop:
        prefetch_sample(X, T, orders[e, position + AHEAD_SAMPLE])
    if position + FAR_AHEAD_SAMPLE < stop and X.shape[1] * X.itemsize > EVERY_LINE_UP_TO:
        prefetch_row_to_l2(X, orders[e, position + FAR_AHEAD_SAMPLE])


@inline_kernel
def epoch_batches(params, net, sizes, w_off, codes, loss_code, X, T, order, begin, end,
                  batch_size, ws, A0, grad, grad_layers, optimizer, state, steps, lr, hyper, l1,
                  l2):
    """The samples ``order[begin:end]`` of an epoch, taken ``batch_size`` at a time from
    ``begin`` (the last batch may be smaller), each batch one step of ``optimizer`` (see
    ``update.step``) with the mean gradient of the batch plus the penalty gradient.

    A0 ``(batch_size, n_in)`` and grad (flat, and its Layers) are scratch. Returns the sum of
    the per-sample losses, each taken before its step.
    """
    one = params.dtype.type(1.0)
    # Without a penalty, the first layer's rows of nonzero inputs step in the backward pass
    # (when the batch is sparse), with no gradient buffer for W_0 to zero, fill and read:
    # plain SGD's W_0, or momentum's velocity V_0 (then W_0 -= lr V_0 in one pass). W_0 and
    # its gradient and velocity overflow L2 on MNIST: MNIST batch 128 momentum 1.055x.
    rate = params.dtype.type(0.0)
    if l1 == 0 and l2 == 0 and (optimizer == SGD or optimizer == MOMENTUM):
        rate = lr if optimizer == SGD else -one
    velocity = optimizer == MOMENTUM and rate != 0
    first = borrowed_matrix(state[0] if velocity else params, 0, sizes[0], sizes[1])
    keep = hyper[0] if velocity else one
    n_w0 = sizes[0] * sizes[1]  # (W_0 comes first in the buffer)
    total = 0.0
    for start in range(begin, end, batch_size):
        rows = min(batch_size, end - start)
        batch = order[start:start + rows]
        for s in range(rows):
            if start + s + AHEAD < end:
                prefetch_sample(X, T, order[start + s + AHEAD])
            if start + s + FAR_AHEAD < end:
                prefetch_row_to_l2(X, order[start + s + FAR_AHEAD])
            copy(X[batch[s]], A0[s])
        loss, stepped = batch_gradient(net, codes, loss_code, A0[:rows], T, batch,
                                       one / params.dtype.type(rows), ws, grad_layers, first,
                                       keep, rate)
        total += loss
        if stepped and velocity:
            sgd(params[:n_w0], state[0][:n_w0], lr)
            # (False, as a bool rather than a literal: the step ``update.step`` compiles)
            momentum_step(params[n_w0:], grad[n_w0:], state[0][n_w0:], lr, hyper[0],
                          optimizer == NESTEROV)
        elif stepped:
            sgd(params[n_w0:], grad[n_w0:], lr)
        else:
            add_penalty_gradient(params, grad, sizes, w_off, l1, l2)
            step(optimizer, params, grad, state, steps, lr, hyper)
    return total


# What ``end_epoch`` says of an epoch.
GOING_ON = 0  # it ended well; training goes on
PAUSED = 1  # the call stops within it
DIVERGED = 2  # it ended with a non-finite loss or parameter; rolled back


@kernel
def end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n, losses, e, last_good,
              last_state):
    """After epoch e's samples up to position ``stop`` of n, their losses summing to total.

    If the epoch is unfinished (stop < n), losses[e] <- total: PAUSED. Otherwise losses[e] <-
    the epoch's loss, ``total / n`` (the mean of its per-sample losses) plus the penalty. If
    that loss or a parameter is not finite, the parameters and optimizer state (params, state,
    steps[0]) go back to the last good epoch's (last_good, last_state, steps[1]): DIVERGED;
    otherwise they become the last good ones: GOING_ON."""
    if stop < n:
        losses[e] = total
        return PAUSED
    losses[e] = total / n + penalty(params, sizes, w_off, l1, l2)
    if np.isfinite(losses[e]) and all_finite(params):
        copy(params, last_good)
        for r in range(state.shape[0]):
            copy(state[r], last_state[r])
        steps[1] = steps[0]
        return GOING_ON
    copy(last_good, params)
    for r in range(state.shape[0]):
        copy(last_state[r], state[r])
    steps[0] = steps[1]
    return DIVERGED


# The two entry points below train the samples of ``orders`` ``(k, n)``, row e being the order
# in which epoch e visits the samples (int64 indices into X and T): row 0 from position
# ``begin``, the last row up to position ``end`` (so one call can train several epochs, or a
# slice of one), the others whole. X ``(n, n_in)`` and T ``(n, n_out)`` are of params' dtype,
# and so are lrs (epoch e's learning rate lrs[e]), l1 and l2. losses[0] comes in holding the
# losses summed over row 0's positions before ``begin``; losses[e] leaves holding epoch e's
# loss if it ended in the call (see ``end_epoch``), else its sum so far. They return
# (epochs ended, whether training diverged): after a divergence the parameters and optimizer
# state are those of the last good epoch. Per-sample SGD, fused into the backward pass, and
# minibatch training (any optimizer; batch_size 1 for per-sample training with one) are
# separate kernels, so that each compiles only when used.

@entry_kernel
def sgd_sample_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin, end,
                      lrs, l1, l2, fold_every, losses, last_good):
    """Per-sample SGD over ``orders`` (see above).

    With an l2 penalty and no l1, every step multiplies all of W_0 by (1 - lr l2) but adds
    the gradient only to the rows of nonzero inputs. So W_0 is kept as scale * V: a step
    multiplies the scalar and moves V's rows of nonzero inputs by lr / scale times their
    gradient (the classic trick of sparse SGD, as in Bottou's sgd and scikit-learn's
    SGDClassifier). V is multiplied back into W_0 whenever scale falls below 1/2, at the end
    of every epoch and call, and after every position of the epoch that is a multiple of
    ``fold_every``: so a call that ends at such a position (or at the epoch's end) changes
    nothing, and the results do not depend on how an epoch is split into calls.

    The first layer's steps wait for the next sample that reads their rows (``deferred``),
    for rows wide enough (``vectors.takes_pending_rows``) and unless a penalty steps every
    row every time: the same bits, one pass over those rows per sample instead of two.
    """
    align_stack()  # (its spilled vectors on whole cache lines: see ``stack``)
    no_state = np.empty((0, params.shape[0]), params.dtype)
    steps = np.zeros(2, np.int64)
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    n_epochs, n = orders.shape
    one = params.dtype.type(1.0)
    # The per-sample loop takes borrowed views only (see ``borrow``).
    net = borrowed_flat(params, sizes, w_off, b_off)
    W0, b0 = layer_weight(net, 0), layer_bias(net, 0)
    X, T, codes, orders = borrowed(X), borrowed(T), borrowed(codes), borrowed(orders)
    owner = workspace(params, sizes, np.int64(1))  # (a literal 1: one more compilation)
    pending_owner = pending_steps(W0)
    scale = 1.0  # float64: it multiplies up tens of thousands of decays
    q = 0  # the ring slot of the sample under way (see ``deferred``)
    for e in range(n_epochs):
        ws = borrowed_workspace(owner)  # (the owners, used on every pass, outlive their views)
        pending = borrowed_pending(pending_owner)
        stop = end if e == n_epochs - 1 else n
        total = losses[e] if e == 0 else 0.0  # the losses, each taken before its step
        decay = 1.0 - float(lrs[e]) * float(l2)
        lazy = l1 == 0 and l2 != 0 and decay > 0.5  # (a stronger decay: every step rescales)
        # First-layer steps wait for the next reader of their row (see ``deferred``) unless
        # every row steps every time (a penalty not kept aside by ``lazy``).
        defer = takes_pending_rows(W0) and l1 == 0 and (l2 == 0 or lazy)
        for position in range(begin if e == 0 else 0, stop):
            i = orders[e, position]
            prefetch_ahead(X, T, orders, e, position, stop)
            x, scale0 = X[i], params.dtype.type(scale)
            first, k0 = 0, 0  # (the first layer forward_sample and backward_sgd take)
            if defer:
                first, k0 = 1, pending_forward(x, ws.input_index, W0, b0, layer_row(ws, 0),
                                               scale0, pending)
            z, listed = forward_sample(net, codes, x, ws, scale0, first)
            k0 = k0 if defer else listed
            total += output_loss(codes[n_layers - 1], loss_code, z, T[i], ws.d_a[:n_out], one)
            if lazy:
                scale *= decay
            scale0 = params.dtype.type(scale)
            d0 = backward_sgd(net, codes, x, k0, ws, lrs[e], l1, l2, lazy, scale0, first)
            if defer:
                lr = lrs[e]
                defer_steps(x, ws.input_index, k0, b0, d0[:b0.shape[0]],
                            lr / scale0 if lazy else lr, lr, pending, q)
                q += 1
            fold = scale < 0.5 or (lazy and (position + 1) % fold_every == 0)
            # Every waiting step before W_0 is read otherwise, and when the ring is full.
            if defer and (fold or q == RING or position == stop - 1):
                settle_all(W0, pending)
                q = 0
            if fold:
                scale = rescale(W0, scale)
        if lazy:
            scale = rescale(W0, scale)
        status = end_epoch(params, no_state, steps, sizes, w_off, l1, l2, total, stop, n,
                           losses, e, last_good, no_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return n_epochs, False


@entry_kernel
def batch_epochs(params, sizes, w_off, b_off, codes, loss_code, X, T, orders, begin, end,
                 batch_size, lrs, l1, l2, optimizer, hyper, state, steps, losses, last_good,
                 last_state, mean_grad):
    """Minibatch training over ``orders`` (see above; begin is a multiple of batch_size) with
    ``optimizer`` (an ``update`` code; hyper, state and steps as ``update.step`` takes them,
    steps[1] and last_state the last good epoch's).

    Or, if mean_grad (laid out like params) is not empty, no training: mean_grad <- the
    gradient of the mean loss over all of X (``gradient.dataset_gradient``), losses[0] <-
    that loss; returns (0, False). (Here, where ``batch_gradient`` is compiled anyway: in
    ``evaluate`` it made prediction compile the backward pass too, about 4 s.)
    """
    align_stack()  # (its spilled vectors on whole cache lines: see ``stack``)
    if mean_grad.shape[0] > 0:
        losses[0] = dataset_gradient(params, sizes, w_off, b_off, codes, loss_code, X, T,
                                     mean_grad)
        return 0, False
    k, n = orders.shape
    capacity = min(batch_size, n)
    # Each batch's rows are views: borrowed ones (see ``borrow``) cost no atomic operations.
    net = layers(borrowed(params), sizes, w_off, b_off)
    X, T, codes = borrowed(X), borrowed(T), borrowed(codes)
    owners = (workspace(params, sizes, capacity), np.empty((capacity, sizes[0]), params.dtype),
              np.empty_like(params))
    grad = borrowed(owners[2])
    grad_layers = layers(grad, sizes, w_off, b_off)  # (once: its lists are allocated)
    for e in range(k):
        # The owners tuple, used on every pass, keeps all three buffers alive under their
        # borrowed views, grad's included.
        ws, A0 = borrowed_workspace(owners[0]), borrowed(owners[1])
        stop = end if e == k - 1 else n
        total = losses[e] if e == 0 else 0.0
        total += epoch_batches(params, net, sizes, w_off, codes, loss_code, X, T, orders[e],
                               begin if e == 0 else 0, stop, batch_size, ws, A0, grad,
                               grad_layers, optimizer, state, steps, lrs[e], hyper, l1, l2)
        status = end_epoch(params, state, steps, sizes, w_off, l1, l2, total, stop, n, losses,
                           e, last_good, last_state)
        if status != GOING_ON:
            return e, status == DIVERGED
    return k, False
