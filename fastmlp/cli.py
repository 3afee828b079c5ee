"""The ``fastmlp`` command line.

    fastmlp train [xor|digits|mnist|bike] [--layers 128,64] [--epochs N] [--optimizer adam] ...
    fastmlp evaluate model.npz DATASET [--split test]
    fastmlp predict model.npz FILE.npy [--out FILE] [--proba]
    fastmlp compile [--dtype float32,float64] [--threads] [--processes N]

Every problem (a bad option, an unknown dataset, missing data, an unreadable model) ends the
command with one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import datasets
from .config import INITS, LOSSES, OUTPUTS
from .training import DivergenceError
from .network import Network
from .optimizers import CODES as OPTIMIZERS, Optimizer
from .compiling import GROUPS, compiling_meanwhile, precompile

DATASETS = ("xor", "digits", "mnist", "bike")

# What each dataset trains by default: the network and the SGD settings.
PRESETS = {
    "xor": dict(layers=[3], activation="sigmoid", output="identity", init="uniform",
                epochs=2000, batch_size=1, lr=0.5),
    "digits": dict(layers=[32], activation="sigmoid", output="softmax", init="xavier",
                   epochs=20, batch_size=1, lr=0.1),
    "mnist": dict(layers=[128, 64], activation="sigmoid", output="softmax", init="xavier",
                  epochs=10, batch_size=1, lr=0.05),
    "bike": dict(layers=[20], activation="sigmoid", output="identity", init="xavier",
                 epochs=50, batch_size=16, lr=0.3),
}


ADAM_LR = 0.001  # --optimizer adam's default rate (PyTorch's and scikit-learn's)
ADAM_DEFAULTS = dict(beta1=0.9, beta2=0.999, eps=1e-8)  # (fit's)
NOTICE_AFTER = 1.0  # seconds of compiling before train says that it is compiling
# Seconds of train's warm-up before it compiles the evaluation kernels in another process: it
# is compiling (loading the kernels from Numba's cache takes a few tenths of a second).
HELPER_AFTER = 1.0


class CommandError(Exception):
    """A problem to report as one line, with exit status 2."""


# --- data -------------------------------------------------------------------------------------

@dataclass
class Data:
    """One dataset's splits. ``task`` is "classification" (integer/0-1 labels, accuracy) or
    "regression" (real targets, MSE); ``monitor`` names the split watched during training."""

    name: str
    task: str
    n_out: int
    splits: dict  # split name -> (X, y)
    monitor: str
    bike: datasets.BikeSharing | None = None

    @property
    def n_features(self) -> int:
        return self.splits["train"][0].shape[1]


def load_dataset(name: str, data_home=None) -> Data:
    """The named dataset as a ``Data``; ``data_home`` as for ``datasets.load_mnist``."""
    if name == "xor":
        X, y = datasets.load_xor()
        return Data(name, "classification", 1, {"train": (X, y), "test": (X, y)}, "test")
    if name == "digits":
        X_train, y_train, X_test, y_test = datasets.load_digits()
        return Data(name, "classification", 10,
                    {"train": (X_train, y_train), "test": (X_test, y_test)}, "test")
    if name == "mnist":
        X_train, y_train, X_test, y_test = datasets.load_mnist(data_home)
        return Data(name, "classification", 10,
                    {"train": (X_train, y_train), "test": (X_test, y_test)}, "test")
    if name == "bike":
        b = datasets.load_bike_sharing(data_home)
        return Data(name, "regression", 1, {"train": (b.X_train, b.y_train),
                                            "val": (b.X_val, b.y_val),
                                            "test": (b.X_test, b.y_test)}, "val", bike=b)
    raise CommandError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")


# --- metrics ----------------------------------------------------------------------------------

def labels(net: Network, X: np.ndarray) -> np.ndarray:
    """Predicted class labels ``(n,)``; an identity output of one unit (XOR) is rounded."""
    if net.config.is_classifier:
        return net.predict(X)
    return (net.predict(X) >= 0.5).astype(np.int64)


def metric(net: Network, data: Data, split: str) -> float:
    """Accuracy for a classification dataset, mean squared error for a regression one."""
    X, y = data.splits[split]
    if data.task == "classification":
        return float(np.mean(labels(net, X) == y))
    return float(np.mean((net.predict(X) - y) ** 2))


def metric_name(data: Data) -> str:
    return "accuracy" if data.task == "classification" else "MSE"


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``: row = true class, column = predicted class."""
    y_true = np.asarray(y_true, np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes
                       ).reshape(n_classes, n_classes)


def format_confusion(matrix: np.ndarray) -> str:
    width = max(5, len(str(matrix.max())) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(len(matrix)))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join([head, *rows])


# --- train ------------------------------------------------------------------------------------

def _settings(args) -> dict:
    """The preset of ``args.dataset`` overridden by the options given."""
    s = dict(PRESETS[args.dataset])
    for key in ("layers", "activation", "output", "init", "epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    s.update(loss=args.loss, l1=args.l1, l2=args.l2, dtype=args.dtype, seed=args.seed,
             threads=args.threads, optimizer=args.optimizer,
             momentum=0.9 if args.momentum is None else args.momentum)
    if args.momentum is not None and args.optimizer not in ("momentum", "nesterov"):
        raise CommandError(f"--momentum is for --optimizer momentum or nesterov; got "
                           f"--optimizer {args.optimizer}")
    adam = {key: getattr(args, key) for key in ADAM_DEFAULTS if getattr(args, key) is not None}
    if adam and args.optimizer != "adam":
        raise CommandError(f"--{'/--'.join(adam)} {'is' if len(adam) == 1 else 'are'} for "
                           f"--optimizer adam; got --optimizer {args.optimizer}")
    s.update(ADAM_DEFAULTS, **adam)
    if args.lr is None:  # (the presets' rates are SGD's)
        if args.optimizer == "adam":
            s["lr"] = ADAM_LR
        elif args.optimizer in ("momentum", "nesterov") and 0 <= s["momentum"] < 1:
            # The same step size in the long run: v sums the gradients by 1 / (1 - momentum).
            s["lr"] *= 1 - s["momentum"]
    if isinstance(s["activation"], str):
        s["activation"] = [s["activation"]]
    if s["epochs"] < 1 or s["batch_size"] < 1 or not s["lr"] > 0:
        raise CommandError(f"--epochs and --batch-size must be >= 1 and --lr > 0; got "
                           f"{s['epochs']}, {s['batch_size']}, {s['lr']:g}")
    if not (s["l1"] >= 0 and s["l2"] >= 0):
        raise CommandError(f"--l1 and --l2 must be >= 0; got {s['l1']:g}, {s['l2']:g}")
    if s["threads"] < 1:
        raise CommandError(f"--threads must be >= 1; got {s['threads']}")
    try:  # (fit's own checks, before the data loads)
        Optimizer.create(s["optimizer"], s["momentum"], s["beta1"], s["beta2"], s["eps"])
    except ValueError as e:
        keys = list(ADAM_DEFAULTS) if s["optimizer"] == "adam" else ["momentum"]
        raise CommandError(f"--optimizer {s['optimizer']}"
                           + "".join(f" --{key} {s[key]:g}" for key in keys) + f": {e}"
                           ) from None
    return s


def _need_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise CommandError("--plot needs matplotlib, which is not installed: "
                           "pip install 'fastmlp[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(path: str, curves: dict, data: Data) -> None:
    """Loss (training and monitored split) and the monitored metric per epoch, to ``path``."""
    plt = _need_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = curves["epoch"]
    left.plot(epochs, curves["loss"], label="training (mean over each epoch)")
    left.plot(epochs, curves["monitor_loss"], label=f"{data.monitor} (end of epoch)")
    left.set(xlabel="epoch", ylabel="loss", title=f"{data.name}: loss")
    left.legend()
    right.plot(epochs, curves["monitor_metric"], color="C1")
    right.set(xlabel="epoch", ylabel=f"{data.monitor} {metric_name(data)}",
              title=f"{data.name}: {data.monitor} {metric_name(data)}")
    fig.tight_layout()
    try:
        fig.savefig(path)
    finally:
        plt.close(fig)


def _activations(config) -> str:
    names = config.activations
    if not names:
        return "no"
    return names[0] if len(set(names)) == 1 else "/".join(names)


def _make_network(s: dict, data: Data) -> Network:
    sizes = [data.n_features, *s["layers"], data.n_out]
    activation = s["activation"] if len(s["activation"]) != 1 else s["activation"][0]
    if isinstance(activation, list) and len(activation) != len(s["layers"]):
        raise CommandError(f"--activation lists {len(activation)} names for "
                           f"{len(s['layers'])} hidden layers; give one name, or one per layer")
    return Network(sizes, activation=activation, output=s["output"], loss=s["loss"],
                   init=s["init"], dtype=np.dtype(s["dtype"]), seed=s["seed"])


def _optimizer(s: dict) -> str:
    if s["optimizer"] in ("momentum", "nesterov"):
        return f"{s['optimizer']} {s['momentum']:g}"
    if s["optimizer"] == "adam" and any(s[key] != v for key, v in ADAM_DEFAULTS.items()):
        return f"adam {s['beta1']:g}/{s['beta2']:g}/{s['eps']:g}"
    return s["optimizer"]


def _describe(net: Network, data: Data, s: dict) -> str:
    c = net.config
    sizes = ", ".join(f"{len(v[0])} {k}" for k, v in data.splits.items())
    return (f"{data.name}: {sizes.replace(' train,', ' training,', 1)} samples; network "
            f"{list(c.sizes)}, {_activations(c)} hidden, {c.output} output, {c.loss} loss, "
            f"{c.init} init, {c.dtype.name}; {s['epochs']} epochs, "
            f"batch_size={s['batch_size']}, {_optimizer(s)}, lr={s['lr']:g}, l1={s['l1']:g}, "
            f"l2={s['l2']:g}, seed={s['seed']}" + (f", threads={s['threads']}" if s["threads"] > 1 else ""))


def _fit_settings(s: dict) -> dict:
    keys = ("batch_size", "lr", "l1", "l2", "threads", "optimizer", "momentum",
            *ADAM_DEFAULTS)
    return {key: s[key] for key in keys}


def warm_up(data: Data, s: dict) -> float:
    """Compile the kernels training will call (or load them from Numba's cache) by a twin
    network's fits on a few samples, so that epoch times are training only: an epoch for
    the training kernels, then one with validation for the evaluation kernels. If the first
    takes long (it compiles), the evaluation kernels compile meanwhile in another process,
    which the second waits for and then loads them from the cache (on two cores, digits'
    first run: 9 s instead of 13.5 s; see benchmarks/HISTORY.md, Compilation). Returns the
    seconds it took."""
    started = time.perf_counter()
    X, y = data.splits["train"]
    X_val, y_val = data.splits[data.monitor]
    m = min(len(X), max(s["batch_size"], 16))  # (a whole batch: the same kernels)
    twin = _make_network(s, data)
    evaluation = [("evaluation", np.dtype(twin.dtype).name)]
    with compiling_meanwhile(evaluation, after=HELPER_AFTER) as join:
        _warm_up_fit(twin, X[:m], y[:m], None, s)
        join()
        _warm_up_fit(twin, X[:m], y[:m], (X_val[:8], y_val[:8]), s)
    return time.perf_counter() - started


def _warm_up_fit(net: Network, X, y, validation_data, s: dict) -> None:
    """One of ``warm_up``'s fits."""
    try:
        history = net.fit(X, y, validation_data=validation_data, callback=lambda history: None,
                          **_fit_settings(s))
    except DivergenceError:  # (a few samples at this lr: the kernels compiled all the same)
        if validation_data is not None:  # (but validation never ran: its kernels, by the loss)
            net.loss(*validation_data, l1=s["l1"], l2=s["l2"])
        return
    if history.get("stopped") == "interrupted":  # (Ctrl-C while compiling: not a warm-up's)
        raise KeyboardInterrupt


def train_epochs(net: Network, data: Data, s: dict) -> dict:
    """Train ``s["epochs"]`` epochs with a progress bar and a line every few epochs.

    One fit call, reporting through its callback after every epoch. The bar (on a terminal
    only) advances per epoch and shows samples per second. Ctrl-C stops after the epoch under
    way and keeps what was trained. Returns per-epoch lists: epoch, loss (training, the mean
    over the epoch), time (training seconds), monitor_loss and monitor_metric (the monitored
    split's loss and accuracy or MSE at the end of the epoch).
    """
    X, y = data.splits["train"]
    monitor = data.splits[data.monitor]
    classifier = net.config.is_classifier and data.task == "classification"
    name = f"{data.monitor} {metric_name(data)}"
    epochs = s["epochs"]
    every = max(1, epochs // 20)  # at most about 20 lines
    curves = {"epoch": [], "loss": [], "time": [], "monitor_loss": [], "monitor_metric": []}
    with tqdm(total=epochs * len(X), unit=" samples", unit_scale=True, desc=data.name,
              disable=None, leave=False, mininterval=0.5) as bar:

        def report(h: dict) -> None:
            epoch = len(h["loss"])
            value = h["val_score"][-1] if classifier else metric(net, data, data.monitor)
            for key, v in (("epoch", epoch), ("loss", h["loss"][-1]), ("time", h["time"][-1]),
                           ("monitor_loss", h["val_loss"][-1]), ("monitor_metric", value)):
                curves[key].append(v)
            bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {h['loss'][-1]:.4f}",
                                refresh=False)
            bar.update(len(X))
            if epoch % every == 0 or epoch == epochs:
                tqdm.write(f"epoch {epoch:4d}  loss {h['loss'][-1]:.5f}  "
                           f"{data.monitor} loss {h['val_loss'][-1]:.5f}  {name} {value:.4f}  "
                           f"{h['time'][-1]:.4f} s")

        history = net.fit(X, y, epochs=epochs, validation_data=monitor, callback=report,
                          **_fit_settings(s))
    if history["stopped"] == "interrupted":
        print(f"interrupted: kept the network after epoch {len(history['loss'])}", flush=True)
    return curves


def _summary(net: Network, data: Data, curves: dict, total: float) -> None:
    if data.name == "xor":
        X = data.splits["test"][0]
        out = net.predict(X).reshape(len(X), -1)[:, -1]
        print("outputs: " + " ".join(f"{x.astype(int).tolist()}->{o:.3f}"
                                     for x, o in zip(X, out)))
    scores = {split: metric(net, data, split) for split in data.splits}
    print("  ".join(f"{split} {metric_name(data)} {score:.4f}"
                    for split, score in scores.items()) + f"  total {total:.2f} s")
    if data.bike is not None:
        rmse = np.sqrt(scores["test"]) * data.bike.scaling["cnt"][1]
        print(f"test RMSE {rmse:.1f} rides per hour")
    training, epochs = sum(curves["time"]), len(curves["epoch"])
    samples = epochs * len(data.splits["train"][0])
    print(f"training {training:.2f} s: {training / epochs:.4f} s per epoch, "
          f"{samples / max(training, 1e-9):,.0f} samples/s")


def train(args) -> None:
    s = _settings(args)
    if args.plot:
        _need_matplotlib()  # fail before training, not after
    for option, path in (("--save", args.save), ("--plot", args.plot)):
        if path and not Path(path).resolve().parent.is_dir():
            raise CommandError(f"{option} {path}: the folder {Path(path).parent} does not exist")
    data = load_dataset(args.dataset, args.data_home)
    net = _make_network(s, data)
    print(_describe(net, data, s), flush=True)
    started = time.perf_counter()
    # A first run compiles for a while before anything else happens: say so if it takes long.
    notice = threading.Timer(NOTICE_AFTER, lambda: print(
        "compiling the kernels (once: Numba caches them for later runs)...", flush=True))
    notice.start()
    try:
        seconds = warm_up(data, s)
    finally:
        notice.cancel()
    if seconds > 0.5:
        print(f"kernels ready in {seconds:.1f} s (compiled, or loaded from Numba's cache)",
              flush=True)
    curves = train_epochs(net, data, s)
    _summary(net, data, curves, time.perf_counter() - started)
    if args.save:
        net.save(args.save)
        print(f"saved the network to {args.save}")
    if args.plot:
        plot_curves(args.plot, curves, data)
        print(f"saved the curves to {args.plot}")


# --- evaluate and predict ---------------------------------------------------------------------

def _load_model(path: str) -> Network:
    try:
        return Network.load(path)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None


def evaluate(args) -> None:
    net = _load_model(args.model)
    data = load_dataset(args.dataset, args.data_home)
    if args.split not in data.splits:
        raise CommandError(f"{data.name} has no {args.split!r} split: expected one of "
                           f"{', '.join(data.splits)}")
    if net.sizes[0] != data.n_features or net.sizes[-1] != data.n_out:
        raise CommandError(f"{args.model} is a network {list(net.sizes)}; {data.name} needs "
                           f"{data.n_features} inputs and {data.n_out} outputs")
    X, y = data.splits[args.split]
    print(f"{args.model}: network {list(net.sizes)}, {net.config.output} output, "
          f"{net.config.loss} loss; {data.name} {args.split} set, {len(X)} samples")
    score = metric(net, data, args.split)
    print(f"loss {net.loss(X, y):.5f}  {metric_name(data)} {score:.4f}")
    if data.task == "regression":  # (the score is the mean squared error)
        print(f"R^2 {1 - score / np.var(y):.4f}")
        if data.bike is not None:
            rmse = np.sqrt(score) * data.bike.scaling["cnt"][1]
            print(f"RMSE {rmse:.1f} rides per hour")
        return
    n_classes = max(net.sizes[-1], 2)
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(format_confusion(confusion_matrix(y, labels(net, X), n_classes)))


def _read_inputs(path: str, n_in: int) -> np.ndarray:
    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CommandError(f"no input file at {path!r}") from None
    except (OSError, ValueError):
        raise CommandError(f"{path!r} is not a readable .npy file: expected one array of "
                           f"shape (n, {n_in}) written by numpy.save") from None
    if not isinstance(X, np.ndarray):
        raise CommandError(f"{path!r} holds several arrays (an .npz); expected one .npy array "
                           f"of shape (n, {n_in})")
    if X.ndim == 1 and X.shape[0] == n_in:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise CommandError(f"{path!r} holds an array of shape {X.shape}; the network expects "
                           f"(n, {n_in})")
    return X


def predict(args) -> None:
    net = _load_model(args.model)
    X = _read_inputs(args.inputs, net.sizes[0])
    out = net.predict_proba(X) if args.proba else net.predict(X)
    if args.out:
        if args.out.endswith(".npy"):
            np.save(args.out, out)
        else:
            np.savetxt(args.out, out.reshape(len(out), -1), fmt="%d" if out.dtype.kind == "i"
                       else "%.6g")
        print(f"wrote {len(out)} predictions to {args.out}", file=sys.stderr)
        return
    rows = out.reshape(len(out), -1)
    fmt = "{:d}" if out.dtype.kind == "i" else "{:.6g}"
    sys.stdout.write("".join(" ".join(fmt.format(v) for v in row) + "\n" for row in rows))


# --- the parser -------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _layers(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hidden layer widths like 128,64; got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1; got {text!r}")
    return widths


def compile_kernels(args) -> None:
    try:
        seconds = precompile(args.dtype, threads=args.threads, processes=args.processes)
    except RuntimeError as e:
        raise CommandError(str(e).splitlines()[0]) from None
    wall = seconds.pop("wall")
    for job, s in seconds.items():
        group = job.split()[1]
        print(f"{job:<22} {s:6.1f} s  {GROUPS[group][0]}")
    print(f"compiled in {wall:.1f} s ({sum(seconds.values()):.1f} s of processes at once)")


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastmlp", description="Fast CPU training of small MLPs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("train", help="train a network on a dataset",
                            description="Train a network; defaults depend on the dataset.")
    p.add_argument("dataset", nargs="?", default="digits", choices=DATASETS,
                   help="xor, digits (bundled, the default), mnist, bike (bike sharing)")
    p.add_argument("--layers", type=_layers, help="hidden layer widths, e.g. 128,64")
    p.add_argument("--activation", type=_names,
                   help="hidden activation (sigmoid, tanh, relu, identity), or one per layer")
    p.add_argument("--output", choices=sorted(OUTPUTS))
    p.add_argument("--loss", choices=sorted(LOSSES), help="default: the output's natural loss")
    p.add_argument("--init", choices=list(INITS))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="1 for per-sample SGD")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd",
                   help="the update rule (see Network.fit): sgd (the default), momentum, "
                        "nesterov (default --lr: the preset's times 1 - momentum), adam (beta1 "
                        "0.9, beta2 0.999, eps 1e-8; default --lr 0.001)")
    p.add_argument("--momentum", type=float,
                   help="momentum and nesterov: the momentum (default 0.9)")
    for key, default in ADAM_DEFAULTS.items():
        p.add_argument(f"--{key}", type=float, help=f"adam: {key} (default {default:g})")
    p.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the weights")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weights")
    p.add_argument("--threads", type=int, default=1,
                   help="minibatches: each batch's gradient in this many parts at once, on "
                        "up to as many threads")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="MODEL.npz", help="save the trained network")
    p.add_argument("--plot", metavar="CURVES.png",
                   help="plot loss and accuracy per epoch (needs matplotlib)")
    p.add_argument("--data-home", help="folder holding the dataset's files")
    p.set_defaults(run=train)

    p = commands.add_parser("evaluate", help="loss, accuracy and confusion matrix of a model")
    p.add_argument("model", help="a file written by --save or Network.save")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("--split", default="test", help="train, test (default) or val (bike)")
    p.add_argument("--data-home", help="folder holding the dataset's files")
    p.set_defaults(run=evaluate)

    p = commands.add_parser("predict", help="predictions of a model for inputs in a .npy file")
    p.add_argument("model", help="a file written by --save or Network.save")
    p.add_argument("inputs", metavar="FILE.npy", help="inputs, shape (n, n_in)")
    p.add_argument("--out", help="write to this file (.npy, else text) instead of stdout")
    p.add_argument("--proba", action="store_true", help="class probabilities, not labels")
    p.set_defaults(run=predict)

    p = commands.add_parser("compile", help="compile every kernel into Numba's cache ahead of use",
                            description="Compile the kernels of the given dtypes into Numba's "
                                        "cache, several processes at once, so that later runs "
                                        "load them instead of compiling them.")
    p.add_argument("--dtype", type=_names, default=["float32"],
                   help="float32 (the default), float64, or float32,float64")
    p.add_argument("--threads", action="store_true",
                   help="also the kernel of fit(threads=k), for minibatches on threads")
    p.add_argument("--processes", type=int, help="at most this many at once (default: one per "
                                                 "usable core)")
    p.set_defaults(run=compile_kernels)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CommandError, ValueError, TypeError, OSError, DivergenceError) as e:
        print(f"fastmlp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastmlp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
