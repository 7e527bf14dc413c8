"""Running any registered model on waveforms: the one place that dispatches on what a model predicts.

Training, validation and separation all call ``run_model`` (a batch of excerpts) or ``estimate_track``
(one whole track, chunked so memory stays bounded). Both return an ``Estimate``: the model's output in
its own kind, with views in the other domains computed on demand, and the accompaniment rule of that
kind (magnitude: max(|X| - V, 0); complex: X - V; waveform: x - v).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hw2sep.common.devices import autocast
from hw2sep.models.base import SeparationModel
from hw2sep.dsp.stft import STFTParams
from hw2sep.dsp.blocks import BLOCK_SECONDS, CONTEXT_SECONDS, frame_blocks, seconds_to_frames
from hw2sep.dsp.stft import istft, stft, with_phase_of


class Estimate:
    """One target's estimate in the model's kind, beside the mixture it came from.

    Shape: ``value`` is (..., C, F, T) for magnitude/complex kinds and (..., C, N) for waveforms;
    ``mixture`` is (..., C, N); ``mix_spec`` (..., C, F, T) complex. A block of a streamed track has
    ``mix_spec`` but no waveform (``mixture`` None): its spectrogram views and residual still work.
    """

    def __init__(self, kind: str, value: Tensor, mixture: Tensor | None, stft_params: STFTParams,
                 mix_spec: Tensor | None = None):
        self.kind, self.value, self.mixture, self.stft_params = kind, value, mixture, stft_params
        self._mix_spec = mix_spec

    @property
    def length(self) -> int:
        return self.mixture.shape[-1]

    @property
    def mix_spec(self) -> Tensor:
        if self._mix_spec is None:
            self._mix_spec = self.stft(self.mixture)
        return self._mix_spec

    def stft(self, wave: Tensor) -> Tensor:
        """The model's STFT of any waveform (e.g. the reference, for a loss)."""
        return stft(wave, **vars(self.stft_params))

    def istft(self, spec: Tensor) -> Tensor:
        return istft(spec, self.length, **vars(self.stft_params))

    def magnitude(self) -> Tensor:
        """Shape: (..., C, F, T), non-negative."""
        if self.kind == "magnitude":
            return self.value
        return self.spec().abs()

    def spec(self) -> Tensor:
        """Complex STFT; a magnitude estimate takes the mixture phase. Shape: (..., C, F, T)."""
        if self.kind == "complex":
            return self.value
        if self.kind == "waveform":
            return self.stft(self.value)
        return with_phase_of(self.value, self.mix_spec)

    def wave(self) -> Tensor:
        """Shape: (..., C, N)."""
        return self.value if self.kind == "waveform" else self.istft(self.spec())

    def residual(self) -> "Estimate":
        """The complementary target (the accompaniment of a vocals estimate), by this kind's rule."""
        if self.kind == "magnitude":
            rest = torch.relu(self.mix_spec.abs() - self.value)
        elif self.kind == "complex":
            rest = self.mix_spec - self.value
        else:
            rest = self.mixture - self.value
        return Estimate(self.kind, rest, self.mixture, self.stft_params, self._mix_spec)


def model_input(model: SeparationModel, mixture: Tensor, mix_spec: Tensor | None) -> Tensor:
    """What ``model.forward`` takes for this mixture. Shape: see ``SeparationModel``."""
    if model.predicts == "waveform":
        return mixture
    return mix_spec if model.predicts == "complex" else mix_spec.abs()


def call_model(model: SeparationModel, inputs: Tensor, target: str, amp: bool) -> Tensor:
    """``model(inputs)`` with the frame axis zero-padded to ``frame_multiple`` and cropped back.

    Shape: (B, C, F, T) or (B, C, N) -> same.
    """
    kwargs = {"target": target} if len(model.targets) > 1 else {}
    size = inputs.shape[-1]
    multiple = 1 if model.predicts == "waveform" else model.frame_multiple
    padded = F.pad(inputs, (0, -size % multiple)) if size % multiple else inputs
    with autocast(inputs.device, amp):
        out = model(padded, **kwargs)
    out = out[..., :size]
    return out if out.is_complex() else out.float()


def run_model(model: SeparationModel, mixture: Tensor, target: str = "vocals", amp: bool = False) -> Estimate:
    """The model's estimate of ``target`` for a batch of mixtures. Shape: mixture (B, C, N)."""
    params = model.stft_params
    mix_spec = None if model.predicts == "waveform" else stft(mixture, **vars(params))
    value = call_model(model, model_input(model, mixture, mix_spec), target, amp)
    return Estimate(model.predicts, value, mixture, params, mix_spec)


def estimate_track(model: SeparationModel, mixture: Tensor, target: str = "vocals", chunk_frames: int | None = None,
                   context_frames: int | None = None, amp: bool = False) -> Estimate:
    """``run_model`` over a whole track, in chunks of frames with context on each side.

    Activations never cover more than ``chunk_frames + 2 * context_frames`` frames; the result equals
    one whole-track call when the context covers the track (default: the chunker's block and context seconds). Waveform models chunk samples, with the
    same number of hops. Shape: mixture (C, N) -> Estimate with value (C, F, T) or (C, N).
    """
    params = model.stft_params
    chunk_frames = seconds_to_frames(BLOCK_SECONDS, params.hop) if chunk_frames is None else chunk_frames
    context_frames = seconds_to_frames(CONTEXT_SECONDS, params.hop) if context_frames is None else context_frames
    if model.predicts == "waveform":
        full, unit = mixture[None], params.hop
    else:
        mix_spec = stft(mixture, **vars(params))
        full, unit = model_input(model, mixture, mix_spec)[None], 1
    out = None
    for core, span in frame_blocks(full.shape[-1], chunk_frames * unit, context_frames * unit):
        chunk = call_model(model, full[..., span], target, amp)[0]
        if out is None:
            out = chunk.new_empty(*chunk.shape[:-1], full.shape[-1])
        out[..., core] = chunk[..., core.start - span.start:core.stop - span.start]
    return Estimate(model.predicts, out, mixture, params, None if model.predicts == "waveform" else mix_spec)
