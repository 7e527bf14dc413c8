"""Benchmark: museval's BSS Eval v4 vs hw2sep.evaluation.metrics' fast and mir_eval (v3) backends, and pooled museval.

Usage (from the repo root): python bench/bench_sdr.py [--seconds 60] [--repeats 3] [--pool-tracks 4 --workers 2]
The stempeg example (MUSDB18 excerpt, ~6 s) is looped to the requested length; references are vocals and
accompaniment (drums + bass + other), estimates are references plus white noise at 10 and 20 dB SNR.
Every row also gives the cost in seconds per second of stereo audio (two sources scored), the number
the README's evaluation time estimates use. The pool rows score --pool-tracks such tracks with museval
one after the other, then in a `ScorePool` of --workers processes (hw2sep.evaluation.pool.score_tracks_parallel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hw2sep.evaluation.metrics import METRICS, bss_eval  # noqa: E402
from hw2sep.evaluation.pool import score_tracks_parallel  # noqa: E402


def make_track(seconds: float, rate: int = 44100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Looped stempeg example. Shape: -> references, estimates (2, 2, seconds * rate), float64."""
    import stempeg

    audio, _ = stempeg.read_stems(stempeg.example_stem_path(), sample_rate=rate)
    audio = audio.transpose(0, 2, 1)  # (streams, channels, samples)
    refs = np.stack([audio[4], audio[1] + audio[2] + audio[3]])
    n = int(seconds * rate)
    refs = np.tile(refs, (1, 1, -(-n // refs.shape[-1])))[..., :n]
    rng = np.random.default_rng(seed)
    snr_db = np.array([10.0, 20.0])[:, None, None]
    power = np.mean(refs**2, axis=(1, 2), keepdims=True)
    noise = rng.standard_normal(refs.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return refs, refs + noise


def best_time(fn, repeats: int) -> tuple[float, float, dict]:
    """Best wall time and best CPU time (all threads) of `repeats` calls, and the last result."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return wall, cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="track length in seconds (default 60)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the fast backend, best kept (default 3)")
    parser.add_argument("--museval-repeats", type=int, default=1, help="runs of museval (default 1: it is slow)")
    parser.add_argument("--pool-tracks", type=int, default=4, help="tracks for the pooled museval rows (0: skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="pool processes (default: CPU count)")
    args = parser.parse_args()

    refs, ests = make_track(args.seconds)
    t_ref, c_ref, ref = best_time(lambda: bss_eval(refs, ests, backend="museval"), args.museval_repeats)
    t_fast, c_fast, fast = best_time(lambda: bss_eval(refs, ests, backend="fast"), args.repeats)
    t_mir, c_mir, mir = best_time(lambda: bss_eval(refs, ests, backend="mir_eval"), 1)
    deltas = {m: float(np.nanmax(np.abs(fast[m] - ref[m]))) for m in METRICS}
    same_nan = all(np.array_equal(np.isnan(fast[m]), np.isnan(ref[m])) for m in METRICS)
    other = max(deltas["ISR"], deltas["SIR"], deltas["SAR"])
    v3_minus_v4 = float(np.nanmedian(mir["SDR"] - ref["SDR"]))

    print(f"track: {args.seconds:g} s, 2 sources, stereo, {ref['SDR'].shape[1]} windows of 1 s")
    header = ("wall s", "s per s", "speed-up", "CPU s", "CPU ratio", "max|dSDR| dB", "max|dISR,SIR,SAR|")
    widths = (8, 9, 10, 8, 11, 14, 19)
    print(f"{'backend':<10}" + "".join(f"{h:>{w}}" for h, w in zip(header, widths)))
    per_s = lambda t: t / args.seconds  # noqa: E731
    print(f"{'museval':<10}{t_ref:>8.2f}{per_s(t_ref):>9.3f}{1.0:>10.1f}{c_ref:>8.2f}{1.0:>11.1f}{0.0:>14.1e}{0.0:>19.1e}")
    print(f"{'fast':<10}{t_fast:>8.2f}{per_s(t_fast):>9.3f}{t_ref / t_fast:>10.1f}{c_fast:>8.2f}{c_ref / c_fast:>11.1f}"
          f"{deltas['SDR']:>14.1e}{other:>19.1e}")
    print(f"{'mir_eval':<10}{t_mir:>8.2f}{per_s(t_mir):>9.3f}{t_ref / t_mir:>10.1f}{c_mir:>8.2f}{c_ref / c_mir:>11.1f}"
          f"{'(v3)':>14}{'':>19}")
    per_metric = ", ".join(f"{m} {d:.1e}" for m, d in deltas.items())
    print(f"NaN pattern identical (fast vs museval): {same_nan}; per metric max |d| dB: {per_metric}")
    print(f"mir_eval (BSS Eval v3) minus museval (v4) SDR, median over windows and sources: {v3_minus_v4:+.2f} dB")

    if args.pool_tracks > 0:
        tracks = [make_track(args.seconds, seed=i) for i in range(args.pool_tracks)]
        audio = args.pool_tracks * args.seconds
        start = time.perf_counter()
        one = [bss_eval(r, e, backend="museval") for r, e in tracks]
        t_one = time.perf_counter() - start
        start = time.perf_counter()
        pooled = score_tracks_parallel(tracks, workers=args.workers, backend="museval")
        t_pool = time.perf_counter() - start  # includes spawning the workers (imports numpy, scipy, museval)
        same = max(float(np.nanmax(np.abs(a[m] - b[m]))) for a, b in zip(one, pooled) for m in METRICS)
        print(f"\nmuseval on {args.pool_tracks} tracks x {args.seconds:g} s ({audio:g} s of audio)")
        print(f"{'run':<28}{'wall s':>8}{'s per s':>9}{'speed-up':>10}")
        print(f"{'one process':<28}{t_one:>8.2f}{t_one / audio:>9.3f}{1.0:>10.2f}")
        print(f"{f'ScorePool, {args.workers} workers':<28}{t_pool:>8.2f}{t_pool / audio:>9.3f}{t_one / t_pool:>10.2f}")
        print(f"pooled vs one-process scores, max |d| dB: {same:.1e} (BLAS round-off: 1 thread per worker)")
    print(f"load average (1 min) after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
