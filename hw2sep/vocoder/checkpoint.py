"""Vocoder checkpoints: ``NAME.pt`` (tensors only) + ``NAME.json`` (config with the STFT, sample rate,
features, n_mels, receptive field and training settings), through ``hw2sep.models.checkpoint``.

A vocoder rebuilds from its json alone, loads with ``torch.load(weights_only=True)``, and is
refused with one line when its STFT or sample rate is not the separator's.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import torch

from hw2sep import SAMPLE_RATE
from hw2sep.models.checkpoint import load_weights, read_meta, save_checkpoint
from hw2sep.errors import Hw2sepError
from hw2sep.dsp.stft import STFTParams
from hw2sep.vocoder.model import Vocoder, VocoderConfig

KIND = "vocoder"
MODEL_NAME = "vocos"


def save_vocoder(path: str | Path, vocoder: Vocoder, info: dict[str, Any],
                 extra_state: dict[str, Any] | None = None) -> Path:
    """Write ``path``.pt and ``path``.json atomically; the json states what must match the separator."""
    config = vocoder.config
    meta = {"kind": KIND, "stft": dataclasses.asdict(config.stft_params), "sample_rate": config.sample_rate,
            "features": config.features, "n_mels": config.n_mels if config.features == "mel" else None,
            "receptive_field_frames": config.receptive_field, **info}
    return save_checkpoint(path, vocoder, MODEL_NAME, dataclasses.asdict(config), meta, extra_state)


def vocoder_config(config: dict) -> VocoderConfig:
    """A ``VocoderConfig`` from a saved dict; unknown keys are dropped with a warning."""
    known = {f.name for f in dataclasses.fields(VocoderConfig)}
    dropped = sorted(set(config) - known)
    if dropped:
        warnings.warn(f"ignoring unknown vocoder config keys {dropped}", stacklevel=2)
    return VocoderConfig(**{k: v for k, v in config.items() if k in known})


def load_vocoder(path: str | Path, stft_params: STFTParams, sample_rate: int = SAMPLE_RATE,
                 device: str | torch.device = "cpu") -> Vocoder:
    """The vocoder at ``path`` in eval mode, after checking it was trained for the separator's STFT.

    Raises:
        Hw2sepError: (one line) not a vocoder checkpoint, unreadable, or STFT / sample-rate mismatch.
    """
    meta = read_meta(path)
    if meta.get("kind") != KIND:
        raise Hw2sepError(f"{Path(path).with_suffix('.json')} is a '{meta['model']}' checkpoint, not a vocoder")
    config = vocoder_config(meta["config"])
    theirs = (config.stft_params, config.sample_rate)
    if theirs != (stft_params, sample_rate):
        raise Hw2sepError(
            f"vocoder {Path(path).with_suffix('.pt')} was trained for {_describe(*theirs)} but the separator uses "
            f"{_describe(stft_params, sample_rate)}; retrain it with --stft-from SEPARATOR.pt")
    return load_weights(Vocoder(config), path, device, "vocoder")


def stft_from_checkpoint(path: str | Path) -> STFTParams:
    """The STFT a separator checkpoint declares (``model.stft_params``, built from its json alone)."""
    from hw2sep.models import build_model

    meta = read_meta(path)
    if meta.get("kind") == KIND:
        raise Hw2sepError(f"{Path(path).with_suffix('.pt')} is a vocoder; --stft-from wants a separator checkpoint")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_model(meta["model"], meta["config"]).stft_params


def _describe(stft: STFTParams, sample_rate: int) -> str:
    return f"n_fft {stft.n_fft}, hop {stft.hop}, {stft.window} window at {sample_rate} Hz"
