"""Momentum, Nesterov and Adam: against the NumPy reference, against their update equations
by hand, and their state kept across fit calls, files and divergence."""
import numpy as np
import pytest

from fastmlp import DivergenceError, Network, reference
from fastmlp.kernels.fpmode import X86_64

from conftest import make_data, relative_error

SIZES = [5, 7, 3]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_kernels_match_the_reference(optimizer, batch_size, dtype, tolerance):
    X, y = make_data(SIZES, "softmax", None, n=40, dtype=dtype)
    nets = [impl(SIZES, activation="tanh", dtype=dtype, seed=11)
            for impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.05, l1=0.001, l2=0.01,
                         optimizer=optimizer, momentum=0.8, beta1=0.85, beta2=0.99, eps=1e-7)
                 for net in nets]
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance
    assert nets[0]._steps == nets[1]._steps == (0 if optimizer != "adam" else
                                                2 * -(-40 // batch_size))
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=tolerance)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [4, 7])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_sparse_batches_without_a_penalty_match_the_reference(optimizer, batch_size, dtype,
                                                              tolerance):
    # Sparse batches without a penalty: plain SGD steps W_0, and momentum its velocity, in
    # the backward pass (``train.epoch_batches``); the other optimizers through the gradient.
    X, y = make_data(SIZES, "softmax", None, n=40, zeros=0.85, dtype=dtype)
    nets = [impl(SIZES, activation="tanh", dtype=dtype, seed=12)
            for impl in (Network, reference.Network)]
    for net in nets:
        net.fit(X, y, epochs=3, batch_size=batch_size, lr=0.05, optimizer=optimizer,
                momentum=0.8)
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance


@pytest.mark.skipif(not X86_64, reason="subnormals are flushed on x86-64 only")
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_adam_keeps_decayed_moments_out_of_the_subnormal_range(dtype, tolerance):
    # Input 0 is nonzero in the first 3 samples only, so from then on the moments of W_0's
    # row 0 decay by 0.1 per step: within 350 steps past float64's smallest normal number.
    # Checked every 5 steps (each moment's window is wider): the kernel's are never
    # subnormal (kernels/fpmode.py), and it still agrees with the reference.
    X, y = make_data(SIZES, "softmax", None, n=350, zeros=0.0, dtype=dtype)
    X[3:, 0] = 0
    nets = [impl(SIZES, dtype=dtype, seed=17) for impl in (Network, reference.Network)]
    for net in nets:
        for start in range(0, len(X), 5):
            net.fit(X[start:start + 5], y[start:start + 5], lr=1e-3, shuffle=False,
                    optimizer="adam", beta1=0.1, beta2=0.1)
            if net is nets[0]:
                moments = np.abs(net._state)
                assert np.all((moments == 0) | (moments >= np.finfo(dtype).tiny)), start
    assert np.all(nets[0]._state[:, :SIZES[1]] == 0)  # W_0's row 0, in m and in v
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance


def by_hand(optimizer, params, gradient, steps, lr, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """``steps`` full-batch steps of the update equations, in float64."""
    p = params.copy()
    v = np.zeros_like(p)
    m = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = gradient(p)
        if optimizer == "momentum":
            v = mu * v + g
            p = p - lr * v
        elif optimizer == "nesterov":
            v = mu * v + g
            p = p - lr * (g + mu * v)
        else:
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_three_steps_follow_the_update_equations(Impl, optimizer):
    X, y = make_data(SIZES, "softmax", None, n=6, dtype=np.float64)
    net = Impl(SIZES, dtype=np.float64, seed=12)
    probe = Impl(SIZES, dtype=np.float64, seed=12)

    def gradient(p):
        probe.params[:] = p
        return probe.gradient(X, y, l2=0.1)

    expected = by_hand(optimizer, net.params, gradient, 3, lr=0.1)
    # One full batch in order per epoch: three epochs are three steps.
    net.fit(X, y, epochs=3, batch_size=6, lr=0.1, l2=0.1, shuffle=False, optimizer=optimizer)
    assert relative_error(net.params, expected) < 1e-12


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("batch_size, zeros", [(1, 0.3), (4, 0.3), (4, 0.85)])
def test_state_carries_across_calls_and_files(Impl, tmp_path, optimizer, batch_size, zeros):
    # (zeros 0.85: sparse batches, whose first-layer momentum steps in the backward pass)
    X, y = make_data(SIZES, "softmax", None, n=20, zeros=zeros, dtype=np.float64)
    settings = dict(batch_size=batch_size, lr=0.02, optimizer=optimizer)
    whole = Impl(SIZES, dtype=np.float64, seed=13)
    whole.fit(X, y, epochs=3, **settings)
    parts = Impl(SIZES, dtype=np.float64, seed=13)
    parts.fit(X, y, epochs=1, **settings)
    parts.fit(X, y, epochs=1, **settings)
    parts.save(tmp_path / "net.npz")
    loaded = Impl.load(tmp_path / "net.npz")
    assert loaded._optimizer == optimizer and np.array_equal(loaded._state, parts._state)
    loaded.fit(X, y, epochs=1, **settings)
    assert np.array_equal(loaded.params, whole.params)
    assert np.array_equal(loaded._state, whole._state) and loaded._steps == whole._steps


def test_another_optimizer_starts_afresh(Impl):
    X, y = make_data(SIZES, "softmax", None, n=20, dtype=np.float64)
    net = Impl(SIZES, dtype=np.float64, seed=14)
    net.fit(X, y, batch_size=5, lr=0.01, optimizer="adam")
    after_adam = net.params.copy()
    net.fit(X, y, batch_size=5, lr=0.01, optimizer="momentum")
    fresh = Impl(SIZES, dtype=np.float64, seed=14)
    fresh.fit(X, y, batch_size=5, lr=0.01, optimizer="adam")  # same shuffle for the next epoch
    fresh.params[:] = after_adam
    fresh._optimizer = "sgd"  # forget Adam's state as fit does
    fresh.fit(X, y, batch_size=5, lr=0.01, optimizer="momentum")
    assert np.array_equal(net.params, fresh.params)
    assert net._state.shape == (1, net.params.size) and net._steps == 0


@pytest.mark.parametrize("zeros", [0.0, 0.85])
def test_divergence_restores_the_optimizer_state(Impl, zeros):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) * 10
    X[rng.random(X.shape) < zeros] = 0  # (sparse batches: see the test above)
    y = rng.normal(size=30) * 100
    net = Impl([3, 4, 1], activation="identity", output="identity", seed=0)
    net.fit(X, y, epochs=2, batch_size=3, lr=1e-6, optimizer="momentum")
    params, state = net.params.copy(), net._state.copy()
    with pytest.raises(DivergenceError, match="diverged in epoch 1"):
        net.fit(X, y, epochs=20, batch_size=3, lr=1e3, optimizer="momentum")
    assert net.epochs_trained == 2
    assert np.array_equal(net.params, params) and np.array_equal(net._state, state)


@pytest.mark.parametrize("settings, error, words", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
    (dict(optimizer=None), ValueError, "optimizer must be one of"),
    (dict(optimizer="momentum", momentum=-0.5), ValueError, "momentum"),
    (dict(optimizer="nesterov", momentum=0.0), ValueError, "nesterov needs momentum"),
    (dict(optimizer="adam", beta1=1.0), ValueError, "beta1 must be in"),
    (dict(optimizer="adam", beta2=-0.1), ValueError, "beta2"),
    (dict(optimizer="adam", eps=0.0), ValueError, "eps"),
    (dict(optimizer="adam", beta1="0.9"), TypeError, "beta1"),
])
def test_bad_optimizer_settings(Impl, settings, error, words):
    X, y = make_data(SIZES, "softmax", None, n=10, dtype=np.float64)
    net = Impl(SIZES, dtype=np.float64, seed=15)
    net.fit(X, y, batch_size=2, optimizer="momentum")
    before = net.params.copy(), net._state.copy(), net._optimizer
    with pytest.raises(error, match=words):
        net.fit(X, y, **settings)
    assert np.array_equal(net.params, before[0]) and np.array_equal(net._state, before[1])
    assert net._optimizer == before[2]


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("sliced", [False, True], ids=["whole", "sliced"])
@pytest.mark.parametrize("momentum", [0.9, 0.2])
@pytest.mark.parametrize("width", [7, 3, 16, 80, 20])
def test_lazy_per_sample_momentum_matches_the_eager_reference(optimizer, dtype, tolerance,
                                                              sliced, momentum, width,
                                                              monkeypatch):
    # Mostly-zero inputs: most rows of W_0 step only in their lagged form (see
    # kernels/momentum.py); a changing rate, calls ending mid-epoch and (with momentum 0.2,
    # 0.2^26 < FOLD_BELOW) folds within an epoch must not matter. The first layer's width
    # picks its loops: sums in registers and stepped by LLVM's loop (7), both loops (3), both
    # as vectors (16), whole vectors stepped, summed as vectors in float32 only (80), a vector
    # and 4 entries more stepped (20).
    import fastmlp.training
    from fastmlp.kernels.momentum import FOLD_BELOW
    from fastmlp.schedules import Step
    if sliced:
        monkeypatch.setattr(fastmlp.training, "CALL_SECONDS", 1e-9)
    assert (momentum == 0.9) == (momentum ** 30 > FOLD_BELOW)
    X, y = make_data([12, width, 3], "softmax", None, n=30, zeros=0.85, dtype=dtype)
    nets = [impl([12, width, 3], activation="relu", dtype=dtype, seed=16)
            for impl in (Network, reference.Network)]
    for net in nets:
        net.fit(X, y, epochs=3, lr=0.05, optimizer=optimizer, momentum=momentum,
                schedule=Step(1, 0.5))
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_per_sample_momentum_of_a_one_output_regression_matches_the_reference(optimizer, dtype,
                                                                              tolerance):
    # The output layer's weights are a column, stepped in one loop over its rows.
    X, y = make_data([12, 20, 1], "identity", "mse", n=30, zeros=0.5, dtype=dtype)
    nets = [impl([12, 20, 1], output="identity", loss="mse", dtype=dtype, seed=16)
            for impl in (Network, reference.Network)]
    for net in nets:
        net.fit(X, y, epochs=2, lr=0.05, optimizer=optimizer, momentum=0.9)
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_per_sample_momentum_outside_the_lagged_range_matches_the_reference(momentum):
    # The lagged form needs 0 < momentum < 1; other values take the general kernel.
    X, y = make_data([12, 7, 3], "softmax", None, n=30, zeros=0.85, dtype=np.float64)
    nets = [impl([12, 7, 3], activation="relu", dtype=np.float64, seed=16)
            for impl in (Network, reference.Network)]
    for net in nets:
        net.fit(X, y, epochs=2, lr=0.01, optimizer="momentum", momentum=momentum)
    assert relative_error(nets[0].params, nets[1].params) < 1e-10
    assert relative_error(nets[0]._state, nets[1]._state) < 1e-10


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("sliced", [False, True], ids=["whole", "sliced"])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.001, 0.01)], ids=["plain", "penalty"])
def test_fused_per_sample_adam_matches_the_reference(dtype, tolerance, sliced, l1, l2,
                                                     monkeypatch):
    # Per-sample Adam steps each row as its gradient is known (kernels/adam.py): mostly-zero
    # inputs (their rows step with gradient 0, or only the penalty's), a changing rate and
    # calls ending mid-epoch.
    import fastmlp.training
    from fastmlp.schedules import Step
    if sliced:
        monkeypatch.setattr(fastmlp.training, "CALL_SECONDS", 1e-9)
    sizes = [12, 16, 7, 3]
    X, y = make_data(sizes, "softmax", None, n=30, zeros=0.85, dtype=dtype)
    nets = [impl(sizes, activation="sigmoid", dtype=dtype, seed=16)
            for impl in (Network, reference.Network)]
    histories = [net.fit(X, y, epochs=3, lr=0.01, l1=l1, l2=l2, optimizer="adam",
                         beta1=0.85, beta2=0.99, eps=1e-7, schedule=Step(1, 0.5))
                 for net in nets]
    assert relative_error(nets[0].params, nets[1].params) < tolerance
    assert relative_error(nets[0]._state, nets[1]._state) < tolerance
    assert nets[0]._steps == nets[1]._steps == 90
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=tolerance)
