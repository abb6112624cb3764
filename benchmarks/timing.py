"""The one timing helper the benchmark scripts share (run them as ``python benchmarks/X.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(
    fn: Callable[[], object],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
    warm_up: bool = True,
) -> float:
    """Median time of ``repeats`` calls after one warm-up call, by ``clock``.

    The default is wall time; ``time.process_time`` gives this process's CPU time,
    which a shared machine's other jobs do not inflate.
    """
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)
