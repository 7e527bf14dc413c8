"""STFT / ISTFT with one convention for the whole package.

The convention is librosa's (`center=True`, zero padding, periodic Hann window, no normalisation),
so that our torch Griffin-Lim reproduces `librosa.griffinlim` and magnitudes match librosa's STFT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

N_FFT = 4096
HOP = 1024


@dataclass(frozen=True)
class STFTParams:
    """One STFT: used for the model's input, its loss, validation, separation and every reconstruction."""

    n_fft: int = N_FFT
    hop: int = HOP
    window: str = "hann"

    @property
    def nb_bins(self) -> int:
        return self.n_fft // 2 + 1


def window_tensor(name: str, n_fft: int, device, dtype) -> torch.Tensor:
    """The periodic analysis/synthesis window ``name`` (hann, hamming or blackman)."""
    make = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}
    if name not in make:
        raise ValueError(f"unknown STFT window {name!r}; choose one of {', '.join(make)}")
    return make[name](n_fft, periodic=True, device=device, dtype=dtype)


def stft(audio: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """Complex STFT of a waveform.

    Shape: (..., nb_samples) -> (..., nb_bins, nb_frames), nb_bins = n_fft // 2 + 1.
    """
    shape = audio.shape
    audio = audio.reshape(-1, shape[-1])  # to (batch, nb_samples)
    spec = torch.stft(audio, n_fft, hop, window=window_tensor(window, n_fft, audio.device, audio.dtype), center=True, pad_mode="constant",
                      normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def istft(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP, window: str = "hann") -> torch.Tensor:
    """Inverse of `stft`, trimmed or padded to exactly `length` samples.

    Shape: (..., nb_bins, nb_frames) -> (..., length).
    """
    shape = spec.shape
    spec = spec.reshape(-1, *shape[-2:])  # to (batch, nb_bins, nb_frames)
    audio = torch.istft(spec, n_fft, hop, window=window_tensor(window, n_fft, spec.device, spec.real.dtype), center=True, normalized=False,
                        onesided=True, length=length)
    return audio.reshape(*shape[:-2], length)


def with_phase_of(magnitude: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """``magnitude`` with the phase of the complex ``spec`` (the mixture phase). Shape: broadcastable, same frames."""
    return magnitude * torch.exp(1j * spec.angle()).to(spec.dtype)


def log_spectral_frames(ref_power: torch.Tensor, est_power: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """The log-spectral distance of each frame in dB: the RMS over bins of the difference of the power spectra in
    dB, both floored at ``floor`` (the reference's peak power minus a dynamic range, so silence does not dominate).

    Shape: powers (..., nb_bins, t), floor broadcastable -> (..., t).
    """
    diff = 10 * (torch.log10(torch.maximum(ref_power, floor)) - torch.log10(torch.maximum(est_power, floor)))
    return diff.square().mean(dim=-2).sqrt()


def bandwidth_to_max_bin(rate: float, n_fft: int, bandwidth: float) -> int:
    """Number of STFT bins whose centre frequency is at most `bandwidth` Hz (Open-Unmix's rule)."""
    bin_hz = rate / n_fft
    return int(bandwidth // bin_hz) + 1


def stft_frames(audio: torch.Tensor, start: int, stop: int, n_fft: int = N_FFT, hop: int = HOP,
                window: str = "hann") -> torch.Tensor:
    """Frames ``start:stop`` of ``stft(audio)``, computed from the samples under them only.

    Frame t of the centred STFT covers samples ``t * hop - n_fft // 2`` to ``t * hop + n_fft // 2``
    of the zero-padded signal, so a block of frames needs ``(stop - start - 1) * hop + n_fft``
    samples: the same numbers as the whole-track `stft`, at the memory of the block.

    Shape: (..., nb_samples) -> (..., nb_bins, stop - start).
    """
    nb_frames = 1 + audio.shape[-1] // hop
    if not 0 <= start < stop <= nb_frames:
        raise ValueError(f"frames {start}:{stop} outside 0:{nb_frames}")
    first = start * hop - n_fft // 2  # first sample of frame `start`, may lie before 0 or past the end
    last = (stop - 1) * hop + n_fft - n_fft // 2
    piece = audio[..., max(0, first):min(audio.shape[-1], last)]
    piece = torch.nn.functional.pad(piece, (max(0, -first), max(0, last - audio.shape[-1])))
    shape = piece.shape
    piece = piece.reshape(-1, shape[-1])  # to (batch, block_samples)
    spec = torch.stft(piece, n_fft, hop, window=window_tensor(window, n_fft, piece.device, piece.dtype),
                      center=False, normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*shape[:-1], *spec.shape[-2:])
