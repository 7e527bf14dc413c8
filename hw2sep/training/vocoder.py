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
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hw2sep import SAMPLE_RATE
from hw2sep.models.checkpoint import load_state, read_meta
from hw2sep.data.excerpts import Augment, ExcerptDataset, TrackDataset, apply_augmentation
from hw2sep.common.devices import resolve_device
from hw2sep.errors import Hw2sepError
from hw2sep.common.files import write_csv
from hw2sep.data.npy_cache import load_manifest
from hw2sep.dsp.stft import stft
from hw2sep.vocoder.checkpoint import save_vocoder, stft_from_checkpoint, vocoder_config
from hw2sep.vocoder.discriminators import Discriminators, discriminator_loss, feature_matching_loss, generator_loss
from hw2sep.vocoder.losses import MelL1, multi_resolution_stft_loss
from hw2sep.vocoder.model import Vocoder

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
                stop_at: int | None = None) -> list[dict]:
    """Train (or resume) and return the log rows; ``stop_at`` ends the session after that step
    (the schedule still follows ``config.steps``, so a later ``resume`` continues the same run)."""
    out, device = Path(config.out), resolve_device(config.device)
    manifest = load_manifest(config.npy_root)
    options = resolve_vocoder_options(config)
    dataset = ExcerptDataset(config.npy_root, config.train_subset, config.seq_dur, config.samples_per_track,
                             config.augment, config.seed, raw=True)
    valid = _validation_signals(config) if config.valid_subset else None
    torch.manual_seed(config.seed)
    parts = Parts(Vocoder(vocoder_config(options)).to(device), config)
    state = {"step": 0, "history": [], "best_loss": float("inf"), "train_seconds": 0.0}
    if resume and (out / "last.pt").exists():
        state = parts.restore(out / "last")
    elif resume:
        print(f"--resume: no {out / 'last.pt'} yet, starting from scratch")
    info = {"dataset_fingerprint": manifest["fingerprint"], "train": _config_dict(config)}
    end = min(config.steps, stop_at if stop_at is not None else config.steps)
    bar = _progress(state["step"], config.steps, progress)
    losses, started = [], time.time()
    for step, (raw, gains, swaps) in _batches(dataset, config, state["step"], end):
        sources = apply_augmentation(raw.to(device), gains.to(device), swaps.to(device), dataset.scale)
        losses.append(train_step(parts, sources.reshape(-1, sources.shape[-1]), config))  # (signals, samples)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if step % config.checkpoint_every and step != end:
            continue
        seconds = time.time() - started
        train_loss = sum(losses) / len(losses)
        valid_loss = validate(parts.vocoder, valid, parts.mel_l1, config) if valid is not None else train_loss
        state["train_seconds"] += seconds
        state["history"].append({"step": step, "train_loss": train_loss, "valid_loss": valid_loss,
                                 "lr": parts.opt.param_groups[0]["lr"], "seconds": round(seconds, 3),
                                 "s_per_step": round(seconds / len(losses), 4)})
        state["step"] = step
        tag = {"step": step, "valid_loss": valid_loss, "train_seconds": round(state["train_seconds"], 1), **info}
        if valid_loss < state["best_loss"]:
            state["best_loss"] = valid_loss
            save_vocoder(out / "best", parts.vocoder, tag)
        save_vocoder(out / "last", parts.vocoder, tag, extra_state=parts.training_state(state))
        write_csv(out / "log.csv", state["history"], LOG_FIELDS)
        losses, started = [], time.time()
    if bar is not None:
        bar.close()
    return state["history"]


class Parts:
    """The vocoder, optional discriminators, their optimizers and schedulers, the mel loss."""

    def __init__(self, vocoder: Vocoder, config: VocoderTrainConfig):
        self.vocoder = vocoder
        self.mel_l1 = MelL1(vocoder.stft_params, vocoder.config.n_mels, vocoder.config.sample_rate)
        self.opt, self.sched = _optimizer(vocoder, config)
        self.disc = Discriminators().to(next(vocoder.parameters()).device) if config.adversarial else None
        self.disc_opt, self.disc_sched = _optimizer(self.disc, config) if self.disc is not None else (None, None)

    def training_state(self, state: dict) -> dict:
        extra = {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                 "rng": torch.get_rng_state(), "state": state}
        if self.disc is not None:
            extra.update(disc=self.disc.state_dict(), disc_optimizer=self.disc_opt.state_dict(),
                         disc_scheduler=self.disc_sched.state_dict())
        return extra

    def restore(self, path: Path) -> dict:
        saved = load_state(path, "cpu")
        try:
            self.vocoder.load_state_dict(saved["model"])
            self.opt.load_state_dict(saved["optimizer"])
            if self.disc is not None:
                self.disc.load_state_dict(saved["disc"])
                self.disc_opt.load_state_dict(saved["disc_optimizer"])
                self.disc_sched.load_state_dict(saved["disc_scheduler"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise Hw2sepError(f"cannot resume from {path}.pt with this configuration ({str(err).splitlines()[0]}); "
                              f"it was written with {read_meta(path).get('config')}") from None
        self.sched.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        return saved["state"]


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
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch + 1))
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


def _progress(start: int, total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=start, unit="step", leave=False, dynamic_ncols=True)
