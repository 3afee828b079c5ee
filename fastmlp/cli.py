"""The ``fastmlp`` command: ``fastmlp train [xor|digits]``."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import datasets
from .network import Network

# What each dataset trains by default: the network and the SGD settings.
PRESETS = {
    "xor": dict(layers=[3], activation="sigmoid", output="identity", init="uniform",
                epochs=2000, batch_size=1, lr=0.5),
    "digits": dict(layers=[32], activation="sigmoid", output="softmax", init="xavier",
                   epochs=20, batch_size=1, lr=0.1),
}


def _load(name):
    if name == "xor":
        X, y = datasets.load_xor()
        return X, y, X, y
    return datasets.load_digits()


def train(args) -> None:
    preset = PRESETS[args.dataset]
    epochs, batch_size, lr = (preset[k] if getattr(args, k) is None else getattr(args, k)
                              for k in ("epochs", "batch_size", "lr"))
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"--epochs and --batch-size must be >= 1 and --lr > 0; got "
                         f"{epochs}, {batch_size}, {lr:g}")
    X_train, y_train, X_test, y_test = _load(args.dataset)
    sizes = [X_train.shape[1], *preset["layers"], 10 if args.dataset == "digits" else 1]
    net = Network(sizes, activation=preset["activation"], output=preset["output"],
                  init=preset["init"], seed=args.seed)
    print(f"{args.dataset}: {len(X_train)} training and {len(X_test)} test samples; "
          f"network {sizes}, {preset['activation']} hidden, {preset['output']} output; "
          f"batch_size={batch_size}, lr={lr:g}, seed={args.seed}")

    def accuracy(X, y):
        if args.dataset == "xor":  # a linear output: count outputs within 0.5 of the target
            return float(np.mean(np.abs(net.predict(X) - y) < 0.5))
        return net.score(X, y)

    every = max(1, epochs // 20)  # at most about 20 lines
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        history = net.fit(X_train, y_train, epochs=1, batch_size=batch_size, lr=lr)
        if epoch % every == 0 or epoch == epochs:
            print(f"epoch {epoch:4d}  loss {history['loss'][0]:.5f}  "
                  f"train accuracy {accuracy(X_train, y_train):.4f}  "
                  f"{history['time'][0]:.4f} s", flush=True)
    total = time.perf_counter() - started
    if args.dataset == "xor":
        outputs = " ".join(f"{x.astype(int).tolist()}->{o:.3f}" for x, o in zip(X_test, net.predict(X_test)))
        print(f"outputs: {outputs}")
    print(f"test accuracy {accuracy(X_test, y_test):.4f}  total {total:.2f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastmlp", description="Fast CPU training of small MLPs.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("train", help="train a network on a bundled dataset")
    p.add_argument("dataset", nargs="?", default="digits", choices=sorted(PRESETS))
    p.add_argument("--epochs", type=int, help="epochs (default: per dataset)")
    p.add_argument("--batch-size", type=int, help="1 for per-sample SGD (default: per dataset)")
    p.add_argument("--lr", type=float, help="learning rate (default: per dataset)")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        train(args)
    except (ValueError, TypeError) as e:
        print(f"fastmlp: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
