"""fit's training control: learning-rate schedules, validation split, early stopping,
checkpoints that resume bit for bit, the callback and Ctrl-C."""
import math
import os
import signal
import threading

import numpy as np
import pytest

from fastmlp import Network
from fastmlp.checks import as_targets
from fastmlp.schedules import Constant, Cosine, InvScaling, Step

from conftest import make_data

SIZES = [4, 6, 3]


def data(n=30, seed=0):
    return make_data(SIZES, "softmax", None, n=n, seed=seed, dtype=np.float64)


def test_schedule_formulas():
    assert [Step(2, 0.5).rate(1.0, t) for t in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert [InvScaling(0.5).rate(3.0, t) for t in range(3)] == [3.0, 2.0, 1.5]
    cosine = Cosine(t_max=4, lr_min=0.1)
    assert cosine.rate(1.0, 0) == 1.0 and cosine.rate(1.0, 4) == pytest.approx(0.1)
    assert cosine.rate(1.0, 2) == pytest.approx(0.55)
    assert cosine.rate(1.0, 1) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine.rate(1.0, 9) == pytest.approx(0.1)
    assert Constant().rate(0.3, 7) == 0.3


@pytest.mark.parametrize("batch_size", [1, 4])
def test_schedule_sets_each_epochs_rate_and_counts_across_calls(Impl, batch_size):
    X, y = data()
    schedule = Step(2, 0.5)
    net = Impl(SIZES, dtype=np.float64, seed=1)
    history = net.fit(X, y, epochs=3, batch_size=batch_size, lr=0.4, schedule=schedule)
    history["lr"] += net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.4,
                             schedule=schedule)["lr"]
    assert history["lr"] == [0.4, 0.4, 0.2, 0.2, 0.1] and net.epochs_trained == 5
    by_hand = Impl(SIZES, dtype=np.float64, seed=1)
    for rate in history["lr"]:
        by_hand.fit(X, y, batch_size=batch_size, lr=rate)
    assert np.array_equal(net.params, by_hand.params)


@pytest.mark.parametrize("output, loss, n_out", [
    ("softmax", None, 3), ("sigmoid", None, 3), ("sigmoid", None, 1), ("identity", None, 3),
    ("softmax", "mse", 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_validation_after_each_epoch_is_loss_and_score(Impl, output, loss, n_out, dtype):
    # One pass over the validation data gives both (fastmlp.Network): the same numbers as
    # loss() and score() of the network after that epoch, to the bit, and the outputs it
    # scores are predict_proba's.
    sizes = SIZES[:-1] + [n_out]
    X, y = make_data(sizes, output, loss, n=40, seed=3, dtype=dtype)
    net = Impl(sizes, output=output, loss=loss, dtype=dtype, seed=3)
    T = as_targets(y[30:], 10, net.config)
    seen = []

    def callback(history):
        seen.append((history["val_loss"][-1], history["val_score"][-1],
                     net.loss(X[30:], y[30:], l2=0.01), net.score(X[30:], y[30:])))
        outputs = net._data_loss_and_outputs(X[30:], T)[1]
        assert outputs.tobytes() == net._outputs(X[30:]).tobytes()

    net.fit(X[:30], y[:30], epochs=3, batch_size=4, lr=0.1, l2=0.01,
            validation_data=(X[30:], y[30:]), callback=callback)
    assert len(seen) == 3
    for val_loss, val_score, loss_after, score_after in seen:
        assert val_loss == loss_after and val_score == score_after


def test_validation_fraction_is_a_seeded_split(Impl):
    X, y = data(n=40)
    net = Impl(SIZES, dtype=np.float64, seed=2)
    history = net.fit(X, y, epochs=3, validation_fraction=0.25)
    # The same split as drawing it by hand with the network's seed, in every call.
    held = np.sort(np.random.default_rng(2).permutation(40)[:10])
    kept = np.setdiff1d(np.arange(40), held)
    by_hand = Impl(SIZES, dtype=np.float64, seed=2)
    expected = by_hand.fit(X[kept], y[kept], epochs=3, validation_data=(X[held], y[held]))
    assert np.array_equal(net.params, by_hand.params)
    assert history["val_loss"] == expected["val_loss"] and len(history["val_score"]) == 3
    again = net.fit(X, y, validation_fraction=0.25)
    by_hand.fit(X[kept], y[kept], validation_data=(X[held], y[held]))
    assert np.array_equal(net.params, by_hand.params) and "val_loss" in again


def test_early_stopping_restores_the_best_epoch(Impl):
    X, y = data(n=40)
    # Validation labels that disagree with the training labels: the validation loss soon
    # rises while the training loss falls.
    y_val = (y + 1) % 3
    net = Impl(SIZES, dtype=np.float64, seed=3)
    history = net.fit(X, y, epochs=200, lr=0.5, validation_data=(X, y_val),
                      early_stopping=True, patience=3)
    assert history["stopped"] == "early_stopping"
    best = history["best_epoch"]
    assert best == int(np.argmin(history["val_loss"])) + 1
    assert len(history["loss"]) == best + 3 < 200
    fresh = Impl(SIZES, dtype=np.float64, seed=3)
    fresh.fit(X, y, epochs=best, lr=0.5)
    assert np.array_equal(net.params, fresh.params)


def test_min_delta_counts_only_real_improvements(Impl):
    X, y = data(n=40)
    net = Impl(SIZES, dtype=np.float64, seed=3)
    history = net.fit(X, y, epochs=50, lr=0.05, validation_data=(X, y), early_stopping=True,
                      patience=2, min_delta=1e3)  # nothing improves by 1000
    assert history["stopped"] == "early_stopping" and history["best_epoch"] == 1
    assert len(history["loss"]) == 3


@pytest.mark.parametrize("batch_size, threads", [(1, 1), (5, 1), (5, 2)])
def test_checkpoint_resumes_bit_for_bit(Impl, tmp_path, batch_size, threads):
    X, y = data()
    settings = dict(batch_size=batch_size, lr=0.3, l2=0.01, schedule=InvScaling(0.1),
                    threads=threads)
    whole = Impl(SIZES, dtype=np.float64, seed=4)
    whole.fit(X, y, epochs=9, **settings)
    for stop_after in (4, 5):  # on a checkpoint epoch; between them, stopped by the callback
        path = tmp_path / f"run{stop_after}.npz"
        first = Impl(SIZES, dtype=np.float64, seed=4)
        history = first.fit(X, y, epochs=9, checkpoint=path, checkpoint_every=2,
                            callback=lambda h: len(h["loss"]) < stop_after, **settings)
        assert history["stopped"] == "callback" and len(history["loss"]) == stop_after
        resumed = Impl.load(path)
        assert resumed.epochs_trained == stop_after
        resumed.fit(X, y, epochs=9 - stop_after, **settings)
        assert np.array_equal(resumed.params, whole.params)
        assert resumed._rng.bit_generator.state == whole._rng.bit_generator.state


def test_checkpoints_are_written_on_schedule(tmp_path):
    X, y = data()
    path = tmp_path / "ck.npz"
    seen = []
    net = Network(SIZES, seed=5)
    net.fit(X, y, epochs=7, checkpoint=path, checkpoint_every=3,
            callback=lambda h: seen.append(Network.load(path).epochs_trained
                                           if path.exists() else 0))
    # Read at the end of epochs 1..7: written after epochs 3 and 6, and at the end.
    assert seen == [0, 0, 0, 3, 3, 3, 6] and Network.load(path).epochs_trained == 7


def test_callback_sees_every_epoch_and_can_stop(Impl):
    X, y = data()
    calls = []
    net = Impl(SIZES, dtype=np.float64, seed=6)
    history = net.fit(X, y, epochs=10, callback=lambda h: calls.append(len(h["loss"])))
    assert calls == list(range(1, 11)) and history["stopped"] is None
    history = net.fit(X, y, epochs=10, callback=lambda h: len(h["loss"]) < 4)
    assert len(history["loss"]) == 4 and history["stopped"] == "callback"
    assert net.epochs_trained == 14


@pytest.fixture
def ctrl_c_as_at_a_terminal():
    """Python's own SIGINT handler for the test. A process started in the background by a
    shell without job control (``pytest &`` in a script) starts with SIGINT ignored, and fit
    leaves a handler that is not Python's alone: Ctrl-C would then never stop the training
    these tests start (``epochs=10**8``)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_after_the_kernel_call_and_keeps_completed_epochs(ctrl_c_as_at_a_terminal):
    X, y = data(n=8)
    net = Network(SIZES, dtype=np.float64, seed=7)
    net.fit(X, y, epochs=2)  # compiled before the clock starts
    start = net.params.copy(), net._rng.bit_generator.state, net.epochs_trained
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        history = net.fit(X, y, epochs=10**8)
    finally:
        timer.cancel()
    assert history["stopped"] == "interrupted"
    done = len(history["loss"])
    assert 0 < done < 10**8 and net.epochs_trained == start[2] + done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    again = Network(SIZES, dtype=np.float64, seed=7)
    again.params[:] = start[0]
    again._rng.bit_generator.state = start[1]
    again.fit(X, y, epochs=done)
    assert np.array_equal(net.params, again.params)


@pytest.mark.parametrize("settings, error, words", [
    (dict(schedule="linear"), TypeError, "schedule"),
    (dict(patience=0), ValueError, "patience"),
    (dict(min_delta=-1.0), ValueError, "min_delta"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.001), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.2, validation_data=(np.zeros((2, 4)), [0, 1])), ValueError,
     "not both"),
    (dict(early_stopping=True), ValueError, "early_stopping needs"),
    (dict(early_stopping=1), TypeError, "early_stopping"),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
    (dict(checkpoint=3.5), TypeError, "path"),
    (dict(checkpoint="/no/such/folder/run.npz"), ValueError, "folder does not exist"),
    (dict(callback="print"), TypeError, "callback"),
])
def test_bad_settings_raise_before_anything_changes(Impl, settings, error, words):
    X, y = data()
    net = Impl(SIZES, dtype=np.float64, seed=8)
    before = net.params.copy(), net._rng.bit_generator.state
    with pytest.raises(error, match=words):
        net.fit(X, y, epochs=2, **settings)
    assert np.array_equal(net.params, before[0]) and net._rng.bit_generator.state == before[1]
    assert net.epochs_trained == 0


def test_schedules_check_their_settings():
    with pytest.raises(ValueError, match="gamma"):
        Step(2, -1.0)
    with pytest.raises(TypeError, match="step_size"):
        Step(1.5)
    with pytest.raises(ValueError, match="t_max"):
        Cosine(0)
    with pytest.raises(ValueError, match="decay"):
        InvScaling(-0.1)


@pytest.fixture
def tiny_calls(monkeypatch):
    """Kernel calls of one batch each: every epoch is trained in slices."""
    import fastmlp.training
    monkeypatch.setattr(fastmlp.training, "CALL_SECONDS", 1e-9)


def spy_on_calls(net):
    begins = []
    train_epochs = net._train_epochs

    def spy(X, T, orders, begin, *rest):
        begins.append(begin)
        return train_epochs(X, T, orders, begin, *rest)

    net._train_epochs = spy
    return begins


@pytest.mark.parametrize("batch_size, optimizer, threads, l1", [
    (1, "sgd", 1, 0.001), (4, "adam", 1, 0.001), (1, "nesterov", 1, 0.001),
    (4, "momentum", 2, 0.001), (4, "momentum", 1, 0.0)])
def test_epochs_in_slices_change_nothing(Impl, batch_size, optimizer, threads, l1, tiny_calls):
    X, y = data(n=22)
    if l1 == 0:  # sparse batches without a penalty: momentum steps V_0 in the backward pass
        X[np.random.default_rng(4).random(X.shape) < 0.85] = 0
    settings = dict(epochs=3, batch_size=batch_size, lr=0.05, l1=l1, optimizer=optimizer,
                    validation_data=(X[:5], y[:5]), threads=threads)
    sliced = Impl(SIZES, dtype=np.float64, seed=9)
    begins = spy_on_calls(sliced)
    history = sliced.fit(X, y, **settings)
    assert sorted(set(begins)) == list(range(0, 22, batch_size))  # a call per batch
    import fastmlp.training
    fastmlp.training.CALL_SECONDS = 10.0
    whole = Impl(SIZES, dtype=np.float64, seed=9)
    begins = spy_on_calls(whole)
    expected = whole.fit(X, y, **settings)
    assert begins == [0, 0, 0]
    assert np.array_equal(sliced.params, whole.params)
    assert np.array_equal(sliced._state, whole._state) and sliced._steps == whole._steps
    assert history["loss"] == expected["loss"] and history["val_loss"] == expected["val_loss"]


@pytest.mark.parametrize("optimizer, l2", [("sgd", 0.05), ("momentum", 0.0),
                                          ("nesterov", 0.0)])
def test_lagged_per_sample_steps_in_slices_change_nothing(optimizer, l2, tiny_calls,
                                                          monkeypatch):
    """Per-sample SGD with an l2-only penalty and momentum without one keep the first layer
    in a lagged form that a call's end writes back, rounding it; so calls end only where the
    kernel writes it back anyway, at multiples of FOLD_EVERY, and the bits never depend on
    how long the calls took."""
    import fastmlp.network
    import fastmlp.training
    monkeypatch.setattr(fastmlp.network, "FOLD_EVERY", 4)
    X, y = data(n=22)
    X[X < 0.3] = 0  # (zero inputs: the rows the lagged form leaves alone)
    settings = dict(epochs=3, batch_size=1, lr=0.1, l2=l2, optimizer=optimizer)
    sliced = Network(SIZES, dtype=np.float64, seed=9)
    begins = spy_on_calls(sliced)
    sliced.fit(X, y, **settings)
    assert sorted(set(begins)) == list(range(0, 22, 4))  # a call per 4 samples
    monkeypatch.setattr(fastmlp.training, "CALL_SECONDS", 10.0)
    whole = Network(SIZES, dtype=np.float64, seed=9)
    begins = spy_on_calls(whole)
    whole.fit(X, y, **settings)
    assert begins == [0]
    assert np.array_equal(sliced.params, whole.params)
    assert np.array_equal(sliced._state, whole._state)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_ctrl_c_within_an_epoch_goes_back_to_its_start(optimizer, tiny_calls, monkeypatch,
                                                       ctrl_c_as_at_a_terminal):
    import fastmlp.network
    monkeypatch.setattr(fastmlp.network, "FOLD_EVERY", 1)  # (momentum: calls of one sample)
    X, y = data(n=40)
    net = Network(SIZES, dtype=np.float64, seed=10)
    net.fit(X, y, epochs=2, optimizer=optimizer)
    start = net.params.copy(), net._rng.bit_generator.state, net._state.copy()
    calls = []
    train_epochs = net._train_epochs

    def interrupt_on_call_50(*args):
        calls.append(args[3])
        result = train_epochs(*args)
        if len(calls) == 50:  # one sample per call: the 10th of the second epoch
            # (To this thread, handled before the next call; os.kill's may go to another.)
            signal.raise_signal(signal.SIGINT)
        return result

    net._train_epochs = interrupt_on_call_50
    history = net.fit(X, y, epochs=100, optimizer=optimizer)
    assert history["stopped"] == "interrupted" and len(calls) == 50 and calls[-1] == 9
    assert len(history["loss"]) == 1
    again = Network(SIZES, dtype=np.float64, seed=10)
    again.params[:], again._rng.bit_generator.state = start[0], start[1]
    again._optimizer, again._state, again.epochs_trained = optimizer, start[2].copy(), 2
    again.fit(X, y, epochs=1, optimizer=optimizer)
    assert np.array_equal(net.params, again.params)
    assert np.array_equal(net._state, again._state)
    assert net._rng.bit_generator.state == again._rng.bit_generator.state
    assert net.epochs_trained == again.epochs_trained == 3
