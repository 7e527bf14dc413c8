"""STFT / ISTFT with one convention for the whole package.

The convention is librosa's (`center=True`, zero padding, periodic Hann window, no normalisation),
so that our torch Griffin-Lim reproduces `librosa.griffinlim` and magnitudes match librosa's STFT.
"""

from __future__ import annotations

import torch

N_FFT = 4096
HOP = 1024


def stft(audio: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Complex STFT of a waveform.

    Shape: (..., nb_samples) -> (..., nb_bins, nb_frames), nb_bins = n_fft // 2 + 1.
    """
    shape = audio.shape
    audio = audio.reshape(-1, shape[-1])  # to (batch, nb_samples)
    window = torch.hann_window(n_fft, periodic=True, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, pad_mode="constant",
                      normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of `stft`, trimmed or padded to exactly `length` samples.

    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    shape = spec.shape
    spec = spec.reshape(-1, *shape[-2:])  # to (batch, nb_bins, nb_frames)
    window = torch.hann_window(n_fft, periodic=True, device=spec.device, dtype=spec.real.dtype)
    audio = torch.istft(spec, n_fft, hop, window=window, center=True, normalized=False,
                        onesided=True, length=length)
    return audio.reshape(*shape[:-2], length)


def bandwidth_to_max_bin(rate: float, n_fft: int, bandwidth: float) -> int:
    """Number of STFT bins whose centre frequency is at most `bandwidth` Hz (Open-Unmix's rule)."""
    bin_hz = rate / n_fft
    return int(bandwidth // bin_hz) + 1
