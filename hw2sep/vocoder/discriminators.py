"""Optional adversarial training: multi-period and multi-resolution discriminators, hinge losses.

As Vocos (which takes the multi-period discriminator of HiFi-GAN, Kong et al. 2020, and the
multi-resolution discriminator of UnivNet, Jang et al. 2021) with hinge losses and an L1 feature
matching loss. Departure: narrower layers (``channels``) so that a CPU can afford a step; at the
defaults (periods 2, 3, 5, 7, 11; resolutions 512 / 1024 / 2048) the two discriminators hold
0.24 M parameters (HiFi-GAN's MPD alone: ~41 M).

Cost, measured on the shared 2-core CPU (one torch thread, 8 mono signals of 1 s, bench vocoder
dim 128 / 6 blocks): 7.2 s of CPU per step with the discriminators against 0.27 s without (~27x):
the 2-D convolutions over full-resolution spectrograms and folded waveforms dominate. Use it on a GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from hw2sep.vocoder.losses import RESOLUTIONS

PERIODS = (2, 3, 5, 7, 11)
Output = tuple[list[Tensor], list[list[Tensor]]]  # (scores, feature maps), one entry per sub-discriminator


def conv_stack(convs: nn.ModuleList, post: nn.Module, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Leaky-ReLU convs then a score conv; returns (flattened scores, every layer's output) for feature matching."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """The waveform folded into (samples / period, period), 2-D convs along time. Shape: (batch, N) -> logits, features."""

    def __init__(self, period: int, channels: int):
        super().__init__()
        self.period = period
        widths = (1, channels, 2 * channels, 4 * channels, 8 * channels)
        self.convs = nn.ModuleList(weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)))
                                   for a, b in zip(widths[:-1], widths[1:]))
        self.convs.append(weight_norm(nn.Conv2d(widths[-1], widths[-1], (5, 1), padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: Tensor) -> tuple[Tensor, list[Tensor]]:
        pad = -audio.shape[-1] % self.period
        x = F.pad(audio, (0, pad), mode="reflect")[:, None]  # (batch, 1, N + pad)
        x = x.view(x.shape[0], 1, -1, self.period)  # to (batch, 1, frames, period)
        return conv_stack(self.convs, self.post, x)


class ResolutionDiscriminator(nn.Module):
    """2-D convs over one log-free magnitude spectrogram. Shape: (batch, N) -> logits, features."""

    def __init__(self, n_fft: int, hop: int, channels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.convs = nn.ModuleList([weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4)))] + [
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)] + [
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))])
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: Tensor) -> tuple[Tensor, list[Tensor]]:
        window = torch.hann_window(self.n_fft, device=audio.device)
        spec = torch.stft(audio, self.n_fft, self.hop, window=window, center=True, return_complex=True)
        x = spec.abs().transpose(1, 2)[:, None]  # to (batch, 1, nb_frames, nb_bins)
        return conv_stack(self.convs, self.post, x)


class Discriminators(nn.Module):
    """Multi-period + multi-resolution discriminators. Shape: (batch, N) -> Output."""

    def __init__(self, period_channels: int = 8, resolution_channels: int = 16):
        super().__init__()
        self.subs = nn.ModuleList([PeriodDiscriminator(p, period_channels) for p in PERIODS]
                                  + [ResolutionDiscriminator(n, h, resolution_channels) for n, h in RESOLUTIONS])

    def forward(self, audio: Tensor) -> Output:
        outs = [sub(audio) for sub in self.subs]
        return [o[0] for o in outs], [o[1] for o in outs]


def discriminator_loss(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """Hinge loss: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))), summed over sub-discriminators."""
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake))


def generator_loss(fake: list[Tensor]) -> Tensor:
    """Hinge generator loss mean(relu(1 - D(G(z)))), summed over sub-discriminators."""
    return sum(F.relu(1 - f).mean() for f in fake)


def feature_matching_loss(real: list[list[Tensor]], fake: list[list[Tensor]]) -> Tensor:
    """Mean L1 between the feature maps of real and generated audio, summed over layers."""
    return sum((r.detach() - f).abs().mean() for rs, fs in zip(real, fake) for r, f in zip(rs, fs))
