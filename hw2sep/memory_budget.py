"""A memory budget for evaluate and infer: a track is separated and scored only when its estimate fits.

Per-track estimates are linear in the track's length (stereo, 44.1 kHz; measured with
bench/bench_memory.py and museval.evaluate alone, on the CPU):

* separation (the loaded stems, the streamed separation, the estimates): ``SEPARATE_MB_PER_S``;
* scoring, beyond its inputs: ``SCORE_MB_PER_S[metric]`` (museval builds whole-track FFTs; the fast
  metric reads blocks), plus the inputs' copy (``PAIR_MB_PER_S``) when a worker process scores.

`MemoryBudget` keeps the estimates of the tracks in flight and admits the next one only when the
memory in use, the larger of a reading (this process tree's RSS) and the in-flight estimates, plus
its estimate fits the budget; otherwise it says so in one line and finishes pending work first.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Hashable

MB = 2**20
GB = 2**30
SEPARATE_MB_PER_S = 1.5
PAIR_MB_PER_S = 1.41  # references + estimates: 2 targets x 2 channels x 4 bytes x 44100 / s
SCORE_MB_PER_S = {"museval": 11.0, "fast": 0.1, "mir_eval": 11.0}


def mem_available_gb() -> float:
    """What the machine has free now: MemAvailable of /proc/meminfo, in GB (GiB)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GB
    raise OSError("no MemAvailable in /proc/meminfo")


def process_tree_gb(pid: int | None = None) -> float:
    """Summed resident memory of ``pid`` (default: this process) and its descendants, in GB."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total / GB


def track_gb(seconds: float, metric: str, methods: int = 1, pooled: bool = False) -> float:
    """Estimated peak memory of one track of ``seconds``: separating it, then scoring ``methods``
    estimates in-process (the separation's buffers are gone by then) or in worker processes."""
    separate = SEPARATE_MB_PER_S * seconds
    score = (SCORE_MB_PER_S[metric] + PAIR_MB_PER_S) * seconds
    if pooled:  # the parent keeps its pair until the worker's result is back, the worker holds its own copy
        return (separate + methods * (score + PAIR_MB_PER_S * seconds)) * MB / GB
    return max(separate, PAIR_MB_PER_S * seconds * methods + score) * MB / GB


class MemoryBudget:
    """Admit work whose estimated memory fits the budget; ``used`` is the memory reading (injectable).

    ``admit(key, need_gb, what, wait)`` returns once ``max(used(), base + in-flight estimates) + need``
    fits, calling ``wait()`` (finish the oldest pending work, which must `release` something) meanwhile;
    with nothing in flight the work is admitted alone even if it exceeds the budget (it could never fit).
    """

    def __init__(self, budget_gb: float | None = None, used: Callable[[], float] = process_tree_gb,
                 available: Callable[[], float] = mem_available_gb, say: Callable[[str], object] = print):
        self.used, self.say = used, say
        self.base = used()  # libraries and models, before any track
        self.budget = float(budget_gb) if budget_gb is not None else self.base + available()
        self.in_flight: dict[Hashable, float] = {}

    def in_use(self) -> float:
        return max(self.used(), self.base + sum(self.in_flight.values()))

    def fits(self, need_gb: float) -> bool:
        return self.in_use() + need_gb <= self.budget

    def admit(self, key: Hashable, need_gb: float, what: str, wait: Callable[[], None] = lambda: time.sleep(1)) -> None:
        said = False
        while not self.fits(need_gb) and self.in_flight:
            if not said:
                self.say(f"memory budget: waiting to {what} ({need_gb:.1f} GB estimated, "
                         f"{self.in_use():.1f} of {self.budget:.1f} GB in use)")
                said = True
            wait()
        if not self.fits(need_gb):
            self.say(f"memory budget: {what} alone ({need_gb:.1f} GB estimated) exceeds the "
                     f"{self.budget:.1f} GB budget; running it anyway")
        self.in_flight[key] = need_gb

    def release(self, key: Hashable) -> None:
        self.in_flight.pop(key, None)
