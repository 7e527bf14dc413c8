"""Seconds per training step: our Open-Unmix vs openunmix.model.OpenUnmix, same config and batch.

    python bench/bench_train.py [--device cpu|cuda] [--batch-size 16] [--seq-dur 6] [--hidden-size 512]

A step is STFT magnitude + forward + MSE + backward + Adam, timed alternately for the two models
(best of --repeats rounds) so both see the same machine state. Then one short epoch of our real
training loop over the npy dataset (2 workers) reports the share of the step spent waiting for data,
and on CUDA the projected minutes per full-MUSDB18 epoch (86 tracks x 64 excerpts).
CPU defaults are smaller (batch 4, 2 s) so the run takes a minute; pass the GPU sizes on a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hw2sep.common.devices import autocast, resolve_device  # noqa: E402
from hw2sep.models import build_model, count_parameters, model_config  # noqa: E402
from hw2sep.dsp.stft import stft  # noqa: E402

MUSDB_TRAIN_EXCERPTS = 86 * 64


def reference_model(hidden: int) -> torch.nn.Module:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # openunmix imports it, never uses it here
    from openunmix.model import OpenUnmix
    return OpenUnmix(nb_bins=2049, nb_channels=2, hidden_size=hidden, nb_layers=3, max_bin=1487)


def step_time(model, batch: torch.Tensor, device, amp: bool, repeats: int) -> float:
    """Best time of one full optimisation step over ``repeats`` tries (after a warm-up)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        mags = stft(batch).abs()  # (2, batch, channels, bins, frames): mixture, vocals
        with autocast(device, amp):
            loss = F.mse_loss(model(mags[0]).float(), mags[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def data_wait(device, args) -> tuple[float, float]:
    """Run one epoch of hw2sep's training loop on a toy npy set; return (data wait %, s/step)."""
    from hw2sep.data.npy_cache import convert_to_npy
    from hw2sep.data.toy import make_toy_musdb
    from hw2sep.training.train import TrainConfig, fit
    with tempfile.TemporaryDirectory() as tmp:
        root = make_toy_musdb(Path(tmp) / "toy", n_train=4, n_test=0, seconds=max(20.0, 2 * args.seq_dur), n_valid=1)
        convert_to_npy(root, Path(tmp) / "npy", progress=False)
        steps = args.wait_steps
        config = TrainConfig(npy_root=str(Path(tmp) / "npy"), out=str(Path(tmp) / "run"), epochs=1,
                             batch_size=args.batch_size, seq_dur=args.seq_dur,
                             samples_per_track=steps * args.batch_size // 3, nb_workers=2, device=str(device),
                             model_options={"hidden_size": args.hidden_size}, checkpoint_epochs=())
        log = fit(config, progress=False)[0]
        return log["data_wait_pct"], log["seconds"] / (3 * config.samples_per_track / args.batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seq-dur", type=float, default=None)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wait-steps", type=int, default=6, help="steps of the real loop for the data-wait share")
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    args.batch_size = args.batch_size or (16 if gpu else 4)
    args.seq_dur = args.seq_dur or (6.0 if gpu else 2.0)
    torch.manual_seed(0)
    batch = torch.randn(2, args.batch_size, 2, int(args.seq_dur * 44100), device=device) * 0.1
    ours = build_model("umx", model_config("umx", hidden_size=args.hidden_size)).to(device)
    reference = reference_model(args.hidden_size).to(device)
    assert count_parameters(ours) == count_parameters(reference)
    rows = []
    for amp in ([False, True] if gpu else [False]):
        t_ref, t_ours = [], []
        for _ in range(2):  # alternate, so neither model gets the warmer machine
            t_ref.append(step_time(reference, batch, device, amp, args.repeats))
            t_ours.append(step_time(ours, batch, device, amp, args.repeats))
        rows.append(("amp" if amp else "fp32", min(t_ref), min(t_ours)))
    wait_pct, loop_step = data_wait(device, args)

    print(f"\ndevice {device}, batch {args.batch_size} x {args.seq_dur:g} s, hidden {args.hidden_size}, "
          f"{count_parameters(ours):,} parameters")
    print(f"{'precision':<10}{'openunmix s/step':>18}{'hw2sep s/step':>15}{'ratio':>8}")
    for precision, t_ref, t_ours in rows:
        print(f"{precision:<10}{t_ref:>18.4f}{t_ours:>15.4f}{t_ref / t_ours:>7.2f}x")
    print(f"\nreal loop (npy dataset, 2 workers): {loop_step:.4f} s/step, data wait {wait_pct:.1f} % of the epoch")
    if gpu:
        best = min(r[2] for r in rows)
        print(f"projected full MUSDB18 epoch ({MUSDB_TRAIN_EXCERPTS} excerpts, batch {args.batch_size}): "
              f"{best * MUSDB_TRAIN_EXCERPTS / args.batch_size / 60:.1f} min of steps at {best:.4f} s/step")


if __name__ == "__main__":
    main()
