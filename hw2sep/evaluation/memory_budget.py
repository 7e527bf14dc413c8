"""A memory budget for evaluate and infer: a track is separated and scored only when its estimate fits.

Per-track estimates grow with the track's length (stereo, 44.1 kHz), in MB (MiB), measured on the CPU
with bench/bench_memory.py --stages (tiled toy tracks of 1 and 3 minutes, the demo UMX) and with
museval.evaluate / the fast metric alone on 60 and 120 s of noise (peak RSS above their inputs):

* separation, including the loaded stems and the estimates: ``SEPARATE_MB + SEPARATE_MB_PER_S * s``
  (285 MB + 3.24 MB/s measured);
* the stems kept for scoring: ``AUDIO_MB_PER_S`` (mixture and two targets, float32), and each method's
  estimates ``PAIR_MB_PER_S / 2``;
* scoring beyond its inputs: the fast metric 0.3 MB/s (120 s: 36 MB); museval 8.7 MB per second of its
  FFT length, the next power of two above the track (8.7 at 60 s, 8.2 at 120 s: 13.7 and 13.0 MB per
  second of audio), so a 10-minute track needs ~6.6 GB beyond its inputs, ~7.7 GB in all;
  mir_eval is not measured and takes museval's figure;
* a worker process: ``WORKER_MB`` for its libraries plus its own copy of the references and estimates.

`MemoryBudget` keeps the estimates of the tracks in flight and admits the next one only when the
memory in use, the larger of a reading (this process tree's RSS) and the in-flight estimates, plus
its estimate fits the budget; otherwise it says so in one line and finishes pending work first.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Hashable

MB = 2**20
GB = 2**30
RATE = 44100
SEPARATE_MB, SEPARATE_MB_PER_S = 300.0, 3.3
AUDIO_MB_PER_S = 3 * 2 * 4 * RATE / MB  # mixture + 2 targets, stereo float32: 1.01
PAIR_MB_PER_S = 2 * 2 * 2 * 4 * RATE / MB  # references + estimates of 2 targets: 1.35
WORKER_MB = 300.0
SCORE_MB_PER_S = {"fast": 0.3}
SCORE_MB_PER_FFT_S = {"museval": 8.7, "mir_eval": 8.7}  # per second of the next power of two


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


def score_mb(seconds: float, metric: str) -> float:
    """Estimated memory of scoring one track beyond its inputs, in MB."""
    if metric in SCORE_MB_PER_S:
        return SCORE_MB_PER_S[metric] * seconds
    fft_seconds = 2 ** math.ceil(math.log2(seconds * RATE + 512)) / RATE  # museval's whole-track FFT length
    return SCORE_MB_PER_FFT_S[metric] * fft_seconds


def track_gb(seconds: float, metric: str, methods: int = 1, pooled: bool = False) -> float:
    """Estimated peak memory of one track of ``seconds`` in GB: separating it, then scoring ``methods``
    estimates in this process (the separation's buffers are gone by then) or in worker processes, which
    hold their own copy of the references and estimates while the parent keeps its own until the result."""
    separate = SEPARATE_MB + SEPARATE_MB_PER_S * seconds
    held = (AUDIO_MB_PER_S + PAIR_MB_PER_S / 2 * methods) * seconds
    score = score_mb(seconds, metric)
    if pooled:
        return (max(separate, held) + methods * (WORKER_MB + PAIR_MB_PER_S * seconds + score)) * MB / GB
    return max(separate, held + score) * MB / GB


class MemoryBudget:
    """Admit work whose estimated memory fits the budget; ``used`` is the memory reading (injectable).

    ``admit(key, need_gb, what, wait)`` returns once ``max(used(), base + in-flight estimates) + need``
    fits, calling ``wait()`` (finish the oldest pending work, which must `release` something) meanwhile;
    with nothing in flight it is admitted anyway, with a line that says so (waiting could not help).
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
            self.say(f"memory budget: {what} ({need_gb:.1f} GB estimated) does not fit next to the "
                     f"{self.in_use():.1f} GB in use within {self.budget:.1f} GB; nothing left to wait for, running it")
        self.in_flight[key] = need_gb

    def release(self, key: Hashable) -> None:
        self.in_flight.pop(key, None)
