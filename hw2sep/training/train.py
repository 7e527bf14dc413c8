"""Train any registered model from scratch on the npy cache, resumably, keeping the epoch 25/50/150 checkpoints.

    python -m hw2sep.training.train --config configs/umx.json --npy-root ~/data/musdb_npy      # -> runs/umx
    python -m hw2sep.training.train --config configs/unet.json --npy-root NPY --set epochs=50 --set model_options.dropout=0.3
    python -m hw2sep.training.train --config configs/umx.json --npy-root NPY --resume
    python -m hw2sep.training.train --config configs/umx.json --npy-root NPY --overwrite   # replace runs/umx
    torchrun --nproc_per_node 4 -m hw2sep.training.train --config configs/umx.json --npy-root NPY   # 4 GPUs, DDP

A config file holds the model name, its options and the training settings (the fields of
``TrainConfig``); ``--set key=value`` overrides any of them. The defaults are Open-Unmix's recipe (Adam
1e-3, weight decay 1e-5, ReduceLROnPlateau x0.3 after 80 flat epochs, batch 16, 6 s excerpts, 64 excerpts
per track per epoch); the loss is the model's own unless the config names one. Differences from
Open-Unmix: no early stopping (the assignment fixes the epochs), and validation reads the npy cache.
Under torchrun ``batch_size`` is the global batch, split over the processes (see ``hw2sep.training.distributed``).
A folder that holds a run is never wiped: give ``--resume`` or ``--overwrite``. A model over the assignment's
10,000,000 parameters needs ``--allow-over-10m`` (its json then records ``over_10m``). The loop itself
(resume, checkpoints, log.csv) is ``hw2sep.training.loop``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hw2sep.models.checkpoint import save_checkpoint
from hw2sep.data.excerpts import Augment, ExcerptDataset, TrackDataset, apply_augmentation, mixture_of
from hw2sep import SAMPLE_RATE, TARGETS
from hw2sep.names import CHECKPOINT_EPOCHS
from hw2sep.training import distributed, loop
from hw2sep.common.progress import progress as progress_bar
from hw2sep.common.devices import resolve_device
from hw2sep.errors import Hw2sepError, run_cli
from hw2sep.separation.runner import estimate_track, run_model
from hw2sep.common.files import read_json_file
from hw2sep.training.losses import get_loss
from hw2sep.models import DEFAULT_MODEL, MODELS, build_model, count_parameters, model_config
from hw2sep.training.checks import check_fields
from hw2sep.data.npy_cache import load_manifest

LOG_FIELDS = ("epoch", "train_loss", "valid_loss", "lr", "seconds", "excerpts_per_s", "data_wait_pct")


@dataclass
class TrainConfig:
    """One training run; saved (as json) beside every checkpoint it writes."""

    npy_root: str = ""
    out: str = ""                 # default: runs/<name>
    name: str = ""                # the config's name (its file name); default: the model name
    description: str = ""
    model: str = DEFAULT_MODEL
    model_options: dict = field(default_factory=dict)  # e.g. {"hidden_size": 512, "nb_layers": 3}
    loss: str = ""                # a name in hw2sep.training.losses.LOSSES; "" = the model's default loss
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
    checkpoint_epochs: tuple[int, ...] = CHECKPOINT_EPOCHS
    train_subset: str = "train"
    valid_subset: str = "valid"
    augment: Augment = field(default_factory=Augment)
    device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        check_fields(TrainConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, RANGES)
        entry = MODELS.get(self.model)
        if entry is not None:
            check_fields(entry.config_cls, self.model_options, prefix="model_options.")
        self.name = self.name or self.model
        self.out = self.out or str(Path("runs") / self.name)
        if isinstance(self.augment, dict):  # from json: gain comes back as a list
            gain = self.augment.get("gain", Augment().gain)
            self.augment = Augment(**{**self.augment, "gain": tuple(gain) if gain is not None else None})
        self.checkpoint_epochs = tuple(int(e) for e in self.checkpoint_epochs)


RANGES = {"epochs": (1, True), "batch_size": (1, True), "samples_per_track": (1, True), "seq_dur": (0, False),
          "lr": (0, False), "weight_decay": (0, True), "lr_decay_patience": (0, True), "lr_decay_gamma": (0, False),
          "nb_workers": (0, True)}  # (lowest, inclusive) of the numeric settings


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **fields) -> TrainConfig:
    """A ``TrainConfig`` from a json config file, then ``fields``, then ``key=value`` overrides.

    Dotted keys reach into dicts (``model_options.hidden_size=256``, ``augment.swap_channels=false``);
    values are json (numbers, true/false, lists) or else plain strings.
    """
    data: dict = {}
    if path is not None:
        path = Path(path)
        data = read_json_file(path, "config file", "see configs/ for the shipped ones")
        if not isinstance(data, dict):
            raise Hw2sepError(f"config file {path} must hold a json object of training settings")
        data.setdefault("name", path.stem)
    data.update({k: v for k, v in fields.items() if v is not None})
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise Hw2sepError(f"--set wants key=value, got '{item}'")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = data
        for parent in parents:
            node = node.setdefault(parent, {})
            if isinstance(node, Augment):
                node = dataclasses.asdict(node)
        node[leaf] = value
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise Hw2sepError(f"unknown training setting(s) {unknown}; settings: {', '.join(sorted(known))}")
    augment_keys = {f.name for f in dataclasses.fields(Augment)}
    if isinstance(data.get("augment"), dict) and set(data["augment"]) - augment_keys:
        raise Hw2sepError(f"unknown augment setting(s) {sorted(set(data['augment']) - augment_keys)}; "
                          f"settings: {', '.join(sorted(augment_keys))}")
    try:
        return TrainConfig(**data)
    except (TypeError, ValueError) as err:
        raise Hw2sepError(f"bad training setting: {err}") from None


PARAMETER_LIMIT = 10_000_000  # the assignment's bound on a separator's trainable parameters


def fit(config: TrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False,
        allow_over_10m: bool = False) -> list[dict]:
    """Train (or resume) and return the per-epoch log; checkpoints go to ``config.out``.

    A folder that holds a run is refused unless ``resume`` (or ``overwrite``); a model over the
    assignment's 10 M parameters is refused unless ``allow_over_10m`` (its json then says so).
    """
    trainer = SeparatorTrainer(config, progress and distributed.rank() == 0, allow_over_10m)
    return loop.run(trainer, Path(config.out), trainer.info, resume, overwrite, progress)


class SeparatorTrainer(loop.Trainer):
    """The separator's part of the training loop: one period is one epoch over the excerpts."""

    unit, log_fields, announce = "epoch", LOG_FIELDS[1:], True

    def __init__(self, config: TrainConfig, progress: bool, allow_over_10m: bool = False):
        self.config, self.progress = config, progress
        self.device = device = distributed.local_device(resolve_device(config.device))  # DDP: cuda:LOCAL_RANK
        manifest = load_manifest(config.npy_root)
        self.train_set = ExcerptDataset(config.npy_root, config.train_subset, config.seq_dur,
                                        config.samples_per_track, config.augment, config.seed, raw=True)
        _warn_if_longer_than_tracks(config.seq_dur, self.train_set)
        self.batch = distributed.split_batch(config.batch_size, len(self.train_set))  # DDP: batch_size is global
        if distributed.world_size() > 1 and distributed.rank() == 0:
            print(f"DDP: {distributed.world_size()} processes, global batch {config.batch_size} "
                  f"= {distributed.world_size()} x {self.batch}")
        self.valid_set = TrackDataset(config.npy_root, config.valid_subset)
        self.options = model_config(config.model, **config.model_options)
        torch.manual_seed(config.seed)  # weights init and dropout; the data has its own seeded generators
        self.model = model = build_model(config.model, self.options).to(device)
        parameters = count_parameters(model)
        if parameters > PARAMETER_LIMIT and not allow_over_10m:
            raise Hw2sepError(f"{config.model} with these options has {parameters:,} parameters, over the assignment's "
                              f"limit of {PARAMETER_LIMIT:,}; shrink model_options, or give --allow-over-10m "
                              "for the optional model comparison (the run's json then says over_10m)")
        loss_name = config.loss or model.default_loss
        self.loss_fn = get_loss(loss_name)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=config.lr_decay_gamma, patience=config.lr_decay_patience, cooldown=10)
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda"
                                           and not torch.cuda.is_bf16_supported())
        self.amp = config.amp and device.type == "cuda"
        self.keep = config.checkpoint_epochs
        self.info = {"dataset_fingerprint": manifest["fingerprint"], "loss": loss_name, "train": _config_dict(config),
                     "world_size": distributed.world_size(), "over_10m": parameters > PARAMETER_LIMIT}
        self.net = model

    def stateful(self) -> dict:
        return {"optimizer": self.optimizer, "scheduler": self.scheduler, "scaler": self.scaler}

    def identity(self) -> dict:
        return self.options

    def periods(self, done: int):
        return range(done + 1, self.config.epochs + 1)

    def start(self, done: int) -> None:
        if done == 0:  # DDP: every rank computes the same statistics (and DDP copies rank 0's anyway)
            self.model.prepare(_training_mixtures(self.train_set, self.device))
        self.net = distributed.wrap(self.model, self.device)  # DDP: the wrapper trains; `model` is validated and saved

    def train_period(self, end: int) -> float:
        self.train_set.set_epoch(end)
        distributed.seed_process(loop.epoch_seed(self.config.seed, end))
        loader = _loader(self.train_set, self.config, self.batch, self.device, end)
        loss, self.excerpts, self.wait = train_one_epoch(self.net, loader, self.optimizer, self.scaler, self.loss_fn,
                                                         self.device, self.amp, self.progress)
        return loss

    def validate(self, train_loss: float) -> float:
        valid_loss = distributed.on_rank0(validate, self.model, self.valid_set, self.loss_fn, self.device, self.amp,
                                          device=self.device)
        self.scheduler.step(valid_loss)
        return valid_loss

    def log_columns(self, seconds: float) -> dict:
        return {"lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 3),
                "excerpts_per_s": round(self.excerpts / seconds, 2), "data_wait_pct": round(100 * self.wait / seconds, 2)}

    def save(self, path: Path, tag: dict, extra_state: dict | None = None) -> None:
        save_checkpoint(path, self.model, self.config.model, self.options, tag, extra_state=extra_state)


def batch_loss(model, sources: torch.Tensor, loss_fn, amp: bool) -> torch.Tensor:
    """The loss of every target the model estimates, summed. Shape: sources (B, nb_targets, C, N)."""
    mixture = mixture_of(sources)
    return sum(loss_fn(run_model(model, mixture, target, amp), sources[:, TARGETS.index(target)])
               for target in model.targets)


def train_one_epoch(model, loader, optimizer, scaler, loss_fn, device, amp: bool,
                    progress: bool) -> tuple[float, int, float]:
    """One pass over the loader; returns (mean loss, excerpts seen, seconds spent waiting for data)."""
    model.train()
    total, count, wait = 0.0, 0, 0.0
    batches = progress_bar(loader, progress, unit="batch", leave=False)
    tick = time.time()
    scale = loader.dataset.scale
    for raw, gains, swaps in batches:  # int16 excerpts: a quarter of the bytes through the workers
        wait += time.time() - tick
        sources = apply_augmentation(raw.to(device, non_blocking=True), gains.to(device), swaps.to(device), scale)
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(model, sources, loss_fn, amp)
        scaler.scale(distributed.global_share(loss, len(sources))).backward()  # DDP: weight of a smaller last batch
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * len(sources)
        count += len(sources)
        if progress:
            batches.set_postfix(loss=f"{total / count:.4f}")
        tick = time.time()
    total, count = distributed.all_sum((total, count), device)  # DDP: the global mean over all processes
    return total / count, int(count), wait


@torch.no_grad()
def validate(model, valid_set: TrackDataset, loss_fn, device, amp: bool) -> float:
    """Mean loss over whole validation tracks, through the separator's chunked path (bounded memory)."""
    model.eval()
    losses = []
    for sources in valid_set:
        sources = sources.to(device)  # (nb_targets, C, N)
        mixture = mixture_of(sources)
        losses.append(sum(loss_fn(estimate_track(model, mixture, target, amp=amp), sources[TARGETS.index(target)])
                          for target in model.targets).item())
    return sum(losses) / len(losses)


def _training_mixtures(dataset: ExcerptDataset, device):
    """Whole training-track mixtures (C, N) on ``device``, for ``SeparationModel.prepare``."""
    whole = TrackDataset(dataset.npy_root, subset=",".join(sorted({t["subset"] for t in dataset.tracks})))
    return (mixture_of(sources.to(device)) for sources in whole)


def _warn_if_longer_than_tracks(seq_dur: float, dataset: ExcerptDataset) -> None:
    longest = max(t["num_samples"] for t in dataset.tracks) / SAMPLE_RATE
    if seq_dur > longest:
        warnings.warn(f"seq_dur {seq_dur} s is longer than every training track (longest {longest:.1f} s): "
                      "excerpts are zero-padded", stacklevel=2)


def _loader(dataset, config: TrainConfig, batch_size: int, device, epoch: int) -> torch.utils.data.DataLoader:
    """A shuffled loader whose order depends only on (seed, epoch), so resuming replays the same batches."""
    generator = torch.Generator().manual_seed(loop.epoch_seed(config.seed, epoch))
    sampler = distributed.ShardedRandomSampler(len(dataset), generator)  # DDP: this rank's share of each batch
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler,
        num_workers=config.nb_workers, pin_memory=device.type == "cuda", drop_last=False)


def _config_dict(config: TrainConfig) -> dict:
    """The fully resolved config, json-ready: ``load_config(**it)`` rebuilds the same run."""
    data = dataclasses.asdict(config)
    data["checkpoint_epochs"] = list(config.checkpoint_epochs)
    return data


def parse_args(argv=None) -> tuple[TrainConfig, dict]:
    """``--config`` file, then flags, then ``--set`` overrides; returns (config, fit's keyword arguments)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="experiment config (json), e.g. configs/umx.json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. epochs=50 or model_options.hidden_size=256 (repeatable)")
    p.add_argument("--npy-root", help="npy cache from python -m data_prep.musdb_to_npy")
    p.add_argument("--out", help="run folder for checkpoints and log.csv (default runs/<config name>)")
    p.add_argument("--model", help=f"model name (default: the config's, else {DEFAULT_MODEL}); see python -m hw2sep.models")
    for flag, key, kind, text in (("--epochs", "epochs", int, ""), ("--batch-size", "batch_size", int, ""),
                                  ("--seq-dur", "seq_dur", float, "excerpt seconds"),
                                  ("--samples-per-track", "samples_per_track", int, ""), ("--lr", "lr", float, ""),
                                  ("--nb-workers", "nb_workers", int, ""), ("--seed", "seed", int, ""),
                                  ("--device", "device", str, "auto, cpu, cuda, cuda:N or mps")):
        p.add_argument(flag, type=kind, dest=key, help=text)
    # Open-Unmix's model flags: shorthands for --set model_options.<key>=<value>
    p.add_argument("--hidden-size", type=int, help="= --set model_options.hidden_size=N")
    p.add_argument("--nb-layers", type=int, help="= --set model_options.nb_layers=N (UMX: 0 = no LSTM)")
    p.add_argument("--bandwidth", type=float, help="= --set model_options.bandwidth=HZ")
    p.add_argument("--no-mask", action="store_true", help="= --set model_options.mask=false")
    p.add_argument("--checkpoint-epochs", help="comma-separated epochs to keep (default 25,50,150)")
    p.add_argument("--train-subset", help="'train', or 'train,valid' for a final model")
    p.add_argument("--no-swap", action="store_true", help="augmentation off: random L/R swap")
    p.add_argument("--no-gain", action="store_true", help="augmentation off: random gain in [0.25, 1.25]")
    p.add_argument("--no-random-chunks", action="store_true", help="augmentation off: per-source chunk position")
    p.add_argument("--random-track-mix", action="store_true", help="augmentation on: sources from different songs")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in OUT (without it, OUT must be new)")
    p.add_argument("--allow-over-10m", action="store_true",
                   help="allow a model over the assignment's 10,000,000 parameters (optional model comparison)")
    a = p.parse_args(argv)
    overrides = [f"model_options.{k}={v}" for k, v in (("hidden_size", a.hidden_size), ("nb_layers", a.nb_layers),
                                                       ("bandwidth", a.bandwidth)) if v is not None]
    overrides += ["model_options.mask=false"] * a.no_mask + ["amp=false"] * a.no_amp
    overrides += [f"augment.{k}={v}" for k, v, on in (("swap_channels", "false", a.no_swap), ("gain", "null", a.no_gain),
                                                     ("random_chunks", "false", a.no_random_chunks),
                                                     ("random_track_mix", "true", a.random_track_mix)) if on]
    if a.checkpoint_epochs is not None:
        try:
            overrides.append(f"checkpoint_epochs={[int(e) for e in a.checkpoint_epochs.split(',') if e]}")
        except ValueError:
            raise Hw2sepError(f"--checkpoint-epochs wants comma-separated integers, got '{a.checkpoint_epochs}'") from None
    flags = {k: getattr(a, k) for k in ("npy_root", "out", "model", "epochs", "batch_size", "seq_dur",
                                        "samples_per_track", "lr", "nb_workers", "seed", "device", "train_subset")}
    config = load_config(a.config, overrides + a.set, **flags)
    if not config.npy_root:
        raise Hw2sepError("no npy cache: give --npy-root (made by python -m data_prep.musdb_to_npy) or npy_root in the config")
    return config, {"resume": a.resume, "overwrite": a.overwrite, "allow_over_10m": a.allow_over_10m}


def main(argv=None) -> None:
    config, options = parse_args(argv)
    with distributed.launched(resolve_device(config.device)):  # torchrun: join the process group
        history = fit(config, **options)
        if history and distributed.rank() == 0:
            best = min(history, key=lambda h: h["valid_loss"])
            print(f"done: {len(history)} epochs logged in {config.out}/log.csv; best valid loss "
                  f"{best['valid_loss']:.5f} at epoch {best['epoch']}")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(run_cli(main))
