"""MNIST with the 784-128-64-10 network trained per sample for 10 epochs.

A popular from-scratch NumPy tutorial trains this network (sigmoid hidden layers, softmax
output) one image at a time; its code needs about 75 s per epoch and peaks near 95% test
accuracy. This is the same network and the same per-sample SGD in fastmlp (pixels in [0, 1],
Xavier initialization, learning rate 0.05), which `fastmlp train mnist` runs by default.

    python examples/mnist_128_64.py [--epochs 10] [--lr 0.05] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

from fastmlp import Network, datasets


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = datasets.load_mnist()
    sizes = [784, 128, 64, 10]
    Network(sizes).fit(X_train[:10], y_train[:10], validation_data=(X_test[:10], y_test[:10]))
    net = Network(sizes, activation="sigmoid", output="softmax", seed=args.seed)
    start = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=args.epochs, batch_size=1, lr=args.lr,
                      validation_data=(X_test, y_test))
    wall = time.perf_counter() - start
    for epoch, (loss, seconds, accuracy) in enumerate(
            zip(history["loss"], history["time"], history["val_score"]), start=1):
        print(f"epoch {epoch:2d}  loss {loss:.4f}  test accuracy {accuracy:.4f}  {seconds:.2f} s")
    training = sum(history["time"])
    accuracy = history["val_score"][-1]
    print(f"MNIST 784-128-64-10, {args.epochs} per-sample epochs, lr {args.lr:g}: test "
          f"accuracy {accuracy:.4f} (best {max(history['val_score']):.4f}); training "
          f"{training:.1f} s ({training / args.epochs:.2f} s per epoch), {wall:.1f} s with "
          f"the test set scored after every epoch")
    return [dict(experiment="MNIST 784-128-64-10, per-sample SGD",
                 setting=f"{args.epochs} epochs, lr {args.lr:g}",
                 tutorial="~95% peak, ~75 s per epoch", result=f"{100 * accuracy:.2f}%",
                 seconds=training)]


if __name__ == "__main__":
    main()
