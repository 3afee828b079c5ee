"""The benchmark report: runs the suite (or reads a pytest-benchmark JSON) and prints Markdown.

    python -m benchmarks.report                        # run the full suite, then report
    python -m benchmarks.report --json run.json        # report an existing run
    python -m benchmarks.report --smoke                # tiny sizes: checks the pipeline only
    python -m benchmarks.report -- -k mnist-f32        # extra arguments go to pytest

Per workload: seconds per epoch (median, min-max over the rounds), samples/s, GFLOP/s of
nominal dense work, the speedup of fastmlp over each contender, and each contender's held-out
accuracy (or MSE) after its timed rounds; then the compilation times and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / ".benchmarks" / "fastmlp-latest.json"
PEERS = [("reference", "NumPy reference"), ("torch", "PyTorch"), ("sklearn", "scikit-learn")]


def run_suite(json_path: Path, smoke: bool, pytest_args: list[str]) -> None:
    """Run ``pytest benchmarks`` in a new process, writing pytest-benchmark's JSON."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if smoke:
        env["FASTMLP_BENCH_SMOKE"] = "1"
    command = [sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "-q",
               f"--benchmark-json={json_path}", *pytest_args]
    print("running:", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=sys.stderr)


class Row:
    """One timed contender of one workload, with its times scaled to a full epoch."""

    def __init__(self, bench: dict[str, Any]):
        self.info = info = bench["extra_info"]
        stats = bench["stats"]
        epochs = info.get("epochs_per_call", 1)
        self.scale = info["epoch_samples"] / info["samples_per_epoch_call"]
        self.median = stats["median"] * self.scale / epochs
        self.min = stats["min"] * self.scale / epochs
        self.max = stats["max"] * self.scale / epochs
        self.rounds = stats["rounds"]
        self.samples_per_s = epochs * info["samples_per_epoch_call"] / stats["median"]
        self.gflops = self.samples_per_s * info["flops_per_sample"] / 1e9


def fmt_seconds(s: float) -> str:
    if s >= 10:
        return f"{s:.0f}"
    if s >= 0.01:
        return f"{s:.3g}"
    return f"{s:.2e}"


def fmt_rate(x: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if x >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def fmt_score(info: dict[str, Any]) -> str:
    value = info.get("score")
    if value is None:
        return "–"
    return f"{value:.3f}" if info["metric"] == "accuracy" else f"{value:.4g}"


def group(benchmarks: list[dict]) -> dict[str, list[Row]]:
    """Timed training rows by workload, in the order they ran."""
    out: dict[str, list[Row]] = {}
    for b in benchmarks:
        if "epoch_samples" in b.get("extra_info", {}):
            out.setdefault(b["extra_info"]["workload"], []).append(Row(b))
    return out


def speedup(fast: Row | None, row: Row) -> str:
    """How many times faster fastmlp trains an epoch than ``row``'s contender."""
    if fast is None:
        return "–"
    x = row.median / fast.median
    return f"{x:.0f}×" if x >= 10 else f"{x:.2g}×"


def fastmlp_rows(rows: list[Row]) -> tuple[Row | None, Row | None]:
    """fastmlp on 1 thread, and on 2 (the 1-thread row where it did not run on 2)."""
    fast = [r for r in rows if r.info["kind"] == "fastmlp"]
    one = next((r for r in fast if r.info["threads"] == 1), None)
    return one, next((r for r in fast if r.info["threads"] == 2), one)


def matching(rows: list[Row], row: Row) -> Row | None:
    """The fastmlp row to compare ``row`` with: the one on as many threads."""
    one, two = fastmlp_rows(rows)
    return two if row.info["threads"] == 2 else one


def summary_table(workloads: dict[str, list[Row]]) -> list[str]:
    """One line per workload: fastmlp's speed (1 thread / 2 where run) and its speedup over
    each peer at the same thread count (1t / 2t)."""
    head = ["Workload", "fastmlp s/epoch (1t / 2t)", "samples/s", "GFLOP/s", "score"]
    head += [f"× vs {name} (1t / 2t)" for _, name in PEERS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rows in workloads.items():
        one, two = fastmlp_rows(rows)
        if one is None:
            continue
        seconds = fmt_seconds(one.median) + (f" / {fmt_seconds(two.median)}" if two is not one
                                             else "")
        cells = [f"{name}", seconds, fmt_rate(one.samples_per_s), f"{one.gflops:.3g}",
                 f"{one.info['metric']} {fmt_score(one.info)}"]
        for kind, _ in PEERS:
            peers = [r for r in rows if r.info["kind"] == kind]
            cells.append(" / ".join(speedup(matching(rows, r), r) for r in peers) or "not run")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def optimizer_table(workloads: dict[str, list[Row]]) -> list[str]:
    """fastmlp's epoch with each optimizer against plain SGD's on the same workload, timed in
    pairs (an SGD epoch before each round of the optimizer's): the median of the pairs'
    ratios."""
    lines = ["| Workload | optimizer | fastmlp s/epoch | plain SGD s/epoch, paired | "
             "× plain SGD's (median of pairs) | pairs |", "|---|---|---|---|---|---|"]
    for name, rows in workloads.items():
        one, _ = fastmlp_rows(rows)
        pairs = one.info.get("paired_s") if one else None
        if not pairs:
            continue
        sgd = statistics.median(s for s, _ in pairs) * one.scale
        ratio = statistics.median(o / s for s, o in pairs)
        lines.append(f"| {name} | {one.info['optimizer']} | {fmt_seconds(one.median)} | "
                     f"{fmt_seconds(sgd)} | {ratio:.2f} | {len(pairs)} |")
    return lines if len(lines) > 2 else []


def workload_table(rows: list[Row]) -> list[str]:
    """Every contender of one workload; speedups against fastmlp on as many threads."""
    head = ["Contender", "threads", "samples timed", "s/epoch median (min–max)", "samples/s",
            "GFLOP/s", "fastmlp speedup", f"{rows[0].info['metric']} after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        i = r.info
        timed = f"{i['samples_per_epoch_call']}" + (
            f" of {i['epoch_samples']}" if r.scale != 1 else "")
        fast = matching(rows, r)
        cells = [i["label"], str(i["threads"]), timed,
                 f"{fmt_seconds(r.median)} ({fmt_seconds(r.min)}–{fmt_seconds(r.max)})",
                 fmt_rate(r.samples_per_s), f"{r.gflops:.3g}",
                 "1×" if i["kind"] == "fastmlp" else speedup(fast, r),
                 f"{fmt_score(i)} ({i['samples_trained']} samples)"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def compilation_table(benchmarks: list[dict]) -> list[str]:
    rows = [b for b in benchmarks if b.get("extra_info", {}).get("workload") == "compilation"]
    if not rows:
        return []
    lines = ["| Numba cache | import fastmlp (s) | first XOR epoch (s) | whole process (s) |",
             "|---|---|---|---|"]
    for b in rows:
        i = b["extra_info"]
        lines.append(f"| {i['cache']} | {statistics.median(i['import_s']):.2f} | "
                     f"{statistics.median(i['first_epoch_s']):.2f} | "
                     f"{b['stats']['median']:.2f} |")
    return lines


def machine_lines(machine_info: dict[str, Any]) -> list[str]:
    m = machine_info.get("fastmlp_bench", {})
    if not m:
        return [f"- machine: {machine_info.get('cpu', {}).get('brand_raw', 'unknown')}"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    missing = [k for k in ("torch", "scikit-learn") if not m["versions"].get(k)]
    start, end = m.get("load_average_start"), m.get("load_average")
    load = (f"; 1-minute load average {start[0]:.1f} at the start of the run, {end[0]:.1f} at "
            f"the end" if start and end else "")
    details = ", ".join(filter(None, [m.get("llvm_cpu") and f"LLVM target {m['llvm_cpu']}",
                                      m.get("caches")]))
    lines = [f"- CPU: {m['cpu']}" + (f" ({details})" if details else "")
             + f", {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable)" + load,
             f"- {m['os']}, Python {m['python']}; {versions}",
             f"- threads: fastmlp runs on 1 (serial Numba loops; its minibatch kernels call "
             f"BLAS limited to 1 thread), and for minibatches also on 2 (`fit(threads=2)`: "
             f"each batch in 2 parts at once on 2 threads"
             + (f", except batches under {m['threads_from']:,} multiply-adds, which train as "
                f"on 1" if m.get("threads_from") else "")
             + "); the NumPy reference, PyTorch and "
             f"scikit-learn run pinned to 1 and to 2 threads (threadpoolctl, "
             f"torch.set_num_threads); each is compared with fastmlp on as many threads. "
             f"BLAS/OpenMP loaded: "
             f"{'; '.join(m['blas'])}"]
    if start and end and max(start[0], end[0]) > 0.5 * m["usable_cpus"]:
        lines.append("- other work was running on the machine during the run: timings, "
                     "especially with 2 threads, are noisier than on an idle machine")
    if missing:
        lines.append(f"- not installed, so not run: {', '.join(missing)}")
    if m.get("smoke"):
        lines.append("- **SMOKE RUN** (tiny data, one round): these numbers mean nothing")
    return lines


def render(run: dict[str, Any]) -> str:
    benchmarks = run["benchmarks"]
    workloads = group(benchmarks)
    out = ["## Benchmark results", ""]
    out += machine_lines(run.get("machine_info", {}))
    sources = sorted({r.info["data"] for rows in workloads.values() for r in rows})
    out += [f"- data: {s}" for s in sources]
    out += [f"- run: {run.get('datetime', '?')}", "",
            "Seconds per epoch are medians over the timed rounds (min–max in the detail "
            "tables), after a warm-up fit and one untimed round, so JIT compilation and cold "
            "caches are excluded; Python's collector is off while a contender is timed, as "
            "in `timeit`. Contenders timed "
            "on a fixed subset of an epoch (\"samples timed: k of n\") have their times scaled "
            "by n/k to a full epoch; samples/s is unscaled. A workload timed over several "
            "epochs per call (XOR: each contender trains them as its users would, fastmlp in "
            "one fit call) reports the time per epoch. GFLOP/s counts nominal dense "
            "work, 6 × n_weights FLOPs per sample (2 each for forward, backward and update; "
            "biases, activations and skipped zero inputs not counted). Speedup = contender's "
            "s/epoch ÷ fastmlp's. Score: held-out accuracy (or MSE) after the timed rounds.",
            "", "### Summary", ""]
    out += summary_table(workloads)
    optimizers = optimizer_table(workloads)
    if optimizers:
        out += ["", "### Optimizer steps", "",
                "fastmlp alone, each optimizer with its default settings (momentum 0.9; "
                "Adam's betas 0.9 and 0.999) and its usual rate (momentum and Nesterov 0.01 per "
                "sample and 0.1 at batch 128, Adam 1e-3), against plain SGD on the same "
                "network, data and batch size, "
                "timed in pairs: one SGD epoch before each round of the optimizer's, the ratio "
                "being the median of the pairs' ratios.", ""]
        out += optimizers
    for name, rows in workloads.items():
        i = rows[0].info
        out += ["", f"### {name}: {i['title']}", "",
                f"batch size {i['batch_size']}, lr {i['lr']}, {i['dtype']}, "
                f"{i['epoch_samples']} training samples per epoch, "
                f"{100 * i['zero_fraction']:.0f}% exact zeros in the inputs; "
                f"{i['flops_per_sample']} nominal FLOPs per sample.", ""]
        out += workload_table(rows)
    compilation = compilation_table(benchmarks)
    if compilation:
        out += ["", "### Compilation (fresh process: import fastmlp + first XOR epoch)", ""]
        out += compilation
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="report this pytest-benchmark JSON "
                        "instead of running the suite")
    parser.add_argument("--save", type=Path, default=DEFAULT_JSON,
                        help=f"where a new run writes its JSON (default {DEFAULT_JSON})")
    parser.add_argument("--smoke", action="store_true", help="run with FASTMLP_BENCH_SMOKE=1")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    path = args.json
    if path is None:
        path = args.save
        run_suite(path, args.smoke, args.pytest_args)
    print(render(json.loads(path.read_text())), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
