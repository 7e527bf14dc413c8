"""Peak memory of reconstruction: whole-track (``phase.reconstruct``) vs blocks (``streaming``).

    python bench/bench_memory.py [--lengths 1,3,10] [--methods mixture,wiener,griffinlim]
                                 [--paths whole,stream] [--gl-iterations 2] [--device cpu|cuda]

Each case runs in a fresh subprocess and reports its peak resident set (VmHWM of /proc/self/status,
so Python, torch and the input count) and, on CUDA, torch.cuda.max_memory_allocated. The mixture
is stereo white noise (float32), the "model" a fixed frequency-dependent soft mask of the mixture
magnitude (no network). Whole-track = the STFT, the two target magnitudes and phase.reconstruct, as
Separator did; streaming = streaming.separate_streaming with 30 s blocks and 3 s context;
separator = hw2sep.separation.separator.Separator with Open-Unmix at its default size (8.9 M, random weights):
what evaluate.py and infer.py run (``--paths whole,stream,separator``).
Memory does not depend on the number of Griffin-Lim iterations, time does: the default 2 keeps
the 10-minute cases to minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 44100


def peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def soft_mask(spec):
    """The benchmark's model: vocals = |X| * m(f), accompaniment = |X| * (1 - m(f)).

    Shape: (C, F, t) complex -> (2, C, F, t) float32.
    """
    import torch

    mag = spec.abs()
    mask = torch.linspace(0.8, 0.2, mag.shape[-2], device=mag.device)[:, None]  # (F, 1)
    return torch.stack([mag * mask, mag * (1 - mask)])


def child(path: str, method: str, minutes: float, gl_iterations: int, device: str) -> dict:
    """One case in this (fresh) process."""
    import numpy as np
    import torch

    from hw2sep.dsp import reconstruct as phase
    from hw2sep.dsp.reconstruct import separate_streaming
    from hw2sep.dsp.stft import stft

    mixture = np.random.default_rng(0).standard_normal((2, int(minutes * 60 * RATE)), dtype=np.float32)
    base = peak_rss_mb()
    options = {"gl_iterations": gl_iterations} if method == "griffinlim" else {}
    start = time.perf_counter()
    with torch.no_grad():
        if path == "whole":
            mix_stft = stft(torch.from_numpy(mixture).to(device))
            mags = soft_mask(mix_stft)
            out = phase.reconstruct(mix_stft, mags, method, mixture.shape[-1], **options).cpu()
            del mix_stft, mags
        elif path == "stream":
            out = separate_streaming(mixture, soft_mask, method, device=device, **options)
        else:  # "separator": the package's own path, Open-Unmix at its default size (random weights) + Separator
            from hw2sep.models import build_model, model_config
            from hw2sep.separation.separator import Separator
            separator = Separator(build_model("umx", model_config("umx")), device)
            out = np.stack(list(separator.separate(mixture, [method], **options)[method].values()))
    seconds = time.perf_counter() - start
    cuda = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None
    return {"rss": peak_rss_mb(), "base": base, "cuda": cuda, "seconds": seconds, "shape": list(out.shape)}


def run_case(path: str, method: str, minutes: float, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", path, method, str(minutes),
           "--gl-iterations", str(args.gl_iterations), "--device", args.device]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="1,3,10", help="track lengths in minutes")
    parser.add_argument("--methods", default="mixture,wiener,griffinlim")
    parser.add_argument("--paths", default="whole,stream")
    parser.add_argument("--gl-iterations", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "METHOD", "MINUTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, method, minutes = args.child
        print(json.dumps(child(path, method, float(minutes), args.gl_iterations, args.device)))
        return
    print(f"peak memory, stereo noise, soft-mask model, device {args.device}, "
          f"Griffin-Lim {args.gl_iterations} iterations, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    head = f"{'method':<11}{'path':<8}{'minutes':>8}{'peak RSS MB':>13}{'input+libs MB':>15}{'seconds':>9}"
    print(head + (f"{'CUDA peak MB':>14}" if args.device == "cuda" else ""))
    for method in args.methods.split(","):
        for minutes in (float(m) for m in args.lengths.split(",")):
            for path in args.paths.split(","):
                r = run_case(path, method, minutes, args)
                if "error" in r:
                    print(f"{method:<11}{path:<8}{minutes:>8g}  failed: {r['error']}", flush=True)
                    continue
                line = f"{method:<11}{path:<8}{minutes:>8g}{r['rss']:>13.0f}{r['base']:>15.0f}{r['seconds']:>9.1f}"
                print(line + (f"{r['cuda']:>14.0f}" if r["cuda"] is not None else ""), flush=True)


if __name__ == "__main__":
    main()
