"""Spectral losses for training the vocoder, and phase-independent distances for tables.

* Multi-resolution STFT loss (Yamamoto et al., Parallel WaveGAN, ICASSP 2020): spectral convergence
  ``|| |S| - |S^| ||_F / || |S| ||_F`` plus mean ``| log|S| - log|S^| |``, averaged over three
  Hann STFTs, n_fft 512 / 1024 / 2048 with hop n_fft / 4 (PWG used 512 / 1024 / 2048 at 24 kHz
  with other hops; a quarter-window hop keeps every resolution consistent).
* Mel L1: L1 between the log mel spectrograms (power 1) at the vocoder's own STFT, as Vocos' mel loss.
* ``log_spectral_distance`` and ``multi_resolution_stft_distance``: per-signal distances that
  compare magnitudes only, so they do not depend on phase alignment (unlike SDR): two signals with
  the same magnitudes and different phases are close.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from hw2sep import SAMPLE_RATE
from hw2sep.dsp.stft import STFTParams, log_spectral_frames
from hw2sep.dsp.stft import stft

RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
EPS = 1e-5  # magnitude floor of the log terms (as the vocoder input floor): near-silent bins do not dominate


def _magnitude(audio: Tensor, n_fft: int, hop: int, window: str = "hann") -> Tensor:
    """Shape: (..., nb_samples) -> (..., nb_bins, nb_frames)."""
    return stft(audio, n_fft, hop, window).abs()


def _mrstft_terms(ref: Tensor, est: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Mean over resolutions of (spectral convergence + log-magnitude L1), reduced over ``dims``."""
    total = 0.0
    for n_fft, hop in RESOLUTIONS:
        r, e = _magnitude(ref, n_fft, hop), _magnitude(est, n_fft, hop)
        sc = torch.linalg.vector_norm(r - e, dim=dims) / (torch.linalg.vector_norm(r, dim=dims) + EPS)
        log_mag = (torch.log(r + EPS) - torch.log(e + EPS)).abs().mean(dim=dims)
        total = total + sc + log_mag
    return total / len(RESOLUTIONS)


def multi_resolution_stft_loss(ref: Tensor, est: Tensor) -> Tensor:
    """The training loss over a batch (one Frobenius norm over the whole batch, as PWG).

    Shape: (..., nb_samples) twice -> scalar.
    """
    return _mrstft_terms(ref.reshape(-1, ref.shape[-1]), est.reshape(-1, est.shape[-1]), dims=(0, 1, 2))


def multi_resolution_stft_distance(ref: Tensor, est: Tensor) -> Tensor:
    """The same quantity per signal (lower is better; 0 for equal magnitudes).

    Shape: (..., nb_samples) twice -> (...).
    """
    return _mrstft_terms(ref, est, dims=(-2, -1))


class MelL1:
    """L1 between log mel spectrograms (power 1, ``librosa.filters.mel``) at one STFT.

    Shape: (..., nb_samples) twice -> scalar.
    """

    def __init__(self, stft_params: STFTParams, n_mels: int = 128, sample_rate: int = SAMPLE_RATE):
        import librosa
        self.stft_params = stft_params
        basis = librosa.filters.mel(sr=sample_rate, n_fft=stft_params.n_fft, n_mels=n_mels)
        self.basis = torch.from_numpy(np.asarray(basis, dtype=np.float32))  # (n_mels, nb_bins)

    def log_mel(self, audio: Tensor) -> Tensor:
        p = self.stft_params
        mag = _magnitude(audio, p.n_fft, p.hop, p.window)
        return torch.log(torch.matmul(self.basis.to(mag.device), mag).clamp_min(1e-5))

    def __call__(self, ref: Tensor, est: Tensor) -> Tensor:
        return (self.log_mel(ref) - self.log_mel(est)).abs().mean()


def log_spectral_distance(ref: Tensor, est: Tensor, stft_params: STFTParams, dynamic_range_db: float = 80.0) -> Tensor:
    """Log-spectral distance in dB: per frame the RMS over bins of the difference of the power
    spectra in dB, then the mean over frames. Both powers are floored at the reference's peak
    power minus ``dynamic_range_db`` (per signal), so silence does not dominate.

    Shape: (..., nb_samples) twice -> (...).
    """
    p = stft_params
    ref_pow = _magnitude(ref, p.n_fft, p.hop, p.window).square()
    est_pow = _magnitude(est, p.n_fft, p.hop, p.window).square()
    floor = ref_pow.amax(dim=(-2, -1), keepdim=True) * 10 ** (-dynamic_range_db / 10) + 1e-20
    return log_spectral_frames(ref_pow, est_pow, floor).mean(dim=-1)
