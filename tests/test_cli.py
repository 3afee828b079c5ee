import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error

import numpy as np
import pytest

from fastmlp import Network, cli, compiling, datasets, download, training
from fastmlp.cli import confusion_matrix, main
from fakes import FakeProcess, mnist_arrays, write_bike_csv, write_mnist

EPOCH = re.compile(r"epoch\s+(\d+)\s+loss ([\d.]+)\s+(test|val) loss ([\d.]+)\s+"
                   r"(?:test|val) (accuracy|MSE) ([\d.]+)\s+([\d.]+) s")


def run(*args):
    """The command in a new process (as a user runs it): (returncode, stdout, stderr)."""
    result = subprocess.run([sys.executable, "-m", "fastmlp.cli", *args], capture_output=True,
                            text=True)
    return result.returncode, result.stdout, result.stderr


def one_line_error(capsys, argv, *fragments):
    """main(argv) fails with status 2 and a single 'fastmlp: error:' line holding fragments."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastmlp: error: "), err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


def test_train_digits_prints_epochs_and_final_accuracy(capsys):
    assert main(["train", "digits", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    epochs = EPOCH.findall(out)
    assert [int(e[0]) for e in epochs] == [1, 2, 3]
    assert {e[2] for e in epochs} == {"test"} and {e[4] for e in epochs} == {"accuracy"}
    final = re.search(r"train accuracy ([\d.]+)\s+test accuracy ([\d.]+)\s+total ([\d.]+) s",
                      out)
    assert final and float(final.group(2)) > 0.9
    assert re.search(r"training [\d.]+ s: [\d.]+ s per epoch, [\d,]+ samples/s", out)


def test_train_xor(capsys):
    assert main(["train", "xor", "--epochs", "2000"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 1.0000" in out
    assert len(EPOCH.findall(out)) == 20  # every 100th epoch


def test_train_options_reach_the_network(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "digits", "--layers", "16,8", "--activation", "tanh,relu",
                 "--output", "sigmoid", "--init", "he", "--epochs", "2", "--batch-size", "8",
                 "--lr", "0.2", "--l1", "1e-5", "--l2", "1e-4", "--dtype", "float64",
                 "--seed", "3", "--threads", "2", "--optimizer", "nesterov", "--momentum",
                 "0.8", "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "network [64, 16, 8, 10], tanh/relu hidden, sigmoid output, binary_cross_entropy" \
           " loss, he init, float64; 2 epochs, batch_size=8, nesterov 0.8, lr=0.2, l1=1e-05, " \
           "l2=0.0001, seed=3, threads=2" in out
    net = Network.load(model)
    assert net.sizes == (64, 16, 8, 10) and net.dtype == np.float64
    assert net.config.activations == ("tanh", "relu") and net.config.init == "he"
    # The same settings through the API give the same parameters: one fit per epoch is fit(2).
    X, y, _, _ = datasets.load_digits()
    same = Network([64, 16, 8, 10], ["tanh", "relu"], "sigmoid", init="he", dtype=np.float64,
                   seed=3)
    same.fit(X, y, epochs=2, batch_size=8, lr=0.2, l1=1e-5, l2=1e-4, threads=2,
             optimizer="nesterov", momentum=0.8)
    assert np.array_equal(same.params, net.params)


def test_train_with_adam_takes_its_own_default_rate(tmp_path, capsys):
    model = tmp_path / "adam.npz"
    assert main(["train", "digits", "--optimizer", "adam", "--epochs", "2",
                 "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "2 epochs, batch_size=1, adam, lr=0.001, l1=0, l2=0, seed=0" in out
    X, y, _, _ = datasets.load_digits()
    same = Network([64, 32, 10], "sigmoid", "softmax", init="xavier", seed=0)
    same.fit(X, y, epochs=2, lr=0.001, optimizer="adam")
    assert np.array_equal(same.params, Network.load(model).params)
    first, last = (float(e[5]) for e in EPOCH.findall(out))
    assert last > first  # (accuracy; from random guesses to about 0.7 in the first epoch)


def test_train_with_adams_settings(tmp_path, capsys):
    model = tmp_path / "adam.npz"
    assert main(["train", "digits", "--optimizer", "adam", "--epochs", "1", "--beta1", "0.8",
                 "--beta2", "0.99", "--eps", "1e-6", "--save", str(model)]) == 0
    assert "1 epochs, batch_size=1, adam 0.8/0.99/1e-06, lr=0.001, " in capsys.readouterr().out
    X, y, _, _ = datasets.load_digits()
    same = Network([64, 32, 10], "sigmoid", "softmax", init="xavier", seed=0)
    same.fit(X, y, epochs=1, lr=0.001, optimizer="adam", beta1=0.8, beta2=0.99, eps=1e-6)
    assert np.array_equal(same.params, Network.load(model).params)
    other = Network([64, 32, 10], "sigmoid", "softmax", init="xavier", seed=0)
    other.fit(X, y, epochs=1, lr=0.001, optimizer="adam")
    assert not np.array_equal(other.params, same.params)


def test_train_compiles_before_its_epochs_are_timed(monkeypatch, capsys):
    # The kernels compile (or load from Numba's cache) in a twin's fit on a few samples with
    # the same settings, before the timed fit: a first run's epoch times are training only.
    calls = []
    fit = Network.fit

    def recording_fit(net, X, y, **kwargs):
        calls.append((net, len(X), {k: v for k, v in kwargs.items()
                                    if k not in ("epochs", "validation_data", "callback")}))
        return fit(net, X, y, **kwargs)

    monkeypatch.setattr(Network, "fit", recording_fit)
    assert main(["train", "digits", "--epochs", "1", "--batch-size", "8", "--optimizer",
                 "momentum", "--l2", "1e-4"]) == 0
    # The twin's first fit compiles the training kernels, its second the evaluation kernels.
    (twin, warm, warm_settings), (again, _, again_settings), (net, real, real_settings) = calls
    assert twin is again and twin is not net
    assert twin.epochs_trained == 2 and net.epochs_trained == 1
    assert warm == 16 and real == 1438
    assert warm_settings == again_settings == real_settings
    assert real_settings["batch_size"] == 8
    assert real_settings["optimizer"] == "momentum" and real_settings["l2"] == 1e-4


def warm_up_with_a_fake_helper(monkeypatch, argv, helper_after, interrupt=False):
    """main(argv) with start_compiling recording its jobs and the fits recording whether they
    validate; with a helper expected (helper_after < 1 s), the first fit (the twin's, without
    validation) lasts until it has started (at most 2 s). Returns main's status and the
    events in order."""
    events = []
    fit = Network.fit

    def start_compiling(jobs):
        events.append(("helper started", jobs))
        return FakeProcess(events)

    def recording_fit(net, X, y, **kwargs):
        if not any(e[0] == "fit" for e in events if isinstance(e, tuple)) and helper_after < 1:
            deadline = time.perf_counter() + 2
            while not events and time.perf_counter() < deadline:
                time.sleep(0.01)
            if interrupt:
                raise KeyboardInterrupt
        events.append(("fit", len(X), kwargs.get("validation_data") is not None))
        return fit(net, X, y, **kwargs)

    monkeypatch.setattr(cli, "HELPER_AFTER", helper_after)
    monkeypatch.setattr(compiling, "start_compiling", start_compiling)
    monkeypatch.setattr(Network, "fit", recording_fit)
    return main(argv), events


def test_a_long_warm_up_compiles_the_evaluation_kernels_in_another_process(monkeypatch):
    status, events = warm_up_with_a_fake_helper(monkeypatch, ["train", "xor", "--epochs", "1"],
                                                helper_after=0.05)
    assert status == 0
    assert events == [("helper started", [("evaluation", "float32")]), ("fit", 4, False),
                      "wait at most", ("fit", 4, True), ("fit", 4, True)]


def test_a_quick_warm_up_starts_no_other_process(monkeypatch):
    # (Kernels loaded from the cache, or here already compiled: the warm-up takes no time.)
    status, events = warm_up_with_a_fake_helper(monkeypatch, ["train", "xor", "--epochs", "1"],
                                                helper_after=3600)
    assert status == 0
    assert events == [("fit", 4, False), ("fit", 4, True), ("fit", 4, True)]


def test_ctrl_c_in_a_long_warm_up_stops_the_other_process(monkeypatch, capsys):
    status, events = warm_up_with_a_fake_helper(monkeypatch, ["train", "xor", "--epochs", "1"],
                                                helper_after=0.05, interrupt=True)
    assert status == 130
    assert events == [("helper started", [("evaluation", "float32")]), "kill",
                      "wait"]  # (reaped)


def test_a_warm_up_that_diverges_still_loads_the_evaluation_kernels(monkeypatch):
    calls = []
    monkeypatch.setattr(Network, "fit", lambda net, X, y, **kwargs: (_ for _ in ()).throw(
        training.DivergenceError("diverged")))
    monkeypatch.setattr(Network, "loss", lambda net, X, y, l1, l2: calls.append((len(X), l1, l2)))
    args = cli.build_parser().parse_args(["train", "xor", "--l2", "0.5"])
    cli.warm_up(cli.load_dataset("xor", None), cli._settings(args))
    assert calls == [(4, 0.0, 0.5)]


@pytest.mark.parametrize("seconds", [0.0, 0.3])
def test_train_says_when_it_compiles_for_long(monkeypatch, capsys, seconds):
    monkeypatch.setattr(cli, "NOTICE_AFTER", 0.1)
    monkeypatch.setattr(cli, "warm_up", lambda data, s: time.sleep(seconds) or seconds)
    assert main(["train", "xor", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert ("compiling the kernels (once" in out) == (seconds > 0)
    assert "kernels ready" not in out  # (under half a second)


def test_ctrl_c_while_compiling_ends_the_command(monkeypatch, capsys):
    @contextlib.contextmanager
    def pressed():  # Ctrl-C during the warm-up's fit
        yield [True]

    monkeypatch.setattr(training, "deferred_interrupt", pressed)
    assert main(["train", "digits", "--epochs", "1"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_momentum_scales_the_preset_rate_unless_given(capsys):
    assert main(["train", "xor", "--optimizer", "momentum", "--epochs", "1"]) == 0
    assert "batch_size=1, momentum 0.9, lr=0.05, " in capsys.readouterr().out
    assert main(["train", "xor", "--optimizer", "nesterov", "--momentum", "0.5", "--epochs",
                 "1"]) == 0
    assert "batch_size=1, nesterov 0.5, lr=0.25, " in capsys.readouterr().out
    assert main(["train", "xor", "--optimizer", "momentum", "--lr", "0.3", "--epochs", "1"]) == 0
    assert "batch_size=1, momentum 0.9, lr=0.3, " in capsys.readouterr().out


def test_save_evaluate_predict(tmp_path, capsys):
    model = tmp_path / "digits.npz"
    assert main(["train", "digits", "--epochs", "5", "--save", str(model)]) == 0
    assert f"saved the network to {model}" in capsys.readouterr().out

    assert main(["evaluate", str(model), "digits"]) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"loss [\d.]+\s+accuracy ([\d.]+)", out).group(1))
    net = Network.load(model)
    _, _, X_test, y_test = datasets.load_digits()
    assert accuracy == pytest.approx(net.score(X_test, y_test), abs=1e-4)
    table = out[out.index("true\\pred"):].splitlines()
    counts = np.array([[int(v) for v in row.split()[1:]] for row in table[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 359
    assert np.trace(counts) == round(accuracy * 359)

    inputs = tmp_path / "x.npy"
    np.save(inputs, X_test[:5])
    assert main(["predict", str(model), str(inputs)]) == 0
    lines = capsys.readouterr().out.split()
    assert lines == [str(v) for v in net.predict(X_test[:5])]
    np.save(inputs, X_test[0])  # one sample as a 1-D array
    assert main(["predict", str(model), str(inputs)]) == 0
    assert capsys.readouterr().out.split() == [str(net.predict(X_test[:1])[0])]
    np.save(inputs, X_test[:5])
    out_file = tmp_path / "p.npy"
    assert main(["predict", str(model), str(inputs), "--proba", "--out", str(out_file)]) == 0
    np.testing.assert_allclose(np.load(out_file), net.predict_proba(X_test[:5]))


def test_confusion_matrix():
    m = confusion_matrix(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), 3)
    assert m.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]


def test_train_mnist_and_bike_from_files_of_our_own(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(datasets, "MNIST_SHA256",
                        write_mnist(tmp_path / "mnist", mnist_arrays(n_train=50, n_test=20)))
    monkeypatch.setattr(datasets, "BIKE_SHA256", write_bike_csv(tmp_path / "bike-sharing"))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path))
    assert main(["train", "mnist", "--epochs", "2", "--layers", "8"]) == 0
    out = capsys.readouterr().out
    assert "mnist: 50 training, 20 test samples; network [784, 8, 10]" in out
    assert re.search(r"train accuracy [\d.]+\s+test accuracy [\d.]+\s+total", out)

    model = tmp_path / "bike.npz"
    assert main(["train", "bike", "--epochs", "3", "--save", str(model)]) == 0
    out = capsys.readouterr().out
    epochs = EPOCH.findall(out)
    assert [e[2] for e in epochs] == ["val"] * 3 and epochs[0][4] == "MSE"
    assert re.search(r"train MSE [\d.]+\s+val MSE [\d.]+\s+test MSE [\d.]+\s+total", out)
    assert re.search(r"test RMSE [\d.]+ rides per hour", out)
    assert main(["evaluate", str(model), "bike", "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "bike val set, 1440 samples" in out and "MSE" in out and "confusion" not in out


def test_plot(tmp_path, monkeypatch, capsys):
    path = tmp_path / "curves.png"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    one_line_error(capsys, ["train", "xor", "--epochs", "10", "--plot", str(path)],
                   "--plot needs matplotlib", "pip install 'fastmlp[plot]'")
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    assert main(["train", "xor", "--epochs", "10", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_are_one_line(tmp_path, capsys, monkeypatch):
    code, _, err = run("train", "--lr", "-1")
    assert code == 2
    assert err.strip().splitlines() == [
        "fastmlp: error: --epochs and --batch-size must be >= 1 and --lr > 0; got 20, 1, -1"]
    code, _, err = run("train", "imagenet")
    assert code == 2 and "invalid choice: 'imagenet'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

    one_line_error(capsys, ["train", "digits", "--l2", "-0.1"], "--l1 and --l2 must be >= 0")
    one_line_error(capsys, ["train", "digits", "--threads", "0"], "--threads must be >= 1")
    one_line_error(capsys, ["train", "digits", "--momentum", "0.5"],
                   "--momentum is for --optimizer momentum or nesterov; got --optimizer sgd")
    one_line_error(capsys, ["train", "digits", "--beta2", "0.99", "--eps", "1e-6"],
                   "--beta2/--eps are for --optimizer adam; got --optimizer sgd")
    one_line_error(capsys, ["train", "digits", "--optimizer", "adam", "--beta1", "1"],
                   "--optimizer adam --beta1 1 --beta2 0.999 --eps 1e-08: beta1 must be in "
                   "[0, 1); got 1.0")
    one_line_error(capsys, ["train", "digits", "--optimizer", "adam", "--eps", "0"],
                   "--optimizer adam --beta1 0.9 --beta2 0.999 --eps 0: eps must be a finite "
                   "number > 0; got 0.0")
    one_line_error(capsys, ["train", "digits", "--optimizer", "nesterov", "--momentum", "0"],
                   "--optimizer nesterov --momentum 0: nesterov needs momentum > 0")
    one_line_error(capsys, ["train", "digits", "--optimizer", "momentum", "--momentum", "-1"],
                   "momentum must be a finite number >= 0; got -1.0")
    one_line_error(capsys, ["train", "digits", "--activation", "swish", "--epochs", "1"],
                   "unknown activation 'swish'")
    one_line_error(capsys, ["train", "digits", "--activation", "tanh,relu", "--epochs", "1"],
                   "--activation lists 2 names for 1 hidden layers")
    one_line_error(capsys, ["train", "digits", "--output", "identity", "--epochs", "1"])
    one_line_error(capsys, ["train", "xor", "--lr", "1e6", "--epochs", "50"],
                   "training diverged")
    with pytest.raises(SystemExit) as e:
        main(["train", "digits", "--layers", "128,x"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected hidden layer widths like 128,64; got '128,x'" in err[0]

    one_line_error(capsys, ["evaluate", str(tmp_path / "none.npz"), "digits"],
                   "no model file at")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    one_line_error(capsys, ["evaluate", str(junk), "digits"], "is not a readable fastmlp model")
    one_line_error(capsys, ["predict", str(junk), str(junk)], "is not a readable fastmlp model")
    model = tmp_path / "xor.npz"
    assert main(["train", "xor", "--epochs", "1", "--save", str(model)]) == 0
    capsys.readouterr()
    one_line_error(capsys, ["evaluate", str(model), "digits"],
                   "is a network [2, 3, 1]; digits needs 64 inputs and 10 outputs")
    one_line_error(capsys, ["evaluate", str(model), "xor", "--split", "val"],
                   "xor has no 'val' split")
    one_line_error(capsys, ["predict", str(model), str(tmp_path / "none.npy")],
                   "no input file at")
    np.save(tmp_path / "x.npy", np.zeros((3, 5)))
    one_line_error(capsys, ["predict", str(model), str(tmp_path / "x.npy")],
                   "holds an array of shape (3, 5); the network expects (n, 2)")


def test_missing_data_is_one_line(tmp_path, monkeypatch, capsys):
    def no_network(url, timeout):
        raise urllib.error.URLError("no network in the tests")

    monkeypatch.setattr(download, "_open_url", no_network)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path))
    one_line_error(capsys, ["train", "mnist"], "could not download train-images-idx3-ubyte.gz",
                   "no network in the tests", str(tmp_path / "mnist"))
    one_line_error(capsys, ["train", "bike"], "could not download hour.csv",
                   str(tmp_path / "bike-sharing"))


def test_real_mnist_one_epoch(capsys):
    if not os.environ.get("FASTMLP_DATA"):
        pytest.skip("FASTMLP_DATA is not set: no real MNIST to train on")
    assert main(["train", "mnist", "--epochs", "1", "--layers", "32"]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"test accuracy ([\d.]+)\s+total", out).group(1)) > 0.9
