"""A Vocos-style vocoder on the separator's own STFT: magnitude features in, complex STFT out, iSTFT.

After Vocos (Siuzdak 2023, arXiv:2306.00814; code github.com/gemelo-ai/vocos, MIT): a ConvNeXt
backbone runs over STFT frames at the frame rate (no upsampling); a linear head predicts, per frame
and bin, a log-magnitude and a phase angle; the waveform is the inverse STFT of
``exp(log-magnitude) * (cos(phase) + j sin(phase))``. Written here from the paper and the public code's
structure (embedding conv k=7, LayerNorm, ConvNeXt blocks with a depthwise conv k=7, pointwise MLP
with GELU and layer scale 1/nb_layers, final LayerNorm, linear head of 2 * nb_bins outputs).

Where we depart, and why:

* The STFT is the separator's (``STFTParams``: n_fft, hop, window, same sample rate), read from its
  checkpoint, never typed twice: the assignment requires the vocoder's window, hop and rate to
  equal the separator's, and the input magnitude is the separator's estimate at that STFT. The
  iSTFT is ``hw2sep.dsp.stft.istft`` (librosa convention, ``center=True``), as Vocos' ``center``.
* Input: the log mel spectrogram of a *magnitude* (power 1, ``librosa.filters.mel`` with
  ``n_mels`` bands, log floored at 1e-5), computed from the given magnitude rather than from a
  waveform, because at use time there is no waveform: only the separator's estimated magnitude,
  without the mixture phase (the mixture-phase-free setting). ``features="linear"`` conditions
  on the full log-magnitude instead (a phase-retrieval network for comparison); its magnitude head
  then predicts a residual over the input log-magnitude.
* Size: dim 256, MLP 768, 8 blocks by default (Vocos: 512 / 1536 / 8 at 24 kHz) so that it trains
  on a CPU budget; at n_fft 4096, hop 1024 and 128 mels that is 4,460,290 parameters (mel) and
  7,902,722 (linear, whose input embedding sees 2049 bins).
* Log-magnitude clip at 12 (|S| <= 1.6e5) instead of exp clipped at 100: our STFT is unnormalised
  with n_fft 4096, so magnitudes of full-scale audio reach ~2e3.

Receptive field: each k=7 conv (embedding + one per block) adds 6 frames: 1 + 6 * (nb_layers + 1)
= 55 frames by default, i.e. 27 frames (0.63 s at hop 1024, 44.1 kHz) each side of a frame; the
54 frames spanned are 1.25 s. Stereo: channels are vocoded as independent mono signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from hw2sep import SAMPLE_RATE
from hw2sep.errors import Hw2sepError
from hw2sep.models.base import WINDOWS
from hw2sep.dsp.stft import STFTParams
from hw2sep.dsp.stft import istft

FEATURES = ("mel", "linear")
LOG_FLOOR = 1e-5
LOG_MAG_CLIP = 12.0


@dataclass
class VocoderConfig:
    """The vocoder's STFT (the separator's), its input features and its size; saved with every checkpoint."""

    n_fft: int = 4096
    hop: int = 1024
    window: str = "hann"
    sample_rate: int = SAMPLE_RATE
    features: str = "mel"
    n_mels: int = 128
    dim: int = 256
    intermediate_dim: int = 768
    nb_layers: int = 8
    kernel_size: int = 7

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise Hw2sepError(f"unknown vocoder features {self.features!r}; choose one of {', '.join(FEATURES)}")
        if self.window not in WINDOWS:
            raise Hw2sepError(f"unknown STFT window {self.window!r}; choose one of {', '.join(WINDOWS)}")
        if self.kernel_size % 2 == 0:
            raise Hw2sepError(f"vocoder kernel_size must be odd, got {self.kernel_size}")

    @property
    def stft_params(self) -> STFTParams:
        return STFTParams(self.n_fft, self.hop, self.window)

    @property
    def receptive_field(self) -> int:
        """Input frames one output frame depends on (odd; centred on the frame)."""
        return 1 + (self.kernel_size - 1) * (self.nb_layers + 1)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over frames, LayerNorm, pointwise MLP (GELU), layer scale, residual.

    Shape: (batch, dim, nb_frames) -> same.
    """

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).transpose(1, 2)  # to (batch, nb_frames, dim)
        y = self.pwconv2(nn.functional.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class Vocoder(nn.Module):
    """Magnitudes at the separator's STFT -> waveforms (see the module docstring).

    Shape: ``forward``: magnitude (..., nb_bins, nb_frames) -> waveform (..., length), with
    nb_frames = 1 + length // hop; ``spectrum``: magnitude -> complex (..., nb_bins, nb_frames).
    """

    def __init__(self, config: VocoderConfig):
        super().__init__()
        self.config = config
        nb_bins = config.n_fft // 2 + 1
        if config.features == "mel":
            import librosa
            basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels)
            self.register_buffer("mel_basis", torch.from_numpy(np.asarray(basis, dtype=np.float32)), persistent=False)
            in_channels = config.n_mels
        else:
            self.mel_basis = None
            in_channels = nb_bins
        k = config.kernel_size
        self.embed = nn.Conv1d(in_channels, config.dim, k, padding=k // 2)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(config.dim, config.intermediate_dim, k, 1 / config.nb_layers)
                                    for _ in range(config.nb_layers))
        self.final_norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, 2 * nb_bins)

    @property
    def stft_params(self) -> STFTParams:
        return self.config.stft_params

    def features(self, magnitude: Tensor) -> Tensor:
        """Log mel (or log linear) features. Shape: (batch, nb_bins, nb_frames) -> (batch, channels, nb_frames)."""
        if self.mel_basis is not None:
            magnitude = torch.matmul(self.mel_basis, magnitude)  # (batch, n_mels, nb_frames)
        return torch.log(magnitude.clamp_min(LOG_FLOOR))

    def spectrum(self, magnitude: Tensor) -> Tensor:
        """The complex STFT the vocoder predicts. Shape: (..., nb_bins, nb_frames) -> same, complex."""
        lead, (nb_bins, nb_frames) = magnitude.shape[:-2], magnitude.shape[-2:]
        mags = magnitude.reshape(-1, nb_bins, nb_frames)  # to (signals, nb_bins, nb_frames)
        feats = self.features(mags)
        x = self.norm(self.embed(feats).transpose(1, 2)).transpose(1, 2)  # (signals, dim, nb_frames)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (signals, 2 * nb_bins, nb_frames)
        log_mag, angle = out.chunk(2, dim=1)
        if self.mel_basis is None:  # linear features: a residual over the input log-magnitude
            log_mag = log_mag + feats
        spec = torch.polar(torch.exp(log_mag.clamp_max(LOG_MAG_CLIP)), angle)
        return spec.reshape(*lead, nb_bins, nb_frames)

    def forward(self, magnitude: Tensor, length: int) -> Tensor:
        """Waveforms of exactly ``length`` samples. Shape: (..., nb_bins, nb_frames) -> (..., length)."""
        check_input(magnitude, length, self.config)
        stft = self.stft_params
        return istft(self.spectrum(magnitude), length, stft.n_fft, stft.hop, stft.window)


def check_input(magnitude: Tensor, length: int, config: VocoderConfig) -> None:
    """One clear line when a magnitude does not come from the vocoder's STFT or does not fit ``length``."""
    nb_bins, nb_frames = magnitude.shape[-2:]
    if nb_bins != config.n_fft // 2 + 1:
        raise Hw2sepError(f"magnitude has {nb_bins} bins but the vocoder's STFT has n_fft {config.n_fft} "
                          f"({config.n_fft // 2 + 1} bins): separator and vocoder STFTs differ")
    if nb_frames != 1 + length // config.hop:
        raise Hw2sepError(f"{nb_frames} frames do not fit length {length} at hop {config.hop} "
                          f"(expected {1 + length // config.hop})")
