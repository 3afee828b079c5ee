"""Run every tutorial experiment in this folder and print the results as a Markdown table.

    FASTMLP_DATA=/path/to/data python examples/run_all.py
"""
from __future__ import annotations

import bike_sharing
import mnist_128_64
import mnist_tutorial
import xor


def main() -> None:
    rows = []
    for module in (xor, mnist_tutorial, mnist_128_64, bike_sharing):
        rows += module.main([])
    print("\n| experiment | fastmlp setting | tutorial | fastmlp | training time |")
    print("| --- | --- | --- | --- | ---: |")
    for r in rows:
        print(f"| {r['experiment']} | {r['setting']} | {r.get('tutorial', '')} | "
              f"{r['result']} | {r['seconds']:.2f} s |")


if __name__ == "__main__":
    main()
