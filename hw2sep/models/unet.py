"""The singing-voice U-Net of Jansson et al. (ISMIR 2017), stereo at 44.1 kHz.

After A. Jansson, E. Humphrey, N. Montecchio, R. Bittner, A. Kumar, T. Weyde, "Singing voice
separation with deep U-Net convolutional networks", ISMIR 2017, and its 44.1 kHz stereo
re-implementation in deezer/spleeter (``spleeter/model/functions/unet.py``, read for the layer
sizes only; widths, kernels and dropout placement agree with the paper).

Network: ``nb_levels`` (6) encoder layers, each a 5x5 convolution with stride 2, batch norm and leaky
ReLU (slope 0.2), widths 16, 32, ..., 512; a decoder of 5x5 stride-2 transposed convolutions with
batch norm, ReLU and dropout 0.5 on its first three layers, each output concatenated with the
encoder output of the same size (skip connections); the last transposed convolution gives one mask
per channel, a sigmoid, multiplied with the input magnitude. Default loss: L1 on the masked
magnitude, as in the paper. 9,824,514 parameters at the default (the paper's mono model: ~9.8 M).

STFT and bins, chosen for 44.1 kHz: the paper used 8192 Hz audio, a 1024-sample window (125 ms) and
hop 768, 512 of the 513 bins (the top one dropped to get a power of two) and 128-frame patches. Here
the package's own STFT, n_fft 4096 / hop 1024 (93 ms window, the closest power of two to the paper's
window duration, and the STFT Open-Unmix uses, so the two compare on equal input): the lowest 2048 of
the 2049 bins are fed (the Nyquist bin dropped, as in the paper; no bandwidth crop, since vocal
sibilance reaches far above the paper's 4 kHz) and the Nyquist bin reuses the mask of the top fed bin.
``nb_bins`` > 0 feeds fewer bins (e.g. 1024 = 11 kHz, Spleeter's choice at this STFT), the bins above all reusing
the top mask row (Spleeter's default extends its mask with zeros instead). Any other n_fft works: the fed bins are zero-padded up to a multiple of
``2 ** nb_levels`` and cropped back. Time must be a multiple of ``frame_multiple`` = 2 ** nb_levels = 64
frames (the caller pads); 256 frames (5.9 s) per training excerpt.

The pieces (``EncoderBlock``, ``DecoderBlock``, the ``bottleneck`` hook) serve
``hw2sep.models.unet_transformer``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hw2sep.models.base import SeparationModel
from hw2sep.dsp.stft import HOP, N_FFT


@dataclass
class UNetConfig:
    """Everything needed to rebuild the network; saved beside every checkpoint."""

    n_fft: int = N_FFT            # 4096 at 44.1 kHz: a 93 ms window, near the paper's 125 ms
    hop: int = HOP                # 1024
    window: str = "hann"
    nb_channels: int = 2
    base_channels: int = 16       # encoder widths base * 2**i: 16, 32, 64, 128, 256, 512 as in the paper
    nb_levels: int = 6            # strided conv layers; frames and fed bins are padded to 2**nb_levels
    nb_bins: int = 0              # lowest bins fed; 0 = all but the Nyquist bin (the paper drops the top bin)
    dropout: float = 0.5          # on the first three decoder layers


class EncoderBlock(nn.Sequential):
    """5x5 conv, stride 2, batch norm, leaky ReLU 0.2. Shape: (B, in, F, T) -> (B, out, F/2, T/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 5, stride=2, padding=2),
                         nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.2))


class DecoderBlock(nn.Sequential):
    """5x5 transposed conv, stride 2, batch norm, ReLU, dropout. Shape: (B, in, F, T) -> (B, out, 2F, 2T)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__(upsample(in_channels, out_channels), nn.BatchNorm2d(out_channels), nn.ReLU(),
                         nn.Dropout(dropout))


def upsample(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """5x5 transposed conv with stride 2 that exactly doubles both axes."""
    return nn.ConvTranspose2d(in_channels, out_channels, 5, stride=2, padding=2, output_padding=1)


class UNet(SeparationModel):
    """Magnitude-in, magnitude-out U-Net (sigmoid mask on the mixture).

    Shape: (nb_samples, nb_channels, nb_bins, nb_frames) -> same, nb_bins = n_fft // 2 + 1, nb_frames a
    multiple of ``frame_multiple``.
    """

    predicts = "magnitude"
    default_loss = "l1_mag"

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        nb_output_bins = config.n_fft // 2 + 1
        self.nb_fed = min(config.nb_bins, nb_output_bins) if config.nb_bins > 0 else nb_output_bins - 1
        step = 2 ** config.nb_levels
        self.nb_padded = -(-self.nb_fed // step) * step  # fed bins rounded up to a multiple of 2**nb_levels
        widths = [config.base_channels * 2 ** i for i in range(config.nb_levels)]
        self.encoder = nn.ModuleList(EncoderBlock(c_in, c_out)
                                     for c_in, c_out in zip([config.nb_channels] + widths[:-1], widths))
        self.bottleneck: nn.Module = nn.Identity()  # hook: the U-Net transformer puts its transformer here
        # decoder i maps the deepest width (i = 0) or a concatenation (2 * width) to the next width up
        ins = [widths[-1]] + [2 * w for w in reversed(widths[1:-1])]
        outs = list(reversed(widths[:-1]))
        self.decoder = nn.ModuleList(DecoderBlock(c_in, c_out, config.dropout if i < 3 else 0.0)
                                     for i, (c_in, c_out) in enumerate(zip(ins, outs)))
        self.to_mask = upsample(2 * widths[0] if config.nb_levels > 1 else widths[0], config.nb_channels)

    @property
    def frame_multiple(self) -> int:
        return 2 ** self.config.nb_levels

    def forward(self, mix_mag: Tensor) -> Tensor:
        nb_bins = mix_mag.shape[2]
        x = F.pad(mix_mag[:, :, : self.nb_fed], (0, 0, 0, self.nb_padded - self.nb_fed))  # to (B, C, nb_padded, T)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self.bottleneck(skips.pop())  # (B, widths[-1], nb_padded / 2**L, T / 2**L)
        for block in self.decoder:
            x = torch.cat([block(x), skips.pop()], dim=1)
        mask = torch.sigmoid(self.to_mask(x))[:, :, : self.nb_fed]  # (B, C, nb_fed, T)
        if nb_bins > self.nb_fed:  # bins not fed (the Nyquist bin, or above nb_bins) reuse the top mask row
            mask = torch.cat([mask, mask[:, :, -1:].expand(-1, -1, nb_bins - self.nb_fed, -1)], dim=2)
        return mask * mix_mag
