"""Training speed: every workload (a pytest-benchmark group) times every contender.

One timed call is one epoch, or for the slower contenders a fixed subset of one (see
``Workload.subset``); the report scales to a full epoch. JIT compilation and first-call costs
are paid by a warm-up before timing, and cold caches by an untimed round just before the
timed ones (``Workload.warmup_rounds``). No assertion on times: the report makes the claims, and
records each contender's held-out score after training so a fast wrong kernel cannot hide.
"""
import time

import pytest

from benchmarks import contenders
from benchmarks.workloads import WORKLOADS, plain_sgd

CASES = [pytest.param(w, kind, threads, id=f"{w.name}-{contenders.name(kind, threads)}")
         for w in WORKLOADS for kind, threads in contenders.lineup(w)]


# Python's collector off while a contender is timed, as ``timeit`` has it: in the suite's long
# process, collections set off by the harness's objects landed in the timed rounds (bike
# sharing per sample: every other round 0.75 ms slower, 4.3 ms against 3.55 ms).
@pytest.mark.benchmark(disable_gc=True)
@pytest.mark.parametrize("workload, kind, threads", CASES)
def test_training(benchmark, workload, kind, threads):
    requires = contenders.KINDS[kind].requires
    if requires:
        pytest.importorskip(requires, reason=f"{requires} is not installed (pip install -e "
                                             f"'.[peers]')")
    contender = contenders.make(kind, threads, workload)
    _, rounds, iterations = workload.timing()
    benchmark.group = workload.name
    benchmark.extra_info.update(contender.info())
    if workload.optimizer == "sgd":
        with contender.pinned():
            benchmark.pedantic(contender.epoch, rounds=rounds, iterations=iterations,
                               warmup_rounds=workload.warmup_rounds)
    else:
        # Another optimizer's step is measured against plain SGD's: the same workload with
        # SGD trains one epoch before each timed round (untimed by pytest-benchmark), and the
        # report takes the median of the rounds' ratios, each to the SGD epoch just before.
        sgd = contenders.make(kind, threads, plain_sgd(workload))
        times = {"sgd": [], "optimizer": []}

        def timed(which, epoch):
            start = time.perf_counter()
            epoch()
            times[which].append(time.perf_counter() - start)

        def sgd_epoch():  # pytest-benchmark's setup: before each round, outside its timing
            timed("sgd", sgd.epoch)
            return (), {}

        with contender.pinned():
            benchmark.pedantic(lambda: timed("optimizer", contender.epoch), setup=sgd_epoch,
                               rounds=rounds)
        benchmark.extra_info["paired_s"] = list(zip(times["sgd"], times["optimizer"]))
    benchmark.extra_info["samples_trained"] = contender.calls * contender.samples
    benchmark.extra_info["score"] = contender.score()
