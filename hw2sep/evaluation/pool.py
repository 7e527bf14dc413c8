"""Score tracks in worker processes (as demucs does with museval), one BLAS thread each, while the caller goes on."""

from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Iterable

import numpy as np

from hw2sep.evaluation import metrics
from hw2sep.evaluation.metrics import BACKENDS, bss_eval



def _init_worker() -> None:
    """One BLAS / FFT thread per worker process: the pool provides the parallelism."""
    metrics._WORKERS = 1  # scipy.fft threads in this process
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)


def _score(references: np.ndarray, estimates: np.ndarray, win: int, hop: int, backend: str) -> dict[str, np.ndarray]:
    return bss_eval(references, estimates, win=win, hop=hop, backend=backend)


class ScorePool:
    """Score tracks in worker processes while the caller goes on (e.g. separates the next track on the GPU).

    ``with ScorePool(workers=4) as pool: future = pool.submit(refs, ests, backend="museval")``;
    ``future.result()`` is `bss_eval`'s dict. Workers are spawned (safe next to CUDA) and use one
    BLAS thread each. ``workers`` defaults to the CPU count.
    Shape: references, estimates (nb_sources, nb_channels, nb_samples).
    """

    def __init__(self, workers: int | None = None):
        self.workers = max(1, int(workers or multiprocessing.cpu_count()))
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker)

    def submit(self, references: np.ndarray, estimates: np.ndarray, win: int = 44100, hop: int = 44100,
               backend: str = "museval") -> Future:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        return self._pool.submit(_score, np.asarray(references), np.asarray(estimates), int(win), int(hop), backend)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def __enter__(self) -> "ScorePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def score_tracks_parallel(tracks: Iterable[tuple[np.ndarray, np.ndarray]], workers: int | None = None,
                          win: int = 44100, hop: int = 44100, backend: str = "museval") -> list[dict[str, np.ndarray]]:
    """`bss_eval` of each (references, estimates) pair in a process pool; results in input order.

    Shape: each pair (nb_sources, nb_channels, nb_samples) -> each dict value (nb_sources, nb_windows).
    """
    with ScorePool(workers) as pool:
        futures = [pool.submit(refs, ests, win, hop, backend) for refs, ests in tracks]
        return [f.result() for f in futures]


