"""Train the phase vocoder (optional task 3) on the npy cache, with the separator's own STFT, resumably.

    python -m hw2sep.training.train_vocoder --npy-root ~/data/musdb_npy --out runs/vocoder --stft-from runs/umx/best.pt
    python -m hw2sep.training.train_vocoder --npy-root ~/data/musdb_npy --out runs/vocoder --stft-from runs/umx/best.pt --resume
    python -m hw2sep.training.train_vocoder --npy-root NPY --out runs/vocoder_linear --n-fft 4096 --hop 1024 --features linear
    # SMOKE (33 s on 2 shared CPU cores): --steps 20 --batch-size 1 --seq-dur 0.5 --dim 32
    #   --intermediate-dim 64 --nb-layers 2 --checkpoint-every 10 --valid-seconds 2

Trains on the training stems only (vocals and accompaniment; the test subset is refused), validates
on the validation tracks, writes OUT/last.pt, OUT/best.pt (json beside each) and OUT/log.csv.
Use the result with ``hw2sep.vocoder.load_vocoder(OUT/best.pt, separator.stft_params)``.
An OUT that holds a run needs ``--resume`` (the same vocoder and STFT) or ``--overwrite``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from hw2sep.data.excerpts import Augment
from hw2sep.errors import Hw2sepError, run_cli
from hw2sep.vocoder.model import FEATURES, VocoderConfig
from hw2sep.training.vocoder import VocoderTrainConfig, fit_vocoder


def parse_args(argv=None) -> tuple[VocoderTrainConfig, dict]:
    """Returns (config, fit_vocoder's keyword arguments: resume, overwrite, stop_at)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d, v = VocoderTrainConfig(npy_root="", out=""), VocoderConfig()
    p.add_argument("--npy-root", required=True, help="npy cache from data_prep/musdb_to_npy.py")
    p.add_argument("--out", required=True, help="run folder for checkpoints and log.csv")
    p.add_argument("--stft-from", help="separator checkpoint (.pt with its .json) whose STFT the vocoder uses")
    p.add_argument("--n-fft", type=int, help="STFT size, when no --stft-from (must equal the separator's)")
    p.add_argument("--hop", type=int, help="STFT hop, when no --stft-from (must equal the separator's)")
    p.add_argument("--window", help="STFT window, when no --stft-from (default hann)")
    p.add_argument("--features", choices=FEATURES, default=v.features, help="network input: mel or linear magnitude")
    for name in ("n_mels", "dim", "intermediate_dim", "nb_layers"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(v, name))
    for name in ("steps", "batch_size", "samples_per_track", "checkpoint_every", "seed", "nb_workers"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("seq_dur", "lr", "mel_weight", "adv_weight", "valid_seconds"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--adversarial", action="store_true", help="add multi-period + multi-resolution discriminators")
    p.add_argument("--train-subset", default=d.train_subset)
    p.add_argument("--valid-subset", default=d.valid_subset, help="'' to skip validation")
    p.add_argument("--no-augment", action="store_true", help="no random gain / channel swap / chunk positions")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in OUT (without it, OUT must be new)")
    p.add_argument("--stop-at", type=int, help="end this session after that step (resume later)")
    a = p.parse_args(argv)
    if a.stft_from and any(x is not None for x in (a.n_fft, a.hop, a.window)):
        raise Hw2sepError("give either --stft-from or --n-fft/--hop/--window, not both (the STFT is never typed twice)")
    vocoder = {"features": a.features, "n_mels": a.n_mels, "dim": a.dim, "intermediate_dim": a.intermediate_dim,
               "nb_layers": a.nb_layers}
    vocoder.update({k: val for k, val in (("n_fft", a.n_fft), ("hop", a.hop), ("window", a.window)) if val is not None})
    config = VocoderTrainConfig(
        npy_root=a.npy_root, out=a.out, vocoder=vocoder, stft_from=a.stft_from, steps=a.steps,
        batch_size=a.batch_size, seq_dur=a.seq_dur, samples_per_track=a.samples_per_track, lr=a.lr,
        mel_weight=a.mel_weight, adversarial=a.adversarial, adv_weight=a.adv_weight,
        checkpoint_every=a.checkpoint_every, valid_seconds=a.valid_seconds, seed=a.seed, nb_workers=a.nb_workers,
        train_subset=a.train_subset, valid_subset=a.valid_subset,
        augment=Augment.none() if a.no_augment else Augment(), device=a.device)
    return config, {"resume": a.resume, "overwrite": a.overwrite, "stop_at": a.stop_at}


def main(argv=None) -> None:
    config, options = parse_args(argv)
    history = fit_vocoder(config, **options)
    if history:
        last = history[-1]
        print(f"done: step {last['step']}, valid loss {last['valid_loss']:.4f} "
              f"({last['s_per_step']:.3f} s/step); log in {config.out}/log.csv")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(run_cli(main))
