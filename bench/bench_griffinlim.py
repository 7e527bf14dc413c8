"""Benchmark: torch Griffin-Lim (hw2sep.dsp.griffinlim.griffinlim) against librosa.griffinlim.

Same magnitudes for both (the stempeg MUSDB18 excerpt tiled to --seconds; vocals and
accompaniment, stereo), float32, 32 iterations, momentum 0.99, the same random initial phase.
Prints wall seconds (best of --repeats, runs interleaved), process CPU seconds, speed ratio vs
librosa, vocals SDR against the true vocals and its difference from librosa's.

    python bench/bench_griffinlim.py [--seconds 30] [--device cpu|cuda] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hw2sep.dsp import griffinlim as phase  # noqa: E402
from hw2sep.dsp.stft import stft  # noqa: E402

RATE = 44100


def load_sources(seconds: float) -> torch.Tensor:
    """Vocals and accompaniment of the stempeg excerpt, tiled. Shape: (2, 2, samples)."""
    import stempeg

    audio, _ = stempeg.read_stems(stempeg.example_stem_path(), sample_rate=RATE)
    sources = np.stack([audio[4], audio[1] + audio[2] + audio[3]]).transpose(0, 2, 1)
    samples = int(seconds * RATE)
    sources = np.tile(sources, (1, 1, -(-samples // sources.shape[-1])))[..., :samples]
    return torch.from_numpy(np.ascontiguousarray(sources)).float()


def sdr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """Global SDR in dB over all channels."""
    reference, estimate = reference.double(), estimate.double().cpu()
    return float(10 * torch.log10(reference.square().sum() / (reference - estimate).square().sum()))


def timed(fn, device: str) -> tuple[torch.Tensor, float, float]:
    """Run fn(); return its output, wall seconds and process CPU seconds."""
    if device == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but CUDA is not available")

    sources = load_sources(args.seconds)
    mags = stft(sources).abs()  # (2 sources, 2 channels, nb_bins, nb_frames)
    length, gl = sources.shape[-1], dict(n_iter=args.iterations, seed=args.seed)
    threads = torch.get_num_threads()

    def torch_gl(nb_threads: int):
        def run() -> torch.Tensor:
            torch.set_num_threads(nb_threads)
            try:
                return phase.griffinlim(mags.to(args.device), length, **gl)
            finally:
                torch.set_num_threads(threads)
        return run

    runs = {("librosa.griffinlim", "cpu"): (lambda: phase.griffinlim_librosa(mags, length, **gl),
                                            "cpu")}
    if args.device == "cpu":
        runs[("torch, 1 thread", "cpu")] = (torch_gl(1), "cpu")
        runs[(f"torch, {threads} threads", "cpu")] = (torch_gl(threads), "cpu")
    else:
        torch_gl(threads)()  # warm-up: CUDA context, cuFFT plans
        runs[("torch", "cuda")] = (torch_gl(threads), "cuda")
    best: dict[tuple[str, str], tuple[torch.Tensor, float, float]] = {}
    for _ in range(args.repeats):  # interleaved, best of: the CPU may be shared
        for key, (fn, device) in runs.items():
            out, wall, cpu = timed(fn, device)
            if key not in best or wall < best[key][1]:
                best[key] = (out, wall, cpu)

    ref_out, ref_wall, _ = best[("librosa.griffinlim", "cpu")]
    ref_sdr = sdr(sources[0], ref_out[0])
    print(f"Griffin-Lim, {args.iterations} iterations, {args.seconds:g} s x 2 sources x stereo, "
          f"float32, n_fft 4096, hop 1024; best of {args.repeats}")
    print(f"{'implementation':22} {'device':6} {'wall s':>8} {'cpu s':>8} {'speed-up':>8} "
          f"{'vocals SDR':>10} {'|dSDR|':>8}")
    for (name, device), (out, wall, cpu) in best.items():
        vocals = sdr(sources[0], out[0])
        print(f"{name:22} {device:6} {wall:8.2f} {cpu:8.2f} {ref_wall / wall:7.2f}x "
              f"{vocals:10.3f} {abs(vocals - ref_sdr):8.4f}")


if __name__ == "__main__":
    main()
