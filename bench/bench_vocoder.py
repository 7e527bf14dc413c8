"""Benchmark: phase from the vocoder (mel and linear) vs librosa's mel route, Griffin-Lim, mixture and oracle phase.

Inputs are ORACLE magnitudes (the true vocals and accompaniment STFT magnitudes, stereo) of the toy
test tracks at the separator's STFT (read from --separator), so the table isolates phase
reconstruction from separation. Columns: SDR (hw2sep.evaluation.metrics.bss_eval backend "fast", median over
1 s windows per excerpt, then median over excerpts) for vocals and accompaniment; log-spectral distance
(dB, phase-independent; median over tracks and sources); seconds of wall time per second of track
(both sources, both channels). Excerpts of the test tracks count as tracks. GPU rows are added when CUDA exists.

The vocoders come from --vocoder-mel / --vocoder-linear checkpoints, or are trained here for
--train-steps steps on the toy training tracks (the training budget is printed with the table).

    python bench/bench_vocoder.py --train-steps 300
    python bench/bench_vocoder.py --vocoder-mel runs/voc_mel/best.pt --vocoder-linear runs/voc_lin/best.pt

Measured (2 shared CPU cores, load ~7, one torch thread; vocoders dim 128 / MLP 384 / 6 blocks,
500 steps of 2 x 1 s excerpts, ~23 min wall each; 6 excerpts of 4 s; STFT 4096 / 1024 hann):
SDR vocals / accompaniment (dB), LSD (dB), s per s:  vocoder mel -0.02 / -1.84, 8.65, 0.08;
vocoder linear -2.68 / -2.54, 4.95, 0.14;  librosa mel route -2.87 / -3.00, 5.51, 4.97;
Griffin-Lim 32 it -2.63 / -3.06, 1.22, 0.88;  mixture phase 16.03 / 18.05, 1.42, 0.02;
oracle phase 136.6 / 136.2, 0.00, 0.02. The vocoders are undertrained at this budget (their
LSD is worse than Griffin-Lim's); without any phase reference every method's SDR is near 0 dB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hw2sep import SAMPLE_RATE, TARGETS  # noqa: E402
from hw2sep.dsp import griffinlim as phase  # noqa: E402
from hw2sep.data.musdb import list_tracks  # noqa: E402
from hw2sep.evaluation.metrics import bss_eval, track_median  # noqa: E402
from hw2sep.dsp.stft import istft, stft  # noqa: E402
from hw2sep.vocoder import load_vocoder, log_spectral_distance, stft_from_checkpoint, vocode  # noqa: E402
from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOY = {"n_train": 8, "n_test": 2, "seconds": 20.0, "seed": 1}
BENCH_VOCODER = {"dim": 128, "intermediate_dim": 384, "nb_layers": 6}


def train_vocoders(toy_root: Path, work: Path, separator: str, steps: int) -> dict[str, str]:
    """Train a mel and a linear vocoder on the toy training tracks; return their best checkpoints."""
    from hw2sep.data.npy_cache import convert_to_npy
    npy = work / "npy"
    convert_to_npy(toy_root, npy, progress=False)
    paths = {}
    for features in ("mel", "linear"):
        out = work / f"vocoder_{features}"
        fit_vocoder(VocoderTrainConfig(npy_root=str(npy), out=str(out), stft_from=separator, steps=steps,
                                       vocoder={"features": features, **BENCH_VOCODER}, batch_size=2, lr=1e-3,
                                       checkpoint_every=max(1, steps // 5), valid_seconds=5.0))
        paths[features] = str(out / "best.pt")
    return paths


def excerpts(track, seconds: float, count: int) -> list[torch.Tensor]:
    """``count`` evenly spaced excerpts of the track's sources. Shape: each (sources, channels, samples)."""
    audio = torch.from_numpy(np.stack([track.load(TARGETS)[s] for s in TARGETS]))
    size = int(seconds * SAMPLE_RATE)
    step = max(1, (audio.shape[-1] - size) // max(1, count - 1))
    return [audio[..., i * step:i * step + size] for i in range(count)]


def methods(vocoders: dict, gl_iterations: int):
    """name -> fn(magnitude, mixture STFT, true STFT, length) -> waveform. Shapes: (sources, channels, ...)."""
    def with_phase(mag, phase_of, params, length):
        return istft(torch.polar(mag, phase_of.angle()), length, params.n_fft, params.hop, params.window)
    table = {f"vocoder ({name})": (lambda v: lambda mag, mix, true, p, n: vocode(mag, n, v))(voc)
             for name, voc in vocoders.items()}
    table["librosa mel -> Griffin-Lim (phase.mel_roundtrip)"] = \
        lambda mag, mix, true, p, n: phase.mel_roundtrip(mag, n, n_iter=gl_iterations)
    table[f"Griffin-Lim torch, {gl_iterations} it (phase.griffinlim)"] = \
        lambda mag, mix, true, p, n: phase.griffinlim(mag, n, n_iter=gl_iterations, hop=p.hop)
    table["mixture phase"] = lambda mag, mix, true, p, n: with_phase(mag, mix, p, n)
    table["oracle phase"] = lambda mag, mix, true, p, n: with_phase(mag, true, p, n)
    return table


def evaluate(method, tracks: list[torch.Tensor], params, device: str) -> dict:
    """Median SDR per source, median LSD and wall seconds per second of track for one method."""
    sdrs, lsds, seconds, audio_seconds = [], [], 0.0, 0.0
    for sources in tracks:  # (sources, channels, samples)
        length = sources.shape[-1]
        spec = stft(sources.to(device), params.n_fft, params.hop, params.window)
        mix = spec.sum(0, keepdim=True)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        estimate = method(spec.abs(), mix, spec, params, length)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        audio_seconds += length / SAMPLE_RATE
        estimate = estimate.cpu().double()
        scores = bss_eval(sources.double().numpy(), estimate.numpy(), backend="fast")
        sdrs.append(track_median(scores["SDR"]))
        lsds.append(log_spectral_distance(sources.double(), estimate, params).mean(-1).numpy())
    sdr = np.nanmedian(np.stack(sdrs), axis=0)
    return {**{f"SDR {t}": float(s) for t, s in zip(TARGETS, sdr)},
            "LSD dB": float(np.median(np.stack(lsds))), "s per s": seconds / audio_seconds}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--separator", default=str(REPO / "models" / "umx_vocals.pt"), help="checkpoint giving the STFT")
    p.add_argument("--vocoder-mel", help="trained mel vocoder checkpoint")
    p.add_argument("--vocoder-linear", help="trained linear vocoder checkpoint")
    p.add_argument("--train-steps", type=int, default=300, help="steps per vocoder when none is given")
    p.add_argument("--toy-root", help=f"toy MUSDB to use (default: generated with {TOY})")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per excerpt (librosa's NNLS in the mel "
                   "route needs ~27 GB at 10 s: it solves all frames at once)")
    p.add_argument("--excerpts", type=int, default=3, help="evenly spaced excerpts per test track")
    p.add_argument("--gl-iterations", type=int, default=32)
    p.add_argument("--json", help="also write the rows to this file")
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_vocoder_"))
    from hw2sep.data.toy import make_toy_musdb
    toy_root = Path(a.toy_root) if a.toy_root else make_toy_musdb(work / "toy", **TOY)
    params = stft_from_checkpoint(a.separator)
    paths = {"mel": a.vocoder_mel, "linear": a.vocoder_linear}
    if not all(paths.values()):
        started = time.time()
        paths = train_vocoders(toy_root, work, a.separator, a.train_steps)
        print(f"trained both vocoders for {a.train_steps} steps each in {time.time() - started:.0f} s (CPU)")
    tracks = [excerpt for t in list_tracks(toy_root, "test") for excerpt in excerpts(t, a.seconds, a.excerpts)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        vocoders = {name: load_vocoder(path, params, device=device) for name, path in paths.items()}
        for name, method in methods(vocoders, a.gl_iterations).items():
            rows.append({"method": name, "device": device, **evaluate(method, tracks, params, device)})
    budgets = {name: json.loads(Path(path).with_suffix(".json").read_text()) for name, path in paths.items()}
    print(f"\n{len(tracks)} excerpts of {a.seconds:g} s from the toy test tracks, oracle magnitudes, "
          f"STFT {params} from {a.separator}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, meta in budgets.items():
        t = meta["train"]
        print(f"vocoder ({name}): {meta['parameters']:,} parameters, receptive field {meta['receptive_field_frames']} "
              f"frames; trained {meta['step']} steps (best) of {t['steps']}, batch {t['batch_size']} x {t['seq_dur']} s "
              f"excerpts (x 4 mono signals), {meta['train_seconds']:.0f} s CPU wall")
    header = f"| {'method':55s} | dev  | SDR voc | SDR acc | LSD dB | s per s |"
    print(header + "\n|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r['method']:55s} | {r['device']:4s} | {r['SDR vocals']:7.2f} | {r['SDR accompaniment']:7.2f} "
              f"| {r['LSD dB']:6.2f} | {r['s per s']:7.3f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "vocoders": budgets}, indent=2) + "\n")


if __name__ == "__main__":
    main()
