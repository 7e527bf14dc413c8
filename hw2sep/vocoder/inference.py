"""Waveforms from (estimated) magnitudes with a trained vocoder, batched over signals, chunked over time.

The network runs on the blocks of the package's chunker (``hw2sep.dsp.blocks.frame_blocks``): ``chunk_frames``
frames plus ``receptive_field // 2`` context frames each side, dropped afterwards, so every kept frame sees what it
would see in one pass (the result equals ``vocoder(magnitude, length)`` up to float rounding), over as many signals
at once as fit ``_POINTS`` time-frequency points. The frames are overlap-added by ``hw2sep.dsp.overlap_add``, the
one overlap-add of every reconstruction: peak memory is the output plus one chunk's work.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hw2sep.dsp.blocks import frame_blocks
from hw2sep.dsp.overlap_add import OverlapAdd
from hw2sep.dsp.stft import STFTParams
from hw2sep.vocoder.model import Vocoder, check_input

_POINTS = 2 ** 21  # time-frequency points per network call
CHUNK_FRAMES = 512


@torch.no_grad()
def vocode(magnitudes: Tensor, length: int, vocoder: Vocoder, chunk_frames: int = CHUNK_FRAMES) -> Tensor:
    """Waveforms of ``length`` samples whose STFT magnitudes approximate ``magnitudes``.

    Args:
        magnitudes: non-negative magnitudes at the vocoder's STFT (the separator's), e.g. the
            separator's estimate (no mixture phase is used).
        length: samples per output signal; nb_frames must be ``1 + length // hop``.
        vocoder: a ``Vocoder`` (``load_vocoder``); it runs on its own device, the result lands on
            the device of ``magnitudes``.
        chunk_frames: frames per network call (context frames added on both sides).

    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    config = vocoder.config
    check_input(magnitudes, length, config)
    vocoder.eval()
    lead, (nb_bins, nb_frames) = magnitudes.shape[:-2], magnitudes.shape[-2:]
    mags = magnitudes.reshape(-1, nb_bins, nb_frames)  # to (signals, nb_bins, nb_frames)
    device = next(vocoder.parameters()).device
    params = STFTParams(config.n_fft, config.hop, config.window)
    ola = OverlapAdd((len(mags),), length, params, device)
    plan = frame_blocks(nb_frames, max(1, chunk_frames), config.receptive_field // 2)
    group = max(1, _POINTS // (nb_bins * (plan[0][1].stop - plan[0][1].start)))
    for s in range(0, len(mags), group):
        signals = slice(s, min(s + group, len(mags)))
        for core, span in plan:
            spec = vocoder.spectrum(mags[signals, :, span].to(device, torch.float32))
            ola.add(spec[..., core.start - span.start:core.stop - span.start], core.start, signals)
    return ola.finish().to(magnitudes.device).reshape(*lead, length)
