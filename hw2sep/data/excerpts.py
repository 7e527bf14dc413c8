"""Torch datasets over the npy cache: augmented random excerpts for training, whole tracks for validation.

Augmentations (Uhlich et al., ICASSP 2017; as in Open-Unmix's training), each an independent switch,
applied per source: random left/right swap, random gain in [0.25, 1.25], a random chunk position
per source, and mixing sources drawn from different songs. Items are the augmented sources only:
the mixture is their sum (``mixture_of``), added on the training device, which halves what the
DataLoader workers must pass through shared memory (1.85x more excerpts/s with 2 workers here). Randomness comes from a generator seeded by (seed, epoch, index), so a batch is
the same whatever the number of DataLoader workers, and a resumed run sees the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hw2sep import SAMPLE_RATE, TARGETS
from hw2sep.errors import Hw2sepError
from hw2sep.data.musdb import training_subsets
from hw2sep.data.npy_cache import check_source, load_manifest, load_source


@dataclass
class Augment:
    """Which augmentations to apply; all on by default except cross-song mixing (Open-Unmix's default)."""

    swap_channels: bool = True
    gain: tuple[float, float] | None = (0.25, 1.25)
    random_chunks: bool = True
    random_track_mix: bool = False

    @classmethod
    def none(cls) -> "Augment":
        return cls(swap_channels=False, gain=None, random_chunks=False, random_track_mix=False)


def _subset_tracks(npy_root, subset: str) -> tuple[dict, list[dict]]:
    """Manifest and tracks of ``subset`` (comma-separated names allowed, e.g. ``train,valid``)."""
    wanted = training_subsets(subset)
    manifest = load_manifest(npy_root)
    tracks = [t for t in manifest["tracks"] if t["subset"] in wanted]
    if not tracks:
        raise Hw2sepError(f"the npy cache {npy_root} has no '{subset}' tracks")
    for track in tracks:  # sizes and shapes now, in this process: a truncated file is never memory-mapped
        for target in TARGETS:
            check_source(npy_root, track, target)
    return manifest, tracks


def mixture_of(sources: torch.Tensor) -> torch.Tensor:
    """The mixture of an item or batch: the sum over the targets axis (-3).

    Shape: (..., nb_targets, nb_channels, nb_samples) -> (..., nb_channels, nb_samples).
    Written as adds: torch's sum over a leading axis was ~20x slower on a 2-core CPU.
    """
    sources = sources.unbind(-3)
    return sum(sources[1:], sources[0])


class ExcerptDataset(torch.utils.data.Dataset):
    """``samples_per_track`` random excerpts of ``seq_duration`` seconds per track and epoch.

    Shape: item = sources (nb_targets, nb_channels, nb_samples), targets in ``hw2sep.TARGETS``
    order (vocals, accompaniment); the mixture is ``mixture_of(sources)``.
    """

    def __init__(self, npy_root, subset: str = "train", seq_duration: float = 6.0,
                 samples_per_track: int = 64, augment: Augment | None = None, seed: int = 0, raw: bool = False):
        manifest, self.tracks = _subset_tracks(npy_root, subset)
        self.npy_root, self.scale = npy_root, float(manifest["scale"])
        self.seq_len = int(round(seq_duration * SAMPLE_RATE))
        self.samples_per_track = samples_per_track
        self.augment = augment if augment is not None else Augment()
        self.seed, self.epoch, self.raw = seed, 0, raw
        self._arrays: dict[tuple[int, str], np.ndarray] = {}  # memmaps, opened lazily in each worker

    def set_epoch(self, epoch: int) -> None:
        """Draw a new set of excerpts; call before each epoch (workers are re-created per epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.tracks) * self.samples_per_track

    def __getitem__(self, index: int):
        """Augmented float32 sources; with ``raw=True`` the stored excerpts, gains and swaps instead."""
        raw, gains, swaps = self.raw_item(index)
        if self.raw:
            return raw, gains, swaps
        return apply_augmentation(raw[None], gains[None], swaps[None], self.scale)[0]

    def raw_item(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Excerpts in the stored dtype plus the gain and swap drawn for each source.

        Shape: ((nb_targets, nb_channels, nb_samples), (nb_targets,) float32, (nb_targets,) bool).
        Every draw is made whether its switch is on or not, so one switch never changes the others.
        """
        rng = np.random.default_rng([self.seed, self.epoch, index])
        aug = self.augment
        track_index = index // self.samples_per_track
        shared_start = self._start(track_index, rng.random())
        excerpts, gains, swaps = [], [], []
        for target in TARGETS:
            u_track, u_start, u_gain, u_swap = rng.random(4)
            source_track = int(u_track * len(self.tracks)) if aug.random_track_mix else track_index
            own_chunk = aug.random_chunks or aug.random_track_mix
            excerpts.append(self._read(source_track, target,
                                       self._start(source_track, u_start) if own_chunk else shared_start))
            low, high = aug.gain if aug.gain is not None else (1.0, 1.0)
            gains.append(np.float32(low + (high - low) * u_gain))
            swaps.append(bool(aug.swap_channels and u_swap < 0.5))
        return torch.from_numpy(np.stack(excerpts)), torch.tensor(np.array(gains)), torch.tensor(swaps)

    def _start(self, track_index: int, uniform: float) -> int:
        """Map a uniform draw in [0, 1) to an excerpt start inside the track."""
        return int(uniform * (max(self.tracks[track_index]["num_samples"] - self.seq_len, 0) + 1))

    def _read(self, track_index: int, source: str, start: int) -> np.ndarray:
        """One excerpt in the stored dtype, (nb_channels, seq_len); zero-padded past the track's end."""
        key = (track_index, source)
        if key not in self._arrays:
            self._arrays[key] = load_source(self.npy_root, self.tracks[track_index], source)
        chunk = np.asarray(self._arrays[key][:, start:start + self.seq_len])
        if chunk.shape[-1] < self.seq_len:
            chunk = np.pad(chunk, ((0, 0), (0, self.seq_len - chunk.shape[-1])))
        return chunk


def apply_augmentation(raw: torch.Tensor, gains: torch.Tensor, swaps: torch.Tensor, scale: float) -> torch.Tensor:
    """Stored excerpts -> float32 augmented sources (gain, then left/right swap), on any device.

    Shape: raw (batch, nb_targets, nb_channels, nb_samples), gains and swaps (batch, nb_targets).
    """
    audio = raw.float() / scale * gains[..., None, None]
    return torch.where(swaps[..., None, None], audio.flip(-2), audio)


class TrackDataset(torch.utils.data.Dataset):
    """Whole tracks of a subset, no augmentation (validation). Items like ``ExcerptDataset``'s."""

    def __init__(self, npy_root, subset: str = "valid"):
        manifest, self.tracks = _subset_tracks(npy_root, subset)
        self.npy_root, self.scale = npy_root, float(manifest["scale"])

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> torch.Tensor:
        track = self.tracks[index]
        sources = np.stack([np.asarray(load_source(self.npy_root, track, t), dtype=np.float32) / self.scale
                            for t in TARGETS])
        return torch.from_numpy(sources)
