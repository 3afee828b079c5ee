"""The bike-sharing regression of the Udacity "first neural network" project, in fastmlp.

56 inputs (the prepared hour.csv of ``fastmlp.datasets.load_bike_sharing``), one hidden
layer of sigmoid units, one linear output, mean squared error, on the standardized count of
rides. The project's bar: training loss < 0.09 and validation loss < 0.18, where its loss is
the mean of (prediction - target)^2 on the standardized count (fastmlp's "mse" loss is half
of that, so this script reports the project's measure).

With matplotlib installed it writes two plots: the training and validation loss per epoch,
and predicted against actual rides for every hour of the 21 test days.

    python examples/bike_sharing.py [--hidden 20] [--epochs 50] [--plots DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fastmlp import Network, datasets


def mse(net: Network, X: np.ndarray, y: np.ndarray) -> float:
    """The project's loss: mean of (prediction - target)^2."""
    return float(np.mean((net.predict(X) - y) ** 2))


def plot(folder: Path, curves: dict, bike: datasets.BikeSharing, predicted: np.ndarray) -> None:
    try:
        import matplotlib
    except ImportError:
        print("no plots: matplotlib is not installed (pip install 'fastmlp[plot]')")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curves["epoch"], curves["train"], label="training")
    ax.plot(curves["epoch"], curves["val"], label="validation")
    ax.axhline(0.09, color="C0", ls=":", lw=1)
    ax.axhline(0.18, color="C1", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="mean squared error (standardized rides)",
           title="bike sharing: loss (dotted: the project's bars)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "bike_loss.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(bike.test_times, bike.unscale(bike.y_test), label="actual", lw=1)
    ax.plot(bike.test_times, predicted, label="predicted", lw=1)
    ax.set(ylabel="rides per hour", title="bike sharing: the 21 test days, Dec 2012")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(folder / "bike_predictions.png")
    plt.close(fig)
    print(f"plots: {folder / 'bike_loss.png'}, {folder / 'bike_predictions.png'}")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plots", type=Path, default=Path(__file__).parent / "output",
                        help="folder for the plots (default: examples/output)")
    args = parser.parse_args(argv)

    bike = datasets.load_bike_sharing()
    sizes = [56, args.hidden, 1]
    Network(sizes, output="identity").fit(bike.X_train[:64], bike.y_train[:64],
                                          batch_size=args.batch_size)  # compile first
    net = Network(sizes, activation="sigmoid", output="identity", seed=args.seed)
    curves = {"epoch": [], "train": [], "val": []}
    training = 0.0
    for epoch in range(1, args.epochs + 1):
        history = net.fit(bike.X_train, bike.y_train, epochs=1, batch_size=args.batch_size,
                          lr=args.lr)
        training += history["time"][0]
        curves["epoch"].append(epoch)
        curves["train"].append(mse(net, bike.X_train, bike.y_train))
        curves["val"].append(mse(net, bike.X_val, bike.y_val))
    train_loss, val_loss = curves["train"][-1], curves["val"][-1]
    test_loss = mse(net, bike.X_test, bike.y_test)
    predicted = bike.unscale(net.predict(bike.X_test))
    rmse = float(np.sqrt(np.mean((predicted - bike.unscale(bike.y_test)) ** 2)))
    print(f"bike sharing 56-{args.hidden}-1, {args.epochs} epochs of minibatches of "
          f"{args.batch_size}, lr {args.lr:g}: training loss {train_loss:.4f} (bar < 0.09), "
          f"validation loss {val_loss:.4f} (bar < 0.18), test loss {test_loss:.4f} "
          f"(RMSE {rmse:.0f} rides per hour); training {training:.2f} s")
    plot(args.plots, curves, bike, predicted)
    return [dict(experiment=f"bike sharing 56-{args.hidden}-1, MSE",
                 setting=f"{args.epochs} epochs, batch {args.batch_size}, lr {args.lr:g}",
                 tutorial="bar: train < 0.09, val < 0.18",
                 result=f"train {train_loss:.3f}, val {val_loss:.3f}", seconds=training)]


if __name__ == "__main__":
    main()
