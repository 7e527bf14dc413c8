"""Train the vocoder on the training stems (vocals and accompaniment, every channel a mono signal), resumably.

Reconstruction loss: multi-resolution STFT loss + ``mel_weight`` * mel L1 (``hw2sep.vocoder.losses``).
With ``adversarial``: + ``adv_weight`` * (hinge generator loss + feature matching) against the
multi-period + multi-resolution discriminators (``hw2sep.vocoder.discriminators``), trained in
turn with their own AdamW; adv_weight 1/45 keeps Vocos' ratio of adversarial terms to mel loss.
AdamW (betas 0.8, 0.9) with a cosine decay over ``steps``, as Vocos.

The run is counted in steps. The batches of step s come from pass ``s // steps_per_pass + 1`` over
the excerpts, shuffled by a generator seeded with (seed, pass), so a run resumed from ``last.pt``
at any step sees the same batches as an uninterrupted one (bit-identical on CPU).
Files in ``out``: last.pt/json (weights + optimizer, scheduler, RNG; every ``checkpoint_every``
steps), best.pt/json (weights at the lowest validation loss), log.csv.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hw2sep import SAMPLE_RATE
from hw2sep.data.excerpts import Augment, ExcerptDataset, TrackDataset, apply_augmentation
from hw2sep.common.devices import resolve_device
from hw2sep.errors import Hw2sepError
from hw2sep.training import loop
from hw2sep.data.npy_cache import load_manifest
from hw2sep.dsp.stft import stft
from hw2sep.vocoder.checkpoint import save_vocoder, stft_from_checkpoint, vocoder_config
from hw2sep.vocoder.discriminators import Discriminators, discriminator_loss, feature_matching_loss, generator_loss
from hw2sep.vocoder.losses import MelL1, multi_resolution_stft_loss
from hw2sep.vocoder.model import Vocoder, VocoderConfig
from hw2sep.training.checks import check_fields

LOG_FIELDS = ("step", "train_loss", "valid_loss", "lr", "seconds", "s_per_step")
_STFT_KEYS = ("n_fft", "hop", "window")


@dataclass
class VocoderTrainConfig:
    """One vocoder training run; saved (as json) beside every checkpoint it writes."""

    npy_root: str
    out: str
    vocoder: dict = field(default_factory=dict)  # VocoderConfig fields; n_fft/hop/window unless stft_from
    stft_from: str | None = None  # separator checkpoint whose STFT the vocoder must share
    steps: int = 20_000
    batch_size: int = 8  # excerpts; each gives 4 mono signals (vocals, accompaniment; 2 channels)
    seq_dur: float = 1.0
    samples_per_track: int = 64
    lr: float = 5e-4
    mel_weight: float = 1.0
    adversarial: bool = False
    adv_weight: float = 1 / 45
    checkpoint_every: int = 500
    valid_seconds: float = 10.0  # validation: the first seconds of each validation track
    seed: int = 42
    nb_workers: int = 0
    train_subset: str = "train"
    valid_subset: str = "valid"  # "" skips validation (best.pt then follows the training loss)
    augment: Augment = field(default_factory=Augment)
    device: str = "auto"

    def __post_init__(self) -> None:
        check_fields(VocoderTrainConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, RANGES)
        check_fields(VocoderConfig, self.vocoder, prefix="vocoder.")


RANGES = {"steps": (1, True), "batch_size": (1, True), "seq_dur": (0, False), "samples_per_track": (1, True),
          "lr": (0, False), "mel_weight": (0, True), "adv_weight": (0, True), "checkpoint_every": (1, True),
          "valid_seconds": (0, False), "nb_workers": (0, True)}  # (lowest, inclusive) of the numeric settings


def resolve_vocoder_options(config: VocoderTrainConfig) -> dict:
    """The vocoder's full config dict, its STFT read from ``stft_from`` when given (never typed twice)."""
    options = dict(config.vocoder)
    if config.stft_from:
        stft_params = dataclasses.asdict(stft_from_checkpoint(config.stft_from))
        clash = {k: options[k] for k in _STFT_KEYS if k in options and options[k] != stft_params[k]}
        if clash:
            raise Hw2sepError(f"{clash} contradicts the STFT of {config.stft_from} ({stft_params}); give one or the other")
        options.update(stft_params)
    elif not {"n_fft", "hop"} <= set(options):
        raise Hw2sepError("the vocoder needs the separator's STFT: give --stft-from SEPARATOR.pt, or --n-fft and --hop")
    return dataclasses.asdict(vocoder_config(options))


def fit_vocoder(config: VocoderTrainConfig, resume: bool = False, progress: bool = True,
                stop_at: int | None = None, overwrite: bool = False) -> list[dict]:
    """Train (or resume) and return the log rows; ``stop_at`` ends the session after that step
    (the schedule still follows ``config.steps``, so a later ``resume`` continues the same run).
    A folder that holds a run is refused unless ``resume`` (or ``overwrite``)."""
    trainer = VocoderTrainer(config, progress, stop_at)
    try:
        return loop.run(trainer, Path(config.out), trainer.info, resume, overwrite, progress)
    finally:
        trainer.bar.close()


class VocoderTrainer(loop.Trainer):
    """The vocoder's part of the training loop: one period is ``checkpoint_every`` steps (or up to the end)."""

    unit, log_fields = "step", LOG_FIELDS[1:]

    def __init__(self, config: VocoderTrainConfig, progress: bool, stop_at: int | None):
        self.config, self.progress = config, progress
        self.device = resolve_device(config.device)
        manifest = load_manifest(config.npy_root)
        self.options = resolve_vocoder_options(config)
        self.dataset = ExcerptDataset(config.npy_root, config.train_subset, config.seq_dur, config.samples_per_track,
                                      config.augment, config.seed, raw=True)
        self.valid = _validation_signals(config) if config.valid_subset else None
        torch.manual_seed(config.seed)
        self.parts = Parts(Vocoder(vocoder_config(self.options)).to(self.device), config)
        self.model = self.parts.vocoder
        self.end = min(config.steps, stop_at if stop_at is not None else config.steps)
        self.info = {"dataset_fingerprint": manifest["fingerprint"], "train": _config_dict(config)}
        self.bar = loop.bar(config.steps, 0, False, "step")

    def stateful(self) -> dict:
        return self.parts.stateful()

    def identity(self) -> dict:
        return self.options

    def periods(self, done: int) -> list[int]:
        every, end = self.config.checkpoint_every, self.end
        return sorted({*range((done // every + 1) * every, end + 1, every), *([end] if end > done else [])})

    def start(self, done: int) -> None:
        self.bar = loop.bar(self.config.steps, done, self.progress, "step")
        self.batches = _batches(self.dataset, self.config, done, self.end)  # one stream over the session's steps

    def train_period(self, end: int) -> float:
        self.losses = []
        for step, (raw, gains, swaps) in self.batches:
            sources = apply_augmentation(raw.to(self.device), gains.to(self.device), swaps.to(self.device),
                                         self.dataset.scale)
            signals = sources.reshape(-1, sources.shape[-1])  # (signals, samples)
            self.losses.append(train_step(self.parts, signals, self.config))
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{self.losses[-1]:.4f}")
            if step == end:
                break
        return sum(self.losses) / len(self.losses)

    def validate(self, train_loss: float) -> float:
        if self.valid is None:
            return train_loss
        return validate(self.parts.vocoder, self.valid, self.parts.mel_l1, self.config)

    def log_columns(self, seconds: float) -> dict:
        return {"lr": self.parts.opt.param_groups[0]["lr"], "seconds": round(seconds, 3),
                "s_per_step": round(seconds / len(self.losses), 4)}

    def save(self, path: Path, tag: dict, extra_state: dict | None = None) -> None:
        save_vocoder(path, self.parts.vocoder, tag, extra_state=extra_state)


class Parts:
    """The vocoder, optional discriminators, their optimizers and schedulers, the mel loss."""

    def __init__(self, vocoder: Vocoder, config: VocoderTrainConfig):
        self.vocoder = vocoder
        self.mel_l1 = MelL1(vocoder.stft_params, vocoder.config.n_mels, vocoder.config.sample_rate)
        self.opt, self.sched = _optimizer(vocoder, config)
        self.disc = Discriminators().to(next(vocoder.parameters()).device) if config.adversarial else None
        self.disc_opt, self.disc_sched = _optimizer(self.disc, config) if self.disc is not None else (None, None)

    def stateful(self) -> dict:
        """The optimizers and schedulers (and discriminators) that last.pt keeps beside the weights."""
        objects = {"optimizer": self.opt, "scheduler": self.sched}
        if self.disc is not None:
            objects.update(disc=self.disc, disc_optimizer=self.disc_opt, disc_scheduler=self.disc_sched)
        return objects


def train_step(parts: Parts, signals: torch.Tensor, config: VocoderTrainConfig) -> float:
    """One optimisation step on mono signals; returns the reconstruction loss. Shape: (signals, samples)."""
    parts.vocoder.train()
    estimate = synthesise(parts.vocoder, signals)
    loss = reconstruction_loss(signals, estimate, parts.mel_l1, config)
    total = loss
    if parts.disc is not None:
        parts.disc_opt.zero_grad(set_to_none=True)
        real, _ = parts.disc(signals)
        fake, _ = parts.disc(estimate.detach())
        discriminator_loss(real, fake).backward()
        parts.disc_opt.step()
        parts.disc_sched.step()
        (real, real_feats), (fake, fake_feats) = parts.disc(signals), parts.disc(estimate)
        total = loss + config.adv_weight * (generator_loss(fake) + feature_matching_loss(real_feats, fake_feats))
    parts.opt.zero_grad(set_to_none=True)
    total.backward()
    parts.opt.step()
    parts.sched.step()
    return loss.item()


def synthesise(vocoder: Vocoder, signals: torch.Tensor) -> torch.Tensor:
    """The vocoder's rebuild of ``signals`` from their magnitudes at its STFT. Shape: (..., N) -> (..., N)."""
    p = vocoder.stft_params
    return vocoder(stft(signals, p.n_fft, p.hop, p.window).abs(), signals.shape[-1])


def reconstruction_loss(ref: torch.Tensor, est: torch.Tensor, mel_l1: MelL1, config: VocoderTrainConfig) -> torch.Tensor:
    """Multi-resolution STFT loss + mel_weight * mel L1: the one place the training loss is defined."""
    return multi_resolution_stft_loss(ref, est) + config.mel_weight * mel_l1(ref, est)


@torch.no_grad()
def validate(vocoder: Vocoder, signals: list[torch.Tensor], mel_l1: MelL1, config: VocoderTrainConfig) -> float:
    """Mean reconstruction loss over the validation excerpts (one track at a time)."""
    vocoder.eval()
    device = next(vocoder.parameters()).device
    losses = [reconstruction_loss(s.to(device), synthesise(vocoder, s.to(device)), mel_l1, config).item() for s in signals]
    return sum(losses) / len(losses)


def _validation_signals(config: VocoderTrainConfig) -> list[torch.Tensor]:
    """The first ``valid_seconds`` of each validation track, as mono signals. Shape: each (4, samples)."""
    tracks = TrackDataset(config.npy_root, config.valid_subset)
    n = int(config.valid_seconds * SAMPLE_RATE)
    return [sources[..., :n].reshape(-1, min(n, sources.shape[-1])) for sources in tracks]


def _batches(dataset: ExcerptDataset, config: VocoderTrainConfig, step: int, end: int):
    """Yield (step number, batch) from ``step + 1`` to ``end``; the batches of a step depend on (seed, step) only."""
    per_pass = len(dataset) // config.batch_size
    if per_pass == 0:
        raise Hw2sepError(f"batch size {config.batch_size} exceeds the {len(dataset)} excerpts per pass")
    while step < end:
        epoch, position = divmod(step, per_pass)
        dataset.set_epoch(epoch + 1)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(loop.epoch_seed(config.seed, epoch + 1)))
        batches = order[:per_pass * config.batch_size].view(per_pass, -1).tolist()[position:end - epoch * per_pass]
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=config.nb_workers)
        for batch in loader:
            step += 1
            yield step, batch


def _optimizer(module: torch.nn.Module, config: VocoderTrainConfig):
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, betas=(0.8, 0.9))
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, config.steps))


def _config_dict(config: VocoderTrainConfig) -> dict:
    return dataclasses.asdict(config)
