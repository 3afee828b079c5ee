"""XOR with the 2-3-1 network of the from-scratch tutorials: sigmoid hidden, linear output, MSE.

The "TensorFlow for Hackers (Part IV)" tutorial trains it in NumPy with 50,000 full-batch
gradient steps (learning rate 0.1 on the summed error) and prints outputs of 0 and 1. This
script trains the same network two ways: per-sample SGD for 2,000 epochs (what
`fastmlp train xor` does), and the tutorial's own schedule, 50,000 full-batch steps (the
summed error's rate 0.1 is a mean-gradient rate of 0.4 over the four cases).

    python examples/xor.py
"""
from __future__ import annotations

import time

import numpy as np

from fastmlp import Network, datasets


def train(batch_size: int, lr: float, epochs: int, seed: int = 0) -> dict:
    """Train a 2-3-1 net on XOR; returns its outputs, MSE (mean squared error) and time."""
    X, y = datasets.load_xor()
    net = Network([2, 3, 1], activation="sigmoid", output="identity", init="uniform",
                  seed=seed)
    start = time.perf_counter()
    net.fit(X, y, epochs=epochs, batch_size=batch_size, lr=lr)
    seconds = time.perf_counter() - start
    out = net.predict(X)
    return {"outputs": out, "mse": float(np.mean((out - y) ** 2)),
            "accuracy": float(np.mean((out >= 0.5) == (y == 1))), "seconds": seconds}


def main(argv=None) -> list[dict]:
    train(1, 0.5, 1)  # compile the kernels outside the timings
    train(4, 0.4, 1)
    rows = []
    for name, (batch_size, lr, epochs) in {
            "per-sample SGD, 2,000 epochs, lr 0.5": (1, 0.5, 2000),
            "tutorial schedule: 50,000 full-batch steps, lr 0.4": (4, 0.4, 50_000)}.items():
        r = train(batch_size, lr, epochs)
        print(f"XOR 2-3-1, {name}: outputs {np.round(r['outputs'], 3).tolist()}, "
              f"MSE {r['mse']:.2e}, accuracy {r['accuracy']:.2f}, {r['seconds']:.2f} s")
        rows.append(dict(experiment="XOR 2-3-1", setting=name, tutorial="outputs 0, 1, 1, 0",
                         result=f"MSE {r['mse']:.1e}",
                         seconds=r["seconds"]))
    return rows


if __name__ == "__main__":
    main()
