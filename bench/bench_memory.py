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

    python bench/bench_memory.py --stages [--lengths 1,3,10] [--metric fast|museval] [--e2e]

``--stages``: a toy track tiled to each length (``write_long_track``), run through evaluate's steps
for one track in a fresh process with the shipped demo checkpoint; the peak RSS of each stage (load,
separate, score, samples) is that process's VmHWM, reset before each stage (/proc/self/clear_refs),
so it counts what earlier stages still hold. ``--e2e`` also runs ``python hw2sep/infer.py --phase
mixture --metric METRIC`` on the track as a user does and prints the peak of the summed VmRSS of
its whole process tree (sampled every 20 ms) and the main process's exact peak (wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 44100
REPO = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINT = REPO / "models" / "umx_vocals.pt"
STAGES = ("load", "separate", "score", "samples")


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


def write_long_track(root: str | Path, minutes: float, source_seconds: float = 30.0) -> Path:
    """A MUSDB18-HQ-style root with one test track: toy track 0 (``source_seconds`` long) tiled to
    ``minutes``, written in blocks (the toy generator itself needs ~6 GB for 10 minutes). Reused if there."""
    import soundfile as sf

    from hw2sep.data.toy import MP4_STREAMS
    from hw2sep.data.toy_music import synth_track

    root = Path(root)
    folder = root / "test" / f"Tiled toy - {minutes:g} min"
    if all((folder / f"{s}.wav").exists() for s in MP4_STREAMS):
        return root
    folder.mkdir(parents=True, exist_ok=True)
    (root / "train").mkdir(exist_ok=True)
    audio = synth_track(0, 0, source_seconds)[1]  # int16 (samples, 2) per stream
    total = int(round(minutes * 60 * RATE))
    for stream in MP4_STREAMS:
        tmp = folder / f"{stream}.tmp.wav"
        with sf.SoundFile(tmp, "w", RATE, 2, subtype="PCM_16") as f:
            for start in range(0, total, len(audio[stream])):
                f.write(audio[stream][: total - start])
        tmp.replace(folder / f"{stream}.wav")
    return root


def tree_rss_mb(pid: int) -> float:
    """Summed resident memory of ``pid`` and all its descendants, in MB (the package's own reading)."""
    from hw2sep.evaluation.memory_budget import process_tree_gb

    return process_tree_gb(pid) * 1024


def run_tree_peak(cmd: list[str], interval: float = 0.02, **popen) -> dict:
    """Run ``cmd``; peak of its process tree's summed RSS (sampled) and its own exact peak (wait4), in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    peak = 0.0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(interval)
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"tree_mb": peak, "main_mb": usage.ru_maxrss / 1024, "seconds": time.perf_counter() - start,
            "returncode": proc.returncode, "output": "".join(output)}


def _reset_peak() -> None:
    """Set this process's VmHWM to its current RSS (Linux >= 4.0), so the next read is a stage's peak."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def stages_child(minutes: float, metric: str, root: str) -> dict:
    """Evaluate's steps for one track in this (fresh) process; the peak RSS of each stage in MB."""
    import numpy as np
    import torch

    from hw2sep.models.checkpoint import load_model
    from hw2sep.data.musdb import list_tracks
    from hw2sep.evaluation.evaluate import _score_track, _write_samples
    from hw2sep.names import TARGETS
    from hw2sep.separation.separator import Separator
    try:  # what evaluate does (stack_sources: no copy of views of one array), or np.stack before it existed
        from hw2sep.evaluation.metrics import stack_sources as stack
    except ImportError:
        stack = np.stack

    torch.set_num_threads(1)
    track = list_tracks(write_long_track(root, minutes), "test")[0]
    model, _ = load_model(DEMO_CHECKPOINT, "cpu")
    separator = Separator(model, "cpu")
    peaks, seconds, out = {"libs+model": peak_rss_mb()}, {}, Path(tempfile.mkdtemp())
    for stage in STAGES:
        _reset_peak()
        started = time.perf_counter()
        if stage == "load":
            audio = track.load(("mixture", *TARGETS))
            references = stack([audio[t] for t in TARGETS])
        elif stage == "separate":
            estimates = separator.separate(audio["mixture"], ["mixture"])
        elif stage == "score":
            key = {"metric": metric, "checkpoint_sha1": "bench"}
            _score_track(out, "bench", "mixture", track.name, references,
                         stack([estimates["mixture"][t] for t in TARGETS]), key)()
        else:
            _write_samples(out / "samples", out, "bench", track.name, audio, estimates, 10.0)
        peaks[stage], seconds[stage] = peak_rss_mb(), time.perf_counter() - started
    return {"peaks": peaks, "seconds": seconds}


def run_stages(args: argparse.Namespace) -> None:
    """The ``--stages`` table: per-stage peaks for each length, and the end-to-end command's tree peak."""
    print(f"peak RSS MB per stage (evaluate's steps, one process), demo UMX checkpoint, metric {args.metric}, "
          f"tiled toy track; e2e = python hw2sep/infer.py --phase mixture, all processes together")
    head = f"{'minutes':>8}{'libs+model':>11}" + "".join(f"{s:>10}" for s in STAGES) + f"{'seconds':>9}"
    print(head + (f"{'e2e tree':>10}{'e2e main':>10}{'e2e s':>7}" if args.e2e else ""), flush=True)
    for minutes in (float(m) for m in args.lengths.split(",")):
        root = str(Path(args.data) / f"long_{minutes:g}")
        done = subprocess.run([sys.executable, __file__, "--stage-child", str(minutes), "--metric", args.metric,
                               "--data", root], capture_output=True, text=True)
        if done.returncode:
            print(f"{minutes:>8g}  failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        line = f"{minutes:>8g}{r['peaks']['libs+model']:>11.0f}" + "".join(f"{r['peaks'][s]:>10.0f}" for s in STAGES)
        line += f"{sum(r['seconds'].values()):>9.1f}"
        if args.e2e:
            with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
                e = run_tree_peak([sys.executable, str(REPO / "hw2sep" / "infer.py"), "--musdb-root", root,
                                   "--phase", "mixture", "--metric", args.metric, "--out", f"{tmp}/out",
                                   "--samples", f"{tmp}/samples", *args.infer_args.split()], cwd=REPO)
            line += (f"{e['tree_mb']:>10.0f}{e['main_mb']:>10.0f}{e['seconds']:>7.0f}" if e["returncode"] == 0
                     else f"  e2e failed: {e['output'].strip().splitlines()[-1:]}")
        print(line, flush=True)


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
    parser.add_argument("--stages", action="store_true", help="per-stage peaks of evaluate's steps (see above)")
    parser.add_argument("--metric", default="fast", help="--stages: fast or museval")
    parser.add_argument("--e2e", action="store_true", help="--stages: also run infer.py and sample its process tree")
    parser.add_argument("--infer-args", default="", help="--e2e: extra infer.py arguments, e.g. '--workers 2'")
    parser.add_argument("--data", default="/tmp/hw2sep_bench_memory", help="--stages: where the tiled tracks go")
    parser.add_argument("--stage-child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("PATH", "METHOD", "MINUTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage_child is not None:
        print(json.dumps(stages_child(args.stage_child, args.metric, args.data)))
        return
    if args.stages:
        run_stages(args)
        return
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
