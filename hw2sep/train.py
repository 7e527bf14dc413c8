"""Train a vocals model from scratch on the npy cache, resumably, keeping the epoch 25/50/150 checkpoints.

    python hw2sep/train.py --npy-root ~/data/musdb_npy --out runs/umx --epochs 150
    python hw2sep/train.py --npy-root ~/data/musdb_npy --out runs/umx --epochs 150 --resume

Open-Unmix's recipe (Adam 1e-3, weight decay 1e-5, ReduceLROnPlateau x0.3 after 80 flat epochs,
MSE on magnitudes, batch 16, 6 s excerpts, 64 excerpts per track per epoch). Differences: no early
stopping (the assignment fixes the epochs), and validation/statistics read the npy cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import hw2sep from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hw2sep.checkpoint import load_state, read_meta, save_checkpoint  # noqa: E402
from hw2sep.datasets import Augment, ExcerptDataset, TrackDataset, apply_augmentation, mixture_of  # noqa: E402
from hw2sep.devices import autocast, resolve_device  # noqa: E402
from hw2sep.errors import Hw2sepError, run_cli  # noqa: E402
from hw2sep.fileio import write_csv  # noqa: E402
from hw2sep.models import build_model, model_config  # noqa: E402
from hw2sep.prep import load_manifest  # noqa: E402
from hw2sep.transforms import stft  # noqa: E402

LOG_FIELDS = ("epoch", "train_loss", "valid_loss", "lr", "seconds", "excerpts_per_s", "data_wait_pct")


@dataclass
class TrainConfig:
    """One training run; saved (as json) beside every checkpoint it writes."""

    npy_root: str
    out: str
    model: str = "umx"
    model_options: dict = field(default_factory=dict)  # e.g. {"hidden_size": 512, "nb_layers": 3}
    epochs: int = 150
    batch_size: int = 16
    seq_dur: float = 6.0
    samples_per_track: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_decay_patience: int = 80
    lr_decay_gamma: float = 0.3
    nb_workers: int = 2
    seed: int = 42
    checkpoint_epochs: tuple[int, ...] = (25, 50, 150)
    train_subset: str = "train"
    valid_subset: str = "valid"
    augment: Augment = field(default_factory=Augment)
    device: str = "auto"
    amp: bool = True


def fit(config: TrainConfig, resume: bool = False, progress: bool = True) -> list[dict]:
    """Train (or resume) and return the per-epoch log; checkpoints go to ``config.out``."""
    out = Path(config.out)
    device = resolve_device(config.device)
    manifest = load_manifest(config.npy_root)
    train_set = ExcerptDataset(config.npy_root, config.train_subset, config.seq_dur,
                               config.samples_per_track, config.augment, config.seed, raw=True)
    valid_set = TrackDataset(config.npy_root, config.valid_subset)
    options = model_config(config.model, **config.model_options)
    torch.manual_seed(config.seed)  # weights init and dropout; the data has its own seeded generators
    model = build_model(config.model, options).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_decay_gamma, patience=config.lr_decay_patience, cooldown=10)
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda"
                                  and not torch.cuda.is_bf16_supported())
    state = {"epoch": 0, "history": [], "best_loss": float("inf"), "train_seconds": 0.0}
    if resume and (out / "last.pt").exists():
        state = _restore(out / "last", model, optimizer, scheduler, scaler)
    elif resume:
        print(f"--resume: no {out / 'last.pt'} yet, starting from scratch")
    if state["epoch"] == 0:
        model.set_input_statistics(*input_statistics(train_set, device))
    info = {"dataset_fingerprint": manifest["fingerprint"], "train": _config_dict(config)}

    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        started = time.time()
        train_set.set_epoch(epoch)
        train_loss, excerpts, wait = train_one_epoch(model, _loader(train_set, config, device, epoch),
                                                     optimizer, scaler, device, config.amp, progress)
        valid_loss = validate(model, valid_set, device, config.amp)
        scheduler.step(valid_loss)
        seconds = time.time() - started
        state["train_seconds"] += seconds
        state["history"].append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                                 "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds, 3),
                                 "excerpts_per_s": round(excerpts / seconds, 2),
                                 "data_wait_pct": round(100 * wait / seconds, 2)})
        state["epoch"] = epoch
        tag = {"epoch": epoch, "valid_loss": valid_loss, "train_seconds": round(state["train_seconds"], 1), **info}
        if valid_loss < state["best_loss"]:
            state["best_loss"] = valid_loss
            save_checkpoint(out / "best", model, config.model, options, tag)
        if epoch in config.checkpoint_epochs:
            save_checkpoint(out / f"epoch_{epoch:03d}", model, config.model, options, tag)
        save_checkpoint(out / "last", model, config.model, options, tag, extra_state=_training_state(
            state, optimizer, scheduler, scaler))
        write_csv(out / "log.csv", state["history"], LOG_FIELDS)
        if progress:
            print(f"epoch {epoch}: train {train_loss:.5f} valid {valid_loss:.5f} ({seconds:.1f} s)")
    return state["history"]


def train_one_epoch(model, loader, optimizer, scaler, device, amp: bool, progress: bool) -> tuple[float, int, float]:
    """One pass over the loader; returns (mean loss, excerpts seen, seconds spent waiting for data)."""
    model.train()
    total, count, wait = 0.0, 0, 0.0
    batches = _progress(loader, progress)
    tick = time.time()
    scale = loader.dataset.scale
    for raw, gains, swaps in batches:  # int16 excerpts: a quarter of the bytes through the workers
        wait += time.time() - tick
        sources = apply_augmentation(raw.to(device, non_blocking=True), gains.to(device), swaps.to(device), scale)
        optimizer.zero_grad(set_to_none=True)
        loss = magnitude_loss(model, mixture_of(sources), sources[:, 0], amp)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * len(sources)
        count += len(sources)
        if progress:
            batches.set_postfix(loss=f"{total / count:.4f}")
        tick = time.time()
    return total / count, count, wait


@torch.no_grad()
def validate(model, valid_set: TrackDataset, device, amp: bool) -> float:
    """Mean magnitude MSE over whole validation tracks (one track at a time)."""
    model.eval()
    losses = []
    for sources in valid_set:
        sources = sources[None].to(device)
        losses.append(magnitude_loss(model, mixture_of(sources), sources[:, 0], amp).item())
    return sum(losses) / len(losses)


def magnitude_loss(model, mixture: torch.Tensor, target: torch.Tensor, amp: bool) -> torch.Tensor:
    """MSE between the estimated and true target magnitudes. Shape: waveforms (batch, channels, samples)."""
    mags = stft(torch.stack([mixture, target])).abs()  # (2, batch, channels, bins, frames)
    with autocast(mixture.device, amp):
        estimate = model(mags[0])
    return F.mse_loss(estimate.float(), mags[1])


@torch.no_grad()
def input_statistics(dataset: ExcerptDataset, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and std of mono mixture magnitudes over the training tracks (Open-Unmix's scaler)."""
    whole = TrackDataset(dataset.npy_root, subset=",".join(sorted({t["subset"] for t in dataset.tracks})))
    total = total_sq = frames = 0
    for sources in whole:
        mag = stft(mixture_of(sources.to(device)).mean(0)).abs()  # mono downmix: (bins, frames)
        total, total_sq, frames = total + mag.sum(1), total_sq + (mag ** 2).sum(1), frames + mag.shape[1]
    mean = total / frames
    return mean.cpu(), (total_sq / frames - mean ** 2).clamp_min(0).sqrt().cpu()


def _loader(dataset, config: TrainConfig, device, epoch: int) -> torch.utils.data.DataLoader:
    """A shuffled loader whose order depends only on (seed, epoch), so resuming replays the same batches."""
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    return torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, sampler=torch.utils.data.RandomSampler(dataset, generator=generator),
        num_workers=config.nb_workers, pin_memory=device.type == "cuda", drop_last=False)


def _training_state(state: dict, optimizer, scheduler, scaler) -> dict:
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "rng": rng, "state": state}


def _restore(path: Path, model, optimizer, scheduler, scaler) -> dict:
    """Load ``last.pt`` into the objects and return the loop state (epoch, history, best loss)."""
    saved = load_state(path, "cpu")
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise Hw2sepError(f"cannot resume from {path}.pt with this configuration ({str(err).splitlines()[0]}); "
                          f"it was written with {read_meta(path).get('train', {}).get('model_options')}") from None
    scheduler.load_state_dict(saved["scheduler"])
    scaler.load_state_dict(saved["scaler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
    return saved["state"]


def _config_dict(config: TrainConfig) -> dict:
    data = dataclasses.asdict(config)
    data["checkpoint_epochs"] = list(config.checkpoint_epochs)
    return data


def _progress(loader, enabled: bool):
    if not enabled:
        return loader
    from tqdm.auto import tqdm
    return tqdm(loader, unit="batch", leave=False, dynamic_ncols=True)


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    """Open-Unmix's flag names where one exists; returns (config, resume)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig(npy_root="", out="")
    p.add_argument("--npy-root", required=True, help="npy cache from data_prep/musdb_to_npy.py")
    p.add_argument("--out", required=True, help="run folder for checkpoints and log.csv")
    p.add_argument("--model", default=d.model)
    p.add_argument("--hidden-size", type=int, help="model width (UMX default 512)")
    p.add_argument("--nb-layers", type=int, help="LSTM layers (UMX default 3; 0 = no LSTM)")
    p.add_argument("--bandwidth", type=float, help="Hz seen by the network (UMX default 16000)")
    p.add_argument("--no-mask", action="store_true", help="predict magnitudes directly instead of a mask")
    for name in ("epochs", "batch_size", "samples_per_track", "lr_decay_patience", "seed"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("seq_dur", "lr", "weight_decay", "lr_decay_gamma"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--nb-workers", type=int, default=d.nb_workers)
    p.add_argument("--checkpoint-epochs", default="25,50,150", help="comma-separated epochs to keep")
    p.add_argument("--train-subset", default=d.train_subset, help="'train', or 'train,valid' for a final model")
    p.add_argument("--valid-subset", default=d.valid_subset)
    p.add_argument("--no-swap", action="store_true", help="augmentation off: random L/R swap")
    p.add_argument("--no-gain", action="store_true", help="augmentation off: random gain in [0.25, 1.25]")
    p.add_argument("--no-random-chunks", action="store_true", help="augmentation off: per-source chunk position")
    p.add_argument("--random-track-mix", action="store_true", help="augmentation on: sources from different songs")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    a = p.parse_args(argv)
    options = {k: v for k, v in {"hidden_size": a.hidden_size, "nb_layers": a.nb_layers,
                                 "bandwidth": a.bandwidth}.items() if v is not None}
    if a.no_mask:
        options["mask"] = False
    try:
        epochs_kept = tuple(int(e) for e in a.checkpoint_epochs.split(",") if e)
    except ValueError:
        raise Hw2sepError(f"--checkpoint-epochs wants comma-separated integers, got '{a.checkpoint_epochs}'") from None
    augment = Augment(swap_channels=not a.no_swap, gain=None if a.no_gain else (0.25, 1.25),
                      random_chunks=not a.no_random_chunks, random_track_mix=a.random_track_mix)
    config = TrainConfig(
        npy_root=a.npy_root, out=a.out, model=a.model, model_options=options, epochs=a.epochs,
        batch_size=a.batch_size, seq_dur=a.seq_dur, samples_per_track=a.samples_per_track, lr=a.lr,
        weight_decay=a.weight_decay, lr_decay_patience=a.lr_decay_patience, lr_decay_gamma=a.lr_decay_gamma,
        nb_workers=a.nb_workers, seed=a.seed, checkpoint_epochs=epochs_kept, train_subset=a.train_subset,
        valid_subset=a.valid_subset, augment=augment, device=a.device, amp=not a.no_amp)
    return config, a.resume


def main(argv=None) -> None:
    config, resume = parse_args(argv)
    history = fit(config, resume=resume)
    if history:
        best = min(history, key=lambda h: h["valid_loss"])
        print(f"done: {len(history)} epochs logged in {config.out}/log.csv; best valid loss "
              f"{best['valid_loss']:.5f} at epoch {best['epoch']}")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(run_cli(main))
